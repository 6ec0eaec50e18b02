/**
 * The `Scaler` gRPC service on `node:http2` directly, with the project's protobuf codec
 * (`src/server/assign-idle-codec.ts`): the same `ScalerService` as the grpc-js server
 * (`--grpc-server http2` selects it), without grpc-js' per-call layers (metadata objects,
 * interceptors, stream wrappers, protobufjs).
 *
 * gRPC over HTTP/2 as the service needs it: `grpc-timeout` deadlines (DEADLINE_EXCEEDED, and the
 * call counts as cancelled), status and message in trailers (trailers-only for errors), a
 * receive limit per message (RESOURCE_EXHAUSTED), client cancellation (RST_STREAM, or the
 * connection going away, cancels the call), UNIMPLEMENTED for unknown methods and compressed
 * messages, and GOAWAY on shutdown (calls in flight finish within the grace).
 */
import * as http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import {
  decodeAssignRequest,
  decodeIdleRequest,
  encodeAssignReplyFrame,
  IDLE_REPLY_OK_FRAME,
  SCALER_ASSIGN_PATH,
  SCALER_IDLE_PATH,
  type DecodedAssignRequest,
  type DecodedIdleRequest,
} from '../wire/assign-idle-codec.js';
import { GRPC_FRAME_HEADER_BYTES } from '../wire/protobuf-wire.js';
import { GrpcBodyState, GrpcMessageBuffer } from '../h2/grpc-message-buffer.js';
import { LimitReporter } from '../h2/h2-limits.js';
import type { Logger } from '../logger.js';
import type { AssignDone, IdleDone, ScalerCall, ScalerService } from './scaler-service.js';

/** Largest request message accepted (as the grpc-js server's `grpc.max_receive_message_length`). */
export const H2_SCALER_MAX_MESSAGE_BYTES = 64 * 1024;
/** The simulator multiplexes thousands of waiting calls on one connection (as the grpc-js server). */
export const H2_SCALER_MAX_CONCURRENT_STREAMS = 100_000;
/** nghttp2's per-session buffer bound; its 10 MB default is small for a storm's open streams. */
export const H2_SCALER_MAX_SESSION_MEMORY_MB = 256;
/** TCP keepalive probes on idle connections, so a vanished client's calls end. */
export const H2_SCALER_TCP_KEEPALIVE_MS = 60_000;
/** SETTINGS_MAX_HEADER_LIST_SIZE we advertise (nghttp2 enforces it; as grpc-js' 8 KiB metadata with room). */
export const H2_SCALER_MAX_HEADER_LIST_BYTES = 16 * 1024;
/**
 * Streams of one connection whose request body has not fully arrived. A client sends HEADERS and
 * DATA together, so this is a handful in practice (calls waiting for their answer do not count);
 * past it new streams are refused (RST_STREAM REFUSED_STREAM), and after as many refusals again
 * the connection is closed (GOAWAY ENHANCE_YOUR_CALM).
 */
export const H2_SCALER_MAX_PENDING_BODY_STREAMS = 1_024;
/** Request bytes one connection may have buffered in bodies not yet complete; past it the connection is closed (GOAWAY ENHANCE_YOUR_CALM). */
export const H2_SCALER_MAX_PENDING_BODY_BYTES = 8 * 1024 * 1024;
/** A request body that makes no progress for this long has its stream reset (CANCEL), `grpc-timeout` or not. */
export const H2_SCALER_BODY_IDLE_MS = 10_000;
/** Longest `grpc-timeout` honoured: a Node timer's maximum (2^31 - 1 ms, ~24.8 days), as grpc-js clamps it. */
export const H2_SCALER_MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The server's limits, as `scaler_peer_limits_total{side="server",limit=...}` names them. */
export const H2_SERVER_LIMITS = ['request_body', 'pending_body_streams', 'pending_body_bytes', 'body_idle', 'grpc_timeout'] as const;
export type H2ServerLimit = (typeof H2_SERVER_LIMITS)[number];

/**
 * Times each limit fired in this process, over every `H2ScalerServer` (the main thread owns the
 * server, so no shared memory is needed); `/metrics` reads it at scrape time.
 */
