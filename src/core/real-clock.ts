import { performance } from 'node:perf_hooks';
import type { Clock, TimerHandle } from './clock.js';
import { TimerHeap, type HeapTimer } from './timer-heap.js';

/**
 * Wall-clock implementation of `Clock`: one heap of callbacks and a single unref'd runtime
 * timer armed for the earliest of them, so a shard with 100k idle instances holds one
 * `setTimeout`, not 100k.
 */
/**
 * Callbacks due within this much of "now" run when the runtime timer fires: Node's timers have
 * 1 ms granularity and can wake a fraction of a millisecond before `performance.now()` reaches
 * the due time, which would otherwise re-arm a zero-delay timer (sometimes more than once).
 */
export const FIRE_SLACK_MS = 1;

export class RealClock implements Clock {
  private readonly heap = new TimerHeap();
  private armed: NodeJS.Timeout | undefined;
  private armedAt = Infinity;

  now(): number {
    return performance.now();
  }

  schedule(atMs: number, fn: () => void): TimerHandle {
    const t = this.heap.push(atMs, fn);
    if (atMs < this.armedAt) this.arm(atMs);
    return t;
  }

  cancel(handle: TimerHandle): void {
    this.heap.cancel(handle as HeapTimer);
  }

  /** Pending callbacks (for stats). */
  get pending(): number {
    return this.heap.size;
  }

  /** Drops every pending callback and the runtime timer (shutdown). */
  stop(): void {
    if (this.armed !== undefined) clearTimeout(this.armed);
    this.armed = undefined;
    this.armedAt = Infinity;
    while (this.heap.popDue(Infinity) !== undefined) {
      /* drop it */
    }
  }

  private arm(atMs: number): void {
    if (this.armed !== undefined) clearTimeout(this.armed);
    this.armedAt = atMs;
    const delay = Math.max(0, atMs - performance.now());
    this.armed = setTimeout(this.fire, delay);
    this.armed.unref();
  }

  private readonly fire = (): void => {
    this.armed = undefined;
    this.armedAt = Infinity;
    const now = performance.now() + FIRE_SLACK_MS;
    let fn: (() => void) | undefined;
    // Callbacks may schedule more; anything already due runs in this turn.
    while ((fn = this.heap.popDue(now)) !== undefined) fn();
    const next = this.heap.peekAt();
    if (next !== Infinity) this.arm(next);
  };
}
