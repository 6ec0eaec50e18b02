import * as grpc from '@grpc/grpc-js';
import { ScalerErrorCode } from '../core/types.js';
import { Status, type AssignReply, type IdleReply, type ScalerHandlers } from '../wire/proto.js';
import { ShardOp, type ShardEvent, type ShardRequest, type ShardResponse } from '../shard/shard-messages.js';
import { ShardErrorCode, type ShardError, type ShardRouter } from '../sharding/index.js';
import type { ScalerCounterField } from '../shard/counters-layout.js';
import { validateAssign, validateIdle, type AssignRequestShape, type IdleRequestShape } from './request-validation.js';

export type ScalerRouter = ShardRouter<ShardRequest, ShardResponse, ShardEvent, ScalerCounterField>;

const HANDLER_CODE_TO_GRPC: Record<string, grpc.status> = {
  [ScalerErrorCode.NotFound]: grpc.status.NOT_FOUND,
  [ScalerErrorCode.InvalidArgument]: grpc.status.INVALID_ARGUMENT,
  [ScalerErrorCode.Cancelled]: grpc.status.CANCELLED,
  [ScalerErrorCode.ColdStartFailed]: grpc.status.UNAVAILABLE,
  [ScalerErrorCode.ShuttingDown]: grpc.status.UNAVAILABLE,
  [ScalerErrorCode.AlreadyExists]: grpc.status.ALREADY_EXISTS,
};

export interface ScalerHandlerOptions {
  /**
   * Assigns outstanding per shard (sent and not answered, waiting for a cold start included)
   * past which new ones answer RESOURCE_EXHAUSTED at once. Idle and Cancel are never shed:
   * they are what frees instances.
   */
  maxAssignsPerShard?: number;
  /** Retry an Assign once when its shard crashed under it (default true). */
  retryOnShardCrash?: boolean;
}

/** A shard failure as the gRPC status the client sees (status values, never thrown). */
export function toGrpcError(err: ShardError): { code: grpc.status; details: string } {
  let code: grpc.status;
  switch (err.code) {
    case ShardErrorCode.Overloaded:
      code = grpc.status.RESOURCE_EXHAUSTED;
      break;
    case ShardErrorCode.Crashed:
    case ShardErrorCode.Closed:
      code = grpc.status.UNAVAILABLE;
      break;
    default:
      code = HANDLER_CODE_TO_GRPC[err.handlerCode ?? ''] ?? grpc.status.INTERNAL;
  }
  return { code, details: err.message };
}

function noop(): void {}

/**
 * An Assign answered this close to its deadline is treated as expired: the client's own timer
 * (same instant, its clock) may already have fired, and an instance whose reply the client
 * dropped would stay busy forever. Handing it back and failing the call loses nothing.
 */
export const ASSIGN_DEADLINE_MARGIN_MS = 20;

/** What a transport (grpc-js, or the `node:http2` server) tells the service about one call. */
export interface ScalerCall {
  /** The client cancelled, or its deadline passed. */
  readonly cancelled: boolean;
  /** Milliseconds until the client's deadline (Infinity without one). */
  deadlineLeftMs(): number;
  /** `fn` runs once if the call is cancelled before it is answered. */
  onCancel(fn: () => void): void;
  offCancel(fn: () => void): void;
}

/** Ends an Assign: gRPC status 0 with the instance id, or a status and its message. */
export type AssignDone = (code: grpc.status, details: string, instanceId: string) => void;
export type IdleDone = (code: grpc.status, details: string) => void;

/**
 * An instance this process handed out (its Assign was answered OK) whose Idle has not come yet:
 * what that Idle must name to be answered on the main thread.
 */
interface HandedOut {
  readonly rid: string;
  readonly key: string;
  readonly shard: number;
}

