/**
 * Where a run's score went: the latency half's denominator (execution + scheduling seconds) and
 * the resource half's denominator (slot GB-s), each split by cause. Both engines feed the same
 * accumulator from what the platform can see (slot created / ready / destroyed, which slot served
 * which request, when each Assign was sent), so a split means the same thing live and virtual.
 *
 * Requests (latency half). A request's Assign was sent at S and served by the instance of slot I
 * (created at C_I, ready at R_I, its previous execution ended at L_I); T_I = C_I - create latency
 * is when its CreateSlot began:
 * - hit: R_I <= S and L_I <= S: an idle instance was there; its Assign time is per-call overhead;
 * - cold start: R_I > S and T_I >= S: the instance was started after the request arrived, the
 *   request waited for a CreateSlot + Init;
 * - busy wait: otherwise: served by an instance that was not started for it (busy when it came,
 *   or already starting);
 * - failed: no valid instance (its Assign time is kept apart).
 * Every Idle call's time is per-call overhead. overhead + busy waits + cold starts + failed =
 * scheduling seconds, exactly.
 *
 * Slots (resource half). A slot's life [C, D] (D: destroy, or the run's end) is cut into its
 * executions (useful), the gaps between two executions (idle keep), the time after its last one
 * (kept after last: keep-alive that did not pay off, and the run's tail), and the time before its
 * first one, which is charged by why the instance was started:
 * - cold start: its first request was waiting when its CreateSlot began (started for it);
 * - hedge: a request of its function was waiting when its CreateSlot began, but it served none
 *   of the waiting ones first (it was started for a wait that another instance then served);
 *   with no request ever served, the whole life;
 * - pre-warm: no request of its function was waiting when it was started (its first request, if
 *   any, was a hit or came while it was still starting); never served: the whole life;
 * - failed start: the slot never got a ready instance (Init failed, destroyed while starting).
 * The parts add up to the slot GB-s exactly.
 *
 * Points lost are attributed in proportion: a part x of the latency denominator costs
 * 50 * x / (exec + schedule) points, a part y of the slot GB-s 50 * y / slot GB-s; the parts of
 * each half sum to 50 minus that half. (Removing a part alone would win a little more than its
 * share, since the denominators shrink too.)
 */
/** How a request was served, as the platform sees it (see the file comment). */
export const RequestClass = {
  Hit: 'hit',
  BusyWait: 'busy-wait',
  ColdStart: 'cold-start',
  Failed: 'failed',
  /** The caller gave no classification (e.g. a slot the book does not know). */
  Unclassified: 'unclassified',
} as const;
export type RequestClass = (typeof RequestClass)[keyof typeof RequestClass];

/** Seconds of the latency half's denominator by cause, and the points each costs. */
export interface LatencySplit {
  /** execSecs + scheduleSecs: the latency half's denominator. */
  readonly denominatorSecs: number;
  readonly execSecs: number;
  /** = overheadSecs + busyWaitSecs + coldStartSecs + failedSecs + unclassifiedSecs. */
  readonly scheduleSecs: number;
  /** Assign time of hits plus every Idle call's time. */
  readonly overheadSecs: number;
  /** The two parts of the overhead. */
  readonly hitAssignSecs: number;
  readonly idleCallSecs: number;
  /** Assign time of requests served by an instance not started for them (busy, or already starting). */
  readonly busyWaitSecs: number;
  /** Assign time of requests served by an instance started after they arrived. */
  readonly coldStartSecs: number;
  /** Assign time of requests that got no valid instance. */
  readonly failedSecs: number;
  /** Assign time of requests the engine could not classify (normally 0). */
  readonly unclassifiedSecs: number;
  readonly hits: number;
  readonly busyWaits: number;
  readonly coldStarts: number;
  readonly failed: number;
  readonly unclassified: number;
  /** Idle calls counted in idleCallSecs. */
  readonly idleCalls: number;
  /** Mean Assign latency of hits and mean Idle latency, ms (what the per-call floor is measured from). */
  readonly hitAssignMeanMs: number;
  readonly idleCallMeanMs: number;
  /** 50 * part / denominator; the four sum to 50 - latency half. */
  readonly pointsLost: { readonly overhead: number; readonly busyWait: number; readonly coldStart: number; readonly failed: number };
}

