/**
 * Which function key each load-generator request uses: one hot key, N keys uniformly, or
 * Zipf(s) over N keys (rank 1 most popular), from a seeded PRNG so runs are repeatable.
 */

export const DEFAULT_KEY_PREFIX = 'load-fn-';
export const DEFAULT_KEY_SEED = 1;

export type KeyDistribution = 'hot' | 'uniform' | 'zipf';

export interface KeyPopulationOptions {
  readonly distribution: KeyDistribution;
  /** Number of distinct keys (ignored for `hot`, which has exactly one). */
  readonly keys?: number;
  /** Zipf exponent s > 0 (only for `zipf`). */
  readonly zipfS?: number;
  readonly seed?: number;
  readonly prefix?: string;
}

export class KeyPopulationError extends Error {
  readonly code = 'KEY_POPULATION_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'KeyPopulationError';
  }
}

/** mulberry32: tiny, fast, good enough to spread load; not for anything cryptographic. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class KeyPopulation {
  readonly keys: readonly string[];
  readonly distribution: KeyDistribution;
  private readonly random: () => number;
  /** Zipf only: cumulative probabilities by rank. */
  private readonly cdf: Float64Array | null;

  constructor(options: KeyPopulationOptions) {
    const n = options.distribution === 'hot' ? 1 : (options.keys ?? 1);
    if (!Number.isInteger(n) || n < 1) throw new KeyPopulationError(`keys must be a positive integer, got ${n}`);
    const prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
    this.keys = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    this.distribution = options.distribution;
    this.random = seededRandom(options.seed ?? DEFAULT_KEY_SEED);
    if (options.distribution === 'zipf') {
      const s = options.zipfS ?? 1;
      if (!(s > 0)) throw new KeyPopulationError(`zipf exponent must be > 0, got ${s}`);
      const cdf = new Float64Array(n);
      let sum = 0;
      for (let i = 0; i < n; i++) {
        sum += 1 / Math.pow(i + 1, s);
        cdf[i] = sum;
      }
      for (let i = 0; i < n; i++) cdf[i]! /= sum;
      cdf[n - 1] = 1;
      this.cdf = cdf;
    } else {
      this.cdf = null;
    }
  }

  /** Index into {@link keys} of the next request's key. */
  nextIndex(): number {
    const n = this.keys.length;
    if (n === 1) return 0;
    const u = this.random();
    if (this.cdf === null) return Math.floor(u * n);
    // First rank whose cumulative probability exceeds u.
    const cdf = this.cdf;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  nextKey(): string {
    return this.keys[this.nextIndex()]!;
  }
}
