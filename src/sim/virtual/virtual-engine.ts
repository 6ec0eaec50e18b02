import { performance } from 'node:perf_hooks';
import type { Clock } from '../../core/clock.js';
import type { ScalingPolicy } from '../../core/policy.js';
import { ScalerCore } from '../../core/scaler-core.js';
import type { AssignCallback, FunctionMeta } from '../../core/types.js';
import { VirtualClock } from '../../core/virtual-clock.js';
import { ClairvoyantBound, type ClairvoyantBoundOptions, type ClairvoyantFunction, type ClairvoyantResult } from '../scoring/clairvoyant-bound.js';
import { forEachRequestFieldsSync, forEachRequestSync, loadMetasSync } from '../datasets/dataset-loader.js';
import { forEachRequestFieldsParallel, forEachRequestFieldsWithBound } from '../datasets/parallel-request-source.js';
import type { MetaRecord, RequestRecord } from '../contest/dataset-types.js';
import type { TraceWindow } from '../datasets/trace-window.js';
import { ScoreBook, type ScoreBookFunction, type ScoreReport } from '../scoring/score-book.js';
import { DEFAULT_CREATE_LATENCY_MS } from '../contest/contest-platform.js';
import { RequestClass } from '../scoring/cost-split.js';
import { DEFAULT_PLATFORM_RPC_MS, VirtualPlatform, type VirtualFaults, type VirtualSlot } from './virtual-platform.js';
import { DEFAULT_CALL_OVERHEAD, meanCallOverheadMs, type CallOverhead } from './call-overhead.js';

/** The official simulator charges slots until about 5 minutes after the last request. */
export const DEFAULT_VIRTUAL_TAIL_MS = 300_000;
export const OK_STATUS_CODE = 200;

/** Visits one request's fields (no record object). */
export type RequestFieldsFn = (startTime: number, meta: MetaRecord, durationsInMs: number, statusCode: number) => void;

/** A trace: its metas and a way to visit its requests in start order, once. */
export interface RequestSource {
  readonly name: string;
  readonly metas: Map<string, MetaRecord>;
  forEach(fn: (req: RequestRecord, meta: MetaRecord) => void): void;
  /** Same visit without a record per request; the engine prefers it when present. */
  forEachFields?(fn: RequestFieldsFn): void;
  /**
   * `forEachFields` that also returns the trace's clairvoyant bound, computed on the way (by the
   * thread that parses a large trace); the engine prefers it when it needs the bound.
   */
  forEachFieldsWithBound?(fn: RequestFieldsFn, bound: ClairvoyantBoundOptions): ClairvoyantResult;
}

/**
 * A dataset folder as a request source. With a window, only its requests (read in this thread:
 * the parsing worker and the bound it computes see whole files).
 */
export function datasetSource(dir: string, window?: TraceWindow): RequestSource {
  const metas = loadMetasSync(dir);
  const name = dir.replace(/\/+$/, '').split('/').pop() ?? dir;
  if (window !== undefined) {
    return {
      name,
      metas,
      forEach: (fn) => void forEachRequestSync(dir, metas, (r, m) => fn(r, m), window),
      forEachFields: (fn) => void forEachRequestFieldsSync(dir, metas, fn, window),
    };
  }
  return {
    name,
    metas,
    forEach: (fn) => void forEachRequestSync(dir, metas, (r, m) => fn(r, m)),
    // Large traces are parsed by a worker thread while this one replays them.
    forEachFields: (fn) => void forEachRequestFieldsParallel(dir, metas, fn),
    forEachFieldsWithBound: (fn, bound) => forEachRequestFieldsWithBound(dir, metas, fn, bound).bound,
  };
}

export function memorySource(name: string, metas: Map<string, MetaRecord> | readonly MetaRecord[], requests: readonly RequestRecord[]): RequestSource {
  const map = metas instanceof Map ? metas : new Map(metas.map((m) => [m.key, m]));
  return {
    name,
    metas: map,
    forEach(fn) {
      for (const r of requests) {
        const m = map.get(r.metaKey);
        if (m === undefined) throw new Error(`${name}: request for unknown metaKey "${r.metaKey}"`);
        fn(r, m);
      }
    },
  };
}

export interface VirtualRunOptions {
  source: RequestSource;
  /** A fresh policy (policies keep per-function state). */
  policy: ScalingPolicy;
  createLatencyMs?: number;
  /** Platform call round trip, ms. */
  platformRpcMs?: number;
  /** The per-call floor of Assign and Idle (default: measured on the live path, call-overhead.ts). */
  callOverhead?: CallOverhead;
  tailMs?: number;
  faults?: VirtualFaults;
  /** Faults that need the run's virtual clock (e.g. outages in time); wins over `faults`. */
  faultsFor?: (clock: Clock) => VirtualFaults;
  /** Compute the clairvoyant bound in the same pass (default true). */
  bound?: boolean;
  /** Called every ~65k requests with the count so far (progress bars). */
  onProgress?: (requests: number) => void;
}

