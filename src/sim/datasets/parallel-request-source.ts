/**
 * `forEachRequestFieldsSync` with the decoding moved to a worker thread: the worker parses the
 * `requests` file into a fixed ring of shared chunks (layout in `request-parse-protocol.ts`) and
 * the calling thread only copies numbers out of it, so a synchronous consumer (the virtual
 * engine) keeps its core for itself while the second core parses.
 *
 * The calling thread blocks with `Atomics.wait` when the next chunk is not ready, the worker
 * when the ring is full; memory is the ring's whatever the trace size. Order, values, line
 * numbers, the count returned, the meta objects passed and the errors thrown (rebuilt from
 * their fields, after every record before the bad line) are those of the synchronous loader.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { ClairvoyantBound, type ClairvoyantBoundOptions, type ClairvoyantResult } from '../scoring/clairvoyant-bound.js';
import { DatasetError, forEachRequestFieldsSync, REQUESTS_FILE, type RequestFieldsVisitor } from './dataset-loader.js';
import type { MetaRecord } from '../contest/dataset-types.js';
import {
  CHUNK_MORE,
  CHUNK_RECORDS,
  CONTROL_CANCEL,
  CONTROL_CONSUMED,
  CONTROL_PRODUCED,
  END_ERROR,
  PRODUCED_DEAD,
  REQUEST_PARSE_ENTRY,
  REQUEST_PARSE_WORKER_KIND,
  RING_CHUNKS,
  ringBytes,
  ringViews,
  type RequestParseBound,
  type RequestParseFailure,
  type RequestParseMeta,
  type RequestParseWorkerData,
} from './request-parse-protocol.js';
import { compiledSimScript, describeSyncWorkerFailure, startSyncWorker } from './sync-worker-bootstrap.js';

/**
 * Below this trace size a worker's start-up (tens of ms) costs more than the parsing it takes
 * off the calling thread (about 0.35 s per million requests, ~120 bytes each).
 */
export const PARALLEL_PARSE_MIN_BYTES = 16 * 1024 * 1024;

/**
 * Compiled worker script: next to this file when it runs from `dist/src/sim/datasets/`, else (a test
 * importing the TypeScript source) under `<repo>/dist/`.
 */
export const REQUEST_PARSE_WORKER_SCRIPT = compiledSimScript('request-parse-worker.js');

export interface ParallelParseOptions {
  /** Only files at least this large get a worker (default `PARALLEL_PARSE_MIN_BYTES`). */
  readonly minBytes?: number;
  /** Module exporting `runRequestParseWorker` (default `REQUEST_PARSE_WORKER_SCRIPT`). */
  readonly workerScript?: string;
  /** Ring geometry (defaults `RING_CHUNKS` x `CHUNK_RECORDS`); small values are for tests. */
  readonly chunks?: number;
  readonly chunkRecords?: number;
}

