import { describe, expect, it } from 'vitest';
import {
  ROUTER_COUNTER_FIELDS,
  SharedCounters,
  counterBufferBytes,
  defineCounterLayout,
} from '../src/sharding/shared-counters.js';

const LAYOUT = defineCounterLayout(['inflight', 'liveSlots', 'idleSlots'] as const);

describe('SharedCounters', () => {
  it('validates layouts', () => {
    expect(() => defineCounterLayout(['a', 'a'])).toThrow(/duplicate/);
    expect(() => defineCounterLayout(['routerInFlight'])).toThrow(/reserved/);
    expect(() => defineCounterLayout([''])).toThrow(/non-empty/);
    expect(() => SharedCounters.create(LAYOUT, 0)).toThrow(RangeError);
  });

  it('gets, sets, adds, totals and snapshots per shard', () => {
    const c = SharedCounters.create(LAYOUT, 3);
    c.set(0, 'inflight', 5);
    c.add(1, 'inflight', 2);
    c.add(1, 'inflight', 3);
    c.set(2, 'liveSlots', 7);
    c.set(2, 'routerQueued', 9);
    expect(c.get(0, 'inflight')).toBe(5);
    expect(c.get(1, 'inflight')).toBe(5);
    expect(c.total('inflight')).toBe(10);
    expect(c.total('liveSlots')).toBe(7);
    const i = c.indexOf('inflight');
    c.addAt(2, i, 1);
    expect(c.getAt(2, i)).toBe(1);
    c.setAt(0, i, 0.5);
    expect(c.get(0, 'inflight')).toBe(0.5);
    expect(c.totalAt(i)).toBe(6.5);
    const snap = c.snapshot();
    expect(snap.perShard).toHaveLength(3);
    expect(snap.perShard[2]).toMatchObject({ inflight: 1, liveSlots: 7, idleSlots: 0, routerQueued: 9 });
    expect(snap.totals.inflight).toBe(6.5);
    expect(snap.totals.routerQueued).toBe(9);
    expect(Object.keys(snap.totals)).toEqual([...ROUTER_COUNTER_FIELDS, ...LAYOUT]);
    expect(() => c.indexOf('nope' as 'inflight')).toThrow(/unknown counter field/);
  });

  it('gives every (shard, field) its own cell, rows on separate cache lines', () => {
    const shards = 5;
    const c = SharedCounters.create(LAYOUT, shards);
    const n = c.fields.length;
    for (let s = 0; s < shards; s++) for (let i = 0; i < n; i++) c.setAt(s, i, 1e6 + s * 100 + i);
    for (let s = 0; s < shards; s++) for (let i = 0; i < n; i++) expect(c.getAt(s, i)).toBe(1e6 + s * 100 + i);
    // Find each cell's byte offset through the raw buffer and check line separation.
    const raw = new Float64Array(c.buffer);
    const lineOf = (s: number, i: number): number => raw.indexOf(1e6 + s * 100 + i) >> 3;
    const lines = new Map<number, string>();
    for (let s = 0; s < shards; s++) {
      for (let i = 0; i < n; i++) {
        const owner = `${s}:${i < ROUTER_COUNTER_FIELDS.length ? 'router' : 'user'}`;
        const line = lineOf(s, i);
        expect(line).toBeGreaterThan(0); // line 0 is the header
        const prev = lines.get(line);
        if (prev !== undefined) expect(prev).toBe(owner);
        lines.set(line, owner);
      }
    }
    expect(c.buffer.byteLength).toBe(counterBufferBytes(LAYOUT, shards));
  });

  it('attaches to an existing buffer and checks layout and shard count', () => {
    const a = SharedCounters.create(LAYOUT, 2);
    const b = SharedCounters.attach(LAYOUT, 2, a.buffer);
    a.set(1, 'idleSlots', 42);
    expect(b.get(1, 'idleSlots')).toBe(42);
    b.add(0, 'liveSlots', 3);
    expect(a.get(0, 'liveSlots')).toBe(3);
    expect(() => SharedCounters.attach(LAYOUT, 3, new SharedArrayBuffer(counterBufferBytes(LAYOUT, 3)))).toThrow(
      /header mismatch/,
    );
    expect(() => SharedCounters.attach(['inflight', 'liveSlots', 'other'], 2, a.buffer)).not.toThrow();
    expect(() => SharedCounters.attach(['inflight'], 2, a.buffer)).toThrow(/header mismatch/);
    expect(() => SharedCounters.attach(LAYOUT, 1, a.buffer)).toThrow(/header mismatch/);
  });
});
