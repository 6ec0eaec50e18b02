/**
 * The lean load-generator client: `node:http2` with pre-encoded gRPC frames. Per call it
 * allocates one frame buffer, one small state object and the stream itself; headers and request
 * options are shared constants, and the stream listeners are module-level functions that find
 * their call through a symbol, so no closures are created per call.
 *
 * A call succeeds only when `grpc-status: 0` arrives (in trailers, or in a trailers-only
 * response); anything else is a {@link LoadCallError} carrying the status.
 */
import * as http2 from 'node:http2';
import {
  encodeAssignFrame,
  encodeIdleFrame,
  encodeMetaField,
  encodeResultField,
  decodeAssignReply,
  decodeIdleReplyStatus,
  grpcMessageEnd,
  GRPC_FRAME_HEADER_BYTES,
  type ResultFields,
} from './assign-idle-codec.js';
import {
  LoadCallError,
  LoadCallErrorCode,
  GRPC_STATUS_INTERNAL,
  GRPC_STATUS_UNAVAILABLE,
  type AssignCallback,
  type IdleCallback,
  type LoadClient,
} from './load-client.js';

export const RAW_H2_DEFAULT_SESSIONS = 1;
/** Stream-level receive window; replies are tiny, this only avoids WINDOW_UPDATE chatter. */
export const RAW_H2_INITIAL_WINDOW_BYTES = 1 << 20;
/** nghttp2 refuses new streams (ENHANCE_YOUR_CALM) past this much buffered session memory. */
export const RAW_H2_MAX_SESSION_MEMORY_MB = 256;
export const DEFAULT_META_RUNTIME = 'nodejs';
export const DEFAULT_META_TIMEOUT_SECS = 60;
export const DEFAULT_IDLE_RESULT: ResultFields = { statusCode: 200, durationInMs: 0 };

export const SCALER_ASSIGN_PATH = '/serverless.simulator.Scaler/Assign';
export const SCALER_IDLE_PATH = '/serverless.simulator.Scaler/Idle';

export interface RawH2ClientOptions {
  /** `host:port` of the Scaler service. */
  readonly target: string;
  /** HTTP/2 connections to spread calls over, round-robin. */
  readonly sessions?: number;
  readonly runtime?: string;
  readonly timeoutInSecs?: number;
  /** The `Result` every Idle carries (the trace's status code and duration). */
  readonly idleResult?: ResultFields;
  /** Whether Assign carries `timestamp = Date.now()` (the simulator sends one). */
  readonly sendTimestamp?: boolean;
}

const KIND_ASSIGN = 0;
const KIND_IDLE = 1;

interface RawCall {
  kind: number;
  assignCb: AssignCallback | null;
  idleCb: IdleCallback | null;
  body: Buffer | null;
  /** -1 until a `grpc-status` header arrives. */
  grpcStatus: number;
  grpcMessage: string;
  errorMessage: string;
  settled: boolean;
}

const kCall = Symbol('rawH2Call');
type CallStream = http2.ClientHttp2Stream & { [kCall]?: RawCall };

function headerString(v: string | string[] | number | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[0] : String(v);
}

function bodyComplete(body: Buffer | null): boolean {
  return (
    body !== null && body.length >= GRPC_FRAME_HEADER_BYTES && body.length >= GRPC_FRAME_HEADER_BYTES + body.readUInt32BE(1)
  );
}

function fail(call: RawCall, err: LoadCallError): void {
  if (call.kind === KIND_ASSIGN) call.assignCb!(err, null);
  else call.idleCb!(err, -1);
}

