import { describe, expect, it } from 'vitest';
import { fnv1a32, hashKey, mix32, reduceHash, shardForKey } from '../src/sharding/key-hash.js';

/** Independent reference: FNV-1a 32 and fmix32 in BigInt arithmetic over UTF-16 code units. */
function refFnv(key: string): bigint {
  let h = 0x811c9dc5n;
  for (let i = 0; i < key.length; i++) {
    h ^= BigInt(key.charCodeAt(i));
    h = (h * 0x01000193n) % 2n ** 32n;
  }
  return h;
}
function refMix(h: bigint): bigint {
  const M = 2n ** 32n;
  h ^= h >> 16n;
  h = (h * 0x85ebca6bn) % M;
  h ^= h >> 13n;
  h = (h * 0xc2b2ae35n) % M;
  h ^= h >> 16n;
  return h;
}

/** Deterministic PRNG (mulberry32) so the spread test is reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function chiSquare(counts: number[], n: number): number {
  const expected = n / counts.length;
  return counts.reduce((acc, c) => acc + ((c - expected) * (c - expected)) / expected, 0);
}

describe('key-hash stability', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('returns fixed values for known keys (pinned once, cross-checked with a BigInt reference)', () => {
    const pinned: Record<string, number> = {
      '': 2872998923,
      a: 444641715,
      foobar: 202221276,
      'fn-1': 2591527192,
      'fn-2': 2469315790,
      'é€😀': 1546679087,
    };
    for (const [key, value] of Object.entries(pinned)) {
      expect(hashKey(key)).toBe(value);
      expect(BigInt(hashKey(key))).toBe(refMix(refFnv(key)));
    }
    expect(shardForKey('', 7)).toBe(4);
    expect(shardForKey('a', 7)).toBe(0);
    expect(shardForKey('é€😀', 7)).toBe(2);
  });

  it('agrees with the BigInt reference on random keys, including non-ASCII', () => {
    const rnd = mulberry32(7);
    for (let i = 0; i < 500; i++) {
      let key = '';
      const len = Math.floor(rnd() * 24);
      for (let j = 0; j < len; j++) key += String.fromCharCode(Math.floor(rnd() * 0xffff));
      expect(BigInt(fnv1a32(key))).toBe(refFnv(key));
      expect(BigInt(mix32(fnv1a32(key)))).toBe(refMix(refFnv(key)));
    }
  });

  it('range-reduces into [0, n) using the high bits', () => {
    expect(reduceHash(0, 5)).toBe(0);
    expect(reduceHash(0xffffffff, 5)).toBe(4);
    expect(reduceHash(0x80000000, 2)).toBe(1);
    expect(reduceHash(0x7fffffff, 2)).toBe(0);
    expect(shardForKey('anything', 1)).toBe(0);
  });
});

describe('key-hash spread', () => {
  const N = 100_000;
  // chi-square with k-1 dof has mean k-1 and sd sqrt(2(k-1)); 6 sd is far beyond chance.
  const bound = (k: number): number => k - 1 + 6 * Math.sqrt(2 * (k - 1));

  it('spreads random keys evenly over 2..16 shards', () => {
    const rnd = mulberry32(42);
    const keys: string[] = [];
    for (let i = 0; i < N; i++) keys.push(Math.floor(rnd() * 2 ** 52).toString(36));
    for (let k = 2; k <= 16; k++) {
      const counts = new Array<number>(k).fill(0);
      for (const key of keys) counts[shardForKey(key, k)]!++;
      expect(chiSquare(counts, N), `shards=${k}`).toBeLessThan(bound(k));
    }
  });

  it('spreads sequential, near-identical keys evenly too', () => {
    for (let k = 2; k <= 16; k++) {
      const counts = new Array<number>(k).fill(0);
      for (let i = 0; i < N; i++) counts[shardForKey(`func-${i}`, k)]!++;
      expect(chiSquare(counts, N), `shards=${k}`).toBeLessThan(bound(k));
    }
  });

  it('is sensitive to every character (no trivially colliding neighbours)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(hashKey(`k${i}`));
    expect(seen.size).toBeGreaterThan(9_990);
  });
});
