/**
 * Seeded generator of contest-format datasets with named arrival patterns. Deterministic: the
 * same options give byte-identical output on any machine (own PRNG, integer output times).
 *
 * Distributions follow the public description of the contest's FaaS dataset (CONTEST.md):
 * memory mostly 128 MB-1 GB, init lognormal (p50 325 ms, p90 4.5 s, max 120 s), per-function
 * mean execution lognormal (p50 0.5 s, p90 10 s). Correlated bursts use the short
 * "Kubernetes-API-like" functions of dataSet_1 (256-512 MB, init 13-56 ms, exec 20-240 ms).
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { MetaRecord, RequestRecord } from '../contest/dataset-types.js';

export const PATTERNS = ['periodic', 'poisson', 'bursty', 'correlated', 'diurnal', 'sparse', 'mix'] as const;
export type PatternName = (typeof PATTERNS)[number];
type BasePattern = Exclude<PatternName, 'mix'>;

export const DEFAULT_BASE_TIME_MS = 1_685_000_000_000;
export const DEFAULT_DURATION_SEC = 600;
export const DEFAULT_FUNCTIONS = 20;
/** Fraction of requests whose trace status is an error (408/500), which breaks the instance. */
export const DEFAULT_ERROR_RATE = 0.004;

export const MEMORY_CHOICES_MB: readonly number[] = [128, 256, 512, 1024, 2048, 4096];
export const MEMORY_WEIGHTS: readonly number[] = [0.34, 0.26, 0.2, 0.12, 0.05, 0.03];
export const INIT_P50_MS = 325;
export const INIT_P90_MS = 4500;
export const INIT_MAX_MS = 120_000;
export const EXEC_MEAN_P50_MS = 500;
export const EXEC_MEAN_P90_MS = 10_000;
/** Spread of one function's durations around its own median (lognormal sigma). */
export const EXEC_WITHIN_SIGMA = 0.45;
export const MIX_WEIGHTS: Readonly<Record<BasePattern, number>> = {
  sparse: 0.55,
  poisson: 0.15,
  periodic: 0.08,
  bursty: 0.08,
  correlated: 0.08,
  diurnal: 0.06,
};

const Z90 = 1.2815515655446004;
const RUNTIMES = ['custom', 'nodejs', 'python', 'php', 'java', 'go'];
const RUNTIME_WEIGHTS = [0.3, 0.25, 0.25, 0.05, 0.1, 0.05];
const PERIODS_MS = [1400, 10_000, 30_000, 60_000, 120_000];

export interface GenerateOptions {
  readonly seed?: number;
  readonly durationSec?: number;
  readonly functions?: number;
  /** One pattern, or several assigned round-robin to the functions. */
  readonly pattern?: PatternName | readonly PatternName[];
  /** Multiplies the arrival rates of rate-driven patterns (poisson, bursty, diurnal, correlated). */
  readonly rate?: number;
  readonly baseTimeMs?: number;
  readonly errorRate?: number;
}

export interface GeneratedDataset {
  readonly metas: MetaRecord[];
  readonly requests: RequestRecord[];
}

// ---------------------------------------------------------------------------------------------
// PRNG and distributions

/** mulberry32: small, fast, good enough for workloads; state is one uint32. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  int(lo: number, hiIncl: number): number {
    return lo + Math.floor(this.next() * (hiIncl - lo + 1));
  }

  normal(): number {
    // Box-Muller; 1 - next() avoids log(0).
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** Lognormal with the given median and 90th percentile. */
  lognormal(p50: number, p90: number): number {
    const sigma = Math.log(p90 / p50) / Z90;
    return p50 * Math.exp(sigma * this.normal());
  }

  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.next() * total;
    for (let i = 0; i < items.length; i++) {
      x -= weights[i];
      if (x < 0) return items[i];
    }
    return items[items.length - 1];
  }
}

function seedOf(...parts: (string | number)[]): number {
  const h = createHash('sha1').update(parts.join(':')).digest();
  return h.readUInt32LE(0);
}

// ---------------------------------------------------------------------------------------------
// Functions