/** Slot GB-s by cause, and the points each costs. */
export interface ResourceSplit {
  /** = the sum of every part below. */
  readonly slotGBs: number;
  /** Executions inside slot lifetimes (= exec GB-s unless a slot died under a request). */
  readonly usefulGBs: number;
  /** Idle between two requests the instance served. */
  readonly idleKeepGBs: number;
  /** Idle after the instance's last request, until destroyed or the run's end. */
  readonly keptAfterLastGBs: number;
  /** Creation to first execution of instances started for a waiting request. */
  readonly coldStartGBs: number;
  /** Creation to first execution (or the whole life) of instances started before any request needed them. */
  readonly prewarmGBs: number;
  /** Creation to first execution (or the whole life) of instances started for a wait another instance served. */
  readonly hedgeGBs: number;
  /** Slots that never had a ready instance. */
  readonly failedStartGBs: number;
  /** Slots by how they were started (counted once each). */
  readonly slots: { readonly coldStart: number; readonly prewarm: number; readonly hedge: number; readonly failedStart: number };
  /** 50 * part / slotGBs; with `useful` they sum to 50 (useful's share is the resource half, up to rounding). */
  readonly pointsLost: {
    readonly idleKeep: number;
    readonly keptAfterLast: number;
    readonly coldStart: number;
    readonly prewarm: number;
    readonly hedge: number;
    readonly failedStart: number;
  };
}

export interface CostSplit {
  readonly latency: LatencySplit;
  readonly resource: ResourceSplit;
}

/** Per-slot state of the split (kept by the ScoreBook next to the slot's cost entry). */
export interface SplitSlot {
  /** Memory, GB. */
  readonly gb: number;
  readonly createdAt: number;
  /** Init answered Ok; NaN until then. */
  readyAt: number;
  /** Function bound to the slot (by Init or its first request); '' unknown. */
  key: string;
  served: number;
  firstWasCold: boolean;
  /** Classified up to here (ms). */
  cursor: number;
  /** End of the last execution (NaN: none yet). */
  lastEnd: number;
  startupMs: number;
  usefulMs: number;
  idleKeepMs: number;
}

/** Waiting requests of one function: [sent, served) intervals, for the hedge test. */
class WaitIntervals {
  from: number[] = [];
  to: number[] = [];
  private sortedFrom: Float64Array | undefined;
  private prefixMaxTo: Float64Array | undefined;

  add(from: number, to: number): void {
    this.from.push(from);
    this.to.push(to);
  }

