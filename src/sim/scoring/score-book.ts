/**
 * The contest's score and the run's bookkeeping, shared by the live emulator and the virtual
 * engine so both report identical numbers for identical events.
 *
 *     score = 50 * execGBs / slotGBs + 50 * execSecs / (execSecs + scheduleSecs)
 *
 * and 0 when the success rate is below 99.95%. Conventions (documented because the official
 * simulator is closed):
 * - memory in GB = memoryMb / 1024; times are ms on the caller's clock (ms epoch or virtual).
 * - A slot costs from `onSlotCreated` to `onSlotDestroyed`; slots still alive at `finish(endMs)`
 *   are charged until endMs.
 * - `durationMs` of `onRequest` is the execution actually performed; callers pass 0 for a request
 *   that never ran. Failed requests still add their latencies to the schedule time.
 * - `successRate` is a fraction in [0, 1] (1 when there were no requests).
 * - `invocationIdleTimeInSecs` = slot-seconds not spent executing = max(0, sum of slot lifetimes
 *   in seconds - sum of execution seconds). It is unweighted by memory, like the contest field
 *   name suggests; the GB-weighted idle cost per function is in the breakdown.
 * - The time series expects slot events reported in time order (both engines do); events
 *   before the origin (first event, unless `originMs` is given) are counted in the first bucket.
 */
import { LatencyHistogram } from '../../latency-histogram.js';
import { RunTimeline, type RunTimelineOptions, type Timeline } from './run-timeline.js';
import { CostSplitBook, RequestClass, type CostSplit, type SplitSlot } from './cost-split.js';

export const SUCCESS_RATE_GATE = 0.9995;
export const MB_PER_GB = 1024;
/** Slots never bound to a function are reported under this key in the breakdown. */
export const UNBOUND_FUNCTION = '(unbound)';

export interface ScoreInputs {
  readonly execGBs: number;
  readonly slotGBs: number;
  readonly execSecs: number;
  readonly scheduleSecs: number;
  /** Fraction in [0, 1]. */
  readonly successRate: number;
}

export interface ScoreHalves {
  readonly resourceHalf: number;
  readonly latencyHalf: number;
  /** Sum of halves, or 0 below the success-rate gate. */
  readonly score: number;
}

export function passesSuccessGate(successRate: number): boolean {
  // Tolerance so that exactly 99.95% (e.g. 9995/10000 after rounding) passes.
  return successRate + 1e-12 >= SUCCESS_RATE_GATE;
}

export function scoreHalves(x: ScoreInputs): ScoreHalves {
  const resourceHalf = x.slotGBs > 0 ? (50 * x.execGBs) / x.slotGBs : 0;
  const denom = x.execSecs + x.scheduleSecs;
  const latencyHalf = denom > 0 ? (50 * x.execSecs) / denom : 0;
  const score = passesSuccessGate(x.successRate) ? resourceHalf + latencyHalf : 0;
  return { resourceHalf, latencyHalf, score };
}

/** The official score as a pure function of the run's totals. */
export function officialScore(x: ScoreInputs): number {
  return scoreHalves(x).score;
}

/** The statistics object of the contest simulator (:9000), same field names. */
export interface ContestStats {
  totalRequestsCount: number;
  failedRequestsCount: number;
  successRate: number;
  invocationExecutionTimeInSecs: number;
  invocationExecutionTimeInGBs: number;
  invocationScheduleTimeInSecs: number;
  invocationIdleTimeInSecs: number;
  totalSlotTimeInGBs: number;
  totalLiveSlotCount: number;
  score: number;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  readonly count: number;
}

export interface FunctionStats {
  readonly metaKey: string;
  readonly memoryMb: number;
  readonly requests: number;
  readonly failed: number;
  readonly coldStarts: number;
  readonly slots: number;
  readonly execSecs: number;
  readonly execGBs: number;
  readonly slotGBs: number;
  /** max(0, slotGBs - execGBs): memory-time kept without doing work. */
  readonly idleGBs: number;
  /** Sum of Assign latencies (time requests waited for an instance). */
  readonly waitSecs: number;
  /** Sum of Assign + Idle latencies, this function's share of scheduleSecs. */
  readonly scheduleSecs: number;
  readonly meanAssignMs: number;
}

