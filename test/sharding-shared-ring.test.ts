import { describe, expect, it } from 'vitest';
import type { RingDoorbell } from '../src/sharding/shared-ring.js';
import { RingConsumer, RingProducer, createRingBuffer, maxRecordBytes } from '../src/sharding/shared-ring.js';
import { WireReader, WireWriter, strBytes, internedBytes } from '../src/sharding/shard-wire.js';

/** A doorbell that counts its rings. */
function counter(): RingDoorbell & { records_: number; room_: number } {
  const b = { records_: 0, room_: 0, records: () => void b.records_++, room: () => void b.room_++ };
  return b;
}
const quiet: RingDoorbell = { records: () => {}, room: () => {} };

describe('shared ring (one thread plays both sides)', () => {
  it('rings the doorbell only for a sleeping reader, once, and never loses a publish', () => {
    const sab = createRingBuffer(4096);
    const toReader = counter();
    const tx = new RingProducer(sab, toReader);
    const rx = new RingConsumer(sab, quiet);
    const w = new WireWriter(tx.buf);
    const put = (v: number): void => {
      w.pos = tx.reserve(4);
      w.u32(v);
      tx.commit(w.pos);
    };
    put(1);
    tx.publish();
    expect(toReader.records_).toBe(0); // the reader never said it sleeps
    expect(rx.sleep()).toBe(false); // a record is waiting: stay awake
    rx.begin();
    while (rx.next() !== -1);
    rx.end();
    expect(rx.sleep()).toBe(true);
    put(2);
    tx.publish();
    put(3);
    tx.publish();
    expect(toReader.records_).toBe(1); // one bell for a sleeping reader, however many publishes
  });

  it('asks for room when full and rings the writer when the reader releases records', () => {
    const sab = createRingBuffer(4096);
    const toWriter = counter();
    const tx = new RingProducer(sab, quiet);
    const rx = new RingConsumer(sab, toWriter);
    let n = 0;
    for (let at = tx.reserve(200); at >= 0; at = tx.reserve(200)) {
      tx.commit(at + 200);
      n++;
    }
    expect(n).toBeGreaterThan(10);
    tx.publish();
    expect(tx.waitForRoom()).toBe(false); // nothing released since the failed reserve
    rx.begin();
    rx.next();
    rx.next(); // two records: one record's room alone would fill the ring exactly
    rx.end();
    expect(toWriter.room_).toBe(1);
    expect(tx.reserve(200)).toBeGreaterThanOrEqual(0);
  });

  it('carries records in order across many wraps and never overwrites unread ones', () => {
    const sab = createRingBuffer(4096);
    const tx = new RingProducer(sab, quiet);
    const rx = new RingConsumer(sab, quiet);
    const w = new WireWriter(tx.buf);
    const r = new WireReader(rx.buf);
    let sent = 0;
    let read = 0;
    for (let round = 0; round < 200; round++) {
      // Write until full (reserve fails), publish, then read everything.
      for (;;) {
        const s = `rec-${sent}-${'z'.repeat(sent % 97)}`;
        const at = tx.reserve(4 + strBytes(s));
        if (at < 0) break;
        w.pos = at;
        w.u32(sent);
        w.str(s);
        tx.commit(w.pos);
        sent++;
      }
      expect(tx.publish()).toBe(true);
      expect(rx.begin()).toBe(true);
      for (let p = rx.next(); p !== -1; p = rx.next()) {
        r.pos = p;
        expect(r.u32()).toBe(read);
        expect(r.str()).toBe(`rec-${read}-${'z'.repeat(read % 97)}`);
        expect(r.pos).toBe(rx.recordEnd);
        read++;
      }
      rx.end();
      expect(rx.begin()).toBe(false);
    }
    expect(read).toBe(sent);
    expect(sent).toBeGreaterThan(200 * 10);
  });

  it('interns repeated strings: in full once, then four bytes', () => {
    const sab = createRingBuffer(4096);
    const tx = new RingProducer(sab, quiet);
    const rx = new RingConsumer(sab, quiet);
    const w = new WireWriter(tx.buf);
    const r = new WireReader(rx.buf);
    const keys = ['fn-a', 'fn-b', 'fn-a', 'fn-é', 'fn-b', 'fn-é', ''];
    const sizes: number[] = [];
    for (const k of keys) {
      const at = tx.reserve(internedBytes(k));
      w.pos = at;
      w.interned(k);
      sizes.push(w.pos - at);
      tx.commit(w.pos);
    }
    expect(sizes).toEqual([12, 12, 4, 13, 4, 4, 8]);
    tx.publish();
    rx.begin();
    const got: string[] = [];
    for (let p = rx.next(); p !== -1; p = rx.next()) {
      r.pos = p;
      got.push(r.interned());
    }
    expect(got).toEqual(keys);
  });

  it('refuses a buffer that is not a ring, and bounds record size', () => {
    expect(() => new RingConsumer(new SharedArrayBuffer(8192), quiet)).toThrow(/bad magic/);
    expect(() => createRingBuffer(100)).toThrow(RangeError);
    expect(maxRecordBytes(4096)).toBe(1020);
  });
});
