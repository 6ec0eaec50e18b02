/**
 * The exchange rate between slot memory and waiting that a policy's decisions use (GB-s of slot
 * time per second of scheduling latency), chosen by the score it reaches.
 *
 * The score's marginal prices at the running totals (dScore/dS = 50 E/S^2, dScore/dD =
 * 50 T/(T+D)^2) can lock a run into a poor operating point: when latency is poor its price
 * falls, the policy destroys more, and latency gets poorer still (and likewise for memory).
 * Instead, the policy also runs, beside the live core, a counterfactual core per rate of a fixed
 * grid a factor ~3 apart (counterfactual-run.ts), each fed the same requests, and moves the live
 * rate towards the one whose run has scored best over the recent past, both halves at once, with
 * every mechanism of the policy in play (between grid points, where the scores' parabola in log
 * rate peaks; at most a factor TUNER_MAX_STEP per snapshot unless a run leads decisively). The
 * runs never see the live rate, so there is no loop to lock into. (Runs that move with the
 * choice were tried: a fresh run beside warm ones loses its first minutes to functions it has
 * never seen, so the comparison is of ages, not of rates.)
 *
 * A request is fed to the runs once its execution time is known (at its live Idle), in arrival
 * order, a lag behind the live clock longer than the requests' recent time in the system, so
 * that every run starts it, and releases it, exactly when its own decisions say (a run that
 * serves from a warm instance what the live core cold-started must not hold that instance for
 * the live wait). Feeding happens in batches off the request's path. Work is bounded: the runs
 * are fed the functions, in the order first seen, whose requests fit in TUNER_MAX_FED_RATE.
 */
import type { CounterfactualRun } from './counterfactual-run.js';
import type { FunctionMetaRef } from '../../platform.js';
import { RecentSamples } from './recent-samples.js';
import type { ScoreTotals } from '../../score-prices.js';

/** The rates of the counterfactual runs (GB-s per second of waiting), about a factor 3 apart. */
export const EXCHANGE_RATE_GRID: readonly number[] = [0.1, 0.3, 1, 3, 10];
/** The rate used before the runs have a past to judge by. */
export const INITIAL_EXCHANGE_RATE = 0.3;
/** The live rate moves at most this factor per snapshot towards where the runs peak... */
export const TUNER_MAX_STEP = 1.5;
/**
 * ...unless the best run leads the run nearest the live rate by at least TUNER_DECISIVE_MARGIN
 * points, or by TUNER_DECISIVE_RATIO times its score where scores are low: a lead that wide is
 * not noise but a live rate far off, and each snapshot spent creeping towards the peak costs the
 * live run that lead. (A 1 s-init load of 1 ms executions that cold-starts every request scores
 * near 0 at every rate it does not keep at, 0.09 against 0.65: the lead is in the ratio.)
 */
export const TUNER_DECISIVE_MARGIN = 5;
export const TUNER_DECISIVE_RATIO = 1.5;
/**
 * Runs are judged on their score over the recent past: each snapshot interval's totals, summed
 * with weights that halve every TUNER_HALF_LIFE_REQUESTS requests, or every TUNER_HALF_LIFE_MS
 * of time if that comes first. Counting in requests keeps a quiet hour from erasing the burst
 * before it (the score is a ratio over the whole run: both count), while a new workload with
 * traffic of its own takes over within minutes.
 */
export const TUNER_HALF_LIFE_REQUESTS = 20_000;
export const TUNER_HALF_LIFE_MS = 2 * 3_600_000;
export const TUNER_SNAPSHOT_MS = 30_000;
/** Requests (decayed) the recent past needs before its scores choose the rate. */
export const TUNER_MIN_REQUESTS = 200;
/**
 * The first minute of the runs is not judged: every function is new to every run then, and a
 * rate's keep-alives of that time have not yet been charged for what they keep.
 */
export const TUNER_WARMUP_MS = 60_000;
/** With early judging: requests fed before the first judgement (a few times TUNER_MIN_REQUESTS: the runs' first cold starts are behind them). */
export const TUNER_EARLY_REQUESTS = 2 * TUNER_MIN_REQUESTS;
/** Counterfactual work bound: requests per second fed to the runs (whole functions, see `select`). */
export const TUNER_MAX_FED_RATE = 100;