/**
 * The `Scaler` service on the main thread, independent of the gRPC transport: validate, route
 * by function key, answer when the shard does. No pool work happens here.
 *
 * Idle off the shard's path: every Assign reply passes through here, so this thread knows each
 * instance it handed out and to which request. An Idle naming exactly that (instance, request,
 * function) is answered OK at once, and the release goes to the shard as a one-way message on
 * the same ordered channel (`ShardRouter.tellShard`): an Assign of the same function sent after
 * it still finds the released instance, and need_destroy still destroys it. The shard would have
 * answered OK to that Idle (the instance is busy with that request; nothing else can release
 * it), so the answer is the same, only sooner. Any other Idle (unknown instance, another request,
 * another function, a duplicate, an instance handed out before a shard crash) is forwarded and
 * answered by the shard as before.
 *
 * A crash between that answer and the shard's release record: the shard worker dying (the
 * process lives) loses the message with the worker; its replacement destroys every slot the dead
 * one had (main's slot journal hands them over), this one included, so nothing leaks and the
 * instance is never handed out again. The whole process dying: the journal file still says the
 * instance is held by that request, so the next process adopts it busy, awaiting an Idle the
 * platform already had answered: it is never handed out, and its slot goes at the busy lease
 * (BUSY_LEASE_TIMEOUT_FACTOR x the function's timeout + BUSY_LEASE_GRACE_MS) or at shutdown,
 * whichever first. See docs/per-call-latency.md.
 */
export class ScalerService {
  private readonly maxAssigns: number;
  private readonly retryOnCrash: boolean;
  private readonly outstanding: Int32Array;
  /**
   * Instance id -> the request holding it, for instances handed out and not idled. Bounded by
   * what is held: an entry goes at its Idle, with its shard's crash, or when its slot is
   * destroyed (a request that never sends its Idle: the shard's busy lease).
   */
  private readonly handedOut = new Map<string, HandedOut>();

  constructor(private readonly router: ScalerRouter, opts: ScalerHandlerOptions = {}) {
    this.maxAssigns = opts.maxAssignsPerShard ?? Infinity;
    this.retryOnCrash = opts.retryOnShardCrash !== false;
    this.outstanding = new Int32Array(router.shards);
    // The replacement worker knows nothing of what the dead one handed out (it destroys those
    // slots): their Idles go to it, which accepts each one once (ScalerCore.destroyOrphanSlot).
    router.on('shard-exit', (shard) => this.forgetShard(shard));
  }

  /** The instance's slot is gone (e.g. its busy lease ran out): a late Idle goes to the shard. */
  forgetInstance(instanceId: string): void {
    this.handedOut.delete(instanceId);
  }

  private forgetShard(shard: number): void {
    for (const [iid, h] of this.handedOut) if (h.shard === shard) this.handedOut.delete(iid);
  }

  assign(req: AssignRequestShape, call: ScalerCall, done: AssignDone): void {
    const bad = validateAssign(req);
    if (bad !== null) {
      done(grpc.status.INVALID_ARGUMENT, bad, '');
      return;
    }
    const router = this.router;
    const outstanding = this.outstanding;
    const meta = req.metaData!;
    const key = meta.key;
    const rid = req.requestId;
    const shard = router.shardFor(key);
    if (outstanding[shard]! >= this.maxAssigns) {
      done(grpc.status.RESOURCE_EXHAUSTED, `shard ${shard} has ${outstanding[shard]} assigns outstanding (limit ${this.maxAssigns})`, '');
      return;
    }
    outstanding[shard]!++;
    let answered = false;
    let retried = !this.retryOnCrash;
    const onCancelled = (): void => {
      if (!answered) router.requestShard(shard, { op: ShardOp.Cancel, rid, key }, noop);
    };
    call.onCancel(onCancelled);
    const msg: ShardRequest = { op: ShardOp.Assign, rid, key, mem: meta.memoryInMb, rt: meta.runtime, to: meta.timeoutInSecs };
    const onReply = (err: ShardError | null, iid?: string): void => {
      if (err !== null && err.code === ShardErrorCode.Crashed && !retried && !call.cancelled) {
        // The restarted worker knows nothing of this request: asking again is safe.
        retried = true;
        router.requestShard(shard, msg, onReply);
        return;
      }
      answered = true;
      outstanding[shard]!--;
      call.offCancel(onCancelled);
      if (err !== null) {
        const g = toGrpcError(err);
        done(g.code, g.details, '');
        return;
      }
      const expired = !call.cancelled && call.deadlineLeftMs() < ASSIGN_DEADLINE_MARGIN_MS;
      if (call.cancelled || expired) {
        // Nobody will ever Idle this instance: hand it straight back so it is not lost (never
        // entered in `handedOut`, so a stray Idle for it is the shard's to judge).
        router.tellShard(shard, { op: ShardOp.Idle, rid, key, iid: iid!, nd: false, dur: 0 });
        // A cancelled call drops this answer on the wire; it still counts as CANCELLED in /metrics.
        if (expired) done(grpc.status.DEADLINE_EXCEEDED, `assign "${rid}" answered too close to its deadline; instance returned`, '');
        else done(grpc.status.CANCELLED, `assign "${rid}" cancelled by the client; instance returned`, '');
        return;
      }
      this.handedOut.set(iid!, { rid, key, shard });
      done(grpc.status.OK, '', iid!);
    };
    router.requestShard(shard, msg, onReply);
  }

