/**
 * The exchange rate between slot memory and waiting that a policy's decisions use (GB-s of slot
 * time per second of scheduling latency), chosen by the score it reaches.
 *
 * The score's marginal prices at the running totals (dScore/dS = 50 E/S^2, dScore/dD =
 * 50 T/(T+D)^2) can lock a run into a poor operating point: when latency is poor its price
 * falls, the policy destroys more, and latency gets poorer still (and likewise for memory).
 * Instead, the policy also runs, beside the live core, three counterfactual cores at rates a
 * factor TUNER_STEP apart (counterfactual-run.ts), each fed the same requests, and uses the rate
 * whose run has scored best over the recent past, both halves at once, with every mechanism of
 * the policy in play (between the three, where the scores' parabola in log rate peaks). The
 * runs never see the live rate, so there is no loop to lock into. When an outer run keeps
 * winning, the three move one step its way: a fresh run starts beyond it, the run at the other
 * end stops, and judging starts over once the new one is warm.
 *
 * The runs move in step with the live clock: a request arrives in every run when it arrives
 * live, and its execution time reaches them with its live Idle; both are queued and fed in a
 * batch off the request's path (the live Assign does not wait for three more). Work is bounded: past
 * TUNER_MAX_FED_RATE requests per second, only a share of the functions (chosen as they first
 * appear) is fed.
 */
import type { CounterfactualRun } from './counterfactual-run.js';
import type { FunctionMetaRef } from './platform.js';
import type { ScoreTotals } from './score-prices.js';

/** The rate used before the runs have a past to judge by (GB-s per second of waiting), the middle run's at first. */
export const INITIAL_EXCHANGE_RATE = 1;
/** The three runs' rates are this factor apart. */
export const TUNER_STEP = 3;
/** The runs never go beyond these rates. */
export const MIN_EXCHANGE_RATE = 0.01;
export const MAX_EXCHANGE_RATE = 1_000;
/** An outer run must beat the middle one by this much (score points) for a snapshot to count as its win. */
export const TUNER_MOVE_MARGIN = 0.3;
/** An outer run must win this many snapshots in a row before the runs move its way. */
export const TUNER_MOVE_AFTER = 2;
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
 * The first minutes of the runs are not judged: every function is new to every run then, and a
 * rate's keep-alives of that time have not yet been charged for what they keep.
 */
export const TUNER_WARMUP_MS = 60_000;
/** Counterfactual work bound: requests per second fed to the runs (whole functions are sampled beyond). */
export const TUNER_MAX_FED_RATE = 200;

/** Arrivals remembered as fed or not (a power of two; far more than are ever in flight). */
const FED_MARK_MASK = (1 << 20) - 1;

export interface ExchangeRateTunerOptions {
  /** A counterfactual run at `rate`, starting at `startMs`. */
  readonly runFor: (rate: number, startMs: number) => CounterfactualRun;
  /** Runs `fn` soon, after the current request is handled (the policy's `PolicyEnv.defer`). */
  readonly defer: (fn: () => void) => void;
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
    const d = this.execSecs + this.scheduleSecs;
    return (this.slotGBs > 0 ? (50 * this.execGBs) / this.slotGBs : 0) + (d > 0 ? (50 * this.execSecs) / d : 0);
  }
}

export class ExchangeRateTuner {
  private current = INITIAL_EXCHANGE_RATE;
  /** The runs' rates, ascending, and the runs (made at the first arrival). */
  private rates = [INITIAL_EXCHANGE_RATE / TUNER_STEP, INITIAL_EXCHANGE_RATE, INITIAL_EXCHANGE_RATE * TUNER_STEP];
  private runs: CounterfactualRun[] | null = null;
  /** Judging (re)starts once the newest run is this old. */
  private judgeFrom = NaN;
  /** Consecutive snapshots an outer run has won (negative: the lower one). */
  private edgeWins = 0;
  /** Moves of the runs so far. */
  moves = 0;
  /** Function key -> the order it was first seen in (functions are sampled by it). */
  private readonly order = new Map<string, number>();
  /** Feed the functions whose order is a multiple of `stride` (1: all). */
  private stride = 1;
  private fedTotal = 0;
  private arrivalsTotal = 0;
  private firstArrivalAt = NaN;
  private nextSnapshotAt = NaN;
  /** Each run's totals at the last snapshot, and the decayed sums of the intervals since. */
  private last: ScoreTotals[] | null = null;
  private sums: DecayedTotals[] = [];
  /** Requests fed, decayed like the sums (how much evidence they hold). */
  private evidence = 0;
  private fedAtLast = 0;
  /** Rate choices made so far (for reports and tests). */
  choices = 0;
  /** Arrivals and Idles not yet fed to the runs (parallel arrays; `meta` null for an Idle). */
  private readonly queue = {
    at: [] as number[],
    arrival: [] as number[],
    meta: [] as (FunctionMetaRef | null)[],
    duration: [] as number[],
    broken: [] as boolean[],
  };
  private drainScheduled = false;
  /** Whether each recent arrival was fed to the runs, by arrival serial modulo the table's size. */
  private readonly fedMark = new Uint8Array(FED_MARK_MASK + 1);

  constructor(private readonly opts: ExchangeRateTunerOptions) {}

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

