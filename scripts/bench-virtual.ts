/**
 * Virtual-engine throughput on large generated traces (cached under .bench/, generated once).
 *
 *   node dist/scripts/bench-virtual.js [--trace contest-scale|stress|all] [--policy NAME]
 *                                      [--max-time DURATION] [--dir DIR] [--no-bound] [--json]
 *
 * Traces:
 * - `contest-scale`: the shape of the contest's largest dataset (dataSet_2: ~5 functions, millions
 *   of nearly back-to-back requests): 5 Poisson functions for an hour, ~4.4 M requests.
 * - `stress`: 50 Poisson functions for an hour at 20x rate, ~2.9 M requests; many more
 *   instances, idle timers and cold starts per request than any contest dataset.
 *
 * For each, the engine's requests per second of wall time (clairvoyant bound and score book
 * included) and, as a baseline measured in the same process, the bare loader pass over the
 * same file (no engine can replay a trace faster than it can read it). Each pass stops after
 * --max-time. Main-thread CPU is reported apart: large traces are parsed by a worker thread.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPolicy, policySpecProblem } from '../src/core/policies/policy-registry.js';
import { readProcessCpuMs } from '../src/load/process-sampler.js';
import { forEachRequestFieldsSync, loadMetasSync } from '../src/sim/datasets/dataset-loader.js';
import { datasetSource, runVirtual } from '../src/sim/virtual/virtual-engine.js';
import { durationArg } from '../src/load/bench-harness.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GENERATOR = join(PACKAGE_ROOT, 'dist', 'scripts', 'generate-dataset.js');

export interface BenchTrace {
  readonly name: string;
  readonly pattern: string;
  readonly functions: number;
  readonly durationSec: number;
  readonly rate: number;
  readonly seed: number;
}

export const BENCH_TRACES: readonly BenchTrace[] = [
  { name: 'contest-scale', pattern: 'poisson', functions: 5, durationSec: 3600, rate: 200, seed: 2 },
  { name: 'stress', pattern: 'poisson', functions: 50, durationSec: 3600, rate: 20, seed: 1 },
];
export const DEFAULT_MAX_TIME_MS = 60_000;
/** Throughput the issue asks of the engine. */
export const TARGET_REQUESTS_PER_SEC = 500_000;

class Stop extends Error {}

function cpuMs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
}

/** This thread's CPU time, ms (Linux; NaN elsewhere): process CPU also counts worker threads. */
function mainThreadCpuMs(): number {
  return readProcessCpuMs(process.pid, process.pid) ?? NaN;
}

function traceDir(t: BenchTrace): string {
  return join(PACKAGE_ROOT, '.bench', `virtual-${t.pattern}-${t.functions}x${t.durationSec}-r${t.rate}${t.seed === 1 ? '' : `-s${t.seed}`}`);
}