function settle(call: RawCall): void {
  if (call.settled) return;
  call.settled = true;
  if (call.grpcStatus === -1) {
    fail(call, new LoadCallError(LoadCallErrorCode.Transport, GRPC_STATUS_UNAVAILABLE,
      call.errorMessage || 'stream closed without grpc-status'));
    return;
  }
  if (call.grpcStatus !== 0) {
    fail(call, new LoadCallError(LoadCallErrorCode.GrpcStatus, call.grpcStatus,
      call.grpcMessage || `grpc-status ${call.grpcStatus}`));
    return;
  }
  const body = call.body;
  let end: number;
  try {
    if (body === null) throw new Error('OK status without a message');
    end = grpcMessageEnd(body);
  } catch (e) {
    fail(call, new LoadCallError(LoadCallErrorCode.Protocol, GRPC_STATUS_INTERNAL, (e as Error).message));
    return;
  }
  if (call.kind === KIND_ASSIGN) {
    let outcome;
    try {
      outcome = decodeAssignReply(body, GRPC_FRAME_HEADER_BYTES, end);
    } catch (e) {
      fail(call, new LoadCallError(LoadCallErrorCode.Protocol, GRPC_STATUS_INTERNAL, (e as Error).message));
      return;
    }
    call.assignCb!(null, outcome);
  } else {
    let status;
    try {
      status = decodeIdleReplyStatus(body, GRPC_FRAME_HEADER_BYTES, end);
    } catch (e) {
      fail(call, new LoadCallError(LoadCallErrorCode.Protocol, GRPC_STATUS_INTERNAL, (e as Error).message));
      return;
    }
    call.idleCb!(null, status);
  }
}

function readStatus(call: RawCall, headers: http2.IncomingHttpHeaders): void {
  const s = headerString(headers['grpc-status']);
  if (s === undefined) return;
  const n = Number(s);
  call.grpcStatus = Number.isInteger(n) && n >= 0 ? n : GRPC_STATUS_INTERNAL;
  const m = headerString(headers['grpc-message']);
  if (m !== undefined) call.grpcMessage = decodeURIComponent(m);
}

function onResponse(this: CallStream, headers: http2.IncomingHttpHeaders): void {
  const call = this[kCall]!;
  // Typed as a string, delivered as a number.
  const httpStatus = Number(headers[':status']);
  if (httpStatus !== 200 && headers['grpc-status'] === undefined) {
    call.errorMessage = `HTTP status ${String(httpStatus)}`;
  }
  readStatus(call, headers);
}

function onData(this: CallStream, chunk: Buffer): void {
  const call = this[kCall]!;
  call.body = call.body === null ? chunk : Buffer.concat([call.body, chunk]);
}

function onTrailers(this: CallStream, trailers: http2.IncomingHttpHeaders): void {
  const call = this[kCall]!;
  readStatus(call, trailers);
  // Settle now in the common case; otherwise the rest of the body is still in flight.
  if (call.grpcStatus !== 0 || bodyComplete(call.body)) settle(call);
}

function onEndOrClose(this: CallStream): void {
  settle(this[kCall]!);
}

function onError(this: CallStream, err: Error): void {
  this[kCall]!.errorMessage = err.message;
}

/** Shared across calls: Node copies these into nghttp2's header list and never keeps them. */
const ASSIGN_HEADERS: http2.OutgoingHttpHeaders = {
  ':method': 'POST',
  ':path': SCALER_ASSIGN_PATH,
  'content-type': 'application/grpc',
  te: 'trailers',
};
const IDLE_HEADERS: http2.OutgoingHttpHeaders = { ...ASSIGN_HEADERS, ':path': SCALER_IDLE_PATH };
const REQUEST_OPTIONS: http2.ClientSessionRequestOptions = { endStream: false };

export class RawH2Client implements LoadClient {
  private readonly authority: string;
  private readonly sessions: (http2.ClientHttp2Session | null)[];
  private next = 0;
  private readonly metaFields = new Map<string, Buffer>();
  private readonly metaMemory = new Map<string, number>();
  private readonly resultField: Buffer;
  private readonly runtime: string;
  private readonly timeoutInSecs: number;
  private readonly sendTimestamp: boolean;
  private closed = false;
  /** Last session-level error, for diagnostics. */
  lastSessionError: Error | null = null;

