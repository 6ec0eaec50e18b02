import type { Clock, TimerHandle } from './clock.js';
import { TimerHeap, type HeapTimer } from './timer-heap.js';

/**
 * Discrete-event time: `now()` only moves when the owner runs events. Callbacks scheduled for
 * the same instant run in scheduling order, so a replay is deterministic.
 */
export class VirtualClock implements Clock {
  private readonly heap = new TimerHeap();
  private t: number;

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  schedule(atMs: number, fn: () => void): TimerHandle {
    return this.heap.push(atMs < this.t ? this.t : atMs, fn);
  }

  cancel(handle: TimerHandle): void {
    this.heap.cancel(handle as HeapTimer);
  }

  get pending(): number {
    return this.heap.size;
  }

  /** Time of the next event, or Infinity. */
  nextAt(): number {
    return this.heap.peekAt();
  }

  /** Runs the next event, advancing time to it; false when none is pending. */
  step(): boolean {
    const t = this.heap.popDue(Infinity);
    if (t === undefined) return false;
    this.t = t.at;
    const fn = t.fn!;
    t.fn = null;
    fn();
    return true;
  }

  /** Runs every event due at or before `untilMs`, then sets the time to `untilMs`. */
  runUntil(untilMs: number): void {
    let t: HeapTimer | undefined;
    while ((t = this.heap.popDue(untilMs)) !== undefined) {
      this.t = t.at;
      const fn = t.fn!;
      t.fn = null;
      fn();
    }
    if (untilMs > this.t) this.t = untilMs;
  }

  /** Runs events until none is left (or `maxEvents` ran). */
  runAll(maxEvents = Number.MAX_SAFE_INTEGER): number {
    let n = 0;
    while (n < maxEvents && this.step()) n++;
    return n;
  }
}