export interface VirtualRunResult {
  readonly dataset: string;
  readonly policy: string;
  readonly report: ScoreReport;
  readonly bound: ClairvoyantResult | undefined;
  /** failure reason -> count */
  readonly failures: Record<string, number>;
  readonly requests: number;
  readonly wallMs: number;
  readonly requestsPerSec: number;
  /** Slots alive at the end that the scaler no longer tracked (leaked): must be 0. */
  readonly leakedSlots: number;
  readonly liveSlotsAtEnd: number;
}

/** Per function: what each of its requests needs, looked up once per request. */
interface FnCtx {
  readonly meta: MetaRecord;
  readonly fmeta: FunctionMeta;
  /** Created at the function's first completed request, as `ScoreBook.onRequest` would. */
  book: ScoreBookFunction | undefined;
  readonly bound: ClairvoyantFunction | undefined;
}

/**
 * One request in flight. Pooled: the engine allocates one per concurrent request, not one per
 * request, and its two callbacks and its request id are created with it.
 */
class Req {
  /**
   * Unique among the requests in flight, which is what the core's duplicate-Assign guard
   * needs; reused by later requests (a fresh string per request, hashed anew in the core's
   * sets, cost ~7% of a replay). Safe because the engine never repeats an Idle, the only call
   * whose answer could depend on an id seen before (the core's release tombstones).
   */
  readonly rid: string;
  ctx: FnCtx | undefined = undefined;
  arrivedAt = 0;
  dur = 0;
  statusCode = 0;
  assignLatency = 0;
  coldStart = false;
  /** How it was served (the score book's cost split). */
  cls: RequestClass = RequestClass.Unclassified;
  iid = '';
  slot: VirtualSlot | undefined = undefined;
  /** Waiting for its Assign answer (guards against a double callback from a buggy core). */
  assigning = false;
  readonly onAssigned: AssignCallback;
  readonly onDone: () => void;

  constructor(run: VirtualRun, index: number) {
    this.rid = `r${index}`;
    this.onAssigned = (err, iid) => run.assigned(this, err, iid);
    this.onDone = () => run.done(this);
  }
}

/** The mutable twins of the core's inputs: the core reads them synchronously and keeps nothing. */
interface MutableAssignInput {
  requestId: string;
  meta: FunctionMeta;
}
interface MutableIdleInput {
  requestId: string;
  metaKey: string;
  instanceId: string;
  needDestroy: boolean;
  durationMs: number;
}

const READY = 2;

class VirtualRun {
  readonly clock = new VirtualClock(0);
  readonly book: ScoreBook;
  /** The bound computed in process, as the requests pass (sources without `forEachFieldsWithBound`)... */
  readonly bound: ClairvoyantBound | undefined;
  /** ...or by the source while it reads the trace (then `bound` is undefined). */
  readonly sourceBoundOpts: ClairvoyantBoundOptions | undefined;
  readonly platform: VirtualPlatform;
  readonly core: ScalerCore;
  readonly failures: Record<string, number> = {};
  outstanding = 0;
  count = 0;
  lastDoneAt = 0;
  /** Per-call floors (ms) and what an execution adds on the scaler's clock besides its duration. */
  private readonly assignMs: number;
  private readonly idleMs: number;
  private readonly execToRelease: number;
  private readonly ctxs = new Map<MetaRecord, FnCtx>();
  private readonly free: Req[] = [];
  /** `Req`s created (the peak of concurrent requests). */
  private reqs = 0;
  private readonly assignIn: MutableAssignInput = { requestId: '', meta: { key: '', runtime: '', timeoutInSecs: 0, memoryMb: 0 } };
  private readonly idleIn: MutableIdleInput = { requestId: '', metaKey: '', instanceId: '', needDestroy: false, durationMs: 0 };
  private origin = NaN;

