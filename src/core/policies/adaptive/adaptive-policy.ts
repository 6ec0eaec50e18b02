import { RecentGaps } from './recent-gaps.js';
import { KeepAliveShadows, PopulationTallies } from './keep-alive-shadows.js';
import type { InstanceView, PolicyEnv, PoolView, PrewarmPlan, ScalingPolicy } from '../../policy.js';
import { RecentSamples } from './recent-samples.js';
import { CounterfactualRun } from './counterfactual-run.js';
import { EXCHANGE_RATE_GRID, ExchangeRateTuner, INITIAL_EXCHANGE_RATE } from './exchange-rate-tuner.js';
import { DEFAULT_CREATE_MS, DEFAULT_INIT_MS, type FunctionStats } from '../../function-stats.js';
import type { ReplayLatencies } from './replay-platform.js';
import { coldStartsWorthIt, MAX_SIMULATED_WAITERS, sizedCapacity } from './queue-plan.js';
import { bestIdlePlan, gapKeepCost, gapPlanCost, keepCost, missCost, prewarmMarginMs, type IdlePlan, type IdlePrices } from './idle-plan.js';
import type { RateTuner, RateTunerFactory, RateTunerSetup } from './rate-tuner.js';

/**
 * The tuner's rates with the keep-alive baselines in reach: past 10, a run keeps idle instances
 * for minutes (at 1000 a 150 ms cold start is worth 10 minutes of a 256 MB instance), so
 * following the best run cannot end far below keeping nearly everything.
 */
export const WIDE_EXCHANGE_RATE_GRID: readonly number[] = Object.freeze([...EXCHANGE_RATE_GRID, 100, 1000]);
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
/** A gap this many times the function's typical in-burst gap starts a new burst. */
export const BURST_GAP_FACTOR = 8;
/** ...and never less than this, ms. */
export const MIN_BURST_GAP_MS = 1_000;
/** Burst concurrency is measured up to this many requests. */
export const MAX_TRACKED_CONCURRENCY = 4_096;
/** Gaps longer than this are between bursts, not part of the typical in-burst gap. */
export const TYPICAL_GAP_CAP_MS = 10_000;
export const ARRIVAL_GAP_ALPHA = 0.1;
/** The queue model never plans instances busier than this. */
export const MAX_QUEUE_UTILISATION = 1;
/** Memory is priced as if the resource half were at least this good (see scorePrices). */
export const DEFAULT_MIN_RESOURCE_RATIO = 0.3;
/** Forgetting of the plan judge, per gap (memory of a few hundred gaps). */
export const PLAN_JUDGE_DECAY = 0.99;
/** Gaps judged before a plan may replace the keep-alive. */
export const MIN_PLAN_JUDGE_WEIGHT = 4;
/** The best plan is recomputed once this many new gaps were seen. */
export const PLAN_REFRESH_GAPS = 8;
/** Smoothing of the followers of a cold start from nothing, and of the release lag. */
export const FOLLOWERS_ALPHA = 0.2;
export const RELEASE_LAG_ALPHA = 0.2;
/**
 * Queueing is measured over this time constant: waiting per unit of time is what one more
 * instance would take away, and what it would cost is its memory over the same time.
 */
export const GROWTH_WINDOW_MS = 30_000;
/** The arrival rate the queue model expects is measured over this many executions or cold starts (the longer). */
export const RATE_WINDOW_FACTOR = 5;
/** Expected arrivals count this many (cold start + execution) ahead. */
export const STREAM_HORIZON_FACTOR = 2;

/**
 * Out-of-sample judge of release-then-pre-warm: the plan made when the function last went idle,
 * and the keep-alive it would otherwise have had, each charged for the gap that followed, with
 * forgetting. A plan chosen as the best fit to the recent gaps flatters itself on those gaps; on
 * the next ones it has to earn its place.
 */
class PlanJudge {
  planCost = 0;
  keepCost = 0;
  weight = 0;
  /** What was in force for the open gap (made when the function went idle). */
  plan: IdlePlan | null = null;
  keepMs = 0;

  settle(gapMs: number, prices: IdlePrices): void {
    if (this.plan === null) return;
    this.planCost = this.planCost * PLAN_JUDGE_DECAY + gapPlanCost(gapMs, this.plan, prices);
    this.keepCost = this.keepCost * PLAN_JUDGE_DECAY + gapKeepCost(gapMs, this.keepMs, prices);
    this.weight = this.weight * PLAN_JUDGE_DECAY + 1;
    this.plan = null;
  }

  /**
   * The plan has cost less than the keep-alive on the gaps that followed earlier plans; until
   * MIN_PLAN_JUDGE_WEIGHT gaps were judged so, `inSample` decides (the plan and the keep-alive
   * on the gaps the plan was fitted to).
   */
  favoursPlan(inSample: () => boolean): boolean {
    return this.weight >= MIN_PLAN_JUDGE_WEIGHT ? this.planCost < this.keepCost : inSample();
  }
}

