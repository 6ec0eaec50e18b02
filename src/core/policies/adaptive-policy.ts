import { RecentGaps } from '../recent-gaps.js';
import { KeepAliveShadows, PopulationTallies } from '../keep-alive-shadows.js';
import type { InstanceView, PolicyEnv, PoolView, PrewarmPlan, ScalingPolicy } from '../policy.js';
import { scorePrices, type ScorePrices } from '../score-prices.js';

/** Execution samples before the queue model trusts the mean execution time. */
export const MIN_EXEC_SAMPLES = 3;
/** Idle gaps seen before pre-warming is considered. */
export const MIN_PREWARM_GAPS = 2;
/** Arrivals (decayed) the keep-alive shadows need before they replace the ski-rental rule. */
export const MIN_SHADOW_WEIGHT = 10;
/** Young-function arrivals the population prior needs before it replaces the ski-rental rule. */
export const MIN_POPULATION_WEIGHT = 30;
/** Bounds on any keep-alive, ms. */
export const MIN_KEEP_MS = 0;
export const MAX_KEEP_MS = 30 * 60_000;
/** Pre-warm fires this much (fraction of the cold start, plus a constant) before it is needed. */
export const PREWARM_MARGIN_FRACTION = 0.1;
export const PREWARM_MARGIN_MS = 20;
/** A gap this many times the function's typical in-burst gap starts a new burst. */
export const BURST_GAP_FACTOR = 8;
/** ...and never less than this, ms. */
export const MIN_BURST_GAP_MS = 1_000;
export const BURST_PEAK_ALPHA = 0.5;
/** Burst concurrency is measured up to this many requests. */
export const MAX_TRACKED_CONCURRENCY = 4_096;
/** Gaps longer than this are between bursts, not part of the typical in-burst gap. */
export const TYPICAL_GAP_CAP_MS = 10_000;
export const ARRIVAL_GAP_ALPHA = 0.1;
/** The queue model never plans instances busier than this. */
export const MAX_QUEUE_UTILISATION = 0.8;
/** Memory is priced as if the resource half were at least this good (see scorePrices). */
export const DEFAULT_MIN_RESOURCE_RATIO = 0.3;

class FunctionModel {
  /** What-if tallies of the keep-alive ladder (concurrency-aware). */
  readonly shadows = new KeepAliveShadows();
  /** Gaps from the function going fully idle (nothing busy) to its next request. */
  readonly idleGaps = new RecentGaps();
  lastFullyIdleAt = NaN;
  lastArrival = NaN;
  /** EWMA of short (in-burst) inter-arrival gaps, ms. */
  burstGapMs = NaN;
  burstPeak = 0;
  /** Learned peak concurrency of a burst (EWMA over bursts). */
  peakEwma = 0;
  bursts = 0;
  /** Release-then-pre-warm plan while the function is idle. */
  plan: PrewarmPlan | null = null;
  /** The idle period (its start) the current or last plan was made for. */
  planFor = NaN;
  planHoldMs = 0;
  lastForcedColdStart = NaN;
  /** Arrival times within the last execution time (from `recentHead`). */
  recentArrivals: number[] = [];
  recentHead = 0;
}

function model(pool: PoolView): FunctionModel {
  let m = pool.policyState as FunctionModel | undefined;
  if (m === undefined) {
    m = new FunctionModel();
    pool.policyState = m;
  }
  return m;
}

const PRIOR_PRICES: ScorePrices = scorePrices({ execGBs: 0, slotGBs: 0, execSecs: 0, scheduleSecs: 0 });

/**
 * The score-priced online policy (`adaptive`). Per function, online and generic:
 *
 *  - Prices: the marginal score of a slot GB-second and of a second of scheduling latency,
 *    from the score's running totals (every shard's, via the shared counters), so 30 GB AI
 *    instances are kept far more sparingly than 128 MB functions with the same pattern.
 *  - Keep-alive: a ladder of what-if shadow pools replays the function's real arrivals and
 *    releases; the window whose shadow cost (cold starts x their price + idle seconds x the
 *    memory price) is least is used. Before enough evidence: the ski-rental break-even window.
 *  - Release-then-pre-warm: when the function goes idle and its recent idle gaps are
 *    predictable (a timer, periodic bursts), destroy now and bring back, create + init before
 *    the predicted request, as many instances as its bursts need, if that beats keeping.
 *  - Queue model: on a miss, begin only the cold starts needed for the waiters to be served
 *    within one cold start by busy, starting and new instances, at utilisation below 1.
 *
 * Per-request work is O(ladder) (11 windows); pre-warm planning, O(16^2), runs only when a
 * function goes idle. Memory per function is constant but for the burst-concurrency window.
 */
