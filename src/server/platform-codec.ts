/**
 * Hand-written protobuf for the three `Platform` calls (`proto/serverless-sim.proto`), so the raw
 * HTTP/2 platform client builds each request as one complete gRPC frame (5-byte prefix + message)
 * in a single allocation and decodes replies without protobufjs' reflection.
 *
 * Encoding follows what protobufjs writes for the objects `GrpcPlatformClient` passes: proto3
 * scalars are omitted at their default (empty string, 0), sub-messages are always written (even
 * empty), and `optional` fields (explicit presence) are written whenever they are given.
 * Decoding fills proto3 defaults for absent scalars, leaves absent `optional` fields and absent
 * sub-messages `undefined`, skips unknown fields of every wire type (groups included), lets the
 * last value of a repeated scalar win and merges repeated sub-messages, as protobuf requires.
 * 64-bit integers are JS numbers (exact up to 2^53), as in the project's proto-loader options.
 */

/** gRPC length-prefixed message header: 1 byte compressed flag + 4 bytes big-endian length. */
export const GRPC_FRAME_HEADER_BYTES = 5;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;
/** Nesting bound for unknown groups, so hostile input cannot exhaust the stack. */
const MAX_GROUP_DEPTH = 32;

const tag = (field: number, wire: number): number => (field << 3) | wire;

// Request tags (all below 128: one byte each).
const T_CREATE_REQUEST_ID = tag(1, WIRE_LEN);
const T_CREATE_RESOURCE_CONFIG = tag(2, WIRE_LEN);
const T_RESOURCE_MEMORY = tag(1, WIRE_VARINT);
const T_INIT_REQUEST_ID = tag(1, WIRE_LEN);
const T_INIT_SLOT_ID = tag(2, WIRE_LEN);
const T_INIT_INSTANCE_ID = tag(3, WIRE_LEN);
const T_INIT_META = tag(4, WIRE_LEN);
const T_META_KEY = tag(1, WIRE_LEN);
const T_META_RUNTIME = tag(3, WIRE_LEN);
const T_META_TIMEOUT = tag(4, WIRE_VARINT);
const T_META_MEMORY = tag(5, WIRE_VARINT);
const T_DESTROY_REQUEST_ID = tag(1, WIRE_LEN);
const T_DESTROY_ID = tag(2, WIRE_LEN);
const T_DESTROY_REASON = tag(3, WIRE_LEN);
// Reply tags.
const T_STATUS = tag(1, WIRE_VARINT);
const T_CREATE_SLOT = tag(2, WIRE_LEN);
const T_CREATE_ERROR = tag(3, WIRE_LEN);
const T_SLOT_ID = tag(1, WIRE_LEN);
const T_SLOT_RESOURCE_CONFIG = tag(2, WIRE_LEN);
const T_SLOT_CREATE_TIME = tag(3, WIRE_VARINT);
const T_SLOT_CREATE_DURATION = tag(4, WIRE_VARINT);
const T_INIT_CREATE_TIME = tag(2, WIRE_VARINT);
const T_INIT_DURATION = tag(3, WIRE_VARINT);
const T_INIT_ERROR = tag(4, WIRE_LEN);
const T_DESTROY_ERROR = tag(2, WIRE_LEN);

export class PlatformCodecError extends Error {
  readonly code = 'ERR_PLATFORM_CODEC';
  constructor(message: string) {
    super(message);
    this.name = 'PlatformCodecError';
  }
}

// ---- message shapes ------------------------------------------------------------------------
// Field names match the proto-loader objects (camelCase), so tests compare them directly.

export interface ResourceConfigFields {
  memoryInMegabytes: number;
}

export interface MetaFields {
  key: string;
  runtime: string;
  timeoutInSecs: number;
  memoryInMb: number;
}

export interface SlotFields {
  id: string;
  resourceConfig: ResourceConfigFields | undefined;
  createTime: number;
  createDurationInMs: number;
}

export interface CreateSlotRequestFields {
  requestId: string;
  resourceConfig: ResourceConfigFields | undefined;
}

export interface CreateSlotReplyFields {
  status: number;
  slot: SlotFields | undefined;
  errorMessage: string | undefined;
}

