import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDatasetSync } from '../src/sim/datasets/dataset-loader.js';
import type { RequestRecord } from '../src/sim/contest/dataset-types.js';
import {
  DEFAULT_BASE_TIME_MS,
  INIT_MAX_MS,
  MEMORY_CHOICES_MB,
  Rng,
  WORKLOAD_FAMILIES,
  generateDataset,
  writeDataset,
} from '../src/sim/generator/workload-generator.js';

function __dirnameOf(): string {
  return dirname(fileURLToPath(import.meta.url));
}

const root = mkdtempSync(join(tmpdir(), 'sim-gen-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function byKey(reqs: RequestRecord[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const r of reqs) {
    const a = m.get(r.metaKey) ?? [];
    a.push(r.startTime);
    m.set(r.metaKey, a);
  }
  return m;
}

/** Coefficient of variation of inter-arrival gaps. */
function cv(times: number[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) gaps.push(times[i] - times[i - 1]);
  const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
  const v = gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / gaps.length;
  return Math.sqrt(v) / mean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

describe('workload generator', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateDataset({ pattern: 'mix', seed: 3, durationSec: 300, functions: 40 });
    const b = generateDataset({ pattern: 'mix', seed: 3, durationSec: 300, functions: 40 });
    const c = generateDataset({ pattern: 'mix', seed: 4, durationSec: 300, functions: 40 });
    expect(a).toEqual(b);
    expect(a.requests.length).toBeGreaterThan(100);
    expect(c.metas[0].key).not.toBe(a.metas[0].key);
    expect(c.requests).not.toEqual(a.requests);
    const r = new Rng(9);
    const s = new Rng(9);
    for (let i = 0; i < 100; i++) expect(r.next()).toBe(s.next());
  });

  it('writes the contest format, sorted, readable by the loader, byte-identical for a seed', () => {
    const ds = generateDataset({ pattern: ['periodic', 'bursty', 'sparse'], seed: 5, durationSec: 120, functions: 9 });
    const d1 = join(root, 'a');
    const d2 = join(root, 'b');
    writeDataset(d1, ds);
    writeDataset(d2, generateDataset({ pattern: ['periodic', 'bursty', 'sparse'], seed: 5, durationSec: 120, functions: 9 }));
    expect(readFileSync(join(d1, 'requests'))).toEqual(readFileSync(join(d2, 'requests')));
    expect(readFileSync(join(d1, 'metas'))).toEqual(readFileSync(join(d2, 'metas')));
    const firstLine = readFileSync(join(d1, 'requests'), 'utf8').split('\n')[0];
    expect(firstLine).toMatch(/^\{"startTime": \d+, "metaKey": "[0-9a-f]{40}", "durationsInMs": \d+, "statusCode": \d+\}$/);
    const loaded = loadDatasetSync(d1);
    expect(loaded.requests).toEqual(ds.requests);
    expect([...loaded.metas.values()]).toEqual(ds.metas);
    for (const r of ds.requests) {
      expect(r.startTime).toBeGreaterThanOrEqual(DEFAULT_BASE_TIME_MS);
      expect(r.startTime).toBeLessThan(DEFAULT_BASE_TIME_MS + 120_000);
    }
  });

  it('periodic arrivals have a low inter-arrival CV, bursty a high one', () => {
    const per = byKey(generateDataset({ pattern: 'periodic', seed: 11, durationSec: 1200, functions: 12 }).requests);
    const perCvs = [...per.values()].filter((t) => t.length >= 8).map(cv);
    expect(perCvs.length).toBeGreaterThan(6);
    for (const x of perCvs) expect(x).toBeLessThan(0.1);
    const bur = byKey(generateDataset({ pattern: 'bursty', seed: 11, durationSec: 1200, functions: 12 }).requests);
    const burCvs = [...bur.values()].filter((t) => t.length >= 20).map(cv);
    expect(burCvs.length).toBeGreaterThan(6);
    expect(median(burCvs)).toBeGreaterThan(2);
    const poi = byKey(generateDataset({ pattern: 'poisson', seed: 11, durationSec: 1200, functions: 12 }).requests);
    const poiCvs = [...poi.values()].filter((t) => t.length >= 50).map(cv);
    expect(median(poiCvs)).toBeGreaterThan(0.8);
    expect(median(poiCvs)).toBeLessThan(1.2);
  });

  it('correlated functions burst together; sparse ones fire a few times', () => {
    const ds = generateDataset({ pattern: 'correlated', seed: 2, durationSec: 600, functions: 4 });
    const keys = byKey(ds.requests);
    expect(keys.size).toBe(4);
    // Every member's first request falls within a second of the group's first request.
    const firsts = [...keys.values()].map((t) => t[0]);
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeLessThan(1000);
    for (const m of ds.metas) {
      expect([256, 512]).toContain(m.memoryInMb);
      expect(m.initDurationInMs).toBeLessThanOrEqual(56);
    }
    const sparse = byKey(generateDataset({ pattern: 'sparse', seed: 2, durationSec: 600, functions: 50 }).requests);
    for (const t of sparse.values()) expect(t.length).toBeLessThanOrEqual(4);
  });

  it('draws memory, init, durations and errors from the documented distributions', () => {
    const ds = generateDataset({ pattern: 'mix', seed: 8, durationSec: 1800, functions: 400 });
    const inits = ds.metas.map((m) => m.initDurationInMs);
    for (const m of ds.metas) expect(MEMORY_CHOICES_MB).toContain(m.memoryInMb);
    expect(Math.max(...inits)).toBeLessThanOrEqual(INIT_MAX_MS);
    const nonCorr = ds.metas.filter((m) => m.initDurationInMs > 56).map((m) => m.initDurationInMs);
    expect(median(nonCorr)).toBeGreaterThan(150);
    expect(median(nonCorr)).toBeLessThan(900);
    const errors = ds.requests.filter((r) => r.statusCode !== 200);
    const frac = errors.length / ds.requests.length;
    expect(frac).toBeGreaterThan(0.002);
    expect(frac).toBeLessThan(0.007);
    for (const e of errors) expect([408, 500]).toContain(e.statusCode);
    // A few busy functions carry most of the requests, as in the FaaS dataset.
    const counts = [...byKey(ds.requests).values()].map((t) => t.length).sort((a, b) => b - a);
    const top10pct = counts.slice(0, Math.ceil(counts.length / 10)).reduce((s, x) => s + x, 0);
    expect(top10pct / ds.requests.length).toBeGreaterThan(0.7);
  });

  it('named families are 10-minute workloads of modest size', () => {
    const names = WORKLOAD_FAMILIES.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['timer', 'poisson', 'bursty', 'correlated', 'diurnal', 'sparse', 'faas-mix']));
    for (const f of WORKLOAD_FAMILIES) {
      const ds = generateDataset(f.options);
      expect(f.options.durationSec).toBe(600);
      expect(ds.requests.length, f.name).toBeGreaterThanOrEqual(2000);
      expect(ds.requests.length, f.name).toBeLessThanOrEqual(30_000);
    }
  });
});

