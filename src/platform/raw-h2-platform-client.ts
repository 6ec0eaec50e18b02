/**
 * The contest `Platform` service over the project's raw HTTP/2 unary client
 * (`src/h2/h2-unary-client.ts`) with hand-encoded protobuf (`platform-codec.ts`): the same
 * contract, error mapping and deadlines as `GrpcPlatformClient`, at a fraction of grpc-js' per-call
 * CPU and memory (a cold-start storm keeps tens of thousands of `Init` calls in flight for
 * seconds).
 *
 * Per call it allocates the request frame, the client's call object and its deadline timer;
 * the completion functions are per method, so no closures are created per call. Callers are
 * never thrown at: every failure, including ones detected before a stream exists, arrives
 * through the callback, and never synchronously.
 */
import { H2Method, type H2Call } from '../h2/h2-call.js';
import { H2UnaryClient } from '../h2/h2-unary-client.js';
import type { H2ConnectionLimits } from '../h2/h2-limits.js';
import {
  PlatformErrorKind,
  type FunctionMetaRef,
  type InitResult,
  type Platform,
  type PlatformCallback,
  type PlatformError,
  type SlotInfo,
} from '../core/platform.js';
// The generated enum, not proto.js: this client must not load grpc-js (see platform-deadlines.ts).
import { Status } from '../wire/generated/serverless/simulator/Status.js';
import {
  GRPC_FRAME_HEADER_BYTES,
  decodeCreateSlotReply,
  decodeDestroySlotReply,
  decodeInitReply,
  encodeCreateSlotFrame,
  type CreateSlotReplyFields,
  type DestroySlotReplyFields,
  type InitReplyFields,
  encodeDestroySlotFrame,
  encodeInitFrame,
  grpcMessageEnd,
} from '../wire/platform-codec.js';
import { PLATFORM_CALL_DEADLINE_MS, PLATFORM_INIT_DEADLINE_MS } from './platform-deadlines.js';
import { fromPlatformStatus, isTransientGrpcCode } from './platform-errors.js';

/** HTTP/2 connections per client; calls are spread over them round-robin. */
export const RAW_PLATFORM_DEFAULT_SESSIONS = 1;
/** Reconnect backoff after a failed connection attempt (grpc-js channel options of the grpc-js client). */
export const RAW_PLATFORM_INITIAL_BACKOFF_MS = 100;
export const RAW_PLATFORM_MAX_BACKOFF_MS = 1_000;
/** Replies are a few dozen bytes; a bigger one is a broken or hostile server (RESOURCE_EXHAUSTED). */
export const RAW_PLATFORM_MAX_REPLY_BYTES = 4 * 1024 * 1024;
/** After `close()`, how long in-flight calls may still finish before their connections are cut. */
export const RAW_PLATFORM_CLOSE_GRACE_MS = 2_000;

export const PLATFORM_CREATE_SLOT_PATH = '/serverless.simulator.Platform/CreateSlot';
export const PLATFORM_INIT_PATH = '/serverless.simulator.Platform/Init';
export const PLATFORM_DESTROY_SLOT_PATH = '/serverless.simulator.Platform/DestroySlot';

export interface RawH2PlatformOptions {
  /** host:port of the platform (contest: 127.0.0.1:50051). */
  address: string;
  callDeadlineMs?: number;
  initDeadlineMs?: number;
  /** HTTP/2 connections to spread calls over (default {@link RAW_PLATFORM_DEFAULT_SESSIONS}). */
  sessions?: number;
  /**
   * What the platform may make a connection hold (header blocks, unread output, ...) and who is
   * told when a limit fires (src/h2/h2-limits.ts; the shard counts and logs it).
   */
  limits?: H2ConnectionLimits;
}

/** gRPC status codes this client produces or interprets (subset of grpc's `status`). */
const GRPC = {
  OK: 0,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
  PERMISSION_DENIED: 7,
} as const;

/** HTTP status of a response without `grpc-status`, as gRPC's HTTP-to-gRPC mapping says. */
function grpcCodeOfHttpStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return GRPC.INTERNAL;
    case 401:
      return GRPC.UNAUTHENTICATED;
    case 403:
      return GRPC.PERMISSION_DENIED;
    case 404:
      return GRPC.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC.UNAVAILABLE;
    default:
      return GRPC.UNKNOWN;
  }
}

function fail(call: H2Call, err: PlatformError): void {
  (call.user as PlatformCallback<unknown>)(err);
}