/** Arrivals remembered by serial until their Idle (a power of two; far more than are ever in flight). */
const ARRIVAL_TABLE_MASK = (1 << 20) - 1;
/**
 * Feeding lags the live clock by this much plus a high quantile of the requests' recent times in
 * the system (capped): the rare longer one is fed late, at the runs' present.
 */
export const TUNER_LAG_MS = 5_000;
export const TUNER_LAG_QUANTILE = 0.9;
export const TUNER_MAX_LAG_MS = 10 * 60_000;

export interface ExchangeRateTunerOptions {
  /** A counterfactual run at `rate`, starting at `startMs`. */
  readonly runFor: (rate: number, startMs: number) => CounterfactualRun;
  /** Runs `fn` soon, after the current request is handled (the policy's `PolicyEnv.defer`). */
  readonly defer: (fn: () => void) => void;
  /** The runs' rates, ascending (default EXCHANGE_RATE_GRID). */
  readonly rates?: readonly number[];
  /**
   * How a run is judged: `run` (default), by the score the whole run would reach with the
   * run's recent past in place of the live one's; `window`, by the recent past's own score.
   */
  readonly judge?: 'run' | 'window';
  /** The rate used before the first judgement (default INITIAL_EXCHANGE_RATE). */
  readonly initialRate?: number;
  /** Judge first once TUNER_EARLY_REQUESTS were fed, not after the warm-up minute; moves within it are at most TUNER_MAX_STEP (default false). */
  readonly earlyJudge?: boolean;
}

/** Decayed sums of one run's totals. */
class DecayedTotals {
  execGBs = 0;
  slotGBs = 0;
  execSecs = 0;
  scheduleSecs = 0;

  add(t: ScoreTotals, base: ScoreTotals, keep: number): void {
    this.execGBs = this.execGBs * keep + (t.execGBs - base.execGBs);
    this.slotGBs = this.slotGBs * keep + (t.slotGBs - base.slotGBs);
    this.execSecs = this.execSecs * keep + (t.execSecs - base.execSecs);
    this.scheduleSecs = this.scheduleSecs * keep + (t.scheduleSecs - base.scheduleSecs);
  }

  score(): number {
    return scoreOf(this.execGBs, this.slotGBs, this.execSecs, this.scheduleSecs);
  }

  /** The score of `whole` (a whole run's totals) with `replaced` (a decayed past of it) taken out and these sums put in. */
  scoreIn(whole: ScoreTotals, replaced: DecayedTotals): number {
    return scoreOf(
      whole.execGBs - replaced.execGBs + this.execGBs,
      whole.slotGBs - replaced.slotGBs + this.slotGBs,
      whole.execSecs - replaced.execSecs + this.execSecs,
      whole.scheduleSecs - replaced.scheduleSecs + this.scheduleSecs,
    );
  }
}

function scoreOf(execGBs: number, slotGBs: number, execSecs: number, scheduleSecs: number): number {
  const d = execSecs + scheduleSecs;
  return (slotGBs > 0 ? (50 * execGBs) / slotGBs : 0) + (d > 0 ? (50 * execSecs) / d : 0);
}

/** Running sums of the live path: in each interval, the totals of the run nearest the live rate. */
class PathTotals implements ScoreTotals {
  execGBs = 0;
  slotGBs = 0;
  execSecs = 0;
  scheduleSecs = 0;

  add(t: ScoreTotals, base: ScoreTotals | null): void {
    this.execGBs += t.execGBs - (base?.execGBs ?? 0);
    this.slotGBs += t.slotGBs - (base?.slotGBs ?? 0);
    this.execSecs += t.execSecs - (base?.execSecs ?? 0);
    this.scheduleSecs += t.scheduleSecs - (base?.scheduleSecs ?? 0);
  }
}

/** Requests waiting to be fed: a binary heap on arrival time over parallel typed arrays. */
class ArrivalHeap {
  arrival: Float64Array = new Float64Array(256);
  duration: Float64Array = new Float64Array(256);
  fn: Int32Array = new Int32Array(256);
  broken: Uint8Array = new Uint8Array(256);
  private heap: Int32Array = new Int32Array(256);
  private readonly freeSlots: number[] = [];
  private used = 0;
  size = 0;

