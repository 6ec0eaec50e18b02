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
import { GrpcBodyState, GrpcMessageBuffer } from './grpc-message-buffer.js';
import { resolveH2Limits, type H2ClientLimit, type H2ConnectionLimits, type ResolvedH2Limits } from './h2-limits.js';
import { GRPC_FRAME_HEADER_BYTES } from '../wire/protobuf-wire.js';

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
const SETTING_MAX_HEADER_LIST_SIZE = 6;
/** RFC 9113 6.5.2: SETTINGS_MAX_FRAME_SIZE must lie in [2^14, 2^24 - 1]. */
const MIN_MAX_FRAME_SIZE = 16_384;
const MAX_MAX_FRAME_SIZE = 2 ** 24 - 1;
/** Flow-control windows may not exceed 2^31 - 1 (RFC 9113 6.9.1). */
const MAX_WINDOW = 2 ** 31 - 1;
/** HTTP/2 error codes used here. */
export const H2_NO_ERROR = 0;
export const H2_PROTOCOL_ERROR = 1;
export const H2_FLOW_CONTROL_ERROR = 3;
export const H2_FRAME_SIZE_ERROR = 6;
export const H2_REFUSED_STREAM = 7;
export const H2_CANCEL = 8;
export const H2_COMPRESSION_ERROR = 9;
export const H2_ENHANCE_YOUR_CALM = 0xb;
/** How long a connection closed for a protocol error waits for its GOAWAY to be written before the socket is destroyed. */
export const GOAWAY_LINGER_MS = 1000;

