/**
 * A prom-client `Histogram` whose observations are counted in typed arrays, for a histogram on
 * the main thread's hot path: `observeAt(series, value)` is a bucket search and two array
 * writes (tens of ns), where prom-client's own `observe(labels, value)` hashes the label set
 * into a string and allocates on every call (about 1.5 us here; `npm run bench:rpc-metrics`).
 *
 * The label sets are fixed up front (series 0..n-1). prom-client still does everything else:
 * registration, the exposition text, aggregation; this class only answers `get()` (and the
 * registry's `getForPromString()`) from its own counts, in prom-client's shape.
 * `test/server-metrics.test.ts` checks that the text is exactly what a plain prom-client
 * `Histogram` given the same observations prints.
 */
import { Histogram, type Registry } from 'prom-client';

export interface CountedHistogramOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** Upper bounds, increasing (the `+Inf` bucket is implicit). */
  buckets: readonly number[];
  /** Every label set observations can have: `observeAt(i, ...)` counts into `series[i]`. */
  series: ReadonlyArray<Readonly<Record<L, string>>>;
  registers: Registry[];
}

type HistogramData<L extends string> = Awaited<ReturnType<Histogram<L>['get']>>;
type HistogramValue<L extends string> = HistogramData<L>['values'][number];

export class CountedHistogram<L extends string> extends Histogram<L> {
  private readonly bounds: Float64Array;
  private readonly series: ReadonlyArray<Readonly<Record<L, string>>>;
  /** `[series * (bounds + 1) + bucket]`, the last bucket of a series being `+Inf`. */
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly width: number;
  /** prom-client keeps these on the instance too, untyped: ours, for the exposition. */
  private readonly familyName: string;
  private readonly helpText: string;

  constructor(opts: CountedHistogramOptions<L>) {
    super({ name: opts.name, help: opts.help, labelNames: [...opts.labelNames], buckets: [...opts.buckets], registers: opts.registers });
    for (let i = 1; i < opts.buckets.length; i++) {
      if (!(opts.buckets[i]! > opts.buckets[i - 1]!)) throw new RangeError(`${opts.name}: buckets must increase`);
    }
    this.familyName = opts.name;
    this.helpText = opts.help;
    this.bounds = Float64Array.from(opts.buckets);
    this.series = opts.series;
    this.width = opts.buckets.length + 1;
    this.counts = new Float64Array(opts.series.length * this.width);
    this.sums = new Float64Array(opts.series.length);
  }

  /** One observation of `value` for label set `series` (an index into the options' `series`). */
  observeAt(series: number, value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[series * this.width + i]!++;
    this.sums[series]! += value;
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class has set its arrays.
    if ((this.counts as Float64Array | undefined) === undefined) return;
    this.counts.fill(0);
    this.sums.fill(0);
  }

  /** What prom-client's registry formats: bucket labels apart from the series' (`sharedLabels`). */
  async getForPromString(): Promise<HistogramData<L>> {
    const values: HistogramValue<L>[] = [];
    const bucketName = `${this.familyName}_bucket`;
    for (let s = 0; s < this.series.length; s++) {
      const base = s * this.width;
      let count = 0;
      for (let i = 0; i < this.width; i++) count += this.counts[base + i]!;
      // Like prom-client: a label set appears once it has been observed.
      if (count === 0) continue;
      const shared = this.series[s]!;
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += this.counts[base + i]!;
        values.push(sample({ le: this.bounds[i]! }, shared, acc, bucketName, null));
      }
      values.push(sample({ le: '+Inf' }, shared, count, bucketName, null));
      values.push(sample({}, shared, this.sums[s]!, `${this.familyName}_sum`, undefined));
      values.push(sample({}, shared, count, `${this.familyName}_count`, undefined));
    }
    // The same fields as prom-client's own Histogram returns (its typings also demand `collect`, which it never sets).
    return { name: this.familyName, help: this.helpText, type: 'histogram', values, aggregator: 'sum' } as unknown as HistogramData<L>;
  }

  override async get(): Promise<HistogramData<L>> {
    const data = await this.getForPromString();
    for (const v of data.values) {
      const withShared = v as HistogramValue<L> & { sharedLabels?: Record<string, string> };
      Object.assign(withShared.labels, withShared.sharedLabels);
      delete withShared.sharedLabels;
    }
    return data;
  }
}

function sample<L extends string>(
  labels: Record<string, string | number>,
  sharedLabels: Readonly<Record<L, string>>,
  value: number,
  metricName: string,
  exemplar: null | undefined,
): HistogramValue<L> {
  // prom-client's shape to the letter: buckets carry `exemplar: null`, sum and count `undefined`.
  return { labels, sharedLabels, value, metricName, exemplar } as unknown as HistogramValue<L>;
}
