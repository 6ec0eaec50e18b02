import type { TimerHandle } from './clock.js';

/** One scheduled callback; `seq` keeps same-time callbacks in scheduling order. */
export interface HeapTimer extends TimerHandle {
  at: number;
  seq: number;
  fn: (() => void) | null;
}

/**
 * A binary min-heap of timers ordered by (at, seq), with lazy cancellation: a cancelled timer
 * stays in the heap with `fn = null` and is skipped when it surfaces. One heap drives all the
 * timers of a shard (or of the whole virtual simulation), so thousands of functions cost one
 * runtime timer.
 */
export class TimerHeap {
  private items: HeapTimer[] = [];
  private seq = 0;
  private live = 0;

  get size(): number {
    return this.live;
  }

  push(at: number, fn: () => void): HeapTimer {
    const t: HeapTimer = { at, seq: this.seq++, fn };
    const items = this.items;
    let i = items.length;
    items.push(t);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (p.at < at || (p.at === at && p.seq < t.seq)) break;
      items[i] = p;
      i = parent;
    }
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
    const top = this.items[0];
    return top === undefined ? Infinity : top.at;
  }

  /** Removes and returns the earliest live timer due at or before `now`, if any. */
  popDue(now: number): HeapTimer | undefined {
    this.dropCancelled();
    const top = this.items[0];
    if (top === undefined || top.at > now) return undefined;
    this.popTop();
    this.live--;
    return top;
  }

  private dropCancelled(): void {
    const items = this.items;
    while (items.length > 0 && items[0]!.fn === null) this.popTop();
  }

  private popTop(): void {
    const items = this.items;
    const last = items.pop()!;
    const n = items.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let cv = items[l]!;
      if (r < n) {
        const rv = items[r]!;
        if (rv.at < cv.at || (rv.at === cv.at && rv.seq < cv.seq)) {
          c = r;
          cv = rv;
        }
      }
      if (last.at < cv.at || (last.at === cv.at && last.seq < cv.seq)) break;
      items[i] = cv;
      i = c;
    }
    items[i] = last;
  }
}
