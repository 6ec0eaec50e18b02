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
import type { MetaRecord, RequestRecord } from './dataset-types.js';
import { MB_PER_GB, scoreHalves } from './score-book.js';

export const DEFAULT_CREATE_MS = 100;
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

interface FnState {
  readonly memGB: number;
  readonly warmMs: number;
  /** freedAt of idle healthy instances; top = most recently freed. */
  readonly free: number[];
  /** Min-heap of end times of healthy busy instances. */
  readonly busy: number[];
}

interface Pending {
  readonly req: RequestRecord;
  readonly meta: MetaRecord;
}

export class ClairvoyantBound {
  private readonly createMs: number;
  private readonly rpcOverheadMs: number;
  private readonly fns = new Map<string, FnState>();
  private pending: Pending[] = [];
  private pendingStart = -Infinity;
  private execGBs = 0;
  private execSecs = 0;
  private slotGBs = 0;
  private requests = 0;
  private chains = 0;

  constructor(opts: ClairvoyantBoundOptions = {}) {
    this.createMs = opts.createMs ?? DEFAULT_CREATE_MS;
    this.rpcOverheadMs = opts.rpcOverheadMs ?? 0;
  }

  /** Requests must come in non-decreasing startTime order (as the loader guarantees). */
  add(req: RequestRecord, meta: MetaRecord): void {
    if (req.startTime !== this.pendingStart) {
      this.flush();
      this.pendingStart = req.startTime;
    }
    this.pending.push({ req, meta });
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
    const p = this.pending;
    if (p.length === 0) return;
    if (p.length > 1) {
      p.sort((a, b) => {
        const d = a.req.durationsInMs - b.req.durationsInMs; // same start: earlier end = shorter
        if (d !== 0) return d;
        return (a.req.statusCode === OK_STATUS ? 0 : 1) - (b.req.statusCode === OK_STATUS ? 0 : 1);
      });
    }
    for (let i = 0; i < p.length; i++) this.process(p[i].req, p[i].meta);
    this.pending = [];
  }

  private process(req: RequestRecord, meta: MetaRecord): void {
    let f = this.fns.get(req.metaKey);
    if (f === undefined) {
      f = { memGB: meta.memoryInMb / MB_PER_GB, warmMs: this.createMs + meta.initDurationInMs, free: [], busy: [] };
      this.fns.set(req.metaKey, f);
    }
    const t = req.startTime;
    // Instances that finished by now become free, in end order so the stack top is the latest.
    while (f.busy.length > 0 && f.busy[0] <= t) {
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
    const d = req.durationsInMs;
    this.slotGBs += ((chargeMs + d) / 1000) * f.memGB;
    this.execGBs += (d / 1000) * f.memGB;
    this.execSecs += d / 1000;
    this.requests++;
    // A broken instance is not returned: its chain ends after this request.
    if (req.statusCode === OK_STATUS) heapPush(f.busy, t + d);
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
