/**
 * The clairvoyant bound of a dataset directory, computed in a worker thread while the caller
 * does something else with the same trace (the virtual engine replays it): the bound reads
 * the file on its own, so the two passes share nothing but the page cache.
 *
 * `runVirtual` is synchronous, so the answer is collected synchronously too: the worker posts
 * it on a dedicated port and raises a shared flag; `result()` blocks on the flag with
 * `Atomics.wait` and reads the port with `receiveMessageOnPort`. The worker is started through
 * `startSyncWorker`, whose bootstrap raises the flag too (after posting why) when the thread
 * fails to load or dies before answering, so `result()` throws instead of waiting forever.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import type { ClairvoyantResult } from './clairvoyant-bound.js';
import { REQUESTS_FILE } from './dataset-loader.js';
import {
  BOUND_DONE_INDEX,
  BOUND_FAILED,
  BOUND_WORKER_ENTRY,
  BOUND_WORKER_KIND,
  type BoundWorkerData,
  type BoundWorkerMessage,
} from './bound-worker-protocol.js';
import { compiledSimScript, describeSyncWorkerFailure, isSyncWorkerFailure, startSyncWorker } from './sync-worker-bootstrap.js';

/**
 * Below this trace size a worker's start-up (tens of ms) costs more than the bound it takes
 * off the main thread (about 0.25 s per million requests, ~120 bytes each).
 */
export const PARALLEL_BOUND_MIN_BYTES = 16 * 1024 * 1024;

/**
 * Compiled worker script: next to this file when it runs from `dist/src/sim/`, else (a test
 * importing the TypeScript source) under `<repo>/dist/`.
 */
export const BOUND_WORKER_SCRIPT = compiledSimScript('bound-worker.js');

/** The worker could not start, died before answering, or the bound itself failed. */
export class BoundWorkerError extends Error {
  readonly code = 'BOUND_WORKER_FAILED';
  override readonly name = 'BoundWorkerError';
}

export interface ParallelBoundOptions {
  readonly createMs: number;
  readonly rpcOverheadMs: number;
  /** Only traces at least this large get a worker (default `PARALLEL_BOUND_MIN_BYTES`). */
  readonly minBytes?: number;
  /** Module exporting `runBoundWorker` (default `BOUND_WORKER_SCRIPT`). */
  readonly workerScript?: string;
}

export class ParallelBound {
  private readonly done = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  private readonly port: MessagePort;
  private readonly worker: Worker;

  private constructor(dir: string, opts: ParallelBoundOptions, script: string) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const data: BoundWorkerData = { kind: BOUND_WORKER_KIND, dir, createMs: opts.createMs, rpcOverheadMs: opts.rpcOverheadMs, port: port2, done: this.done };
    this.worker = startSyncWorker({
      script,
      entry: BOUND_WORKER_ENTRY,
      data,
      port: port2,
      signal: this.done,
      signalIndex: BOUND_DONE_INDEX,
      failedValue: BOUND_FAILED,
    });
    // The answer is read synchronously; nothing here should keep the process alive.
    this.port.unref();
  }

  /** A worker computing the bound of `dir`, or undefined when the in-process path is better. */
  static start(dir: string, opts: ParallelBoundOptions): ParallelBound | undefined {
    const script = opts.workerScript ?? BOUND_WORKER_SCRIPT;
    if (!existsSync(script)) return undefined;
    let size: number;
    try {
      size = statSync(join(dir, REQUESTS_FILE)).size;
    } catch {
      return undefined; // the engine's own loader reports the missing file
    }
    return size >= (opts.minBytes ?? PARALLEL_BOUND_MIN_BYTES) ? new ParallelBound(dir, opts, script) : undefined;
  }

  /** Blocks until the worker answered or died; throws `BoundWorkerError` unless it answered with a bound. */
  result(): ClairvoyantResult {
    const done = new Int32Array(this.done);
    Atomics.wait(done, BOUND_DONE_INDEX, 0);
    const msg = receiveMessageOnPort(this.port);
    this.stop();
    const answer = msg?.message as BoundWorkerMessage | undefined;
    if (answer === undefined) {
      // The report is lost when the module closed the port itself before dying.
      const died = Atomics.load(done, BOUND_DONE_INDEX) === BOUND_FAILED;
      throw new BoundWorkerError(died ? 'bound worker died before answering (no details)' : 'bound worker ended without an answer');
    }
    if (isSyncWorkerFailure(answer)) throw new BoundWorkerError(describeSyncWorkerFailure('bound worker', answer));
    if (!answer.ok) throw new BoundWorkerError(`bound worker failed: ${answer.message}`);
    return answer.result;
  }

  /** Abandons the computation (the run failed or was stopped). */
  stop(): void {
    this.port.close();
    void this.worker.terminate();
  }
}