  /** Was some request waiting at `t` (sent at or before t, served after t)? Call after every add. */
  covers(t: number): boolean {
    if (this.sortedFrom === undefined) this.index();
    const from = this.sortedFrom as Float64Array;
    const maxTo = this.prefixMaxTo as Float64Array;
    // Last interval starting at or before t.
    let lo = 0;
    let hi = from.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((from[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && (maxTo[lo - 1] as number) > t;
  }

  private index(): void {
    const n = this.from.length;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (this.from[a] as number) - (this.from[b] as number));
    const from = new Float64Array(n);
    const maxTo = new Float64Array(n);
    let m = -Infinity;
    for (let i = 0; i < n; i++) {
      const k = order[i] as number;
      from[i] = this.from[k] as number;
      m = Math.max(m, this.to[k] as number);
      maxTo[i] = m;
    }
    this.sortedFrom = from;
    this.prefixMaxTo = maxTo;
  }
}

/**
 * The split's accumulator. The ScoreBook owns one and forwards slot events and requests to it;
 * engines reach it through the book (`onExecutionStart`, `recordRequest`).
 */
export class CostSplitBook {
  private hitAssignMs = 0;
  private idleCallMs = 0;
  private busyWaitMs = 0;
  private coldStartMs = 0;
  private failedMs = 0;
  private unclassifiedMs = 0;
  private hits = 0;
  private busyWaits = 0;
  private coldStarts = 0;
  private failed = 0;
  private unclassified = 0;
  private idleCalls = 0;

  private usefulGBs = 0;
  private idleKeepGBs = 0;
  private keptAfterLastGBs = 0;
  private coldStartGBs = 0;
  private failedStartGBs = 0;
  private slotsCold = 0;
  private slotsFailed = 0;
  /** Startups to be charged to pre-warm or hedge once every wait is known (at `finish`). */
  private readonly pendingKey: string[] = [];
  private readonly pendingStartMs: number[] = [];
  private readonly pendingGBs: number[] = [];
  private readonly waits = new Map<string, WaitIntervals>();

  /** `createLatencyMs`: the platform's CreateSlot latency, to date a CreateSlot's start from its slot's creation. */
  constructor(private readonly createLatencyMs: number) {}

  newSlot(gb: number, createdAt: number): SplitSlot {
    return { gb, createdAt, readyAt: NaN, key: '', served: 0, firstWasCold: false, cursor: createdAt, lastEnd: NaN, startupMs: 0, usefulMs: 0, idleKeepMs: 0 };
  }

  /**
   * A request starts executing on slot `s` at `startMs` for `durationMs`; its Assign was sent at
   * `sentAtMs`. Classifies it (see the file comment) and charges the slot's time up to its end.
   */
  execution(s: SplitSlot, key: string, sentAtMs: number, startMs: number, durationMs: number): RequestClass {
    let cls: RequestClass;
    const ready = !(s.readyAt > sentAtMs); // NaN (readiness not reported): ready
    if (ready) cls = s.lastEnd > sentAtMs ? RequestClass.BusyWait : RequestClass.Hit;
    else cls = s.createdAt - this.createLatencyMs >= sentAtMs ? RequestClass.ColdStart : RequestClass.BusyWait;
    if (cls !== RequestClass.Hit) this.waitsOf(key).add(sentAtMs, startMs);
    if (s.key === '') s.key = key;
    const gap = startMs > s.cursor ? startMs - s.cursor : 0;
    if (s.served === 0) {
      s.startupMs += gap;
      s.firstWasCold = cls === RequestClass.ColdStart;
    } else s.idleKeepMs += gap;
    if (startMs > s.cursor) s.cursor = startMs;
    const end = startMs + durationMs;
    if (end > s.cursor) {
      s.usefulMs += end - s.cursor;
      s.cursor = end;
    }
    s.lastEnd = end;
    s.served++;
    return cls;
  }

  /** A request's two latencies, by its class. */
  request(cls: RequestClass, assignMs: number, idleMs: number, hadIdle: boolean): void {
    switch (cls) {
      case RequestClass.Hit:
        this.hitAssignMs += assignMs;
        this.hits++;
        break;
      case RequestClass.BusyWait:
        this.busyWaitMs += assignMs;
        this.busyWaits++;
        break;
      case RequestClass.ColdStart:
        this.coldStartMs += assignMs;
        this.coldStarts++;
        break;
      case RequestClass.Failed:
        this.failedMs += assignMs;
        this.failed++;
        break;
      default:
        this.unclassifiedMs += assignMs;
        this.unclassified++;
    }
    this.idleCallMs += idleMs;
    if (hadIdle) this.idleCalls++;
  }

  /** The slot's life ended at `end` (destroyed, or charged until the run's end). */
  close(s: SplitSlot, end: number): void {
    const gb = s.gb;
    const life = end > s.createdAt ? end - s.createdAt : 0;
    if (s.served === 0) {
      if (!(s.readyAt === s.readyAt) && s.key === '') {
        this.failedStartGBs += (life * gb) / 1000;
        this.slotsFailed++;
      } else this.pend(s.key, s.createdAt, (life * gb) / 1000);
      return;
    }
    let startup = s.startupMs;
    let useful = s.usefulMs;
    let idleKeep = s.idleKeepMs;
    // A slot that died under a request (a failure) or before the clock of its last execution:
    // take the overshoot back from its last parts, latest first.
    let over = s.cursor - (s.createdAt + life);
    if (over > 0) {
      const u = Math.min(over, useful);
      useful -= u;
      over -= u;
      const k = Math.min(over, idleKeep);
      idleKeep -= k;
      over -= k;
      startup -= Math.min(over, startup);
    }
    const after = life - startup - useful - idleKeep;
    this.usefulGBs += (useful * gb) / 1000;
    this.idleKeepGBs += (idleKeep * gb) / 1000;
    this.keptAfterLastGBs += ((after > 0 ? after : 0) * gb) / 1000;
    if (s.firstWasCold) {
      this.coldStartGBs += (startup * gb) / 1000;
      this.slotsCold++;
    } else this.pend(s.key, s.createdAt, (startup * gb) / 1000);
  }

  /** The split, with pre-warms and hedges told apart now that every wait is known. */
  finish(execSecs: number, scheduleSecs: number, slotGBs: number): CostSplit {
    let prewarmGBs = 0;
    let hedgeGBs = 0;
    let slotsPrewarm = 0;
    let slotsHedge = 0;
    for (let i = 0; i < this.pendingKey.length; i++) {
      const w = this.waits.get(this.pendingKey[i] as string);
      const startedAt = (this.pendingStartMs[i] as number) - this.createLatencyMs;
      if (w !== undefined && w.covers(startedAt)) {
        hedgeGBs += this.pendingGBs[i] as number;
        slotsHedge++;
      } else {
        prewarmGBs += this.pendingGBs[i] as number;
        slotsPrewarm++;
      }
    }
    const denom = execSecs + scheduleSecs;
    const lat = (ms: number): number => (denom > 0 ? (50 * ms) / 1000 / denom : 0);
    const overheadMs = this.hitAssignMs + this.idleCallMs;
    const res = (gbs: number): number => (slotGBs > 0 ? (50 * gbs) / slotGBs : 0);
    const partsGBs = this.usefulGBs + this.idleKeepGBs + this.keptAfterLastGBs + this.coldStartGBs + prewarmGBs + hedgeGBs + this.failedStartGBs;
    return {
      latency: {
        denominatorSecs: denom,
        execSecs,
        scheduleSecs,
        overheadSecs: overheadMs / 1000,
        hitAssignSecs: this.hitAssignMs / 1000,
        idleCallSecs: this.idleCallMs / 1000,
        busyWaitSecs: this.busyWaitMs / 1000,
        coldStartSecs: this.coldStartMs / 1000,
        failedSecs: this.failedMs / 1000,
        unclassifiedSecs: this.unclassifiedMs / 1000,
        hits: this.hits,
        busyWaits: this.busyWaits,
        coldStarts: this.coldStarts,
        failed: this.failed,
        unclassified: this.unclassified,
        idleCalls: this.idleCalls,
        hitAssignMeanMs: this.hits > 0 ? this.hitAssignMs / this.hits : 0,
        idleCallMeanMs: this.idleCalls > 0 ? this.idleCallMs / this.idleCalls : 0,
        pointsLost: {
          overhead: lat(overheadMs),
          busyWait: lat(this.busyWaitMs),
          coldStart: lat(this.coldStartMs),
          failed: lat(this.failedMs + this.unclassifiedMs),
        },
      },
      resource: {
        slotGBs: partsGBs,
        usefulGBs: this.usefulGBs,
        idleKeepGBs: this.idleKeepGBs,
        keptAfterLastGBs: this.keptAfterLastGBs,
        coldStartGBs: this.coldStartGBs,
        prewarmGBs,
        hedgeGBs,
        failedStartGBs: this.failedStartGBs,
        slots: { coldStart: this.slotsCold, prewarm: slotsPrewarm, hedge: slotsHedge, failedStart: this.slotsFailed },
        pointsLost: {
          idleKeep: res(this.idleKeepGBs),
          keptAfterLast: res(this.keptAfterLastGBs),
          coldStart: res(this.coldStartGBs),
          prewarm: res(prewarmGBs),
          hedge: res(hedgeGBs),
          failedStart: res(this.failedStartGBs),
        },
      },
    };
  }

  private pend(key: string, createdAt: number, gbs: number): void {
    this.pendingKey.push(key);
    this.pendingStartMs.push(createdAt);
    this.pendingGBs.push(gbs);
  }

  private waitsOf(key: string): WaitIntervals {
    let w = this.waits.get(key);
    if (w === undefined) {
      w = new WaitIntervals();
      this.waits.set(key, w);
    }
    return w;
  }
}
