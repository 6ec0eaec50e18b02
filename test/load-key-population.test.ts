import { describe, expect, it } from 'vitest';
import { KeyPopulation, KeyPopulationError } from '../src/load/key-population.js';
import { LatencyHistogram } from '../src/latency-histogram.js';

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
  it('reports percentiles in ms within 1%', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 100); // 0.01 .. 10 ms
    const s = h.summary();
    expect(s.count).toBe(1000);
    const within1pct = (v: number, want: number): void => expect(Math.abs(v - want) / want).toBeLessThanOrEqual(0.01);
    within1pct(s.p50Ms, 5);
    within1pct(s.p90Ms, 9);
    within1pct(s.p99Ms, 9.9);
    expect(s.maxMs).toBe(10);
    expect(s.meanMs).toBeCloseTo(5.005, 6);
    const other = new LatencyHistogram();
    other.record(20);
    h.add(other);
    expect(h.summary()).toMatchObject({ count: 1001, maxMs: 20 });
    h.reset();
    expect(h.summary().count).toBe(0);
  });

  it('clamps values above its range instead of losing them, ignores invalid ones, and is empty-safe', () => {
    const h = new LatencyHistogram();
    expect(h.summary().p99Ms).toBe(0);
    h.record(-1); // a caller bug: ignored
    h.record(Number.NaN);
    h.record(1e12);
    expect(h.count).toBe(1);
    expect(h.summary().maxMs).toBeGreaterThan(3_000_000);
  });
});
