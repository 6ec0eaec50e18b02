/**
 * The body of a unary gRPC message (5-byte prefix: compressed flag and length, then the message)
 * collected from DATA frames in linear time and bounded memory: the length the prefix declares
 * is checked against the limit before anything past the prefix is kept; the buffer then grows by
 * doubling up to the declared size (amortised one copy per byte, and never more than twice what
 * actually arrived, so declaring a large message costs nothing until its bytes come). A peer
 * sending 1-byte DATA frames costs O(1) per frame, never a re-concatenation of the body; a peer
 * declaring more than the limit is refused on its first five bytes.
 *
 * Used by the raw client for replies and by the `node:http2` server for requests.
 */
import { GRPC_FRAME_HEADER_BYTES } from '../wire/protobuf-wire.js';

export const enum GrpcBodyState {
  /** Still collecting (or complete): nothing wrong so far. */
  Ok = 0,
  /** The prefix declares a message above the limit: nothing past the prefix is kept. */
  TooLarge = 1,
  /** Bytes past the declared message (a second message in a unary call). */
  Excess = 2,
}

/** First allocation for a message's bytes (most messages are far smaller: one allocation). */
const INITIAL_BYTES = 1024;

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
        this.grow(Math.min(GRPC_FRAME_HEADER_BYTES + declared, GRPC_FRAME_HEADER_BYTES + INITIAL_BYTES));
        continue;
      }
      const need = this.filled + (end - start);
      const whole = GRPC_FRAME_HEADER_BYTES + this.declared;
      if (need > whole) return (this.state = GrpcBodyState.Excess);
      if (need > this.buf.length) this.grow(Math.min(whole, Math.max(need, this.buf.length * 2)));
      this.buf.set(chunk.subarray(start, end), this.filled);
      this.filled += end - start;
      return this.state;
    }
    return this.state;
  }

  /** Bytes allocated (what the connection's pending-bytes bounds count). */
  get allocated(): number {
    return this.buf.length;
  }

  /** The bytes received (the whole frame once complete; a shorter, truncated one otherwise). */
  take(): Buffer {
    return this.filled === this.buf.length ? this.buf : this.buf.subarray(0, this.filled);
  }

  private grow(size: number): void {
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.filled);
    this.buf = b;
  }
}