describe('generate-dataset CLI (compiled)', () => {
  const script = join(__dirnameOf(), '..', 'dist', 'scripts', 'generate-dataset.js');
  it.skipIf(!existsSync(script))('writes a dataset and prints help', () => {
    const help = execFileSync(process.execPath, [script, '--help'], { encoding: 'utf8' });
    expect(help).toContain('--pattern');
    const out = join(root, 'cli');
    const msg = execFileSync(process.execPath, [script, '--pattern', 'poisson', '--seed', '1', '--duration', '60s', '--functions', '3', '--out', out], { encoding: 'utf8' });
    expect(msg).toMatch(/3 functions, \d+ requests/);
    const ds = loadDatasetSync(out);
    expect(ds.requests).toEqual(generateDataset({ pattern: 'poisson', seed: 1, durationSec: 60, functions: 3 }).requests);
    expect(() => execFileSync(process.execPath, [script, '--pattern', 'nope', '--out', out], { stdio: 'pipe' })).toThrow();
    // A bare number is refused with the units it takes.
    expect(() => execFileSync(process.execPath, [script, '--duration', '60', '--out', out], { stdio: 'pipe', encoding: 'utf8' }))
      .toThrow(/--duration "60" has no unit; write it with one of ms, s, m, h or d/);
  }, 20_000);
});