class FunctionModel {
  /** What-if tallies of the keep-alive ladder (concurrency-aware). */
  readonly shadows = new KeepAliveShadows();
  /** Arrival-to-arrival gaps across which the function was fully idle. */
  readonly idleGaps = new RecentGaps();
  readonly judge = new PlanJudge();
  readonly execs = new RecentSamples();
  /** Sizes (requests) of the function's recent bursts, and the current burst's size so far. */
  readonly burstSizes = new RecentSamples();
  burstCount = 0;
  lastArrival = NaN;
  /** Arrival time of the last request before the function went fully idle (NaN while it is not). */
  idleFrom = NaN;
  /** EWMA of the time from that arrival to going idle. */
  releaseLagMs = NaN;
  /** EWMA of short (in-burst) inter-arrival gaps, ms. */
  burstGapMs = NaN;
  /** EWMA of all inter-arrival gaps, ms (the sustained arrival rate). */
  arrivalGapMs = NaN;
  /** Arrivals per ms over the last `rateWindowMs` (exponentially weighted), as of `rateAt`. */
  rate = 0;
  rateAt = NaN;
  rateWindowMs = 1_000;
  burstPeak = 0;
  /** Peak concurrency of the recent bursts (newsvendor's demand sample for burst pre-warms). */
  readonly burstPeaks = new RecentSamples();
  bursts = 0;
  /** Release-then-pre-warm plan while the function is idle. */
  plan: PrewarmPlan | null = null;
  /** The idle period (its last arrival) the current or last plan was made for. */
  planFor = NaN;
  planHoldMs = 0;
  lastForcedColdStart = NaN;
  /** Arrival times within the last execution time (from `recentHead`). */
  recentArrivals: number[] = [];
  recentHead = 0;
  /** The best plan for the current gap sample, recomputed every PLAN_REFRESH_GAPS gaps. */
  cachedPlan: IdlePlan | null = null;
  cachedPlanAt = -Infinity;
  gapsRecorded = 0;
  /** EWMA of requests arriving while a cold start from nothing runs (they queue behind it). */
  followers = 0;
  /** A cold start from nothing began at this time (NaN: none running). */
  coldFromNothingAt = NaN;
  coldFromNothingFollowers = 0;
  /** Time-decayed sum of the waits of requests that queued for a released instance, ms (see GROWTH_WINDOW_MS). */
  queuedWaitMs = 0;
  queuedWaitAt = 0;
  /** Erlang sizing of the last miss, and the rate, execution time and exchange rate it was for. */
  sized = 0;
  readonly sizedFor = new Float64Array(3);
  /** This function's cold-start-to-execution ratio was recorded for the start rate. */
  priorCounted = false;
  /** The last arrival on the function's tick, when its idle gaps are a period (NaN: none). */
  tickAt = NaN;
  /** The function's pool (for pricing its partners' pre-warms). */
  pool: PoolView | null = null;
  /** Burst starts, decayed by CORR_DECAY per start; and the functions whose burst starts followed them. */
  starts = 0;
  readonly partners = new Map<string, Partner>();
  /** A pre-warm a partner's burst start asked for (null: none), and how long its instance is held once ready. */
  corrPlan: PrewarmPlan | null = null;
  corrHoldMs = 0;
  /** The core took the correlated plan: the next unused pre-warmed instance is its (and then its id). */
  corrIssued = false;
  corrInstance = '';
}

/** A function whose burst starts have followed another's: how often (decayed) and how long after. */
class Partner {
  hits = 0;
  lagMs = NaN;
  /** The leader's start this partner was last credited for (one credit per leader start). */
  creditedFor = NaN;
  constructor(readonly model: FunctionModel, readonly key: string) {}
}

function model(pool: PoolView): FunctionModel {
  let m = pool.policyState as FunctionModel | undefined;
  if (m === undefined) {
    m = new FunctionModel();
    pool.policyState = m;
  }
  return m;
}


/**
 * The score-priced online policy (`adaptive`). Per function, online and generic:
 *
 *  - Prices: the marginal score of a slot GB-second and of a second of scheduling latency,
 *    from the score's running totals (every shard's, via the shared counters), so 30 GB AI
 *    instances are kept far more sparingly than 128 MB functions with the same pattern.
 *  - Keep-alive: a ladder of what-if shadow pools replays the function's real arrivals and
 *    releases; the window whose shadow cost (cold starts x their price + idle seconds x the
 *    memory price) is least is used. Before enough evidence: the ski-rental break-even window.
 *  - Idle plans: when the function goes idle, the plan of least expected cost over its recent
 *    idle gaps (keep, then release and pre-warm for the next request: see idle-plan.ts), used
 *    when it has beaten the keep-alive on the gaps that followed its earlier plans.
 *  - Queue model: on a miss, begin only the cold starts needed for the waiters to be served
 *    within one cold start by busy, starting and new instances, at utilisation below 1.
 *
 * Per-request work is O(ladder) (11 windows); plans, O(n^2 log n) over n <= 64 gaps, are
 * recomputed every few idle periods. Memory per function is constant but for the
 * burst-concurrency window.
 */