export interface ScoreReport extends ContestStats {
  readonly resourceHalf: number;
  readonly latencyHalf: number;
  readonly slotTimeInSecs: number;
  readonly coldStarts: number;
  readonly slotsCreated: number;
  readonly peakLiveSlots: number;
  /** First event time and `finish` time, on the caller's clock. */
  readonly startMs: number;
  readonly endMs: number;
  readonly assignLatencyMs: LatencySummary;
  readonly idleLatencyMs: LatencySummary;
  /** Sorted by slotGBs, descending. */
  readonly functions: FunctionStats[];
  readonly timeline: Timeline;
  /** Where each half's denominator went (cost-split.ts). */
  readonly split: CostSplit;
}

export interface RequestOutcome {
  readonly metaKey: string;
  readonly memoryMb: number;
  /** Execution actually performed (0 if the request never ran). */
  readonly durationMs: number;
  readonly assignLatencyMs: number;
  readonly idleLatencyMs: number;
  /** The scaler failed this request (see CONTEST.md "What counts as a failure"). */
  readonly failed: boolean;
  /** The request waited for a new instance. */
  readonly coldStart?: boolean;
  /** Execution start (after Assign returned); enables the busy-instances time series. */
  readonly atMs?: number;
  /** Slot that served it; binds an unbound slot to this function for the breakdown. */
  readonly slotId?: string;
  /** How it was served (from `onExecutionStart`; `Failed` when it got no valid instance). */
  readonly requestClass?: RequestClass;
}

export interface ScoreBookOptions {
  /** Time-series origin; defaults to the first event's time. */
  readonly originMs?: number;
  readonly timeline?: RunTimelineOptions;
  /**
   * The platform's CreateSlot latency: dates a CreateSlot's start from its slot's creation (cost
   * split). Default 0: a CreateSlot is dated by its slot's creation (both engines pass theirs).
   */
  readonly createLatencyMs?: number;
}

interface SlotEntry {
  readonly memoryMb: number;
  readonly createdAt: number;
  fn: FunctionAcc | undefined;
  readonly split: SplitSlot;
}

/** A function's accumulator, for callers that record many requests of it (`recordRequest`). */
export interface ScoreBookFunction {
  readonly metaKey: string;
}

interface FunctionAcc extends ScoreBookFunction {
  metaKey: string;
  memoryMb: number;
  requests: number;
  failed: number;
  coldStarts: number;
  slots: number;
  execSecs: number;
  execGBs: number;
  slotGBs: number;
  waitSecs: number;
  scheduleSecs: number;
}

export class ScoreBook {
  private readonly slots = new Map<string, SlotEntry>();
  private readonly fns = new Map<string, FunctionAcc>();
  private readonly assignHist = new LatencyHistogram();
  private readonly idleHist = new LatencyHistogram();
  private readonly timeline: RunTimeline;
  private readonly split: CostSplitBook;

  private requests = 0;
  private failed = 0;
  private coldStarts = 0;
  private execSecs = 0;
  private execGBs = 0;
  private scheduleSecs = 0;
  /** Closed (destroyed) slots only; live ones are added on demand. */
  private closedSlotGBs = 0;
  private closedSlotSecs = 0;
  private slotsCreated = 0;
  private peakLive = 0;
  // Live slots' charge at time t is t*liveGB - liveCreatedGBms (ms*GB, relative to `base` to keep precision).
  private base: number | undefined;
  private liveGB = 0;
  private liveCreatedGBms = 0;
  private liveCreatedMs = 0;
  private firstMs = Infinity;
  private report: ScoreReport | undefined;

