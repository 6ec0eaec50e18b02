/**
 * A single-producer single-consumer byte ring in a SharedArrayBuffer: one per direction between
 * the router (main thread) and a shard worker. Records are written in place by the producer and
 * read in place by the consumer, so nothing is structured-cloned and a request allocates nothing
 * on the way across. A side that finds nothing to do says so in shared memory and returns to its
 * event loop; the other side rings its doorbell (a {@link RingDoorbell}: the sharding layer
 * posts a bare number on the worker's MessagePort) only then, so a busy reader costs the writer
 * nothing. Never a blocking `Atomics.wait`: a shard worker has timers that must keep firing.
 * (`Atomics.notify` waking an `Atomics.waitAsync` was measured too: 5.5% of the main thread's
 * time under the warm benchmark, against 1.6% for all of the MessagePort transport's posts.)
 *
 * Byte layout of the buffer ({@link SHARED_RING_LAYOUT}; offsets in bytes, cells are Int32):
 *
 *   [0, 64)        producer line: cell 0 TAIL (end of the published records, a data offset),
 *                  cell 1 PRODUCER_WAITING (1 while the producer waits for room), cell 2 MAGIC
 *   [64, 128)      consumer line: cell 16 HEAD (start of the unread records, a data offset),
 *                  cell 17 CONSUMER_SLEEPING (1 while the consumer waits for records)
 *   [128, 128 + C) data: records, each a uint32 little-endian payload length L at a 4-aligned
 *                  offset, then L payload bytes, then padding to the next multiple of 4. A length
 *                  of WRAP_MARKER means "continue at offset 0". C (capacity) is a multiple of 8.
 *
 * Each line has one writer (the producer writes TAIL and PRODUCER_WAITING, the consumer HEAD and
 * CONSUMER_SLEEPING; the other side only clears a flag with compareExchange to claim the wake-up
 * it sends), so the two sides never write the same cache line in the common case. The ring is
 * empty when HEAD == TAIL; the producer never fills it completely, so that stays unambiguous.
 * Payload bytes are plain stores published by the `Atomics.store` of TAIL (and released by the
 * `Atomics.store` of HEAD): sequentially consistent atomics order them for the other thread.
 */

export const SHARED_RING_LAYOUT = {
  /** Bytes before the data region: two 64-byte control lines. */
  headerBytes: 128,
  tailCell: 0,
  producerWaitingCell: 1,
  magicCell: 2,
  headCell: 16,
  consumerSleepingCell: 17,
  /** Record length marking "the next record starts at offset 0". */
  wrapMarker: 0xffff_ffff,
  /** Bytes of a record's length prefix; records start 4-aligned. */
  lengthBytes: 4,
  magic: 0x5348_5247, // "SHRG"
} as const;

/** Data bytes of each direction's ring unless the router is told otherwise (1 MiB). */
export const DEFAULT_RING_BYTES = 1 << 20;
/** Smallest ring accepted (it must hold a few maximum-size records). */
export const MIN_RING_BYTES = 4096;

const L = SHARED_RING_LAYOUT;

/** How one side of a ring wakes the other (only ever when the other said it sleeps). */
export interface RingDoorbell {
  /** Records were published for a consumer that sleeps: it should read them. */
  records(): void;
  /** Records were released for a producer waiting for room: it should write again. */
  room(): void;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Allocates a zeroed ring buffer with `capacity` data bytes (rounded up to a multiple of 8). */
export function createRingBuffer(capacity = DEFAULT_RING_BYTES): SharedArrayBuffer {
  if (!(capacity >= MIN_RING_BYTES)) throw new RangeError(`ring capacity must be at least ${MIN_RING_BYTES} bytes, got ${capacity}`);
  const cap = Math.ceil(capacity / 8) * 8;
  const sab = new SharedArrayBuffer(L.headerBytes + cap);
  new Int32Array(sab, 0, L.headerBytes / 4)[L.magicCell] = L.magic;
  return sab;
}

/** The largest payload one record may have in a ring of `capacity` data bytes. */
export function maxRecordBytes(capacity: number): number {
  // A quarter of the ring: a record can always be placed once the consumer has caught up.
  return Math.floor(capacity / 4) - L.lengthBytes;
}

abstract class RingSide {
  protected readonly ctrl: Int32Array;
  /** The data region as bytes (payloads are read and written through it). */
  readonly buf: Buffer;
  protected readonly u32: Uint32Array;
  readonly capacity: number;

