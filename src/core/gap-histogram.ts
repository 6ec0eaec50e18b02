/**
 * A decaying histogram of durations on log-spaced bins (4 per octave from 1 ms to ~2.3 h):
 * constant memory per function, O(1) to record, O(bins) to query. Old observations fade by
 * `decay` per record, so the distribution follows a function whose pattern changes.
 */
export const GAP_BINS = 92;
const BINS_PER_OCTAVE = 4;
const MIN_MS = 1;

/** Upper edge of bin i, ms. */
export function gapBinUpperMs(i: number): number {
  return MIN_MS * 2 ** ((i + 1) / BINS_PER_OCTAVE);
}

function gapBinMidMs(i: number): number {
  return MIN_MS * 2 ** ((i + 0.5) / BINS_PER_OCTAVE);
}

export function gapBinOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  const i = Math.floor(Math.log2(ms / MIN_MS) * BINS_PER_OCTAVE);
  return i >= GAP_BINS ? GAP_BINS - 1 : i;
}

export class GapHistogram {
  readonly counts = new Float64Array(GAP_BINS);
  total = 0;
  /** Exact (un-binned) count of samples, for "is there enough data" checks. */
  samples = 0;
  private weight = 1;

  constructor(private readonly decay = 0.97) {}

  record(ms: number): void {
    // Growing weights instead of shrinking counts: O(1) per record; rescale when large.
    this.weight /= this.decay;
    if (this.weight > 1e12) this.rescale();
    this.counts[gapBinOf(ms)]! += this.weight;
    this.total += this.weight;
    this.samples++;
  }

  /** Smallest bin upper edge below which at least fraction `q` of the mass lies. */
  quantileMs(q: number): number {
    if (this.total <= 0) return NaN;
    const target = q * this.total;
    let acc = 0;
    for (let i = 0; i < GAP_BINS; i++) {
      acc += this.counts[i]!;
      if (acc >= target) return gapBinUpperMs(i);
    }
    return gapBinUpperMs(GAP_BINS - 1);
  }

  /** Mid-point of bin i, ms (for expectations over the distribution). */
  midMs(i: number): number {
    return gapBinMidMs(i);
  }

  private rescale(): void {
    const f = 1 / this.weight;
    for (let i = 0; i < GAP_BINS; i++) this.counts[i]! *= f;
    this.total *= f;
    this.weight = 1;
  }
}
