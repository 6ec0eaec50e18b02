import type { ClairvoyantResult } from './clairvoyant-bound.js';
import type { MessagePort } from 'node:worker_threads';

export const BOUND_WORKER_KIND = 'clairvoyant-bound';
/** Index in `done` (an Int32Array over a SharedArrayBuffer) set to 1 once the answer is posted. */
export const BOUND_DONE_INDEX = 0;

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
