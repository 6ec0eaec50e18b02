import * as grpc from '@grpc/grpc-js';
import { ScalerErrorCode } from '../core/types.js';
import { Status, type AssignReply, type IdleReply, type ScalerHandlers } from '../proto.js';
import { ShardOp, type ShardEvent, type ShardRequest, type ShardResponse } from '../shard-messages.js';
import { ShardErrorCode, type ShardError, type ShardRouter } from '../sharding/index.js';
import type { ScalerCounterField } from '../counters-layout.js';
import { validateAssign, validateIdle } from './request-validation.js';

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
export function toGrpcError(err: ShardError): Partial<grpc.StatusObject> {
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

function deadlineLeftMs(call: { getDeadline(): grpc.Deadline }): number {
  const d = call.getDeadline();
  const at = d instanceof Date ? d.getTime() : d;
  return at - Date.now();
}

/**
 * The `Scaler` service on the main thread: validate, route by function key, answer when the
 * shard does. No pool work happens here.
 */
export function createScalerHandlers(router: ScalerRouter, opts: ScalerHandlerOptions = {}): ScalerHandlers {
  const maxAssigns = opts.maxAssignsPerShard ?? Infinity;
  const retryOnCrash = opts.retryOnShardCrash !== false;
  const outstanding = new Int32Array(router.shards);
  return {
    Assign(call: grpc.ServerUnaryCall<Parameters<ScalerHandlers['Assign']>[0]['request'], AssignReply>, cb: grpc.sendUnaryData<AssignReply>) {
      const req = call.request;
      const bad = validateAssign(req);
      if (bad !== null) {
        cb({ code: grpc.status.INVALID_ARGUMENT, details: bad });
        return;
      }
      const meta = req.metaData!;
      const key = meta.key;
      const rid = req.requestId;
      const shard = router.shardFor(key);
      if (outstanding[shard]! >= maxAssigns) {
        cb({ code: grpc.status.RESOURCE_EXHAUSTED, details: `shard ${shard} has ${outstanding[shard]} assigns outstanding (limit ${maxAssigns})` });
        return;
      }
      outstanding[shard]!++;
      let answered = false;
      let retried = !retryOnCrash;
      const onCancelled = (): void => {
        if (!answered) router.requestShard(shard, { op: ShardOp.Cancel, rid, key }, noop);
      };
      call.once('cancelled', onCancelled);
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
        call.removeListener('cancelled', onCancelled);
        if (err !== null) {
          cb(toGrpcError(err));
          return;
        }
        const expired = !call.cancelled && deadlineLeftMs(call) < ASSIGN_DEADLINE_MARGIN_MS;
        if (call.cancelled || expired) {
          // Nobody will ever Idle this instance: hand it straight back so it is not lost.
          router.requestShard(shard, { op: ShardOp.Idle, rid, key, iid: iid!, nd: false, dur: 0 }, noop);
          // A cancelled call drops this answer on the wire; it still counts as CANCELLED in /metrics.
          if (expired) cb({ code: grpc.status.DEADLINE_EXCEEDED, details: `assign "${rid}" answered too close to its deadline; instance returned` });
          else cb({ code: grpc.status.CANCELLED, details: `assign "${rid}" cancelled by the client; instance returned` });
          return;
        }
        cb(null, { status: Status.Ok, assigment: { requestId: rid, metaKey: key, instanceId: iid! } });
      };
      router.requestShard(shard, msg, onReply);
    },

    Idle(call: grpc.ServerUnaryCall<Parameters<ScalerHandlers['Idle']>[0]['request'], IdleReply>, cb: grpc.sendUnaryData<IdleReply>) {
      const req = call.request;
      const bad = validateIdle(req);
      if (bad !== null) {
        cb({ code: grpc.status.INVALID_ARGUMENT, details: bad });
        return;
      }
      const a = req.assigment!;
      const result = req.result;
      const key = a.metaKey;
      router.request(
        key,
        {
          op: ShardOp.Idle,
          rid: a.requestId,
          key,
          iid: a.instanceId,
          nd: result?.needDestroy === true,
          dur: result?.durationInMs ?? 0,
        },
        (err) => {
          if (err !== null) cb(toGrpcError(err));
          else cb(null, { status: Status.Ok });
        },
      );
    },
  };
}