interface FnSpec {
  readonly meta: MetaRecord;
  readonly execMedianMs: number;
  readonly pattern: BasePattern;
  readonly rng: Rng;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function makeFunction(seed: number, index: number, pattern: BasePattern): FnSpec {
  const rng = new Rng(seedOf('fn', seed, index, pattern));
  const key = createHash('sha1').update(`scaler-gen:${seed}:${pattern}:${index}`).digest('hex');
  let memoryInMb: number;
  let initDurationInMs: number;
  let execMedianMs: number;
  if (pattern === 'correlated') {
    memoryInMb = rng.next() < 0.5 ? 256 : 512;
    initDurationInMs = rng.int(13, 56);
    execMedianMs = rng.uniform(20, 240);
  } else {
    memoryInMb = rng.weighted(MEMORY_CHOICES_MB, MEMORY_WEIGHTS);
    initDurationInMs = Math.round(clamp(rng.lognormal(INIT_P50_MS, INIT_P90_MS), 1, INIT_MAX_MS));
    execMedianMs = clamp(rng.lognormal(EXEC_MEAN_P50_MS, EXEC_MEAN_P90_MS), 1, 300_000);
  }
  const runtime = rng.weighted(RUNTIMES, RUNTIME_WEIGHTS);
  const timeoutInSecs = clamp(Math.ceil((execMedianMs * 4) / 1000 / 60) * 60, 60, 900);
  return { meta: { key, runtime, memoryInMb, timeoutInSecs, initDurationInMs }, execMedianMs, pattern, rng };
}

// ---------------------------------------------------------------------------------------------
// Arrival processes (times in ms relative to the run start, within [0, durMs))

function periodicArrivals(rng: Rng, durMs: number): number[] {
  const period = rng.weighted(PERIODS_MS, [0.3, 0.15, 0.2, 0.2, 0.15]);
  const jitterSd = Math.min(period * 0.02, 150);
  const out: number[] = [];
  for (let t = rng.uniform(0, period); t < durMs; t += period) {
    const x = t + jitterSd * rng.normal();
    if (x >= 0 && x < durMs) out.push(x);
  }
  return out;
}

function poissonArrivals(rng: Rng, durMs: number, ratePerSec: number): number[] {
  const out: number[] = [];
  const mean = 1000 / ratePerSec;
  for (let t = rng.exp(mean); t < durMs; t += rng.exp(mean)) out.push(t);
  return out;
}

function burstyArrivals(rng: Rng, durMs: number, rate: number): number[] {
  const out: number[] = [];
  const offMean = rng.uniform(45_000, 120_000);
  const onMean = rng.uniform(3_000, 12_000);
  const inBurstRate = rng.uniform(3, 15) * rate;
  let t = rng.exp(offMean / 2);
  while (t < durMs) {
    const end = Math.min(durMs, t + rng.exp(onMean));
    for (let x = t + rng.exp(1000 / inBurstRate); x < end; x += rng.exp(1000 / inBurstRate)) out.push(x);
    t = end + rng.exp(offMean);
  }
  return out;
}

/** Shared burst starts for a group; each member fires a train with 20-400 ms gaps. */
function correlatedArrivals(rng: Rng, burstStarts: readonly number[], durMs: number, rate: number): number[] {
  const out: number[] = [];
  const lag = rng.uniform(0, 300);
  for (const s of burstStarts) {
    const n = Math.max(1, Math.round(rng.uniform(5, 40) * rate));
    let x = s + lag + rng.uniform(0, 50);
    for (let i = 0; i < n && x < durMs; i++) {
      out.push(x);
      x += rng.uniform(20, 400);
    }
  }
  return out;
}

/** Non-homogeneous Poisson by thinning: one sinusoidal "day" compressed into the run. */
function diurnalArrivals(rng: Rng, durMs: number, peakRatePerSec: number): number[] {
  const out: number[] = [];
  const phase = rng.uniform(0, 2 * Math.PI);
  const depth = rng.uniform(0.6, 0.95);
  const mean = 1000 / peakRatePerSec;
  for (let t = rng.exp(mean); t < durMs; t += rng.exp(mean)) {
    const lambda = (1 + depth * Math.sin((2 * Math.PI * t) / durMs + phase)) / (1 + depth);
    if (rng.next() < lambda) out.push(t);
  }
  return out;
}

function sparseArrivals(rng: Rng, durMs: number): number[] {
  const n = rng.weighted([1, 2, 3, 4], [0.5, 0.25, 0.15, 0.1]);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(rng.uniform(0, durMs));
  return out.sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Dataset

function patternsFor(opts: GenerateOptions, n: number, master: Rng): BasePattern[] {
  const spec = opts.pattern ?? 'mix';
  const list: readonly PatternName[] = typeof spec === 'string' ? [spec] : spec;
  if (list.length === 0) throw new Error('pattern list is empty');
  const bases = Object.keys(MIX_WEIGHTS) as BasePattern[];
  const weights = bases.map((b) => MIX_WEIGHTS[b]);
  const out: BasePattern[] = [];
  for (let i = 0; i < n; i++) {
    const p = list[i % list.length];
    if (!(PATTERNS as readonly string[]).includes(p)) throw new Error(`unknown pattern ${p}`);
    out.push(p === 'mix' ? master.weighted(bases, weights) : p);
  }
  return out;
}

export function generateDataset(opts: GenerateOptions = {}): GeneratedDataset {
  const seed = opts.seed ?? 1;
  const durMs = (opts.durationSec ?? DEFAULT_DURATION_SEC) * 1000;
  const n = opts.functions ?? DEFAULT_FUNCTIONS;
  const rate = opts.rate ?? 1;
  const base = opts.baseTimeMs ?? DEFAULT_BASE_TIME_MS;
  const errorRate = opts.errorRate ?? DEFAULT_ERROR_RATE;
  if (!(durMs > 0) || !(n >= 1) || !(rate > 0)) throw new Error('durationSec, functions and rate must be positive');
  const master = new Rng(seedOf('master', seed));
  const patterns = patternsFor(opts, n, master);
  const fns = patterns.map((p, i) => makeFunction(seed, i, p));
  const isMix = (typeof opts.pattern === 'string' ? [opts.pattern] : opts.pattern ?? ['mix']).includes('mix');

  // Correlated functions form groups of up to 4 sharing one burst process.
  const groupStarts: number[][] = [];
  const groupRng = new Rng(seedOf('groups', seed));
  const correlated = fns.filter((f) => f.pattern === 'correlated');
  const groups = Math.ceil(correlated.length / 4);
  for (let g = 0; g < groups; g++) {
    const starts: number[] = [];
    const gapMean = groupRng.uniform(20_000, 90_000) / Math.sqrt(rate);
    for (let t = groupRng.exp(gapMean / 2); t < durMs; t += gapMean * groupRng.uniform(0.5, 1.5)) starts.push(t);
    groupStarts.push(starts);
  }

  const requests: RequestRecord[] = [];
  let corrIndex = 0;
  for (const f of fns) {
    const rng = f.rng;
    let times: number[];
    switch (f.pattern) {
      case 'periodic':
        times = periodicArrivals(rng, durMs);
        break;
      case 'poisson': {
        // Heavy-tailed rates in a mix, so a few functions carry most requests (as in dataSet_3).
        const r = isMix ? rng.lognormal(0.15, 2.5) : rng.lognormal(0.5, 2);
        times = poissonArrivals(rng, durMs, Math.min(r, 50) * rate);
        break;
      }
      case 'bursty':
        times = burstyArrivals(rng, durMs, rate);
        break;
      case 'correlated':
        times = correlatedArrivals(rng, groupStarts[Math.floor(corrIndex++ / 4)], durMs, rate);
        break;
      case 'diurnal':
        times = diurnalArrivals(rng, durMs, rng.lognormal(1, 4) * rate);
        break;
      case 'sparse':
        times = sparseArrivals(rng, durMs);
        break;
    }
    const timeoutMs = f.meta.timeoutInSecs * 1000;
    for (const t of times) {
      const d = Math.round(clamp(f.execMedianMs * Math.exp(EXEC_WITHIN_SIGMA * rng.normal()), 1, timeoutMs));
      let statusCode = 200;
      if (rng.next() < errorRate) statusCode = rng.next() < 0.5 ? 408 : 500;
      requests.push({ startTime: base + Math.floor(t), metaKey: f.meta.key, durationsInMs: d, statusCode });
    }
  }
  // Stable sort keeps generation order for equal times: output is fully determined by the options.
  requests.sort((a, b) => a.startTime - b.startTime);
  return { metas: fns.map((f) => f.meta), requests };
}

// ---------------------------------------------------------------------------------------------
// Named 10-minute presets, sized to keep live runs short (roughly 2k-30k requests each).

export interface WorkloadFamily {
  readonly name: string;
  readonly description: string;
  readonly options: GenerateOptions;
}

export const WORKLOAD_FAMILIES: readonly WorkloadFamily[] = [
  { name: 'timer', description: 'timer-like functions (1.4 s to 2 min periods, small jitter)', options: { pattern: 'periodic', functions: 28, durationSec: 600, seed: 101 } },
  { name: 'poisson', description: 'independent Poisson arrivals, heavy-tailed rates', options: { pattern: 'poisson', functions: 16, durationSec: 600, seed: 102 } },
  { name: 'bursty', description: 'on/off bursts (seconds on, minutes off)', options: { pattern: 'bursty', functions: 12, durationSec: 600, seed: 103 } },
  { name: 'correlated', description: 'short functions bursting together in groups (dataSet_1-like)', options: { pattern: 'correlated', functions: 12, durationSec: 600, seed: 104 } },
  { name: 'diurnal', description: 'sinusoidal rate ramp over the run', options: { pattern: 'diurnal', functions: 10, durationSec: 600, seed: 105 } },
  { name: 'sparse', description: 'one-off invocations of many functions', options: { pattern: 'sparse', functions: 1200, durationSec: 600, seed: 106 } },
  { name: 'faas-mix', description: 'FaaS-like mix of all patterns (dataSet_3-like)', options: { pattern: 'mix', functions: 160, durationSec: 600, seed: 107 } },
];

export function workloadFamily(name: string): WorkloadFamily {
  const f = WORKLOAD_FAMILIES.find((w) => w.name === name);
  if (f === undefined) throw new Error(`unknown workload family ${name} (known: ${WORKLOAD_FAMILIES.map((w) => w.name).join(', ')})`);
  return f;
}

// ---------------------------------------------------------------------------------------------
// Output in the contest's exact line format

export function metaLine(m: MetaRecord): string {
  return `{"key": ${JSON.stringify(m.key)}, "runtime": ${JSON.stringify(m.runtime)}, "memoryInMb": ${m.memoryInMb}, "timeoutInSecs": ${m.timeoutInSecs}, "initDurationInMs": ${m.initDurationInMs}}`;
}

export function requestLine(r: RequestRecord): string {
  return `{"startTime": ${r.startTime}, "metaKey": ${JSON.stringify(r.metaKey)}, "durationsInMs": ${r.durationsInMs}, "statusCode": ${r.statusCode}}`;
}

const WRITE_BATCH_LINES = 4096;

function writeLines<T>(file: string, items: readonly T[], line: (x: T) => string): void {
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < items.length; i += WRITE_BATCH_LINES) {
      const parts: string[] = [];
      const end = Math.min(items.length, i + WRITE_BATCH_LINES);
      for (let j = i; j < end; j++) parts.push(line(items[j]));
      // Newline-separated without a trailing newline, like the contest's files.
      writeSync(fd, (i > 0 ? '\n' : '') + parts.join('\n'));
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes `dir/metas` and `dir/requests` (creating dir). */
export function writeDataset(dir: string, ds: GeneratedDataset): void {
  mkdirSync(dir, { recursive: true });
  writeLines(join(dir, 'metas'), ds.metas, metaLine);
  writeLines(join(dir, 'requests'), ds.requests, requestLine);
}
