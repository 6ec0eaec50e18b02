import type { ScoreTotals } from './score-prices.js';

/**
 * Running numbers of one core (one shard). The worker mirrors them into the shared counters;
 * the simulator reads them directly. Slot time is integrated lazily: `liveSlotMb` times the
 * time since `integratedAt` is added whenever the live memory changes or totals are read.
 */
export class CoreMetrics {
  assigns = 0;
  idles = 0;
  /** Assigns received and not yet answered. */
  inflightAssigns = 0;
  waitingAssigns = 0;
  liveSlots = 0;
  liveSlotMb = 0;
  idleInstances = 0;
  busyInstances = 0;
  startingInstances = 0;
  coldStarts = 0;
  prewarms = 0;
  destroys = 0;
  platformRetries = 0;
  platformFailures = 0;
  /** Assigns answered with an error. */
  failedAssigns = 0;
  /** Busy instances destroyed because their Idle never came (see BUSY_LEASE_TIMEOUT_FACTOR). */
  leaseExpiries = 0;
  /** Backup cold starts begun for Inits overrunning their usual time (see INIT_HEDGE_FACTOR). */
  initHedges = 0;
  /**
   * CreateSlot calls sent whose answer never came (connection reset mid-call, deadline): each may
   * have left a slot on the platform that cannot be found or destroyed (see PlatformError).
   */
  lostCreateReplies = 0;
  execMbMs = 0;
  execMs = 0;
  scheduleMs = 0;
  slotMbMs = 0;
  private integratedAt = NaN;

  /** Adds the slot time accrued since the last change; call before changing `liveSlotMb`. */
  integrate(now: number): void {
    if (!Number.isNaN(this.integratedAt)) this.slotMbMs += this.liveSlotMb * (now - this.integratedAt);
    this.integratedAt = now;
  }

  scoreTotals(now: number): ScoreTotals {
    this.integrate(now);
    return {
      execGBs: this.execMbMs / 1024 / 1000,
      slotGBs: this.slotMbMs / 1024 / 1000,
      execSecs: this.execMs / 1000,
      scheduleSecs: this.scheduleMs / 1000,
    };
  }
}