export interface AdaptivePolicyOptions {
  /**
   * How the exchange rate between memory and waiting is found: `counterfactual` (default) by
   * the score of counterfactual runs at a grid of rates (exchange-rate-tuner.ts); `dynamic`: the
   * score's marginal prices at the running totals; `prior`: fixed prior prices.
   */
  pricing?: 'counterfactual' | 'dynamic';
  /** Pre-warm idle functions when predictable (default true). */
  prewarm?: boolean;
  /** A pre-warm before a predicted burst brings back as many instances as its recent peaks pay for (default true). */
  burstPrewarm?: boolean;
  /** Hold back cold starts when busy/starting instances will serve waiters sooner (default true). */
  queueModel?: boolean;
  /** New functions start from the keep-alive young functions of this workload did best with (default true). */
  populationPrior?: boolean;
  /** A fixed exchange rate, GB-s of slot time per second of waiting (0: from the score). */
  exchangeRate?: number;
  /** Add an instance when queueing for released instances costs more than its memory (default true). */
  growth?: boolean;
  /** The queue model counts the arrivals the recent rate predicts, not only the waiters (default true). */
  streamAware?: boolean;
  /** The tuner judges a rate by the whole run's score with the rate's recent past in place of the live one's (default true; off: by the recent past's own score). */
  wholeRunJudge?: boolean;
  /** The tuner's grid reaches rates that keep nearly everything (WIDE_EXCHANGE_RATE_GRID; default true). */
  wideGrid?: boolean;
  /** The tuner judges first as soon as a few hundred requests were fed, not after a warm-up minute (default true). */
  earlyJudge?: boolean;
  /**
   * Until the tuner's first judgement, a function that comes back faster than its cold starts
   * end (PRIOR_BUSY_ARRIVALS) is priced at the start rate times the square of the functions'
   * median cold-start-to-execution ratio: where a cold start costs several executions, the
   * first seconds of a busy start keep more (default true).
   */
  coldPrior?: boolean;
  /** A function's burst start pre-warms the functions whose burst starts have followed it (default true). */
  correlated?: boolean;
  /** A strictly periodic function's plans count from its last tick, not from an extra request off the tick (default true). */
  exactTimer?: boolean;
}

/** The default policy (each switch flipped is an ablation, measured in the README and docs/policy-ds1.md). */
export const ADAPTIVE_DEFAULTS: Readonly<Required<AdaptivePolicyOptions>> = {
  pricing: 'counterfactual',
  prewarm: true,
  burstPrewarm: true,
  queueModel: true,
  populationPrior: true,
  exchangeRate: 0,
  growth: true,
  streamAware: true,
  wholeRunJudge: true,
  wideGrid: true,
  earlyJudge: true,
  coldPrior: true,
  correlated: true,
  exactTimer: true,
};

export class AdaptivePolicy implements ScalingPolicy {
  readonly name = 'adaptive';
  private env: PolicyEnv | undefined;
  private readonly opts: Required<AdaptivePolicyOptions>;
  /** Shadow tallies of young functions, pooled: the keep-alive prior for new functions. */
  private readonly population = new PopulationTallies();
  private tuner: RateTuner | undefined = undefined;
  private rate = INITIAL_EXCHANGE_RATE;
  /** What the counterfactual runs' platform takes its latencies from: the live pools' measurements. */
  private readonly statsByKey = new Map<string, FunctionStats>();
  private createMs = DEFAULT_CREATE_MS;
  /** Cold start over execution time of the functions seen (one sample each, at their first Idle after a measured init). */
  private readonly coldRatios = new RecentSamples();
  /** Recent burst starts of all functions (oldest first), for correlated pre-warms. */
  private readonly recentStarts: { m: FunctionModel; key: string; at: number }[] = [];
  private priorRate = INITIAL_EXCHANGE_RATE;

  /**
   * `tuner`: what chooses the exchange rate under `pricing: 'counterfactual'` (default: the
   * counterfactual runs in this thread, {@link inThreadRateTuner}; a shard worker runs them on a
   * thread of their own).
   */
  constructor(opts: AdaptivePolicyOptions = {}, private readonly tunerFactory: RateTunerFactory<Required<AdaptivePolicyOptions>> = inThreadRateTuner) {
    this.opts = { ...ADAPTIVE_DEFAULTS, ...opts };
  }

  bind(env: PolicyEnv): void {
    this.env = env;
    if (this.opts.exchangeRate > 0 || this.opts.pricing !== 'counterfactual') return;
    const stats = this.statsByKey;
    const latencies: ReplayLatencies = {
      createMs: () => this.createMs,
      initMs: (meta) => stats.get(meta.key)?.initMs ?? DEFAULT_INIT_MS,
    };
    this.tuner = this.tunerFactory({ policyOptions: this.opts, latencies, rpcOverheadMs: env.rpcOverheadMs, defer: (fn) => env.defer(fn) });
  }

  /** The tuned exchange rate (undefined when fixed or priced otherwise). */
  get tunedRate(): number | undefined {
    return this.tuner?.rate;
  }

  /** How many times the tuner has chosen the rate so far (undefined when fixed or priced otherwise). */
  get tunerChoices(): number | undefined {
    return this.tuner?.choices;
  }

