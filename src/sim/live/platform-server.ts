/**
 * The contest's `Platform` gRPC service, emulated for live runs: slots, instances, their costs.
 *
 * Every failure is answered as a non-Ok `Status` with an `errorMessage`, never as a gRPC error,
 * because that is how the official simulator talks to scalers and what their retry logic reads.
 * The ledger (`slots`, `instances`) is public so the replayer can validate assignments against
 * what the platform actually created, exactly as the closed simulator does.
 */
import * as grpc from '@grpc/grpc-js';
import { loadProto, Status } from '../../wire/proto.js';
import type { MetaMsg } from '../../wire/proto.js';
import type { CreateSlotRequest__Output } from '../../wire/generated/serverless/simulator/CreateSlotRequest.js';
import type { CreateSlotReply } from '../../wire/generated/serverless/simulator/CreateSlotReply.js';
import type { InitRequest__Output } from '../../wire/generated/serverless/simulator/InitRequest.js';
import type { InitReply } from '../../wire/generated/serverless/simulator/InitReply.js';
import type { DestroySlotRequest__Output } from '../../wire/generated/serverless/simulator/DestroySlotRequest.js';
import type { DestroySlotReply } from '../../wire/generated/serverless/simulator/DestroySlotReply.js';
import type { PlatformHandlers } from '../../wire/proto.js';
import type { MetaRecord } from '../contest/dataset-types.js';
import { DEFAULT_CREATE_LATENCY_MS } from '../contest/contest-platform.js';
import { DEFAULT_PLATFORM_ADDRESS } from '../../config.js';

/** How long `close()` lets in-flight calls finish before cutting them. */
export const PLATFORM_SHUTDOWN_GRACE_MS = 2_000;

/** A status value as the wire carries it (`Status.Ok` ... `Status.InvalidAssigment`). */
export type StatusCode = (typeof Status)[keyof typeof Status];

/** Time source for slot/instance timestamps (ms epoch; fractional allowed). */
export interface WallClock {
  now(): number;
}

/** Monotonic ms epoch: `Date.now()` may step backwards under NTP, which would corrupt costs. */
export const monotonicClock: WallClock = {
  now: () => performance.timeOrigin + performance.now(),
};

/** Only the slot-cost part of the ScoreBook: the platform is what knows slot lifetimes. */
export interface SlotCostSink {
  onSlotCreated(slotId: string, memoryMb: number, atMs: number): void;
  onSlotDestroyed(slotId: string, atMs: number): void;
  /** Attributes the slot to a function once `Init` succeeded, at `atMs` (per-function breakdown, cost split). */
  onSlotBound?(slotId: string, metaKey: string, atMs?: number): void;
}

/** What a fault injector decides for one call; `undefined` means "behave normally". */
export interface FaultDecision {
  /** Answer this non-Ok status instead of doing the work (the call has no effect). */
  readonly status?: StatusCode;
  readonly errorMessage?: string;
  /** Extra latency added before the call is processed (or before the fault is answered). */
  readonly extraDelayMs?: number;
}

/** Hook for fault scenarios (throttling, slow creates, failing inits). Every method optional. */
export interface FaultInjector {
  createSlot?(req: CreateSlotRequest__Output): FaultDecision | undefined;
  init?(req: InitRequest__Output): FaultDecision | undefined;
  destroySlot?(req: DestroySlotRequest__Output): FaultDecision | undefined;
}

/** What the platform knows about a function at `Init` time. */
export interface FunctionSpec {
  readonly memoryMb: number;
  readonly initDurationMs: number;
}

/**
 * Resolves the function named by an `InitRequest`. `undefined` = unknown function
 * (answered `InvalidArgument`). Load tests plug in a resolver that accepts any key.
 */
export type FunctionResolver = (meta: MetaMsg) => FunctionSpec | undefined;

/**
 * Every change of the ledger, in the order it happens, for a mirror in another thread
 * (`ThreadedPlatform`). Called right after the change; `initReady` is called before the `Init`
 * reply is handed to gRPC, so a mirror fed synchronously from here never lags the scaler's view.
 */
