/**
 * The score's own exchange rate between memory and latency (POLICIES.md, "The score prices
 * the trade-off"):
 *   score = 50 E/S + 50 T/(T+D)
 *   dScore/dS = -50 E / S^2          per slot GB-second
 *   dScore/dD = -50 T / (T+D)^2      per second of scheduling latency
 */
export interface ScoreTotals {
  /** Useful GB-seconds (execution x memory). */
  readonly execGBs: number;
  /** Slot GB-seconds. */
  readonly slotGBs: number;
  /** Execution seconds. */
  readonly execSecs: number;
  /** Scheduling seconds (Assign and Idle latency). */
  readonly scheduleSecs: number;
}

export interface ScorePrices {
  /** Score lost per extra slot GB-second. */
  readonly perGBs: number;
  /** Score lost per extra second of scheduling latency. */
  readonly perLatencySec: number;
}

/**
 * Until enough work is seen the ratios are noise: blend towards a prior that says the two
 * halves are as good as a decent scaler gets (R about 0.5, L about 0.9).
 */
export const PRIOR_EXEC_SECS = 60;
export const PRIOR_RESOURCE_RATIO = 0.5;
export const PRIOR_LATENCY_RATIO = 0.9;
/** A memory GB that never appears in the prior's units: used only to seed slot time. */
export const PRIOR_MEMORY_GB = 0.5;

/**
 * Prices at the current totals (blended with the prior), with the resource ratio R = E/S and
 * the latency ratio L = T/(T+D) floored at the given values: dScore/dS = 50 R^2 / E and
 * dScore/dD = 50 L^2 / T. Floors stop a run whose one half is already poor from concluding
 * that it no longer matters, which would make it poorer still.
 */
export function scorePrices(t: ScoreTotals, minResourceRatio = 0, minLatencyRatio = 0): ScorePrices {
  const execSecs = t.execSecs + PRIOR_EXEC_SECS;
  const execGBs = t.execGBs + PRIOR_EXEC_SECS * PRIOR_MEMORY_GB;
  const slotGBs = t.slotGBs + (PRIOR_EXEC_SECS * PRIOR_MEMORY_GB) / PRIOR_RESOURCE_RATIO;
  const schedule = t.scheduleSecs + (PRIOR_EXEC_SECS * (1 - PRIOR_LATENCY_RATIO)) / PRIOR_LATENCY_RATIO;
  const r = Math.max(minResourceRatio, execGBs / slotGBs);
  const l = Math.max(minLatencyRatio, execSecs / (execSecs + schedule));
  return { perGBs: (50 * r * r) / execGBs, perLatencySec: (50 * l * l) / execSecs };
}
