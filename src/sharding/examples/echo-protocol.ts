/**
 * Messages of the example echo / keyed-counter shard (used by tests, the benchmark and README).
 * Kept apart from echo-worker.ts so the main thread can import the types and layout without
 * running the worker's `serveShard` call.
 */
import { defineCounterLayout } from '../shared-counters.js';

export const ECHO_COUNTER_LAYOUT = defineCounterLayout(['handled', 'bootMark', 'keys', 'shutdownMark', 'flushedAnswers'] as const);
export type EchoCounterField = (typeof ECHO_COUNTER_LAYOUT)[number];

export type EchoRequest =
  /** Reply `value` synchronously. */
  | { readonly op: 'echo'; readonly value: unknown }
  /** Reply `value` after `ms` (async handler). */
  | { readonly op: 'delay'; readonly value: unknown; readonly ms: number }
  /** Emit `{ shard, value }` as an event, then reply `value`. */
  | { readonly op: 'emit'; readonly value: unknown }
  /** Answer with `reply.error(code, message)`. */
  | { readonly op: 'fail'; readonly code: string; readonly message: string }
  /** Throw synchronously. */
  | { readonly op: 'throw'; readonly message: string }
  /** Add `n` to the per-key counter `key`; reply the new total. */
  | { readonly op: 'add'; readonly key: string; readonly n: number }
  /** Reply an {@link EchoInfo}. */
  | { readonly op: 'info' }
  /** `process.exit(code)` inside the handler (crash simulation). */
  | { readonly op: 'crash'; readonly code: number };

/** Optional `workerData` of the example worker (other fields are kept as given and echoed by `info`). */
export interface EchoWorkerOptions {
  /** Emitted as `{ shard, value: bootEvent }` during init, before the worker is ready. */
  readonly bootEvent?: unknown;
  /**
   * Its `beforeFlush` busy-waits this long, then writes the number of requests answered so far
   * to `flushedAnswers`: a reply seen by main before that number covers it left ahead of the hook.
   */
  readonly flushSpinMs?: number;
}

export interface EchoInfo {
  readonly shard: number;
  readonly generation: number;
  readonly workerData: unknown;
  readonly batchesReceived: number;
  readonly requestsReceived: number;
  readonly batchesSent: number;
}

export interface EchoEvent {
  readonly shard: number;
  readonly value: unknown;
}

/** Value the worker writes to `bootMark` at start, so main can tell generations apart. */
export function bootMarkOf(shard: number, generation: number): number {
  return 1000 * (shard + 1) + generation;
}
