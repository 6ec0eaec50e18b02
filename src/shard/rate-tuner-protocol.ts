/**
 * What a shard and its exchange-rate tuner thread exchange (src/shard/off-thread-rate-tuner.ts and
 * src/shard/rate-tuner-thread.ts), in one place.
 *
 * Shard -> tuner: batches of the policy's tuner calls, in call order, as fixed-width rows of one
 * Float64Array (transferred, not copied), with the functions first seen since the last batch and
 * the latencies the counterfactual runs' platform reads (the live pools' measurements).
 * Tuner -> shard: the rate, each time it is chosen.
 */
import type { FunctionMetaRef } from '../core/platform.js';

/** Column 0 of an event row. */
export const TunerEventKind = { Arrive: 0, Finish: 1 } as const;
/**
 * Numbers per event row: Arrive [kind, function index, arrival, now, 0];
 * Finish [kind, arrival, duration ms, broken 0/1, now].
 */
export const TUNER_EVENT_WIDTH = 5;

export interface TunerBatchMessage {
  readonly type: 'batch';
  /** Functions first seen since the last batch; the first one's index is `fnBase`. */
  readonly fns: readonly FunctionMetaRef[];
  readonly fnBase: number;
  /** `count` rows of TUNER_EVENT_WIDTH numbers. */
  readonly events: Float64Array;
  readonly count: number;
  /** CreateSlot latency now, ms. */
  readonly createMs: number;
  /** [function index, its Init latency now] pairs of the functions this batch touched. */
  readonly initMs: Float64Array;
}

export interface TunerRateMessage {
  readonly type: 'rate';
  readonly rate: number;
  readonly choices: number;
}

/** The tuner thread's `workerData`. */
export interface TunerThreadData {
  /** The adaptive policy's options (its counterfactual runs are that policy at fixed rates). */
  readonly policyOptions: Record<string, unknown>;
  readonly rpcOverheadMs: number;
}