  push(arrival: number, duration: number, fn: number, broken: boolean): void {
    let s = this.freeSlots.pop();
    if (s === undefined) {
      if (this.used === this.arrival.length) this.grow();
      s = this.used++;
    }
    this.arrival[s] = arrival;
    this.duration[s] = duration;
    this.fn[s] = fn;
    this.broken[s] = broken ? 1 : 0;
    const heap = this.heap;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.arrival[heap[p]!]! <= arrival) break;
      heap[i] = heap[p]!;
      i = p;
    }
    heap[i] = s;
  }

  /** The earliest arrival waiting (Infinity when none). */
  peekArrival(): number {
    return this.size === 0 ? Infinity : this.arrival[this.heap[0]!]!;
  }

  /** Removes the earliest; its slot stays readable until the next push. */
  pop(): number {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap[--this.size]!;
    const a = this.arrival[last]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const r = l + 1;
      const c = r < this.size && this.arrival[heap[r]!]! < this.arrival[heap[l]!]! ? r : l;
      if (this.arrival[heap[c]!]! >= a) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
    this.freeSlots.push(top);
    return top;
  }

  private grow(): void {
    const n = this.arrival.length * 2;
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.arrival = f64(this.arrival);
    this.duration = f64(this.duration);
    const fn = new Int32Array(n);
    fn.set(this.fn);
    this.fn = fn;
    const br = new Uint8Array(n);
    br.set(this.broken);
    this.broken = br;
    const heap = new Int32Array(n);
    heap.set(this.heap);
    this.heap = heap;
  }
}

/** A function the live core served, and whether the runs are fed its requests. */
class FedFunction {
  /** Arrivals since the feeding set was last chosen, and the recent rate (per ms). */
  arrivals = 0;
  rate = 0;

  constructor(
    readonly meta: FunctionMetaRef,
    readonly index: number,
    public fed: boolean,
  ) {}
}

export class ExchangeRateTuner {
  private current: number;
  /** The runs' rates, ascending, and the runs (made when the first request is fed). */
  private readonly rates: readonly number[];
  /**
   * Whole-run judgement: the live path's totals since the runs began (each interval's totals of
   * the run nearest the live rate then) and their recent past, decayed like the runs' sums.
   */
  private readonly wholeRun: boolean;
  private readonly earlyJudge: boolean;
  /** With early judging: until then the runs' keep-alives are not yet charged for what they keep, so no lead is decisive. */
  private warmUntil = -Infinity;
  private readonly path = new PathTotals();
  private pathRecent = new DecayedTotals();
  private runs: CounterfactualRun[] | null = null;
  /** Judging starts once the runs are this old. */
  private judgeFrom = NaN;
  /** Functions by key, and in the order they were first seen (the index the tables hold). */
  private readonly fns = new Map<string, FedFunction>();
  private readonly fnList: FedFunction[] = [];
  /** Requests per ms of the functions fed now; the feeding set is re-chosen every TUNER_SNAPSHOT_MS. */
  private fedRate = 0;
  private selectedAt = NaN;
  private fedTotal = 0;
  private arrivalsTotal = 0;
  private nextSnapshotAt = NaN;
  private lastSnapshotAt = NaN;
  /** Each run's totals at the last snapshot, and the decayed sums of the intervals since. */
  private last: ScoreTotals[] | null = null;
  private sums: DecayedTotals[] = [];
  /** Requests fed, decayed like the sums (how much evidence they hold). */
  private evidence = 0;
  private fedAtLast = 0;
  /** Rate choices made so far (for reports and tests). */
  choices = 0;
  /** Finished requests not yet fed to the runs. */
  private readonly pending = new ArrivalHeap();
  private drainScheduled = false;
  /** The latest live time seen. */
  private liveNow = NaN;
  /** Per recent arrival (serial modulo the tables' size): its time and function (-1: not fed). */
  private readonly arrivedAt = new Float64Array(ARRIVAL_TABLE_MASK + 1);
  private readonly arrivedFn = new Int32Array(ARRIVAL_TABLE_MASK + 1).fill(-1);
  /** Recent times in the system (arrival to Idle), for the feeding lag. */
  private readonly sojourns = new RecentSamples();
  private nextId = 0;

  constructor(private readonly opts: ExchangeRateTunerOptions) {
    this.rates = opts.rates ?? EXCHANGE_RATE_GRID;
    this.current = opts.initialRate ?? INITIAL_EXCHANGE_RATE;
    this.wholeRun = (opts.judge ?? 'run') === 'run';
    this.earlyJudge = opts.earlyJudge ?? false;
  }

  get rate(): number {
    return this.current;
  }

  /** The runs' rates, ascending. */
  get runRates(): readonly number[] {
    return this.rates;
  }

