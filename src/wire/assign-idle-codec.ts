/**
 * Hand-rolled protobuf for the two Scaler calls, both directions: the raw HTTP/2 client builds a
 * whole gRPC request frame (5-byte prefix + message) with one allocation and a few byte writes
 * (the per-key `Meta` and the constant `Result` are encoded once and copied into each frame) and
 * decodes replies; the `node:http2` Scaler server (`src/server/h2-scaler-server.ts`) decodes
 * requests into the shapes grpc-js would give and encodes replies.
 *
 * Field numbers follow `proto/serverless-sim.proto`; proto3 defaults (empty string, 0) are
 * omitted as canonical encoders do. uint64 values are JS numbers (exact up to 2^53).
 */

import {
  GRPC_FRAME_HEADER_BYTES,
  ProtobufWireError,
  WIRE_LEN,
  WIRE_VARINT,
  cursor,
  grpcMessageEnd as wireMessageEnd,
  readInt32,
  readLength,
  readString,
  readTag,
  readVarint,
  skipField,
  stringFieldSize,
  tag,
  varintSize,
  writeFrameHeader,
  writeStringField,
  writeVarint,
} from './protobuf-wire.js';

export { GRPC_FRAME_HEADER_BYTES, varintSize, writeVarint };

/** HTTP/2 paths of the two Scaler calls (gRPC: `/<package>.<service>/<method>`). */
export const SCALER_ASSIGN_PATH = '/serverless.simulator.Scaler/Assign';
export const SCALER_IDLE_PATH = '/serverless.simulator.Scaler/Idle';

const TAG_ASSIGN_REQUEST_ID = tag(1, WIRE_LEN);
const TAG_ASSIGN_TIMESTAMP = tag(2, WIRE_VARINT);
const TAG_ASSIGN_META = tag(3, WIRE_LEN);
const TAG_META_KEY = tag(1, WIRE_LEN);
const TAG_META_RUNTIME = tag(3, WIRE_LEN);
const TAG_META_TIMEOUT = tag(4, WIRE_VARINT);
const TAG_META_MEMORY = tag(5, WIRE_VARINT);
const TAG_IDLE_ASSIGNMENT = tag(1, WIRE_LEN);
const TAG_IDLE_RESULT = tag(2, WIRE_LEN);
const TAG_ASSIGNMENT_REQUEST_ID = tag(1, WIRE_LEN);
const TAG_ASSIGNMENT_META_KEY = tag(2, WIRE_LEN);
const TAG_ASSIGNMENT_INSTANCE_ID = tag(3, WIRE_LEN);
const TAG_RESULT_STATUS_CODE = tag(1, WIRE_VARINT);
const TAG_RESULT_DURATION = tag(2, WIRE_VARINT);
const TAG_RESULT_NEED_DESTROY = tag(3, WIRE_VARINT);
const TAG_RESULT_REASON = tag(4, WIRE_LEN);

const TWO_POW_64 = 18446744073709551616n;