  constructor(opts: ScoreBookOptions = {}) {
    this.base = opts.originMs;
    this.timeline = new RunTimeline({ ...opts.timeline, originMs: opts.originMs ?? opts.timeline?.originMs });
    this.split = new CostSplitBook(opts.createLatencyMs ?? 0);
  }

  /** Returns false (and changes nothing) for a slot id already live, or after `finish`. */
  onSlotCreated(slotId: string, memoryMb: number, atMs: number, metaKey?: string): boolean {
    if (this.report !== undefined || this.slots.has(slotId)) return false;
    this.seen(atMs);
    const rel = atMs - (this.base as number);
    const gb = memoryMb / MB_PER_GB;
    const fn = metaKey === undefined ? undefined : this.fn(metaKey, memoryMb);
    if (fn) fn.slots++;
    const split = this.split.newSlot(gb, atMs);
    if (metaKey !== undefined) split.key = metaKey;
    this.slots.set(slotId, { memoryMb, createdAt: atMs, fn, split });
    this.liveGB += gb;
    this.liveCreatedGBms += rel * gb;
    this.liveCreatedMs += rel;
    this.slotsCreated++;
    const live = this.slots.size;
    if (live > this.peakLive) this.peakLive = live;
    this.timeline.noteLiveCount(atMs, live, live - 1);
    return true;
  }

  /**
   * Attributes a slot to a function (at Init) for the per-function breakdown; `atMs`: when its
   * instance became ready (the cost split tells hits from waits by it).
   */
  onSlotBound(slotId: string, metaKey: string, atMs?: number): void {
    const s = this.slots.get(slotId);
    if (s === undefined) return;
    if (atMs !== undefined && !(s.split.readyAt === s.split.readyAt)) s.split.readyAt = atMs;
    if (s.split.key === '') s.split.key = metaKey;
    if (s.fn !== undefined) return;
    s.fn = this.fn(metaKey, s.memoryMb);
    s.fn.slots++;
  }

  /** Returns false for an unknown (or already destroyed) slot, or after `finish`. */
  onSlotDestroyed(slotId: string, atMs: number): boolean {
    if (this.report !== undefined) return false;
    const s = this.slots.get(slotId);
    if (s === undefined) return false;
    this.seen(atMs);
    this.slots.delete(slotId);
    const end = Math.max(atMs, s.createdAt);
    this.closeSlot(s, end);
    const gb = s.memoryMb / MB_PER_GB;
    const rel = s.createdAt - (this.base as number);
    this.liveGB -= gb;
    this.liveCreatedGBms -= rel * gb;
    this.liveCreatedMs -= rel;
    if (this.slots.size === 0) {
      // Re-zero to stop floating-point drift from accumulating across many slot generations.
      this.liveGB = 0;
      this.liveCreatedGBms = 0;
      this.liveCreatedMs = 0;
    }
    const live = this.slots.size;
    this.timeline.noteLiveCount(end, live, live + 1);
    return true;
  }

  /** Ignored after `finish` (late completions of a run that was already scored). */
  onRequest(r: RequestOutcome): void {
    if (this.report !== undefined) return;
    this.recordRequest(
      this.fn(r.metaKey, r.memoryMb),
      r.memoryMb,
      r.durationMs,
      r.assignLatencyMs,
      r.idleLatencyMs,
      r.failed,
      r.coldStart === true,
      r.atMs === undefined ? NaN : r.atMs,
      r.slotId,
      r.requestClass,
    );
  }

  /**
   * A request starts executing on `slotId` at `startMs` for `durationMs`; its Assign was sent
   * at `sentAtMs`. Returns how it was served (pass it back to `recordRequest` / `onRequest`).
   * Call it when the execution starts (before the slot could be destroyed after it), in order
   * of the slot's executions.
   */
  onExecutionStart(slotId: string, metaKey: string, sentAtMs: number, startMs: number, durationMs: number): RequestClass {
    if (this.report !== undefined) return RequestClass.Unclassified;
    const s = this.slots.get(slotId);
    if (s === undefined) return RequestClass.Unclassified;
    return this.split.execution(s.split, metaKey, sentAtMs, startMs, durationMs);
  }