export const h2ServerLimitHits: Record<H2ServerLimit, number> = { request_body: 0, pending_body_streams: 0, pending_body_bytes: 0, body_idle: 0, grpc_timeout: 0 };

export interface H2ScalerServerLimits {
  readonly maxMessageBytes?: number;
  readonly maxPendingBodyStreams?: number;
  readonly maxPendingBodyBytes?: number;
  readonly bodyIdleMs?: number;
  readonly maxHeaderListBytes?: number;
}

const GRPC_OK = 0;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_INTERNAL = 13;

const METHOD_ASSIGN = 0;
const METHOD_IDLE = 1;

const OK_HEADERS: http2.OutgoingHttpHeaders = { ':status': 200, 'content-type': 'application/grpc' };
const OK_TRAILERS: http2.OutgoingHttpHeaders = { 'grpc-status': '0' };
const RESPOND_WITH_TRAILERS: http2.ServerStreamResponseOptions = { waitForTrailers: true };
const RESPOND_END: http2.ServerStreamResponseOptions = { endStream: true };

/** `grpc-timeout` (gRPC over HTTP/2: up to 8 digits and a unit) in ms, or NaN when malformed. */
export function parseGrpcTimeout(v: string): number {
  const m = /^(\d{1,8})([HMSmun])$/.exec(v);
  if (m === null) return NaN;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'H':
      return n * 3_600_000;
    case 'M':
      return n * 60_000;
    case 'S':
      return n * 1000;
    case 'm':
      return n;
    case 'u':
      return n / 1000;
    default:
      return n / 1e6;
  }
}

/** `grpc-message` is percent-encoded: everything outside printable ASCII, and '%' itself. */
export function encodeGrpcMessage(s: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(s) ? s : encodeURIComponent(s);
}

const kCall = Symbol('h2ScalerCall');
type CallStream = http2.ServerHttp2Stream & { [kCall]?: H2ServerCall };

/** One call's state; it is the {@link ScalerCall} the service sees. */
class H2ServerCall implements ScalerCall {
  cancelled = false;
  replied = false;
  body: GrpcMessageBuffer | null = null;
  /** The sweep tick of the last body progress (see ServerState.tick). */
  lastTick = 0;
  timer: NodeJS.Timeout | null = null;
  private cancelFn: (() => void) | null = null;
  /** Absolute deadline (performance clock), Infinity without one. */
  deadlineAt = Infinity;
  readonly assignDone: AssignDone = (code, details, iid) => this.answerAssign(code, details, iid);
  readonly idleDone: IdleDone = (code, details) => this.answerIdle(code, details);
  requestId = '';
  metaKey = '';

  constructor(
    readonly stream: CallStream,
    readonly method: number,
    readonly server: ServerState,
    readonly conn: ConnectionLoad,
  ) {}

  /** The body is complete or abandoned: it no longer counts against its connection. */
  bodyDone(): void {
    if (!this.server.pendingBodies.delete(this)) return;
    this.conn.streams--;
    this.conn.bytes -= this.body?.length ?? 0;
  }

  deadlineLeftMs(): number {
    return this.deadlineAt - performance.now();
  }

  onCancel(fn: () => void): void {
    this.cancelFn = fn;
  }

  offCancel(fn: () => void): void {
    if (this.cancelFn === fn) this.cancelFn = null;
  }

  /** The client gave up (reset, connection gone, deadline): run the service's cancel hook once. */
  cancel(): void {
    if (this.cancelled || this.replied) return;
    this.cancelled = true;
    const fn = this.cancelFn;
    this.cancelFn = null;
    if (fn !== null) fn();
  }

  private answerAssign(code: grpc.status, details: string, iid: string): void {
    if (code !== GRPC_OK) return this.fail(code, details);
    this.ok(encodeAssignReplyFrame(this.requestId, this.metaKey, iid));
  }

  private answerIdle(code: grpc.status, details: string): void {
    if (code !== GRPC_OK) return this.fail(code, details);
    this.ok(IDLE_REPLY_OK_FRAME);
  }

  private settle(): boolean {
    if (this.replied) return false;
    this.replied = true;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const s = this.stream;
    return !(s.destroyed || s.closed || s.headersSent);
  }

