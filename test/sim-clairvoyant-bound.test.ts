import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClairvoyantBound, clairvoyantBound } from '../src/sim/scoring/clairvoyant-bound.js';
import { loadDatasetSync } from '../src/sim/datasets/dataset-loader.js';
import type { MetaRecord, RequestRecord } from '../src/sim/contest/dataset-types.js';

function meta(key: string, memoryInMb: number, initDurationInMs: number): MetaRecord {
  return { key, runtime: 'go', memoryInMb, timeoutInSecs: 60, initDurationInMs };
}
function run(metas: MetaRecord[], reqs: [number, string, number, number?][], opts = {}) {
  const m = new Map(metas.map((x) => [x.key, x]));
  const rs: RequestRecord[] = reqs.map(([startTime, metaKey, durationsInMs, statusCode]) => ({ startTime, metaKey, durationsInMs, statusCode: statusCode ?? 200 }));
  return clairvoyantBound(rs, m, opts);
}

describe('clairvoyant bound on hand-made traces (create 100 ms)', () => {
  it('periodic with gap > create+init pays create+init per gap', () => {
    const reqs: [number, string, number][] = [0, 10_000, 20_000, 30_000, 40_000].map((t) => [t, 'p', 1000]);
    const r = run([meta('p', 1024, 400)], reqs);
    // slot = 0.5 (first chain) + 5 x 1 s exec + 4 gaps x min(9 s, 0.5 s), at 1 GB
    expect(r.slotGBs).toBeCloseTo(7.5, 12);
    expect(r.execGBs).toBeCloseTo(5, 12);
    expect(r.chains).toBe(1);
    expect(r.resourceHalf).toBeCloseTo((50 * 5) / 7.5, 10);
    expect(r.latencyHalf).toBe(50);
    expect(r.score).toBeCloseTo(50 + (50 * 5) / 7.5, 10);
    expect(r.idleGBs).toBeCloseTo(2.5, 12);
  });

  it('back-to-back with gap < create+init keeps the instance (pays the gap)', () => {
    const r = run([meta('b', 2048, 400)], [[0, 'b', 1000], [1200, 'b', 1000], [2400, 'b', 1000]]);
    expect(r.slotGBs).toBeCloseTo(2 * (0.5 + 3 + 0.2 + 0.2), 12);
    expect(r.chains).toBe(1);
  });

  it('concurrent requests need two chains; reuse takes the most recently freed', () => {
    const r = run([meta('c', 1024, 400)], [[0, 'c', 1000], [500, 'c', 1000], [1600, 'c', 100], [1650, 'c', 100]]);
    // chains: 2 x (0.5 + 1). At 1600 the stack top is the instance freed at 1500 (gap 0.1 s);
    // at 1650 the other one, freed at 1000 (gap 0.65 s -> 0.5 s). Plus 2 x 0.1 s exec.
    expect(r.chains).toBe(2);
    expect(r.slotGBs).toBeCloseTo(3 + 0.1 + 0.5 + 0.2, 12);
    // Had a queue (least recently freed) been used: 0.6 + 0.15 instead of 0.1 + 0.5.
  });

  it('a broken instance ends its chain', () => {
    const broken = run([meta('x', 1024, 400)], [[0, 'x', 1000, 500], [1100, 'x', 1000]]);
    expect(broken.chains).toBe(2);
    expect(broken.slotGBs).toBeCloseTo(3, 12);
    const healthy = run([meta('x', 1024, 400)], [[0, 'x', 1000], [1100, 'x', 1000]]);
    expect(healthy.chains).toBe(1);
    expect(healthy.slotGBs).toBeCloseTo(2.6, 12);
  });

  it('ties: earlier end first, successful before failed', () => {
    // Two simultaneous starts, the failing one listed first; the next request reuses the healthy one.
    const r = run([meta('t', 1024, 400)], [[0, 't', 1000, 408], [0, 't', 1000, 200], [1200, 't', 1000]]);
    expect(r.chains).toBe(2);
    expect(r.slotGBs).toBeCloseTo(2 * 1.5 + 0.2 + 1, 12);
  });

  it('functions are independent and memory-weighted; no charge after the last use', () => {
    const r = run(
      [meta('a', 512, 0), meta('b', 4096, 900)],
      [[0, 'a', 100], [0, 'b', 1000], [50_000, 'a', 100]],
      { createMs: 100 },
    );
    // a: 0.5 GB x (0.1 + 0.1 + 0.1 + min(49.9, 0.1)) ; b: 4 GB x (1 + 1)
    expect(r.slotGBs).toBeCloseTo(0.5 * 0.4 + 4 * 2, 12);
    expect(r.chains).toBe(2);
  });

  it('models RPC overhead per Assign and per Idle', () => {
    const reqs: [number, string, number][] = [0, 10_000, 20_000, 30_000, 40_000].map((t) => [t, 'p', 1000]);
    const r = run([meta('p', 1024, 400)], reqs, { rpcOverheadMs: 1 });
    expect(r.scheduleSecs).toBeCloseTo(0.01, 12);
    expect(r.latencyHalf).toBeCloseTo((50 * 5) / 5.01, 10);
  });

  it('is never below execution and never above 100 (random traces)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3000 }), fc.boolean()), { minLength: 1, maxLength: 60 }),
        (rows) => {
          const metas = [meta('k0', 128, 0), meta('k1', 1024, 250), meta('k2', 3072, 5000)];
          rows.sort((a, b) => a[0] - b[0]);
          const r = run(metas, rows.map(([t, k, d, ok]) => [t, `k${k}`, d, ok ? 200 : 500]));
          expect(r.slotGBs).toBeGreaterThanOrEqual(r.execGBs - 1e-9);
          expect(r.score).toBeLessThanOrEqual(100 + 1e-9);
          expect(r.chains).toBeGreaterThanOrEqual(1);
        },
      ),
      { numRuns: 200, seed: 42 },
    );
  });

  it('streams the smoke dataset', () => {
    const ds = loadDatasetSync(fileURLToPath(new URL('../datasets/function_smoke_test', import.meta.url)));
    const b = new ClairvoyantBound();
    let exec = 0;
    for (const r of ds.requests) {
      const m = ds.metas.get(r.metaKey) as MetaRecord;
      exec += (r.durationsInMs / 1000) * (m.memoryInMb / 1024);
      b.add(r, m);
    }
    const res = b.finish();
    expect(res.requests).toBe(980);
    expect(res.execGBs).toBeCloseTo(exec, 9);
    expect(res.latencyHalf).toBeCloseTo(50, 9);
    // A cold burst: the resource half is low even for the clairvoyant.
    expect(res.resourceHalf).toBeGreaterThan(5);
    expect(res.resourceHalf).toBeLessThan(10);
  });
});