/** The worker could not start, or stopped without saying why. */
export class RequestParseWorkerError extends Error {
  readonly code = 'REQUEST_PARSE_WORKER_FAILED';
  override readonly name = 'RequestParseWorkerError';
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer (got ${v})`);
  return v;
}

function plainMeta(m: MetaRecord): RequestParseMeta {
  return { key: m.key, runtime: m.runtime, memoryInMb: m.memoryInMb, timeoutInSecs: m.timeoutInSecs, initDurationInMs: m.initDurationInMs };
}

function rebuildError(f: RequestParseFailure | undefined): Error {
  if (f === undefined) return new RequestParseWorkerError('request parse worker failed without details');
  if (f.kind === 'dataset') return new DatasetError(f.code, f.file, f.line, f.reason);
  if (f.kind !== 'other') return new RequestParseWorkerError(describeSyncWorkerFailure('request parse worker', f));
  const e = new Error(f.message) as Error & { code?: string; errno?: number; syscall?: string; path?: string };
  e.name = f.name;
  if (f.code !== undefined) e.code = f.code;
  if (f.errno !== undefined) e.errno = f.errno;
  if (f.syscall !== undefined) e.syscall = f.syscall;
  if (f.path !== undefined) e.path = f.path;
  return e;
}

/**
 * Visits every request of `dir` like `forEachRequestFieldsSync(dir, metas, fn)` and returns the
 * number visited, parsing in a worker when the file is at least `minBytes` long. If `fn` throws,
 * the worker is stopped and the error rethrown.
 */
export function forEachRequestFieldsParallel(
  dir: string,
  metas: Map<string, MetaRecord>,
  fn: RequestFieldsVisitor,
  opts: ParallelParseOptions = {},
): number {
  return pass(dir, metas, fn, opts, undefined).count;
}

/**
 * `forEachRequestFieldsParallel` that also returns the trace's clairvoyant bound, computed by
 * the parsing worker as it reads the file (one pass for both, off this thread); on the
 * synchronous path (small files) it is computed here, record by record.
 */
export function forEachRequestFieldsWithBound(
  dir: string,
  metas: Map<string, MetaRecord>,
  fn: RequestFieldsVisitor,
  bound: ClairvoyantBoundOptions,
  opts: ParallelParseOptions = {},
): { count: number; bound: ClairvoyantResult } {
  const r = pass(dir, metas, fn, opts, bound);
  if (r.bound === undefined) throw new RequestParseWorkerError('request parse worker finished without the bound it was asked for');
  return { count: r.count, bound: r.bound };
}

function syncPass(dir: string, metas: Map<string, MetaRecord>, fn: RequestFieldsVisitor, boundOpts: ClairvoyantBoundOptions | undefined): { count: number; bound: ClairvoyantResult | undefined } {
  if (boundOpts === undefined) return { count: forEachRequestFieldsSync(dir, metas, fn), bound: undefined };
  const bound = new ClairvoyantBound(boundOpts);
  const handles = new Map([...metas.values()].map((m) => [m, bound.functionHandle(m)]));
  const count = forEachRequestFieldsSync(dir, metas, (t, meta, d, s, ln) => {
    bound.addFields(handles.get(meta)!, t, d, s);
    fn(t, meta, d, s, ln);
  });
  return { count, bound: bound.finish() };
}

function pass(
  dir: string,
  metas: Map<string, MetaRecord>,
  fn: RequestFieldsVisitor,
  opts: ParallelParseOptions,
  boundOpts: ClairvoyantBoundOptions | undefined,
): { count: number; bound: ClairvoyantResult | undefined } {
  const script = opts.workerScript ?? REQUEST_PARSE_WORKER_SCRIPT;
  const chunks = positiveInt('chunks', opts.chunks ?? RING_CHUNKS);
  const chunkRecords = positiveInt('chunkRecords', opts.chunkRecords ?? CHUNK_RECORDS);
  let size: number;
  try {
    size = statSync(join(dir, REQUESTS_FILE)).size;
  } catch {
    size = -1; // the loader reports the missing file with its own error
  }
  if (size < 0 || size < (opts.minBytes ?? PARALLEL_PARSE_MIN_BYTES) || !existsSync(script)) {
    return syncPass(dir, metas, fn, boundOpts);
  }

  const list = [...metas.values()];
  const ring = new SharedArrayBuffer(ringBytes(chunks, chunkRecords));
  const { startTime, durationsInMs, statusCode, line, metaIndex, count: chunkCount, end, control } = ringViews(ring, chunks, chunkRecords);
  const { port1, port2 } = new MessageChannel();
  const data: RequestParseWorkerData = {
    kind: REQUEST_PARSE_WORKER_KIND,
    dir,
    metas: [...metas].map(([k, m]) => [k, plainMeta(m)] as const),
    ring,
    chunks,
    chunkRecords,
    port: port2,
    ...(boundOpts !== undefined ? { bound: { ...boundOpts } } : {}),
  };
  // The module reports its own failures through the ring, the bootstrap any death before that.
  const worker = startSyncWorker({
    script,
    entry: REQUEST_PARSE_ENTRY,
    data,
    port: port2,
    signal: ring,
    signalIndex: CONTROL_PRODUCED,
    failedValue: PRODUCED_DEAD,
  });
  // Everything is read synchronously; nothing here may keep the process alive.
  port1.unref();

  let seq = 0;
  let total = 0;
  let finished = false;
  try {
    for (;;) {
      let produced: number;
      while ((produced = Atomics.load(control, CONTROL_PRODUCED)) === seq) Atomics.wait(control, CONTROL_PRODUCED, seq);
      if (produced === PRODUCED_DEAD) {
        finished = true;
        throw rebuildError(receiveMessageOnPort(port1)?.message as RequestParseFailure | undefined);
      }
      const slot = seq % chunks;
      const n = chunkCount[slot]!;
      const flag = end[slot]!;
      const from = slot * chunkRecords;
      const to = from + n;
      for (let i = from; i < to; i++) {
        fn(startTime[i]!, list[metaIndex[i]!]!, durationsInMs[i]!, statusCode[i]!, line[i]!);
      }
      total += n;
      seq++;
      if (flag !== CHUNK_MORE) {
        finished = true;
        if (flag === END_ERROR) throw rebuildError(receiveMessageOnPort(port1)?.message as RequestParseFailure | undefined);
        if (boundOpts === undefined) return { count: total, bound: undefined };
        const answer = receiveMessageOnPort(port1)?.message as RequestParseBound | undefined;
        if (answer?.kind !== 'bound') throw new RequestParseWorkerError('request parse worker finished without the bound it was asked for');
        return { count: total, bound: answer.result };
      }
      Atomics.store(control, CONTROL_CONSUMED, seq);
      Atomics.notify(control, CONTROL_CONSUMED);
    }
  } finally {
    if (!finished) {
      // Stopped early (the visitor threw): raise the flag, then move the word the worker may be
      // waiting on so it cannot go back to sleep, and end the thread.
      Atomics.store(control, CONTROL_CANCEL, 1);
      Atomics.add(control, CONTROL_CONSUMED, 1);
      Atomics.notify(control, CONTROL_CONSUMED);
    }
    port1.close();
    void worker.terminate();
  }
}