  /** GB-ms of slot time a millisecond of waiting is worth (the score's exchange rate). */
  private latencyGB(pool: PoolView, m: FunctionModel, now: number): number {
    if (this.opts.exchangeRate > 0) return this.opts.exchangeRate;
    if (this.tuner !== undefined) {
      // Before the first judgement, a function busy at the scale of its cold start (a request
      // arrives while one would run) is priced with the start rate scaled by the cold-start prior.
      if (this.opts.coldPrior && this.tuner.choices === 0 && this.busyStart(pool, m, now)) return this.priorRate;
      return this.rate;
    }
    if (this.env === undefined) return INITIAL_EXCHANGE_RATE;
    const p = this.env.prices(DEFAULT_MIN_RESOURCE_RATIO);
    return p.perGBs > 0 ? p.perLatencySec / p.perGBs : Infinity;
  }

  /**
   * The function comes back faster than its cold starts end: at least PRIOR_BUSY_ARRIVALS
   * requests per cold start over its recent rate window (several cold starts long), so a cold
   * start costs the requests behind it too.
   */
  private busyStart(pool: PoolView, m: FunctionModel, now: number): boolean {
    return arrivalRate(m, now) * pool.stats.coldStartMs >= PRIOR_BUSY_ARRIVALS;
  }

  private idlePrices(pool: PoolView, m: FunctionModel, now: number): IdlePrices {
    return {
      coldMs: pool.stats.coldStartMs,
      latencyGB: this.latencyGB(pool, m, now),
      memGB: pool.memoryMb / 1024,
      waitWeight: 1 + m.followers / 2,
      releaseLagMs: m.releaseLagMs === m.releaseLagMs ? m.releaseLagMs : pool.stats.execMs,
    };
  }