  /** Scores of the runs over the recent past (NaN before there is enough evidence). */
  get horizonScores(): number[] {
    return this.scores() ?? this.rates.map(() => NaN);
  }

  /** Request `arrival` (the live core's serial) of `meta` arrives at `now`; returns the rate to use. */
  arrive(meta: FunctionMetaRef, arrival: number, now: number): number {
    if (this.arrivalsTotal++ === 0) this.selectedAt = now;
    let f = this.fns.get(meta.key);
    if (f === undefined) {
      f = new FedFunction(meta, this.fnList.length, this.fedRate < TUNER_MAX_FED_RATE / 1000);
      this.fns.set(meta.key, f);
      this.fnList.push(f);
    }
    f.arrivals++;
    if (now - this.selectedAt >= TUNER_SNAPSHOT_MS) this.select(now);
    const slot = arrival & ARRIVAL_TABLE_MASK;
    if (f.fed) {
      this.arrivedAt[slot] = now;
      this.arrivedFn[slot] = f.index;
    } else this.arrivedFn[slot] = -1;
    return this.current;
  }

  /**
   * Re-chooses the functions fed: in the order they were first seen, each whose recent rate still
   * fits in TUNER_MAX_FED_RATE (a function busier than what is left is passed over, not thinned:
   * its requests' timing is the point).
   */
  private select(now: number): void {
    const elapsed = now - this.selectedAt;
    this.selectedAt = now;
    let budget = TUNER_MAX_FED_RATE / 1000;
    for (const f of this.fnList) {
      const rate = f.arrivals / elapsed;
      f.rate = f.rate === 0 ? rate : 0.5 * (f.rate + rate);
      f.arrivals = 0;
      f.fed = f.rate <= budget;
      if (f.fed) budget -= f.rate;
    }
    this.fedRate = TUNER_MAX_FED_RATE / 1000 - budget;
  }

