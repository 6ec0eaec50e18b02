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
  private readonly sortedBuf = new Float64Array(RECENT_SAMPLES);
  private head = 0;
  private n = 0;
  private dirty = false;

  get size(): number {
    return this.n;
  }

  record(ms: number): void {
    this.ring[this.head] = ms;
    this.head = (this.head + 1) % RECENT_SAMPLES;
    if (this.n < RECENT_SAMPLES) this.n++;
    this.dirty = true;
  }

  private sorted(): Float64Array {
    const out = this.sortedBuf.subarray(0, this.n);
    if (this.dirty) {
      out.set(this.ring.subarray(0, this.n));
      out.sort();
      this.dirty = false;
    }
    return out;
  }

  /**
   * Expected remainder of one that has got to `elapsed`: the mean excess over the samples larger
   * than that; past every sample, a quarter of the largest (it is overdue, and no sample says by
   * how much). `fallback` (a typical whole value) when there are no samples.
   */
  remaining(elapsed: number, fallback: number): number {
    if (this.n === 0) return Math.max(0, fallback - elapsed);
    const elapsedMs = elapsed;
    const s = this.sorted();
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! <= elapsedMs) lo = mid + 1;
      else hi = mid;
    }
    if (lo === s.length) return s[s.length - 1]! / 4;
    let sum = 0;
    for (let i = lo; i < s.length; i++) sum += s[i]!;
    return sum / (s.length - lo) - elapsedMs;
  }
}
