/**
 * The clairvoyant reference of POLICIES.md, computed from the trace alone: a scaler that knows
 * every arrival pre-warms an instance exactly create + init before it is needed, so no request
 * waits, and it pays m * min(gap, create + init) for each gap between uses of an instance.
 *
 * Per function, requests in start order (ties: earlier end first, then successful before failed)
 * take the instance freed most recently (a stack); a request finding none starts a new chain
 * costing create + init of slot time; a broken instance (statusCode != 200) ends its chain, and
 * nothing is charged after a chain's last use (the clairvoyant destroys right after it).
 * Scheduling latency is only the modelled RPC overhead: `rpcOverheadMs` per Assign and per Idle.
 *
 * Streaming: memory is the per-function stacks and heaps (bounded by each function's peak
 * concurrency) plus the requests sharing the current startTime (needed for the tie order).
 */
import type { MetaRecord, RequestRecord } from '../contest/dataset-types.js';
import { MB_PER_GB, scoreHalves } from './score-book.js';
import { DEFAULT_CREATE_LATENCY_MS } from '../contest/contest-platform.js';

export const OK_STATUS = 200;

export interface ClairvoyantBoundOptions {
  /** CreateSlot duration, ms (contest: about 100). */
  readonly createMs?: number;
  /** Modelled latency of each Assign and each Idle call, ms. */
  readonly rpcOverheadMs?: number;
}

export interface ClairvoyantResult {
  readonly score: number;
  readonly resourceHalf: number;
  readonly latencyHalf: number;
  readonly execGBs: number;
  readonly slotGBs: number;
  readonly execSecs: number;
  readonly scheduleSecs: number;
  readonly requests: number;
  /** Instances ever started (one create + init each). */
  readonly chains: number;
  /** Slot GB-s spent between uses and in chain starts (slotGBs - execGBs). */
  readonly idleGBs: number;
}

/** One function's clairvoyant state (opaque to callers; see `functionHandle`). */
export interface ClairvoyantFunction {
  readonly memGB: number;
}

interface FnState extends ClairvoyantFunction {
  readonly memGB: number;
  readonly warmMs: number;
  /** freedAt of idle healthy instances; top = most recently freed. */
  readonly free: number[];
  /** Min-heap of end times of healthy busy instances. */
  readonly busy: number[];
}

export class ClairvoyantBound {
  private readonly createMs: number;
  private readonly rpcOverheadMs: number;
  private readonly fns = new Map<string, FnState>();
  // Requests sharing the current startTime, as parallel arrays reused across flushes (no
  // object per request); `pendingCount` entries are live.
  private readonly pendingFn: FnState[] = [];
  private readonly pendingDur: number[] = [];
  private readonly pendingStatus: number[] = [];
  private readonly pendingOrder: number[] = [];
  private pendingCount = 0;
  private pendingStart = -Infinity;
  private execGBs = 0;
  private execSecs = 0;
  private slotGBs = 0;
  private requests = 0;
  private chains = 0;

  constructor(opts: ClairvoyantBoundOptions = {}) {
    this.createMs = opts.createMs ?? DEFAULT_CREATE_LATENCY_MS;
    this.rpcOverheadMs = opts.rpcOverheadMs ?? 0;
  }

  /** Requests must come in non-decreasing startTime order (as the loader guarantees). */
  add(req: RequestRecord, meta: MetaRecord): void {
    this.addFields(this.functionHandle(meta), req.startTime, req.durationsInMs, req.statusCode);
  }

  /** The state of a function, for `addFields` (callers may cache it per function). */
  functionHandle(meta: MetaRecord): ClairvoyantFunction {
    let f = this.fns.get(meta.key);
    if (f === undefined) {
      f = { memGB: meta.memoryInMb / MB_PER_GB, warmMs: this.createMs + meta.initDurationInMs, free: [], busy: [] };
      this.fns.set(meta.key, f);
    }
    return f;
  }

  /** `add` without the record object. */
  addFields(fn: ClairvoyantFunction, startTime: number, durationsInMs: number, statusCode: number): void {
    if (startTime !== this.pendingStart) {
      this.flush();
      this.pendingStart = startTime;
    }
    const i = this.pendingCount++;
    this.pendingFn[i] = fn as FnState;
    this.pendingDur[i] = durationsInMs;
    this.pendingStatus[i] = statusCode;
  }

  finish(): ClairvoyantResult {
    this.flush();
    const execSecs = this.execSecs;
    const scheduleSecs = (this.requests * 2 * this.rpcOverheadMs) / 1000;
    const h = scoreHalves({ execGBs: this.execGBs, slotGBs: this.slotGBs, execSecs, scheduleSecs, successRate: 1 });
    return {
      score: h.score,
      resourceHalf: h.resourceHalf,
      latencyHalf: h.latencyHalf,
      execGBs: this.execGBs,
      slotGBs: this.slotGBs,
      execSecs,
      scheduleSecs,
      requests: this.requests,
      chains: this.chains,
      idleGBs: Math.max(0, this.slotGBs - this.execGBs),
    };
  }

  private flush(): void {
    const n = this.pendingCount;
    if (n === 0) return;
    this.pendingCount = 0;
    const t = this.pendingStart;
    const fns = this.pendingFn;
    const dur = this.pendingDur;
    const status = this.pendingStatus;
    if (n === 1) {
      this.process(fns[0]!, t, dur[0]!, status[0]!);
    } else {
      // Same start: earlier end (shorter) first, then successful before failed; stable otherwise.
      const order = this.pendingOrder;
      order.length = n;
      for (let i = 0; i < n; i++) order[i] = i;
      order.sort((a, b) => {
        const d = dur[a]! - dur[b]!;
        if (d !== 0) return d;
        return (status[a] === OK_STATUS ? 0 : 1) - (status[b] === OK_STATUS ? 0 : 1);
      });
      for (let k = 0; k < n; k++) {
        const i = order[k]!;
        this.process(fns[i]!, t, dur[i]!, status[i]!);
      }
    }
  }

  private process(f: FnState, t: number, d: number, statusCode: number): void {
    // Instances that finished by now become free, in end order so the stack top is the latest.
    while (f.busy.length > 0 && f.busy[0]! <= t) {
      f.free.push(heapPop(f.busy));
    }
    let chargeMs: number;
    if (f.free.length > 0) {
      const freedAt = f.free.pop() as number;
      const gap = t - freedAt;
      chargeMs = gap < f.warmMs ? gap : f.warmMs;
    } else {
      chargeMs = f.warmMs;
      this.chains++;
    }
    this.slotGBs += ((chargeMs + d) / 1000) * f.memGB;
    this.execGBs += (d / 1000) * f.memGB;
    this.execSecs += d / 1000;
    this.requests++;
    // A broken instance is not returned: its chain ends after this request.
    if (statusCode === OK_STATUS) heapPush(f.busy, t + d);
  }
}

/** Convenience: the bound of a whole in-memory trace. */
export function clairvoyantBound(
  requests: Iterable<RequestRecord>,
  metas: Map<string, MetaRecord>,
  opts: ClairvoyantBoundOptions = {},
): ClairvoyantResult {
  const b = new ClairvoyantBound(opts);
  for (const r of requests) {
    const m = metas.get(r.metaKey);
    if (m === undefined) throw new Error(`unknown metaKey ${r.metaKey}`);
    b.add(r, m);
  }
  return b.finish();
}

function heapPush(h: number[], v: number): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (h[parent] <= v) break;
    h[i] = h[parent];
    i = parent;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0];
  const last = h.pop() as number;
  const n = h.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r] < h[l] ? r : l;
      if (h[c] >= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
  return top;
}