export interface InitRequestFields {
  requestId: string;
  slotId: string;
  instanceId: string;
  metaData: MetaFields | undefined;
}

export interface InitReplyFields {
  status: number;
  createTime: number;
  initDurationInMs: number;
  errorMessage: string | undefined;
}

export interface DestroySlotRequestFields {
  requestId: string;
  id: string;
  reason: string | undefined;
}

export interface DestroySlotReplyFields {
  status: number;
  errorMessage: string | undefined;
}

// ---- encoding primitives -------------------------------------------------------------------

/** uint64 as a JS number: negative or non-finite input encodes as 0, fractions are dropped. */
function u64(v: number): number {
  return v > 0 && v <= Number.MAX_SAFE_INTEGER ? Math.floor(v) : 0;
}

/** uint32 wraps as protobufjs' `uint32()` does (`v >>> 0`). */
function u32(v: number): number {
  return v >>> 0;
}

export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, off: number, v: number): number {
  while (v >= 128) {
    buf[off++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[off++] = v;
  return off;
}

/** Size of a proto3 string field holding `byteLen` bytes, 0 when omitted (empty). */
function stringSize(byteLen: number): number {
  return byteLen === 0 ? 0 : 1 + varintSize(byteLen) + byteLen;
}

function uintSize(v: number): number {
  return v === 0 ? 0 : 1 + varintSize(v);
}

function writeString(buf: Buffer, off: number, fieldTag: number, s: string, byteLen: number): number {
  if (byteLen === 0) return off;
  buf[off++] = fieldTag;
  off = writeVarint(buf, off, byteLen);
  return off + buf.write(s, off, byteLen, 'utf8');
}

/** An `optional string`: written whenever present, even when empty. */
function writePresentString(buf: Buffer, off: number, fieldTag: number, s: string, byteLen: number): number {
  buf[off++] = fieldTag;
  off = writeVarint(buf, off, byteLen);
  return off + buf.write(s, off, byteLen, 'utf8');
}

function writeUint(buf: Buffer, off: number, fieldTag: number, v: number): number {
  if (v === 0) return off;
  buf[off++] = fieldTag;
  return writeVarint(buf, off, v);
}

function frame(msgLen: number): Buffer {
  const buf = Buffer.allocUnsafe(GRPC_FRAME_HEADER_BYTES + msgLen);
  buf[0] = 0;
  buf.writeUInt32BE(msgLen, 1);
  return buf;
}

// ---- request frames (the client's hot path) -------------------------------------------------

/** gRPC frame of `CreateSlotRequest{request_id, resource_config{memory_in_megabytes}}`. */
export function encodeCreateSlotFrame(requestId: string, memoryMb: number): Buffer {
  const ridLen = Buffer.byteLength(requestId, 'utf8');
  const mem = u64(memoryMb);
  const rcLen = uintSize(mem);
  const msgLen = stringSize(ridLen) + 1 + varintSize(rcLen) + rcLen;
  const buf = frame(msgLen);
  let off = writeString(buf, GRPC_FRAME_HEADER_BYTES, T_CREATE_REQUEST_ID, requestId, ridLen);
  buf[off++] = T_CREATE_RESOURCE_CONFIG;
  off = writeVarint(buf, off, rcLen);
  writeUint(buf, off, T_RESOURCE_MEMORY, mem);
  return buf;
}

/** gRPC frame of `InitRequest{request_id, slot_id, instance_id, meta_data{...}}`. */
export function encodeInitFrame(requestId: string, slotId: string, instanceId: string, meta: MetaFields): Buffer {
  const ridLen = Buffer.byteLength(requestId, 'utf8');
  const sidLen = Buffer.byteLength(slotId, 'utf8');
  const iidLen = Buffer.byteLength(instanceId, 'utf8');
  const keyLen = Buffer.byteLength(meta.key, 'utf8');
  const rtLen = Buffer.byteLength(meta.runtime, 'utf8');
  const timeout = u32(meta.timeoutInSecs);
  const mem = u64(meta.memoryInMb);
  const metaLen = stringSize(keyLen) + stringSize(rtLen) + uintSize(timeout) + uintSize(mem);
  const msgLen = stringSize(ridLen) + stringSize(sidLen) + stringSize(iidLen) + 1 + varintSize(metaLen) + metaLen;
  const buf = frame(msgLen);
  let off = writeString(buf, GRPC_FRAME_HEADER_BYTES, T_INIT_REQUEST_ID, requestId, ridLen);
  off = writeString(buf, off, T_INIT_SLOT_ID, slotId, sidLen);
  off = writeString(buf, off, T_INIT_INSTANCE_ID, instanceId, iidLen);
  buf[off++] = T_INIT_META;
  off = writeVarint(buf, off, metaLen);
  off = writeString(buf, off, T_META_KEY, meta.key, keyLen);
  off = writeString(buf, off, T_META_RUNTIME, meta.runtime, rtLen);
  off = writeUint(buf, off, T_META_TIMEOUT, timeout);
  writeUint(buf, off, T_META_MEMORY, mem);
  return buf;
}

/** gRPC frame of `DestroySlotRequest{request_id, id, reason?}`; `reason` is written when given. */
export function encodeDestroySlotFrame(requestId: string, id: string, reason: string | undefined): Buffer {
  const ridLen = Buffer.byteLength(requestId, 'utf8');
  const idLen = Buffer.byteLength(id, 'utf8');
  const reasonLen = reason === undefined ? -1 : Buffer.byteLength(reason, 'utf8');
  const msgLen = stringSize(ridLen) + stringSize(idLen) + (reasonLen < 0 ? 0 : 1 + varintSize(reasonLen) + reasonLen);
  const buf = frame(msgLen);
  let off = writeString(buf, GRPC_FRAME_HEADER_BYTES, T_DESTROY_REQUEST_ID, requestId, ridLen);
  off = writeString(buf, off, T_DESTROY_ID, id, idLen);
  if (reason !== undefined) writePresentString(buf, off, T_DESTROY_REASON, reason, reasonLen);
  return buf;
}

// ---- unframed encoders (requests for symmetry; replies for stand-in servers and tests) -------

export function encodeCreateSlotRequest(m: CreateSlotRequestFields): Buffer {
  if (m.resourceConfig === undefined) {
    const ridLen = Buffer.byteLength(m.requestId, 'utf8');
    const buf = Buffer.allocUnsafe(stringSize(ridLen));
    writeString(buf, 0, T_CREATE_REQUEST_ID, m.requestId, ridLen);
    return buf;
  }
  return encodeCreateSlotFrame(m.requestId, m.resourceConfig.memoryInMegabytes).subarray(GRPC_FRAME_HEADER_BYTES);
}

export function encodeInitRequest(m: InitRequestFields): Buffer {
  const meta = m.metaData;
  if (meta !== undefined) return encodeInitFrame(m.requestId, m.slotId, m.instanceId, meta).subarray(GRPC_FRAME_HEADER_BYTES);
  const ridLen = Buffer.byteLength(m.requestId, 'utf8');
  const sidLen = Buffer.byteLength(m.slotId, 'utf8');
  const iidLen = Buffer.byteLength(m.instanceId, 'utf8');
  const buf = Buffer.allocUnsafe(stringSize(ridLen) + stringSize(sidLen) + stringSize(iidLen));
  let off = writeString(buf, 0, T_INIT_REQUEST_ID, m.requestId, ridLen);
  off = writeString(buf, off, T_INIT_SLOT_ID, m.slotId, sidLen);
  writeString(buf, off, T_INIT_INSTANCE_ID, m.instanceId, iidLen);
  return buf;
}

export function encodeDestroySlotRequest(m: DestroySlotRequestFields): Buffer {
  return encodeDestroySlotFrame(m.requestId, m.id, m.reason).subarray(GRPC_FRAME_HEADER_BYTES);
}

/** Status and an optional error message: the shape shared by every reply's encoder. */
function statusAndError(status: number, errorTag: number, errorMessage: string | undefined, extra: number): { buf: Buffer; off: number } {
  const st = u32(status);
  const errLen = errorMessage === undefined ? -1 : Buffer.byteLength(errorMessage, 'utf8');
  const size = uintSize(st) + extra + (errLen < 0 ? 0 : 1 + varintSize(errLen) + errLen);
  const buf = Buffer.allocUnsafe(size);
  const off = writeUint(buf, 0, T_STATUS, st);
  // The error message goes last: callers write `extra` bytes at `off` first.
  if (errorMessage !== undefined) writePresentString(buf, size - (1 + varintSize(errLen) + errLen), errorTag, errorMessage, errLen);
  return { buf, off };
}

function slotBodySize(s: SlotFields): number {
  const idLen = Buffer.byteLength(s.id, 'utf8');
  const rcLen = s.resourceConfig === undefined ? -1 : uintSize(u64(s.resourceConfig.memoryInMegabytes));
  const rc = rcLen < 0 ? 0 : 1 + varintSize(rcLen) + rcLen;
  return stringSize(idLen) + rc + uintSize(u64(s.createTime)) + uintSize(u64(s.createDurationInMs));
}

export function encodeCreateSlotReply(m: CreateSlotReplyFields): Buffer {
  const slotLen = m.slot === undefined ? -1 : slotBodySize(m.slot);
  const { buf, off: start } = statusAndError(m.status, T_CREATE_ERROR, m.errorMessage, slotLen < 0 ? 0 : 1 + varintSize(slotLen) + slotLen);
  const s = m.slot;
  if (s !== undefined) {
    let off = start;
    buf[off++] = T_CREATE_SLOT;
    off = writeVarint(buf, off, slotLen);
    off = writeString(buf, off, T_SLOT_ID, s.id, Buffer.byteLength(s.id, 'utf8'));
    if (s.resourceConfig !== undefined) {
      const mem = u64(s.resourceConfig.memoryInMegabytes);
      buf[off++] = T_SLOT_RESOURCE_CONFIG;
      off = writeVarint(buf, off, uintSize(mem));
      off = writeUint(buf, off, T_RESOURCE_MEMORY, mem);
    }
    off = writeUint(buf, off, T_SLOT_CREATE_TIME, u64(s.createTime));
    writeUint(buf, off, T_SLOT_CREATE_DURATION, u64(s.createDurationInMs));
  }
  return buf;
}

export function encodeInitReply(m: InitReplyFields): Buffer {
  const ct = u64(m.createTime);
  const dur = u64(m.initDurationInMs);
  const { buf, off } = statusAndError(m.status, T_INIT_ERROR, m.errorMessage, uintSize(ct) + uintSize(dur));
  writeUint(buf, writeUint(buf, off, T_INIT_CREATE_TIME, ct), T_INIT_DURATION, dur);
  return buf;
}

export function encodeDestroySlotReply(m: DestroySlotReplyFields): Buffer {
  return statusAndError(m.status, T_DESTROY_ERROR, m.errorMessage, 0).buf;
}

/** Wraps an unframed message in the 5-byte gRPC prefix (uncompressed). */
export function grpcFrame(message: Uint8Array): Buffer {
  const buf = frame(message.length);
  buf.set(message, GRPC_FRAME_HEADER_BYTES);
  return buf;
}

// ---- decoding ------------------------------------------------------------------------------

// Module-level cursor: decoding is synchronous and never re-entered, so one shared position
// avoids returning {value, offset} pairs.
let cursor = 0;

function readVarint(buf: Uint8Array, end: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (cursor >= end) throw new PlatformCodecError('truncated varint');
    const b = buf[cursor++]!;
    result += (b & 127) * mul;
    if (b < 128) return result;
    mul *= 128;
  }
  throw new PlatformCodecError('varint longer than 10 bytes');
}

function readLength(buf: Uint8Array, end: number): number {
  const len = readVarint(buf, end);
  if (len > end - cursor) throw new PlatformCodecError('truncated length-delimited field');
  return len;
}

function readString(buf: Buffer, end: number): string {
  const len = readLength(buf, end);
  const s = buf.toString('utf8', cursor, cursor + len);
  cursor += len;
  return s;
}

/**
 * Enum values are int32 on the wire (negative ones sign-extended to 10 bytes): keep the low 32
 * bits of the varint as a signed integer, exactly as protobufjs' `int32()` does.
 */
function readEnum(buf: Uint8Array, end: number): number {
  let lo = 0;
  for (let i = 0; i < 10; i++) {
    if (cursor >= end) throw new PlatformCodecError('truncated varint');
    const b = buf[cursor++]!;
    if (i < 5) lo |= (b & 127) << (7 * i);
    if (b < 128) return lo | 0;
  }
  throw new PlatformCodecError('varint longer than 10 bytes');
}

function skipField(buf: Uint8Array, fieldTag: number, end: number, depth = 0): void {
  switch (fieldTag & 7) {
    case WIRE_VARINT:
      readVarint(buf, end);
      return;
    case WIRE_FIXED64:
      cursor += 8;
      break;
    case WIRE_LEN: {
      // Not `cursor += readLength(...)`: that adds to the cursor as it was before the length.
      const len = readLength(buf, end);
      cursor += len;
      return;
    }
    case WIRE_START_GROUP: {
      if (depth >= MAX_GROUP_DEPTH) throw new PlatformCodecError('groups nested too deeply');
      const field = fieldTag >>> 3;
      for (;;) {
        const t = readVarint(buf, end);
        if ((t & 7) === WIRE_END_GROUP) {
          if (t >>> 3 !== field) throw new PlatformCodecError('mismatched end group');
          return;
        }
        skipField(buf, t, end, depth + 1);
      }
    }
    case WIRE_FIXED32:
      cursor += 4;
      break;
    default:
      throw new PlatformCodecError(`invalid wire type ${fieldTag & 7}`);
  }
  if (cursor > end) throw new PlatformCodecError('truncated fixed-width field');
}

function readTag(buf: Uint8Array, end: number): number {
  const t = readVarint(buf, end);
  if (t >>> 3 === 0) throw new PlatformCodecError('field number 0');
  return t;
}

function decodeResourceConfigInto(target: ResourceConfigFields, buf: Buffer, end: number): void {
  while (cursor < end) {
    const t = readTag(buf, end);
    if (t === T_RESOURCE_MEMORY) target.memoryInMegabytes = readVarint(buf, end);
    else skipField(buf, t, end);
  }
}

function decodeMetaInto(target: MetaFields, buf: Buffer, end: number): void {
  while (cursor < end) {
    const t = readTag(buf, end);
    if (t === T_META_KEY) target.key = readString(buf, end);
    else if (t === T_META_RUNTIME) target.runtime = readString(buf, end);
    // uint32: keep the low 32 bits of an over-long varint, as protobufjs does.
    else if (t === T_META_TIMEOUT) target.timeoutInSecs = readVarint(buf, end) % 4294967296;
    else if (t === T_META_MEMORY) target.memoryInMb = readVarint(buf, end);
    else skipField(buf, t, end);
  }
}

function decodeSlotInto(target: SlotFields, buf: Buffer, end: number): void {
  while (cursor < end) {
    const t = readTag(buf, end);
    if (t === T_SLOT_ID) target.id = readString(buf, end);
    else if (t === T_SLOT_RESOURCE_CONFIG) {
      const len = readLength(buf, end);
      const subEnd = cursor + len;
      target.resourceConfig ??= { memoryInMegabytes: 0 };
      decodeResourceConfigInto(target.resourceConfig, buf, subEnd);
    } else if (t === T_SLOT_CREATE_TIME) target.createTime = readVarint(buf, end);
    else if (t === T_SLOT_CREATE_DURATION) target.createDurationInMs = readVarint(buf, end);
    else skipField(buf, t, end);
  }
}

/** `CreateSlotReply` in `buf[start, end)`. Throws {@link PlatformCodecError} on malformed input. */
export function decodeCreateSlotReply(buf: Buffer, start = 0, end = buf.length): CreateSlotReplyFields {
  const m: CreateSlotReplyFields = { status: 0, slot: undefined, errorMessage: undefined };
  cursor = start;
  while (cursor < end) {
    const t = readTag(buf, end);
    if (t === T_STATUS) m.status = readEnum(buf, end);
    else if (t === T_CREATE_SLOT) {
      const len = readLength(buf, end);
      const subEnd = cursor + len;
      m.slot ??= { id: '', resourceConfig: undefined, createTime: 0, createDurationInMs: 0 };
      decodeSlotInto(m.slot, buf, subEnd);
    } else if (t === T_CREATE_ERROR) m.errorMessage = readString(buf, end);
    else skipField(buf, t, end);
  }
  return m;
}

export function decodeInitReply(buf: Buffer, start = 0, end = buf.length): InitReplyFields {
  const m: InitReplyFields = { status: 0, createTime: 0, initDurationInMs: 0, errorMessage: undefined };
  cursor = start;
  while (cursor < end) {
    const t = readTag(buf, end);
    if (t === T_STATUS) m.status = readEnum(buf, end);
    else if (t === T_INIT_CREATE_TIME) m.createTime = readVarint(buf, end);
    else if (t === T_INIT_DURATION) m.initDurationInMs = readVarint(buf, end);
    else if (t === T_INIT_ERROR) m.errorMessage = readString(buf, end);
    else skipField(buf, t, end);
  }
  return m;
}

export function decodeDestroySlotReply(buf: Buffer, start = 0, end = buf.length): DestroySlotReplyFields {
  const m: DestroySlotReplyFields = { status: 0, errorMessage: undefined };
  cursor = start;
  while (cursor < end) {
    const t = readTag(buf, end);
    if (t === T_STATUS) m.status = readEnum(buf, end);
    else if (t === T_DESTROY_ERROR) m.errorMessage = readString(buf, end);
    else skipField(buf, t, end);
  }
  return m;
}

export function decodeCreateSlotRequest(buf: Buffer, start = 0, end = buf.length): CreateSlotRequestFields {
  const m: CreateSlotRequestFields = { requestId: '', resourceConfig: undefined };
  cursor = start;
  while (cursor < end) {
    const t = readTag(buf, end);
    if (t === T_CREATE_REQUEST_ID) m.requestId = readString(buf, end);
    else if (t === T_CREATE_RESOURCE_CONFIG) {
      const len = readLength(buf, end);
      const subEnd = cursor + len;
      m.resourceConfig ??= { memoryInMegabytes: 0 };
      decodeResourceConfigInto(m.resourceConfig, buf, subEnd);
    } else skipField(buf, t, end);
  }
  return m;
}

export function decodeInitRequest(buf: Buffer, start = 0, end = buf.length): InitRequestFields {
  const m: InitRequestFields = { requestId: '', slotId: '', instanceId: '', metaData: undefined };
  cursor = start;
  while (cursor < end) {
    const t = readTag(buf, end);
    if (t === T_INIT_REQUEST_ID) m.requestId = readString(buf, end);
    else if (t === T_INIT_SLOT_ID) m.slotId = readString(buf, end);
    else if (t === T_INIT_INSTANCE_ID) m.instanceId = readString(buf, end);
    else if (t === T_INIT_META) {
      const len = readLength(buf, end);
      const subEnd = cursor + len;
      m.metaData ??= { key: '', runtime: '', timeoutInSecs: 0, memoryInMb: 0 };
      decodeMetaInto(m.metaData, buf, subEnd);
    } else skipField(buf, t, end);
  }
  return m;
}

export function decodeDestroySlotRequest(buf: Buffer, start = 0, end = buf.length): DestroySlotRequestFields {
  const m: DestroySlotRequestFields = { requestId: '', id: '', reason: undefined };
  cursor = start;
  while (cursor < end) {
    const t = readTag(buf, end);
    if (t === T_DESTROY_REQUEST_ID) m.requestId = readString(buf, end);
    else if (t === T_DESTROY_ID) m.id = readString(buf, end);
    else if (t === T_DESTROY_REASON) m.reason = readString(buf, end);
    else skipField(buf, t, end);
  }
  return m;
}

/**
 * End offset of the one message of a unary gRPC body (it starts at
 * {@link GRPC_FRAME_HEADER_BYTES}), or throws. Compressed messages are refused: the client never
 * advertises an encoding, so a server must not use one.
 */
export function grpcMessageEnd(body: Buffer): number {
  if (body.length < GRPC_FRAME_HEADER_BYTES) throw new PlatformCodecError('short gRPC frame');
  if (body[0] !== 0) throw new PlatformCodecError('compressed gRPC message');
  const end = GRPC_FRAME_HEADER_BYTES + body.readUInt32BE(1);
  if (end > body.length) throw new PlatformCodecError('truncated gRPC message');
  if (end < body.length) throw new PlatformCodecError('more than one message in a unary reply');
  return end;
}
