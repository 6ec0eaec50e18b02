/**
 * `RealClock` (wall clock, one runtime timer for a whole heap of callbacks) and `TimerHeap`
 * (ordering by time then scheduling order, lazy cancellation).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RealClock } from '../src/core/real-clock.js';
import { TimerHeap } from '../src/core/timer-heap.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('TimerHeap', () => {
  it('pops by time, then in scheduling order for equal times', () => {
    const h = new TimerHeap();
    const order: string[] = [];
    for (const [at, name] of [[30, 'c'], [10, 'a1'], [20, 'b'], [10, 'a2'], [10, 'a3']] as const) h.push(at, () => order.push(name));
    expect(h.size).toBe(5);
    expect(h.peekAt()).toBe(10);
    expect(h.popDue(9)).toBeUndefined();
    let fn: (() => void) | undefined;
    const times: number[] = [];
    while ((fn = h.popDue(25)) !== undefined) {
      times.push(h.poppedAt);
      fn();
    }
    expect(order).toEqual(['a1', 'a2', 'a3', 'b']);
    expect(times).toEqual([10, 10, 10, 20]);
    expect(h.size).toBe(1);
    expect(h.peekAt()).toBe(30);
  });

  it('skips cancelled timers, counts each cancel once, and marks popped handles as run', () => {
    const h = new TimerHeap();
    const ran: string[] = [];
    const a = h.push(1, () => ran.push('a'));
    const b = h.push(2, () => ran.push('b'));
    h.cancel(a);
    h.cancel(a);
    expect(h.size).toBe(1);
    expect(h.peekAt()).toBe(2);
    h.popDue(Infinity)!();
    expect(ran).toEqual(['b']);
    expect(b.fn).toBeNull();
    expect(h.size).toBe(0);
    expect(h.peekAt()).toBe(Infinity);
    h.cancel(b); // already run: a no-op
    expect(h.size).toBe(0);
  });

  it('keeps one order across near and far timers, handles and bare callbacks (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ at: fc.integer({ min: 0, max: 5_000 }), now: fc.integer({ min: 0, max: 5_000 }), kind: fc.constantFrom('handle', 'fire', 'cancelled') }),
          { maxLength: 200 },
        ),
        fc.integer({ min: 0, max: 6_000 }),
        (ops, cut) => {
          const h = new TimerHeap();
          const ref: { at: number; seq: number }[] = [];
          const got: { at: number; seq: number }[] = [];
          ops.forEach(({ at, now, kind }, seq) => {
            // `now` only chooses the near or the far heap: the order must not depend on it.
            const fn = (): void => void got.push({ at, seq });
            if (kind === 'fire') h.pushFire(at, fn, now);
            else {
              const t = h.push(at, fn, now);
              if (kind === 'cancelled') h.cancel(t);
            }
            if (kind !== 'cancelled') ref.push({ at, seq });
          });
          ref.sort((x, y) => x.at - y.at || x.seq - y.seq);
          expect(h.size).toBe(ref.length);
          let fn: (() => void) | undefined;
          while ((fn = h.popDue(cut)) !== undefined) {
            fn();
            expect(h.poppedAt).toBe(got[got.length - 1]!.at);
          }
          const due = ref.filter((r) => r.at <= cut);
          expect(got).toEqual(due);
          expect(h.size).toBe(ref.length - due.length);
          expect(h.peekAt()).toBe(ref.length > due.length ? ref[due.length]!.at : Infinity);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('RealClock', () => {
  let clock: RealClock | undefined;
  afterEach(() => {
    clock?.stop();
    clock = undefined;
    vi.restoreAllMocks();
  });

  it('runs callbacks in time order, equal times in scheduling order, never early', async () => {
    const c = (clock = new RealClock());
    const t0 = c.now();
    const fired: [string, number][] = [];
    const at = (name: string, ms: number): void => void c.schedule(t0 + ms, () => fired.push([name, c.now() - t0]));
    at('c', 60);
    at('a', 20);
    at('b', 40);
    at('a2', 20);
    await sleep(120);
    expect(fired.map(([n]) => n)).toEqual(['a', 'a2', 'b', 'c']);
    const want: Record<string, number> = { a: 20, a2: 20, b: 40, c: 60 };
    for (const [name, when] of fired) expect(when).toBeGreaterThanOrEqual(want[name]! - 1);
  });

  it('never runs a cancelled callback; cancelling a fired one is a no-op', async () => {
    const c = (clock = new RealClock());
    const ran: string[] = [];
    const first = c.schedule(c.now() + 10, () => ran.push('first'));
    const dropped = c.schedule(c.now() + 20, () => ran.push('dropped'));
    c.schedule(c.now() + 30, () => ran.push('last'));
    c.cancel(dropped);
    expect(c.pending).toBe(2);
    await sleep(60);
    c.cancel(first);
    expect(ran).toEqual(['first', 'last']);
    expect(c.pending).toBe(0);
  });

  it('runs past-due callbacks promptly, and ones they schedule for now in the same turn', async () => {
    const c = (clock = new RealClock());
    const ran: string[] = [];
    c.schedule(c.now() - 1_000, () => {
      ran.push('late');
      c.schedule(c.now(), () => ran.push('chained'));
    });
    await sleep(5);
    expect(ran).toEqual(['late', 'chained']);
  });

  it('drives many timers with one unref-ed runtime timer', async () => {
    const setSpy = vi.spyOn(globalThis, 'setTimeout');
    const clearSpy = vi.spyOn(globalThis, 'clearTimeout');
    const c = (clock = new RealClock());
    const t0 = c.now();
    let ran = 0;
    // Ascending: only the first arms the runtime timer.
    for (let i = 0; i < 1_000; i++) c.schedule(t0 + 10_000 + i, () => ran++);
    expect(setSpy).toHaveBeenCalledTimes(1);
    // Descending: each earlier one re-arms, but always replacing the one armed before.
    for (let i = 0; i < 100; i++) c.schedule(t0 + 5_000 - i, () => ran++);
    expect(setSpy).toHaveBeenCalledTimes(101);
    expect(clearSpy).toHaveBeenCalledTimes(100);
    for (const r of setSpy.mock.results) expect((r.value as NodeJS.Timeout).hasRef()).toBe(false);
    expect(c.pending).toBe(1_100);
    // A batch due together fires from one runtime timer.
    setSpy.mockClear();
    for (let i = 0; i < 500; i++) c.schedule(t0 + 15, () => ran++);
    expect(setSpy).toHaveBeenCalledTimes(1);
    // The clock always arms the same bound function; count only its calls from here on.
    const fire = setSpy.mock.calls[0]![0];
    await sleep(50);
    expect(ran).toBe(500);
    // After firing, one timer is re-armed for the next pending callback (plus, at most, one
    // re-arm when the runtime woke a hair before the due time): not one per callback.
    expect(setSpy.mock.calls.filter((call) => call[0] === fire).length).toBeLessThanOrEqual(3);
    expect(c.pending).toBe(1_100);
  });

  it('stop() drops every pending callback', async () => {
    const c = (clock = new RealClock());
    let ran = 0;
    for (let i = 0; i < 10; i++) c.schedule(c.now() + 5, () => ran++);
    c.stop();
    expect(c.pending).toBe(0);
    await sleep(30);
    expect(ran).toBe(0);
  });

  it('tells time monotonically', () => {
    const c = (clock = new RealClock());
    let prev = c.now();
    for (let i = 0; i < 1_000; i++) {
      const t = c.now();
      expect(t).toBeGreaterThanOrEqual(prev);
      prev = t;
    }
  });
});