/** gRPC codes this layer assigns to calls it ends itself. */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_INTERNAL = 13;
const GRPC_UNAVAILABLE = 14;

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
  /** Bytes in `out` (queued for the next write). */
  private outBytes = 0;
  private flushScheduled = false;
  /**
   * Socket chunks holding an incomplete frame, joined once the frame is complete (`rneed` bytes):
   * a frame dribbled in one byte per TCP segment costs one join, not one per segment.
   */
  private rparts: Buffer[] = [];
  private rlen = 0;
  private rneed = 0;
  /** A header block split across CONTINUATION frames, and its size so far (see maxHeaderBlockBytes). */
  private hblock: Buffer[] | null = null;
  private hblockBytes = 0;
  private hstream = 0;
  private hendStream = false;
  private recvUnacked = 0;
  /** Bytes held in replies still arriving over several DATA frames, over all streams. */
  private replyBytes = 0;
  /** DATA frames in a row carrying nothing (no payload, no END_STREAM). */
  private emptyFrames = 0;
  /** Last stream id of the lowest GOAWAY so far (streams above it are already failed). */
  private goawayLast = LAST_STREAM_ID;
  /** Decoded size (RFC 7541: name + value + 32 per field) of the header block being decoded. */
  private listBytes = 0;
  private cur: H2Call | null = null;
  private readonly limits: ResolvedH2Limits;
  private readonly sink = (name: string, value: string): void => {
    this.listBytes += name.length + value.length + 32;
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
    limits?: H2ConnectionLimits,
  ) {
    this.limits = resolveH2Limits(limits);
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('connect', () => {
      this.connected = true;
      this.events.onConnect(this);
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: Error) => this.fail(err.message, err));
    this.socket.on('close', () => this.fail('connection closed', null));
    // Preface, SETTINGS (no push, our stream window, our header list limit), and the connection window.
    const settings = Buffer.alloc(FRAME_HEADER_BYTES + 18);
    frameHeader(settings, 0, 18, Frame.Settings, 0, 0);
    settings.writeUInt16BE(SETTING_ENABLE_PUSH, 9);
    settings.writeUInt32BE(0, 11);
    settings.writeUInt16BE(SETTING_INITIAL_WINDOW_SIZE, 15);
    settings.writeUInt32BE(H2_STREAM_RECEIVE_WINDOW, 17);
    settings.writeUInt16BE(SETTING_MAX_HEADER_LIST_SIZE, 21);
    settings.writeUInt32BE(this.limits.maxHeaderListBytes, 23);
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
    this.outBytes += b.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushFn);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const out = this.out;
    this.outBytes = 0;
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
    if (this.rlen > 0) {
      this.rparts.push(chunk);
      this.rlen += chunk.length;
      if (this.rlen < this.rneed) return;
      buf = Buffer.concat(this.rparts, this.rlen);
      this.rparts = [];
      this.rlen = 0;
    }
    let off = 0;
    const n = buf.length;
    while (n - off >= FRAME_HEADER_BYTES) {
      const len = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
      if (len > MAX_FRAME_RECEIVE) {
        this.violation(H2_FRAME_SIZE_ERROR, `frame of ${len} bytes, above the ${MAX_FRAME_RECEIVE} we accept`);
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
    if (off < n) {
      const rest = buf.subarray(off);
      this.rparts.push(rest);
      this.rlen = rest.length;
      // Until the frame header is complete the next chunk may complete it: try at every chunk.
      this.rneed = rest.length < FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES : FRAME_HEADER_BYTES + ((rest[0]! << 16) | (rest[1]! << 8) | rest[2]!);
    }
  }

  /** A limit fired: count and report it (the caller closes what it must). */
  private limitHit(limit: H2ClientLimit, detail: string): void {
    const l = this.limits.onLimit;
    if (l === null) return;
    try {
      l(limit, detail);
    } catch {
      // a reporting problem must not leave this connection half-updated
    }
  }

  /** A violation of RFC 9113's frame rules: GOAWAY with `code`, counted as `protocol_violation`. */
  private violation(code: number, why: string): void {
    this.limitHit('protocol_violation', why);
    this.connectionError(code, why);
  }

  /** Resets one stream for a stream-level error (the connection carries on). */
  private streamError(call: H2Call, code: number, why: string, grpcCode: number): void {
    call.localCode = grpcCode;
    if (call.failure === '') call.failure = why;
    if (this.streams.delete(call.streamId)) this.queue(rstStream(call.streamId, code));
    this.dropBlocked(call);
    this.sendWindows.delete(call.streamId);
    this.finish(call);
    this.afterStreamEnd();
  }

  /**
   * Queues a reply the peer asked for (SETTINGS ACK, PING ACK), unless our output it has not
   * read is past the bound: then it is not reading, and the connection is closed.
   */
  private queueReply(b: Buffer): boolean {
    const unsent = this.socket.writableLength + this.outBytes;
    if (unsent + b.length > this.limits.maxUnsentBytes) {
      this.limitHit('unsent_output', `the peer left ${unsent} bytes of ours unread and keeps asking for replies: connection closed`);
      this.connectionError(H2_ENHANCE_YOUR_CALM, `${unsent} bytes unread by the peer`);
      return false;
    }
    this.queue(b);
    return true;
  }

  private frame(type: number, flags: number, sid: number, buf: Buffer, start: number, end: number): void {
    if (this.hblock !== null && type !== Frame.Continuation) {
      this.violation(H2_PROTOCOL_ERROR, 'header block interrupted');
      return;
    }
    switch (type) {
      case Frame.Data: {
        if (sid === 0) return this.violation(H2_PROTOCOL_ERROR, 'DATA on stream 0');
        this.recvUnacked += end - start;
        if (this.recvUnacked >= CONNECTION_WINDOW_TOP_UP) {
          this.queue(windowUpdate(0, this.recvUnacked));
          this.recvUnacked = 0;
        }
        if (flags & FLAG_PADDED) {
          if (end === start) return this.violation(H2_PROTOCOL_ERROR, 'PADDED DATA without a pad length');
          const pad = buf[start]!;
          start++;
          if (pad > end - start) return this.violation(H2_PROTOCOL_ERROR, 'padding longer than frame');
          end -= pad;
        }
        if (end === start && (flags & FLAG_END_STREAM) === 0) {
          if (++this.emptyFrames > this.limits.maxEmptyFrames) {
            this.limitHit('empty_frames', `${this.emptyFrames} DATA frames in a row without data: connection closed`);
            return this.connectionError(H2_ENHANCE_YOUR_CALM, 'empty DATA flood');
          }
        } else {
          this.emptyFrames = 0;
        }
        const call = this.streams.get(sid);
        if (call === undefined) return;
        if (end > start && !this.replyData(call, buf, start, end)) return;
        if (flags & FLAG_END_STREAM) this.endStream(call);
        return;
      }
      case Frame.Headers: {
        if (sid === 0) return this.violation(H2_PROTOCOL_ERROR, 'HEADERS on stream 0');
        if (flags & FLAG_PADDED) {
          if (end === start) return this.violation(H2_PROTOCOL_ERROR, 'PADDED HEADERS without a pad length');
          const pad = buf[start]!;
          start++;
          if (pad > end - start) return this.violation(H2_PROTOCOL_ERROR, 'padding longer than frame');
          end -= pad;
        }
        if (flags & FLAG_PRIORITY) start += 5;
        if (end < start) return this.violation(H2_PROTOCOL_ERROR, 'malformed HEADERS');
        const endStream = (flags & FLAG_END_STREAM) !== 0;
        if (flags & FLAG_END_HEADERS) {
          this.headers(sid, buf, start, end, endStream);
        } else {
          this.hblockBytes = end - start + FRAME_HEADER_BYTES;
          if (this.hblockBytes > this.limits.maxHeaderBlockBytes) return this.headerBlockTooLarge();
          this.hblock = [Buffer.from(buf.subarray(start, end))];
          this.hstream = sid;
          this.hendStream = endStream;
        }
        return;
      }
      case Frame.Continuation: {
        if (this.hblock === null || sid !== this.hstream) return this.violation(H2_PROTOCOL_ERROR, 'unexpected CONTINUATION');
        // Frame headers count too: a flood of empty CONTINUATIONs is bounded like a full one.
        this.hblockBytes += end - start + FRAME_HEADER_BYTES;
        if (this.hblockBytes > this.limits.maxHeaderBlockBytes) return this.headerBlockTooLarge();
        // Copied: the socket chunk it points into must not be kept alive by a pending block.
        if (end > start) this.hblock.push(Buffer.from(buf.subarray(start, end)));
        if (flags & FLAG_END_HEADERS) {
          const block = Buffer.concat(this.hblock);
          this.hblock = null;
          this.hblockBytes = 0;
          this.headers(sid, block, 0, block.length, this.hendStream);
        }
        return;
      }
      case Frame.RstStream: {
        if (sid === 0) return this.violation(H2_PROTOCOL_ERROR, 'RST_STREAM on stream 0');
        if (end - start !== 4) return this.violation(H2_FRAME_SIZE_ERROR, 'RST_STREAM length');
        const call = this.streams.get(sid);
        if (call === undefined) return;
        const code = buf.readUInt32BE(start);
        this.streams.delete(sid);
        this.dropBlocked(call);
        this.sendWindows.delete(sid);
        if (code === H2_REFUSED_STREAM && call.refusals < MAX_REFUSALS && !this.draining && this.peerMaxStreams !== 0) {
          // Not processed (RFC 9113 8.7), typically more streams than the peer's limit before
          // its SETTINGS arrived: send it again once a stream is free.
          call.refusals++;
          call.streamId = 0;
          call.body = null;
          this.dropParts(call);
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
        if (sid !== 0) return this.violation(H2_PROTOCOL_ERROR, 'SETTINGS on a stream');
        if (flags & FLAG_ACK) {
          if (end !== start) return this.violation(H2_FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
          return;
        }
        if ((end - start) % 6 !== 0) return this.violation(H2_FRAME_SIZE_ERROR, 'SETTINGS length');
        this.peerSpoke = true;
        for (let p = start; p < end; p += 6) {
          const id = buf.readUInt16BE(p);
          const v = buf.readUInt32BE(p + 2);
          if (id === SETTING_HEADER_TABLE_SIZE) this.encoder.limit(v);
          else if (id === SETTING_ENABLE_PUSH) {
            if (v > 1) return this.violation(H2_PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${v}`);
          } else if (id === SETTING_MAX_CONCURRENT_STREAMS) this.peerMaxStreams = v;
          else if (id === SETTING_INITIAL_WINDOW_SIZE) {
            if (v > MAX_WINDOW) return this.violation(H2_FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${v}`);
            const delta = v - this.peerInitialWindow;
            this.peerInitialWindow = v;
            for (const [k, w] of this.sendWindows) {
              if (w + delta > MAX_WINDOW) return this.violation(H2_FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window');
              this.sendWindows.set(k, w + delta);
            }
          } else if (id === SETTING_MAX_FRAME_SIZE) {
            if (v < MIN_MAX_FRAME_SIZE || v > MAX_MAX_FRAME_SIZE) return this.violation(H2_PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${v}`);
            this.peerMaxFrame = v;
          }
        }
        const ack = Buffer.alloc(FRAME_HEADER_BYTES);
        frameHeader(ack, 0, 0, Frame.Settings, FLAG_ACK, 0);
        if (!this.queueReply(ack)) return;
        this.sendBlocked();
        if (this.peerMaxStreams === 0) this.noStreams();
        else this.startWaiting();
        return;
      }
      case Frame.Ping: {
        if (sid !== 0) return this.violation(H2_PROTOCOL_ERROR, 'PING on a stream');
        if (end - start !== 8) return this.violation(H2_FRAME_SIZE_ERROR, 'PING length');
        if (flags & FLAG_ACK) return;
        const pong = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 8);
        frameHeader(pong, 0, 8, Frame.Ping, FLAG_ACK, 0);
        buf.copy(pong, FRAME_HEADER_BYTES, start, end);
        this.queueReply(pong);
        return;
      }
      case Frame.Goaway: {
        if (sid !== 0) return this.violation(H2_PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (end - start < 8) return this.violation(H2_FRAME_SIZE_ERROR, 'GOAWAY length');
        const last = buf.readUInt32BE(start) & 0x7fff_ffff;
        const code = buf.readUInt32BE(start + 4);
        if (!this.draining) {
          this.draining = true;
          this.events.onGoaway(this);
        }
        // A later GOAWAY may only lower `last`; one that does not has nothing new to fail (no
        // pass over the streams per frame, however many GOAWAYs arrive).
        if (last < this.goawayLast) {
          this.goawayLast = last;
          // Streams above `last` were never processed: they fail, and are safe to retry.
          // (Deleting the entry being visited is safe while iterating a Map.)
          for (const [id, call] of this.streams) {
            if (id <= last) continue;
            if (call.failure === '') call.failure = `GOAWAY (HTTP/2 code ${code}) before the call was processed`;
            call.resetCode = H2_REFUSED_STREAM;
            this.streams.delete(id);
            this.dropBlocked(call);
            this.sendWindows.delete(id);
            this.finish(call);
          }
        }
        this.failWaiting(`GOAWAY (HTTP/2 code ${code})`);
        this.afterStreamEnd();
        return;
      }
      case Frame.WindowUpdate: {
        if (end - start !== 4) return this.violation(H2_FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
        const inc = buf.readUInt32BE(start) & 0x7fff_ffff;
        if (sid === 0) {
          if (inc === 0) return this.violation(H2_PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 on the connection');
          if (this.connSendWindow + inc > MAX_WINDOW) return this.violation(H2_FLOW_CONTROL_ERROR, 'connection window past 2^31-1');
          this.connSendWindow += inc;
        } else {
          const call = this.streams.get(sid);
          if (call !== undefined && inc === 0) {
            this.limitHit('protocol_violation', `WINDOW_UPDATE of 0 on stream ${sid}`);
            return this.streamError(call, H2_PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 (stream error)', GRPC_INTERNAL);
          }
          const w = this.sendWindows.get(sid);
          if (w !== undefined) {
            if (w + inc > MAX_WINDOW && call !== undefined) {
              this.limitHit('protocol_violation', `stream ${sid} window past 2^31-1`);
              return this.streamError(call, H2_FLOW_CONTROL_ERROR, 'stream window past 2^31-1 (stream error)', GRPC_INTERNAL);
            }
            this.sendWindows.set(sid, w + inc);
          }
        }
        if (this.blockedHead < this.blocked.length) this.sendBlocked();
        return;
      }
      case Frame.PushPromise:
        return this.violation(H2_PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
      default:
        return; // PRIORITY and unknown frame types are ignored
    }
  }

  /**
   * Adds reply bytes to `call`; false when that ended the call (too large, or a second message).
   * A reply that arrives whole in one DATA frame is kept as a view of the socket chunk (no copy).
   */
  private replyData(call: H2Call, buf: Buffer, start: number, end: number): boolean {
    let acc = call.bodyParts;
    if (acc === null) {
      const part = buf.subarray(start, end);
      if (call.body === null && part.length >= GRPC_FRAME_HEADER_BYTES) {
        const declared = part.readUInt32BE(1);
        if (declared <= this.maxReplyBytes && part.length === GRPC_FRAME_HEADER_BYTES + declared) {
          call.body = part;
          return true;
        }
      }
      acc = new GrpcMessageBuffer(this.maxReplyBytes);
      call.bodyParts = acc;
      if (call.body !== null) {
        acc.push(call.body, 0, call.body.length);
        call.body = null;
      }
    }
    const before = acc.length;
    const state = acc.push(buf, start, end);
    this.replyBytes += acc.length - before;
    if (state === GrpcBodyState.Ok) {
      if (this.replyBytes <= this.limits.maxPendingReplyBytes) return true;
      this.limitHit('pending_reply_bytes', `${this.replyBytes} bytes of unfinished replies on one connection, above ${this.limits.maxPendingReplyBytes}: connection closed`);
      this.connectionError(H2_ENHANCE_YOUR_CALM, 'too many bytes in unfinished replies');
      return false;
    }
    this.dropParts(call);
    if (state === GrpcBodyState.TooLarge) {
      this.limitHit('reply_body', `stream ${call.streamId} declares a ${acc.declared}-byte reply, above ${this.maxReplyBytes}: stream reset`);
      this.streamError(call, H2_CANCEL, `reply larger than ${this.maxReplyBytes} bytes (declared ${acc.declared})`, GRPC_RESOURCE_EXHAUSTED);
    } else {
      this.streamError(call, H2_CANCEL, 'more than one message in a unary reply', GRPC_INTERNAL);
    }
    return false;
  }

  /** Forgets a call's unfinished reply (its bytes no longer count against the connection). */
  private dropParts(call: H2Call): void {
    const p = call.bodyParts;
    if (p === null) return;
    this.replyBytes -= p.length;
    call.bodyParts = null;
  }

  private headerBlockTooLarge(): void {
    this.limitHit('header_block', `header block past ${this.limits.maxHeaderBlockBytes} bytes (CONTINUATION flood?): connection closed`);
    this.hblock = null;
    this.connectionError(H2_ENHANCE_YOUR_CALM, `header block past ${this.limits.maxHeaderBlockBytes} bytes`);
  }

  private headers(sid: number, buf: Buffer, start: number, end: number, endStream: boolean): void {
    const call = this.streams.get(sid);
    this.cur = call ?? null;
    this.listBytes = 0;
    try {
      // Every block goes through the decoder, even for a stream we no longer track.
      this.decoder.decode(buf, start, end, this.sink);
    } catch (e) {
      this.cur = null;
      if (e instanceof HpackError) return this.violation(H2_COMPRESSION_ERROR, `HPACK: ${e.message}`);
      throw e;
    }
    this.cur = null;
    if (this.listBytes > this.limits.maxHeaderListBytes) {
      // The block was decoded (the HPACK table stays in step): only this stream fails.
      this.limitHit('header_list', `stream ${sid}: header list of ${this.listBytes} bytes, above the ${this.limits.maxHeaderListBytes} advertised: stream reset`);
      if (call !== undefined) this.streamError(call, H2_CANCEL, `header list larger than ${this.limits.maxHeaderListBytes} bytes`, GRPC_RESOURCE_EXHAUSTED);
      return;
    }
    if (call !== undefined && endStream) this.endStream(call);
  }

  private endStream(call: H2Call): void {
    if (call.bodyParts !== null) {
      call.body = call.bodyParts.take();
      this.dropParts(call);
    }
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
    this.dropParts(call);
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

  /**
   * The peer set SETTINGS_MAX_CONCURRENT_STREAMS to 0: calls waiting for a stream fail now (not
   * at their deadline), and the connection takes no new calls (the client opens another one for
   * them); the streams already open finish, then it closes.
   */
  private noStreams(): void {
    const w = this.waiting;
    this.waiting = [];
    this.limitHit('no_streams', `the peer allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS 0): ${w.length / 2} waiting calls failed, connection drained`);
    if (!this.draining) {
      this.draining = true;
      this.events.onGoaway(this);
    }
    for (let i = 0; i < w.length; i += 2) {
      const call = w[i] as H2Call;
      call.localCode = GRPC_UNAVAILABLE;
      if (call.failure === '') call.failure = 'the peer allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS 0)';
      this.finish(call);
    }
    this.afterStreamEnd();
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
    this.fail(`protocol error: ${why}`, null);
    // The GOAWAY goes out before the socket does (a write then an immediate destroy could drop it
    // when the output was queued); reading stops, and a peer that does not read our last bytes
    // within GOAWAY_LINGER_MS is cut off all the same.
    const socket = this.socket;
    socket.pause();
    const cut = setTimeout(() => socket.destroy(), GOAWAY_LINGER_MS);
    cut.unref();
    socket.end(g, () => {
      clearTimeout(cut);
      socket.destroy();
    });
  }

  /** The connection is gone: every call in flight fails with `why`. */
  private fail(why: string, err: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    this.rparts = [];
    this.rlen = 0;
    this.hblock = null;
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
