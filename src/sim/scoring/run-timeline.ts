/**
 * Bounded time series of a run for plots: fixed-width buckets that double in width (merging
 * pairs) whenever the run outgrows `maxPoints`, so memory and output size stay bounded however
 * long the run is. Intervals (slot lifetimes, executions) are integrated exactly per bucket, so
 * the per-bucket means are exact time-weighted averages.
 */

export const TIMELINE_MAX_POINTS = 2000;
export const TIMELINE_INITIAL_BUCKET_MS = 1000;

export interface TimelinePoint {
  /** Bucket start, ms epoch (same clock as the events). */
  readonly tMs: number;
  /** Time-weighted mean number of live slots over the bucket. */
  readonly liveSlots: number;
  /** Maximum number of live slots at any moment of the bucket. */
  readonly maxLiveSlots: number;
  /** Time-weighted mean number of instances executing a request. */
  readonly busyInstances: number;
  readonly coldStarts: number;
  readonly requests: number;
}

export interface Timeline {
  readonly originMs: number;
  readonly bucketMs: number;
  readonly points: TimelinePoint[];
}

export interface RunTimelineOptions {
  readonly originMs?: number;
  readonly maxPoints?: number;
  readonly initialBucketMs?: number;
}

const NO_EVENT = -1;

export class RunTimeline {
  private origin: number | undefined;
  private width: number;
  private readonly maxPoints: number;
  private slotMs: number[] = [];
  private busyMs: number[] = [];
  private cold: number[] = [];
  private reqs: number[] = [];
  private maxLive: number[] = [];
  /** Live count after the bucket's last slot event, or NO_EVENT. */
  private lastLive: number[] = [];
  private lastMs = -Infinity;

  constructor(opts: RunTimelineOptions = {}) {
    this.origin = opts.originMs;
    this.maxPoints = Math.max(2, opts.maxPoints ?? TIMELINE_MAX_POINTS);
    this.width = Math.max(1, opts.initialBucketMs ?? TIMELINE_INITIAL_BUCKET_MS);
  }

  /** Adds a time-weighted interval of one live slot. */
  addSlotInterval(fromMs: number, toMs: number): void {
    this.addInterval(true, fromMs, toMs);
  }

  addBusyInterval(fromMs: number, toMs: number): void {
    this.addInterval(false, fromMs, toMs);
  }

  addColdStart(atMs: number): void {
    this.cold[this.bucket(atMs)]++;
  }

  addRequest(atMs: number): void {
    this.reqs[this.bucket(atMs)]++;
  }

  /**
   * One request that started executing at `atMs` for `durationMs` (a cold start or not): the
   * same as addRequest, addColdStart and addBusyInterval, with the bucket found once.
   */
  addExecution(atMs: number, durationMs: number, coldStart: boolean): void {
    const b = this.bucket(atMs);
    this.reqs[b]++;
    if (coldStart) this.cold[b]++;
    if (durationMs > 0) this.addInterval(false, atMs, atMs + durationMs);
  }

  /** Live slot count right after a create/destroy event at `atMs` (events in time order). */
  noteLiveCount(atMs: number, liveAfter: number, liveBefore: number): void {
    const b = this.bucket(atMs);
    const m = liveAfter > liveBefore ? liveAfter : liveBefore;
    if (m > this.maxLive[b]) this.maxLive[b] = m;
    this.lastLive[b] = liveAfter;
  }

  snapshot(endMs: number): Timeline {
    const origin = this.origin ?? endMs;
    const last = Math.max(this.lastMs, endMs);
    const n = this.slotMs.length;
    const points: TimelinePoint[] = [];
    let carry = 0;
    for (let i = 0; i < n; i++) {
      const t = origin + i * this.width;
      const span = Math.min(this.width, last - t);
      const entry = carry;
      if (this.lastLive[i] !== NO_EVENT) carry = this.lastLive[i];
      points.push({
        tMs: t,
        liveSlots: span > 0 ? this.slotMs[i] / span : 0,
        maxLiveSlots: Math.max(entry, this.maxLive[i], carry),
        busyInstances: span > 0 ? this.busyMs[i] / span : 0,
        coldStarts: this.cold[i],
        requests: this.reqs[i],
      });
    }
    return { originMs: origin, bucketMs: this.width, points };
  }

  private addInterval(slot: boolean, fromMs: number, toMs: number): void {
    if (!(toMs > fromMs)) {
      this.bucket(fromMs);
      return;
    }
    this.bucket(fromMs);
    const lastB = this.bucket(toMs); // may coarsen: indexes and arrays are only read after this
    const arr = slot ? this.slotMs : this.busyMs;
    const origin = this.origin as number;
    const w = this.width;
    const from = Math.max(fromMs, origin);
    let b = Math.floor((from - origin) / w);
    for (; b <= lastB; b++) {
      const bs = origin + b * w;
      const lo = from > bs ? from : bs;
      const hi = toMs < bs + w ? toMs : bs + w;
      if (hi > lo) arr[b] += hi - lo;
    }
  }

  /** Index of the bucket holding `atMs`, growing/coarsening storage as needed. */
  private bucket(atMs: number): number {
    if (this.origin === undefined) this.origin = atMs;
    if (atMs > this.lastMs) this.lastMs = atMs;
    // Events before the origin (possible when no origin was given) land in bucket 0.
    const rel = atMs - this.origin;
    let b = rel <= 0 ? 0 : Math.floor(rel / this.width);
    while (b >= this.maxPoints) {
      this.coarsen();
      b = Math.floor(rel / this.width);
    }
    while (this.slotMs.length <= b) {
      this.slotMs.push(0);
      this.busyMs.push(0);
      this.cold.push(0);
      this.reqs.push(0);
      this.maxLive.push(0);
      this.lastLive.push(NO_EVENT);
    }
    return b;
  }

  private coarsen(): void {
    const merge = (a: number[], f: (x: number, y: number) => number, empty: number): number[] => {
      const out: number[] = [];
      for (let i = 0; i < a.length; i += 2) out.push(i + 1 < a.length ? f(a[i], a[i + 1]) : f(a[i], empty));
      return out;
    };
    const sum = (x: number, y: number): number => x + y;
    this.slotMs = merge(this.slotMs, sum, 0);
    this.busyMs = merge(this.busyMs, sum, 0);
    this.cold = merge(this.cold, sum, 0);
    this.reqs = merge(this.reqs, sum, 0);
    this.maxLive = merge(this.maxLive, Math.max, 0);
    this.lastLive = merge(this.lastLive, (x, y) => (y !== NO_EVENT ? y : x), NO_EVENT);
    this.width *= 2;
  }
}
