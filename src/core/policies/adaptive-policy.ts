import { GAP_BINS, gapBinUpperMs, GapHistogram } from '../gap-histogram.js';
import type { InstanceView, PolicyEnv, PoolView, PrewarmPlan, ScalingPolicy } from '../policy.js';
import type { ScorePrices } from '../score-prices.js';

/** Reuse gaps seen before the learned distribution replaces the ski-rental rule. */
export const MIN_GAP_SAMPLES = 3;
/** Bounds on any keep-alive, ms. */
export const MIN_KEEP_MS = 0;
export const MAX_KEEP_MS = 30 * 60_000;
/** Pre-warm fires this much (fraction of the cold start, plus a constant) before it is needed. */
export const PREWARM_MARGIN_FRACTION = 0.1;
export const PREWARM_MARGIN_MS = 20;
/** Quantile of the reuse gap until which a pre-warmed instance waits for its request. */
export const PREWARM_HOLD_QUANTILE = 0.99;
/** A gap this many times the function's typical in-burst gap starts a new burst. */
export const BURST_GAP_FACTOR = 8;
/** ...and never less than this, ms. */
export const MIN_BURST_GAP_MS = 1_000;
export const BURST_PEAK_ALPHA = 0.5;
export const ARRIVAL_GAP_ALPHA = 0.1;
/** Wait for a busy instance instead of cold-starting only when it should free this much sooner. */
export const MISS_WAIT_FRACTION = 0.5;

class FunctionModel {
  readonly reuse = new GapHistogram();
  /** idleSince of the most recent idle instance destroyed without reuse (NaN: none since). */
  destroyedIdleSince = NaN;
  lastArrival = NaN;
  /** EWMA of short (in-burst) inter-arrival gaps, ms. */
  burstGapMs = NaN;
  burstStart = NaN;
  burstPeak = 0;
  /** Learned peak concurrency of a burst (EWMA over bursts). */
  peakEwma = 0;
  bursts = 0;
  /** Release-then-pre-warm plan while the function is idle. */
  plan: PrewarmPlan | null = null;
  planHoldMs = 0;
}

function model(pool: PoolView): FunctionModel {
  let m = pool.policyState as FunctionModel | undefined;
  if (m === undefined) {
    m = new FunctionModel();
    pool.policyState = m;
  }
  return m;
}

const FALLBACK_PRICES: ScorePrices = { perGBs: 50 / 1_000, perLatencySec: 50 / 1_000 };

/**
 * The score-priced online policy. For each function it learns the distribution of reuse gaps
 * (how long an idle instance waits for its next request), the cold-start time and the burst
 * concurrency, and prices memory against latency from the score's own running totals:
 *
 *  - keep an idle instance for the window that maximises P(reused) x cold-start cost minus the
 *    expected idle memory cost; with no data yet, the ski-rental break-even window;
 *  - or destroy it and pre-warm just before the predicted next request, when the gap is
 *    predictable and long enough that paying create + init beats idling through it;
 *  - pre-create a burst's learned concurrency when a new burst begins;
 *  - on a miss, wait for a busy instance that will free well before a cold start would finish.
 *
 * Every decision is O(histogram bins) at most, independent of trace length and function count.
 */
export class AdaptivePolicy implements ScalingPolicy {
  readonly name = 'adaptive';
  private env: PolicyEnv | undefined;

  bind(env: PolicyEnv): void {
    this.env = env;
  }

  onArrival(pool: PoolView, now: number): void {
    const m = model(pool);
    const top = pool.peekIdle();
    if (!Number.isNaN(m.destroyedIdleSince) && (top === null || (top.prewarmed && top.uses === 0))) {
      // The instance we let go (or replaced by a pre-warm) would have served this request.
      m.reuse.record(now - m.destroyedIdleSince);
      m.destroyedIdleSince = NaN;
    } else if (top !== null) {
      m.reuse.record(now - top.idleSince);
      m.destroyedIdleSince = NaN;
    }
    m.plan = null;
    const gap = now - m.lastArrival;
    m.lastArrival = now;
    const burstGap = Math.max(MIN_BURST_GAP_MS, BURST_GAP_FACTOR * (Number.isNaN(m.burstGapMs) ? 0 : m.burstGapMs));
    if (!(gap <= burstGap)) {
      if (m.bursts > 0) m.peakEwma = m.bursts === 1 ? m.burstPeak : m.peakEwma + BURST_PEAK_ALPHA * (m.burstPeak - m.peakEwma);
      m.bursts++;
      m.burstStart = now;
      m.burstPeak = 0;
    } else {
      m.burstGapMs = Number.isNaN(m.burstGapMs) ? gap : m.burstGapMs + ARRIVAL_GAP_ALPHA * (gap - m.burstGapMs);
    }
    const demand = pool.busyCount + pool.waitingCount + 1;
    if (demand > m.burstPeak) m.burstPeak = demand;
  }

  onExecDone(_pool: PoolView, _durationMs: number, _now: number): void {}

  onIdleDestroyed(pool: PoolView, inst: InstanceView, _now: number): void {
    const m = model(pool);
    if (inst.prewarmed && inst.uses === 0) {
      // The predicted request did not come: do not keep pre-warming on a stale plan.
      m.plan = null;
      return;
    }
    if (!(inst.idleSince <= m.destroyedIdleSince)) m.destroyedIdleSince = inst.idleSince;
  }

