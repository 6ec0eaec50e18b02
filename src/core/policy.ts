/**
 * The pluggable decisions of the scaler. The core owns instances, slots, timers and the
 * platform; a policy only answers questions about one function at a time. Policies must be
 * generic (never keyed to function names) and O(1) amortised per call.
 */
import type { FunctionStats } from './function-stats.js';
import type { FunctionMetaRef } from './platform.js';
import type { ScorePrices } from './score-prices.js';

export interface PoolView {
  readonly key: string;
  readonly meta: FunctionMetaRef;
  readonly memoryMb: number;
  readonly idleCount: number;
  readonly busyCount: number;
  /** Cold starts in progress (create or init not finished). */
  readonly startingCount: number;
  /** Assigns waiting for an instance. */
  readonly waitingCount: number;
  readonly stats: FunctionStats;
  /** Free for the policy's own per-function state. */
  policyState: unknown;
  /** The idle instance the next request would get (most recently used), if any. */
  peekIdle(): InstanceView | null;
  /** Arrival time of the longest-waiting request, NaN when none waits. */
  oldestWaitingSince(): number;
  /**
   * Writes when each busy instance's current request began, oldest first, into `out` (at most
   * its length); returns how many it wrote. No allocation: the queue model asks on every miss.
   */
  busyStarts(out: Float64Array): number;
}

export interface InstanceView {
  readonly id: string;
  /** Started by a pre-warm plan rather than by a waiting request. */
  readonly prewarmed: boolean;
  /** Requests served so far. */
  readonly uses: number;
  readonly readyAt: number;
  /** When it last became idle (NaN if never). */
  readonly idleSince: number;
}

/** Have `count` instances ready (idle or starting, beyond waiting requests) from `atMs` on. */
export interface PrewarmPlan {
  readonly atMs: number;
  readonly count: number;
}

/** What a policy may ask of the world around it. */
export interface PolicyEnv {
  /**
   * Marginal score value of a slot GB-second and of a second of scheduling latency, now,
   * evaluated with the resource and latency ratios floored at the given values.
   */
  prices(minResourceRatio?: number, minLatencyRatio?: number): ScorePrices;
  /** What each Assign+Idle pair adds to scheduling time beyond waiting, ms. */
  readonly rpcOverheadMs: number;
  /** Runs `fn` soon, after the current call (on the core's clock: off the request's path). */
  defer(fn: () => void): void;
  /** Asks the policy for the pre-warm plan of another function of this core (by key), soon. */
  replan?(key: string): void;
}

export interface ScalingPolicy {
  readonly name: string;
  bind?(env: PolicyEnv): void;
  /**
   * A request for this function arrived (before it is served). `arrival`: the core's serial of
   * this Assign, the same one `onExecDone` reports when the request is done.
   */
  onArrival(pool: PoolView, now: number, arrival?: number): void;
  /**
   * A request finished executing on an instance of this function (`broken`: need_destroy);
   * `arrival`: the serial `onArrival` was given for it.
   */
  onExecDone(pool: PoolView, durationMs: number, now: number, broken?: boolean, arrival?: number): void;
  /**
   * A waiting request was just handed `inst` after waiting `waitedMs`: a new instance (its cold
   * start) when `inst.uses` is 0, else one released by an earlier request (it queued).
   */
  onWaitServed?(pool: PoolView, inst: InstanceView, waitedMs: number, now: number): void;
  /** An idle instance is being destroyed without having been reused (expiry or keep-alive 0). */
  onIdleDestroyed?(pool: PoolView, inst: InstanceView, now: number): void;
  /** How long to keep `inst`, which just became idle: 0 destroys it now, Infinity keeps it. */
  keepAliveMs(pool: PoolView, inst: InstanceView, now: number): number;
  /**
   * Asked after arrivals, releases and expiries: the pool's pre-warm plan from now on.
   * `null` cancels any pending plan.
   */
  prewarmPlan(pool: PoolView, now: number): PrewarmPlan | null;
  /**
   * `deficit` waiting requests have no cold start coming for them: how many cold starts to begin
   * now (0..deficit; absent: all of them). Fewer means the policy expects busy or starting
   * instances to serve the rest sooner than a new cold start could.
   */
  coldStartsOnMiss?(pool: PoolView, now: number, deficit: number): number;
  /** When fewer cold starts than the deficit were begun: ask again after this long, ms. */
  missRecheckMs?(pool: PoolView, now: number): number;
}
