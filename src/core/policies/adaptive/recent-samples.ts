/**
 * The last few samples of a quantity, exactly, and what they say about one still under way:
 * its expected remainder given how far it has got, E[X - a | X > a]. For execution times: what
 * a request waiting for a busy instance will wait (for AI serving, executions of seconds to
 * minutes, far from constant; for short steady functions just the mean minus `a`). For burst
 * sizes: how many more requests the current burst will bring.
 */
export const RECENT_SAMPLES = 32;

export class RecentSamples {
  private readonly ring = new Float64Array(RECENT_SAMPLES);
  /** The same samples kept sorted (insertion on record: no sort on read). */
  private readonly sortedBuf = new Float64Array(RECENT_SAMPLES);
  private head = 0;
  private n = 0;

  get size(): number {
    return this.n;
  }

  record(x: number): void {
    const s = this.sortedBuf;
    let len = this.n;
    if (len === RECENT_SAMPLES) {
      // Drop the sample the ring overwrites from the sorted copy.
      const old = this.ring[this.head]!;
      const i = lowerBound(s, len, old);
      s.copyWithin(i, i + 1, len);
      len--;
    } else this.n++;
    this.ring[this.head] = x;
    this.head = (this.head + 1) % RECENT_SAMPLES;
    const at = lowerBound(s, len, x);
    s.copyWithin(at + 1, at, len);
    s[at] = x;
  }

  /** The sample at quantile `q` in [0, 1] (nearest rank; 0 when none). */
  quantile(q: number): number {
    return this.n === 0 ? 0 : this.sortedBuf[Math.min(this.n - 1, Math.floor(q * this.n))]!;
  }

  /**
   * Expected remainder of one that has got to `elapsed`: the mean excess over the samples larger
   * than that; past every sample, a quarter of the largest (it is overdue, and no sample says by
   * how much). `fallback` (a typical whole value) when there are no samples.
   */
  remaining(elapsed: number, fallback: number): number {
    const n = this.n;
    if (n === 0) return Math.max(0, fallback - elapsed);
    const s = this.sortedBuf;
    // First sample greater than `elapsed`.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! <= elapsed) lo = mid + 1;
      else hi = mid;
    }
    if (lo === n) return s[n - 1]! / 4;
    let sum = 0;
    for (let i = lo; i < n; i++) sum += s[i]!;
    return sum / (n - lo) - elapsed;
  }
}

/** First index in the sorted prefix `s[0..len)` whose value is >= x. */
function lowerBound(s: Float64Array, len: number, x: number): number {
  let lo = 0;
  let hi = len;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
