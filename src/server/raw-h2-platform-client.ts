/**
 * The contest `Platform` service over `node:http2` with hand-encoded protobuf
 * (`platform-codec.ts`): the same contract, error mapping and deadlines as `GrpcPlatformClient`,
 * at a fraction of grpc-js' per-call CPU and memory (a cold-start storm keeps tens of thousands
 * of `Init` calls in flight for seconds).
 *
 * Per call it allocates the request frame, one small state object, the stream and its deadline
 * timer; headers and request options are per-method constants, and the stream listeners are
 * module-level functions that find their call through a symbol, so no closures are created per
 * call. Callers are never thrown at: every failure, including ones detected before a stream
 * exists, arrives through the callback, and never synchronously.
 */
import * as http2 from 'node:http2';
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
import { Status } from '../generated/serverless/simulator/Status.js';
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
} from './platform-codec.js';
import { PLATFORM_CALL_DEADLINE_MS, PLATFORM_INIT_DEADLINE_MS } from './platform-deadlines.js';
import { fromPlatformStatus, isTransientGrpcCode } from './platform-errors.js';

/** HTTP/2 connections per client; calls are spread over them round-robin. */
export const RAW_PLATFORM_DEFAULT_SESSIONS = 1;
/** Reconnect backoff after a failed connection attempt (grpc-js channel options of the grpc-js client). */
export const RAW_PLATFORM_INITIAL_BACKOFF_MS = 100;
export const RAW_PLATFORM_MAX_BACKOFF_MS = 1_000;
/** Replies are a few dozen bytes; a bigger one is a broken or hostile server (RESOURCE_EXHAUSTED). */
export const RAW_PLATFORM_MAX_REPLY_BYTES = 4 * 1024 * 1024;
/** Receive window per stream and per session: replies are tiny, this only avoids WINDOW_UPDATE chatter. */
export const RAW_PLATFORM_INITIAL_WINDOW_BYTES = 1 << 20;
/**
 * nghttp2 refuses new streams (ENHANCE_YOUR_CALM) past this much buffered session memory; the
 * default 10 MB is too small for a storm's tens of thousands of open `Init` streams.
 */
export const RAW_PLATFORM_MAX_SESSION_MEMORY_MB = 256;
/** After `close()`, how long in-flight calls may still finish before their sessions are destroyed. */
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

const METHOD_CREATE = 0;
const METHOD_INIT = 1;
const METHOD_DESTROY = 2;
const METHOD_NAMES = ['CreateSlot', 'Init', 'DestroySlot'] as const;

/** State of one call; the stream and the deadline timer point at it. */
interface RawCall {
  readonly method: number;
  /** CreateSlot: the requested memory, echoed in `SlotInfo`. */
  readonly memoryMb: number;
  readonly cb: PlatformCallback<SlotInfo> | PlatformCallback<InitResult> | PlatformCallback<void>;
  stream: http2.ClientHttp2Stream | null;
  /** The session the stream went out on (see `heardFrom`). */
  session: http2.ClientHttp2Session | null;
  timer: NodeJS.Timeout | null;
  body: Buffer | null;
  /** -1 until a `grpc-status` arrives (trailers, or headers of a trailers-only response). */
  grpcStatus: number;
  grpcMessage: string;
  /** Why the stream ended without a status (stream error, HTTP status), for the message. */
  failure: string;
  /** A gRPC code for a failure detected locally (bad HTTP status, oversized body); -1 if none. */
  localCode: number;
  settled: boolean;
}

const kCall = Symbol('rawPlatformCall');
/**
 * Sessions whose peer sent its SETTINGS. A server sends them first thing on a connection, so a
 * connection reset before they arrived (a proxy refusing it, a server that was not there) carried
 * no request to any platform.
 */
const heardFrom = new WeakSet<http2.ClientHttp2Session>();
type CallStream = http2.ClientHttp2Stream & { [kCall]?: RawCall };

function headerString(v: string | string[] | number | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[0] : String(v);
}