/**
 * The outcome of a finished call as a platform error, or null when it returned gRPC OK with a
 * reply body to decode (returned in `call.body`).
 */
function transportError(call: H2Call, what: string): PlatformError | null {
  let code = call.grpcStatus;
  let failure = call.failure;
  if (code < 0) {
    code = call.localCode;
    if (code < 0 && call.httpStatus !== 0 && failure === '') {
      // Headers arrived, no gRPC status: judge by HTTP status and content type, as gRPC does.
      if (call.httpStatus !== 200) {
        code = grpcCodeOfHttpStatus(call.httpStatus);
        failure = `HTTP status ${call.httpStatus}`;
      } else if (!call.contentType.startsWith('application/grpc')) {
        code = GRPC.UNKNOWN;
        failure = `content-type ${call.contentType}`;
      }
    }
  }
  if (code === -1) {
    // No status at all: the connection or the stream went away (platform restart, RST_STREAM,
    // GOAWAY). The call may or may not have run; every platform call is safe to retry.
    return transient(`${what}: ${failure || 'stream closed without grpc-status'}`, call.mayHaveBeenProcessed);
  }
  if (code === GRPC.DEADLINE_EXCEEDED && call.grpcStatus < 0) {
    // Our own deadline: the request may have been handled, its answer not yet sent.
    return transient(`${what}: ${failure}`, call.mayHaveBeenProcessed);
  }
  if (code !== GRPC.OK) {
    const detail = call.grpcMessage || failure || `grpc-status ${code}`;
    return { kind: isTransientGrpcCode(code) ? PlatformErrorKind.Transient : PlatformErrorKind.Permanent, message: `${what}: ${detail}` };
  }
  if (call.body === null) return { kind: PlatformErrorKind.Transient, message: `${what}: OK status without a reply message` };
  return null;
}

/**
 * A transient failure; `unknownOutcome` when the request reached a platform that may have acted
 * on it and no answer came back (see PlatformError): the core counts a CreateSlot cut so.
 */
function transient(message: string, unknownOutcome: boolean): PlatformError {
  return unknownOutcome ? { kind: PlatformErrorKind.Transient, message, unknownOutcome } : { kind: PlatformErrorKind.Transient, message };
}

function malformed(what: string, e: unknown): PlatformError {
  // A malformed reply is gRPC INTERNAL, which is transient.
  return { kind: PlatformErrorKind.Transient, message: `${what}: malformed reply: ${(e as Error).message}` };
}

// Decode first, call back after: an exception thrown by a callback is the caller's, not a
// malformed reply.
function onCreateDone(call: H2Call): void {
  const err = transportError(call, 'CreateSlot');
  if (err !== null) return fail(call, err);
  const body = call.body!;
  let reply: CreateSlotReplyFields;
  try {
    reply = decodeCreateSlotReply(body, GRPC_FRAME_HEADER_BYTES, grpcMessageEnd(body));
  } catch (e) {
    return fail(call, malformed('CreateSlot', e));
  }
  const cb = call.user as PlatformCallback<SlotInfo>;
  if (reply.status !== Status.Ok) return cb(fromPlatformStatus(reply.status, reply.errorMessage, 'CreateSlot'));
  const slot = reply.slot;
  if (slot === undefined || slot.id === '') return cb({ kind: PlatformErrorKind.Transient, message: 'CreateSlot: reply without slot' });
  cb(null, { slotId: slot.id, memoryMb: call.aux, createTime: slot.createTime });
}

function onInitDone(call: H2Call): void {
  const err = transportError(call, 'Init');
  if (err !== null) return fail(call, err);
  const body = call.body!;
  let reply: InitReplyFields;
  try {
    reply = decodeInitReply(body, GRPC_FRAME_HEADER_BYTES, grpcMessageEnd(body));
  } catch (e) {
    return fail(call, malformed('Init', e));
  }
  const cb = call.user as PlatformCallback<InitResult>;
  if (reply.status !== Status.Ok) return cb(fromPlatformStatus(reply.status, reply.errorMessage, 'Init'));
  cb(null, { initDurationMs: reply.initDurationInMs });
}

function onDestroyDone(call: H2Call): void {
  const err = transportError(call, 'DestroySlot');
  if (err !== null) return fail(call, err);
  const body = call.body!;
  let reply: DestroySlotReplyFields;
  try {
    reply = decodeDestroySlotReply(body, GRPC_FRAME_HEADER_BYTES, grpcMessageEnd(body));
  } catch (e) {
    return fail(call, malformed('DestroySlot', e));
  }
  const cb = call.user as PlatformCallback<void>;
  if (reply.status !== Status.Ok) return cb(fromPlatformStatus(reply.status, reply.errorMessage, 'DestroySlot'));
  cb(null);
}

