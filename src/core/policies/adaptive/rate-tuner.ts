/**
 * The seam between the adaptive policy and whatever chooses its exchange rate. The policy tells
 * it each request's arrival and, at the request's Idle, its execution time; it answers with the
 * rate to use now. The in-thread implementation is `ExchangeRateTuner` (exchange-rate-tuner.ts:
 * counterfactual runs of the core, fed on the policy's own clock); the simulator uses it. A shard
 * worker injects one that runs the same tuner on a thread of its own (src/shard/off-thread-rate-
 * tuner.ts), so that the runs' CPU never delays a reply. The core knows nothing of threads: it
 * only sees this interface.
 */
import type { FunctionMetaRef } from '../../platform.js';
import type { ReplayLatencies } from './replay-platform.js';

export interface RateTuner {
  /** The rate chosen so far (GB-s of slot time per second of waiting). */
  readonly rate: number;
  /** How many times the rate has been chosen so far. */
  readonly choices: number;
  /** Request `arrival` (the core's serial) of `meta` arrives at `now`; returns the rate to use. */
  arrive(meta: FunctionMetaRef, arrival: number, now: number): number;
  /** The live Idle of request `arrival` at `now`: how long it ran, and whether it broke. */
  finish(arrival: number, durationMs: number, broken: boolean, now: number): void;
}

/** What a tuner is made from: everything the in-thread one needs, as the policy has it. */
export interface RateTunerSetup<O extends object = object> {
  /**
   * The policy's own options (plain data, structured-cloneable): the counterfactual runs are
   * this policy at fixed rates.
   */
  readonly policyOptions: Readonly<O>;
  /** What the runs' platform takes its latencies from (the live pools' measurements, read when asked). */
  readonly latencies: ReplayLatencies;
  readonly rpcOverheadMs: number;
  /** Runs `fn` soon, after the current call (the policy's `PolicyEnv.defer`). */
  readonly defer: (fn: () => void) => void;
}

export type RateTunerFactory<O extends object = object> = (setup: RateTunerSetup<O>) => RateTuner;
