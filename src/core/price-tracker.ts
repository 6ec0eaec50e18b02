import { scorePrices, type ScorePrices, type ScoreTotals } from './score-prices.js';

const ZERO: ScoreTotals = { execGBs: 0, slotGBs: 0, execSecs: 0, scheduleSecs: 0 };

/** Prices are recomputed at most this often (they move slowly; reading totals is not free). */
export const PRICE_REFRESH_MS = 1_000;
/** Window over which totals are differenced, so a new dataset in the same process re-prices quickly. */
export const PRICE_WINDOW_MS = 10 * 60_000;
const SNAPSHOTS = 20;

/**
 * Score prices from the running totals over a sliding window (the contest replays datasets one
 * after another against one process and scores each on its own).
 */
export class PriceTracker {
  private window: ScoreTotals = ZERO;
  private cachedAt = -Infinity;
  private readonly ring: { at: number; t: ScoreTotals }[] = [];
  private ringHead = 0;
  private priced: ScorePrices = scorePrices(ZERO);
  private pricedWindow: ScoreTotals | undefined = undefined;
  private pricedMinR = NaN;
  private pricedMinL = NaN;

  constructor(
    private readonly totals: () => ScoreTotals,
    private readonly now: () => number,
  ) {}

  prices(minResourceRatio = 0, minLatencyRatio = 0): ScorePrices {
    this.refresh();
    // Asked on every release; the window changes at most once per refresh.
    if (this.pricedWindow !== this.window || this.pricedMinR !== minResourceRatio || this.pricedMinL !== minLatencyRatio) {
      this.priced = scorePrices(this.window, minResourceRatio, minLatencyRatio);
      this.pricedWindow = this.window;
      this.pricedMinR = minResourceRatio;
      this.pricedMinL = minLatencyRatio;
    }
    return this.priced;
  }

  /** Totals over the window (up to PRICE_WINDOW_MS), refreshed at most every PRICE_REFRESH_MS. */
  private refresh(): void {
    const now = this.now();
    if (now - this.cachedAt < PRICE_REFRESH_MS) return;
    this.cachedAt = now;
    const cur = this.totals();
    const step = PRICE_WINDOW_MS / SNAPSHOTS;
    const last = this.ring.length === 0 ? undefined : this.ring[(this.ringHead + this.ring.length - 1) % SNAPSHOTS];
    if (last === undefined || now - last.at >= step) {
      if (this.ring.length < SNAPSHOTS) this.ring.push({ at: now, t: cur });
      else {
        this.ring[this.ringHead] = { at: now, t: cur };
        this.ringHead = (this.ringHead + 1) % SNAPSHOTS;
      }
    }
    const oldest = this.ring[this.ringHead]!;
    const base = now - oldest.at >= PRICE_WINDOW_MS / 2 ? oldest.t : ZERO;
    this.window = {
      execGBs: cur.execGBs - base.execGBs,
      slotGBs: cur.slotGBs - base.slotGBs,
      execSecs: cur.execSecs - base.execSecs,
      scheduleSecs: cur.scheduleSecs - base.scheduleSecs,
    };
  }
}