  /**
   * Request `arrival` (the live core's serial) of `meta` arrives at `now`; returns the rate to
   * use. The runs hear of it later, off the request's path (see `drain`).
   */
  arrive(meta: FunctionMetaRef, arrival: number, now: number): number {
    if (this.arrivalsTotal++ === 0) this.firstArrivalAt = now;
    let order = this.order.get(meta.key);
    if (order === undefined) {
      order = this.order.size;
      this.order.set(meta.key, order);
    }
    const fed = order % this.stride === 0;
    this.fedMark[arrival & FED_MARK_MASK] = fed ? 1 : 0;
    if (fed) this.enqueue(now, arrival, meta, -1, false);
    return this.current;
  }

  /** The live Idle of request `arrival`: how long it ran (nothing for a request the runs were not fed). */
  finish(arrival: number, durationMs: number, broken: boolean, now: number): void {
    if (this.fedMark[arrival & FED_MARK_MASK] === 1) this.enqueue(now, arrival, null, durationMs, broken);
  }

  private enqueue(at: number, arrival: number, meta: FunctionMetaRef | null, durationMs: number, broken: boolean): void {
    const q = this.queue;
    q.at.push(at);
    q.arrival.push(arrival);
    q.meta.push(meta);
    q.duration.push(durationMs);
    q.broken.push(broken);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      this.opts.defer(this.drain);
    }
  }

  /** Feeds the runs every event since the last drain, in order; snapshots when due. */
  private readonly drain = (): void => {
    this.drainScheduled = false;
    const q = this.queue;
    const n = q.at.length;
    for (let i = 0; i < n; i++) {
      const now = q.at[i]!;
      const meta = q.meta[i];
      if (this.runs === null) {
        if (meta === null || meta === undefined) continue;
        this.runs = this.rates.map((r) => this.opts.runFor(r, now));
        this.judgeFrom = now + TUNER_WARMUP_MS;
        this.nextSnapshotAt = now + TUNER_SNAPSHOT_MS;
      }
      const runs = this.runs;
      for (const run of runs) run.advanceTo(now);
      if (now >= this.nextSnapshotAt) this.snapshot(now);
      if (meta !== null && meta !== undefined) {
        for (const run of runs) run.arrive(q.arrival[i]!, meta);
        this.fedTotal++;
      } else {
        for (const run of runs) run.finish(q.arrival[i]!, q.duration[i]!, q.broken[i]!);
      }
    }
    q.at.length = 0;
    q.arrival.length = 0;
    q.meta.length = 0;
    q.duration.length = 0;
    q.broken.length = 0;
  };

  private snapshot(now: number): void {
    this.nextSnapshotAt = now + TUNER_SNAPSHOT_MS;
    // Sample functions from now on if the traffic outgrew the work bound.
    const elapsedSec = (now - this.firstArrivalAt) / 1000;
    if (elapsedSec > 0) {
      const rate = this.arrivalsTotal / elapsedSec;
      this.stride = rate > TUNER_MAX_FED_RATE ? Math.ceil(rate / TUNER_MAX_FED_RATE) : 1;
    }
    const runs = this.runs;
    if (runs === null) return;
    const totals = runs.map((r) => r.totals());
    if (now < this.judgeFrom) {
      this.last = totals;
      this.fedAtLast = this.fedTotal;
      this.sums = [];
      this.evidence = 0;
      return;
    }
    const fed = this.fedTotal - this.fedAtLast;
    const keep = Math.pow(0.5, Math.max(fed / TUNER_HALF_LIFE_REQUESTS, TUNER_SNAPSHOT_MS / TUNER_HALF_LIFE_MS));
    if (this.sums.length === 0) this.sums = runs.map(() => new DecayedTotals());
    if (this.last !== null) {
      for (let i = 0; i < runs.length; i++) this.sums[i]!.add(totals[i]!, this.last[i]!, keep);
      this.evidence = this.evidence * keep + fed;
    }
    this.last = totals;
    this.fedAtLast = this.fedTotal;
    const scores = this.scores();
    if (scores === null) return;
    let best = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
    this.current = refineInLog(this.rates, scores, best);
    this.choices++;
    // An outer run that keeps winning clearly (by TUNER_MOVE_MARGIN over the middle one): move
    // the three one step its way.
    const clear = scores[best]! > scores[1]! + TUNER_MOVE_MARGIN;
    const dir = !clear ? 0 : best === 0 ? -1 : best === runs.length - 1 ? 1 : 0;
    this.edgeWins = dir === 0 || Math.sign(this.edgeWins) !== dir ? dir : this.edgeWins + dir;
    if (Math.abs(this.edgeWins) >= TUNER_MOVE_AFTER) this.move(dir, now);
  }

  private move(dir: number, now: number): void {
    const runs = this.runs!;
    const next = dir > 0 ? this.rates[this.rates.length - 1]! * TUNER_STEP : this.rates[0]! / TUNER_STEP;
    this.edgeWins = 0;
    if (next < MIN_EXCHANGE_RATE || next > MAX_EXCHANGE_RATE) return;
    const run = this.opts.runFor(next, now);
    if (dir > 0) {
      runs.shift();
      runs.push(run);
      this.rates = [...this.rates.slice(1), next];
    } else {
      runs.pop();
      runs.unshift(run);
      this.rates = [next, ...this.rates.slice(0, -1)];
    }
    this.moves++;
    // Judge the three afresh once the new one is warm (its first minutes would flatter the others).
    this.judgeFrom = now + TUNER_WARMUP_MS;
  }

  /** Each run's score over the recent past, or null while it holds too little evidence. */
  private scores(): number[] | null {
    if (this.evidence < TUNER_MIN_REQUESTS) return null;
    return this.sums.map((s) => s.score());
  }
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