export class CodecError extends Error {
  readonly code = 'SCALER_MESSAGE_MALFORMED';
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

/** Shared wire errors surface as this codec's own error type. */
function asCodecError(e: unknown): unknown {
  return e instanceof ProtobufWireError ? new CodecError(e.message) : e;
}

// --- encoding -------------------------------------------------------------------------------

/** int32 fields encode negative values as 10-byte two's complement varints. */
function int32Varint(v: number): number[] {
  let u = BigInt(v);
  if (u < 0n) u += TWO_POW_64;
  const out: number[] = [];
  while (u >= 128n) {
    out.push(Number(u & 127n) | 128);
    u >>= 7n;
  }
  out.push(Number(u));
  return out;
}

/** Small builder for the encode-once parts; not used per call. */
class ByteList {
  readonly bytes: number[] = [];
  varint(v: number): this {
    const tmp = new Uint8Array(10);
    const end = writeVarint(tmp, 0, v);
    for (let i = 0; i < end; i++) this.bytes.push(tmp[i]!);
    return this;
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.bytes.push(b[i]!);
    return this;
  }
  string(fieldTag: number, s: string): this {
    if (s.length === 0) return this;
    const b = Buffer.from(s, 'utf8');
    return this.varint(fieldTag).varint(b.length).raw(b);
  }
  uint(fieldTag: number, v: number): this {
    if (v === 0) return this;
    return this.varint(fieldTag).varint(v);
  }
  message(fieldTag: number, body: ByteList): this {
    return this.varint(fieldTag).varint(body.bytes.length).raw(body.bytes);
  }
}

export interface MetaFields {
  readonly key: string;
  readonly runtime?: string;
  readonly timeoutInSecs?: number;
  readonly memoryInMb: number;
}

export interface ResultFields {
  readonly statusCode: number;
  readonly durationInMs: number;
  readonly needDestroy?: boolean;
  readonly reason?: string;
}

/** `AssignRequest.meta_data` as tag + length + body, ready to be copied into frames. */
export function encodeMetaField(meta: MetaFields): Buffer {
  const body = new ByteList()
    .string(TAG_META_KEY, meta.key)
    .string(TAG_META_RUNTIME, meta.runtime ?? '')
    .uint(TAG_META_TIMEOUT, meta.timeoutInSecs ?? 0)
    .uint(TAG_META_MEMORY, meta.memoryInMb);
  return Buffer.from(new ByteList().message(TAG_ASSIGN_META, body).bytes);
}

/** `IdleRequest.result` as tag + length + body. Optional fields are written when given. */
export function encodeResultField(result: ResultFields): Buffer {
  const body = new ByteList();
  if (result.statusCode !== 0) body.varint(TAG_RESULT_STATUS_CODE).raw(int32Varint(result.statusCode));
  body.uint(TAG_RESULT_DURATION, result.durationInMs);
  if (result.needDestroy !== undefined) body.varint(TAG_RESULT_NEED_DESTROY).varint(result.needDestroy ? 1 : 0);
  if (result.reason !== undefined) {
    const b = Buffer.from(result.reason, 'utf8');
    body.varint(TAG_RESULT_REASON).varint(b.length).raw(b);
  }
  return Buffer.from(new ByteList().message(TAG_IDLE_RESULT, body).bytes);
}

/**
 * A complete gRPC frame for `AssignRequest{request_id, timestamp, meta_data}`, where `metaField`
 * comes from {@link encodeMetaField}. One allocation.
 */
export function encodeAssignFrame(requestId: string, timestamp: number, metaField: Buffer): Buffer {
  const ridLen = Buffer.byteLength(requestId, 'utf8');
  const msgLen =
    stringFieldSize(ridLen) + (timestamp === 0 ? 0 : 1 + varintSize(timestamp)) + metaField.length;
  const buf = Buffer.allocUnsafe(GRPC_FRAME_HEADER_BYTES + msgLen);
  writeFrameHeader(buf, msgLen);
  let off = writeStringField(buf, GRPC_FRAME_HEADER_BYTES, TAG_ASSIGN_REQUEST_ID, requestId, ridLen);
  if (timestamp !== 0) {
    buf[off++] = TAG_ASSIGN_TIMESTAMP;
    off = writeVarint(buf, off, timestamp);
  }
  metaField.copy(buf, off);
  return buf;
}

/**
 * A complete gRPC frame for `IdleRequest{assigment{request_id, meta_key, instance_id}, result}`,
 * where `resultField` comes from {@link encodeResultField}. One allocation.
 */
export function encodeIdleFrame(
  requestId: string,
  metaKey: string,
  instanceId: string,
  resultField: Buffer,
): Buffer {
  const ridLen = Buffer.byteLength(requestId, 'utf8');
  const keyLen = Buffer.byteLength(metaKey, 'utf8');
  const iidLen = Buffer.byteLength(instanceId, 'utf8');
  const asgLen = stringFieldSize(ridLen) + stringFieldSize(keyLen) + stringFieldSize(iidLen);
  const msgLen = 1 + varintSize(asgLen) + asgLen + resultField.length;
  const buf = Buffer.allocUnsafe(GRPC_FRAME_HEADER_BYTES + msgLen);
  writeFrameHeader(buf, msgLen);
  let off = GRPC_FRAME_HEADER_BYTES;
  buf[off++] = TAG_IDLE_ASSIGNMENT;
  off = writeVarint(buf, off, asgLen);
  off = writeStringField(buf, off, TAG_ASSIGNMENT_REQUEST_ID, requestId, ridLen);
  off = writeStringField(buf, off, TAG_ASSIGNMENT_META_KEY, metaKey, keyLen);
  off = writeStringField(buf, off, TAG_ASSIGNMENT_INSTANCE_ID, instanceId, iidLen);
  resultField.copy(buf, off);
  return buf;
}

export interface AssignRequestFields {
  readonly requestId: string;
  readonly timestamp: number;
  readonly meta: MetaFields;
}

/** Unframed `AssignRequest` bytes (convenience; the hot path uses {@link encodeAssignFrame}). */
export function encodeAssignRequest(f: AssignRequestFields): Buffer {
  return encodeAssignFrame(f.requestId, f.timestamp, encodeMetaField(f.meta)).subarray(GRPC_FRAME_HEADER_BYTES);
}

export interface IdleRequestFields {
  readonly requestId: string;
  readonly metaKey: string;
  readonly instanceId: string;
  readonly result: ResultFields;
}

/** Unframed `IdleRequest` bytes. */
export function encodeIdleRequest(f: IdleRequestFields): Buffer {
  return encodeIdleFrame(f.requestId, f.metaKey, f.instanceId, encodeResultField(f.result)).subarray(
    GRPC_FRAME_HEADER_BYTES,
  );
}

// --- decoding (just enough for replies) -----------------------------------------------------

/** Negative enum values (sign-extended 64-bit varints) are never valid statuses: report -1. */
function enumValue(v: number): number {
  return v > 0x7fffffff ? -1 : v;
}

export interface DecodedAssignReply {
  readonly status: number;
  readonly instanceId: string;
}

/** Status and `assigment.instance_id` of an unframed `AssignReply` in `buf[start, end)`. */
export function decodeAssignReply(buf: Buffer, start = 0, end = buf.length): DecodedAssignReply {
  let status = 0;
  let instanceId = '';
  cursor.pos = start;
  try {
    while (cursor.pos < end) {
      const t = readVarint(buf, end);
      const field = t >>> 3;
      const wire = t & 7;
      if (field === 1 && wire === WIRE_VARINT) {
        status = enumValue(readVarint(buf, end));
      } else if (field === 2 && wire === WIRE_LEN) {
        const len = readVarint(buf, end);
        const subEnd = cursor.pos + len;
        if (subEnd > end) throw new CodecError('truncated assigment');
        while (cursor.pos < subEnd) {
          const st = readVarint(buf, subEnd);
          if (st >>> 3 === 3 && (st & 7) === WIRE_LEN) {
            const slen = readVarint(buf, subEnd);
            if (cursor.pos + slen > subEnd) throw new CodecError('truncated instance_id');
            instanceId = buf.toString('utf8', cursor.pos, cursor.pos + slen);
            cursor.pos += slen;
          } else {
            skipField(buf, st, subEnd);
          }
        }
      } else {
        skipField(buf, t, end);
      }
    }
  } catch (e) {
    throw asCodecError(e);
  }
  return { status, instanceId };
}

/** Status of an unframed `IdleReply` in `buf[start, end)`. */
export function decodeIdleReplyStatus(buf: Buffer, start = 0, end = buf.length): number {
  let status = 0;
  cursor.pos = start;
  try {
    while (cursor.pos < end) {
      const t = readVarint(buf, end);
      if (t >>> 3 === 1 && (t & 7) === WIRE_VARINT) status = enumValue(readVarint(buf, end));
      else skipField(buf, t, end);
    }
  } catch (e) {
    throw asCodecError(e);
  }
  return status;
}

/**
 * End offset of the single message of a unary gRPC response body (it starts at
 * {@link GRPC_FRAME_HEADER_BYTES}), or throws. Compressed messages are refused: the load
 * generator never advertises an encoding, so a server must not use one.
 */
export function grpcMessageEnd(body: Buffer): number {
  try {
    return wireMessageEnd(body);
  } catch (e) {
    throw asCodecError(e);
  }
}

// --- the server side: requests in, replies out -----------------------------------------------

const TAG_REPLY_ASSIGNMENT = tag(2, WIRE_LEN);

/** `AssignRequest` as grpc-js (proto-loader, defaults on) would decode it. */
export interface DecodedAssignRequest {
  requestId: string;
  timestamp: number;
  metaData: { key: string; runtime: string; timeoutInSecs: number; memoryInMb: number } | null;
}

/** `IdleRequest` as grpc-js would decode it (absent optional fields stay absent). */
export interface DecodedIdleRequest {
  assigment: { requestId: string; metaKey: string; instanceId: string } | null;
  result: { statusCode: number; durationInMs: number; needDestroy?: boolean; reason?: string } | null;
}

/** The unframed `AssignRequest` in `buf[start, end)`; sub-messages merge, the last scalar wins. */
export function decodeAssignRequest(buf: Buffer, start: number, end: number): DecodedAssignRequest {
  const m: DecodedAssignRequest = { requestId: '', timestamp: 0, metaData: null };
  cursor.pos = start;
  try {
    while (cursor.pos < end) {
      const t = readTag(buf, end);
      if (t === TAG_ASSIGN_REQUEST_ID) m.requestId = readString(buf, end);
      else if (t === TAG_ASSIGN_TIMESTAMP) m.timestamp = readVarint(buf, end);
      else if (t === TAG_ASSIGN_META) {
        const len = readLength(buf, end); // first: `cursor.pos + readLength()` reads the old position
        const subEnd = cursor.pos + len;
        const meta = (m.metaData ??= { key: '', runtime: '', timeoutInSecs: 0, memoryInMb: 0 });
        while (cursor.pos < subEnd) {
          const st = readTag(buf, subEnd);
          if (st === TAG_META_KEY) meta.key = readString(buf, subEnd);
          else if (st === TAG_META_RUNTIME) meta.runtime = readString(buf, subEnd);
          else if (st === TAG_META_TIMEOUT) meta.timeoutInSecs = readVarint(buf, subEnd) % 4294967296;
          else if (st === TAG_META_MEMORY) meta.memoryInMb = readVarint(buf, subEnd);
          else skipField(buf, st, subEnd);
        }
      } else skipField(buf, t, end);
    }
  } catch (e) {
    throw asCodecError(e);
  }
  return m;
}

/** The unframed `IdleRequest` in `buf[start, end)`. */
export function decodeIdleRequest(buf: Buffer, start: number, end: number): DecodedIdleRequest {
  const m: DecodedIdleRequest = { assigment: null, result: null };
  cursor.pos = start;
  try {
    while (cursor.pos < end) {
      const t = readTag(buf, end);
      if (t === TAG_IDLE_ASSIGNMENT) {
        const len = readLength(buf, end); // first: `cursor.pos + readLength()` reads the old position
        const subEnd = cursor.pos + len;
        const a = (m.assigment ??= { requestId: '', metaKey: '', instanceId: '' });
        while (cursor.pos < subEnd) {
          const st = readTag(buf, subEnd);
          if (st === TAG_ASSIGNMENT_REQUEST_ID) a.requestId = readString(buf, subEnd);
          else if (st === TAG_ASSIGNMENT_META_KEY) a.metaKey = readString(buf, subEnd);
          else if (st === TAG_ASSIGNMENT_INSTANCE_ID) a.instanceId = readString(buf, subEnd);
          else skipField(buf, st, subEnd);
        }
      } else if (t === TAG_IDLE_RESULT) {
        const len = readLength(buf, end); // first: `cursor.pos + readLength()` reads the old position
        const subEnd = cursor.pos + len;
        const r = (m.result ??= { statusCode: 0, durationInMs: 0 });
        while (cursor.pos < subEnd) {
          const st = readTag(buf, subEnd);
          if (st === TAG_RESULT_STATUS_CODE) r.statusCode = readInt32(buf, subEnd);
          else if (st === TAG_RESULT_DURATION) r.durationInMs = readVarint(buf, subEnd);
          else if (st === TAG_RESULT_NEED_DESTROY) r.needDestroy = readVarint(buf, subEnd) !== 0;
          else if (st === TAG_RESULT_REASON) r.reason = readString(buf, subEnd);
          else skipField(buf, st, subEnd);
        }
      } else skipField(buf, t, end);
    }
  } catch (e) {
    throw asCodecError(e);
  }
  return m;
}

/** A complete gRPC frame for `AssignReply{status: Ok, assigment{request_id, meta_key, instance_id}}`. */
export function encodeAssignReplyFrame(requestId: string, metaKey: string, instanceId: string): Buffer {
  const ridLen = Buffer.byteLength(requestId, 'utf8');
  const keyLen = Buffer.byteLength(metaKey, 'utf8');
  const iidLen = Buffer.byteLength(instanceId, 'utf8');
  const asgLen = stringFieldSize(ridLen) + stringFieldSize(keyLen) + stringFieldSize(iidLen);
  const msgLen = 1 + varintSize(asgLen) + asgLen;
  const buf = Buffer.allocUnsafe(GRPC_FRAME_HEADER_BYTES + msgLen);
  writeFrameHeader(buf, msgLen);
  let off = GRPC_FRAME_HEADER_BYTES;
  buf[off++] = TAG_REPLY_ASSIGNMENT;
  off = writeVarint(buf, off, asgLen);
  off = writeStringField(buf, off, TAG_ASSIGNMENT_REQUEST_ID, requestId, ridLen);
  off = writeStringField(buf, off, TAG_ASSIGNMENT_META_KEY, metaKey, keyLen);
  writeStringField(buf, off, TAG_ASSIGNMENT_INSTANCE_ID, instanceId, iidLen);
  return buf;
}

/** `IdleReply{status: Ok}`: every field at its default, an empty message. Shared; never written to. */
export const IDLE_REPLY_OK_FRAME: Buffer = Buffer.from([0, 0, 0, 0, 0]);
