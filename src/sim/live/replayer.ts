/**
 * Open-loop, real-time replay of a trace against any process serving the contest's `Scaler`
 * service, validating each assignment against the emulated platform's ledger.
 *
 * Each request is sent at its trace offset from the start instant whatever the state of earlier
 * ones (a slow scaler makes its own requests late, it does not slow the trace down). The trace is
 * read as a stream, at most `lookAheadMs` ahead of the dispatch point, and all due requests are
 * dispatched by one timer rather than one timer per request.
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { loadProto, Status } from '../../wire/proto.js';
import type { ScalerClient } from '../../wire/proto.js';
import type { AssignReply__Output } from '../../wire/generated/serverless/simulator/AssignReply.js';
import type { Assignment__Output } from '../../wire/generated/serverless/simulator/Assignment.js';
import type { IdleReply__Output } from '../../wire/generated/serverless/simulator/IdleReply.js';
import { loadMetas, streamRequests } from '../datasets/dataset-loader.js';
import type { TraceWindow } from '../datasets/trace-window.js';
import type { MetaRecord, RequestRecord } from '../contest/dataset-types.js';
import { monotonicClock } from './platform-server.js';
import type { InstanceEntry, WallClock } from './platform-server.js';
import type { ScoreBook, ScoreReport } from '../scoring/score-book.js';
import { RequestClass } from '../scoring/cost-split.js';

export const DEFAULT_SCALER_ADDRESS = '127.0.0.1:9001';
/** Official simulator: slots are charged until about 5 minutes after the last request. */
export const DEFAULT_TAIL_MS = 300_000;
/** `Assign` may include a cold start (create ~100 ms + init up to 120 s in dataSet_3). */
export const DEFAULT_ASSIGN_DEADLINE_MS = 180_000;
export const DEFAULT_IDLE_DEADLINE_MS = 30_000;
/** How far ahead of the dispatch point the trace is read. */
export const DEFAULT_LOOK_AHEAD_MS = 2_000;
/** How long to wait for the scaler's channel before starting anyway (requests then fail). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** The official simulator logs `Idle` calls slower than this as errors. */
export const SLOW_IDLE_MS = 1_000;
/** A dispatch later than this behind its trace offset counts as late. */
export const LATE_DISPATCH_MS = 10;
/**
 * Reconnect backoff of the replayer's channel: thousands of calls share one connection, and a
 * scaler that restarts is found again within about the max (grpc-js adds up to 20% jitter).
 */
export const REPLAYER_INITIAL_RECONNECT_BACKOFF_MS = 100;
export const REPLAYER_MAX_RECONNECT_BACKOFF_MS = 1_000;

/** One failed request, with the call that failed and when it ran (the platform's clock). */
export interface ReplayFailure {
  readonly requestId: string;
  readonly reason: string;
  readonly call: 'assign' | 'idle';
  readonly startedAtMs: number;
  readonly endedAtMs: number;
}

/**
 * How an Assign was served, as the score book's cost split classes it (`RequestClass`, from the
 * platform's view): `hit`, an instance ready and idle when the Assign was sent (the scaler only
 * had to hand it out); `wait`, an existing instance that was still busy or starting; `cold`, an
 * instance whose CreateSlot began after the Assign was sent; `failed`, no valid instance (an
 * error, or one the ledger does not know, e.g. a no-op server's).
 */
export type AssignClass = 'hit' | 'wait' | 'cold' | 'failed';

const ASSIGN_CLASS_OF: Readonly<Record<RequestClass, AssignClass>> = {
  [RequestClass.Hit]: 'hit',
  [RequestClass.BusyWait]: 'wait',
  [RequestClass.ColdStart]: 'cold',
  [RequestClass.Failed]: 'failed',
  [RequestClass.Unclassified]: 'failed',
};

/** One request's calls as the client saw them (`ReplayerOptions.onCall`). */
export interface ReplayCall {
  readonly assign: AssignClass;
  /** The Assign returned OK with an instance id (whatever the ledger says of it). */
  readonly assignOk: boolean;
  readonly assignMs: number;
  /** NaN when no Idle was sent. */
  readonly idleMs: number;
  readonly idleOk: boolean;
}

