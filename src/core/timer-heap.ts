import type { TimerHandle } from './clock.js';

/** One scheduled callback; `seq` keeps same-time callbacks in scheduling order. */
export interface HeapTimer extends TimerHandle {
  at: number;
  seq: number;
  fn: (() => void) | null;
}

/** Initial capacity of a heap's arrays (they double as needed). */
export const TIMER_HEAP_INITIAL_CAPACITY = 1024;

/** A heap entry: a cancellable timer's handle, or the bare callback of one that cannot be cancelled. */
type Entry = HeapTimer | (() => void);

/**
 * A 4-ary min-heap of (at, seq) keys with their entries. Sifting moves only numbers: the keys
 * and a slot number live in typed arrays, and the entries stay put in a slot table (a free list
 * recycles slots). Moving object references instead cost a GC write barrier per level (a
 * long-lived array holding young closures), and loading keys from scattered handles cost cache
 * misses; together they made the heap the largest cost of a virtual replay. Four children per
 * node halve the depth for the same compares.
 */
class KeyedHeap {
  at = new Float64Array(TIMER_HEAP_INITIAL_CAPACITY);
  sq = new Float64Array(TIMER_HEAP_INITIAL_CAPACITY);
  /** Heap position -> slot of its entry. */
  ix = new Int32Array(TIMER_HEAP_INITIAL_CAPACITY);
  n = 0;
  private readonly slots: (Entry | null)[] = [];
  private freeSlots = new Int32Array(TIMER_HEAP_INITIAL_CAPACITY);
  private freeCount = 0;

  /** The top entry (the heap must not be empty). */
  top(): Entry {
    return this.slots[this.ix[0]!]!;
  }

  push(at: number, seq: number, e: Entry): void {
    if (this.n === this.at.length) this.grow();
    let slot: number;
    if (this.freeCount > 0) {
      slot = this.freeSlots[--this.freeCount]!;
      this.slots[slot] = e;
    } else {
      slot = this.slots.length;
      this.slots.push(e);
    }
    const keys = this.at;
    const seqs = this.sq;
    const ix = this.ix;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 2;
      const pa = keys[parent]!;
      if (pa < at || (pa === at && seqs[parent]! < seq)) break;
      keys[i] = pa;
      seqs[i] = seqs[parent]!;
      ix[i] = ix[parent]!;
      i = parent;
    }
    keys[i] = at;
    seqs[i] = seq;
    ix[i] = slot;
  }

  /** Removes the top entry (the caller read it first). */
  pop(): void {
    const keys = this.at;
    const seqs = this.sq;
    const ix = this.ix;
    const freed = ix[0]!;
    this.slots[freed] = null;
    if (this.freeCount === this.freeSlots.length) {
      const bigger = new Int32Array(this.freeSlots.length * 2);
      bigger.set(this.freeSlots);
      this.freeSlots = bigger;
    }
    this.freeSlots[this.freeCount++] = freed;
    const n = --this.n;
    if (n === 0) return;
    const lastAt = keys[n]!;
    const lastSeq = seqs[n]!;
    const last = ix[n]!;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      const end = first + 4 < n ? first + 4 : n;
      let c = first;
      let ca = keys[first]!;
      let cs = seqs[first]!;
      for (let k = first + 1; k < end; k++) {
        const ka = keys[k]!;
        if (ka < ca || (ka === ca && seqs[k]! < cs)) {
          c = k;
          ca = ka;
          cs = seqs[k]!;
        }
      }
      if (lastAt < ca || (lastAt === ca && lastSeq < cs)) break;
      keys[i] = ca;
      seqs[i] = cs;
      ix[i] = ix[c]!;
      i = c;
    }
    keys[i] = lastAt;
    seqs[i] = lastSeq;
    ix[i] = last;
  }

  private grow(): void {
    const cap = this.at.length * 2;
    const at = new Float64Array(cap);
    at.set(this.at);
    const sq = new Float64Array(cap);
    sq.set(this.sq);
    const ix = new Int32Array(cap);
    ix.set(this.ix);
    this.at = at;
    this.sq = sq;
    this.ix = ix;
  }
}

/**
 * Callbacks due further than this from the time they are scheduled at go to a second heap: the
 * many far-off timers (idle instances' keep-alive expiries) then do not deepen the heap that the
 * frequent near-term events (executions ending, platform replies) go through.
 */
export const FAR_TIMER_MS = 1_000;

/**
 * The timers of a clock, ordered by (at, seq), with lazy cancellation: a cancelled timer stays
 * in its heap with `fn = null` and is skipped when it surfaces. One `TimerHeap` drives all the
 * timers of a shard (or of the whole virtual simulation), so thousands of functions cost one
 * runtime timer. Callbacks that are never cancelled (`pushFire`) need no handle object.
 *
 * Two heaps, near and far, are merged on (at, seq) when popping, so the order is exactly that of
 * one heap.
 */
export class TimerHeap {
  private readonly near = new KeyedHeap();
  private readonly far = new KeyedHeap();
  private seq = 0;
  private live = 0;
  /** Due time of the entry `popDue` returned last. */
  poppedAt = NaN;

  get size(): number {
    return this.live;
  }

  /** `now`: the caller's time, if it knows it (far-off timers then go to the far heap). */
  push(at: number, fn: () => void, now = at): HeapTimer {
    const seq = this.seq++;
    const t: HeapTimer = { at, seq, fn };
    this.place(at, seq, t, now);
    return t;
  }

  /** Schedules a callback that will never be cancelled (no handle is made). */
  pushFire(at: number, fn: () => void, now = at): void {
    this.place(at, this.seq++, fn, now);
  }

  cancel(t: HeapTimer): void {
    if (t.fn !== null) {
      t.fn = null;
      this.live--;
    }
  }

  /** Earliest pending time, or `Infinity` when nothing is scheduled. */
  peekAt(): number {
    this.dropCancelled(this.near);
    this.dropCancelled(this.far);
    const a = this.near.n === 0 ? Infinity : this.near.at[0]!;
    const b = this.far.n === 0 ? Infinity : this.far.at[0]!;
    return a < b ? a : b;
  }

  /**
   * Removes the earliest live callback due at or before `now` and returns it (its time in
   * `poppedAt`); a cancellable timer's handle is marked as run. Undefined when none is due.
   */
  popDue(now: number): (() => void) | undefined {
    const near = this.near;
    const far = this.far;
    for (;;) {
      // Time first: when nothing is due (most calls) no entry is touched.
      const nearDue = near.n > 0 && near.at[0]! <= now;
      const farDue = far.n > 0 && far.at[0]! <= now;
      let h: KeyedHeap;
      if (nearDue && farDue) {
        const a = near.at[0]!;
        const b = far.at[0]!;
        h = a < b || (a === b && near.sq[0]! < far.sq[0]!) ? near : far;
      } else if (nearDue) h = near;
      else if (farDue) h = far;
      else return undefined;
      const at = h.at[0]!;
      const e = h.top();
      h.pop();
      let fn: (() => void) | null;
      if (typeof e === 'function') fn = e;
      else {
        fn = e.fn;
        e.fn = null;
      }
      if (fn !== null) {
        this.live--;
        this.poppedAt = at;
        return fn;
      }
    }
  }

  private place(at: number, seq: number, e: Entry, now: number): void {
    if (at - now > FAR_TIMER_MS) this.far.push(at, seq, e);
    else this.near.push(at, seq, e);
    this.live++;
  }

  private dropCancelled(h: KeyedHeap): void {
    while (h.n > 0) {
      const e = h.top();
      if (typeof e === 'function' || e.fn !== null) return;
      h.pop();
    }
  }
}