export interface LedgerListener {
  slotCreated(slot: SlotEntry): void;
  initStarted(instance: InstanceEntry): void;
  initReady(instance: InstanceEntry): void;
  /** An `Init` answered non-Ok while its instance was initialising (see `init`). */
  initFailed(slotId: string): void;
  slotDestroyed(slot: SlotEntry): void;
}

export interface PlatformServerOptions {
  /** `host:port`; port 0 binds an ephemeral port (read `port` after `start()`). */
  readonly address?: string;
  readonly createLatencyMs?: number;
  /** Functions of the dataset, used by the default resolver (memory + init duration by key). */
  readonly metas?: ReadonlyMap<string, MetaRecord> | Iterable<MetaRecord>;
  /**
   * Overrides the init duration. Combined with the default resolver when `metas` is given;
   * alone, it accepts any key and trusts the request's `memoryInMb`.
   */
  readonly initDurationMs?: (meta: MetaMsg) => number;
  /** Full override of function resolution (memory check + init duration). */
  readonly resolveFunction?: FunctionResolver;
  readonly scoreBook?: SlotCostSink;
  readonly faults?: FaultInjector;
  readonly clock?: WallClock;
  readonly ledgerListener?: LedgerListener;
}

export type SlotState = 'created' | 'initialising' | 'ready' | 'destroyed';
export type InstanceState = 'initialising' | 'ready' | 'destroyed';

export interface SlotEntry {
  readonly slotId: string;
  readonly memoryMb: number;
  readonly createdAtMs: number;
  state: SlotState;
  destroyedAtMs?: number;
  instanceId?: string;
  /** Set when an `Init` failed on this slot: the scaler may still destroy it, nobody can use it. */
  initFailed: boolean;
}

export interface InstanceEntry {
  readonly instanceId: string;
  readonly slotId: string;
  readonly metaKey: string;
  readonly memoryMb: number;
  state: InstanceState;
  /** When `Init` answered Ok (platform clock); undefined while initialising. */
  readyAtMs?: number;
  /** Request currently executing on the instance (set by the replayer). */
  busyRequestId?: string;
  /** A request with a non-200 status ran on it: any further use is a failure. */
  broken: boolean;
}

export interface LeakCheck {
  /** Slots not destroyed. */
  readonly liveSlotIds: string[];
  /**
   * Live slots the scaler cannot be using: not in `trackedSlotIds` when given; otherwise the
   * orphans (never successfully initialised, or holding a broken instance it was told to destroy).
   */
  readonly leakedSlotIds: string[];
}

/**
 * Live slots and the leaked ones: not in `trackedSlotIds` when the scaler says what it tracks,
 * else never initialised, failed its Init, or holding a broken instance (nobody can serve from it).
 */
export function leakCheckOf(
  slots: ReadonlyMap<string, SlotEntry>,
  instances: ReadonlyMap<string, InstanceEntry>,
  trackedSlotIds?: Iterable<string>,
): LeakCheck {
  const tracked = trackedSlotIds === undefined ? undefined : new Set(trackedSlotIds);
  const liveSlotIds: string[] = [];
  const leakedSlotIds: string[] = [];
  for (const s of slots.values()) {
    if (s.state === 'destroyed') continue;
    liveSlotIds.push(s.slotId);
    let leaked: boolean;
    if (tracked !== undefined) leaked = !tracked.has(s.slotId);
    else {
      const inst = s.instanceId === undefined ? undefined : instances.get(s.instanceId);
      leaked = s.state === 'created' || s.initFailed || inst === undefined || inst.broken;
    }
    if (leaked) leakedSlotIds.push(s.slotId);
  }
  return { liveSlotIds, leakedSlotIds };
}

interface PendingInit {
  readonly timer: NodeJS.Timeout;
  readonly answer: (reply: InitReply) => void;
}

function statusName(s: StatusCode): string {
  for (const [k, v] of Object.entries(Status)) if (v === s) return k;
  return String(s);
}

