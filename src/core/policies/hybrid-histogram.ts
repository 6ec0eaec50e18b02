/**
 * The hybrid histogram policy of Shahrad et al., "Serverless in the Wild" (USENIX ATC 2020),
 * implemented from its published description as a baseline.
 *
 * Per function, a histogram of idle times (IT: from the end of the function's latest execution
 * to its next arrival; 0 when the next request arrives while one is still executing, since the
 * application is then loaded and busy) in 1-minute bins over 4 hours:
 *
 *  - representative (coefficient of variation of the 240 bin counts >= 2): pre-warm window =
 *    lower edge of the 5th-percentile bin x 0.9, keep-alive window = upper edge of the
 *    99th-percentile bin x 1.1. With a pre-warm window of 0 the instance is simply kept for the
 *    keep-alive window; otherwise it is released right after use, brought back when the pre-warm
 *    window has passed, and kept for keep-alive minus pre-warm;
 *  - not representative (also: no IT seen yet): no pre-warm, keep-alive = the whole 4-hour range;
 *  - most ITs beyond the range (out of bounds): the paper forecasts the next IT with ARIMA; we
 *    use a documented simpler forecaster, an exponentially weighted moving average of the IT
 *    series (FORECAST_ALPHA), and pre-warm at 85% of the forecast, keeping for 30% of it.
 *
 * Mapping onto `ScalingPolicy`: `keepAliveMs` returns 0 and records a one-instance pre-warm plan
 * when the pre-warm window is positive; `prewarmPlan` hands that plan to the core. The paper
 * models one instance per application, so plans are for one instance. The pre-warm starts when
 * the window ends (the paper's 10% margin is what absorbs the cold start). It never waits on a
 * miss (no `coldStartsOnMiss`: every miss cold-starts) and ignores score prices: it is the
 * published baseline, not a tuned policy.
 *
 * Cost: O(1) per arrival (bin counts and their sum of squares are maintained incrementally);
 * percentiles are an O(240) scan, cached until the histogram next changes.
 */
import type { InstanceView, PoolView, PrewarmPlan, ScalingPolicy } from '../policy.js';

export const HH_BIN_MS = 60_000;
export const HH_BINS = 240;
/** The histogram's range: 4 hours. */
export const HH_RANGE_MS = HH_BIN_MS * HH_BINS;
export const HH_CV_THRESHOLD = 2;
export const HH_HEAD_PERCENTILE = 0.05;
export const HH_TAIL_PERCENTILE = 0.99;
/** The paper's 10% margins: the pre-warm window shrinks, the keep-alive window grows. */
export const HH_HEAD_MARGIN = 0.9;
export const HH_TAIL_MARGIN = 1.1;
/** Out-of-bounds mode when more than this fraction of ITs exceeded the range. */
export const HH_OOB_FRACTION = 0.5;
export const HH_OOB_PREWARM_FRACTION = 0.85;
export const HH_OOB_KEEP_FRACTION = 0.3;
/** Weight of the newest IT in the forecast (stands in for the paper's ARIMA). */
export const FORECAST_ALPHA = 0.5;

/** What the policy would do after a release, in ms. */
export interface HybridDecision {
  readonly mode: 'histogram' | 'conservative' | 'forecast';
  /** 0: keep the instance; > 0: release it and pre-warm this long after the release. */
  readonly prewarmMs: number;
  /** Total window from the release: the instance is loaded from prewarmMs until keepAliveMs. */
  readonly keepAliveMs: number;
}

const CONSERVATIVE: HybridDecision = { mode: 'conservative', prewarmMs: 0, keepAliveMs: HH_RANGE_MS };

/** Per-function state; exported for tests and reports. */
export class IdleTimeHistogram {
  /** Allocated on the first in-range IT: most functions of a FaaS mix never need one. */
  counts: Uint32Array | null = null;
  inRange = 0;
  outOfBounds = 0;
  private sumSq = 0;
  /** EWMA of every IT (in range or not), ms; NaN before the first. */
  forecastMs = NaN;
  private cached: HybridDecision | null = null;

  record(itMs: number): void {
    const it = itMs > 0 ? itMs : 0;
    this.forecastMs = Number.isNaN(this.forecastMs) ? it : this.forecastMs + FORECAST_ALPHA * (it - this.forecastMs);
    this.cached = null;
    if (it >= HH_RANGE_MS) {
      this.outOfBounds++;
      return;
    }
    if (this.counts === null) this.counts = new Uint32Array(HH_BINS);
    const bin = Math.floor(it / HH_BIN_MS);
    const c = this.counts[bin]!;
    this.counts[bin] = c + 1;
    // (c + 1)^2 - c^2
    this.sumSq += 2 * c + 1;
    this.inRange++;
  }