export interface AdaptivePolicyOptions {
  /** `dynamic` (default): prices from the running score totals; `prior`: fixed prior prices. */
  pricing?: 'dynamic' | 'prior';
  /** Pre-warm idle functions when predictable (default true). */
  prewarm?: boolean;
  /** A pre-warm before a predicted burst brings back its learned peak concurrency (default true). */
  burstPrewarm?: boolean;
  /** Hold back cold starts when busy/starting instances will serve waiters sooner (default true). */
  queueModel?: boolean;
  /** Queueing behind busy instances is accepted up to this fraction of a cold start. */
  queueFraction?: number;
  /** New functions start from the keep-alive young functions of this workload did best with (default true). */
  populationPrior?: boolean;
  /** Floors on the resource and latency ratios the prices are computed at (dynamic pricing). */
  minResourceRatio?: number;
  minLatencyRatio?: number;
}

export class AdaptivePolicy implements ScalingPolicy {
  readonly name = 'adaptive';
  private env: PolicyEnv | undefined;
  private readonly opts: Required<AdaptivePolicyOptions>;
  /** Shadow tallies of young functions, pooled: the keep-alive prior for new functions. */
  private readonly population = new PopulationTallies();

  constructor(opts: AdaptivePolicyOptions = {}) {
    this.opts = {
      pricing: 'dynamic',
      prewarm: true,
      burstPrewarm: true,
      queueModel: true,
      populationPrior: true,
      queueFraction: 1,
      minResourceRatio: DEFAULT_MIN_RESOURCE_RATIO,
      minLatencyRatio: 0,
      ...opts,
    };
  }

  bind(env: PolicyEnv): void {
    this.env = env;
  }

  private prices(): ScorePrices {
    if (this.opts.pricing === 'prior' || this.env === undefined) return PRIOR_PRICES;
    return this.env.prices(this.opts.minResourceRatio, this.opts.minLatencyRatio);
  }

  /** Score lost per second an instance of `pool` idles, and per cold start (its wait plus its slot time). */
  private costs(pool: PoolView): { memRate: number; coldCost: number } {
    const prices = this.prices();
    const memRate = prices.perGBs * (pool.memoryMb / 1024);
    const coldSec = pool.stats.coldStartMs / 1000;
    return { memRate, coldCost: prices.perLatencySec * coldSec + memRate * coldSec };
  }

  onArrival(pool: PoolView, now: number): void {
    const m = model(pool);
    // A young function's outcomes also teach the population prior for the next new function.
    m.shadows.arrive(now, this.opts.populationPrior && m.shadows.weight < MIN_SHADOW_WEIGHT ? this.population : null);
    if (pool.busyCount === 0 && pool.waitingCount === 0 && !Number.isNaN(m.lastFullyIdleAt)) {
      m.idleGaps.record(now - m.lastFullyIdleAt);
    }
    m.plan = null;
    const gap = now - m.lastArrival;
    m.lastArrival = now;
    const burstGap = Math.max(MIN_BURST_GAP_MS, BURST_GAP_FACTOR * (Number.isNaN(m.burstGapMs) ? 0 : m.burstGapMs));
    if (gap < TYPICAL_GAP_CAP_MS) m.burstGapMs = Number.isNaN(m.burstGapMs) ? gap : m.burstGapMs + ARRIVAL_GAP_ALPHA * (gap - m.burstGapMs);
    if (!(gap <= burstGap) && pool.busyCount === 0 && pool.startingCount === 0) {
      if (m.bursts > 0) m.peakEwma = m.bursts === 1 ? m.burstPeak : m.peakEwma + BURST_PEAK_ALPHA * (m.burstPeak - m.peakEwma);
      m.bursts++;
      m.burstPeak = 0;
    }
    // Concurrency the burst would need with no waiting: arrivals within one execution time.
    const recent = m.recentArrivals;
    recent.push(now);
    const windowMs = pool.stats.execSamples > 0 ? pool.stats.execMs : pool.stats.coldStartMs;
    while (m.recentHead < recent.length && (recent[m.recentHead]! < now - windowMs || recent.length - m.recentHead > MAX_TRACKED_CONCURRENCY)) m.recentHead++;
    if (m.recentHead > 64 && m.recentHead * 2 > recent.length) {
      m.recentArrivals = recent.slice(m.recentHead);
      m.recentHead = 0;
    }
    const demand = m.recentArrivals.length - m.recentHead;
    if (demand > m.burstPeak) m.burstPeak = demand;
  }

