import type { TimerHandle } from './clock.js';
import { FunctionStats } from './function-stats.js';
import type { Instance } from './instance.js';
import type { FunctionMetaRef } from './platform.js';
import type { PoolView, PrewarmPlan } from './policy.js';
import type { AssignCallback } from './types.js';

export interface Waiter {
  readonly requestId: string;
  readonly arrivedAt: number;
  /** The core's serial of this Assign. */
  readonly arrival: number;
  readonly cb: AssignCallback;
  done: boolean;
}

/**
 * The instances of one function: an intrusive most-recently-used idle list (push, pop and
 * removal from the middle are O(1)), counts of busy and starting instances, and the FIFO of
 * assigns waiting for an instance.
 */
export class FunctionPool implements PoolView {
  readonly key: string;
  readonly memoryMb: number;
  readonly stats = new FunctionStats();
  policyState: unknown = undefined;
  idleCount = 0;
  busyCount = 0;
  startingCount = 0;
  /** Consecutive cold starts that failed; reset by a success. */
  coldStartFailures = 0;
  prewarmTimer: TimerHandle | null = null;
  prewarmPlanned: PrewarmPlan | null = null;
  missTimer: TimerHandle | null = null;
  /** The core's miss re-check callback for this pool, made once. */
  onMissRecheck: (() => void) | null = null;
  private mru: Instance | null = null;
  private lru: Instance | null = null;
  private busyOldest: Instance | null = null;
  private busyNewest: Instance | null = null;
  private waiters: Waiter[] = [];
  private waitHead = 0;
  private waiting = 0;

  constructor(readonly meta: FunctionMetaRef) {
    this.key = meta.key;
    this.memoryMb = meta.memoryMb;
  }

  get waitingCount(): number {
    return this.waiting;
  }


  pushIdle(inst: Instance): void {
    inst.prev = null;
    inst.next = this.mru;
    if (this.mru !== null) this.mru.prev = inst;
    else this.lru = inst;
    this.mru = inst;
    this.idleCount++;
  }

  peekIdle(): Instance | null {
    return this.mru;
  }

  /** Most recently used idle instance (its cache is warmest, and older ones may expire). */
  popIdle(): Instance | null {
    const inst = this.mru;
    if (inst !== null) this.removeIdle(inst);
    return inst;
  }

  removeIdle(inst: Instance): void {
    if (inst.prev !== null) inst.prev.next = inst.next;
    else this.mru = inst.next;
    if (inst.next !== null) inst.next.prev = inst.prev;
    else this.lru = inst.prev;
    inst.prev = inst.next = null;
    this.idleCount--;
  }

  /** `inst` just became busy: it joins the busy list as its newest member. */
  addBusy(inst: Instance): void {
    inst.busyNext = null;
    inst.busyPrev = this.busyNewest;
    if (this.busyNewest !== null) this.busyNewest.busyNext = inst;
    else this.busyOldest = inst;
    this.busyNewest = inst;
    this.busyCount++;
  }

  removeBusy(inst: Instance): void {
    if (inst.busyPrev !== null) inst.busyPrev.busyNext = inst.busyNext;
    else this.busyOldest = inst.busyNext;
    if (inst.busyNext !== null) inst.busyNext.busyPrev = inst.busyPrev;
    else this.busyNewest = inst.busyPrev;
    inst.busyPrev = inst.busyNext = null;
    this.busyCount--;
  }

  busyStarts(out: Float64Array): number {
    let n = 0;
    for (let i = this.busyOldest; i !== null && n < out.length; i = i.busyNext) out[n++] = i.busySince;
    return n;
  }

  /** Idle instances, least recently used first. */
  *idleInstances(): IterableIterator<Instance> {
    for (let i = this.lru; i !== null; i = i.prev) yield i;
  }

  addWaiter(w: Waiter): void {
    this.waiters.push(w);
    this.waiting++;
  }

  /** Oldest waiter still waiting, removed from the queue. */
  shiftWaiter(): Waiter | null {
    while (this.waitHead < this.waiters.length) {
      const w = this.waiters[this.waitHead++]!;
      if (this.waitHead > 1024 && this.waitHead * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.waitHead);
        this.waitHead = 0;
      }
      if (!w.done) {
        w.done = true;
        this.waiting--;
        if (this.waiting === 0) {
          this.waiters.length = 0;
          this.waitHead = 0;
        }
        return w;
      }
    }
    return null;
  }

  oldestWaitingSince(): number {
    if (this.waiting === 0) return NaN;
    while (this.waitHead < this.waiters.length && this.waiters[this.waitHead]!.done) this.waitHead++;
    const w = this.waiters[this.waitHead];
    return w === undefined ? NaN : w.arrivedAt;
  }

  /** Linear: only cancellation paths look waiters up by request. */
  findWaiter(requestId: string): Waiter | null {
    for (let i = this.waitHead; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      if (!w.done && w.requestId === requestId) return w;
    }
    return null;
  }

  /** Marks a waiter as gone (cancelled); it is skipped when it reaches the head. */
  dropWaiter(w: Waiter): void {
    if (!w.done) {
      w.done = true;
      this.waiting--;
    }
  }

  /** All waiters still waiting, oldest first (shutdown and failure paths). */
  drainWaiters(): Waiter[] {
    const out: Waiter[] = [];
    let w: Waiter | null;
    while ((w = this.shiftWaiter()) !== null) out.push(w);
    return out;
  }
}
