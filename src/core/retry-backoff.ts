/** Backoff for platform calls that answered `Throttle` or failed transiently. */
export interface RetryOptions {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxAttempts: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  baseDelayMs: 20,
  maxDelayMs: 2_000,
  maxAttempts: 8,
};

/** Destroys must eventually happen or the slot is charged until the run ends. */
export const DESTROY_RETRY: RetryOptions = {
  baseDelayMs: 50,
  maxDelayMs: 5_000,
  maxAttempts: 20,
};

/** Exponential delay with deterministic "jitter" from the attempt and a caller-supplied salt. */
export function backoffDelayMs(opts: RetryOptions, attempt: number, salt: number): number {
  const exp = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** Math.min(attempt, 20));
  const frac = ((salt * 2654435761 + attempt * 40503) >>> 0) / 4294967296;
  return exp * (0.5 + 0.5 * frac);
}
