import { describe, expect, it } from 'vitest';
import { RingConsumer, RingProducer, createRingBuffer, maxRecordBytes } from '../src/sharding/shared-ring.js';
import { WireReader, WireWriter, strBytes, internedBytes } from '../src/sharding/shard-wire.js';

describe('shared ring (one thread plays both sides)', () => {
  it('carries records in order across many wraps and never overwrites unread ones', () => {
    const sab = createRingBuffer(4096);
    const tx = new RingProducer(sab);
    const rx = new RingConsumer(sab);
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
    const tx = new RingProducer(sab);
    const rx = new RingConsumer(sab);
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
    expect(() => new RingConsumer(new SharedArrayBuffer(8192))).toThrow(/bad magic/);
    expect(() => createRingBuffer(100)).toThrow(RangeError);
    expect(maxRecordBytes(4096)).toBe(1020);
  });
});