/** `grpc-timeout`: at most 8 digits and a unit. */
export function grpcTimeoutHeader(ms: number): string {
  const v = Math.max(0, Math.ceil(ms));
  if (v < 1e8) return `${v}m`;
  const s = Math.ceil(v / 1000);
  if (s < 1e8) return `${s}S`;
  return `${Math.min(99_999_999, Math.ceil(s / 3600))}H`;
}

/** The contest `Platform` service as the core's callback `Platform`, over raw HTTP/2. */
export class RawH2PlatformClient implements Platform {
  private readonly client: H2UnaryClient;
  private readonly callDeadlineMs: number;
  private readonly initDeadlineMs: number;
  private readonly createMethod: H2Method;
  private readonly initMethod: H2Method;
  private readonly destroyMethod: H2Method;
  private closed = false;

  constructor(opts: RawH2PlatformOptions) {
    this.callDeadlineMs = opts.callDeadlineMs ?? PLATFORM_CALL_DEADLINE_MS;
    this.initDeadlineMs = opts.initDeadlineMs ?? PLATFORM_INIT_DEADLINE_MS;
    this.client = new H2UnaryClient({
      address: opts.address,
      connections: opts.sessions ?? RAW_PLATFORM_DEFAULT_SESSIONS,
      maxReplyBytes: RAW_PLATFORM_MAX_REPLY_BYTES,
      initialBackoffMs: RAW_PLATFORM_INITIAL_BACKOFF_MS,
      maxBackoffMs: RAW_PLATFORM_MAX_BACKOFF_MS,
      ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
    });
    this.createMethod = new H2Method(PLATFORM_CREATE_SLOT_PATH, grpcTimeoutHeader(this.callDeadlineMs));
    this.initMethod = new H2Method(PLATFORM_INIT_PATH, grpcTimeoutHeader(this.initDeadlineMs));
    this.destroyMethod = new H2Method(PLATFORM_DESTROY_SLOT_PATH, grpcTimeoutHeader(this.callDeadlineMs));
  }

  /** Connections opened so far (reconnects included), for tests and diagnostics. */
  get sessionsOpened(): number {
    return this.client.sessionsOpened;
  }

  get lastSessionError(): Error | null {
    return this.client.lastSessionError;
  }

  createSlot(requestId: string, memoryMb: number, cb: PlatformCallback<SlotInfo>): void {
    let frame: Buffer;
    try {
      frame = encodeCreateSlotFrame(requestId, memoryMb);
    } catch (e) {
      this.failLater(cb, `CreateSlot: ${(e as Error).message}`, PlatformErrorKind.Permanent);
      return;
    }
    this.client.call(this.createMethod, frame, this.callDeadlineMs, onCreateDone, cb, memoryMb);
  }

  init(requestId: string, slotId: string, instanceId: string, meta: FunctionMetaRef, cb: PlatformCallback<InitResult>): void {
    let frame: Buffer;
    try {
      frame = encodeInitFrame(requestId, slotId, instanceId, {
        key: meta.key,
        runtime: meta.runtime,
        timeoutInSecs: meta.timeoutInSecs,
        memoryInMb: meta.memoryMb,
      });
    } catch (e) {
      this.failLater(cb, `Init: ${(e as Error).message}`, PlatformErrorKind.Permanent);
      return;
    }
    this.client.call(this.initMethod, frame, this.initDeadlineMs, onInitDone, cb);
  }

  destroySlot(requestId: string, slotId: string, reason: string, cb: PlatformCallback<void>): void {
    let frame: Buffer;
    try {
      frame = encodeDestroySlotFrame(requestId, slotId, reason);
    } catch (e) {
      this.failLater(cb, `DestroySlot: ${(e as Error).message}`, PlatformErrorKind.Permanent);
      return;
    }
    this.client.call(this.destroyMethod, frame, this.callDeadlineMs, onDestroyDone, cb);
  }

  /** Stops new calls (they fail transient); in-flight ones get a short grace, then are cut. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close(RAW_PLATFORM_CLOSE_GRACE_MS);
  }

  private failLater(cb: PlatformCallback<never>, message: string, kind: PlatformErrorKind): void {
    // Callers may start another call from their callback: never call them back re-entrantly.
    setImmediate(cb, { kind, message });
  }
}
