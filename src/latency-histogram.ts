/**
 * The project's one latency histogram (the simulator's score book, the load generator, the
 * benchmarks): logarithmic buckets, O(1) per sample (no logarithm when a value repeats, as the
 * virtual engine's fixed RPC overheads do), fixed memory, quantiles within the bucket ratio
 * (1%). Values are milliseconds; values below `LATENCY_FLOOR_MS` share bucket 0.
 */

export const LATENCY_FLOOR_MS = 0.001;
/** Bucket ratio: quantiles are exact to within 1%. */
export const LATENCY_BUCKET_RATIO = 1.01;
/** Largest tracked value (1 hour); larger values land in the last bucket, the max stays exact. */
export const LATENCY_CEILING_MS = 3_600_000;

const LOG_RATIO = Math.log(LATENCY_BUCKET_RATIO);
const BUCKETS = Math.ceil(Math.log(LATENCY_CEILING_MS / LATENCY_FLOOR_MS) / LOG_RATIO) + 2;

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private sum = 0;
  private maxV = 0;
  private minV = Infinity;
  // Most samples repeat the previous value (a fixed RPC overhead): skip the logarithm then.
  private lastV = NaN;
  private lastB = 0;

  /** Records one latency in ms; NaN and negatives (caller bugs) are ignored, not to poison the stats. */
  record(ms: number): void {
    if (!(ms >= 0)) return;
    this.n++;
    this.sum += ms;
    if (ms > this.maxV) this.maxV = ms;
    if (ms < this.minV) this.minV = ms;
    if (ms !== this.lastV) {
      this.lastV = ms;
      this.lastB = bucketOf(ms);
    }
    this.counts[this.lastB]++;
  }

  get count(): number {
    return this.n;
  }

  get max(): number {
    return this.maxV;
  }

  get mean(): number {
    return this.n === 0 ? 0 : this.sum / this.n;
  }

  /** Adds every sample of `other` (e.g. per-connection histograms into one report). */
  add(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.n += other.n;
    this.sum += other.sum;
    if (other.maxV > this.maxV) this.maxV = other.maxV;
    if (other.minV < this.minV) this.minV = other.minV;
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.sum = 0;
    this.maxV = 0;
    this.minV = Infinity;
    this.lastV = NaN;
  }

  /** Count, p50/p90/p99, max and mean, in ms (zeros when empty). */
  summary(): LatencySummary {
    if (this.n === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
    return {
      count: this.n,
      p50Ms: this.quantile(0.5),
      p90Ms: this.quantile(0.9),
      p99Ms: this.quantile(0.99),
      maxMs: this.maxV,
      meanMs: this.sum / this.n,
    };
  }

  /** q in [0, 1]; returns the bucket's upper edge clamped to the observed [min, max]. */
  quantile(q: number): number {
    if (this.n === 0) return 0;
    const target = Math.max(1, Math.ceil(q * this.n));
    let acc = 0;
    for (let i = 0; i < BUCKETS; i++) {
      acc += this.counts[i];
      if (acc >= target) return Math.min(this.maxV, Math.max(this.minV, upperEdge(i)));
    }
    return this.maxV;
  }
}

function bucketOf(ms: number): number {
  if (ms <= LATENCY_FLOOR_MS) return 0;
  const b = Math.ceil(Math.log(ms / LATENCY_FLOOR_MS) / LOG_RATIO);
  return b >= BUCKETS ? BUCKETS - 1 : b;
}

function upperEdge(bucket: number): number {
  return LATENCY_FLOOR_MS * Math.exp(bucket * LOG_RATIO);
}
