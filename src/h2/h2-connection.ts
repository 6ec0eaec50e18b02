/**
 * One client HTTP/2 connection (RFC 9113) carrying unary gRPC calls, written directly on a TCP
 * socket: the frames a unary client needs (HEADERS + CONTINUATION, DATA, RST_STREAM, SETTINGS,
 * PING, GOAWAY, WINDOW_UPDATE), HPACK, and both levels of flow control. Compared with
 * `node:http2`, a call creates no stream object, no event listeners and no header objects: a
 * call is one `H2Call`, its HEADERS and DATA frames are written together into one buffer per
 * event-loop turn, and replies are parsed in place from the socket's chunks.
 *
 * Calls end exactly once through `call.done(call)`, never synchronously from `start`.
 */
import * as net from 'node:net';
import { H2Call, type H2Method } from './h2-call.js';
import { HpackDecoder } from './hpack-decoder.js';
import { HpackEncoder, type HeaderList } from './hpack-encoder.js';
import { HpackError } from './hpack-error.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER_BYTES = 9;
const enum Frame {
  Data = 0,
  Headers = 1,
  RstStream = 3,
  Settings = 4,
  PushPromise = 5,
  Ping = 6,
  Goaway = 7,
  WindowUpdate = 8,
  Continuation = 9,
}
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const SETTING_HEADER_TABLE_SIZE = 1;
const SETTING_ENABLE_PUSH = 2;
const SETTING_MAX_CONCURRENT_STREAMS = 3;
const SETTING_INITIAL_WINDOW_SIZE = 4;
const SETTING_MAX_FRAME_SIZE = 5;
/** HTTP/2 error codes used here. */
export const H2_NO_ERROR = 0;
export const H2_PROTOCOL_ERROR = 1;
export const H2_FLOW_CONTROL_ERROR = 3;
export const H2_FRAME_SIZE_ERROR = 6;
export const H2_REFUSED_STREAM = 7;
export const H2_CANCEL = 8;
export const H2_COMPRESSION_ERROR = 9;

/** gRPC codes this layer assigns to calls it ends itself. */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_RESOURCE_EXHAUSTED = 8;

/** Receive window we grant each stream (replies are small; this is far above any of them). */
export const H2_STREAM_RECEIVE_WINDOW = 4 << 20;
/** Receive window of the whole connection, topped up whenever this much has been consumed. */
export const H2_CONNECTION_RECEIVE_WINDOW = 64 << 20;
const CONNECTION_WINDOW_TOP_UP = 1 << 20;
/** The largest frame we accept (the protocol default; we never advertise more). */
const MAX_FRAME_RECEIVE = 16_384;
/** Stream ids are 31-bit and never reused: past this a connection takes no new calls. */
const LAST_STREAM_ID = 2 ** 31 - 1;
const DEFAULT_PEER_WINDOW = 65_535;
/** A stream refused unprocessed is sent again at most this many times. */
const MAX_REFUSALS = 3;

export interface H2ConnectionEvents {
  /** The TCP connection is established (the preface went out with the first write). */
  onConnect(conn: H2Connection): void;
  /** The peer sent GOAWAY (or ids ran out): no new calls on this connection. */
  onGoaway(conn: H2Connection): void;
  /** The socket closed; `connected` says whether it ever connected. */
  onClose(conn: H2Connection, connected: boolean, err: Error | null): void;
}