  onExecDone(pool: PoolView, _durationMs: number, now: number, broken?: boolean): void {
    const m = model(pool);
    if (broken !== true) m.shadows.release(now);
    if (pool.busyCount === 0) m.lastFullyIdleAt = now;
  }

  onIdleDestroyed(pool: PoolView, inst: InstanceView, _now: number): void {
    // The predicted request did not come: do not keep pre-warming on a stale plan.
    if (inst.prewarmed && inst.uses === 0) model(pool).plan = null;
  }

  keepAliveMs(pool: PoolView, inst: InstanceView, now: number): number {
    const m = model(pool);
    if (inst.prewarmed && inst.uses === 0 && m.planHoldMs > 0) return m.planHoldMs;
    const { memRate, coldCost } = this.costs(pool);
    if (!(memRate > 0)) return MAX_KEEP_MS;
    // The function's own shadows once they have seen enough; before that, what young functions
    // of this workload did best with; before that, ski rental: keep until idling cost a cold start.
    const skiRentalMs = (coldCost / memRate) * 1000;
    let keepMs: number;
    if (m.shadows.weight >= MIN_SHADOW_WEIGHT) keepMs = m.shadows.bestWindowMs(now, coldCost, memRate);
    else if (this.opts.populationPrior && this.population.weight >= MIN_POPULATION_WEIGHT) keepMs = this.population.bestWindowMs(coldCost, memRate);
    else keepMs = skiRentalMs;
    const alone = pool.busyCount === 0 && pool.idleCount <= 1 && pool.startingCount === 0;
    if (alone && this.opts.prewarm && m.idleGaps.size >= MIN_PREWARM_GAPS) {
      const gaps = m.idleGaps.sorted();
      const pw = bestPrewarm(gaps, pool.stats.coldStartMs, coldCost, memRate);
      if (pw !== null && pw.value > keepValue(gaps, keepMs, coldCost, memRate)) {
        this.adoptPlan(pool, m, now, pw);
        return 0;
      }
    }
    return clamp(keepMs);
  }

  /** Release-then-pre-warm: an instance ready `lead` after the function went idle, held until `hold`. */
  private adoptPlan(pool: PoolView, m: FunctionModel, idleSince: number, pw: PrewarmChoice): void {
    const coldMs = pool.stats.coldStartMs;
    const startMs = pw.leadMs - coldMs * (1 + PREWARM_MARGIN_FRACTION) - PREWARM_MARGIN_MS;
    m.plan = { atMs: idleSince + Math.max(0, startMs), count: this.opts.burstPrewarm && m.bursts > 1 ? Math.max(1, Math.round(m.peakEwma)) : 1 };
    m.planFor = idleSince;
    m.planHoldMs = clamp(pw.holdMs - pw.leadMs + coldMs * PREWARM_MARGIN_FRACTION + PREWARM_MARGIN_MS);
  }

  prewarmPlan(pool: PoolView, now: number): PrewarmPlan | null {
    const m = model(pool);
    if (m.plan !== null && pool.busyCount === 0 && pool.waitingCount === 0) return m.plan;
    const empty = pool.busyCount === 0 && pool.idleCount === 0 && pool.startingCount === 0 && pool.waitingCount === 0;
    if (empty && this.opts.prewarm && m.planFor !== m.lastFullyIdleAt && m.idleGaps.size >= MIN_PREWARM_GAPS) {
      // The last instance just expired (a burst's capacity, say): plan its return once per idle period.
      m.planFor = m.lastFullyIdleAt;
      const { memRate, coldCost } = this.costs(pool);
      const pw = bestPrewarm(m.idleGaps.sorted(), pool.stats.coldStartMs, coldCost, memRate);
      if (pw !== null && pw.value > 0) {
        this.adoptPlan(pool, m, m.lastFullyIdleAt, pw);
        if (m.plan!.atMs >= now) return m.plan;
        m.plan = null;
      }
    }
    return null;
  }