function decodeGrpcMessage(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function fail(call: RawCall, err: PlatformError): void {
  (call.cb as PlatformCallback<unknown>)(err);
}

function transient(call: RawCall, detail: string, unknownOutcome = false): PlatformError {
  const message = `${METHOD_NAMES[call.method]}: ${detail}`;
  return unknownOutcome ? { kind: PlatformErrorKind.Transient, message, unknownOutcome } : { kind: PlatformErrorKind.Transient, message };
}

/** Ends a call exactly once: clears its deadline, detaches its stream and reports the outcome. */
function settle(call: RawCall): void {
  if (call.settled) return;
  call.settled = true;
  if (call.timer !== null) {
    clearTimeout(call.timer);
    call.timer = null;
  }
  const stream = call.stream as CallStream | null;
  call.stream = null;
  // A stream that got an id, on a connection the platform spoke on, may have been acted on:
  // from then on an end without a status is an unknown outcome (see PlatformError).
  const sent = stream !== null && !stream.pending && call.session !== null && heardFrom.has(call.session);
  call.session = null;
  if (stream !== null) stream[kCall] = undefined;
  const what = METHOD_NAMES[call.method];
  const code = call.grpcStatus >= 0 ? call.grpcStatus : call.localCode;
  if (code === -1) {
    // No status at all: the connection or the stream went away (platform restart, RST_STREAM,
    // GOAWAY). The call may or may not have run; every platform call is safe to retry.
    fail(call, transient(call, call.failure || 'stream closed without grpc-status', sent));
    return;
  }
  if (code === GRPC.DEADLINE_EXCEEDED && call.grpcStatus === -1) {
    // Our own deadline: the request may have been handled, its answer not yet sent.
    fail(call, transient(call, call.failure, sent));
    return;
  }
  if (code !== GRPC.OK) {
    const detail = call.grpcMessage || call.failure || `grpc-status ${code}`;
    fail(call, { kind: isTransientGrpcCode(code) ? PlatformErrorKind.Transient : PlatformErrorKind.Permanent, message: `${what}: ${detail}` });
    return;
  }
  const body = call.body;
  call.body = null;
  if (body === null) {
    fail(call, transient(call, 'OK status without a reply message'));
    return;
  }
  // Decode first, call back after: an exception thrown by a callback is the caller's, not a
  // malformed reply. A malformed reply is gRPC INTERNAL, which is transient.
  const start = GRPC_FRAME_HEADER_BYTES;
  switch (call.method) {
    case METHOD_CREATE: {
      let reply: CreateSlotReplyFields;
      try {
        reply = decodeCreateSlotReply(body, start, grpcMessageEnd(body));
      } catch (e) {
        fail(call, transient(call, `malformed reply: ${(e as Error).message}`));
        return;
      }
      const cb = call.cb as PlatformCallback<SlotInfo>;
      if (reply.status !== Status.Ok) return cb(fromPlatformStatus(reply.status, reply.errorMessage, what));
      const slot = reply.slot;
      if (slot === undefined || slot.id === '') return cb({ kind: PlatformErrorKind.Transient, message: 'CreateSlot: reply without slot' });
      return cb(null, { slotId: slot.id, memoryMb: call.memoryMb, createTime: slot.createTime });
    }
    case METHOD_INIT: {
      let reply: InitReplyFields;
      try {
        reply = decodeInitReply(body, start, grpcMessageEnd(body));
      } catch (e) {
        fail(call, transient(call, `malformed reply: ${(e as Error).message}`));
        return;
      }
      const cb = call.cb as PlatformCallback<InitResult>;
      if (reply.status !== Status.Ok) return cb(fromPlatformStatus(reply.status, reply.errorMessage, what));
      return cb(null, { initDurationMs: reply.initDurationInMs });
    }
    default: {
      let reply: DestroySlotReplyFields;
      try {
        reply = decodeDestroySlotReply(body, start, grpcMessageEnd(body));
      } catch (e) {
        fail(call, transient(call, `malformed reply: ${(e as Error).message}`));
        return;
      }
      const cb = call.cb as PlatformCallback<void>;
      if (reply.status !== Status.Ok) return cb(fromPlatformStatus(reply.status, reply.errorMessage, what));
      return cb(null);
    }
  }
}

/** Gives up on a call whose stream is still open (deadline, oversized reply): reset the stream. */
function abandon(call: RawCall): void {
  const stream = call.stream;
  settle(call);
  if (stream !== null && !stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
}

function readStatus(call: RawCall, headers: http2.IncomingHttpHeaders): void {
  const s = headerString(headers['grpc-status']);
  if (s === undefined) return;
  const n = Number(s);
  call.grpcStatus = Number.isInteger(n) && n >= 0 ? n : GRPC.UNKNOWN;
  const m = headerString(headers['grpc-message']);
  if (m !== undefined) call.grpcMessage = decodeGrpcMessage(m);
}

function onResponse(this: CallStream, headers: http2.IncomingHttpHeaders): void {
  const call = this[kCall];
  if (call === undefined) return;
  // Typed as a string, delivered as a number.
  const httpStatus = Number(headers[':status']);
  if (headers['grpc-status'] === undefined) {
    if (httpStatus !== 200) {
      call.localCode = grpcCodeOfHttpStatus(httpStatus);
      call.failure = `HTTP status ${httpStatus}`;
    } else if (!String(headers['content-type'] ?? '').startsWith('application/grpc')) {
      call.localCode = GRPC.UNKNOWN;
      call.failure = `content-type ${String(headers['content-type'])}`;
    }
  }
  readStatus(call, headers);
}

function onData(this: CallStream, chunk: Buffer): void {
  const call = this[kCall];
  if (call === undefined) return;
  const body = call.body === null ? chunk : Buffer.concat([call.body, chunk]);
  if (body.length > RAW_PLATFORM_MAX_REPLY_BYTES) {
    call.body = null;
    call.localCode = GRPC.RESOURCE_EXHAUSTED;
    call.failure = `reply larger than ${RAW_PLATFORM_MAX_REPLY_BYTES} bytes`;
    abandon(call);
    return;
  }
  call.body = body;
}

function onTrailers(this: CallStream, trailers: http2.IncomingHttpHeaders): void {
  const call = this[kCall];
  if (call === undefined) return;
  readStatus(call, trailers);
  // Trailers end the stream, so the body is complete.
  settle(call);
}

function onClose(this: CallStream): void {
  const call = this[kCall];
  if (call === undefined) return;
  if (call.grpcStatus === -1 && call.localCode === -1 && call.failure === '' && this.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
    call.failure = `stream reset (HTTP/2 code ${this.rstCode})`;
  }
  settle(call);
}

function onStreamError(this: CallStream, err: Error): void {
  const call = this[kCall];
  if (call !== undefined && call.failure === '') call.failure = err.message;
}

function onDeadline(call: RawCall): void {
  call.timer = null;
  if (call.settled) return;
  call.localCode = GRPC.DEADLINE_EXCEEDED;
  call.failure = 'deadline exceeded';
  call.grpcStatus = -1;
  abandon(call);
}

/** `grpc-timeout`: at most 8 digits and a unit. */
export function grpcTimeoutHeader(ms: number): string {
  const v = Math.max(0, Math.ceil(ms));
  if (v < 1e8) return `${v}m`;
  const s = Math.ceil(v / 1000);
  if (s < 1e8) return `${s}S`;
  return `${Math.min(99_999_999, Math.ceil(s / 3600))}H`;
}

function methodHeaders(path: string, deadlineMs: number): http2.OutgoingHttpHeaders {
  return {
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': grpcTimeoutHeader(deadlineMs),
  };
}

const REQUEST_OPTIONS: http2.ClientSessionRequestOptions = { endStream: false };

interface SessionSlot {
  session: http2.ClientHttp2Session | null;
}

/** The contest `Platform` service as the core's callback `Platform`, over raw HTTP/2. */
export class RawH2PlatformClient implements Platform {
  private readonly authority: string;
  private readonly slots: SessionSlot[];
  private next = 0;
  private readonly callDeadlineMs: number;
  private readonly initDeadlineMs: number;
  private readonly headers: readonly http2.OutgoingHttpHeaders[];
  /** Reconnect backoff: 0 while connections succeed, doubling per failed attempt up to the max. */
  private backoffMs = 0;
  /** No new connection attempt before this time (ms, performance clock). */
  private retryAtMs = 0;
  private closed = false;
  /** Sessions opened so far (reconnects included), for tests and diagnostics. */
  sessionsOpened = 0;
  lastSessionError: Error | null = null;

  constructor(opts: RawH2PlatformOptions) {
    this.authority = `http://${opts.address}`;
    this.callDeadlineMs = opts.callDeadlineMs ?? PLATFORM_CALL_DEADLINE_MS;
    this.initDeadlineMs = opts.initDeadlineMs ?? PLATFORM_INIT_DEADLINE_MS;
    const n = Math.max(1, Math.floor(opts.sessions ?? RAW_PLATFORM_DEFAULT_SESSIONS));
    this.slots = Array.from({ length: n }, () => ({ session: null }));
    this.headers = [
      methodHeaders(PLATFORM_CREATE_SLOT_PATH, this.callDeadlineMs),
      methodHeaders(PLATFORM_INIT_PATH, this.initDeadlineMs),
      methodHeaders(PLATFORM_DESTROY_SLOT_PATH, this.callDeadlineMs),
    ];
  }

  createSlot(requestId: string, memoryMb: number, cb: PlatformCallback<SlotInfo>): void {
    let frame: Buffer;
    try {
      frame = encodeCreateSlotFrame(requestId, memoryMb);
    } catch (e) {
      this.failLater(cb, `CreateSlot: ${(e as Error).message}`, PlatformErrorKind.Permanent);
      return;
    }
    this.start(newCall(METHOD_CREATE, memoryMb, cb), frame, this.callDeadlineMs);
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
    this.start(newCall(METHOD_INIT, 0, cb), frame, this.initDeadlineMs);
  }

  destroySlot(requestId: string, slotId: string, reason: string, cb: PlatformCallback<void>): void {
    let frame: Buffer;
    try {
      frame = encodeDestroySlotFrame(requestId, slotId, reason);
    } catch (e) {
      this.failLater(cb, `DestroySlot: ${(e as Error).message}`, PlatformErrorKind.Permanent);
      return;
    }
    this.start(newCall(METHOD_DESTROY, 0, cb), frame, this.callDeadlineMs);
  }

  /** Stops new calls (they fail transient); in-flight ones get a short grace, then are cut. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots) {
      const s = slot.session;
      slot.session = null;
      if (s === null || s.destroyed) continue;
      s.close();
      const t = setTimeout(() => s.destroy(), RAW_PLATFORM_CLOSE_GRACE_MS);
      t.unref();
      s.once('close', () => clearTimeout(t));
    }
  }

  private failLater(cb: PlatformCallback<never>, message: string, kind: PlatformErrorKind): void {
    // Callers may start another call from their callback: never call them back re-entrantly.
    setImmediate(cb, { kind, message });
  }

  private start(call: RawCall, frame: Buffer, deadlineMs: number): void {
    const what = METHOD_NAMES[call.method];
    if (this.closed) {
      this.failLater(call.cb as PlatformCallback<never>, `${what}: client closed`, PlatformErrorKind.Transient);
      return;
    }
    const session = this.session();
    if (session === null) {
      this.failLater(call.cb as PlatformCallback<never>, `${what}: platform unreachable (reconnecting)`, PlatformErrorKind.Transient);
      return;
    }
    let stream: CallStream;
    try {
      stream = session.request(this.headers[call.method]!, REQUEST_OPTIONS);
    } catch (e) {
      // The session is closing (GOAWAY) or destroyed: forget it so the next call reconnects.
      this.forget(session);
      this.failLater(call.cb as PlatformCallback<never>, `${what}: ${(e as Error).message}`, PlatformErrorKind.Transient);
      return;
    }
    call.stream = stream;
    call.session = session;
    stream[kCall] = call;
    stream.on('response', onResponse);
    stream.on('data', onData);
    stream.on('trailers', onTrailers);
    stream.on('close', onClose);
    stream.on('error', onStreamError);
    call.timer = setTimeout(onDeadline, deadlineMs, call);
    call.timer.unref();
    stream.end(frame);
  }

  /** A live session (round-robin), a new one if its slot is empty, or null while backing off. */
  private session(): http2.ClientHttp2Session | null {
    const i = this.next;
    this.next = i + 1 === this.slots.length ? 0 : i + 1;
    const slot = this.slots[i]!;
    const existing = slot.session;
    if (existing !== null && !existing.closed && !existing.destroyed) return existing;
    slot.session = null;
    if (performance.now() < this.retryAtMs) return null;
    let s: http2.ClientHttp2Session;
    try {
      s = http2.connect(this.authority, {
        settings: { enablePush: false, initialWindowSize: RAW_PLATFORM_INITIAL_WINDOW_BYTES },
        // Assume no stream limit until the server's SETTINGS say otherwise (grpc servers allow
        // far more than the HTTP/2 default of 100 that Node would otherwise assume).
        peerMaxConcurrentStreams: 2 ** 31 - 1,
        maxSessionMemory: RAW_PLATFORM_MAX_SESSION_MEMORY_MB,
      });
    } catch (e) {
      this.lastSessionError = e as Error;
      this.connectFailed();
      return null;
    }
    this.sessionsOpened++;
    let connected = false;
    s.once('remoteSettings', () => heardFrom.add(s));
    s.on('connect', () => {
      connected = true;
      this.backoffMs = 0;
      this.retryAtMs = 0;
      s.setLocalWindowSize(RAW_PLATFORM_INITIAL_WINDOW_BYTES * 16);
    });
    s.on('error', (err: Error) => {
      this.lastSessionError = err;
    });
    // A server shutting down: let its streams finish, open a new session for new calls.
    s.on('goaway', () => this.forget(s));
    s.on('close', () => {
      this.forget(s);
      // Only a failed attempt backs off; a connection that worked and then dropped (platform
      // restart) is retried at once by the next call, as a grpc-js channel does.
      if (!connected) this.connectFailed();
    });
    slot.session = s;
    return s;
  }

  private connectFailed(): void {
    this.backoffMs = this.backoffMs === 0 ? RAW_PLATFORM_INITIAL_BACKOFF_MS : Math.min(RAW_PLATFORM_MAX_BACKOFF_MS, this.backoffMs * 2);
    this.retryAtMs = performance.now() + this.backoffMs;
  }

  private forget(s: http2.ClientHttp2Session): void {
    for (const slot of this.slots) if (slot.session === s) slot.session = null;
  }
}

function newCall(method: number, memoryMb: number, cb: RawCall['cb']): RawCall {
  return {
    method,
    memoryMb,
    cb,
    stream: null,
    session: null,
    timer: null,
    body: null,
    grpcStatus: -1,
    grpcMessage: '',
    failure: '',
    localCode: -1,
    settled: false,
  };
}