  idle(req: IdleRequestShape, done: IdleDone): void {
    const bad = validateIdle(req);
    if (bad !== null) {
      done(grpc.status.INVALID_ARGUMENT, bad);
      return;
    }
    const a = req.assigment!;
    const result = req.result;
    const key = a.metaKey;
    const iid = a.instanceId;
    const msg: ShardRequest = { op: ShardOp.Idle, rid: a.requestId, key, iid, nd: result?.needDestroy === true, dur: result?.durationInMs ?? 0 };
    const held = this.handedOut.get(iid);
    if (held !== undefined && held.rid === a.requestId && held.key === key && this.router.tellShard(held.shard, msg)) {
      // The one Idle of the request this process handed the instance to: answered here, the
      // release follows on the shard's ordered channel (see the class comment for a crash now).
      this.handedOut.delete(iid);
      done(grpc.status.OK, '');
      return;
    }
    this.router.request(
      key,
      msg,
      (err) => {
        if (err !== null) {
          const g = toGrpcError(err);
          done(g.code, g.details);
        } else {
          done(grpc.status.OK, '');
        }
      },
    );
  }
}

/** A grpc-js call as a {@link ScalerCall}. */
class GrpcJsCall implements ScalerCall {
  constructor(private readonly call: grpc.ServerUnaryCall<unknown, unknown>) {}
  get cancelled(): boolean {
    return this.call.cancelled;
  }
  deadlineLeftMs(): number {
    const d = this.call.getDeadline();
    const at = d instanceof Date ? d.getTime() : d;
    return at - Date.now();
  }
  onCancel(fn: () => void): void {
    this.call.once('cancelled', fn);
  }
  offCancel(fn: () => void): void {
    this.call.removeListener('cancelled', fn);
  }
}

/** The service as grpc-js handlers (`--grpc-server grpc-js`): a service, or a router to make one for. */
export function createScalerHandlers(routerOrService: ScalerRouter | ScalerService, opts: ScalerHandlerOptions = {}): ScalerHandlers {
  const service = routerOrService instanceof ScalerService ? routerOrService : new ScalerService(routerOrService, opts);
  return {
    Assign(call, cb: grpc.sendUnaryData<AssignReply>) {
      const req = call.request;
      service.assign(req, new GrpcJsCall(call), (code, details, iid) => {
        if (code !== grpc.status.OK) cb({ code, details });
        else cb(null, { status: Status.Ok, assigment: { requestId: req.requestId, metaKey: req.metaData!.key, instanceId: iid } });
      });
    },
    Idle(call, cb: grpc.sendUnaryData<IdleReply>) {
      service.idle(call.request, (code, details) => {
        if (code !== grpc.status.OK) cb({ code, details });
        else cb(null, { status: Status.Ok });
      });
    },
  };
}