  ok(frame: Buffer): void {
    if (!this.settle()) return;
    const s = this.stream;
    s.respond(OK_HEADERS, RESPOND_WITH_TRAILERS);
    s.once('wantTrailers', sendOkTrailers);
    s.end(frame);
  }

  fail(code: number, details: string): void {
    if (!this.settle()) return;
    // Whatever DATA still comes is dropped, not buffered in the paused stream.
    if (this.stream.readableFlowing !== true) this.stream.resume();
    this.stream.respond(
      { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) },
      RESPOND_END,
    );
  }
}

function sendOkTrailers(this: CallStream): void {
  this.sendTrailers(OK_TRAILERS);
}

function onData(this: CallStream, chunk: Buffer): void {
  const call = this[kCall]!;
  if (call.replied) return;
  const body = call.body ?? (call.body = new GrpcMessageBuffer(call.server.maxMessageBytes));
  const before = body.length;
  const state = body.push(chunk, 0, chunk.length);
  call.lastTick = call.server.tick;
  const conn = call.conn;
  conn.bytes += body.length - before;
  if (state === GrpcBodyState.TooLarge) {
    // Refused on the length prefix, before anything past it was kept.
    const max = call.server.maxMessageBytes;
    call.server.hit('request_body', `stream ${String(this.id)} declares a ${body.declared}-byte message, above ${max}: RESOURCE_EXHAUSTED`);
    call.bodyDone();
    call.body = null;
    call.fail(GRPC_RESOURCE_EXHAUSTED, `Received message larger than max (${body.declared} vs. ${max})`);
    return;
  }
  if (conn.bytes > call.server.maxPendingBodyBytes) {
    call.server.hit('pending_body_bytes', `a connection holds ${conn.bytes} bytes of incomplete request bodies, above ${call.server.maxPendingBodyBytes}: connection closed`);
    const session = this.session;
    if (session !== undefined && !session.destroyed) {
      session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      session.destroy();
    }
  }
}

function onClose(this: CallStream): void {
  const call = this[kCall];
  if (call === undefined) return;
  this[kCall] = undefined;
  call.bodyDone();
  if (call.timer !== null) {
    clearTimeout(call.timer);
    call.timer = null;
  }
  // Closed before we answered: reset by the client, or its connection went away.
  if (!call.replied) call.cancel();
}

function onDeadline(call: H2ServerCall): void {
  call.timer = null;
  if (call.replied) return;
  call.cancel();
  call.fail(GRPC_DEADLINE_EXCEEDED, 'Deadline exceeded');
}

function ignore(): void {}

export interface H2ScalerServerOptions {
  /** `host:port` to bind (port 0: any free one). */
  readonly address: string;
  readonly service: ScalerService;
  /** What a client may make the server hold (defaults: the H2_SCALER_* constants). */
  readonly limits?: H2ScalerServerLimits;
  /** Where a limit that fired is logged (at most once a second per limit). */
  readonly log?: Logger;
}

/** Incomplete request bodies of one connection (see H2_SCALER_MAX_PENDING_BODY_*). */
interface ConnectionLoad {
  streams: number;
  bytes: number;
  /** Streams refused for `pending_body_streams` on this connection. */
  refused: number;
}
const kLoad = Symbol('h2ScalerConnectionLoad');
type LoadedSession = http2.ServerHttp2Session & { [kLoad]?: ConnectionLoad };

/** What every call of one server shares: the service, the limits, the calls whose body is pending. */
class ServerState {
  readonly maxMessageBytes: number;
  readonly maxPendingBodyStreams: number;
  readonly maxPendingBodyBytes: number;
  readonly bodyIdleMs: number;
  /** Calls whose request body has not fully arrived. */
  readonly pendingBodies = new Set<H2ServerCall>();
  /** Advances every half body-idle period; a body idle for two ticks is reset. */
  tick = 0;
  readonly hit: (limit: H2ServerLimit, detail: string) => void;

