import * as grpc from '@grpc/grpc-js';
import {
  PlatformErrorKind,
  type FunctionMetaRef,
  type InitResult,
  type Platform,
  type PlatformCallback,
  type PlatformError,
  type SlotInfo,
} from '../core/platform.js';
import { loadProto, Status, type PlatformClient } from '../wire/proto.js';
import { fromPlatformStatus, isTransientGrpcCode } from './platform-errors.js';

import { PLATFORM_CALL_DEADLINE_MS, PLATFORM_INIT_DEADLINE_MS } from './platform-deadlines.js';

export { PLATFORM_CALL_DEADLINE_MS, PLATFORM_INIT_DEADLINE_MS };

export interface GrpcPlatformOptions {
  /** host:port of the platform (contest: 127.0.0.1:50051). */
  address: string;
  callDeadlineMs?: number;
  initDeadlineMs?: number;
}

/**
 * How grpc-js describes a call cut after it was sent, in its own words (subchannel-call.js,
 * resolving-call.js; it offers nothing more structured): the connection dropped or reset, the
 * stream ended without a status, or the deadline passed once the call had left. A status the
 * server sent, or a call that never found a connection ("Waiting for LB pick"), is not one.
 */
const CUT_DETAILS = /Connection dropped|Received RST_STREAM|ECONNRESET|ETIMEDOUT|Deadline exceeded/;
const NOT_SENT_DETAILS = /Waiting for LB pick|No connection established/;

function fromGrpcError(err: grpc.ServiceError, what: string): PlatformError {
  const message = `${what}: ${err.details || err.message}`;
  if (!isTransientGrpcCode(err.code)) return { kind: PlatformErrorKind.Permanent, message };
  const details = err.details ?? '';
  if (CUT_DETAILS.test(details) && !NOT_SENT_DETAILS.test(details)) return { kind: PlatformErrorKind.Transient, message, unknownOutcome: true };
  return { kind: PlatformErrorKind.Transient, message };
}

/** The contest `Platform` service as the core's callback `Platform`. One HTTP/2 channel per shard. */
export class GrpcPlatformClient implements Platform {
  private readonly client: PlatformClient;
  private readonly callDeadlineMs: number;
  private readonly initDeadlineMs: number;

  constructor(opts: GrpcPlatformOptions) {
    const proto = loadProto();
    // No client keepalive pings: the platform is on loopback (no middlebox drops idle links), and
    // a gRPC-Go server's default enforcement (pings no closer than 5 min) answers a client that
    // pings every 30 s during a long quiet Init with GOAWAY too_many_pings, failing that Init.
    this.client = new proto.serverless.simulator.Platform(opts.address, grpc.credentials.createInsecure(), {
      'grpc.max_reconnect_backoff_ms': 1_000,
      'grpc.initial_reconnect_backoff_ms': 100,
    });
    this.callDeadlineMs = opts.callDeadlineMs ?? PLATFORM_CALL_DEADLINE_MS;
    this.initDeadlineMs = opts.initDeadlineMs ?? PLATFORM_INIT_DEADLINE_MS;
  }

  createSlot(requestId: string, memoryMb: number, cb: PlatformCallback<SlotInfo>): void {
    this.client.CreateSlot(
      { requestId, resourceConfig: { memoryInMegabytes: memoryMb } },
      { deadline: Date.now() + this.callDeadlineMs },
      (err, reply) => {
        if (err) return cb(fromGrpcError(err, 'CreateSlot'));
        if (reply === undefined) return cb({ kind: PlatformErrorKind.Transient, message: 'CreateSlot: empty reply' });
        if (reply.status !== Status.Ok) return cb(fromPlatformStatus(reply.status, reply.errorMessage, 'CreateSlot'));
        const slot = reply.slot;
        if (!slot || !slot.id) return cb({ kind: PlatformErrorKind.Transient, message: 'CreateSlot: reply without slot' });
        cb(null, { slotId: slot.id, memoryMb, createTime: slot.createTime });
      },
    );
  }

  init(requestId: string, slotId: string, instanceId: string, meta: FunctionMetaRef, cb: PlatformCallback<InitResult>): void {
    this.client.Init(
      {
        requestId,
        slotId,
        instanceId,
        metaData: { key: meta.key, runtime: meta.runtime, timeoutInSecs: meta.timeoutInSecs, memoryInMb: meta.memoryMb },
      },
      { deadline: Date.now() + this.initDeadlineMs },
      (err, reply) => {
        if (err) return cb(fromGrpcError(err, 'Init'));
        if (reply === undefined) return cb({ kind: PlatformErrorKind.Transient, message: 'Init: empty reply' });
        if (reply.status !== Status.Ok) return cb(fromPlatformStatus(reply.status, reply.errorMessage, 'Init'));
        cb(null, { initDurationMs: reply.initDurationInMs });
      },
    );
  }

  destroySlot(requestId: string, slotId: string, reason: string, cb: PlatformCallback<void>): void {
    this.client.DestroySlot({ requestId, id: slotId, reason }, { deadline: Date.now() + this.callDeadlineMs }, (err, reply) => {
      if (err) return cb(fromGrpcError(err, 'DestroySlot'));
      if (reply !== undefined && reply.status !== Status.Ok) return cb(fromPlatformStatus(reply.status, reply.errorMessage, 'DestroySlot'));
      cb(null);
    });
  }

  close(): void {
    this.client.close();
  }
}
