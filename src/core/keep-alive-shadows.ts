/**
 * What-if keep-alive: for a ladder of candidate windows, replays the function's real arrivals
 * and releases against a shadow pool that keeps idle instances exactly that long (most
 * recently used first, as the core does) and counts what it would have cost: cold starts and
 * idle seconds, with exponential forgetting. Concurrency, bursts and periodicity need no model:
 * the shadow pools see them. O(windows) per event, memory O(windows x idle instances).
 */
export const KEEP_WINDOWS_MS: readonly number[] = [
  0, 250, 500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_200_000,
];
/** Per-arrival forgetting of the shadows' tallies (memory of a few hundred arrivals). */
export const SHADOW_DECAY = 0.995;
/** Idle instances a shadow tracks; beyond this the oldest are dropped as expired. */
const MAX_SHADOW_IDLE = 256;

class ShadowPool {
  /** Release times of idle shadow instances, oldest first, from `bottom`. */
  private idle: number[] = [];
  private bottom = 0;
  /** Shadow requests queued for a busy or starting instance (served by the next releases). */
  private queued = 0;
  misses = 0;
  waitSecs = 0;
  idleSecs = 0;

  constructor(readonly windowMs: number) {}

  arrive(now: number, busy: number, queueWaitSecs: number): void {
    const w = this.windowMs;
    const idle = this.idle;
    while (this.bottom < idle.length && now - idle[this.bottom]! > w) {
      this.idleSecs += w / 1000;
      this.bottom++;
    }
    if (this.bottom < idle.length) {
      this.idleSecs += (now - idle.pop()!) / 1000;
    } else if (busy > this.queued) {
      // Like the core: wait for a busy instance rather than pay a cold start.
      this.queued++;
      this.waitSecs += queueWaitSecs;
    } else {
      this.misses++;
    }
    this.compact();
  }

  release(now: number): void {
    if (this.queued > 0) {
      this.queued--;
      return;
    }
    if (this.windowMs <= 0) return;
    this.idle.push(now);
    if (this.idle.length - this.bottom > MAX_SHADOW_IDLE) {
      this.idleSecs += this.windowMs / 1000;
      this.bottom++;
    }
  }

  decay(f: number): void {
    this.misses *= f;
    this.waitSecs *= f;
    this.idleSecs *= f;
  }

  /** Idle seconds accrued by instances still idle in the shadow (not yet tallied). */
  openIdleSecs(now: number): number {
    let s = 0;
    const w = this.windowMs;
    for (let i = this.bottom; i < this.idle.length; i++) {
      const d = now - this.idle[i]!;
      s += d > w ? w : d;
    }
    return s / 1000;
  }

  private compact(): void {
    if (this.bottom > 64 && this.bottom * 2 > this.idle.length) {
      this.idle = this.idle.slice(this.bottom);
      this.bottom = 0;
    }
  }
}

export class KeepAliveShadows {
  private readonly pools = KEEP_WINDOWS_MS.map((w) => new ShadowPool(w));
  /** Decayed count of arrivals seen (how much evidence the tallies hold). */
  weight = 0;

  /**
   * `busy`: instances busy at this arrival; a shadow with no idle instance queues the request
   * behind one of them (costing `queueWaitSecs`) when it can, as the core's queue model does;
   * else it is a miss. The shadows see the real releases, so a real cold-start cascade starves
   * them all alike: the keep-alive floor in the policy guards against that feedback.
   */
  arrive(now: number, busy: number, queueWaitSecs: number): void {
    this.weight = this.weight * SHADOW_DECAY + 1;
    for (const p of this.pools) {
      p.decay(SHADOW_DECAY);
      p.arrive(now, busy, queueWaitSecs);
    }
  }

  release(now: number): void {
    for (const p of this.pools) p.release(now);
  }

  /** The window whose shadow cost `misses x missCost + waitSecs x latencyPrice + idleSecs x memRate` is least. */
  bestWindowMs(now: number, missCost: number, latencyPrice: number, memRate: number): number {
    let best = 0;
    let bestCost = Infinity;
    for (const p of this.pools) {
      const cost = p.misses * missCost + p.waitSecs * latencyPrice + (p.idleSecs + p.openIdleSecs(now)) * memRate;
      if (cost < bestCost) {
        bestCost = cost;
        best = p.windowMs;
      }
    }
    return best;
  }
}