  constructor(
    readonly service: ScalerService,
    limits: H2ScalerServerLimits | undefined,
    log: Logger | undefined,
  ) {
    this.maxMessageBytes = limits?.maxMessageBytes ?? H2_SCALER_MAX_MESSAGE_BYTES;
    this.maxPendingBodyStreams = limits?.maxPendingBodyStreams ?? H2_SCALER_MAX_PENDING_BODY_STREAMS;
    this.maxPendingBodyBytes = limits?.maxPendingBodyBytes ?? H2_SCALER_MAX_PENDING_BODY_BYTES;
    this.bodyIdleMs = limits?.bodyIdleMs ?? H2_SCALER_BODY_IDLE_MS;
    this.hit = new LimitReporter<H2ServerLimit>(
      (limit) => h2ServerLimitHits[limit]++,
      (limit, detail, suppressed) => log?.warn({ limit, suppressed }, `gRPC server limit ${limit}: ${detail}`),
    ).hit;
  }

  /** Resets the streams whose body made no progress for a whole body-idle period. */
  sweep(): void {
    const stale = this.tick - 1;
    this.tick++;
    for (const call of this.pendingBodies) {
      if (call.lastTick > stale - 1) continue;
      this.hit('body_idle', `stream ${String(call.stream.id)}: request body idle for ${this.bodyIdleMs} ms: stream reset`);
      call.bodyDone();
      call.body = null;
      call.cancel();
      call.replied = true;
      if (call.timer !== null) {
        clearTimeout(call.timer);
        call.timer = null;
      }
      if (!call.stream.destroyed) call.stream.close(http2.constants.NGHTTP2_CANCEL);
    }
  }
}

export class H2ScalerServer {
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  private constructor(
    private readonly server: http2.Http2Server,
    readonly port: number,
    private readonly sweeper: NodeJS.Timeout,
  ) {
    server.on('session', (s: http2.ServerHttp2Session) => {
      this.sessions.add(s);
      s.once('close', () => this.sessions.delete(s));
      s.on('error', ignore);
    });
  }

  static async listen(opts: H2ScalerServerOptions): Promise<H2ScalerServer> {
    const i = opts.address.lastIndexOf(':');
    const host = opts.address.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(opts.address.slice(i + 1));
    const state = new ServerState(opts.service, opts.limits, opts.log);
    const server = http2.createServer({
      settings: {
        maxConcurrentStreams: H2_SCALER_MAX_CONCURRENT_STREAMS,
        enablePush: false,
        maxHeaderListSize: opts.limits?.maxHeaderListBytes ?? H2_SCALER_MAX_HEADER_LIST_BYTES,
      },
      maxSessionMemory: H2_SCALER_MAX_SESSION_MEMORY_MB,
    });
    server.on('connection', (sock: Socket) => sock.setKeepAlive(true, H2_SCALER_TCP_KEEPALIVE_MS));
    server.on('stream', (stream: CallStream, headers: http2.IncomingHttpHeaders) => handleStream(state, stream, headers));
    const sweeper = setInterval(() => state.sweep(), Math.max(1, state.bodyIdleMs / 2));
    sweeper.unref();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new H2ScalerServer(server, (server.address() as AddressInfo).port, sweeper);
  }

  /**
   * Stops accepting connections, sends GOAWAY on every session (calls in flight may finish),
   * and destroys what is left after `graceMs`. Resolves once every session has closed.
   */
  close(graceMs: number): Promise<void> {
    clearInterval(this.sweeper);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions) s.close();
    const t = setTimeout(() => {
      for (const s of this.sessions) s.destroy();
    }, graceMs);
    t.unref();
    return closed.then(() => clearTimeout(t));
  }
}

