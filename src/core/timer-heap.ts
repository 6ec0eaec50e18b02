import type { TimerHandle } from './clock.js';

/** One scheduled callback; `seq` keeps same-time callbacks in scheduling order. */
export interface HeapTimer extends TimerHandle {
  at: number;
  seq: number;
  fn: (() => void) | null;
}

/** Initial capacity of the heap's arrays (they double as needed). */
export const TIMER_HEAP_INITIAL_CAPACITY = 1024;

/**
 * A 4-ary min-heap of timers (half the depth of a binary one for the same compares) ordered by (at, seq), with lazy cancellation: a cancelled timer
 * stays in the heap with `fn = null` and is skipped when it surfaces. One heap drives all the
 * timers of a shard (or of the whole virtual simulation), so thousands of functions cost one
 * runtime timer.
 *
 * The sort keys live in typed arrays next to the handles (struct of arrays): sifting compares
 * contiguous doubles instead of loading fields of handles scattered over the heap, which made
 * the heap a tenth of a virtual replay's time.
 */
export class TimerHeap {
  private at = new Float64Array(TIMER_HEAP_INITIAL_CAPACITY);
  private sq = new Float64Array(TIMER_HEAP_INITIAL_CAPACITY);
  private items: HeapTimer[] = [];
  private n = 0;
  private seq = 0;
  private live = 0;

  get size(): number {
    return this.live;
  }

  push(at: number, fn: () => void): HeapTimer {
    const seq = this.seq++;
    const t: HeapTimer = { at, seq, fn };
    if (this.n === this.at.length) this.grow();
    const keys = this.at;
    const seqs = this.sq;
    const items = this.items;
    let i = this.n++;
    if (i === items.length) items.push(t);
    while (i > 0) {
      const parent = (i - 1) >> 2;
      const pa = keys[parent]!;
      if (pa < at || (pa === at && seqs[parent]! < seq)) break;
      keys[i] = pa;
      seqs[i] = seqs[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    keys[i] = at;
    seqs[i] = seq;
    items[i] = t;
    this.live++;
    return t;
  }

  cancel(t: HeapTimer): void {
    if (t.fn !== null) {
      t.fn = null;
      this.live--;
    }
  }

  /** Earliest pending time, or `Infinity` when nothing is scheduled. */
  peekAt(): number {
    this.dropCancelled();
    return this.n === 0 ? Infinity : this.at[0]!;
  }

  /** Removes and returns the earliest live timer due at or before `now`, if any. */
  popDue(now: number): HeapTimer | undefined {
    // Time first: when nothing is due (most calls) no handle is touched.
    while (this.n > 0 && this.at[0]! <= now) {
      const top = this.items[0]!;
      this.popTop();
      if (top.fn !== null) {
        this.live--;
        return top;
      }
    }
    return undefined;
  }

  private grow(): void {
    const cap = this.at.length * 2;
    const at = new Float64Array(cap);
    at.set(this.at);
    const sq = new Float64Array(cap);
    sq.set(this.sq);
    this.at = at;
    this.sq = sq;
  }

  private dropCancelled(): void {
    const items = this.items;
    while (this.n > 0 && items[0]!.fn === null) this.popTop();
  }

  private popTop(): void {
    const keys = this.at;
    const seqs = this.sq;
    const items = this.items;
    const n = --this.n;
    const lastAt = keys[n]!;
    const lastSeq = seqs[n]!;
    const last = items[n]!;
    // items[n] keeps a stale handle (its `fn` is null once run or cancelled) rather than
    // shrinking the array on every pop; the array never exceeds the heap's peak size.
    if (n === 0) return;
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
      items[i] = items[c]!;
      i = c;
    }
    keys[i] = lastAt;
    seqs[i] = lastSeq;
    items[i] = last;
  }
}