  /**
   * Queue model: with k instances busy or starting, the waiters drain at k per execution time.
   * Begin only the cold starts needed for the last waiter to be served within one cold start;
   * and always one more when the oldest waiter already waited that long (estimates were wrong).
   */
  coldStartsOnMiss(pool: PoolView, now: number, deficit: number): number {
    const st = pool.stats;
    const exec = st.execMs;
    if (!this.opts.queueModel || st.execSamples < MIN_EXEC_SAMPLES || !(exec > 0)) return deficit;
    const cold = st.coldStartMs;
    const m = model(pool);
    const capacity = pool.busyCount + pool.startingCount;
    let needed = Math.ceil((pool.waitingCount * exec) / (cold * this.opts.queueFraction));
    // A queue is only a good idea if it drains: keep utilisation (arrival rate x exec / k) below 1.
    const gap = m.burstGapMs;
    if (gap > 0) needed = Math.max(needed, Math.ceil(exec / (gap * MAX_QUEUE_UTILISATION)));
    let n = needed - capacity;
    if (capacity === 0 && n < 1) n = 1;
    // Estimates were wrong if the oldest waiter already waited a whole cold start: add one
    // instance, at most one per cold-start time (the added one needs that long itself).
    if (n < 1 && now - pool.oldestWaitingSince() >= cold && !(now - m.lastForcedColdStart < cold)) {
      m.lastForcedColdStart = now;
      n = 1;
    }
    return n;
  }

  missRecheckMs(pool: PoolView, _now: number): number {
    const st = pool.stats;
    return Math.max(1, Math.min(st.execMs, st.coldStartMs) / 2);
  }
}

interface PrewarmChoice {
  readonly leadMs: number;
  readonly holdMs: number;
  readonly value: number;
}

/** Slack past the longest recent gap that a pre-warmed instance waits for its request. */
export const PREWARM_HOLD_SLACK = 0.1;
/** Share of recent gaps a pre-warm plan must catch to be considered at all. */
export const MIN_PREWARM_HIT_RATE = 0.75;

/**
 * Best release-then-pre-warm over the recent idle gaps (ascending): for a lead L (a recent gap
 * value), a gap x in [L, hold] is a hit worth coldCost minus the pre-warmed idle time; a gap
 * beyond hold wastes the pre-warm; a gap below L is an ordinary cold start (no gain, no cost).
 */
function bestPrewarm(gaps: Float64Array, coldMs: number, coldCost: number, memRate: number): PrewarmChoice | null {
  const n = gaps.length;
  if (n === 0) return null;
  const holdMs = gaps[n - 1]! * (1 + PREWARM_HOLD_SLACK);
  const marginMs = coldMs * PREWARM_MARGIN_FRACTION + PREWARM_MARGIN_MS;
  let best: PrewarmChoice | null = null;
  for (let j = 0; j < n; j++) {
    const lead = gaps[j]!;
    if (lead <= coldMs + marginMs) continue;
    let value = 0;
    for (let i = j; i < n; i++) {
      const x = gaps[i]!;
      const idleSec = (coldMs + marginMs + Math.min(x, holdMs) - lead) / 1000;
      value += (x <= holdMs ? coldCost : 0) - memRate * idleSec;
    }
    value /= n;
    // Picking the best of n leads on n samples flatters noise: demand a predictable gap.
    if ((n - j) / n < MIN_PREWARM_HIT_RATE) break;
    if (best === null || value > best.value) best = { leadMs: lead, holdMs, value };
  }
  return best;
}

/** Expected value of keeping the last instance `keepMs`: P(G <= w) x coldCost - memRate x E[min(G, w)]. */
function keepValue(gaps: Float64Array, keepMs: number, coldCost: number, memRate: number): number {
  const n = gaps.length;
  if (n === 0) return 0;
  let value = 0;
  for (let i = 0; i < n; i++) {
    const x = gaps[i]!;
    value += x <= keepMs ? coldCost - (memRate * x) / 1000 : (-memRate * keepMs) / 1000;
  }
  return value / n;
}

function clamp(ms: number): number {
  if (!(ms > MIN_KEEP_MS)) return MIN_KEEP_MS;
  return ms > MAX_KEEP_MS ? MAX_KEEP_MS : ms;
}