  onArrival(pool: PoolView, now: number, arrival?: number): void {
    if (this.tuner !== undefined && arrival !== undefined) {
      if (!this.statsByKey.has(pool.key)) this.statsByKey.set(pool.key, pool.stats);
      this.createMs = pool.stats.createMs;
      this.rate = this.tuner.arrive(pool.meta, arrival, now);
    }
    const m = model(pool);
    // A young function's outcomes also teach the population prior for the next new function.
    m.shadows.arrive(now, this.opts.populationPrior && m.shadows.weight < MIN_SHADOW_WEIGHT ? this.population : null);
    if (this.opts.exactTimer) {
      // On the tick (a period after the last tick), or the first or a late one: the new tick.
      // An arrival inside the period, off the tick, leaves it.
      const period = timerPeriod(m, pool.stats.coldStartMs);
      if (!(now - m.tickAt < period - timerTolerance(period, pool.stats.coldStartMs))) m.tickAt = now;
    }
    if (m.idleFrom === m.idleFrom) {
      const gapMs = now - m.idleFrom;
      m.idleGaps.record(gapMs);
      m.gapsRecorded++;
      m.judge.settle(gapMs, this.idlePrices(pool, m, now));
      m.idleFrom = NaN;
    }
    // Requests that arrive while a cold start from nothing runs wait behind it.
    if (m.coldFromNothingAt === m.coldFromNothingAt) {
      if (now - m.coldFromNothingAt <= pool.stats.coldStartMs && pool.idleCount === 0) m.coldFromNothingFollowers++;
      else {
        m.followers += FOLLOWERS_ALPHA * (m.coldFromNothingFollowers - m.followers);
        m.coldFromNothingAt = NaN;
      }
    }
    if (m.coldFromNothingAt !== m.coldFromNothingAt && pool.idleCount === 0 && pool.busyCount === 0 && pool.startingCount === 0) {
      m.coldFromNothingAt = now;
      m.coldFromNothingFollowers = 0;
    }
    m.plan = null;
    m.corrPlan = null;
    m.pool = pool;
    const gap = now - m.lastArrival;
    m.lastArrival = now;
    const burstGap = burstGapMs(m);
    // The stream's rate over a few executions or cold starts, whichever is longer: the time
    // over which an instance, once begun, is worth what it serves.
    m.rateWindowMs = RATE_WINDOW_FACTOR * Math.max(pool.stats.execSamples > 0 ? pool.stats.execMs : 0, pool.stats.coldStartMs);
    m.rate = arrivalRate(m, now) + 1 / m.rateWindowMs;
    m.rateAt = now;
    if (gap === gap) m.arrivalGapMs = m.arrivalGapMs === m.arrivalGapMs ? m.arrivalGapMs + ARRIVAL_GAP_ALPHA * (gap - m.arrivalGapMs) : gap;
    if (gap < TYPICAL_GAP_CAP_MS) m.burstGapMs = Number.isNaN(m.burstGapMs) ? gap : m.burstGapMs + ARRIVAL_GAP_ALPHA * (gap - m.burstGapMs);
    if (!(gap <= burstGap) && pool.busyCount === 0 && pool.startingCount === 0) {
      if (m.bursts > 0) {
        m.burstSizes.record(m.burstCount);
        m.burstPeaks.record(m.burstPeak);
      }
      m.bursts++;
      m.burstPeak = 0;
      m.burstCount = 0;
      if (this.opts.correlated) this.burstStarted(pool, m, now);
    }
    m.burstCount++;
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

  onExecDone(pool: PoolView, durationMs: number, now: number, broken?: boolean, arrival?: number): void {
    const m = model(pool);
    if (durationMs > 0) m.execs.record(durationMs);
    if (!m.priorCounted && durationMs > 0 && pool.stats.initSamples > 0 && this.tuner !== undefined && this.tuner.choices === 0) {
      m.priorCounted = true;
      this.coldRatios.record(pool.stats.coldStartMs / durationMs);
      this.priorRate = coldPriorRate(this.coldRatios.quantile(0.5));
    }
    if (this.tuner !== undefined && arrival !== undefined) this.tuner.finish(arrival, durationMs, broken === true, now);
    if (broken !== true) m.shadows.release(now);
    if (pool.busyCount === 0 && pool.waitingCount === 0 && m.lastArrival === m.lastArrival) {
      m.idleFrom = m.lastArrival;
      const lag = now - m.lastArrival;
      m.releaseLagMs = m.releaseLagMs === m.releaseLagMs ? m.releaseLagMs + RELEASE_LAG_ALPHA * (lag - m.releaseLagMs) : lag;
    }
  }

  onWaitServed(pool: PoolView, inst: InstanceView, waitedMs: number, now: number): void {
    if (inst.uses === 0) return;
    const m = model(pool);
    m.queuedWaitMs = decayedWait(m, now) + waitedMs;
    m.queuedWaitAt = now;
  }

  onIdleDestroyed(pool: PoolView, inst: InstanceView, _now: number): void {
    // The predicted request did not come: do not keep pre-warming on a stale plan (a partner's
    // pre-warm that went unused says nothing about the function's own plan).
    const m = model(pool);
    if (inst.id === m.corrInstance) m.corrInstance = '';
    else if (inst.prewarmed && inst.uses === 0) m.plan = null;
  }

  /**
   * Correlated functions (SPES): a burst start of `pool` credits the functions whose burst
   * started shortly before (within CORR_HORIZON_FACTOR of its cold start), and pre-warms the
   * functions whose burst starts have followed its own, when the chance that one follows pays
   * for the instance: P x (wait saved) x rate > (1 - P) x (cold start + hold) x memory.
   */
  private burstStarted(pool: PoolView, m: FunctionModel, now: number): void {
    const starts = this.recentStarts;
    const horizon = CORR_HORIZON_FACTOR * pool.stats.coldStartMs;
    let drop = 0;
    while (drop < starts.length && now - starts[drop]!.at > CORR_MAX_HORIZON_MS) drop++;
    if (drop > 0) starts.splice(0, drop);
    for (const s of starts) {
      if (s.m === m || now - s.at > horizon) continue;
      let p = s.m.partners.get(pool.key);
      if (p === undefined) {
        if (s.m.partners.size >= CORR_MAX_PARTNERS) continue;
        p = new Partner(m, pool.key);
        s.m.partners.set(pool.key, p);
      }
      if (p.creditedFor === s.at) continue;
      p.creditedFor = s.at;
      p.hits += 1;
      const lag = now - s.at;
      p.lagMs = p.lagMs === p.lagMs ? p.lagMs + CORR_LAG_ALPHA * (lag - p.lagMs) : lag;
    }
    starts.push({ m, key: pool.key, at: now });
    if (starts.length > CORR_MAX_STARTS) starts.shift();
    // This start as a leader: its partners' credits decay with its starts.
    m.starts = m.starts * CORR_DECAY + 1;
    for (const p of m.partners.values()) {
      p.hits *= CORR_DECAY;
      if (m.starts < CORR_MIN_STARTS) continue;
      const b = p.model;
      const bp = b.pool;
      // A function with instances, or with a pre-warm of its own due before it is expected, is left alone.
      if (bp === null || bp.busyCount + bp.idleCount + bp.startingCount > 0 || (b.plan !== null && b.plan.atMs <= now + p.lagMs)) continue;
      // Shrunk towards 0 by CORR_PRIOR_STARTS: a few coincidences of independent functions are not a partnership.
      const chance = Math.min(1, p.hits / (m.starts + CORR_PRIOR_STARTS));
      const cold = bp.stats.coldStartMs;
      // Only a partner that follows after a whole cold start can be served by the pre-warm
      // alone; one that follows sooner waits for it anyway, which the queue model already prices.
      if (!(p.lagMs >= cold)) continue;
      const hold = Math.max(cold, CORR_HOLD_FACTOR * p.lagMs);
      const prices = this.idlePrices(bp, b, now);
      const saved = cold * prices.latencyGB * prices.waitWeight;
      const cost = (cold + hold) * prices.memGB;
      if (chance * saved <= (1 - chance) * cost) continue;
      b.corrPlan = { atMs: Math.max(now, now + p.lagMs - cold - prewarmMarginMs(cold)), count: 1 };
      b.corrHoldMs = hold;
      this.env?.replan?.(p.key);
    }
  }

  keepAliveMs(pool: PoolView, inst: InstanceView, now: number): number {
    const m = model(pool);
    if (inst.prewarmed && inst.uses === 0 && m.corrIssued) {
      m.corrIssued = false;
      m.corrInstance = inst.id;
      return m.corrHoldMs;
    }
    if (inst.prewarmed && inst.uses === 0 && m.planHoldMs > 0) return m.planHoldMs;
    const prices = this.idlePrices(pool, m, now);
    const memRate = prices.memGB * 1000;
    if (!(memRate > 0)) return MAX_KEEP_MS;
    // Shadows count the requests behind a cold start as misses of their own: no follower weight here.
    const miss = missCost({ ...prices, waitWeight: 1 });
    // The function's own shadows once they have seen enough; before that, what young functions
    // of this workload did best with; before that, ski rental: keep until idling cost a cold start.
    let keepMs: number;
    if (m.shadows.weight >= MIN_SHADOW_WEIGHT) keepMs = m.shadows.bestWindowMs(now, miss, memRate);
    else if (this.opts.populationPrior && this.population.weight >= MIN_POPULATION_WEIGHT) keepMs = this.population.bestWindowMs(miss, memRate);
    else keepMs = (miss / memRate) * 1000;
    keepMs = clamp(keepMs);
    const alone = pool.busyCount === 0 && pool.idleCount <= 1 && pool.startingCount === 0 && m.idleFrom === m.idleFrom;
    if (alone && this.opts.prewarm && m.idleGaps.size >= MIN_PREWARM_GAPS) {
      if (m.cachedPlan === null || m.gapsRecorded - m.cachedPlanAt >= PLAN_REFRESH_GAPS) {
        m.cachedPlan = bestIdlePlan(m.idleGaps.sorted(), prices);
        m.cachedPlanAt = m.gapsRecorded;
      }
      const plan = m.cachedPlan;
      // Plans count from the last arrival (a timer's, from its last tick: an extra request off
      // the tick does not move the next one); the instance went idle `since` after it.
      const from = this.opts.exactTimer && m.tickAt < m.idleFrom && timerPeriod(m, pool.stats.coldStartMs) === timerPeriod(m, pool.stats.coldStartMs) ? m.tickAt : m.idleFrom;
      const since = now - from;
      if (plan !== null && plan.prewarmAtMs !== Infinity && plan.prewarmAtMs >= since) {
        m.judge.plan = plan;
        m.judge.keepMs = since + keepMs;
        if (m.judge.favoursPlan(() => plan.cost < keepCost(m.idleGaps.sorted(), since + keepMs, prices))) {
          this.adoptPlan(pool, m, from, plan, prices);
          return Math.max(0, plan.keepMs - since);
        }
      }
    }
    return keepMs;
  }

  /** Release-then-pre-warm: the plan's instance starts `prewarmAtMs` after the last arrival, held until `holdMs`. */
  private adoptPlan(pool: PoolView, m: FunctionModel, from: number, plan: IdlePlan, prices: IdlePrices): void {
    const coldMs = pool.stats.coldStartMs;
    m.corrIssued = false;
    m.planFor = from;
    m.planHoldMs = clamp(plan.holdMs - plan.prewarmAtMs - coldMs);
    m.plan = { atMs: from + plan.prewarmAtMs, count: this.opts.burstPrewarm ? this.burstPrewarmCount(m, plan, prices) : 1 };
  }

  /**
   * How many instances a pre-warm brings back for the next burst: newsvendor's stock. The k-th
   * instance costs its cold start and hold as slot time (`over`) unless used, and is used when
   * the burst comes within the plan's window (`hit`: the share of the idle gaps the plan catches)
   * and needs k or more; then it saves a cold start's wait (`under`). It pays while
   * P(peak >= k) > over / (hit (under + over)): the recent peaks' quantile at one minus that.
   * Bursts that vary or come off plan, or instances that are dear, get fewer than the typical
   * peak; identical bursts on time get all of it.
   */
  private burstPrewarmCount(m: FunctionModel, plan: IdlePlan, prices: IdlePrices): number {
    if (m.burstPeaks.size < 2) return 1;
    const under = prices.coldMs * prices.latencyGB;
    const over = (prices.coldMs + m.planHoldMs) * prices.memGB;
    const gaps = m.idleGaps.sorted();
    let caught = 0;
    for (const g of gaps) if (g >= plan.prewarmAtMs && g <= plan.holdMs) caught++;
    const hit = gaps.length > 0 ? caught / gaps.length : 0;
    if (!(under > 0) || !(hit > 0)) return 1;
    const level = 1 - over / (hit * (under + over));
    return level <= 0 ? 1 : Math.max(1, Math.round(m.burstPeaks.quantile(level)));
  }

  prewarmPlan(pool: PoolView, now: number): PrewarmPlan | null {
    const m = model(pool);
    if (m.corrPlan !== null) {
      // The function's own plan, when due first, knows its timing better; a correlated plan
      // whose time has passed is spent.
      if ((m.plan === null || m.plan.atMs > m.corrPlan.atMs) && now <= m.corrPlan.atMs && pool.busyCount === 0 && pool.idleCount === 0 && pool.startingCount === 0 && pool.waitingCount === 0) {
        m.corrIssued = true;
        return m.corrPlan;
      }
      // (Its instance, if one is starting, keeps `corrIssued` until it is ready.)
      m.corrPlan = null;
    }
    if (m.plan !== null && pool.busyCount === 0 && pool.waitingCount === 0) return m.plan;
    const empty = pool.busyCount === 0 && pool.idleCount === 0 && pool.startingCount === 0 && pool.waitingCount === 0;
    if (empty && this.opts.prewarm && m.idleFrom === m.idleFrom && m.planFor !== m.idleFrom && m.idleGaps.size >= MIN_PREWARM_GAPS) {
      // The last instance just expired (a burst's capacity, say): plan its return once per idle
      // period, on the gaps longer than the time already idle (the keep is spent).
      m.planFor = m.idleFrom;
      const elapsed = now - m.idleFrom;
      const all = m.idleGaps.sorted();
      let from = 0;
      while (from < all.length && all[from]! <= elapsed) from++;
      const prices = this.idlePrices(pool, m, now);
      const plan = bestIdlePlan(all.subarray(from), prices, elapsed);
      if (plan !== null && plan.prewarmAtMs !== Infinity && plan.prewarmAtMs >= elapsed) {
        this.adoptPlan(pool, m, m.idleFrom, plan, prices);
        return m.plan;
      }
    }
    return null;
  }

  /**
   * Wait or cold-start (queue-plan.ts): the waiters take turns on the busy instances (each
   * expected to be free after its execution's expected remaining time) and the starting ones;
   * a cold start begins for each waiter whose turn would come late enough that the wait it saves
   * is worth the new instance's initialising slot time. Also one more instance when queueing
   * for released instances has lately cost more than an instance's memory (the growth rule),
   * and when the oldest waiter already waited a whole cold start (estimates were wrong).
   */
  coldStartsOnMiss(pool: PoolView, now: number, deficit: number): number {
    const st = pool.stats;
    const exec = st.execMs;
    if (!this.opts.queueModel || st.execSamples < MIN_EXEC_SAMPLES || !(exec > 0)) return deficit;
    const cold = st.coldStartMs;
    const m = model(pool);
    const latencyGB = this.latencyGB(pool, m, now);
    const memGB = pool.memoryMb / 1024;
    // The oldest busy instances (up to MAX_QUEUE_SERVERS: those most likely to free first) and
    // the starting ones, each with when it is expected to be free.
    const busy = pool.busyStarts(busyScratch);
    let servers = 0;
    for (let i = 0; i < busy; i++) freeScratch[servers++] = m.execs.remaining(now - busyScratch[i]!, exec);
    for (let i = 0; i < pool.startingCount && servers < freeScratch.length; i++) freeScratch[servers++] = cold / 2;
    const capacity = pool.busyCount + pool.startingCount;
    // The waiters, and the stream behind them: the rest of the current burst (its expected size
    // given its size so far, from the function's recent bursts) at the in-burst arrival rate.
    // A stream with no burst ended yet is a sustained one: Erlang sizing below covers it.
    const remaining = m.burstSizes.size > 0 ? m.burstSizes.remaining(m.burstCount, 0) : 0;
    const gap = m.burstGapMs;
    // (A queue longer than the plan simulates is the drain rule's below.)
    let n = pool.waitingCount > MAX_SIMULATED_WAITERS / 2 ? 0 : coldStartsWorthIt({
      freeInMs: freeScratch,
      servers,
      waiting: pool.waitingCount,
      execMs: exec,
      coldMs: cold,
      latencyGB,
      memGB,
      expected: this.opts.streamAware && gap > 0 ? Math.min(MAX_SIMULATED_WAITERS, Math.round(remaining)) : 0,
      gapMs: gap > 0 ? gap : 1,
    });
    // A sustained stream needs the instances it keeps busy, and the spare ones its waiting is
    // worth (Erlang C at the stream's rate over several executions and cold starts), whatever
    // the horizon above can see.
    const rate = arrivalRate(m, now);
    if (rate > 0) {
      // O(rate x exec) to size: reused while its inputs moved less than SIZING_TOLERANCE.
      if (!(near(rate, m.sizedFor[0]!) && near(exec, m.sizedFor[1]!) && near(latencyGB, m.sizedFor[2]!))) {
        m.sized = sizedCapacity(rate, exec, memGB, latencyGB);
        m.sizedFor[0] = rate;
        m.sizedFor[1] = exec;
        m.sizedFor[2] = latencyGB;
      }
      const sized = m.sized - capacity;
      if (sized > n) n = sized;
    }
    // A queue longer than the plan looks at must still drain before a new instance would
    // surely have been worth it (a cold start, plus its slot time's worth of waiting).
    const worthAfterMs = cold * (1 + memGB / latencyGB);
    const drain = Math.ceil((pool.waitingCount * exec) / worthAfterMs) - capacity;
    if (drain > n) n = drain;
    if (n > deficit) n = deficit;
    // The stream, not the waiter: when requests keep queueing for released instances, one more
    // instance takes that waiting away for as long as it lives, for its memory over that time.
    if (n < 1 && this.opts.growth && (decayedWait(m, now) / GROWTH_WINDOW_MS) * latencyGB > memGB && !(now - m.lastForcedColdStart < cold)) {
      m.lastForcedColdStart = now;
      n = 1;
    }
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

/** Scratch for the queue model (one thread, one decision at a time). */
/** Busy instances the queue model looks at, oldest first (the ones most likely to free first). */
export const MAX_QUEUE_SERVERS = 16;
const busyScratch = new Float64Array(MAX_QUEUE_SERVERS);
const freeScratch = new Float64Array(2 * MAX_QUEUE_SERVERS);

/** Inputs of capacity sizing this close (relative) reuse the last answer. */
export const SIZING_TOLERANCE = 0.05;

function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= SIZING_TOLERANCE * b;
}

/** The function's recent arrival rate, per ms, decayed to `now`. */
function arrivalRate(m: FunctionModel, now: number): number {
  return m.rateAt === m.rateAt ? m.rate * Math.exp(-(now - m.rateAt) / m.rateWindowMs) : 0;
}

function decayedWait(m: FunctionModel, now: number): number {
  return m.queuedWaitMs * Math.exp(-(now - m.queuedWaitAt) / GROWTH_WINDOW_MS);
}

/**
 * A function is in a busy start (the cold-start prior prices it) while at least this many of its
 * requests arrive per cold start: its next request comes before two cold starts would be over.
 */
export const PRIOR_BUSY_ARRIVALS = 0.5;

/**
 * A function is a timer when the middle TIMER_CORE of its idle gaps lie within the tolerance of
 * their median (the rest may be extras off the tick, and the gaps they split); at least this
 * many gaps first.
 */
export const TIMER_CORE = 0.75;
export const MIN_TIMER_GAPS = 8;
/** A tick is on time within this fraction of the period, and never less than a pre-warm's margin. */
export const TIMER_TOLERANCE = 0.01;

function timerTolerance(period: number, coldMs: number): number {
  return Math.max(TIMER_TOLERANCE * period, prewarmMarginMs(coldMs));
}

/** The function's period if its idle gaps are a timer's, else NaN. */
function timerPeriod(m: FunctionModel, coldMs: number): number {
  const n = m.idleGaps.size;
  if (n < MIN_TIMER_GAPS) return NaN;
  const g = m.idleGaps.sorted();
  const period = g[n >> 1]!;
  const tol = timerTolerance(period, coldMs);
  const cut = Math.floor((n * (1 - TIMER_CORE)) / 2);
  return g[cut]! >= period - tol && g[n - 1 - cut]! <= period + tol ? period : NaN;
}

/** Correlated pre-warms: a burst start follows another's if within this many of its cold starts. */
export const CORR_HORIZON_FACTOR = 4;
/** Burst starts are remembered this long at most, and this many. */
export const CORR_MAX_HORIZON_MS = 60_000;
export const CORR_MAX_STARTS = 64;
/** Partners per leader. */
export const CORR_MAX_PARTNERS = 8;
/** Forgetting per leader start, and the starts a leader needs before it pre-warms. */
export const CORR_DECAY = 0.95;
export const CORR_MIN_STARTS = 3;
export const CORR_PRIOR_STARTS = 4;
export const CORR_LAG_ALPHA = 0.2;
/** A correlated pre-warm is held this many typical lags (at least a cold start). */
export const CORR_HOLD_FACTOR = 2;

/** A gap longer than this starts a new burst of the function. */
function burstGapMs(m: FunctionModel): number {
  return Math.max(MIN_BURST_GAP_MS, BURST_GAP_FACTOR * (Number.isNaN(m.burstGapMs) ? 0 : m.burstGapMs));
}

/** The start rate given the median cold-start-to-execution ratio (at least INITIAL_EXCHANGE_RATE, at most the grid's top). */
export function coldPriorRate(ratio: number): number {
  const r = INITIAL_EXCHANGE_RATE * Math.max(1, ratio) ** 2;
  return Math.min(r, WIDE_EXCHANGE_RATE_GRID[WIDE_EXCHANGE_RATE_GRID.length - 1]!);
}

function clamp(ms: number): number {
  if (!(ms > MIN_KEEP_MS)) return MIN_KEEP_MS;
  return ms > MAX_KEEP_MS ? MAX_KEEP_MS : ms;
}

/** The exchange-rate tuner in the policy's own thread: its counterfactual runs are this policy at the grid's rates. */
export function inThreadRateTuner(setup: RateTunerSetup<Required<AdaptivePolicyOptions>>): RateTuner {
  const { policyOptions, latencies, rpcOverheadMs } = setup;
  return new ExchangeRateTuner({
    runFor: (rate, startMs) => new CounterfactualRun(startMs, new AdaptivePolicy({ ...policyOptions, exchangeRate: rate }), latencies, rpcOverheadMs),
    defer: setup.defer,
    rates: policyOptions.wideGrid ? WIDE_EXCHANGE_RATE_GRID : EXCHANGE_RATE_GRID,
    judge: policyOptions.wholeRunJudge ? 'run' : 'window',
    earlyJudge: policyOptions.earlyJudge,
  });
}
