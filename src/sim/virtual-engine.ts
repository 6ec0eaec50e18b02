import { performance } from 'node:perf_hooks';
import type { ScalingPolicy } from '../core/policy.js';
import { ScalerCore } from '../core/scaler-core.js';
import type { FunctionMeta } from '../core/types.js';
import { VirtualClock } from '../core/virtual-clock.js';
import { ClairvoyantBound, type ClairvoyantResult } from './clairvoyant-bound.js';
import { forEachRequestSync, loadMetasSync } from './dataset-loader.js';
import type { MetaRecord, RequestRecord } from './dataset-types.js';
import { ScoreBook, type ScoreReport } from './score-book.js';
import { DEFAULT_CREATE_LATENCY_MS, DEFAULT_PLATFORM_RPC_MS, VirtualPlatform, type VirtualFaults } from './virtual-platform.js';

/** Modelled wall-clock cost of one Assign or Idle call over loopback gRPC, ms. */
export const DEFAULT_SCALER_RPC_MS = 0.5;
/** The official simulator charges slots until about 5 minutes after the last request. */
export const DEFAULT_VIRTUAL_TAIL_MS = 300_000;
export const OK_STATUS_CODE = 200;

/** A trace: its metas and a way to visit its requests in start order, once. */
export interface RequestSource {
  readonly name: string;
  readonly metas: Map<string, MetaRecord>;
  forEach(fn: (req: RequestRecord, meta: MetaRecord) => void): void;
}

