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
import type { AssignDone, IdleDone, ScalerCall, ScalerService } from './scaler-service.js';

/** Largest request message accepted (as the grpc-js server's `grpc.max_receive_message_length`). */
export const H2_SCALER_MAX_MESSAGE_BYTES = 64 * 1024;
/** The simulator multiplexes thousands of waiting calls on one connection (as the grpc-js server). */
export const H2_SCALER_MAX_CONCURRENT_STREAMS = 100_000;
/** nghttp2's per-session buffer bound; its 10 MB default is small for a storm's open streams. */
export const H2_SCALER_MAX_SESSION_MEMORY_MB = 256;
/** TCP keepalive probes on idle connections, so a vanished client's calls end. */
export const H2_SCALER_TCP_KEEPALIVE_MS = 60_000;

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
  body: Buffer | null = null;
  timer: NodeJS.Timeout | null = null;
  private cancelFn: (() => void) | null = null;
  /** Absolute deadline (performance clock), Infinity without one. */
  deadlineAt = Infinity;
  readonly assignDone: AssignDone = (code, details, iid) => this.answerAssign(code, details, iid);
  readonly idleDone: IdleDone = (code, details) => this.answerIdle(code, details);
  requestId = '';
  metaKey = '';

  constructor(readonly stream: CallStream, readonly method: number) {}

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
  const body = call.body === null ? chunk : Buffer.concat([call.body, chunk]);
  if (body.length > GRPC_FRAME_HEADER_BYTES + H2_SCALER_MAX_MESSAGE_BYTES) {
    call.body = null;
    const len = body.length >= GRPC_FRAME_HEADER_BYTES ? body.readUInt32BE(1) : body.length;
    call.fail(GRPC_RESOURCE_EXHAUSTED, `Received message larger than max (${len} vs. ${H2_SCALER_MAX_MESSAGE_BYTES})`);
    return;
  }
  call.body = body;
}

function onClose(this: CallStream): void {
  const call = this[kCall];
  if (call === undefined) return;
  this[kCall] = undefined;
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
}

export class H2ScalerServer {
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  private constructor(
    private readonly server: http2.Http2Server,
    readonly port: number,
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
    const service = opts.service;
    const server = http2.createServer({
      settings: { maxConcurrentStreams: H2_SCALER_MAX_CONCURRENT_STREAMS, enablePush: false },
      maxSessionMemory: H2_SCALER_MAX_SESSION_MEMORY_MB,
    });
    server.on('connection', (sock: Socket) => sock.setKeepAlive(true, H2_SCALER_TCP_KEEPALIVE_MS));
    server.on('stream', (stream: CallStream, headers: http2.IncomingHttpHeaders) => handleStream(service, stream, headers));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new H2ScalerServer(server, (server.address() as AddressInfo).port);
  }

  /**
   * Stops accepting connections, sends GOAWAY on every session (calls in flight may finish),
   * and destroys what is left after `graceMs`. Resolves once every session has closed.
   */
  close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions) s.close();
    const t = setTimeout(() => {
      for (const s of this.sessions) s.destroy();
    }, graceMs);
    t.unref();
    return closed.then(() => clearTimeout(t));
  }
}

function handleStream(service: ScalerService, stream: CallStream, headers: http2.IncomingHttpHeaders): void {
  stream.on('error', ignore);
  const path = headers[':path'];
  const method = path === SCALER_ASSIGN_PATH ? METHOD_ASSIGN : path === SCALER_IDLE_PATH ? METHOD_IDLE : -1;
  const call = new H2ServerCall(stream, method);
  stream[kCall] = call;
  stream.on('close', onClose);
  if (headers[':method'] !== 'POST' || !String(headers['content-type'] ?? '').startsWith('application/grpc')) {
    call.replied = true;
    stream.respond({ ':status': 415 }, RESPOND_END);
    return;
  }
  if (method === -1) {
    call.fail(GRPC_UNIMPLEMENTED, `The server does not implement the method ${String(path)}`);
    return;
  }
  const timeout = headers['grpc-timeout'];
  if (timeout !== undefined) {
    const ms = parseGrpcTimeout(String(timeout));
    if (Number.isNaN(ms)) {
      call.fail(GRPC_INTERNAL, `malformed grpc-timeout "${String(timeout)}"`);
      return;
    }
    call.deadlineAt = performance.now() + ms;
    call.timer = setTimeout(onDeadline, Math.max(0, ms), call);
  }
  if (headers['grpc-encoding'] !== undefined && headers['grpc-encoding'] !== 'identity') {
    call.fail(GRPC_UNIMPLEMENTED, `grpc-encoding ${String(headers['grpc-encoding'])} is not supported`);
    return;
  }
  stream.on('data', onData);
  stream.once('end', () => onRequest(service, call));
}

function onRequest(service: ScalerService, call: H2ServerCall): void {
  if (call.replied) return;
  const body = call.body;
  call.body = null;
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
