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
    return this.heap.push(atMs < this.t ? this.t : atMs, fn, this.t);
  }

  /** `schedule` for a callback that will never be cancelled: no handle is made. */
  fire(atMs: number, fn: () => void): void {
    this.heap.pushFire(atMs < this.t ? this.t : atMs, fn, this.t);
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
    const fn = this.heap.popDue(Infinity);
    if (fn === undefined) return false;
    this.t = this.heap.poppedAt;
    fn();
    return true;
  }

  /** Runs every event due at or before `untilMs`, then sets the time to `untilMs`. */
  runUntil(untilMs: number): void {
    const heap = this.heap;
    let fn: (() => void) | undefined;
    while ((fn = heap.popDue(untilMs)) !== undefined) {
      this.t = heap.poppedAt;
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