  /** The accumulator of a function (created on first use), for `recordRequest`. */
  functionHandle(metaKey: string, memoryMb: number): ScoreBookFunction {
    return this.fn(metaKey, memoryMb);
  }

  /**
   * `onRequest` without the outcome object, for engines that record millions of requests.
   * `atMs` NaN = the request never executed; `slotId` binds that slot to the function (only the
   * first binding of a slot has an effect, so callers may pass it only once per slot).
   */
  recordRequest(
    handle: ScoreBookFunction,
    memoryMb: number,
    durationMs: number,
    assignLatencyMs: number,
    idleLatencyMs: number,
    failed: boolean,
    coldStart: boolean,
    atMs: number,
    slotId: string | undefined,
    requestClass: RequestClass = RequestClass.Unclassified,
  ): void {
    if (this.report !== undefined) return;
    const f = handle as FunctionAcc;
    const secs = durationMs / 1000;
    const gbs = (secs * memoryMb) / MB_PER_GB;
    const sched = (assignLatencyMs + idleLatencyMs) / 1000;
    this.requests++;
    this.execSecs += secs;
    this.execGBs += gbs;
    this.scheduleSecs += sched;
    this.assignHist.record(assignLatencyMs);
    this.idleHist.record(idleLatencyMs);
    this.split.request(requestClass, assignLatencyMs, idleLatencyMs, idleLatencyMs > 0);
    f.requests++;
    f.execSecs += secs;
    f.execGBs += gbs;
    f.waitSecs += assignLatencyMs / 1000;
    f.scheduleSecs += sched;
    if (failed) {
      this.failed++;
      f.failed++;
    }
    if (coldStart) {
      this.coldStarts++;
      f.coldStarts++;
    }
    if (slotId !== undefined) this.onSlotBound(slotId, f.metaKey);
    if (atMs === atMs) {
      this.seen(atMs);
      this.timeline.addExecution(atMs, durationMs, coldStart);
    }
  }

  /**
   * Not needed by this book (idle time is derived from slot time minus execution time); kept
   * as a no-op hook so engines can report explicitly measured idle spans in the future.
   */
  onIdleInstanceTime(_slotId: string, _fromMs: number, _toMs: number): void {}

  get liveSlotCount(): number {
    return this.slots.size;
  }

  /** The contest's statistics object, with live slots charged until `nowMs`. */
  liveStats(nowMs: number): ContestStats {
    const { slotGBs, slotSecs } = this.slotTotals(nowMs);
    return this.stats(slotGBs, slotSecs, this.slots.size);
  }

