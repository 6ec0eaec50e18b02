/**
 * What-if keep-alive: for a ladder of candidate windows, replays the function's real arrivals
 * and releases against a shadow pool that keeps idle instances exactly that long (most
 * recently used first, as the core does) and tallies what it would have cost: cold starts and
 * idle seconds, with exponential forgetting. Concurrency, bursts and periodicity need no model:
 * the shadow pools see them. O(windows) per event, memory O(windows x idle instances).
 *
 * The shadows see the real releases, so a real cold-start cascade (no releases for a while)
 * starves every shadow alike; the policy's queue model keeps such cascades rare.
 */
export const KEEP_WINDOWS_MS: readonly number[] = [
  0, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 900_000,
];
/** Per-arrival forgetting of the shadows' tallies (memory of a few hundred arrivals). */
export const SHADOW_DECAY = 0.995;
/** Idle instances a shadow tracks; beyond this the oldest are dropped as expired. */
const MAX_SHADOW_IDLE = 256;
/** Tallies are kept in growing units (no per-event decay of every tally); rescaled past this. */
const RESCALE_AT = 1e100;
/** Forgetting of the population tallies, per young-function arrival. */
export const POPULATION_DECAY = 0.999;

/**
 * Shadow tallies pooled over many functions (the population of functions too young to have
 * tallies of their own), so a new function starts from what functions of this workload did
 * rather than from a fixed rule. Decays per recorded event.
 */
export class PopulationTallies {
  readonly misses = new Float64Array(KEEP_WINDOWS_MS.length);
  readonly idleSecs = new Float64Array(KEEP_WINDOWS_MS.length);
  private unit = 1;
  private weightSum = 0;

  constructor(private readonly decay = POPULATION_DECAY) {}

  get weight(): number {
    return this.weightSum / this.unit;
  }

  /** Marks one arrival of a young function (before its per-window outcomes are added). */
  tick(): void {
    this.unit /= this.decay;
    if (this.unit > RESCALE_AT) {
      const f = 1 / this.unit;
      for (let i = 0; i < this.misses.length; i++) {
        this.misses[i]! *= f;
        this.idleSecs[i]! *= f;
      }
      this.weightSum *= f;
      this.unit = 1;
    }
    this.weightSum += this.unit;
  }

  add(i: number, misses: number, idleSecs: number): void {
    this.misses[i]! += misses * this.unit;
    this.idleSecs[i]! += idleSecs * this.unit;
  }

  bestWindowMs(missCost: number, memRate: number): number {
    let best = 0;
    let bestCost = Infinity;
    for (let i = 0; i < KEEP_WINDOWS_MS.length; i++) {
      const cost = (this.misses[i]! * missCost + this.idleSecs[i]! * memRate) / this.unit;
      if (cost < bestCost) {
        bestCost = cost;
        best = KEEP_WINDOWS_MS[i]!;
      }
    }
    return best;
  }
}

class ShadowPool {
  /** Release times of idle shadow instances, oldest first, from `bottom`. */
  private idle: number[] = [];
  private bottom = 0;
  /** Sum of the release times in `idle[bottom..]`, for O(1) open idle time. */
  private sumRel = 0;
  /** Weighted tallies, in the units of `KeepAliveShadows.unit`. */
  misses = 0;
  idleSecs = 0;

  constructor(
    readonly windowMs: number,
    private readonly index: number,
  ) {}

  arrive(now: number, unit: number, mirror: PopulationTallies | null): void {
    const w = this.windowMs;
    const idle = this.idle;
    let idleMs = 0;
    let miss = 0;
    while (this.bottom < idle.length && now - idle[this.bottom]! > w) {
      idleMs += w;
      this.sumRel -= idle[this.bottom]!;
      this.bottom++;
    }
    if (this.bottom < idle.length) {
      const r = idle.pop()!;
      this.sumRel -= r;
      idleMs += now - r;
    } else {
      miss = 1;
    }
    this.misses += unit * miss;
    this.idleSecs += (unit * idleMs) / 1000;
    mirror?.add(this.index, miss, idleMs / 1000);
    if (this.bottom > 64 && this.bottom * 2 > idle.length) {
      this.idle = idle.slice(this.bottom);
      this.bottom = 0;
    }
  }

  release(now: number, unit: number): void {
    if (this.windowMs <= 0) return;
    this.idle.push(now);
    this.sumRel += now;
    if (this.idle.length - this.bottom > MAX_SHADOW_IDLE) {
      this.idleSecs += (unit * this.windowMs) / 1000;
      this.sumRel -= this.idle[this.bottom]!;
      this.bottom++;
    }
  }

  /** Idle seconds accrued by instances still idle in the shadow (not yet tallied), approximately. */
  openIdleSecs(now: number): number {
    const n = this.idle.length - this.bottom;
    if (n === 0) return 0;
    const open = n * now - this.sumRel;
    const cap = n * this.windowMs;
    return (open < cap ? open : cap) / 1000;
  }

  rescale(f: number): void {
    this.misses *= f;
    this.idleSecs *= f;
  }
}

export class KeepAliveShadows {
  private readonly pools = KEEP_WINDOWS_MS.map((w, i) => new ShadowPool(w, i));
  /** Weight of the newest event; older tallies weigh 1/unit relative to it. */
  private unit = 1;
  private weightSum = 0;

  /** Decayed count of arrivals seen (how much evidence the tallies hold). */
  get weight(): number {
    return this.weightSum / this.unit;
  }

  /** `mirror`: also add this arrival's per-window outcomes to population tallies. */
  arrive(now: number, mirror: PopulationTallies | null = null): void {
    this.unit /= SHADOW_DECAY;
    if (this.unit > RESCALE_AT) this.rescale();
    this.weightSum += this.unit;
    mirror?.tick();
    for (const p of this.pools) p.arrive(now, this.unit, mirror);
  }

  release(now: number): void {
    for (const p of this.pools) p.release(now, this.unit);
  }

  /** The window whose shadow cost `misses x missCost + idleSecs x memRate` is least. */
  bestWindowMs(now: number, missCost: number, memRate: number): number {
    let best = 0;
    let bestCost = Infinity;
    const u = this.unit;
    for (const p of this.pools) {
      const cost = (p.misses / u) * missCost + (p.idleSecs / u + p.openIdleSecs(now)) * memRate;
      if (cost < bestCost) {
        bestCost = cost;
        best = p.windowMs;
      }
    }
    return best;
  }

  private rescale(): void {
    const f = 1 / this.unit;
    for (const p of this.pools) p.rescale(f);
    this.weightSum *= f;
    this.unit = 1;
  }
}
