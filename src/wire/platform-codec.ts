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

import {
  GRPC_FRAME_HEADER_BYTES,
  ProtobufWireError,
  WIRE_LEN,
  WIRE_VARINT,
  cursor,
  grpcSoleMessageEnd,
  readInt32,
  readLength,
  readString,
  readTag,
  readVarint,
  skipField,
  stringFieldSize as stringSize,
  tag,
  varintSize,
  writeFrameHeader,
  writeStringField as writeString,
  writeVarint,
} from './protobuf-wire.js';

export { GRPC_FRAME_HEADER_BYTES, varintSize };

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
  readonly code = 'PLATFORM_MESSAGE_MALFORMED';
  constructor(message: string) {
    super(message);
    this.name = 'PlatformCodecError';
  }
}

/** Shared wire errors surface as this codec's own error type. */
function asCodecError(e: unknown): unknown {
  return e instanceof ProtobufWireError ? new PlatformCodecError(e.message) : e;
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

function uintSize(v: number): number {
  return v === 0 ? 0 : 1 + varintSize(v);
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
  writeFrameHeader(buf, msgLen);
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

function decodeResourceConfigInto(target: ResourceConfigFields, buf: Buffer, end: number): void {
  while (cursor.pos < end) {
    const t = readTag(buf, end);
    if (t === T_RESOURCE_MEMORY) target.memoryInMegabytes = readVarint(buf, end);
    else skipField(buf, t, end);
  }
}

function decodeMetaInto(target: MetaFields, buf: Buffer, end: number): void {
  while (cursor.pos < end) {
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
  while (cursor.pos < end) {
    const t = readTag(buf, end);
    if (t === T_SLOT_ID) target.id = readString(buf, end);
    else if (t === T_SLOT_RESOURCE_CONFIG) {
      const len = readLength(buf, end);
      const subEnd = cursor.pos + len;
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
  cursor.pos = start;
  try {
    while (cursor.pos < end) {
      const t = readTag(buf, end);
      if (t === T_STATUS) m.status = readInt32(buf, end);
      else if (t === T_CREATE_SLOT) {
        const len = readLength(buf, end);
        const subEnd = cursor.pos + len;
        m.slot ??= { id: '', resourceConfig: undefined, createTime: 0, createDurationInMs: 0 };
        decodeSlotInto(m.slot, buf, subEnd);
      } else if (t === T_CREATE_ERROR) m.errorMessage = readString(buf, end);
      else skipField(buf, t, end);
    }
  } catch (e) {
    throw asCodecError(e);
  }
  return m;
}

export function decodeInitReply(buf: Buffer, start = 0, end = buf.length): InitReplyFields {
  const m: InitReplyFields = { status: 0, createTime: 0, initDurationInMs: 0, errorMessage: undefined };
  cursor.pos = start;
  try {
    while (cursor.pos < end) {
      const t = readTag(buf, end);
      if (t === T_STATUS) m.status = readInt32(buf, end);
      else if (t === T_INIT_CREATE_TIME) m.createTime = readVarint(buf, end);
      else if (t === T_INIT_DURATION) m.initDurationInMs = readVarint(buf, end);
      else if (t === T_INIT_ERROR) m.errorMessage = readString(buf, end);
      else skipField(buf, t, end);
    }
  } catch (e) {
    throw asCodecError(e);
  }
  return m;
}

export function decodeDestroySlotReply(buf: Buffer, start = 0, end = buf.length): DestroySlotReplyFields {
  const m: DestroySlotReplyFields = { status: 0, errorMessage: undefined };
  cursor.pos = start;
  try {
    while (cursor.pos < end) {
      const t = readTag(buf, end);
      if (t === T_STATUS) m.status = readInt32(buf, end);
      else if (t === T_DESTROY_ERROR) m.errorMessage = readString(buf, end);
      else skipField(buf, t, end);
    }
  } catch (e) {
    throw asCodecError(e);
  }
  return m;
}

export function decodeCreateSlotRequest(buf: Buffer, start = 0, end = buf.length): CreateSlotRequestFields {
  const m: CreateSlotRequestFields = { requestId: '', resourceConfig: undefined };
  cursor.pos = start;
  try {
    while (cursor.pos < end) {
      const t = readTag(buf, end);
      if (t === T_CREATE_REQUEST_ID) m.requestId = readString(buf, end);
      else if (t === T_CREATE_RESOURCE_CONFIG) {
        const len = readLength(buf, end);
        const subEnd = cursor.pos + len;
        m.resourceConfig ??= { memoryInMegabytes: 0 };
        decodeResourceConfigInto(m.resourceConfig, buf, subEnd);
      } else skipField(buf, t, end);
    }
  } catch (e) {
    throw asCodecError(e);
  }
  return m;
}

export function decodeInitRequest(buf: Buffer, start = 0, end = buf.length): InitRequestFields {
  const m: InitRequestFields = { requestId: '', slotId: '', instanceId: '', metaData: undefined };
  cursor.pos = start;
  try {
    while (cursor.pos < end) {
      const t = readTag(buf, end);
      if (t === T_INIT_REQUEST_ID) m.requestId = readString(buf, end);
      else if (t === T_INIT_SLOT_ID) m.slotId = readString(buf, end);
      else if (t === T_INIT_INSTANCE_ID) m.instanceId = readString(buf, end);
      else if (t === T_INIT_META) {
        const len = readLength(buf, end);
        const subEnd = cursor.pos + len;
        m.metaData ??= { key: '', runtime: '', timeoutInSecs: 0, memoryInMb: 0 };
        decodeMetaInto(m.metaData, buf, subEnd);
      } else skipField(buf, t, end);
    }
  } catch (e) {
    throw asCodecError(e);
  }
  return m;
}

export function decodeDestroySlotRequest(buf: Buffer, start = 0, end = buf.length): DestroySlotRequestFields {
  const m: DestroySlotRequestFields = { requestId: '', id: '', reason: undefined };
  cursor.pos = start;
  try {
    while (cursor.pos < end) {
      const t = readTag(buf, end);
      if (t === T_DESTROY_REQUEST_ID) m.requestId = readString(buf, end);
      else if (t === T_DESTROY_ID) m.id = readString(buf, end);
      else if (t === T_DESTROY_REASON) m.reason = readString(buf, end);
      else skipField(buf, t, end);
    }
  } catch (e) {
    throw asCodecError(e);
  }
  return m;
}

/**
 * End offset of the one message of a unary gRPC body (it starts at
 * {@link GRPC_FRAME_HEADER_BYTES}), or throws. Compressed messages are refused: the client never
 * advertises an encoding, so a server must not use one.
 */
export function grpcMessageEnd(body: Buffer): number {
  try {
    return grpcSoleMessageEnd(body);
  } catch (e) {
    throw asCodecError(e);
  }
}