export class H2Connection {
  private readonly socket: net.Socket;
  connected = false;
  closed = false;
  /** No new calls: GOAWAY received, `close()` called, or stream ids exhausted. */
  draining = false;
  /** The peer sent its SETTINGS (a server does so first thing): there is a server on the other end. */
  private peerSpoke = false;
  private readonly streams = new Map<number, H2Call>();
  private nextStreamId = 1;
  private readonly decoder = new HpackDecoder();
  private readonly encoder = new HpackEncoder();
  /** Header block per method id, with the encoder version it was made at. */
  private readonly blocks: (Buffer | undefined)[] = [];
  private readonly blockVersions: number[] = [];
  private peerMaxFrame = 16_384;
  private peerInitialWindow = DEFAULT_PEER_WINDOW;
  private peerMaxStreams = LAST_STREAM_ID;
  private connSendWindow = DEFAULT_PEER_WINDOW;
  /** Per stream send window (only consulted for streams whose data is still blocked). */
  private readonly sendWindows = new Map<number, number>();
  /** Calls waiting for a stream (peer's MAX_CONCURRENT_STREAMS), with their messages. */
  private waiting: unknown[] = [];
  /** Streams whose DATA waits for flow-control window: [call, message, offset] flat. */
  private blocked: unknown[] = [];
  private blockedHead = 0;
  private out: Buffer[] = [];
  private flushScheduled = false;
  private rbuf: Buffer | null = null;
  /** A header block split across CONTINUATION frames. */
  private hblock: Buffer[] | null = null;
  private hstream = 0;
  private hendStream = false;
  private recvUnacked = 0;
  private cur: H2Call | null = null;
  private readonly sink = (name: string, value: string): void => {
    const c = this.cur;
    if (c === null) return;
    switch (name) {
      case ':status':
        c.httpStatus = Number(value);
        break;
      case 'content-type':
        c.contentType = value;
        break;
      case 'grpc-status': {
        const n = Number(value);
        c.grpcStatus = Number.isInteger(n) && n >= 0 ? n : 2;
        break;
      }
      case 'grpc-message':
        c.grpcMessage = decodeGrpcMessage(value);
        break;
    }
  };
  private readonly flushFn = (): void => this.flush();