function ensureTrace(t: BenchTrace, dir: string): boolean {
  if (existsSync(join(dir, 'requests'))) return true;
  // In a child process: the generator holds the whole trace, which would hide our peak RSS.
  const gen = spawnSync(
    process.execPath,
    [GENERATOR, '--pattern', t.pattern, '--functions', String(t.functions), '--duration', `${t.durationSec}s`, '--rate', String(t.rate), '--seed', String(t.seed), '--out', dir],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (gen.status !== 0) process.stderr.write(`bench-virtual: generating the ${t.name} trace failed (status ${gen.status})\n`);
  return gen.status === 0;
}

export interface TraceResult {
  readonly trace: string;
  readonly dir: string;
  readonly policy: string;
  readonly bound: boolean;
  readonly complete: boolean;
  readonly loaderRequestsPerSec: number;
  readonly requests: number;
  readonly wallMs: number;
  readonly requestsPerSec: number;
  readonly mainThreadCpuMs: number;
  readonly processCpuMs: number;
  readonly peakRssMb: number;
  readonly score: number | undefined;
  readonly coldStarts: number | undefined;
  readonly boundScore: number | undefined;
  readonly targetMet: boolean;
}

function benchTrace(name: string, dir: string, policy: string, bound: boolean, maxMs: number): TraceResult {
  // Baseline: the bare loader over the same file (warms the page cache for the engine too).
  const metas = loadMetasSync(dir);
  let loaded = 0;
  const l0 = performance.now();
  try {
    forEachRequestFieldsSync(dir, metas, () => {
      if ((++loaded & 0xffff) === 0 && performance.now() - l0 > maxMs) throw new Stop();
    });
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  const loaderRate = loaded / ((performance.now() - l0) / 1000);

  // The engine: core, policy, simulated platform, ScoreBook and (unless --no-bound) the bound.
  let done = 0;
  let complete = true;
  const e0 = performance.now();
  const ec = process.cpuUsage();
  const m0 = mainThreadCpuMs();
  let result: ReturnType<typeof runVirtual> | undefined;
  try {
    result = runVirtual({
      source: datasetSource(dir),
      policy: createPolicy(policy),
      bound,
      onProgress: (n) => {
        done = n;
        if (performance.now() - e0 > maxMs) throw new Stop();
      },
    });
    done = result.requests;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    complete = false;
  }
  const wallMs = performance.now() - e0;
  const rate = done / (wallMs / 1000);
  return {
    trace: name,
    dir,
    policy,
    bound,
    complete,
    loaderRequestsPerSec: loaderRate,
    requests: done,
    wallMs,
    requestsPerSec: rate,
    mainThreadCpuMs: mainThreadCpuMs() - m0,
    processCpuMs: cpuMs(ec),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    score: result?.report.score,
    coldStarts: result?.report.coldStarts,
    boundScore: result?.bound?.score,
    targetMet: complete && rate >= TARGET_REQUESTS_PER_SEC,
  };
}

function describe(r: TraceResult): string {
  const k = (x: number): string => `${Math.round(x / 1000)}k`;
  const mainRate = r.requests / (r.mainThreadCpuMs / 1000);
  return [
    `trace ${r.trace}: ${r.dir}`,
    `  loader : ${k(r.loaderRequestsPerSec)} req/s wall (bare parse on this thread, the floor)`,
    `  engine : ${r.requests} requests in ${(r.wallMs / 1000).toFixed(2)} s = ${k(r.requestsPerSec)} req/s wall` +
      (Number.isNaN(mainRate) ? '' : `, ${k(mainRate)} req/s of main-thread CPU`) +
      ` (policy ${r.policy}, ${r.bound ? 'with bound' : 'no bound'}${r.complete ? '' : ', stopped early'})`,
    `  memory : peak RSS ${r.peakRssMb.toFixed(0)} MB (process so far)`,
    r.score !== undefined ? `  result : score ${r.score.toFixed(4)}, ${r.coldStarts} cold starts, bound ${r.boundScore?.toFixed(4) ?? '-'}` : '  result : (partial run)',
    `  target : ${k(TARGET_REQUESTS_PER_SEC)} req/s wall -> ${r.targetMet ? 'met' : 'NOT met'}`,
  ].join('\n');
}

function main(): number {
  const { values } = parseArgs({
    options: {
      trace: { type: 'string', default: 'all' },
      policy: { type: 'string', default: 'adaptive' },
      'max-time': { type: 'string' },
      dir: { type: 'string' },
      'no-bound': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  const usage = 'Usage: bench-virtual [--trace contest-scale|stress|all] [--policy NAME] [--max-time DURATION] [--dir DIR] [--no-bound] [--json]\n  durations take a unit: ms, s, m, h or d\n';
  if (values.help === true) {
    process.stdout.write(usage);
    return 0;
  }
  const policy = values.policy as string;
  const problem = policySpecProblem(policy);
  if (problem !== null) {
    process.stderr.write(`bench-virtual: ${problem}\n`);
    return 2;
  }
  const maxMs = durationArg('bench-virtual', '--max-time', values['max-time'], DEFAULT_MAX_TIME_MS);
  if (!(maxMs > 0)) {
    process.stderr.write('bench-virtual: --max-time must be positive\n');
    return 2;
  }
  const bound = values['no-bound'] !== true;
  let runs: { name: string; dir: string }[];
  if (values.dir !== undefined) runs = [{ name: values.dir.replace(/\/+$/, '').split('/').pop() ?? values.dir, dir: values.dir }];
  else {
    const wanted = values.trace === 'all' ? BENCH_TRACES : BENCH_TRACES.filter((t) => t.name === values.trace);
    if (wanted.length === 0) {
      process.stderr.write(`bench-virtual: unknown trace ${values.trace}; known: ${BENCH_TRACES.map((t) => t.name).join(', ')}, all\n`);
      return 2;
    }
    runs = [];
    for (const t of wanted) {
      const dir = traceDir(t);
      if (!ensureTrace(t, dir)) return 2;
      runs.push({ name: t.name, dir });
    }
  }
  const results = runs.map((r) => benchTrace(r.name, r.dir, policy, bound, maxMs));
  if (values.json === true) process.stdout.write(JSON.stringify({ bench: 'virtual', targetRequestsPerSec: TARGET_REQUESTS_PER_SEC, results }) + '\n');
  else process.stdout.write(results.map(describe).join('\n') + '\n');
  return 0;
}

process.exitCode = main();
