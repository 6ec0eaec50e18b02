/**
 * A platform for counterfactual runs of the core: every call succeeds, CreateSlot after the
 * create latency the live core measures, Init after the function's measured init time, and
 * slot time is integrated as it goes (slot MB-ms), so a run's resource half is known at any
 * moment without a ledger of its own.
 */
import type { FunctionMetaRef, InitResult, Platform, PlatformCallback, SlotInfo } from '../../platform.js';
import type { VirtualClock } from '../../virtual-clock.js';

export interface ReplayLatencies {
  /** CreateSlot latency now, ms. */
  createMs(): number;
  /** Init latency of the function now, ms. */
  initMs(meta: FunctionMetaRef): number;
}

export class ReplayPlatform implements Platform {
  private readonly slots = new Map<string, number>();
  private seq = 0;
  private liveMb = 0;
  private mbMs = 0;
  private integratedAt: number;

  constructor(
    private readonly clock: VirtualClock,
    private readonly latencies: ReplayLatencies,
  ) {
    this.integratedAt = clock.now();
  }

  /** Slot MB-ms so far, up to the clock's now. */
  slotMbMs(): number {
    this.integrate();
    return this.mbMs;
  }

  private integrate(): void {
    const now = this.clock.now();
    this.mbMs += this.liveMb * (now - this.integratedAt);
    this.integratedAt = now;
  }

  createSlot(_requestId: string, memoryMb: number, cb: PlatformCallback<SlotInfo>): void {
    const clock = this.clock;
    clock.fire(clock.now() + this.latencies.createMs(), () => {
      this.integrate();
      const slotId = `s${(this.seq++).toString(36)}`;
      this.slots.set(slotId, memoryMb);
      this.liveMb += memoryMb;
      cb(null, { slotId, memoryMb, createTime: 0 });
    });
  }

  init(_requestId: string, _slotId: string, _instanceId: string, meta: FunctionMetaRef, cb: PlatformCallback<InitResult>): void {
    const ms = this.latencies.initMs(meta);
    this.clock.fire(this.clock.now() + ms, () => cb(null, { initDurationMs: ms }));
  }

  destroySlot(_requestId: string, slotId: string, _reason: string, cb: PlatformCallback<void>): void {
    const mb = this.slots.get(slotId);
    if (mb !== undefined) {
      this.integrate();
      this.liveMb -= mb;
      this.slots.delete(slotId);
    }
    cb(null);
  }
}