export function datasetSource(dir: string): RequestSource {
  const metas = loadMetasSync(dir);
  const name = dir.replace(/\/+$/, '').split('/').pop() ?? dir;
  return { name, metas, forEach: (fn) => void forEachRequestSync(dir, metas, (r, m) => fn(r, m)) };
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
  /** Assign / Idle call overhead, ms. */
  scalerRpcMs?: number;
  tailMs?: number;
  faults?: VirtualFaults;
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

interface Inflight {
  readonly req: RequestRecord;
  readonly meta: MetaRecord;
  readonly fmeta: FunctionMeta;
  readonly rid: string;
  readonly arrivedAt: number;
}

/**
 * Replays a trace against the scaler's own core under a virtual clock and a simulated
 * platform: the same decisions as the live service, without sockets or sleeping. The trace is
 * streamed (memory grows with concurrent instances, not trace length).
 */
export function runVirtual(opts: VirtualRunOptions): VirtualRunResult {
  const started = performance.now();
  const { source } = opts;
  const rpc = opts.scalerRpcMs ?? DEFAULT_SCALER_RPC_MS;
  const tailMs = opts.tailMs ?? DEFAULT_VIRTUAL_TAIL_MS;
  const clock = new VirtualClock(0);
  let origin = NaN;
  const book = new ScoreBook({ originMs: 0 });
  const bound = opts.bound === false ? undefined : new ClairvoyantBound({ createMs: opts.createLatencyMs ?? DEFAULT_CREATE_LATENCY_MS, rpcOverheadMs: rpc });
  const platform = new VirtualPlatform({
    clock,
    initDurationMs: (key) => source.metas.get(key)?.initDurationInMs ?? 0,
    createLatencyMs: opts.createLatencyMs ?? DEFAULT_CREATE_LATENCY_MS,
    rpcMs: opts.platformRpcMs ?? DEFAULT_PLATFORM_RPC_MS,
    listener: book,
    faults: opts.faults,
  });
  const core = new ScalerCore({ clock, platform, policy: opts.policy, instanceIdPrefix: 'v', rpcOverheadMs: 2 * rpc });
  const fmetas = new Map<string, FunctionMeta>();
  for (const m of source.metas.values()) {
    fmetas.set(m.key, { key: m.key, runtime: m.runtime, timeoutInSecs: m.timeoutInSecs, memoryMb: m.memoryInMb });
  }
  const busy = new Set<string>();
  const broken = new Set<string>();
  const failures: Record<string, number> = {};
  let outstanding = 0;
  let count = 0;
  let lastDoneAt = 0;

  const fail = (reason: string): void => {
    failures[reason] = (failures[reason] ?? 0) + 1;
  };

  const finishRequest = (f: Inflight, assignLatency: number, iid: string, slotId: string | undefined, failed: boolean, durationMs: number, coldStart: boolean, idleLatency: number): void => {
    book.onRequest({
      metaKey: f.meta.key,
      memoryMb: f.meta.memoryInMb,
      durationMs,
      assignLatencyMs: assignLatency,
      idleLatencyMs: idleLatency,
      failed,
      coldStart,
      atMs: f.arrivedAt + assignLatency,
      slotId,
    });
    void iid;
    outstanding--;
    const now = clock.now();
    if (now > lastDoneAt) lastDoneAt = now;
  };

  const onAssigned = (f: Inflight, err: { code: string } | null, iid: string | undefined): void => {
    const now = clock.now();
    const assignLatency = now - f.arrivedAt + rpc;
    const coldStart = now > f.arrivedAt;
    if (err !== null || iid === undefined) {
      fail(`assign error: ${err?.code ?? 'no instance'}`);
      finishRequest(f, assignLatency, '', undefined, true, 0, coldStart, 0);
      return;
    }
    const slot = platform.instances.get(iid);
    let reason: string | null = null;
    if (slot === undefined) reason = 'unknown or destroyed instance';
    else if (slot.state !== 2) reason = 'instance not initialised';
    else if (slot.key !== f.meta.key) reason = 'instance of another function';
    else if (busy.has(iid)) reason = 'instance already busy';
    else if (broken.has(iid)) reason = 'broken instance reused';
    if (reason !== null) {
      fail(reason);
      // Give it back so the scaler's books stay straight; the request itself failed.
      core.idle({ requestId: f.rid, metaKey: f.meta.key, instanceId: iid, needDestroy: false, durationMs: 0 });
      finishRequest(f, assignLatency, iid, slot?.id, true, 0, coldStart, 0);
      return;
    }
    busy.add(iid);
    const slotId = slot!.id;
    const dur = f.req.durationsInMs;
    clock.schedule(now + rpc + dur, () => {
      busy.delete(iid);
      const needDestroy = f.req.statusCode !== OK_STATUS_CODE;
      if (needDestroy) broken.add(iid);
      const out = core.idle({ requestId: f.rid, metaKey: f.meta.key, instanceId: iid, needDestroy, durationMs: dur });
      if (out !== null) fail(`idle error: ${out.code}`);
      finishRequest(f, assignLatency, iid, slotId, out !== null, dur, coldStart, rpc);
    });
  };

  source.forEach((req, meta) => {
    if (Number.isNaN(origin)) origin = req.startTime;
    const t = req.startTime - origin;
    clock.runUntil(t);
    bound?.add(req, meta);
    const f: Inflight = { req, meta, fmeta: fmetas.get(meta.key)!, rid: `r${count}`, arrivedAt: t };
    count++;
    outstanding++;
    core.assign({ requestId: f.rid, meta: f.fmeta }, (err, iid) => onAssigned(f, err, iid));
    if ((count & 0xffff) === 0) opts.onProgress?.(count);
  });
  while (outstanding > 0 && clock.step()) {
    /* run until every request has returned its instance */
  }
  const end = lastDoneAt + tailMs;
  clock.runUntil(end);
  const report = book.finish(end);
  // Every live slot must be one the scaler still tracks (starting, idle or busy).
  let tracked = 0;
  for (const inst of core.liveInstances.values()) if (inst.slotId !== '' && platform.slots.has(inst.slotId)) tracked++;
  const wallMs = performance.now() - started;
  return {
    dataset: source.name,
    policy: opts.policy.name,
    report,
    bound: bound?.finish(),
    failures,
    requests: count,
    wallMs,
    requestsPerSec: count / (wallMs / 1000),
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