  /** The live Idle of request `arrival`: how long it ran. The runs get it once the lag has passed. */
  finish(arrival: number, durationMs: number, broken: boolean, now: number): void {
    this.liveNow = now;
    const slot = arrival & ARRIVAL_TABLE_MASK;
    const fn = this.arrivedFn[slot]!;
    if (fn < 0) return;
    this.arrivedFn[slot] = -1;
    const at = this.arrivedAt[slot]!;
    this.sojourns.record(now - at);
    this.pending.push(at, durationMs, fn, broken);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      this.opts.defer(this.drain);
    }
  }

  /** Feeds the runs, in arrival order, every finished request that arrived before the lag; snapshots when due. */
  private readonly drain = (): void => {
    this.drainScheduled = false;
    const lag = Math.min(TUNER_MAX_LAG_MS, TUNER_LAG_MS + this.sojourns.quantile(TUNER_LAG_QUANTILE));
    const cutoff = this.liveNow - lag;
    const p = this.pending;
    while (p.size > 0 && p.peekArrival() <= cutoff) {
      const s = p.pop();
      const at = p.arrival[s]!;
      if (this.runs === null) {
        this.runs = this.rates.map((r) => this.opts.runFor(r, at));
        this.judgeFrom = at + TUNER_WARMUP_MS;
        this.nextSnapshotAt = at + TUNER_SNAPSHOT_MS;
        if (this.earlyJudge) {
          // Judged from their first request: the first judgement comes once TUNER_EARLY_REQUESTS
          // were fed, not a minute later (a cold start of a busy run is decided in its first
          // seconds). Within the warm-up minute no lead is decisive: the runs' keep-alives have
          // not yet been charged for what they keep, which flatters the rates that keep most.
          this.judgeFrom = at;
          this.warmUntil = at + TUNER_WARMUP_MS;
          this.last = this.runs.map((r) => r.totals());
          this.lastSnapshotAt = at;
          this.fedAtLast = this.fedTotal;
        }
      }
      const runs = this.runs;
      if (at >= this.nextSnapshotAt || (this.earlyJudge && this.choices === 0 && this.fedTotal - this.fedAtLast >= TUNER_EARLY_REQUESTS)) {
        for (const run of runs) run.advanceTo(at);
        this.snapshot(at);
      }
      const id = this.nextId++;
      const meta = this.fnList[p.fn[s]!]!.meta;
      for (const run of runs) {
        // A request that outlived the lag arrives late: at the run's present.
        run.advanceTo(at);
        run.arrive(id, meta);
        run.finish(id, p.duration[s]!, p.broken[s] === 1);
      }
      this.fedTotal++;
    }
    if (this.runs !== null) for (const run of this.runs) run.advanceTo(cutoff);
    // Requests still pending wait for the drain after the next Idle.
  };

  private snapshot(now: number): void {
    this.nextSnapshotAt = now + TUNER_SNAPSHOT_MS;
    const runs = this.runs;
    if (runs === null) return;
    const totals = runs.map((r) => r.totals());
    // The live path: what the run nearest the live rate did over the interval now ending.
    const live = nearestInLog(this.rates, this.current);
    if (now < this.judgeFrom || this.last === null) {
      // Warming up: these totals are the baseline judging starts from; the path holds them.
      this.path.add(totals[live]!, this.last?.[live] ?? null);
      this.last = totals;
      this.fedAtLast = this.fedTotal;
      this.lastSnapshotAt = now;
      this.sums = [];
      this.pathRecent = new DecayedTotals();
      this.evidence = 0;
      return;
    }
    const fed = this.fedTotal - this.fedAtLast;
    const elapsed = now - this.lastSnapshotAt;
    this.lastSnapshotAt = now;
    const keep = Math.pow(0.5, Math.max(fed / TUNER_HALF_LIFE_REQUESTS, elapsed / TUNER_HALF_LIFE_MS));
    if (this.sums.length === 0) this.sums = runs.map(() => new DecayedTotals());
    const last = this.last;
    for (let i = 0; i < runs.length; i++) this.sums[i]!.add(totals[i]!, last[i]!, keep);
    this.path.add(totals[live]!, last[live]!);
    this.pathRecent.add(totals[live]!, last[live]!, keep);
    this.evidence = this.evidence * keep + fed;
    this.last = totals;
    this.fedAtLast = this.fedTotal;
    const scores = this.scores();
    if (scores === null) return;
    let best = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
    // The live rate follows the runs' peak at most a factor TUNER_MAX_STEP per snapshot: one noisy
    // judgement (a quiet minute, the start of a workload) cannot throw it across the range. A
    // decisive lead over the run nearest the live rate is followed at once.
    const target = refineInLog(this.rates, scores, best);
    const change = Math.log(target / this.current);
    const near = scores[nearestInLog(this.rates, this.current)]!;
    const decisive = scores[best]! - near >= Math.min(TUNER_DECISIVE_MARGIN, (TUNER_DECISIVE_RATIO - 1) * near);
    const limit = decisive && now >= this.warmUntil ? Infinity : Math.log(TUNER_MAX_STEP);
    this.current *= Math.exp(change > limit ? limit : change < -limit ? -limit : change);
    this.choices++;
  }

  /** Each run's score over the recent past, or null while it holds too little evidence. */
  private scores(): number[] | null {
    if (this.evidence < TUNER_MIN_REQUESTS) return null;
    if (!this.wholeRun) return this.sums.map((s) => s.score());
    return this.sums.map((s) => s.scoreIn(this.path, this.pathRecent));
  }
}

/** The index of the grid rate nearest `rate` in log space. */
function nearestInLog(grid: readonly number[], rate: number): number {
  let best = 0;
  for (let i = 1; i < grid.length; i++) if (Math.abs(Math.log(grid[i]! / rate)) < Math.abs(Math.log(grid[best]! / rate))) best = i;
  return best;
}

/**
 * Between grid points: the vertex of the parabola through the best rate and its neighbours in
 * log space (clamped to them), so the live rate need not jump by a factor of 3.
 */
function refineInLog(grid: readonly number[], scores: readonly number[], best: number): number {
  if (best === 0 || best === grid.length - 1) return grid[best]!;
  const y0 = scores[best - 1]!;
  const y1 = scores[best]!;
  const y2 = scores[best + 1]!;
  const denom = y0 - 2 * y1 + y2;
  if (!(denom < 0)) return grid[best]!;
  // Equal spacing in log rate is assumed (the grid is close to geometric).
  const offset = (0.5 * (y0 - y2)) / denom;
  const lo = Math.log(grid[best - 1]!);
  const mid = Math.log(grid[best]!);
  const hi = Math.log(grid[best + 1]!);
  const step = offset < 0 ? mid - lo : hi - mid;
  return Math.exp(mid + Math.max(-0.5, Math.min(0.5, offset)) * step);
}
