/**
 * One unary gRPC call of the raw HTTP/2 client, and the methods it calls. The call object is
 * the only per-call allocation besides the request frame: the caller's callback and one number
 * ride in it (`user`, `aux`), and `done` is a per-method function, so no closure is needed.
 */
import type { GrpcMessageBuffer } from './grpc-message-buffer.js';

/** A gRPC method: its path and, optionally, a `grpc-timeout` sent with every call. */
export class H2Method {
  private static nextId = 0;
  /** Dense id, for per-connection header caches. */
  readonly id = H2Method.nextId++;
  constructor(
    readonly path: string,
    /** `grpc-timeout` header value (e.g. `2000m`), or '' for none. */
    readonly timeout = '',
  ) {}
}

export type H2CallDone = (call: H2Call) => void;

export class H2Call {
  /** HTTP/2 stream id, 0 until started. */
  streamId = 0;
  /** `:status` of the response headers; 0 until they arrive. */
  httpStatus = 0;
  contentType = '';
  /** -1 until a `grpc-status` arrives (trailers, or headers of a trailers-only response). */
  grpcStatus = -1;
  /** `grpc-message`, percent-decoded. */
  grpcMessage = '';
  /** The response body (all DATA), or null. */
  body: Buffer | null = null;
  /** A reply split over several DATA frames, collected until END_STREAM (see GrpcMessageBuffer). */
  bodyParts: GrpcMessageBuffer | null = null;
  /** Why the call ended without a status (reset, connection lost, deadline), for messages. */
  failure = '';
  /** A gRPC code for a failure detected locally (deadline, oversized reply, bad HTTP status); -1 if none. */
  localCode = -1;
  /** The HTTP/2 error code of a RST_STREAM that ended the call, or -1. */
  resetCode = -1;
  settled = false;
  timer: NodeJS.Timeout | null = null;
  /** Times the peer refused the stream unprocessed (REFUSED_STREAM) and it was sent again. */
  refusals = 0;
  /**
   * Set when the call ends: its request went out on a stream of a connection whose peer had
   * spoken (its SETTINGS arrived) and was not refused unprocessed (REFUSED_STREAM, or above a
   * GOAWAY's last stream id). For a call that ended without a status this is "the server may have
   * acted on it": a connection reset before the peer spoke (a proxy refusing it, nobody there)
   * carried the request to no server, and a call that never got a stream was never sent.
   */
  mayHaveBeenProcessed = false;
  /** The request frame, kept so a refused stream can be sent again. */
  message: Buffer | null = null;

  constructor(
    readonly method: H2Method,
    readonly done: H2CallDone,
    /** The caller's own data (typically its callback). */
    readonly user: unknown,
    /** A number for the caller (e.g. the memory of a CreateSlot). */
    readonly aux: number,
  ) {}
}
