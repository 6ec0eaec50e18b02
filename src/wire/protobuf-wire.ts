/**
 * Protobuf wire-format and gRPC framing primitives shared by the hand-written codecs
 * (`src/server/assign-idle-codec.ts`, `src/platform/platform-codec.ts`). Only the pieces those
 * codecs need: varints, string fields, the 5-byte gRPC prefix, and a decode cursor with field
 * skipping. uint64 values are JS numbers (exact up to 2^53).
 */

/** gRPC length-prefixed message header: 1 byte compressed flag + 4 bytes big-endian length. */
export const GRPC_FRAME_HEADER_BYTES = 5;

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;
/** Nesting bound for unknown groups, so hostile input cannot exhaust the stack. */
export const MAX_GROUP_DEPTH = 32;

/** Malformed wire input. Codecs rethrow it as their own error type at their public boundary. */
export class ProtobufWireError extends Error {
  readonly code = 'PROTOBUF_MALFORMED';
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufWireError';
  }
}

export function tag(field: number, wire: number): number {
  return (field << 3) | wire;
}

// ---- encoding ------------------------------------------------------------------------------

/** Bytes a varint of the non-negative integer `v` takes. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes `v` (non-negative integer up to 2^53) as a varint; returns the offset after it. */
export function writeVarint(buf: Uint8Array, off: number, v: number): number {
  while (v >= 128) {
    buf[off++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[off++] = v;
  return off;
}

/** Size of a proto3 string field (one-byte tag) holding `byteLen` bytes, 0 when omitted (empty). */
export function stringFieldSize(byteLen: number): number {
  return byteLen === 0 ? 0 : 1 + varintSize(byteLen) + byteLen;
}

/** Writes a proto3 string field with a one-byte tag, omitted when empty; returns the offset after it. */
export function writeStringField(buf: Buffer, off: number, fieldTag: number, s: string, byteLen: number): number {
  if (byteLen === 0) return off;
  buf[off++] = fieldTag;
  off = writeVarint(buf, off, byteLen);
  return off + buf.write(s, off, byteLen, 'utf8');
}

/** Writes the uncompressed gRPC prefix for a `messageLen`-byte message at the start of `buf`. */
export function writeFrameHeader(buf: Buffer, messageLen: number): void {
  buf[0] = 0;
  buf.writeUInt32BE(messageLen, 1);
}

// ---- decoding ------------------------------------------------------------------------------

/**
 * The decode position. Decoding is synchronous and never re-entered, so one shared slot avoids
 * returning {value, offset} pairs; a codec sets `pos` before decoding a message.
 */
export const cursor = { pos: 0 };

/** Reads a varint at the cursor, not past `end`, as a JS number. */
export function readVarint(buf: Uint8Array, end: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (cursor.pos >= end) throw new ProtobufWireError('truncated varint');
    const b = buf[cursor.pos++]!;
    result += (b & 127) * mul;
    if (b < 128) return result;
    mul *= 128;
  }
  throw new ProtobufWireError('varint longer than 10 bytes');
}

/** A field tag; field number 0 is invalid. */
export function readTag(buf: Uint8Array, end: number): number {
  const t = readVarint(buf, end);
  if (t >>> 3 === 0) throw new ProtobufWireError('field number 0');
  return t;
}

/** The length prefix of a length-delimited field, checked against `end`. */
export function readLength(buf: Uint8Array, end: number): number {
  const len = readVarint(buf, end);
  if (len > end - cursor.pos) throw new ProtobufWireError('truncated length-delimited field');
  return len;
}

export function readString(buf: Buffer, end: number): string {
  const len = readLength(buf, end);
  const s = buf.toString('utf8', cursor.pos, cursor.pos + len);
  cursor.pos += len;
  return s;
}

/**
 * An int32 (enums included; negative ones are sign-extended to 10 bytes on the wire): keeps the
 * low 32 bits of the varint as a signed integer, exactly as protobufjs' `int32()` does.
 */
export function readInt32(buf: Uint8Array, end: number): number {
  let lo = 0;
  for (let i = 0; i < 10; i++) {
    if (cursor.pos >= end) throw new ProtobufWireError('truncated varint');
    const b = buf[cursor.pos++]!;
    if (i < 5) lo |= (b & 127) << (7 * i);
    if (b < 128) return lo | 0;
  }
  throw new ProtobufWireError('varint longer than 10 bytes');
}

/** Skips the value of the field whose tag was just read, groups (bounded nesting) included. */
export function skipField(buf: Uint8Array, fieldTag: number, end: number, depth = 0): void {
  // Length-delimited and varint fields are nearly all that gets skipped; the rest stays out of
  // line so this function stays small enough to inline into the decoders.
  const wire = fieldTag & 7;
  if (wire === WIRE_LEN) {
    // Not `cursor.pos += readLength(...)`: that adds to the position as it was before the length.
    const len = readLength(buf, end);
    cursor.pos += len;
  } else if (wire === WIRE_VARINT) {
    readVarint(buf, end);
  } else {
    skipOtherField(buf, fieldTag, end, depth);
  }
}

function skipOtherField(buf: Uint8Array, fieldTag: number, end: number, depth: number): void {
  switch (fieldTag & 7) {
    case WIRE_FIXED64:
      cursor.pos += 8;
      break;
    case WIRE_START_GROUP: {
      if (depth >= MAX_GROUP_DEPTH) throw new ProtobufWireError('groups nested too deeply');
      const field = fieldTag >>> 3;
      for (;;) {
        const t = readVarint(buf, end);
        if ((t & 7) === WIRE_END_GROUP) {
          if (t >>> 3 !== field) throw new ProtobufWireError('mismatched end group');
          return;
        }
        skipField(buf, t, end, depth + 1);
      }
    }
    case WIRE_FIXED32:
      cursor.pos += 4;
      break;
    default:
      throw new ProtobufWireError(`invalid wire type ${fieldTag & 7}`);
  }
  if (cursor.pos > end) throw new ProtobufWireError('truncated fixed-width field');
}

/**
 * End offset of the first message of a gRPC body (it starts at {@link GRPC_FRAME_HEADER_BYTES}),
 * or throws. Compressed messages are refused: our clients never advertise an encoding, so a
 * server must not use one.
 */
export function grpcMessageEnd(body: Buffer): number {
  if (body.length < GRPC_FRAME_HEADER_BYTES) throw new ProtobufWireError('short gRPC frame');
  if (body[0] !== 0) throw new ProtobufWireError('compressed gRPC message');
  const end = GRPC_FRAME_HEADER_BYTES + body.readUInt32BE(1);
  if (end > body.length) throw new ProtobufWireError('truncated gRPC message');
  return end;
}

/** As {@link grpcMessageEnd}, and the message must be the whole body (a unary reply). */
export function grpcSoleMessageEnd(body: Buffer): number {
  const end = grpcMessageEnd(body);
  if (end < body.length) throw new ProtobufWireError('more than one message in a unary reply');
  return end;
}
