/**
 * HDR histogram of call latencies. Values are recorded in microseconds (integers, 3 significant
 * digits) so sub-millisecond warm-path calls keep their resolution; reports are in milliseconds.
 */
import { build, type Histogram } from 'hdr-histogram-js';

/** Longest latency tracked exactly (1 hour); longer values are clamped rather than lost. */
export const LATENCY_HISTOGRAM_MAX_MICROS = 3_600_000_000;
export const LATENCY_HISTOGRAM_SIGNIFICANT_DIGITS = 3;

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

export class LatencyHistogram {
  private readonly h: Histogram;

  constructor() {
    this.h = build({
      bitBucketSize: 32,
      autoResize: false,
      lowestDiscernibleValue: 1,
      highestTrackableValue: LATENCY_HISTOGRAM_MAX_MICROS,
      numberOfSignificantValueDigits: LATENCY_HISTOGRAM_SIGNIFICANT_DIGITS,
    });
  }

  /** Records one latency in milliseconds (fractional). */
  recordMs(ms: number): void {
    let us = Math.round(ms * 1000);
    if (us < 0) us = 0;
    else if (us > LATENCY_HISTOGRAM_MAX_MICROS) us = LATENCY_HISTOGRAM_MAX_MICROS;
    this.h.recordValue(us);
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** Latency at `percentile` (0-100), in ms. */
  percentileMs(percentile: number): number {
    return this.h.totalCount === 0 ? 0 : this.h.getValueAtPercentile(percentile) / 1000;
  }

  add(other: LatencyHistogram): void {
    this.h.add(other.h);
  }

  reset(): void {
    this.h.reset();
  }

  summary(): LatencySummary {
    const n = this.h.totalCount;
    if (n === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
    return {
      count: n,
      p50Ms: this.h.getValueAtPercentile(50) / 1000,
      p90Ms: this.h.getValueAtPercentile(90) / 1000,
      p99Ms: this.h.getValueAtPercentile(99) / 1000,
      maxMs: this.h.maxValue / 1000,
      meanMs: this.h.mean / 1000,
    };
  }
}