/** Reasons a request counts as failed (keys of `ReplayResult.failures`). */
export const FailureReason = {
  UnknownMeta: 'unknown-meta',
  AssignRpcError: 'assign-rpc-error',
  AssignStatus: 'assign-status', // suffixed with the status name, e.g. `assign-status-Throttle`
  AssignEmpty: 'assign-empty-instance',
  InstanceUnknown: 'instance-unknown',
  InstanceNotInitialised: 'instance-not-initialised',
  InstanceDestroyed: 'instance-destroyed',
  InstanceWrongFunction: 'instance-wrong-function',
  InstanceBusy: 'instance-busy',
  InstanceBroken: 'instance-broken',
  DestroyedWhileBusy: 'instance-destroyed-while-busy',
  IdleRpcError: 'idle-rpc-error',
  IdleStatus: 'idle-status', // suffixed with the status name
} as const;

/**
 * The platform's instance ledger as the replayer reads and annotates it (busy, broken).
 * `PlatformServer` (same thread: always current) and `ThreadedPlatform` (a mirror of a platform
 * in a worker thread) implement it.
 */
export interface InstanceLedger {
  readonly instances: ReadonlyMap<string, InstanceEntry>;
  readonly liveSlotCount: number;
  /** A mark covering every ledger change made so far (by any thread). */
  mark(): number;
  /**
   * Runs `fn` when the ledger reflects the changes up to `mark` and none after (synchronously
   * when it already does). Callbacks run in call order.
   */
  at(mark: number, fn: () => void): void;
}

export interface ReplayerOptions {
  /** Dataset folder (`metas` + `requests`). Either this or `requests` + `metas`. */
  readonly dataDir?: string;
  /** Only this window of the dataset's trace (with `dataDir`). */
  readonly window?: TraceWindow;
  readonly requests?: AsyncIterable<RequestRecord> | Iterable<RequestRecord>;
  readonly metas?: ReadonlyMap<string, MetaRecord>;
  /** For keys absent from `metas` (load tests); `undefined` = request fails as `unknown-meta`. */
  readonly metaFor?: (key: string) => MetaRecord | undefined;
  readonly scalerAddress?: string;
  /** The platform whose ledger validates assignments (and records slot costs). */
  readonly platform: InstanceLedger;
  readonly scoreBook: ScoreBook;
  /** Time compression; anything but 1 makes the score not comparable to official runs. */
  readonly speed?: number;
  /** Trace time charged after the last `Idle` returns (waits `tailMs / speed`). */
  readonly tailMs?: number;
  readonly assignDeadlineMs?: number;
  readonly idleDeadlineMs?: number;
  readonly lookAheadMs?: number;
  readonly connectTimeoutMs?: number;
  readonly slowIdleMs?: number;
  /** Must be the platform's clock: slot costs and the run end are on the same time line. */
  readonly clock?: WallClock;
  /** Prefix of request ids; random by default so several runs against one scaler never collide. */
  readonly requestIdPrefix?: string;
  /** Called once when the first request is about to be dispatched (e.g. to start the stats server). */
  readonly onStart?: () => void;
  /** Called for each failed request, once its outcome is known. */
  readonly onFailure?: (f: ReplayFailure) => void;
  /** Called for each request once its calls are done: per-call latency by class (benchmarks). */
  readonly onCall?: (c: ReplayCall) => void;
}

export interface ReplayResult {
  readonly report: ScoreReport;
  /** Failure reason → number of failed requests (first reason of each request). */
  readonly failures: Record<string, number>;
  readonly requests: number;
  readonly failedRequests: number;
  readonly slowIdles: number;
  readonly coldStarts: number;
  readonly lateDispatches: number;
  readonly maxDispatchLagMs: number;
  readonly liveSlotsAtLastIdle: number;
  readonly startedAtMs: number;
  readonly lastIdleAtMs: number;
  readonly endedAtMs: number;
  readonly speed: number;
  readonly comparable: boolean;
}

interface Due {
  readonly rec: RequestRecord;
  readonly index: number;
  /** performance.now() time at which to send. */
  readonly atPerf: number;
}

interface CallOutcome<T> {
  readonly err: grpc.ServiceError | null;
  readonly reply: T | undefined;
  readonly latencyMs: number;
  /** performance.now() when the reply arrived. */
  readonly endPerf: number;
}

