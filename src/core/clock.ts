/**
 * Time as the policy core sees it. The same pool and policy code runs on the real clock in
 * the shard workers and on a virtual clock in the simulator, so nothing in `src/core` may
 * call `Date.now()`, `setTimeout` or `performance.now()` directly.
 */

/** Opaque handle of a scheduled callback. */
export interface TimerHandle {
  readonly at: number;
}

export interface Clock {
  /** Milliseconds (fractional); only differences matter. */
  now(): number;
  /** Runs `fn` once at (or, on the real clock, as soon as possible after) time `atMs`. */
  schedule(atMs: number, fn: () => void): TimerHandle;
  /** Cancelling an already-fired or cancelled timer is a no-op. */
  cancel(handle: TimerHandle): void;
}