  constructor(readonly sab: SharedArrayBuffer, protected readonly bell: RingDoorbell) {
    this.ctrl = new Int32Array(sab, 0, L.headerBytes / 4);
    if (this.ctrl[L.magicCell] !== L.magic) throw new TypeError('not a shared ring buffer (bad magic)');
    this.capacity = sab.byteLength - L.headerBytes;
    this.buf = Buffer.from(sab, L.headerBytes, this.capacity);
    this.u32 = new Uint32Array(sab, L.headerBytes, this.capacity / 4);
  }
}

/**
 * The writing side. `reserve` then `commit` place one record privately; `publish` makes every
 * committed record visible to the consumer at once (and wakes it if it sleeps), which is what
 * keeps batching: one wake-up per flush, not per record.
 */
export class RingProducer extends RingSide {
  /** End of committed records (private until published). */
  private tail = 0;
  private published = 0;
  /** Payload offset handed out by the last successful `reserve`. */
  private reserved = -1;
  /** HEAD as the last `reserve` saw it. */
  private headSeen = 0;
  /** Records published so far, and wake-ups sent (for tests and counters). */
  publishes = 0;
  wakeups = 0;

  /**
   * Room for a payload of at most `maxBytes`: its start offset in `buf`, or -1 when the ring is
   * too full now (wait for {@link waitForRoom} and try again). Never wraps onto unread records.
   */
  reserve(maxBytes: number): number {
    const need = L.lengthBytes + align4(maxBytes);
    const head = Atomics.load(this.ctrl, L.headCell);
    this.headSeen = head;
    let t = this.tail;
    if (t >= head) {
      // Free: [t, C) and [0, head); the ring must never become full (t == head again).
      if (t + need < this.capacity || (t + need === this.capacity && head > 0)) {
        this.reserved = t + L.lengthBytes;
        return this.reserved;
      }
      if (need >= head) return -1;
      this.u32[t >> 2] = L.wrapMarker;
      t = 0;
      this.tail = 0;
    } else if (need >= head - t) {
      return -1;
    }
    this.reserved = t + L.lengthBytes;
    return this.reserved;
  }

  /** Ends the reserved record at payload offset `end` (at most what was reserved). */
  commit(end: number): void {
    const start = this.reserved;
    this.u32[(start - L.lengthBytes) >> 2] = end - start;
    let t = align4(end);
    if (t >= this.capacity) t = 0;
    this.tail = t;
    this.reserved = -1;
  }

  /** Whether committed records await `publish`. */
  get hasUnpublished(): boolean {
    return this.tail !== this.published;
  }

  /** Makes every committed record visible and wakes a sleeping consumer; false if nothing to publish. */
  publish(): boolean {
    if (this.tail === this.published) return false;
    this.published = this.tail;
    Atomics.store(this.ctrl, L.tailCell, this.tail);
    this.publishes++;
    if (Atomics.compareExchange(this.ctrl, L.consumerSleepingCell, 1, 0) === 1) {
      this.wakeups++;
      this.bell.records();
    }
    return true;
  }

  /**
   * After a failed `reserve`: asks the consumer to ring `room` when it next releases records.
   * Returns true if it already has (HEAD moved since that `reserve`): write again now.
   */
  waitForRoom(): boolean {
    Atomics.store(this.ctrl, L.producerWaitingCell, 1);
    if (Atomics.load(this.ctrl, L.headCell) === this.headSeen) return false;
    Atomics.store(this.ctrl, L.producerWaitingCell, 0);
    return true;
  }
}

/** The reading side: `begin`, then `next` until it returns -1, then `end` releases the records. */
export class RingConsumer extends RingSide {
  private head = 0;
  private limit = 0;
  /** End offset (exclusive) of the payload `next` returned last. */
  recordEnd = 0;

  /** Snapshots the published records; returns whether there are any. */
  begin(): boolean {
    this.limit = Atomics.load(this.ctrl, L.tailCell);
    return this.limit !== this.head;
  }

  /** Payload start of the next record (its end in `recordEnd`), or -1 when the snapshot is read. */
  next(): number {
    let h = this.head;
    if (h === this.limit) return -1;
    let len = this.u32[h >> 2]!;
    if (len === L.wrapMarker) {
      h = 0;
      if (h === this.limit) {
        this.head = 0;
        return -1;
      }
      len = this.u32[0]!;
    }
    const start = h + L.lengthBytes;
    this.recordEnd = start + len;
    let n = align4(this.recordEnd);
    if (n >= this.capacity) n = 0;
    this.head = n;
    return start;
  }

  /** Releases everything read so far to the producer (and rings it if it waits for room). */
  end(): void {
    Atomics.store(this.ctrl, L.headCell, this.head);
    if (Atomics.compareExchange(this.ctrl, L.producerWaitingCell, 1, 0) === 1) this.bell.room();
  }

  /**
   * After reading everything: marks this side as sleeping, so the producer's next `publish`
   * rings `records`. Returns false (and stays awake) if records were published meanwhile: read
   * again now. Sequentially consistent stores and loads make one of the two sides see the other.
   */
  sleep(): boolean {
    Atomics.store(this.ctrl, L.consumerSleepingCell, 1);
    if (Atomics.load(this.ctrl, L.tailCell) === this.head) return true;
    Atomics.store(this.ctrl, L.consumerSleepingCell, 0);
    return false;
  }
}