  constructor(
    private readonly opts: VirtualRunOptions,
    source: RequestSource,
  ) {
    const overhead = opts.callOverhead ?? DEFAULT_CALL_OVERHEAD;
    this.assignMs = overhead.assignMs;
    this.idleMs = overhead.idleMs;
    // The virtual clock is the scaler's: an Assign reply reaches the caller half an Assign later,
    // which then executes, and its Idle reaches the scaler half an Idle after the execution ends.
    this.execToRelease = (overhead.assignMs + overhead.idleMs) / 2;
    const createMs = opts.createLatencyMs ?? DEFAULT_CREATE_LATENCY_MS;
    this.book = new ScoreBook({ originMs: 0, createLatencyMs: createMs });
    const boundOpts = { createMs, rpcOverheadMs: meanCallOverheadMs(overhead) };
    const wantBound = opts.bound !== false;
    this.sourceBoundOpts = wantBound && source.forEachFieldsWithBound !== undefined ? boundOpts : undefined;
    this.bound = !wantBound || this.sourceBoundOpts !== undefined ? undefined : new ClairvoyantBound(boundOpts);
    this.platform = new VirtualPlatform({
      clock: this.clock,
      initDurationMs: (key) => source.metas.get(key)?.initDurationInMs ?? 0,
      createLatencyMs: createMs,
      rpcMs: opts.platformRpcMs ?? DEFAULT_PLATFORM_RPC_MS,
      listener: this.book,
      faults: opts.faultsFor !== undefined ? opts.faultsFor(this.clock) : opts.faults,
    });
    this.core = new ScalerCore({
      clock: this.clock,
      platform: this.platform,
      policy: opts.policy,
      instanceIdPrefix: 'v',
      // rpcOverheadMs: the core's own default, as in the live scaler, so that both make the
      // same decisions whatever floor the simulator charges.
      // Request ids are the engine's own, never reused while their request is in flight.
      uniqueRequestIds: true,
    });
    for (const m of source.metas.values()) {
      this.ctxs.set(m, {
        meta: m,
        fmeta: { key: m.key, runtime: m.runtime, timeoutInSecs: m.timeoutInSecs, memoryMb: m.memoryInMb },
        book: undefined,
        bound: this.bound?.functionHandle(m),
      });
    }
  }

  /** One trace request arrives (trace order). */
  arrive(startTime: number, meta: MetaRecord, durationsInMs: number, statusCode: number): void {
    if (this.origin !== this.origin) this.origin = startTime;
    const t = startTime - this.origin;
    this.clock.runUntil(t);
    let ctx = this.ctxs.get(meta);
    if (ctx === undefined) {
      // A meta object the source did not list (memory sources given equal copies): by key.
      const known = this.opts.source.metas.get(meta.key);
      ctx = known === undefined ? undefined : this.ctxs.get(known);
      if (ctx === undefined) throw new Error(`request for unknown metaKey "${meta.key}"`);
    }
    if (ctx.bound !== undefined) (this.bound as ClairvoyantBound).addFields(ctx.bound, startTime, durationsInMs, statusCode);
    const r = this.free.pop() ?? new Req(this, this.reqs++);
    r.ctx = ctx;
    r.arrivedAt = t;
    r.dur = durationsInMs;
    r.statusCode = statusCode;
    r.assigning = true;
    this.count++;
    this.outstanding++;
    const input = this.assignIn;
    input.requestId = r.rid;
    input.meta = ctx.fmeta;
    this.core.assign(input, r.onAssigned);
    if ((this.count & 0xffff) === 0) this.opts.onProgress?.(this.count);
  }

  private fail(reason: string): void {
    this.failures[reason] = (this.failures[reason] ?? 0) + 1;
  }

  assigned(r: Req, err: { code: string } | null, iid: string | undefined): void {
    if (!r.assigning) {
      this.fail('assign answered twice');
      return;
    }
    r.assigning = false;
    const now = this.clock.now();
    const assignLatency = now - r.arrivedAt + this.assignMs;
    const coldStart = now > r.arrivedAt;
    r.assignLatency = assignLatency;
    r.coldStart = coldStart;
    r.cls = RequestClass.Failed;
    if (err !== null || iid === undefined) {
      this.fail(`assign error: ${err?.code ?? 'no instance'}`);
      this.finish(r, undefined, true, 0, 0);
      return;
    }
    const ctx = r.ctx as FnCtx;
    const slot = this.platform.instances.get(iid);
    let reason: string | null = null;
    if (slot === undefined) reason = 'unknown or destroyed instance';
    else if (slot.state !== READY) reason = 'instance not initialised';
    else if (slot.key !== ctx.meta.key) reason = 'instance of another function';
    else if (slot.busy) reason = 'instance already busy';
    else if (slot.broken) reason = 'broken instance reused';
    if (reason !== null) {
      this.fail(reason);
      // Give it back so the scaler's books stay straight; the request itself failed.
      const input = this.idleIn;
      input.requestId = r.rid;
      input.metaKey = ctx.meta.key;
      input.instanceId = iid;
      input.needDestroy = false;
      input.durationMs = 0;
      this.core.idle(input);
      this.finish(r, slot, true, 0, 0);
      return;
    }
    const s = slot as VirtualSlot;
    s.busy = true;
    r.iid = iid;
    r.slot = s;
    r.cls = this.book.onExecutionStart(s.id, ctx.meta.key, r.arrivedAt, now + this.assignMs / 2, r.dur);
    this.clock.fire(now + r.dur + this.execToRelease, r.onDone);
  }

