/**
 * Worker-thread entry of the parallel request parser: runs the loader's own byte-level decoder
 * (`forEachRequestFieldsSync`) over the `requests` file and copies each record into the shared
 * ring described in `request-parse-protocol.ts`, blocking while the ring is full.
 *
 * The caller blocks on the ring and cannot see this thread die, so nothing may escape:
 * `runRequestParseWorker` never rejects, and the loader is imported inside its try block so
 * that even a failure to load it arrives as an END_ERROR chunk.
 *
 * Imported by the bootstrap of `sync-worker-bootstrap.ts` in a worker started by
 * `forEachRequestFieldsParallel`; the bootstrap reports a death of the thread before this settles.
 */
import type { MetaRecord } from '../contest/dataset-types.js';
import { lowerThisThreadPriority } from '../../thread-priority.js';
import {
  CHUNK_MORE,
  CONTROL_CANCEL,
  CONTROL_CONSUMED,
  CONTROL_PRODUCED,
  END_ERROR,
  END_OK,
  ringViews,
  type RequestParseBound,
  type RequestParseFailure,
  type RequestParseWorkerData,
} from './request-parse-protocol.js';

/** The caller's meta with its position in the caller's map, so a record maps to it in O(1). */
interface IndexedMeta extends MetaRecord {
  readonly index: number;
}

/** Thrown through the loader to stop it (its `finally` closes the file) when the caller gave up. */
class Cancelled extends Error {}

function describe(e: unknown, datasetError: (new (...args: never[]) => Error) | undefined): RequestParseFailure {
  if (datasetError !== undefined && e instanceof datasetError) {
    const d = e as Error & { code: 'DATASET_MALFORMED' | 'DATASET_MISSING'; file: string; line: number; reason: string };
    return { kind: 'dataset', code: d.code, file: d.file, line: d.line, reason: d.reason };
  }
  if (!(e instanceof Error)) return { kind: 'other', name: 'Error', message: String(e) };
  const s = e as Error & { code?: unknown; errno?: unknown; syscall?: unknown; path?: unknown };
  return {
    kind: 'other',
    name: e.name,
    message: e.message,
    ...(typeof s.code === 'string' ? { code: s.code } : {}),
    ...(typeof s.errno === 'number' ? { errno: s.errno } : {}),
    ...(typeof s.syscall === 'string' ? { syscall: s.syscall } : {}),
    ...(typeof s.path === 'string' ? { path: s.path } : {}),
  };
}

/** Parses `data.dir` into the ring; reports every failure through the ring and never rejects. */
export async function runRequestParseWorker(data: RequestParseWorkerData): Promise<void> {
  lowerThisThreadPriority();
  const { chunks, chunkRecords } = data;
  const v = ringViews(data.ring, chunks, chunkRecords);
  const { control, startTime, durationsInMs, statusCode, line: lines, metaIndex } = v;
  let seq = 0; // sequence number of the chunk being filled
  let held = false; // whether slot `seq` is ours to fill
  let base = 0;
  let fill = 0;

  const acquire = (): void => {
    for (;;) {
      if (Atomics.load(control, CONTROL_CANCEL) !== 0) throw new Cancelled();
      const consumed = Atomics.load(control, CONTROL_CONSUMED);
      if (seq - consumed < chunks) break;
      Atomics.wait(control, CONTROL_CONSUMED, consumed);
    }
    base = (seq % chunks) * chunkRecords;
    held = true;
  };

  const publish = (endFlag: number): void => {
    const slot = seq % chunks;
    v.count[slot] = fill;
    v.end[slot] = endFlag;
    seq++;
    held = false;
    fill = 0;
    Atomics.store(control, CONTROL_PRODUCED, seq);
    Atomics.notify(control, CONTROL_PRODUCED);
  };

  let datasetError: (new (...args: never[]) => Error) | undefined;
  try {
    const loader = await import('./dataset-loader.js');
    datasetError = loader.DatasetError;
    const metas = new Map<string, IndexedMeta>();
    data.metas.forEach(([k, m], index) => metas.set(k, { ...m, index }));
    // The bound, when asked for, sees every record as it is parsed (handles by meta index).
    const bound = data.bound === undefined ? undefined : new (await import('../scoring/clairvoyant-bound.js')).ClairvoyantBound(data.bound);
    const handles = bound === undefined ? [] : [...metas.values()].map((m) => bound.functionHandle(m));
    acquire();
    loader.forEachRequestFieldsSync(data.dir, metas, (t, meta, d, s, ln) => {
      const i = base + fill;
      const index = (meta as IndexedMeta).index;
      startTime[i] = t;
      durationsInMs[i] = d;
      statusCode[i] = s;
      lines[i] = ln;
      metaIndex[i] = index;
      if (bound !== undefined) bound.addFields(handles[index]!, t, d, s);
      if (++fill === chunkRecords) {
        publish(CHUNK_MORE);
        acquire();
      }
    });
    if (bound !== undefined) {
      const answer: RequestParseBound = { kind: 'bound', result: bound.finish() };
      data.port.postMessage(answer);
    }
    publish(END_OK);
  } catch (e) {
    if (e instanceof Cancelled) return close(data);
    // Details first: the caller reads the port only after it sees the END_ERROR chunk.
    data.port.postMessage(describe(e, datasetError));
    try {
      if (!held) acquire();
    } catch {
      return close(data); // cancelled meanwhile: nobody is reading any more
    }
    // Records decoded before the failure are in this chunk; the caller delivers them first.
    publish(END_ERROR);
  }
  close(data);
}

function close(data: RequestParseWorkerData): void {
  data.port.close();
}
