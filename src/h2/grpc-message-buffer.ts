/**
 * The body of a unary gRPC message (5-byte prefix: compressed flag and length, then the message)
 * collected from DATA frames in linear time and bounded memory: the length the prefix declares
 * is checked against the limit before anything past the prefix is kept, then one buffer of exactly
 * that size is allocated and every later piece is copied into it once. A peer sending 1-byte DATA
 * frames costs one copy per byte, never a re-concatenation per frame; a peer declaring more than
 * the limit is refused on its first five bytes.
 *
 * Used by the raw client for replies and by the `node:http2` server for requests.
 */
import { GRPC_FRAME_HEADER_BYTES } from '../protobuf-wire.js';

export const enum GrpcBodyState {
  /** Still collecting (or complete): nothing wrong so far. */
  Ok = 0,
  /** The prefix declares a message above the limit: nothing past the prefix is kept. */
  TooLarge = 1,
  /** Bytes past the declared message (a second message in a unary call). */
  Excess = 2,
}

export class GrpcMessageBuffer {
  private buf: Buffer;
  private filled = 0;
  /** Message length the prefix declares; -1 until the prefix is complete. */
  declared = -1;
  state = GrpcBodyState.Ok;

  constructor(private readonly maxMessageBytes: number) {
    this.buf = Buffer.allocUnsafe(GRPC_FRAME_HEADER_BYTES);
  }

  /** Bytes received so far (prefix included, excess excluded). */
  get length(): number {
    return this.filled;
  }

  /** Adds `chunk[start, end)`; returns the state (sticky once not Ok: later bytes are dropped). */
  push(chunk: Uint8Array, start: number, end: number): GrpcBodyState {
    if (this.state !== GrpcBodyState.Ok) return this.state;
    while (start < end) {
      if (this.declared < 0) {
        const n = Math.min(end - start, GRPC_FRAME_HEADER_BYTES - this.filled);
        this.buf.set(chunk.subarray(start, start + n), this.filled);
        this.filled += n;
        start += n;
        if (this.filled < GRPC_FRAME_HEADER_BYTES) return this.state;
        const declared = this.buf.readUInt32BE(1);
        this.declared = declared;
        if (declared > this.maxMessageBytes) return (this.state = GrpcBodyState.TooLarge);
        const whole = Buffer.allocUnsafe(GRPC_FRAME_HEADER_BYTES + declared);
        this.buf.copy(whole, 0, 0, GRPC_FRAME_HEADER_BYTES);
        this.buf = whole;
        continue;
      }
      const room = this.buf.length - this.filled;
      if (end - start > room) return (this.state = GrpcBodyState.Excess);
      this.buf.set(chunk.subarray(start, end), this.filled);
      this.filled += end - start;
      return this.state;
    }
    return this.state;
  }

  /** The bytes received (the whole frame once complete; a shorter, truncated one otherwise). */
  take(): Buffer {
    return this.filled === this.buf.length ? this.buf : this.buf.subarray(0, this.filled);
  }
}