function statusName(s: number): string {
  for (const [k, v] of Object.entries(Status)) if (v === s) return k;
  return String(s);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Runs `fn` on the ledger as of now (see `InstanceLedger.at`); resolves after it ran. */
function atLedgerNow(ledger: InstanceLedger, fn: () => void): Promise<void> | undefined {
  let ran = false;
  let wake: (() => void) | undefined;
  ledger.at(ledger.mark(), () => {
    fn();
    ran = true;
    wake?.();
  });
  // Usual case: no promise, no extra turn.
  return ran ? undefined : new Promise<void>((resolve) => (wake = resolve));
}

export class Replayer {
  private readonly opts: ReplayerOptions;
  private readonly speed: number;
  private readonly tailMs: number;
  private readonly assignDeadlineMs: number;
  private readonly idleDeadlineMs: number;
  private readonly lookAheadMs: number;
  private readonly slowIdleMs: number;
  private readonly connectTimeoutMs: number;
  private readonly clock: WallClock;
  private readonly prefix: string;
  private client: ScalerClient | undefined;

  private readonly queue: Due[] = [];
  private queueHead = 0;
  private dispatchTimer: NodeJS.Timeout | undefined;
  private dispatchAt = Infinity;
  private pumpDone = false;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private started = false;
  private metaMap: ReadonlyMap<string, MetaRecord> = new Map();

  private readonly failureCounts: Record<string, number> = {};
  private sent = 0;
  private failed = 0;
  private slowIdleCount = 0;
  private coldStartCount = 0;
  private late = 0;
  private maxLag = 0;

  constructor(opts: ReplayerOptions) {
    if (opts.dataDir === undefined && opts.requests === undefined) {
      throw new Error('Replayer needs a dataDir or a requests iterable');
    }
    const speed = opts.speed ?? 1;
    if (!(speed > 0) || !Number.isFinite(speed)) throw new Error(`Replayer speed must be a positive number (got ${speed})`);
    this.opts = opts;
    this.speed = speed;
    this.tailMs = opts.tailMs ?? DEFAULT_TAIL_MS;
    this.assignDeadlineMs = opts.assignDeadlineMs ?? DEFAULT_ASSIGN_DEADLINE_MS;
    this.idleDeadlineMs = opts.idleDeadlineMs ?? DEFAULT_IDLE_DEADLINE_MS;
    this.lookAheadMs = opts.lookAheadMs ?? DEFAULT_LOOK_AHEAD_MS;
    this.slowIdleMs = opts.slowIdleMs ?? SLOW_IDLE_MS;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.clock = opts.clock ?? monotonicClock;
    this.prefix = opts.requestIdPrefix ?? `${randomBytes(4).toString('hex')}-`;
  }

  /** Failure histogram so far (live view). */
  get failures(): Readonly<Record<string, number>> {
    return this.failureCounts;
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  async run(): Promise<ReplayResult> {
    if (this.started) throw new Error('Replayer.run() can only be called once');
    this.started = true;
    let metas = this.opts.metas;
    let requests = this.opts.requests;
    if (this.opts.dataDir !== undefined) {
      metas ??= await loadMetas(this.opts.dataDir);
      requests ??= streamRequests(this.opts.dataDir, new Map(metas), this.opts.window);
    }
    const metaMap = metas ?? new Map<string, MetaRecord>();
    const proto = loadProto();
    this.client = new proto.serverless.simulator.Scaler(
      this.opts.scalerAddress ?? DEFAULT_SCALER_ADDRESS,
      grpc.credentials.createInsecure(),
      // Thousands of concurrent calls on one connection; keep reconnects snappy if it drops.
      { 'grpc.max_reconnect_backoff_ms': REPLAYER_MAX_RECONNECT_BACKOFF_MS, 'grpc.initial_reconnect_backoff_ms': REPLAYER_INITIAL_RECONNECT_BACKOFF_MS },
    );
    // Connect before the start instant, so the first request does not pay for the handshake.
    await new Promise<void>((resolve) => {
      (this.client as ScalerClient).waitForReady(Date.now() + this.connectTimeoutMs, () => resolve());
    });
    const startedAtMs = this.clock.now();
    let pumpError: unknown;
    try {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        this.pump(requests as AsyncIterable<RequestRecord> | Iterable<RequestRecord>, metaMap).then(
          () => this.finishPump(),
          (e: unknown) => {
            pumpError = e;
            this.finishPump();
          },
        );
      });
    } finally {
      if (this.dispatchTimer !== undefined) clearTimeout(this.dispatchTimer);
    }
    const ledger = this.opts.platform;
    const lastMark = ledger.mark();
    const lastIdleAtMs = this.clock.now();
    let liveSlotsAtLastIdle = 0;
    await new Promise<void>((resolve) =>
      ledger.at(lastMark, () => {
        liveSlotsAtLastIdle = ledger.liveSlotCount;
        resolve();
      }),
    );
    this.client.close();
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the pump threw, as it came
    if (pumpError !== undefined) throw pumpError;
    // Slots left alive keep being charged through the tail, as in the official runs.
    await sleep(this.tailMs / this.speed);
    // Mark before the clock: every change up to the mark happened before endedAtMs, so a
    // mirrored ledger charges exactly the slot lifetimes an in-thread one would.
    const endMark = ledger.mark();
    const endedAtMs = this.clock.now();
    await new Promise<void>((resolve) => ledger.at(endMark, resolve));
    const report = this.opts.scoreBook.finish(endedAtMs);
    return {
      report,
      failures: { ...this.failureCounts },
      requests: this.sent,
      failedRequests: this.failed,
      slowIdles: this.slowIdleCount,
      coldStarts: this.coldStartCount,
      lateDispatches: this.late,
      maxDispatchLagMs: this.maxLag,
      liveSlotsAtLastIdle,
      startedAtMs,
      lastIdleAtMs,
      endedAtMs,
      speed: this.speed,
      comparable: this.speed === 1,
    };
  }

  // ------------------------------------------------------------------------------------------
  // Trace reading and dispatch

  private async pump(requests: AsyncIterable<RequestRecord> | Iterable<RequestRecord>, metas: ReadonlyMap<string, MetaRecord>): Promise<void> {
    let firstStart: number | undefined;
    let t0 = 0;
    let index = 0;
    this.metaMap = metas;
    for await (const rec of requests) {
      if (firstStart === undefined) {
        firstStart = rec.startTime;
        t0 = performance.now();
        this.opts.onStart?.();
      }
      const atPerf = t0 + (rec.startTime - firstStart) / this.speed;
      this.queue.push({ rec, index: index++, atPerf });
      this.arm(atPerf);
      const ahead = atPerf - performance.now();
      if (ahead > this.lookAheadMs) await sleep(ahead - this.lookAheadMs / 2);
    }
  }

  private finishPump(): void {
    this.pumpDone = true;
    this.checkDrained();
  }

  private checkDrained(): void {
    if (this.pumpDone && this.inFlight === 0 && this.queueHead >= this.queue.length) {
      const d = this.drained;
      this.drained = undefined;
      d?.();
    }
  }

  private arm(atPerf: number): void {
    if (atPerf >= this.dispatchAt) return;
    if (this.dispatchTimer !== undefined) clearTimeout(this.dispatchTimer);
    this.dispatchAt = atPerf;
    this.dispatchTimer = setTimeout(() => this.dispatchDue(), Math.max(0, atPerf - performance.now()));
  }

  private dispatchDue(): void {
    this.dispatchTimer = undefined;
    this.dispatchAt = Infinity;
    const now = performance.now();
    const q = this.queue;
    // Timers fire up to ~1 ms early or late; send what is due within that slack.
    while (this.queueHead < q.length && q[this.queueHead].atPerf <= now + 1) {
      const d = q[this.queueHead];
      q[this.queueHead++] = undefined as unknown as Due;
      const lag = now - d.atPerf;
      if (lag > this.maxLag) this.maxLag = lag;
      if (lag > LATE_DISPATCH_MS) this.late++;
      this.inFlight++;
      void this.serve(d.rec, d.index).finally(() => {
        this.inFlight--;
        this.checkDrained();
      });
    }
    // Drop the consumed prefix now and then so the array does not grow with the trace.
    if (this.queueHead > 4096 && this.queueHead * 2 > q.length) {
      q.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (this.queueHead < q.length) this.arm(q[this.queueHead].atPerf);
    else this.checkDrained();
  }

  // ------------------------------------------------------------------------------------------
  // One request

  private fail(reason: string): void {
    this.failureCounts[reason] = (this.failureCounts[reason] ?? 0) + 1;
    this.failed++;
  }

  private call<Req, Rep>(method: 'Assign' | 'Idle', req: Req, deadlineMs: number): Promise<CallOutcome<Rep>> {
    const client = this.client as ScalerClient;
    const start = performance.now();
    return new Promise((resolve) => {
      const cb = (err: grpc.ServiceError | null, reply?: Rep): void => {
        const endPerf = performance.now();
        resolve({ err, reply, latencyMs: endPerf - start, endPerf });
      };
      const options: grpc.CallOptions = { deadline: Date.now() + deadlineMs };
      if (method === 'Assign') {
        client.Assign(req as never, options, cb as unknown as grpc.requestCallback<AssignReply__Output>);
      } else {
        client.Idle(req as never, options, cb as unknown as grpc.requestCallback<IdleReply__Output>);
      }
    });
  }

  /** Checks the scaler's choice against the platform's ledger; returns a failure reason or undefined. */
  private validate(inst: InstanceEntry | undefined, rec: RequestRecord): string | undefined {
    if (inst === undefined) return FailureReason.InstanceUnknown;
    if (inst.state === 'destroyed') return FailureReason.InstanceDestroyed;
    if (inst.state !== 'ready') return FailureReason.InstanceNotInitialised;
    if (inst.metaKey !== rec.metaKey) return FailureReason.InstanceWrongFunction;
    if (inst.broken) return FailureReason.InstanceBroken;
    if (inst.busyRequestId !== undefined) return FailureReason.InstanceBusy;
    return undefined;
  }

  private async serve(rec: RequestRecord, index: number): Promise<void> {
    this.sent++;
    const meta = this.metaMap.get(rec.metaKey) ?? this.opts.metaFor?.(rec.metaKey);
    if (meta === undefined) {
      this.fail(FailureReason.UnknownMeta);
      this.opts.scoreBook.onRequest({
        metaKey: rec.metaKey,
        memoryMb: 0,
        durationMs: 0,
        assignLatencyMs: 0,
        idleLatencyMs: 0,
        failed: true,
      });
      return;
    }
    const requestId = this.prefix + index;
    const sentAtMs = this.clock.now();
    const assign = await this.call<unknown, AssignReply__Output>(
      'Assign',
      {
        requestId,
        timestamp: Math.floor(sentAtMs),
        metaData: { key: meta.key, runtime: meta.runtime, timeoutInSecs: meta.timeoutInSecs, memoryInMb: meta.memoryInMb },
      },
      this.assignDeadlineMs,
    );
    let failure: string | undefined;
    let assignment: Assignment__Output | null = null;
    if (assign.err !== null) failure = `${FailureReason.AssignRpcError}-${grpc.status[assign.err.code] ?? assign.err.code}`;
    else if (assign.reply === undefined || assign.reply.status !== Status.Ok) {
      failure = `${FailureReason.AssignStatus}-${statusName(assign.reply?.status ?? -1)}`;
    } else {
      assignment = assign.reply.assigment;
      if (assignment === null || assignment.instanceId === '') failure = FailureReason.AssignEmpty;
    }
    if (assignment === null || failure === FailureReason.AssignEmpty) {
      if (failure !== undefined) this.reportFailure(requestId, failure, 'assign', sentAtMs, assign.latencyMs);
      this.record(rec, meta, assign.latencyMs, 0, failure, false, false, undefined, undefined);
      this.opts.onCall?.({ assign: 'failed', assignOk: false, assignMs: assign.latencyMs, idleMs: NaN, idleOk: false });
      return;
    }

    // Validated on the ledger as of the reply's arrival (a mirrored ledger may need to catch up
    // with changes the scaler saw before replying: see InstanceLedger.at).
    const ledger = this.opts.platform;
    const instanceId = assignment.instanceId;
    let inst: InstanceEntry | undefined;
    let holding = false;
    let coldStart = false;
    let requestClass: RequestClass = RequestClass.Failed;
    const execAtMs = this.clock.now() - (performance.now() - assign.endPerf);
    const validated = atLedgerNow(ledger, () => {
      inst = ledger.instances.get(instanceId);
      failure = this.validate(inst, rec);
      holding = failure === undefined && inst !== undefined;
      if (holding && inst !== undefined) {
        inst.busyRequestId = requestId;
        requestClass = this.opts.scoreBook.onExecutionStart(inst.slotId, rec.metaKey, sentAtMs, execAtMs, rec.durationsInMs);
      }
      coldStart = inst?.readyAtMs !== undefined && inst.readyAtMs >= sentAtMs;
    });
    if (validated !== undefined) await validated;

    // The execution started when the reply arrived, whatever the wait for the ledger.
    await sleep(rec.durationsInMs / this.speed - (performance.now() - assign.endPerf));

    let released: Promise<void> | undefined;
    if (holding) {
      const held = inst as InstanceEntry;
      released = atLedgerNow(ledger, () => {
        if (held.busyRequestId === requestId) held.busyRequestId = undefined;
        if (held.state === 'destroyed') failure = FailureReason.DestroyedWhileBusy;
        else if (rec.statusCode !== 200) held.broken = true;
      });
    }
    // The instance goes back to the scaler even after a failed validation, so that a buggy
    // scaler's bookkeeping does not snowball into more failures than the one bug.
    const needDestroy = rec.statusCode !== 200;
    const idleSentAtMs = this.clock.now();
    const idle = await this.call<unknown, IdleReply__Output>(
      'Idle',
      {
        assigment: { requestId: assignment.requestId || requestId, metaKey: assignment.metaKey || rec.metaKey, instanceId: assignment.instanceId },
        result: { statusCode: rec.statusCode, durationInMs: rec.durationsInMs, needDestroy },
      },
      this.idleDeadlineMs,
    );
    if (idle.latencyMs > this.slowIdleMs) this.slowIdleCount++;
    if (released !== undefined) await released;
    if (failure !== undefined) this.reportFailure(requestId, failure, 'assign', sentAtMs, assign.latencyMs);
    else {
      if (idle.err !== null) failure = `${FailureReason.IdleRpcError}-${grpc.status[idle.err.code] ?? idle.err.code}`;
      else if (idle.reply === undefined || idle.reply.status !== Status.Ok) {
        failure = `${FailureReason.IdleStatus}-${statusName(idle.reply?.status ?? -1)}`;
      }
      if (failure !== undefined) this.reportFailure(requestId, failure, 'idle', idleSentAtMs, idle.latencyMs);
    }
    this.record(rec, meta, assign.latencyMs, idle.latencyMs, failure, coldStart, holding, execAtMs, (inst as InstanceEntry | undefined)?.slotId, requestClass);
    this.opts.onCall?.({ assign: ASSIGN_CLASS_OF[requestClass], assignOk: true, assignMs: assign.latencyMs, idleMs: idle.latencyMs, idleOk: idle.err === null });
  }

  private reportFailure(requestId: string, reason: string, call: 'assign' | 'idle', startedAtMs: number, latencyMs: number): void {
    this.opts.onFailure?.({ requestId, reason, call, startedAtMs, endedAtMs: startedAtMs + latencyMs });
  }

  /** `executed`: the request ran on an instance it validly held (its work counts as useful). */
  private record(
    rec: RequestRecord,
    meta: MetaRecord,
    assignMs: number,
    idleMs: number,
    failure: string | undefined,
    coldStart: boolean,
    executed: boolean,
    atMs: number | undefined,
    slotId: string | undefined,
    requestClass: RequestClass = RequestClass.Failed,
  ): void {
    if (failure !== undefined) this.fail(failure);
    if (coldStart) this.coldStartCount++;
    this.opts.scoreBook.onRequest({
      metaKey: rec.metaKey,
      memoryMb: meta.memoryInMb,
      durationMs: executed ? rec.durationsInMs : 0,
      assignLatencyMs: assignMs,
      idleLatencyMs: idleMs,
      failed: failure !== undefined,
      coldStart,
      atMs: executed ? atMs : undefined,
      slotId: executed ? slotId : undefined,
      requestClass,
    });
  }
}