  constructor(options: RawH2ClientOptions) {
    this.authority = `http://${options.target}`;
    this.sessions = new Array<http2.ClientHttp2Session | null>(Math.max(1, options.sessions ?? RAW_H2_DEFAULT_SESSIONS)).fill(null);
    this.runtime = options.runtime ?? DEFAULT_META_RUNTIME;
    this.timeoutInSecs = options.timeoutInSecs ?? DEFAULT_META_TIMEOUT_SECS;
    this.resultField = encodeResultField(options.idleResult ?? DEFAULT_IDLE_RESULT);
    this.sendTimestamp = options.sendTimestamp ?? true;
  }

  /** Opens the sessions now and resolves once all are connected (optional; calls connect lazily). */
  connect(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (let i = 0; i < this.sessions.length; i++) {
      const s = this.session(i);
      if (!s.connecting) continue;
      waits.push(new Promise((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('error', reject);
      }));
    }
    return Promise.all(waits).then(() => undefined);
  }

  private session(i: number): http2.ClientHttp2Session {
    const existing = this.sessions[i];
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const s = http2.connect(this.authority, {
      settings: { enablePush: false, initialWindowSize: RAW_H2_INITIAL_WINDOW_BYTES },
      peerMaxConcurrentStreams: 2 ** 31 - 1,
      maxSessionMemory: RAW_H2_MAX_SESSION_MEMORY_MB,
    });
    s.on('error', (err: Error) => {
      this.lastSessionError = err;
    });
    s.on('connect', () => {
      s.setLocalWindowSize(RAW_H2_INITIAL_WINDOW_BYTES * 16);
    });
    this.sessions[i] = s;
    return s;
  }

  private start(headers: http2.OutgoingHttpHeaders, frame: Buffer, call: RawCall): void {
    if (this.closed) {
      call.settled = true;
      fail(call, new LoadCallError(LoadCallErrorCode.Transport, GRPC_STATUS_UNAVAILABLE, 'client closed'));
      return;
    }
    const i = this.next;
    this.next = i + 1 === this.sessions.length ? 0 : i + 1;
    let stream: CallStream;
    try {
      stream = this.session(i).request(headers, REQUEST_OPTIONS);
    } catch (e) {
      call.settled = true;
      fail(call, new LoadCallError(LoadCallErrorCode.Transport, GRPC_STATUS_UNAVAILABLE, (e as Error).message));
      return;
    }
    stream[kCall] = call;
    stream.on('response', onResponse);
    stream.on('data', onData);
    stream.on('trailers', onTrailers);
    stream.on('end', onEndOrClose);
    stream.on('close', onEndOrClose);
    stream.on('error', onError);
    stream.end(frame);
  }

  private metaField(key: string, memoryMb: number): Buffer {
    let field = this.metaFields.get(key);
    if (field === undefined || this.metaMemory.get(key) !== memoryMb) {
      field = encodeMetaField({ key, runtime: this.runtime, timeoutInSecs: this.timeoutInSecs, memoryInMb: memoryMb });
      this.metaFields.set(key, field);
      this.metaMemory.set(key, memoryMb);
    }
    return field;
  }

  assign(key: string, requestId: string, memoryMb: number, cb: AssignCallback): void {
    const frame = encodeAssignFrame(requestId, this.sendTimestamp ? Date.now() : 0, this.metaField(key, memoryMb));
    this.start(ASSIGN_HEADERS, frame, {
      kind: KIND_ASSIGN, assignCb: cb, idleCb: null, body: null, grpcStatus: -1, grpcMessage: '', errorMessage: '', settled: false,
    });
  }

  idle(key: string, requestId: string, instanceId: string, cb: IdleCallback): void {
    const frame = encodeIdleFrame(requestId, key, instanceId, this.resultField);
    this.start(IDLE_HEADERS, frame, {
      kind: KIND_IDLE, assignCb: null, idleCb: cb, body: null, grpcStatus: -1, grpcMessage: '', errorMessage: '', settled: false,
    });
  }

  close(): void {
    this.closed = true;
    for (let i = 0; i < this.sessions.length; i++) {
      const s = this.sessions[i];
      if (s) s.close();
      this.sessions[i] = null;
    }
  }
}