  keepAliveMs(pool: PoolView, inst: InstanceView, now: number): number {
    const m = model(pool);
    if (inst.prewarmed && inst.uses === 0 && m.planHoldMs > 0) return m.planHoldMs;
    const prices = this.env?.prices() ?? FALLBACK_PRICES;
    const memRate = prices.perGBs * (pool.memoryMb / 1024); // score per second kept
    const coldSec = pool.stats.coldStartMs / 1000;
    const coldCost = prices.perLatencySec * coldSec + memRate * coldSec;
    if (!(memRate > 0)) return MAX_KEEP_MS;
    const h = m.reuse;
    if (h.samples < MIN_GAP_SAMPLES) {
      // Ski rental: keep until idling has cost as much as one cold start would.
      return clamp((coldCost / memRate) * 1000);
    }
    const total = h.total;
    const counts = h.counts;
    // Keep for w: value = P(G <= w) * coldCost - memRate * E[min(G, w)].
    let cdf = 0;
    let partial = 0; // sum over bins <= i of p * mid (seconds)
    let bestKeep = 0;
    let bestKeepValue = 0;
    for (let i = 0; i < GAP_BINS; i++) {
      const p = counts[i]! / total;
      if (p === 0 && cdf === 0) continue;
      cdf += p;
      partial += (p * h.midMs(i)) / 1000;
      const w = gapBinUpperMs(i) / 1000;
      const value = cdf * coldCost - memRate * (partial + (1 - cdf) * w);
      if (value > bestKeepValue) {
        bestKeepValue = value;
        bestKeep = w;
      }
      if (cdf >= 0.99999) break;
    }
    const alone = pool.busyCount === 0 && pool.idleCount <= 1 && pool.startingCount === 0;
    if (alone) {
      const pw = this.bestPrewarm(h, coldSec, coldCost, memRate);
      if (pw !== null && pw.value > bestKeepValue) {
        const leadMs = pw.leadSec * 1000;
        const startMs = leadMs - pool.stats.coldStartMs * (1 + PREWARM_MARGIN_FRACTION) - PREWARM_MARGIN_MS;
        m.plan = { atMs: now + Math.max(0, startMs), count: 1 };
        m.planHoldMs = clamp((pw.holdUntilSec - pw.leadSec) * 1000 + pool.stats.coldStartMs * PREWARM_MARGIN_FRACTION + PREWARM_MARGIN_MS);
        return 0;
      }
    }
    return clamp(bestKeep * 1000);
  }

  /**
   * Release now and have an instance ready `lead` after the release, held until the gap's
   * PREWARM_HOLD_QUANTILE: value = P(lead <= G <= hold) * coldCost - memRate * (P(G >= lead) *
   * cold + E[min(G, hold) - lead; G >= lead]).
   */
  private bestPrewarm(h: GapHistogram, coldSec: number, coldCost: number, memRate: number): { leadSec: number; holdUntilSec: number; value: number } | null {
    const total = h.total;
    const counts = h.counts;
    const holdMs = h.quantileMs(PREWARM_HOLD_QUANTILE);
    const holdSec = holdMs / 1000;
    // Mass and partial expectation of G within [lead, hold], accumulated from the top down.
    let best: { leadSec: number; holdUntilSec: number; value: number } | null = null;
    let massAbove = 0; // P(G >= lower edge of bin i) restricted to G <= hold
    let expAbove = 0; // E[G; lower(i) <= G <= hold], seconds
    let tailBeyondHold = 0; // P(G > hold)
    for (let i = GAP_BINS - 1; i >= 0; i--) {
      const p = counts[i]! / total;
      const upper = gapBinUpperMs(i);
      if (upper > holdMs * 1.0001) {
        tailBeyondHold += p;
        continue;
      }
      massAbove += p;
      expAbove += (p * h.midMs(i)) / 1000;
      const leadSec = (i === 0 ? 0 : gapBinUpperMs(i - 1)) / 1000;
      if (leadSec <= coldSec) break; // no time to pre-warm: keeping is the only option
      const idleWhileWaiting = expAbove - massAbove * leadSec + tailBeyondHold * (holdSec - leadSec);
      const value = massAbove * coldCost - memRate * ((massAbove + tailBeyondHold) * coldSec + idleWhileWaiting);
      if (best === null || value > best.value) best = { leadSec, holdUntilSec: holdSec, value };
    }
    return best;
  }

  prewarmPlan(pool: PoolView, now: number): PrewarmPlan | null {
    const m = model(pool);
    if (m.plan !== null && pool.busyCount === 0 && pool.waitingCount === 0) return m.plan;
    if (m.bursts > 1 && m.peakEwma >= 2 && now - m.burstStart < Math.max(MIN_BURST_GAP_MS, pool.stats.coldStartMs)) {
      const want = Math.ceil(m.peakEwma) - pool.busyCount;
      if (want > 0) return { atMs: m.burstStart, count: want };
    }
    return null;
  }

  missDelayMs(pool: PoolView, _now: number): number {
    if (pool.busyCount === 0 || pool.waitingCount > pool.busyCount) return 0;
    const exec = pool.stats.execMs;
    if (!(exec > 0) || pool.stats.execSamples < MIN_GAP_SAMPLES) return 0;
    // With k busy instances started at random times, the first frees after about exec / (k + 1).
    const expectedFree = exec / (pool.busyCount + 1);
    const cold = pool.stats.coldStartMs;
    if (expectedFree * 2 > cold * MISS_WAIT_FRACTION) return 0;
    return expectedFree * 2;
  }
}

function clamp(ms: number): number {
  if (!(ms > MIN_KEEP_MS)) return MIN_KEEP_MS;
  return ms > MAX_KEEP_MS ? MAX_KEEP_MS : ms;
}