function handleStream(state: ServerState, stream: CallStream, headers: http2.IncomingHttpHeaders): void {
  stream.on('error', ignore);
  const session = stream.session as LoadedSession;
  const conn = session[kLoad] ?? (session[kLoad] = { streams: 0, bytes: 0, refused: 0 });
  if (conn.streams >= state.maxPendingBodyStreams) {
    // Refused (the client may retry it); a client that keeps opening streams past as many
    // refusals again is flooding: its connection is closed, so the streams it still sends are
    // not even parsed (each costs a JS stream object before it can be refused).
    if (++conn.refused > state.maxPendingBodyStreams) {
      state.hit('pending_body_streams', `a connection kept opening streams past ${state.maxPendingBodyStreams} with incomplete bodies (${conn.refused} refused): connection closed`);
      if (!session.destroyed) {
        session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
        session.destroy();
      }
      return;
    }
    state.hit('pending_body_streams', `a connection has ${conn.streams} streams with incomplete request bodies: new stream refused`);
    stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    return;
  }
  const path = headers[':path'];
  const method = path === SCALER_ASSIGN_PATH ? METHOD_ASSIGN : path === SCALER_IDLE_PATH ? METHOD_IDLE : -1;
  const call = new H2ServerCall(stream, method, state, conn);
  stream[kCall] = call;
  stream.on('close', onClose);
  if (headers[':method'] !== 'POST' || !String(headers['content-type'] ?? '').startsWith('application/grpc')) {
    call.replied = true;
    stream.respond({ ':status': 415 }, RESPOND_END);
    stream.resume();
    return;
  }
  if (method === -1) {
    call.fail(GRPC_UNIMPLEMENTED, `The server does not implement the method ${String(path)}`);
    return;
  }
  const timeout = headers['grpc-timeout'];
  if (timeout !== undefined) {
    let ms = parseGrpcTimeout(String(timeout));
    if (Number.isNaN(ms)) {
      call.fail(GRPC_INTERNAL, `malformed grpc-timeout "${String(timeout)}"`);
      return;
    }
    if (ms > H2_SCALER_MAX_TIMEOUT_MS) {
      // A longer timer would fire at once (with a TimeoutOverflowWarning): clamp, as grpc-js does.
      state.hit('grpc_timeout', `grpc-timeout ${String(timeout)} clamped to ${H2_SCALER_MAX_TIMEOUT_MS} ms`);
      ms = H2_SCALER_MAX_TIMEOUT_MS;
    }
    call.deadlineAt = performance.now() + ms;
    call.timer = setTimeout(onDeadline, Math.max(0, ms), call);
  }
  if (headers['grpc-encoding'] !== undefined && headers['grpc-encoding'] !== 'identity') {
    call.fail(GRPC_UNIMPLEMENTED, `grpc-encoding ${String(headers['grpc-encoding'])} is not supported`);
    return;
  }
  conn.streams++;
  call.lastTick = state.tick;
  state.pendingBodies.add(call);
  stream.on('data', onData);
  stream.once('end', () => onRequest(state.service, call));
}

function onRequest(service: ScalerService, call: H2ServerCall): void {
  call.bodyDone();
  if (call.replied) return;
  const acc = call.body;
  call.body = null;
  if (acc !== null && acc.state === GrpcBodyState.Excess) {
    call.fail(GRPC_INTERNAL, 'more than one message in a unary call');
    return;
  }
  const body = acc?.take() ?? null;
  if (body === null || body.length < GRPC_FRAME_HEADER_BYTES) {
    call.fail(GRPC_INTERNAL, 'request without a message');
    return;
  }
  if (body[0] !== 0) {
    call.fail(GRPC_UNIMPLEMENTED, 'compressed messages are not supported');
    return;
  }
  const end = GRPC_FRAME_HEADER_BYTES + body.readUInt32BE(1);
  if (end !== body.length) {
    call.fail(GRPC_INTERNAL, end > body.length ? 'truncated message' : 'more than one message in a unary call');
    return;
  }
  let assign: DecodedAssignRequest | null = null;
  let idle: DecodedIdleRequest | null = null;
  try {
    if (call.method === METHOD_ASSIGN) assign = decodeAssignRequest(body, GRPC_FRAME_HEADER_BYTES, end);
    else idle = decodeIdleRequest(body, GRPC_FRAME_HEADER_BYTES, end);
  } catch (e) {
    // As grpc-js answers a message protobufjs cannot parse.
    call.fail(GRPC_INTERNAL, `Error deserializing request: ${(e as Error).message}`);
    return;
  }
  if (assign !== null) {
    call.requestId = assign.requestId;
    call.metaKey = assign.metaData?.key ?? '';
    service.assign(assign, call, call.assignDone);
  } else {
    service.idle(idle!, call.idleDone);
  }
}
