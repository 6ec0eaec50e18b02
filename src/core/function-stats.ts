/**
 * What the core observes about one function, kept O(1) per event: smoothed create, init and
 * execution times and arrival bookkeeping. Policies keep richer state of their own in
 * `PoolView.policyState`.
 */
export const STATS_EWMA_ALPHA = 0.2;
/** Create latency assumed until the first `CreateSlot` answers (the contest's ~100 ms). */
export const DEFAULT_CREATE_MS = 100;
/** Init latency assumed until the first `Init` answers. */
export const DEFAULT_INIT_MS = 1_000;

function ewma(prev: number, sample: number, n: number): number {
  return n === 0 ? sample : prev + STATS_EWMA_ALPHA * (sample - prev);
}

export class FunctionStats {
  createMs = DEFAULT_CREATE_MS;
  initMs = DEFAULT_INIT_MS;
  execMs = 0;
  createSamples = 0;
  initSamples = 0;
  execSamples = 0;
  arrivals = 0;
  firstArrivalAt = NaN;
  lastArrivalAt = NaN;
  lastReleaseAt = NaN;
  coldStarts = 0;
  initFailures = 0;

  /** Expected time from deciding to cold-start until the instance is ready. */
  get coldStartMs(): number {
    return this.createMs + this.initMs;
  }

  observeCreate(ms: number): void {
    this.createMs = ewma(this.createMs, ms, this.createSamples++);
  }

  observeInit(ms: number): void {
    this.initMs = ewma(this.initMs, ms, this.initSamples++);
  }

  observeExec(ms: number): void {
    this.execMs = ewma(this.execMs, ms, this.execSamples++);
  }

  observeArrival(now: number): void {
    if (this.arrivals++ === 0) this.firstArrivalAt = now;
    this.lastArrivalAt = now;
  }
}