function sleep(ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function defaultResolver(opts: PlatformServerOptions): FunctionResolver {
  if (opts.resolveFunction !== undefined) return opts.resolveFunction;
  const initOverride = opts.initDurationMs;
  let metas: ReadonlyMap<string, MetaRecord> | undefined;
  if (opts.metas !== undefined) {
    if (opts.metas instanceof Map) metas = opts.metas as ReadonlyMap<string, MetaRecord>;
    else {
      const m = new Map<string, MetaRecord>();
      for (const r of opts.metas as Iterable<MetaRecord>) m.set(r.key, r);
      metas = m;
    }
  }
  return (meta) => {
    const known = metas?.get(meta.key);
    if (known !== undefined) {
      return { memoryMb: known.memoryInMb, initDurationMs: initOverride?.(meta) ?? known.initDurationInMs };
    }
    // Without a dataset (load tests) any key is accepted, on the request's word for its memory.
    if (metas === undefined || initOverride !== undefined) {
      return { memoryMb: meta.memoryInMb, initDurationMs: initOverride?.(meta) ?? 0 };
    }
    return undefined;
  };
}

type PlatformMethodName = 'CreateSlot' | 'Init' | 'DestroySlot';

export class PlatformServer {
  readonly slots = new Map<string, SlotEntry>();
  readonly instances = new Map<string, InstanceEntry>();
  /** Calls answered per method and status name, e.g. `counts.Init.NotFound`. */
  readonly callCounts: Record<'CreateSlot' | 'Init' | 'DestroySlot', Record<string, number>> = {
    CreateSlot: {},
    Init: {},
    DestroySlot: {},
  };
  /** Calls being handled now, per method. */
  readonly inFlight: Record<PlatformMethodName, number> = { CreateSlot: 0, Init: 0, DestroySlot: 0 };
  /**
   * The most calls handled at once, per method and for `CreateSlot` + `Init` together (a
   * scaler's cold starts in flight, as the platform sees them): what bounding a client shows.
   */
  readonly peakInFlight: Record<PlatformMethodName | 'CreateSlot+Init', number> = { CreateSlot: 0, Init: 0, DestroySlot: 0, 'CreateSlot+Init': 0 };
  /**
   * Calls whose caller was gone (connection reset, cancelled) by the time they were answered:
   * what a scaler sees as calls cut mid-call. A cut CreateSlot made no slot (see `createSlot`);
   * a cut Init finished on the platform, but nobody learned it did.
   */
  readonly cutCalls: Record<'CreateSlot' | 'Init', number> = { CreateSlot: 0, Init: 0 };

  private readonly address: string;
  private readonly createLatencyMs: number;
  private readonly resolve: FunctionResolver;
  private readonly faults: FaultInjector | undefined;
  private readonly clock: WallClock;
  private scoreBook: SlotCostSink | undefined;
  private readonly ledger: LedgerListener | undefined;
  private server: grpc.Server | undefined;
  private boundPort = 0;
  private nextSlot = 1;
  private liveSlots = 0;
  private readonly pendingInits = new Map<string, PendingInit>();
  private readonly pendingCreates = new Set<NodeJS.Timeout>();

  constructor(opts: PlatformServerOptions = {}) {
    this.address = opts.address ?? DEFAULT_PLATFORM_ADDRESS;
    this.createLatencyMs = opts.createLatencyMs ?? DEFAULT_CREATE_LATENCY_MS;
    this.resolve = defaultResolver(opts);
    this.faults = opts.faults;
    this.clock = opts.clock ?? monotonicClock;
    this.scoreBook = opts.scoreBook;
    this.ledger = opts.ledgerListener;
  }

  /**
   * `InstanceLedger` (replayer.ts): this ledger is mutated in the replayer's own thread, so it is
   * always current and validations run at once.
   */
  mark(): number {
    return 0;
  }

  at(_mark: number, fn: () => void): void {
    fn();
  }

  /** Bound port (after `start()`). */
  get port(): number {
    return this.boundPort;
  }

  /** `host:port` with the bound port, for clients. */
  get target(): string {
    const host = this.address.slice(0, this.address.lastIndexOf(':'));
    return `${host}:${this.boundPort}`;
  }

  get liveSlotCount(): number {
    return this.liveSlots;
  }

  get createdSlotCount(): number {
    return this.slots.size;
  }

  /** Stop (or redirect) cost recording, e.g. once the run's score has been finalised. */
  detachScoreBook(): void {
    this.scoreBook = undefined;
  }

  /**
   * Records slot costs into `book` from now on (the next dataset of a series). Slots created
   * before are unknown to it, so their later destroys are not charged to the new dataset.
   */
  attachScoreBook(book: SlotCostSink): void {
    this.scoreBook = book;
  }

  async start(): Promise<number> {
    if (this.server !== undefined) throw new Error('PlatformServer already started');
    const proto = loadProto();
    const server = new grpc.Server();
    const handlers: PlatformHandlers = {
      CreateSlot: (call, cb) => {
        this.enter('CreateSlot');
        this.createSlot(call).then(
          (reply) => this.leave('CreateSlot', () => cb(null, reply)),
          (e: unknown) => this.leave('CreateSlot', () => cb(null, this.fail('CreateSlot', Status.InternalError, `internal error: ${String(e)}`))),
        );
      },
      Init: (call, cb) => {
        this.enter('Init');
        this.init(call).then(
          (reply) => this.leave('Init', () => cb(null, reply)),
          (e: unknown) => this.leave('Init', () => cb(null, this.fail('Init', Status.InternalError, `internal error: ${String(e)}`))),
        );
      },
      DestroySlot: (call, cb) => {
        this.enter('DestroySlot');
        this.destroySlot(call.request).then(
          (reply) => this.leave('DestroySlot', () => cb(null, reply)),
          (e: unknown) => this.leave('DestroySlot', () => cb(null, this.fail('DestroySlot', Status.InternalError, `internal error: ${String(e)}`))),
        );
      },
    };
    server.addService(proto.serverless.simulator.Platform.service, handlers);
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(this.address, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err !== null) reject(new Error(`PlatformServer cannot bind ${this.address}: ${err.message}`));
        else resolve(port);
      });
    });
    this.server = server;
    return this.boundPort;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const t of this.pendingCreates) clearTimeout(t);
    this.pendingCreates.clear();
    for (const [slotId, p] of this.pendingInits) {
      clearTimeout(p.timer);
      p.answer(this.fail('Init', Status.InternalError, `platform shutting down: init on slot ${slotId} aborted`));
    }
    this.pendingInits.clear();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, PLATFORM_SHUTDOWN_GRACE_MS);
      force.unref();
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  /** Live slots, and those the scaler has visibly lost (see `LeakCheck`). */
  leakCheck(trackedSlotIds?: Iterable<string>): LeakCheck {
    return leakCheckOf(this.slots, this.instances, trackedSlotIds);
  }

  // ------------------------------------------------------------------------------------------

  /** Forgets the peaks (e.g. after a warm-up): they restart from the calls in flight now. */
  resetPeaks(): void {
    const f = this.inFlight;
    Object.assign(this.peakInFlight, { ...f, 'CreateSlot+Init': f.CreateSlot + f.Init });
  }

  private enter(method: PlatformMethodName): void {
    const f = this.inFlight;
    const p = this.peakInFlight;
    if (++f[method] > p[method]) p[method] = f[method];
    if (f.CreateSlot + f.Init > p['CreateSlot+Init']) p['CreateSlot+Init'] = f.CreateSlot + f.Init;
  }

  /** The call is over once its answer is handed to grpc-js: a client may send its next call at once. */
  private leave(method: PlatformMethodName, answer: () => void): void {
    this.inFlight[method]--;
    answer();
  }

  private count(method: PlatformMethodName, status: StatusCode): void {
    const byStatus = this.callCounts[method];
    const k = statusName(status);
    byStatus[k] = (byStatus[k] ?? 0) + 1;
  }

  private fail(method: 'CreateSlot' | 'Init' | 'DestroySlot', status: StatusCode, errorMessage: string): { status: StatusCode; errorMessage: string } {
    this.count(method, status);
    return { status, errorMessage };
  }

  private async applyFault(decision: FaultDecision | undefined): Promise<FaultDecision | undefined> {
    if (decision === undefined) return undefined;
    if (decision.extraDelayMs !== undefined && decision.extraDelayMs > 0) await sleep(decision.extraDelayMs);
    return decision.status !== undefined && decision.status !== Status.Ok ? decision : undefined;
  }

  private async createSlot(call: grpc.ServerUnaryCall<CreateSlotRequest__Output, CreateSlotReply>): Promise<CreateSlotReply> {
    const req = call.request;
    const memoryMb = req.resourceConfig?.memoryInMegabytes ?? 0;
    const fault = await this.applyFault(this.faults?.createSlot?.(req));
    if (fault !== undefined) {
      return this.fail('CreateSlot', fault.status as StatusCode, fault.errorMessage ?? `CreateSlot ${statusName(fault.status as StatusCode)} (injected)`);
    }
    if (!Number.isFinite(memoryMb) || memoryMb <= 0) {
      return this.fail('CreateSlot', Status.InvalidArgument, `CreateSlot ${req.requestId}: resourceConfig.memoryInMegabytes must be > 0 (got ${memoryMb})`);
    }
    const startedAt = this.clock.now();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.pendingCreates.delete(t);
        resolve();
      }, this.createLatencyMs);
      t.unref();
      this.pendingCreates.add(t);
    });
    // A caller that gave up (deadline, cancel) never learns the id: creating the slot anyway
    // would charge the scaler for a slot it cannot destroy.
    if (call.cancelled) {
      this.cutCalls.CreateSlot++;
      return this.fail('CreateSlot', Status.InternalError, `CreateSlot ${req.requestId}: call cancelled before the slot was created`);
    }
    const now = this.clock.now();
    const slotId = `slot-${this.nextSlot++}`;
    const created: SlotEntry = { slotId, memoryMb, createdAtMs: now, state: 'created', initFailed: false };
    this.slots.set(slotId, created);
    this.liveSlots++;
    this.ledger?.slotCreated(created);
    this.scoreBook?.onSlotCreated(slotId, memoryMb, now);
    this.count('CreateSlot', Status.Ok);
    return {
      status: Status.Ok,
      slot: {
        id: slotId,
        resourceConfig: { memoryInMegabytes: memoryMb },
        createTime: Math.floor(now),
        createDurationInMs: Math.round(now - startedAt),
      },
    };
  }

  private async init(call: grpc.ServerUnaryCall<InitRequest__Output, InitReply>): Promise<InitReply> {
    const req = call.request;
    const fault = await this.applyFault(this.faults?.init?.(req));
    if (fault !== undefined) {
      return this.fail('Init', fault.status as StatusCode, fault.errorMessage ?? `Init ${statusName(fault.status as StatusCode)} (injected)`);
    }
    const slot = this.slots.get(req.slotId);
    if (slot === undefined) return this.fail('Init', Status.NotFound, `Init ${req.requestId}: slot ${JSON.stringify(req.slotId)} not found`);
    if (slot.state === 'destroyed') return this.fail('Init', Status.NotFound, `Init ${req.requestId}: slot ${req.slotId} is destroyed`);
    if (slot.state !== 'created' || slot.initFailed) {
      return this.fail('Init', Status.InvalidArgument, `Init ${req.requestId}: slot ${req.slotId} is already initialised (instance ${slot.instanceId ?? '?'})`);
    }
    if (req.instanceId === '') return this.fail('Init', Status.InvalidArgument, `Init ${req.requestId}: empty instanceId`);
    if (this.instances.has(req.instanceId)) {
      return this.fail('Init', Status.InvalidArgument, `Init ${req.requestId}: instance id ${req.instanceId} is already used`);
    }
    const meta = req.metaData;
    if (meta === null || meta.key === '') return this.fail('Init', Status.InvalidArgument, `Init ${req.requestId}: missing metaData.key`);
    const fn = this.resolve(meta);
    if (fn === undefined) return this.fail('Init', Status.InvalidArgument, `Init ${req.requestId}: unknown function ${meta.key}`);
    if (fn.memoryMb !== slot.memoryMb) {
      return this.fail(
        'Init',
        Status.InvalidArgument,
        `Init ${req.requestId}: function ${meta.key} needs ${fn.memoryMb} MB but slot ${slot.slotId} has ${slot.memoryMb} MB`,
      );
    }
    const instance: InstanceEntry = {
      instanceId: req.instanceId,
      slotId: slot.slotId,
      metaKey: meta.key,
      memoryMb: slot.memoryMb,
      state: 'initialising',
      broken: false,
    };
    this.instances.set(instance.instanceId, instance);
    slot.state = 'initialising';
    slot.instanceId = instance.instanceId;
    this.ledger?.initStarted(instance);
    const startedAt = this.clock.now();
    return new Promise<InitReply>((resolve) => {
      const answer = (reply: InitReply): void => {
        this.pendingInits.delete(slot.slotId);
        if (call.cancelled) this.cutCalls.Init++;
        if (reply.status !== Status.Ok && instance.state === 'initialising') {
          instance.state = slot.state === 'destroyed' ? 'destroyed' : instance.state;
          if (slot.state !== 'destroyed') slot.initFailed = true;
          this.ledger?.initFailed(slot.slotId);
        }
        resolve(reply);
      };
      const timer = setTimeout(() => {
        if (slot.state === 'destroyed') {
          answer(this.fail('Init', Status.NotFound, `Init ${req.requestId}: slot ${slot.slotId} was destroyed during init`));
          return;
        }
        const now = this.clock.now();
        instance.state = 'ready';
        instance.readyAtMs = now;
        slot.state = 'ready';
        this.ledger?.initReady(instance);
        this.scoreBook?.onSlotBound?.(slot.slotId, instance.metaKey, now);
        this.count('Init', Status.Ok);
        answer({ status: Status.Ok, createTime: Math.floor(now), initDurationInMs: Math.round(now - startedAt) });
      }, fn.initDurationMs);
      timer.unref();
      this.pendingInits.set(slot.slotId, { timer, answer });
    });
  }

  private async destroySlot(req: DestroySlotRequest__Output): Promise<DestroySlotReply> {
    const fault = await this.applyFault(this.faults?.destroySlot?.(req));
    if (fault !== undefined) {
      return this.fail('DestroySlot', fault.status as StatusCode, fault.errorMessage ?? `DestroySlot ${statusName(fault.status as StatusCode)} (injected)`);
    }
    const slot = this.slots.get(req.id);
    if (slot === undefined) return this.fail('DestroySlot', Status.NotFound, `DestroySlot ${req.requestId}: slot ${JSON.stringify(req.id)} not found`);
    if (slot.state === 'destroyed') return this.fail('DestroySlot', Status.NotFound, `DestroySlot ${req.requestId}: slot ${req.id} is already destroyed`);
    const now = this.clock.now();
    slot.state = 'destroyed';
    slot.destroyedAtMs = now;
    this.liveSlots--;
    const inst = slot.instanceId === undefined ? undefined : this.instances.get(slot.instanceId);
    if (inst !== undefined) inst.state = 'destroyed';
    this.ledger?.slotDestroyed(slot);
    this.scoreBook?.onSlotDestroyed(slot.slotId, now);
    const pending = this.pendingInits.get(slot.slotId);
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      pending.answer(this.fail('Init', Status.NotFound, `Init on slot ${slot.slotId} aborted: slot destroyed during init (DestroySlot ${req.requestId})`));
    }
    this.count('DestroySlot', Status.Ok);
    return { status: Status.Ok };
  }
}