  /** The request's execution ended: Idle. */
  done(r: Req): void {
    const s = r.slot as VirtualSlot;
    s.busy = false;
    const needDestroy = r.statusCode !== OK_STATUS_CODE;
    if (needDestroy) s.broken = true;
    const ctx = r.ctx as FnCtx;
    const input = this.idleIn;
    input.requestId = r.rid;
    input.metaKey = ctx.meta.key;
    input.instanceId = r.iid;
    input.needDestroy = needDestroy;
    input.durationMs = r.dur;
    const out = this.core.idle(input);
    if (out !== null) this.fail(`idle error: ${out.code}`);
    this.finish(r, s, out !== null, r.dur, this.idleMs);
  }

  private finish(r: Req, slot: VirtualSlot | undefined, failed: boolean, durationMs: number, idleLatency: number): void {
    const ctx = r.ctx as FnCtx;
    const book = this.book;
    ctx.book ??= book.functionHandle(ctx.meta.key, ctx.meta.memoryInMb);
    // The book binds a slot to the first function recorded on it; later bindings are no-ops.
    let bindSlot: string | undefined;
    if (slot !== undefined && !slot.bound) {
      slot.bound = true;
      bindSlot = slot.id;
    }
    book.recordRequest(ctx.book, ctx.meta.memoryInMb, durationMs, r.assignLatency, idleLatency, failed, r.coldStart, r.arrivedAt + r.assignLatency, bindSlot, r.cls);
    this.outstanding--;
    const now = this.clock.now();
    if (now > this.lastDoneAt) this.lastDoneAt = now;
    r.ctx = undefined;
    r.slot = undefined;
    this.free.push(r);
  }
}

/**
 * Replays a trace against the scaler's own core under a virtual clock and a simulated
 * platform: the same decisions as the live service, without sockets or sleeping. The trace is
 * streamed (memory grows with concurrent requests and instances, not trace length).
 */
export function runVirtual(opts: VirtualRunOptions): VirtualRunResult {
  const started = performance.now();
  const { source } = opts;
  const tailMs = opts.tailMs ?? DEFAULT_VIRTUAL_TAIL_MS;
  const run = new VirtualRun(opts, source);
  const arrive = (startTime: number, meta: MetaRecord, durationsInMs: number, statusCode: number): void =>
    run.arrive(startTime, meta, durationsInMs, statusCode);
  let sourceBound: ClairvoyantResult | undefined;
  if (run.sourceBoundOpts !== undefined) sourceBound = source.forEachFieldsWithBound!(arrive, run.sourceBoundOpts);
  else if (source.forEachFields !== undefined) source.forEachFields(arrive);
  else source.forEach((req, meta) => arrive(req.startTime, meta, req.durationsInMs, req.statusCode));
  const { clock, platform, core, book } = run;
  while (run.outstanding > 0 && clock.step()) {
    /* run until every request has returned its instance */
  }
  const end = run.lastDoneAt + tailMs;
  clock.runUntil(end);
  const report = book.finish(end);
  // Every live slot must be one the scaler still tracks (starting, idle or busy).
  let tracked = 0;
  for (const inst of core.liveInstances.values()) if (inst.slotId !== '' && platform.slots.has(inst.slotId)) tracked++;
  // Finished before `wallMs` is taken: the bound's work is part of the run's time.
  const bound = sourceBound ?? run.bound?.finish();
  const wallMs = performance.now() - started;
  return {
    dataset: source.name,
    policy: opts.policy.name,
    report,
    bound,
    failures: run.failures,
    requests: run.count,
    wallMs,
    requestsPerSec: run.count / (wallMs / 1000),
    leakedSlots: Math.max(0, platform.liveSlots - tracked - pendingDestroyCount(platform, core)),
    liveSlotsAtEnd: platform.liveSlots,
  };
}

/** Slots whose destroy is still in flight are neither leaked nor tracked. */
function pendingDestroyCount(platform: VirtualPlatform, core: ScalerCore): number {
  let n = 0;
  const owned = new Set<string>();
  for (const inst of core.liveInstances.values()) owned.add(inst.slotId);
  for (const s of platform.slots.values()) if (!owned.has(s.id) && s.state !== 3 && core.isDestroying(s.id)) n++;
  return n;
}
