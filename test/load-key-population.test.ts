import { describe, expect, it } from 'vitest';
import { KeyPopulation, KeyPopulationError } from '../src/load/key-population.js';
import { LatencyHistogram } from '../src/load/latency-histogram.js';

function counts(p: KeyPopulation, n: number): number[] {
  const c = new Array<number>(p.keys.length).fill(0);
  for (let i = 0; i < n; i++) c[p.nextIndex()]!++;
  return c;
}

describe('key population', () => {
  it('hot is one key', () => {
    const p = new KeyPopulation({ distribution: 'hot', keys: 50 });
    expect(p.keys).toEqual(['load-fn-0']);
    expect(counts(p, 100)).toEqual([100]);
  });

  it('uniform covers every key about equally', () => {
    const p = new KeyPopulation({ distribution: 'uniform', keys: 10, seed: 7 });
    const c = counts(p, 100_000);
    for (const v of c) expect(Math.abs(v - 10_000)).toBeLessThan(600);
  });

  it('zipf follows 1/rank^s', () => {
    const p = new KeyPopulation({ distribution: 'zipf', keys: 1000, zipfS: 1, seed: 3 });
    const c = counts(p, 200_000);
    const h = Array.from({ length: 1000 }, (_, i) => 1 / (i + 1)).reduce((a, b) => a + b, 0);
    expect(c[0]! / 200_000).toBeCloseTo(1 / h, 2);
    expect(c[1]! / 200_000).toBeCloseTo(1 / (2 * h), 2);
    expect(c[0]! / c[9]!).toBeGreaterThan(7);
    expect(c[0]! / c[9]!).toBeLessThan(13);
  });

  it('is repeatable for a seed and differs across seeds', () => {
    const a = new KeyPopulation({ distribution: 'zipf', keys: 100, zipfS: 1.2, seed: 5 });
    const b = new KeyPopulation({ distribution: 'zipf', keys: 100, zipfS: 1.2, seed: 5 });
    const c = new KeyPopulation({ distribution: 'zipf', keys: 100, zipfS: 1.2, seed: 6 });
    const sa = Array.from({ length: 50 }, () => a.nextKey());
    expect(Array.from({ length: 50 }, () => b.nextKey())).toEqual(sa);
    expect(Array.from({ length: 50 }, () => c.nextKey())).not.toEqual(sa);
  });

  it('validates options', () => {
    expect(() => new KeyPopulation({ distribution: 'uniform', keys: 0 })).toThrow(KeyPopulationError);
    expect(() => new KeyPopulation({ distribution: 'zipf', keys: 5, zipfS: 0 })).toThrow(KeyPopulationError);
  });
});

describe('latency histogram', () => {
  it('reports percentiles in ms with microsecond resolution', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.recordMs(i / 100); // 0.01 .. 10 ms
    const s = h.summary();
    expect(s.count).toBe(1000);
    expect(s.p50Ms).toBeCloseTo(5, 1);
    expect(s.p90Ms).toBeCloseTo(9, 1);
    expect(s.p99Ms).toBeCloseTo(9.9, 1);
    expect(s.maxMs).toBeCloseTo(10, 1);
    expect(s.meanMs).toBeCloseTo(5.005, 1);
  });

  it('clamps out-of-range values instead of losing them, and is empty-safe', () => {
    const h = new LatencyHistogram();
    expect(h.summary().p99Ms).toBe(0);
    h.recordMs(-1);
    h.recordMs(1e12);
    expect(h.count).toBe(2);
    expect(h.summary().maxMs).toBeGreaterThan(3_000_000);
  });
});
