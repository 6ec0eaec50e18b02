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
 * Per-window tallies (misses, idle seconds) with exponential forgetting, kept in growing units:
 * the newest event weighs `unit`, older ones 1/unit relative to it, so no tally decays per event.
 */
class DecayedTallies {
  readonly misses = new Float64Array(KEEP_WINDOWS_MS.length);
  readonly idleSecs = new Float64Array(KEEP_WINDOWS_MS.length);
  protected unit = 1;
  private weightSum = 0;

  /** Decayed count of events seen (how much evidence the tallies hold). */
  get weight(): number {
    return this.weightSum / this.unit;
  }

  /** One more event: everything before it weighs `decay` times less (rescaled past RESCALE_AT). */
  protected advance(decay: number): void {
    this.unit /= decay;
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
}

/**
 * Shadow tallies pooled over many functions (the population of functions too young to have
 * tallies of their own), so a new function starts from what functions of this workload did
 * rather than from a fixed rule. Decays per recorded event.
 */
export class PopulationTallies extends DecayedTallies {
  constructor(private readonly decay = POPULATION_DECAY) {
    super();
  }

  /** Marks one arrival of a young function (before its per-window outcomes are added). */
  tick(): void {
    this.advance(this.decay);
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

/** Initial capacity of the shared release list (it doubles as needed). */
const INITIAL_RELEASES = 64;
/** The shared list is compacted once this many entries below every window's cursor are dead. */
const COMPACT_AT = 64;

/**
 * The shadow pools of all windows share one list of release times. A shadow keeps, most
 * recently used first, the releases of the last `w` ms that no arrival consumed; a longer
 * window's idle set is always a superset of a shorter one's (same releases, same MRU
 * consumption, older items expire first), so each window's set is the suffix of the shared
 * list from its own cursor `bottom[i]`, and an arrival consumes the list's newest entry for
 * every window that has one. Per event that is one loop over typed arrays instead of one
 * object and array per window; the arithmetic of each window is unchanged, operation for
 * operation. Window 0 never holds an idle instance.
 */
export class KeepAliveShadows extends DecayedTallies {
  private readonly windows = Float64Array.from(KEEP_WINDOWS_MS);
  private rel = new Float64Array(INITIAL_RELEASES);
  private len = 0;
  private readonly bottom = new Float64Array(KEEP_WINDOWS_MS.length);
  /** Sum of the release times in each window's set, for O(1) open idle time. */
  private readonly sumRel = new Float64Array(KEEP_WINDOWS_MS.length);

  /** `mirror`: also add this arrival's per-window outcomes to population tallies. */
  arrive(now: number, mirror: PopulationTallies | null = null): void {
    this.advance(SHADOW_DECAY);
    mirror?.tick();
    const unit = this.unit;
    const { windows, bottom, sumRel, misses, idleSecs, rel } = this;
    const len = this.len;
    // Window 0 keeps nothing: always a miss with no idle time.
    misses[0]! += unit;
    idleSecs[0]! += (unit * 0) / 1000;
    mirror?.add(0, 1, 0);
    let consumed = false;
    for (let i = 1; i < windows.length; i++) {
      const w = windows[i]!;
      let b = bottom[i]!;
      let sr = sumRel[i]!;
      let idleMs = 0;
      while (b < len && now - rel[b]! > w) {
        idleMs += w;
        sr -= rel[b]!;
        b++;
      }
      let miss = 0;
      if (b < len) {
        const r = rel[len - 1]!;
        sr -= r;
        idleMs += now - r;
        consumed = true;
      } else {
        miss = 1;
        misses[i]! += unit;
      }
      bottom[i] = b;
      sumRel[i] = sr;
      idleSecs[i]! += (unit * idleMs) / 1000;
      mirror?.add(i, miss, idleMs / 1000);
    }
    if (consumed) {
      const top = --this.len;
      for (let i = 1; i < windows.length; i++) if (bottom[i]! > top) bottom[i] = top;
    }
    // The longest window's cursor is the lowest: everything below it is dead for all windows.
    const dead = bottom[windows.length - 1]!;
    if (dead > COMPACT_AT && dead * 2 > this.len) this.compact(dead);
  }

  release(now: number): void {
    if (this.len === this.rel.length) this.grow();
    this.rel[this.len++] = now;
    const unit = this.unit;
    const { windows, bottom, sumRel, idleSecs, rel } = this;
    const len = this.len;
    for (let i = 1; i < windows.length; i++) {
      sumRel[i]! += now;
      if (len - bottom[i]! > MAX_SHADOW_IDLE) {
        idleSecs[i]! += (unit * windows[i]!) / 1000;
        sumRel[i]! -= rel[bottom[i]!]!;
        bottom[i]!++;
      }
    }
  }

  /** The window whose shadow cost `misses x missCost + idleSecs x memRate` is least. */
  bestWindowMs(now: number, missCost: number, memRate: number): number {
    let best = 0;
    let bestCost = Infinity;
    const u = this.unit;
    const { windows, bottom, sumRel, misses, idleSecs } = this;
    for (let i = 0; i < windows.length; i++) {
      const cost = (misses[i]! / u) * missCost + (idleSecs[i]! / u + this.openIdleSecs(i, now, windows[i]!, bottom[i]!, sumRel[i]!)) * memRate;
      if (cost < bestCost) {
        bestCost = cost;
        best = windows[i]!;
      }
    }
    return best;
  }

  /** Idle seconds accrued by instances still idle in window i's shadow (not yet tallied), approximately. */
  private openIdleSecs(i: number, now: number, w: number, bottom: number, sumRel: number): number {
    const n = i === 0 ? 0 : this.len - bottom;
    if (n === 0) return 0;
    const open = n * now - sumRel;
    const cap = n * w;
    return (open < cap ? open : cap) / 1000;
  }

  private grow(): void {
    const bigger = new Float64Array(this.rel.length * 2);
    bigger.set(this.rel);
    this.rel = bigger;
  }

  private compact(dead: number): void {
    this.rel.copyWithin(0, dead, this.len);
    this.len -= dead;
    const bottom = this.bottom;
    for (let i = 1; i < bottom.length; i++) bottom[i]! -= dead;
  }
}
