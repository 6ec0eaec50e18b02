/**
 * Worker-thread entry of the parallel clairvoyant bound: reads the trace itself with the
 * streaming loader and computes the bound while the main thread replays the same file through
 * the engine (the bound needs nothing from the replay), so the second core does it for free.
 *
 * Imported by the bootstrap of `sync-worker-bootstrap.ts` in a worker started by
 * `ParallelBound`, which calls `runBoundWorker`. Errors of the computation are part of the
 * answer; anything that kills the thread before the answer is reported by the bootstrap.
 */
import { ClairvoyantBound } from './clairvoyant-bound.js';
import { lowerThisThreadPriority } from './thread-priority.js';
import { forEachRequestFieldsSync, loadMetasSync } from './dataset-loader.js';
import { BOUND_DONE, BOUND_DONE_INDEX, BOUND_WORKER_KIND, type BoundWorkerAnswer, type BoundWorkerData } from './bound-worker-protocol.js';

function compute(data: BoundWorkerData): BoundWorkerAnswer {
  try {
    const metas = loadMetasSync(data.dir);
    const bound = new ClairvoyantBound({ createMs: data.createMs, rpcOverheadMs: data.rpcOverheadMs });
    const handles = new Map([...metas.values()].map((m) => [m, bound.functionHandle(m)]));
    forEachRequestFieldsSync(data.dir, metas, (startTime, meta, durationsInMs, statusCode) =>
      bound.addFields(handles.get(meta)!, startTime, durationsInMs, statusCode),
    );
    return { ok: true, result: bound.finish() };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

/** Posts the answer, then raises `done` (the caller reads the port once it sees the flag). */
export function runBoundWorker(data: BoundWorkerData): void {
  if (data.kind !== BOUND_WORKER_KIND) throw new TypeError(`not bound worker data (kind ${String(data.kind)})`);
  lowerThisThreadPriority();
  data.port.postMessage(compute(data));
  const done = new Int32Array(data.done);
  Atomics.store(done, BOUND_DONE_INDEX, BOUND_DONE);
  Atomics.notify(done, BOUND_DONE_INDEX);
  data.port.close();
}