  get samples(): number {
    return this.inRange + this.outOfBounds;
  }

  /** Coefficient of variation of the bin counts (population standard deviation / mean). */
  binCountCv(): number {
    if (this.inRange === 0) return 0;
    const mean = this.inRange / HH_BINS;
    const variance = this.sumSq / HH_BINS - mean * mean;
    return Math.sqrt(variance > 0 ? variance : 0) / mean;
  }

  /** Bin holding the q-quantile of the in-range ITs. */
  private quantileBin(q: number): number {
    const counts = this.counts!;
    const target = q * this.inRange;
    let acc = 0;
    for (let i = 0; i < HH_BINS; i++) {
      acc += counts[i]!;
      if (acc >= target && acc > 0) return i;
    }
    return HH_BINS - 1;
  }

  decision(): HybridDecision {
    if (this.cached !== null) return this.cached;
    let d: HybridDecision;
    const n = this.samples;
    if (n > 0 && this.outOfBounds > HH_OOB_FRACTION * n) {
      const f = this.forecastMs;
      d = { mode: 'forecast', prewarmMs: HH_OOB_PREWARM_FRACTION * f, keepAliveMs: (HH_OOB_PREWARM_FRACTION + HH_OOB_KEEP_FRACTION) * f };
    } else if (this.inRange > 0 && this.binCountCv() >= HH_CV_THRESHOLD) {
      const head = this.quantileBin(HH_HEAD_PERCENTILE) * HH_BIN_MS;
      const tail = (this.quantileBin(HH_TAIL_PERCENTILE) + 1) * HH_BIN_MS;
      d = { mode: 'histogram', prewarmMs: head * HH_HEAD_MARGIN, keepAliveMs: tail * HH_TAIL_MARGIN };
    } else {
      d = CONSERVATIVE;
    }
    this.cached = d;
    return d;
  }
}

class FunctionState {
  readonly hist = new IdleTimeHistogram();
  /** End of the latest execution (NaN before the first). */
  lastExecEnd = NaN;
  plan: PrewarmPlan | null = null;
  /** Keep-alive of the instance the plan brings back (keep-alive window minus pre-warm window). */
  planKeepMs = 0;
}

function state(pool: PoolView): FunctionState {
  let s = pool.policyState as FunctionState | undefined;
  if (s === undefined) {
    s = new FunctionState();
    pool.policyState = s;
  }
  return s;
}

/** The ATC'20 hybrid histogram policy (see the module comment for the mapping). */
export class HybridHistogramPolicy implements ScalingPolicy {
  readonly name = 'hybrid-histogram';

  /** The decision the policy would take for `pool` now (for tests and reports). */
  decisionFor(pool: PoolView): HybridDecision {
    return state(pool).hist.decision();
  }

  onArrival(pool: PoolView, now: number): void {
    const s = state(pool);
    // The application is still executing another request: no idle period precedes this one.
    const active = pool.busyCount + pool.waitingCount > 0;
    if (!Number.isNaN(s.lastExecEnd)) s.hist.record(active ? 0 : now - s.lastExecEnd);
    s.plan = null;
  }

  onExecDone(pool: PoolView, _durationMs: number, now: number): void {
    state(pool).lastExecEnd = now;
  }

  onIdleDestroyed(pool: PoolView, inst: InstanceView, _now: number): void {
    if (inst.prewarmed && inst.uses === 0) state(pool).plan = null;
  }

  keepAliveMs(pool: PoolView, inst: InstanceView, now: number): number {
    const s = state(pool);
    if (inst.prewarmed && inst.uses === 0 && s.planKeepMs > 0) {
      // The plan has been carried out: the instance it brought back waits out the keep-alive window.
      s.plan = null;
      return s.planKeepMs;
    }
    const d = s.hist.decision();
    if (d.prewarmMs > 0) {
      s.plan = { atMs: now + d.prewarmMs, count: 1 };
      s.planKeepMs = d.keepAliveMs - d.prewarmMs;
      return 0;
    }
    return d.keepAliveMs;
  }

  prewarmPlan(pool: PoolView, _now: number): PrewarmPlan | null {
    const s = state(pool);
    if (s.plan === null || pool.busyCount > 0 || pool.waitingCount > 0) return null;
    return s.plan;
  }
}
