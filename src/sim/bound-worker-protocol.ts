import type { ClairvoyantResult } from './clairvoyant-bound.js';
import type { MessagePort } from 'node:worker_threads';
import type { SyncWorkerFailure } from './sync-worker-bootstrap.js';

export const BOUND_WORKER_KIND = 'clairvoyant-bound';
/** The worker module's entry function, called by the bootstrap with the `BoundWorkerData`. */
export const BOUND_WORKER_ENTRY = 'runBoundWorker';
/** Index in `done` (an Int32Array over a SharedArrayBuffer), 0 until the worker is through. */
export const BOUND_DONE_INDEX = 0;
/** Stored at `BOUND_DONE_INDEX` by the worker once the answer is posted. */
export const BOUND_DONE = 1;
/** Stored there by the bootstrap when the thread failed before answering (a `SyncWorkerFailure` was posted). */
export const BOUND_FAILED = -1;

export interface BoundWorkerData {
  readonly kind: typeof BOUND_WORKER_KIND;
  readonly dir: string;
  readonly createMs: number;
  readonly rpcOverheadMs: number;
  /** The answer goes here (a port of our own, so it can be read synchronously). */
  readonly port: MessagePort;
  readonly done: SharedArrayBuffer;
}

export type BoundWorkerAnswer = { readonly ok: true; readonly result: ClairvoyantResult } | { readonly ok: false; readonly message: string };

/** The first message on the caller's port: the worker's answer, or the bootstrap's report. */
export type BoundWorkerMessage = BoundWorkerAnswer | SyncWorkerFailure;
