/**
 * Streaming latency histogram with logarithmic buckets: O(1) per sample, fixed memory,
 * relative error of quantiles bounded by the bucket ratio. Values are milliseconds; values
 * below `LATENCY_FLOOR_MS` share bucket 0 (sub-microsecond latencies do not matter to the score).
 */

export const LATENCY_FLOOR_MS = 0.001;
/** Bucket ratio: quantiles are exact to within 1%. */
export const LATENCY_BUCKET_RATIO = 1.01;
/** Largest tracked value (1 hour); larger values land in the last bucket, the max stays exact. */
export const LATENCY_CEILING_MS = 3_600_000;

const LOG_RATIO = Math.log(LATENCY_BUCKET_RATIO);
const BUCKETS = Math.ceil(Math.log(LATENCY_CEILING_MS / LATENCY_FLOOR_MS) / LOG_RATIO) + 2;

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private sum = 0;
  private maxV = 0;
  private minV = Infinity;
  // Most samples repeat the previous value (a fixed RPC overhead): skip the logarithm then.
  private lastV = NaN;
  private lastB = 0;

  record(ms: number): void {
    if (!(ms >= 0)) return; // NaN and negatives are caller bugs; do not poison the stats
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
