/**
 * The policy-comparison command end to end (compiled JS: piscina runs workers from dist/).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = 'dist/scripts/compare-policies.js';
const cache = mkdtempSync(join(tmpdir(), 'compare-cli-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

interface Row {
  dataset: string;
  policy: string;
  score: number;
  resourceHalf: number;
  latencyHalf: number;
  boundFraction: number;
  successRate: number;
  leakedSlots: number;
  split: {
    latency: { pointsLost: { overhead: number; busyWait: number; coldStart: number; failed: number } };
    resource: { pointsLost: { idleKeep: number; keptAfterLast: number; coldStart: number; prewarm: number; hedge: number; failedStart: number } };
  };
}

describe('compare-policies', () => {
  it('runs every (dataset, policy) pair and marks the best', { timeout: 30_000 }, () => {
    const out = execFileSync(
      process.execPath,
      [CLI, '--json', '--data', 'datasets/function_smoke_test', '--families', 'correlated', '--cache', cache, '--policies', 'fixed,hybrid-histogram', '--threads', '2'],
      { encoding: 'utf8' },
    );
    const c = JSON.parse(out) as { results: Row[]; datasets: { name: string; best: string; boundScore: number }[]; summary: { policy: string; meanScore: number }[]; meanOver: string };
    expect(c.results.map((r) => `${r.dataset}/${r.policy}`)).toEqual([
      'function_smoke_test/fixed',
      'function_smoke_test/hybrid-histogram',
      'correlated/fixed',
      'correlated/hybrid-histogram',
    ]);
    for (const r of c.results) {
      expect(r.successRate).toBe(1);
      expect(r.leakedSlots).toBe(0);
      expect(r.score).toBeCloseTo(r.resourceHalf + r.latencyHalf, 9);
      expect(r.boundFraction).toBeGreaterThan(0);
      // The cost split: points lost in each half add up to what the half misses of 50.
      const l = r.split.latency.pointsLost;
      expect(l.overhead + l.busyWait + l.coldStart + l.failed).toBeCloseTo(50 - r.latencyHalf, 6);
      const q = r.split.resource.pointsLost;
      expect(q.idleKeep + q.keptAfterLast + q.coldStart + q.prewarm + q.hedge + q.failedStart).toBeCloseTo(50 - r.resourceHalf, 6);
    }
    for (const d of c.datasets) {
      const rows = c.results.filter((r) => r.dataset === d.name);
      expect(rows.find((r) => r.policy === d.best)!.score).toBe(Math.max(...rows.map((r) => r.score)));
    }
    // Means are over the generated families only.
    expect(c.meanOver).toBe('families');
    const fixedCorrelated = c.results.find((r) => r.dataset === 'correlated' && r.policy === 'fixed')!;
    expect(c.summary.find((s) => s.policy === 'fixed')!.meanScore).toBeCloseTo(fixedCorrelated.score, 9);
  });

  it('prints one markdown table with a row per pair and the per-policy means', { timeout: 30_000 }, () => {
    const out = execFileSync(process.execPath, [CLI, '--markdown', '--data', 'datasets/function_smoke_test', '--policies', 'fixed-5m,fixed-10m'], { encoding: 'utf8' });
    // The first table (the points-lost table further down has rows per pair too).
    const rows = out.split('\n\n')[0]!.split('\n').filter((l) => l.startsWith('| function_smoke_test |'));
    expect(rows).toHaveLength(4); // bound, hindsight reference, two policies
    expect(rows[0]).toContain('*clairvoyant bound*');
    expect(rows[1]).toContain('*best fixed keep-alive, hindsight*');
    expect(out).toContain('| fixed-5m |');
    expect(out).toContain('mean score (datasets)');
    // The points-lost table: one row per pair.
    expect(out).toContain('| dataset | policy | overhead | busy waits | cold starts | idle keep | kept after last | cold-start slots | pre-warms | hedges |');
    const split = out.slice(out.indexOf('| dataset | policy | overhead |'));
    expect(split.split('\n').filter((l) => /^\| function_smoke_test \| fixed-(5|10)m \| \d/.test(l))).toHaveLength(2);
    expect(out).toMatch(/per-call floor of [\d.]+ ms per Assign/);
  });

  it('rejects an unknown policy', () => {
    expect(() => execFileSync(process.execPath, [CLI, '--policies', 'nope'], { encoding: 'utf8', stdio: 'pipe' })).toThrow(/unknown policy "nope"/);
  });
});
