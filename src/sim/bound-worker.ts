/**
 * Worker-thread entry of the parallel clairvoyant bound: reads the trace itself with the
 * streaming loader and computes the bound while the main thread replays the same file through
 * the engine (the bound needs nothing from the replay), so the second core does it for free.
 *
 * Started by `ParallelBound`; runs only as a worker with our `workerData`.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { ClairvoyantBound } from './clairvoyant-bound.js';
import { forEachRequestFieldsSync, loadMetasSync } from './dataset-loader.js';
import { BOUND_DONE_INDEX, BOUND_WORKER_KIND, type BoundWorkerAnswer, type BoundWorkerData } from './bound-worker-protocol.js';

function isWorkerData(d: unknown): d is BoundWorkerData {
  return typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === BOUND_WORKER_KIND;
}

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

if (!isMainThread && isWorkerData(workerData)) {
  const data = workerData;
  data.port.postMessage(compute(data));
  const done = new Int32Array(data.done);
  Atomics.store(done, BOUND_DONE_INDEX, 1);
  Atomics.notify(done, BOUND_DONE_INDEX);
  data.port.close();
}