  /**
   * Terminal: charges live slots until `endMs` and freezes the book; later events are ignored
   * and later calls return the same report.
   */
  finish(endMs: number): ScoreReport {
    if (this.report !== undefined) return this.report;
    const liveAtEnd = this.slots.size;
    for (const s of this.slots.values()) this.closeSlot(s, Math.max(endMs, s.createdAt));
    const slotGBs = this.closedSlotGBs;
    const slotSecs = this.closedSlotSecs;
    const stats = this.stats(slotGBs, slotSecs, liveAtEnd);
    const halves = scoreHalves({ execGBs: this.execGBs, slotGBs, execSecs: this.execSecs, scheduleSecs: this.scheduleSecs, successRate: stats.successRate });
    const functions: FunctionStats[] = [];
    for (const f of this.fns.values()) {
      functions.push({
        metaKey: f.metaKey,
        memoryMb: f.memoryMb,
        requests: f.requests,
        failed: f.failed,
        coldStarts: f.coldStarts,
        slots: f.slots,
        execSecs: f.execSecs,
        execGBs: f.execGBs,
        slotGBs: f.slotGBs,
        idleGBs: Math.max(0, f.slotGBs - f.execGBs),
        waitSecs: f.waitSecs,
        scheduleSecs: f.scheduleSecs,
        meanAssignMs: f.requests === 0 ? 0 : (f.waitSecs * 1000) / f.requests,
      });
    }
    functions.sort((a, b) => b.slotGBs - a.slotGBs || b.requests - a.requests);
    this.report = {
      ...stats,
      resourceHalf: halves.resourceHalf,
      latencyHalf: halves.latencyHalf,
      score: halves.score,
      slotTimeInSecs: slotSecs,
      coldStarts: this.coldStarts,
      slotsCreated: this.slotsCreated,
      peakLiveSlots: this.peakLive,
      startMs: Number.isFinite(this.firstMs) ? this.firstMs : endMs,
      endMs,
      assignLatencyMs: summarize(this.assignHist),
      idleLatencyMs: summarize(this.idleHist),
      functions,
      timeline: this.timeline.snapshot(endMs),
      split: this.split.finish(this.execSecs, this.scheduleSecs, slotGBs),
    };
    this.slots.clear();
    return this.report;
  }

  private stats(slotGBs: number, slotSecs: number, live: number): ContestStats {
    const successRate = this.requests === 0 ? 1 : (this.requests - this.failed) / this.requests;
    const score = officialScore({ execGBs: this.execGBs, slotGBs, execSecs: this.execSecs, scheduleSecs: this.scheduleSecs, successRate });
    return {
      totalRequestsCount: this.requests,
      failedRequestsCount: this.failed,
      successRate,
      invocationExecutionTimeInSecs: this.execSecs,
      invocationExecutionTimeInGBs: this.execGBs,
      invocationScheduleTimeInSecs: this.scheduleSecs,
      invocationIdleTimeInSecs: Math.max(0, slotSecs - this.execSecs),
      totalSlotTimeInGBs: slotGBs,
      totalLiveSlotCount: live,
      score,
    };
  }

  private slotTotals(nowMs: number): { slotGBs: number; slotSecs: number } {
    if (this.slots.size === 0 || this.base === undefined) return { slotGBs: this.closedSlotGBs, slotSecs: this.closedSlotSecs };
    const rel = nowMs - this.base;
    const liveGBms = Math.max(0, rel * this.liveGB - this.liveCreatedGBms);
    const liveMs = Math.max(0, rel * this.slots.size - this.liveCreatedMs);
    return { slotGBs: this.closedSlotGBs + liveGBms / 1000, slotSecs: this.closedSlotSecs + liveMs / 1000 };
  }

  private closeSlot(s: SlotEntry, end: number): void {
    const secs = (end - s.createdAt) / 1000;
    const gbs = (secs * s.memoryMb) / MB_PER_GB;
    this.closedSlotGBs += gbs;
    this.closedSlotSecs += secs;
    this.split.close(s.split, end);
    const f = s.fn ?? this.fn(UNBOUND_FUNCTION, s.memoryMb);
    f.slotGBs += gbs;
    this.timeline.addSlotInterval(s.createdAt, end);
  }

  private fn(metaKey: string, memoryMb: number): FunctionAcc {
    let f = this.fns.get(metaKey);
    if (f === undefined) {
      f = { metaKey, memoryMb, requests: 0, failed: 0, coldStarts: 0, slots: 0, execSecs: 0, execGBs: 0, slotGBs: 0, waitSecs: 0, scheduleSecs: 0 };
      this.fns.set(metaKey, f);
    }
    return f;
  }

  private seen(atMs: number): void {
    if (this.base === undefined) this.base = atMs;
    if (atMs < this.firstMs) this.firstMs = atMs;
  }
}

function summarize(h: LatencyHistogram): LatencySummary {
  return { p50: h.quantile(0.5), p90: h.quantile(0.9), p99: h.quantile(0.99), max: h.max, mean: h.mean, count: h.count };
}
