/**
 * The last few idle gaps of a function, exactly (no binning): enough to see that a timer fires
 * every 600.0 +- 0.2 s, which log-spaced bins blur by several seconds. Fixed memory.
 */
export const RECENT_GAPS = 64;

export class RecentGaps {
  private readonly ring = new Float64Array(RECENT_GAPS);
  private readonly sortedBuf = new Float64Array(RECENT_GAPS);
  private head = 0;
  private n = 0;
  private dirty = false;

  get size(): number {
    return this.n;
  }

  record(ms: number): void {
    this.ring[this.head] = ms;
    this.head = (this.head + 1) % RECENT_GAPS;
    if (this.n < RECENT_GAPS) this.n++;
    this.dirty = true;
  }

  /** The recorded gaps, ascending (a view, valid until the next `record`). */
  sorted(): Float64Array {
    const out = this.sortedBuf.subarray(0, this.n);
    if (this.dirty) {
      out.set(this.ring.subarray(0, this.n));
      out.sort();
      this.dirty = false;
    }
    return out;
  }
}
