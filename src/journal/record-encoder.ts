import { crc32 } from 'node:zlib';
import { FRAME_HEADER_BYTES, JOURNAL_MAGIC, JOURNAL_VERSION, RecordType, type JournalHeader, type SlotSnapshot } from './journal-format.js';

/** Initial size of an encoder's buffer; it doubles as needed and is reused between frames. */
export const ENCODER_INITIAL_BYTES = 64 * 1024;

/**
 * Encodes records into one growing frame (layout: journal-format.ts), in place: no allocation
 * per record, strings written straight into the buffer. `frame()` closes the frame (length and
 * checksum) and returns a view of the bytes to write; `reset()` starts the next one.
 */
export class RecordEncoder {
  private buf: Buffer;
  private len = FRAME_HEADER_BYTES;

  constructor(initialBytes = ENCODER_INITIAL_BYTES) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, 256));
  }

  /** Bytes of records in the current frame (0: nothing to write). */
  get payloadBytes(): number {
    return this.len - FRAME_HEADER_BYTES;
  }

  reset(): void {
    this.len = FRAME_HEADER_BYTES;
  }

  /** Closes the current frame: the returned view is valid until the next write or `reset()`. */
  frame(): Buffer {
    const payload = this.len - FRAME_HEADER_BYTES;
    this.buf.writeUInt32LE(payload, 0);
    this.buf.writeUInt32LE(crc32(this.buf.subarray(FRAME_HEADER_BYTES, this.len)), 4);
    return this.buf.subarray(0, this.len);
  }

  header(h: Omit<JournalHeader, 'version'>): void {
    this.u8(RecordType.Header);
    this.u32(JOURNAL_MAGIC);
    this.u32(JOURNAL_VERSION);
    this.u32(h.shard);
    this.u32(h.shards);
    this.str(h.platform);
  }

  creating(requestId: string): void {
    this.u8(RecordType.Creating);
    this.str(requestId);
  }

  created(requestId: string, slotId: string, memoryMb: number): void {
    this.u8(RecordType.Created);
    this.str(requestId);
    this.str(slotId);
    this.u32(memoryMb);
  }

  createEnded(requestId: string): void {
    this.u8(RecordType.CreateEnded);
    this.str(requestId);
  }

  initBegun(slotId: string, instanceId: string, key: string, runtime: string, timeoutInSecs: number, memoryMb: number): void {
    this.u8(RecordType.InitBegun);
    this.str(slotId);
    this.str(instanceId);
    this.str(key);
    this.str(runtime);
    this.u32(timeoutInSecs);
    this.u32(memoryMb);
  }

  /** Ready, Retired and Destroyed: a type and a slot id. */
  slotEvent(type: typeof RecordType.Ready | typeof RecordType.Retired | typeof RecordType.Destroyed, slotId: string): void {
    this.u8(type);
    this.str(slotId);
  }

  /** Assigned and Released: a type, an instance id and a request id. */
  instanceEvent(type: typeof RecordType.Assigned | typeof RecordType.Released, instanceId: string, requestId: string): void {
    this.u8(type);
    this.str(instanceId);
    this.str(requestId);
  }

  slot(s: SlotSnapshot): void {
    this.u8(RecordType.Slot);
    this.str(s.slotId);
    this.u32(s.memoryMb);
    this.u8(s.phase);
    this.str(s.instanceId);
    this.str(s.key);
    this.str(s.runtime);
    this.u32(s.timeoutInSecs);
    this.str(s.busyRequestId);
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  private u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  private u32(v: number): void {
    this.ensure(4);
    // Memory and timeouts are validated far below 2^32; clamp rather than throw mid-frame.
    this.buf.writeUInt32LE(v >>> 0 === v ? v : Math.min(0xffffffff, Math.max(0, Math.floor(v))), this.len);
    this.len += 4;
  }

  private str(s: string): void {
    // At most 3 UTF-8 bytes per UTF-16 code unit: reserve that, write, then fill in the length.
    this.ensure(4 + s.length * 3);
    const n = this.buf.write(s, this.len + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.len);
    this.len += 4 + n;
  }
}
