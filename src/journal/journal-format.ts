/**
 * The on-disk layout of the slot journal, named once (writer: `RecordEncoder`, reader:
 * `readJournalFile`).
 *
 * A file is a sequence of frames, each one group commit (every record appended during one
 * event-loop turn, written with one `write`):
 *
 *     u32 LE payload length | u32 LE CRC-32 of the payload | payload
 *
 * A payload is records back to back: a u8 record type, then that type's fields in the order
 * `JournalVisitor` lists them; strings are a u32 LE byte length and UTF-8, numbers u32 LE. The
 * first frame of a file holds exactly one `Header` record.
 *
 * A process killed mid-`write` leaves a frame that runs past the end of the file (or, if
 * anything, a last frame whose checksum fails): a torn tail, dropped on read. Nothing in it was
 * acted on, because the writer flushes before any reply or platform call that depends on it.
 * A bad frame with more data after it is corruption.
 */

export const FRAME_HEADER_BYTES = 8;
/** 'SCJ1' little-endian: the first field of the header record. */
export const JOURNAL_MAGIC = 0x314a4353;
export const JOURNAL_VERSION = 1;
/** A frame longer than this is not one we wrote (the longest is a compaction snapshot). */
export const MAX_FRAME_BYTES = 1 << 30;

export const RecordType = {
  Header: 1,
  /** A CreateSlot is about to be sent (its request id). */
  Creating: 2,
  /** ... it answered with a slot. */
  Created: 3,
  /** ... it failed, or its reply was lost: no slot id will ever come for it. */
  CreateEnded: 4,
  /** Init is about to be sent: binds the instance and its function to the slot. */
  InitBegun: 5,
  /** Init answered Ok: the instance can serve. */
  Ready: 6,
  /** The instance was handed to a request (written before the Assign reply leaves the shard). */
  Assigned: 7,
  /** The request's Idle returned the instance (a no-op unless it is still that request's). */
  Released: 8,
  /** The slot will not serve again; its DestroySlot is about to be sent. */
  Retired: 9,
  /** DestroySlot answered: the slot is gone. */
  Destroyed: 10,
  /** A whole slot's state (compaction snapshots). */
  Slot: 11,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** Where a journaled slot is in its life. */
export const SlotPhase = {
  /** CreateSlot answered; no Init yet. */
  Created: 0,
  /** Init sent, not answered. */
  Initialising: 1,
  Ready: 2,
  /** Destroy decided or in flight. */
  Retired: 3,
} as const;
export type SlotPhase = (typeof SlotPhase)[keyof typeof SlotPhase];

export interface JournalHeader {
  readonly version: number;
  readonly shard: number;
  readonly shards: number;
  /** The platform address the slots were created on. */
  readonly platform: string;
}

/** One slot as a snapshot record carries it. */
export interface SlotSnapshot {
  readonly slotId: string;
  readonly memoryMb: number;
  readonly phase: SlotPhase;
  /** '' until Init began. */
  readonly instanceId: string;
  readonly key: string;
  readonly runtime: string;
  readonly timeoutInSecs: number;
  /** The request holding the instance; '' when idle. */
  readonly busyRequestId: string;
}

/**
 * The journal's records as calls, in the order they happened. `JournalState` applies them;
 * `JournalFile` writes them (and applies them to its own state).
 */
export interface JournalVisitor {
  creating(requestId: string): void;
  created(requestId: string, slotId: string, memoryMb: number): void;
  createEnded(requestId: string): void;
  initBegun(slotId: string, instanceId: string, key: string, runtime: string, timeoutInSecs: number, memoryMb: number): void;
  ready(slotId: string): void;
  assigned(instanceId: string, requestId: string): void;
  released(instanceId: string, requestId: string): void;
  retired(slotId: string): void;
  destroyed(slotId: string): void;
  slot(s: SlotSnapshot): void;
}

/** A payload that does not decode; the reader turns it into `JOURNAL_CORRUPT` with the frame's offset. */
export class MalformedRecordError extends Error {}

/** Reads the fields of one payload; throws `MalformedRecordError` past its end. */
class PayloadCursor {
  pos: number;
  constructor(
    private readonly buf: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  u8(): number {
    if (this.pos + 1 > this.end) throw new MalformedRecordError('record truncated');
    return this.buf[this.pos++]!;
  }

  u32(): number {
    if (this.pos + 4 > this.end) throw new MalformedRecordError('record truncated');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  str(): string {
    const n = this.u32();
    if (this.pos + n > this.end) throw new MalformedRecordError(`string of ${n} bytes runs past its record`);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

/** Decodes the header record that must open a file's first payload. */
export function decodeHeader(buf: Buffer, start: number, end: number): JournalHeader {
  const c = new PayloadCursor(buf, start, end);
  if (c.u8() !== RecordType.Header) throw new MalformedRecordError('first record is not a journal header');
  if (c.u32() !== JOURNAL_MAGIC) throw new MalformedRecordError('not a slot journal (bad magic)');
  const version = c.u32();
  if (version !== JOURNAL_VERSION) throw new MalformedRecordError(`journal version ${version}, this scaler reads ${JOURNAL_VERSION}`);
  const header = { version, shard: c.u32(), shards: c.u32(), platform: c.str() };
  if (!c.done) throw new MalformedRecordError('header frame holds more than the header');
  return header;
}

/** Calls `v` for each record of one payload, in order. */
export function decodePayload(buf: Buffer, start: number, end: number, v: JournalVisitor): void {
  const c = new PayloadCursor(buf, start, end);
  while (!c.done) {
    const type = c.u8();
    switch (type) {
      case RecordType.Creating:
        v.creating(c.str());
        break;
      case RecordType.Created:
        v.created(c.str(), c.str(), c.u32());
        break;
      case RecordType.CreateEnded:
        v.createEnded(c.str());
        break;
      case RecordType.InitBegun:
        v.initBegun(c.str(), c.str(), c.str(), c.str(), c.u32(), c.u32());
        break;
      case RecordType.Ready:
        v.ready(c.str());
        break;
      case RecordType.Assigned:
        v.assigned(c.str(), c.str());
        break;
      case RecordType.Released:
        v.released(c.str(), c.str());
        break;
      case RecordType.Retired:
        v.retired(c.str());
        break;
      case RecordType.Destroyed:
        v.destroyed(c.str());
        break;
      case RecordType.Slot: {
        const slotId = c.str();
        const memoryMb = c.u32();
        const phase = c.u8();
        if (phase > SlotPhase.Retired) throw new MalformedRecordError(`unknown slot phase ${phase}`);
        v.slot({
          slotId,
          memoryMb,
          phase: phase as SlotPhase,
          instanceId: c.str(),
          key: c.str(),
          runtime: c.str(),
          timeoutInSecs: c.u32(),
          busyRequestId: c.str(),
        });
        break;
      }
      default:
        throw new MalformedRecordError(`unknown record type ${type}`);
    }
  }
}