  constructor(
    host: string,
    port: number,
    private readonly authority: string,
    private readonly maxReplyBytes: number,
    private readonly events: H2ConnectionEvents,
  ) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('connect', () => {
      this.connected = true;
      this.events.onConnect(this);
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: Error) => this.fail(err.message, err));
    this.socket.on('close', () => this.fail('connection closed', null));
    // Preface, SETTINGS (no push, our stream window), and the connection window.
    const settings = Buffer.alloc(FRAME_HEADER_BYTES + 12);
    frameHeader(settings, 0, 12, Frame.Settings, 0, 0);
    settings.writeUInt16BE(SETTING_ENABLE_PUSH, 9);
    settings.writeUInt32BE(0, 11);
    settings.writeUInt16BE(SETTING_INITIAL_WINDOW_SIZE, 15);
    settings.writeUInt32BE(H2_STREAM_RECEIVE_WINDOW, 17);
    this.queue(PREFACE);
    this.queue(settings);
    this.queue(windowUpdate(0, H2_CONNECTION_RECEIVE_WINDOW - DEFAULT_PEER_WINDOW));
  }

  /** Calls in flight (started and not ended) plus calls waiting for a stream. */
  get load(): number {
    return this.streams.size + this.waiting.length / 2;
  }

  /** Starts `call` with the gRPC frame `message`; false (nothing done) if this connection is draining. */
  start(call: H2Call, message: Buffer, deadlineMs: number): boolean {
    if (this.draining || this.closed) return false;
    if (deadlineMs > 0) {
      call.timer = setTimeout(onDeadline, deadlineMs, this, call);
      call.timer.unref();
    }
    if (this.streams.size >= this.peerMaxStreams) {
      this.waiting.push(call, message);
      return true;
    }
    this.open(call, message);
    return true;
  }

  /** Ends a call early (deadline, oversized reply): resets its stream, reports it. */
  abandon(call: H2Call): void {
    if (call.settled) return;
    if (call.streamId !== 0) {
      if (this.streams.delete(call.streamId)) this.queue(rstStream(call.streamId, H2_CANCEL));
      this.dropBlocked(call);
      this.sendWindows.delete(call.streamId);
    } else {
      const i = this.waiting.indexOf(call);
      if (i >= 0) this.waiting.splice(i, 2);
    }
    this.finish(call);
    this.afterStreamEnd();
  }

  /** No new calls; ends once the calls in flight have, or destroys it after `graceMs`. */
  close(graceMs: number): void {
    this.draining = true;
    if (this.streams.size === 0 && this.waiting.length === 0) {
      this.socket.end();
      return;
    }
    setTimeout(() => this.socket.destroy(), graceMs).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  // ---- sending -----------------------------------------------------------------------------

  private open(call: H2Call, message: Buffer): void {
    call.message = message;
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    if (this.nextStreamId > LAST_STREAM_ID) {
      this.draining = true;
      this.events.onGoaway(this);
    }
    call.streamId = id;
    this.streams.set(id, call);
    const block = this.headerBlock(call.method);
    const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES + block.length);
    frameHeader(h, 0, block.length, Frame.Headers, FLAG_END_HEADERS, id);
    block.copy(h, FRAME_HEADER_BYTES);
    this.queue(h);
    if (this.blockedHead === this.blocked.length && message.length <= this.connSendWindow && message.length <= this.peerInitialWindow && message.length <= this.peerMaxFrame) {
      this.connSendWindow -= message.length;
      const d = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
      frameHeader(d, 0, message.length, Frame.Data, FLAG_END_STREAM, id);
      this.queue(d);
      this.queue(message);
      return;
    }
    this.sendWindows.set(id, this.peerInitialWindow);
    this.blocked.push(call, message, 0);
    this.sendBlocked();
  }

  /** Sends as much blocked DATA as the windows allow, in order. */
  private sendBlocked(): void {
    const b = this.blocked;
    let i = this.blockedHead;
    while (i < b.length) {
      const call = b[i] as H2Call;
      const msg = b[i + 1] as Buffer;
      let off = b[i + 2] as number;
      const id = call.streamId;
      let sw = this.sendWindows.get(id) ?? 0;
      let end = false;
      for (;;) {
        const n = Math.min(msg.length - off, this.connSendWindow, sw, this.peerMaxFrame);
        if (n <= 0 && off < msg.length) break;
        end = off + n === msg.length;
        const d = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
        frameHeader(d, 0, n, Frame.Data, end ? FLAG_END_STREAM : 0, id);
        this.queue(d);
        if (n > 0) this.queue(msg.subarray(off, off + n));
        off += n;
        this.connSendWindow -= n;
        sw -= n;
        if (end) break;
      }
      if (!end) {
        b[i + 2] = off;
        this.sendWindows.set(id, sw);
        break; // keep order: later streams wait behind this one
      }
      this.sendWindows.delete(id);
      b[i] = b[i + 1] = undefined;
      i += 3;
    }
    if (i === b.length) {
      this.blocked = [];
      this.blockedHead = 0;
    } else if (i > 3072 && i * 2 > b.length) {
      this.blocked = b.slice(i);
      this.blockedHead = 0;
    } else {
      this.blockedHead = i;
    }
  }

  private dropBlocked(call: H2Call): void {
    // Only calls whose DATA is still queued have a send window entry: skip the search otherwise
    // (a storm keeps thousands of calls blocked behind the connection window).
    if (!this.sendWindows.has(call.streamId)) return;
    const i = this.blocked.indexOf(call, this.blockedHead);
    if (i >= 0) this.blocked.splice(i, 3);
  }

  private headerBlock(method: H2Method): Buffer {
    const v = this.encoder.version;
    let block = this.blocks[method.id];
    if (block === undefined || this.blockVersions[method.id] !== v) {
      const list: [string, string][] = [
        [':method', 'POST'],
        [':scheme', 'http'],
        [':path', method.path],
        [':authority', this.authority],
        ['content-type', 'application/grpc'],
        ['te', 'trailers'],
      ];
      if (method.timeout !== '') list.push(['grpc-timeout', method.timeout]);
      block = this.encoder.encode(list as HeaderList);
      // Encoding may have indexed entries (moving every index): cache at the new version.
      this.blocks[method.id] = block;
      // A block that indexed entries must not be sent again (the peer would index them twice),
      // and it moved every index, so other methods' cached blocks re-encode too.
      this.blockVersions[method.id] = this.encoder.version === v ? v : -1;
    }
    return block;
  }

  private queue(b: Buffer): void {
    this.out.push(b);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushFn);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const out = this.out;
    if (out.length === 0 || this.socket.destroyed) {
      this.out = [];
      return;
    }
    this.out = [];
    this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  // ---- receiving ---------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.rbuf !== null) {
      buf = Buffer.concat([this.rbuf, chunk]);
      this.rbuf = null;
    }
    let off = 0;
    const n = buf.length;
    while (n - off >= FRAME_HEADER_BYTES) {
      const len = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
      if (len > MAX_FRAME_RECEIVE) {
        this.connectionError(H2_FRAME_SIZE_ERROR, `frame of ${len} bytes`);
        return;
      }
      if (n - off - FRAME_HEADER_BYTES < len) break;
      const type = buf[off + 3]!;
      const flags = buf[off + 4]!;
      const sid = buf.readUInt32BE(off + 5) & 0x7fff_ffff;
      const start = off + FRAME_HEADER_BYTES;
      off = start + len;
      this.frame(type, flags, sid, buf, start, off);
      if (this.closed) return;
    }
    if (off < n) this.rbuf = buf.subarray(off);
  }

  private frame(type: number, flags: number, sid: number, buf: Buffer, start: number, end: number): void {
    if (this.hblock !== null && type !== Frame.Continuation) {
      this.connectionError(H2_PROTOCOL_ERROR, 'header block interrupted');
      return;
    }
    switch (type) {
      case Frame.Data: {
        this.recvUnacked += end - start;
        if (this.recvUnacked >= CONNECTION_WINDOW_TOP_UP) {
          this.queue(windowUpdate(0, this.recvUnacked));
          this.recvUnacked = 0;
        }
        if (flags & FLAG_PADDED) {
          const pad = buf[start]!;
          start++;
          end -= pad;
          if (end < start) return this.connectionError(H2_PROTOCOL_ERROR, 'padding longer than frame');
        }
        const call = this.streams.get(sid);
        if (call === undefined) return;
        if (end > start) {
          const part = buf.subarray(start, end);
          const body = call.body === null ? part : Buffer.concat([call.body, part]);
          if (body.length > this.maxReplyBytes) {
            call.body = null;
            call.localCode = GRPC_RESOURCE_EXHAUSTED;
            call.failure = `reply larger than ${this.maxReplyBytes} bytes`;
            this.abandon(call);
            return;
          }
          call.body = body;
        }
        if (flags & FLAG_END_STREAM) this.endStream(call);
        return;
      }
      case Frame.Headers: {
        if (flags & FLAG_PADDED) {
          const pad = buf[start]!;
          start++;
          end -= pad;
        }
        if (flags & FLAG_PRIORITY) start += 5;
        if (end < start) return this.connectionError(H2_PROTOCOL_ERROR, 'malformed HEADERS');
        const endStream = (flags & FLAG_END_STREAM) !== 0;
        if (flags & FLAG_END_HEADERS) {
          this.headers(sid, buf, start, end, endStream);
        } else {
          this.hblock = [Buffer.from(buf.subarray(start, end))];
          this.hstream = sid;
          this.hendStream = endStream;
        }
        return;
      }
      case Frame.Continuation: {
        if (this.hblock === null || sid !== this.hstream) return this.connectionError(H2_PROTOCOL_ERROR, 'unexpected CONTINUATION');
        this.hblock.push(buf.subarray(start, end));
        if (flags & FLAG_END_HEADERS) {
          const block = Buffer.concat(this.hblock);
          this.hblock = null;
          this.headers(sid, block, 0, block.length, this.hendStream);
        }
        return;
      }
      case Frame.RstStream: {
        const call = this.streams.get(sid);
        if (call === undefined || end - start < 4) return;
        const code = buf.readUInt32BE(start);
        this.streams.delete(sid);
        this.dropBlocked(call);
        this.sendWindows.delete(sid);
        if (code === H2_REFUSED_STREAM && call.refusals < MAX_REFUSALS && !this.draining) {
          // Not processed (RFC 9113 8.7), typically more streams than the peer's limit before
          // its SETTINGS arrived: send it again once a stream is free.
          call.refusals++;
          call.streamId = 0;
          call.body = null;
          call.httpStatus = 0;
          this.waiting.push(call, call.message);
          this.afterStreamEnd();
          return;
        }
        call.resetCode = code;
        if (call.failure === '') call.failure = `stream reset (HTTP/2 code ${code})`;
        this.finish(call);
        this.afterStreamEnd();
        return;
      }
      case Frame.Settings: {
        if (flags & FLAG_ACK) return;
        if ((end - start) % 6 !== 0) return this.connectionError(H2_FRAME_SIZE_ERROR, 'SETTINGS length');
        this.peerSpoke = true;
        for (let p = start; p < end; p += 6) {
          const id = buf.readUInt16BE(p);
          const v = buf.readUInt32BE(p + 2);
          if (id === SETTING_HEADER_TABLE_SIZE) this.encoder.limit(v);
          else if (id === SETTING_MAX_CONCURRENT_STREAMS) this.peerMaxStreams = v;
          else if (id === SETTING_INITIAL_WINDOW_SIZE) {
            if (v > LAST_STREAM_ID) return this.connectionError(H2_FLOW_CONTROL_ERROR, 'initial window too large');
            const delta = v - this.peerInitialWindow;
            this.peerInitialWindow = v;
            for (const [k, w] of this.sendWindows) this.sendWindows.set(k, w + delta);
          } else if (id === SETTING_MAX_FRAME_SIZE) this.peerMaxFrame = v;
        }
        const ack = Buffer.alloc(FRAME_HEADER_BYTES);
        frameHeader(ack, 0, 0, Frame.Settings, FLAG_ACK, 0);
        this.queue(ack);
        this.sendBlocked();
        this.startWaiting();
        return;
      }
      case Frame.Ping: {
        if (flags & FLAG_ACK || end - start !== 8) return;
        const pong = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 8);
        frameHeader(pong, 0, 8, Frame.Ping, FLAG_ACK, 0);
        buf.copy(pong, FRAME_HEADER_BYTES, start, end);
        this.queue(pong);
        return;
      }
      case Frame.Goaway: {
        if (end - start < 8) return;
        const last = buf.readUInt32BE(start) & 0x7fff_ffff;
        const code = buf.readUInt32BE(start + 4);
        this.draining = true;
        this.events.onGoaway(this);
        // Streams above `last` were never processed: they fail, and are safe to retry.
        for (const [id, call] of [...this.streams]) {
          if (id <= last) continue;
          if (call.failure === '') call.failure = `GOAWAY (HTTP/2 code ${code}) before the call was processed`;
          call.resetCode = H2_REFUSED_STREAM;
          this.streams.delete(id);
          this.dropBlocked(call);
          this.sendWindows.delete(id);
          this.finish(call);
        }
        this.failWaiting(`GOAWAY (HTTP/2 code ${code})`);
        this.afterStreamEnd();
        return;
      }
      case Frame.WindowUpdate: {
        if (end - start !== 4) return this.connectionError(H2_FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
        const inc = buf.readUInt32BE(start) & 0x7fff_ffff;
        if (sid === 0) this.connSendWindow += inc;
        else {
          const w = this.sendWindows.get(sid);
          if (w !== undefined) this.sendWindows.set(sid, w + inc);
        }
        if (this.blockedHead < this.blocked.length) this.sendBlocked();
        return;
      }
      case Frame.PushPromise:
        return this.connectionError(H2_PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
      default:
        return; // PRIORITY and unknown frame types are ignored
    }
  }

  private headers(sid: number, buf: Buffer, start: number, end: number, endStream: boolean): void {
    const call = this.streams.get(sid);
    this.cur = call ?? null;
    try {
      // Every block goes through the decoder, even for a stream we no longer track.
      this.decoder.decode(buf, start, end, this.sink);
    } catch (e) {
      this.cur = null;
      if (e instanceof HpackError) return this.connectionError(H2_COMPRESSION_ERROR, e.message);
      throw e;
    }
    this.cur = null;
    if (call !== undefined && endStream) this.endStream(call);
  }

  private endStream(call: H2Call): void {
    this.streams.delete(call.streamId);
    if (this.blockedHead < this.blocked.length) {
      // The peer answered before taking all our data (a trailers-only error): stop sending it.
      this.dropBlocked(call);
      this.sendWindows.delete(call.streamId);
    }
    this.finish(call);
    this.afterStreamEnd();
  }

  private finish(call: H2Call): void {
    if (call.settled) return;
    call.settled = true;
    call.message = null;
    call.mayHaveBeenProcessed = call.streamId !== 0 && this.peerSpoke && call.resetCode !== H2_REFUSED_STREAM;
    if (call.timer !== null) {
      clearTimeout(call.timer);
      call.timer = null;
    }
    try {
      call.done(call);
    } catch (err) {
      // A throwing callback must not leave this connection's state half-updated.
      process.nextTick(() => {
        throw err;
      });
    }
  }

  private afterStreamEnd(): void {
    if (this.waiting.length > 0) this.startWaiting();
    if (this.draining && this.streams.size === 0 && this.waiting.length === 0 && !this.closed) this.socket.end();
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.streams.size < this.peerMaxStreams && !this.draining) {
      const call = this.waiting.shift() as H2Call;
      const message = this.waiting.shift() as Buffer;
      this.open(call, message);
    }
  }

  private failWaiting(why: string): void {
    const w = this.waiting;
    this.waiting = [];
    for (let i = 0; i < w.length; i += 2) {
      const call = w[i] as H2Call;
      if (call.failure === '') call.failure = why;
      call.resetCode = H2_REFUSED_STREAM;
      this.finish(call);
    }
  }

  private connectionError(code: number, why: string): void {
    if (this.closed) return;
    const g = Buffer.alloc(FRAME_HEADER_BYTES + 8);
    frameHeader(g, 0, 8, Frame.Goaway, 0, 0);
    g.writeUInt32BE(0, 9);
    g.writeUInt32BE(code, 13);
    this.flush();
    this.socket.write(g);
    this.fail(`protocol error: ${why}`, null);
    this.socket.destroy();
  }

  /** The connection is gone: every call in flight fails with `why`. */
  private fail(why: string, err: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    const calls = [...this.streams.values()];
    this.streams.clear();
    this.blocked = [];
    this.blockedHead = 0;
    this.sendWindows.clear();
    for (const call of calls) {
      if (call.failure === '') call.failure = why;
      this.finish(call);
    }
    this.failWaiting(why);
    this.events.onClose(this, this.connected, err);
  }
}

function onDeadline(conn: H2Connection, call: H2Call): void {
  call.timer = null;
  if (call.settled) return;
  call.localCode = GRPC_DEADLINE_EXCEEDED;
  call.failure = 'deadline exceeded';
  call.grpcStatus = -1;
  conn.abandon(call);
}

function frameHeader(b: Buffer, off: number, len: number, type: number, flags: number, sid: number): void {
  b[off] = len >>> 16;
  b[off + 1] = (len >>> 8) & 0xff;
  b[off + 2] = len & 0xff;
  b[off + 3] = type;
  b[off + 4] = flags;
  b.writeUInt32BE(sid, off + 5);
}

function windowUpdate(sid: number, inc: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  frameHeader(b, 0, 4, Frame.WindowUpdate, 0, sid);
  b.writeUInt32BE(inc, 9);
  return b;
}

function rstStream(sid: number, code: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  frameHeader(b, 0, 4, Frame.RstStream, 0, sid);
  b.writeUInt32BE(code, 9);
  return b;
}

/** `grpc-message` is percent-encoded (gRPC over HTTP/2); a malformed escape is kept as sent. */
export function decodeGrpcMessage(raw: string): string {
  if (raw.indexOf('%') < 0) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
