/**
 * Virtual-engine throughput on a large generated trace (cached under .bench/).
 *
 *   node dist/scripts/bench-virtual.js [--policy NAME] [--max-seconds S] [--dir DIR] [--no-bound]
 *
 * Default trace: 50 Poisson functions for an hour at 20x rate (~2.9 M requests, ~360 MB),
 * generated once. Reports requests per second of wall and CPU time, peak RSS, and as a baseline
 * measured in the same process the bare loader pass over the same file (the floor: no engine can
 * replay a trace faster than it can read it). Each pass stops after --max-seconds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPolicy, policyNames } from '../src/core/policies/policy-registry.js';
import { forEachRequestFieldsSync, loadMetasSync } from '../src/sim/dataset-loader.js';
import { datasetSource, runVirtual } from '../src/sim/virtual-engine.js';

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GENERATOR = join(PACKAGE_ROOT, 'dist', 'scripts', 'generate-dataset.js');
export const BENCH_TRACE = { pattern: 'poisson', functions: 50, durationSec: 3600, rate: 20, seed: 1 } as const;
export const DEFAULT_MAX_SECONDS = 60;
/** Throughput the issue asks of the engine on this trace. */
export const TARGET_REQUESTS_PER_SEC = 500_000;

class Stop extends Error {}

function cpuMs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
}

function main(): number {
  const { values } = parseArgs({
    options: {
      policy: { type: 'string', default: 'adaptive' },
      'max-seconds': { type: 'string', default: String(DEFAULT_MAX_SECONDS) },
      dir: { type: 'string' },
      'no-bound': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write('Usage: bench-virtual [--policy NAME] [--max-seconds S] [--dir DIR] [--no-bound]\n');
    return 0;
  }
  const policy = values.policy as string;
  if (!policyNames().includes(policy)) {
    process.stderr.write(`bench-virtual: unknown policy ${policy}; known: ${policyNames().join(', ')}\n`);
    return 2;
  }
  const maxMs = Number(values['max-seconds']) * 1000;
  if (!(maxMs > 0)) {
    process.stderr.write('bench-virtual: --max-seconds must be positive\n');
    return 2;
  }
  const dir = values.dir ?? join(PACKAGE_ROOT, '.bench', 'virtual-poisson-50x3600-r20');
  if (!existsSync(join(dir, 'requests'))) {
    // In a child process: the generator holds the whole trace, which would hide our peak RSS.
    const t = BENCH_TRACE;
    const gen = spawnSync(
      process.execPath,
      [GENERATOR, '--pattern', t.pattern, '--functions', String(t.functions), '--duration', String(t.durationSec), '--rate', String(t.rate), '--seed', String(t.seed), '--out', dir],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (gen.status !== 0) {
      process.stderr.write(`bench-virtual: generating the trace failed (status ${gen.status})\n`);
      return 2;
    }
  }

  // Baseline: the bare loader over the same file (warms the page cache for the engine too).
  const metas = loadMetasSync(dir);
  let loaded = 0;
  let checksum = 0;
  const l0 = performance.now();
  const lc = process.cpuUsage();
  try {
    forEachRequestFieldsSync(dir, metas, (_t, _m, dur) => {
      checksum += dur;
      if ((++loaded & 0xffff) === 0 && performance.now() - l0 > maxMs) throw new Stop();
    });
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  const loaderWall = performance.now() - l0;
  const loaderCpu = cpuMs(lc);
  const loaderRate = loaded / (loaderWall / 1000);

  // The engine: core, policy, simulated platform, ScoreBook and (unless --no-bound) the bound.
  let done = 0;
  let complete = true;
  const e0 = performance.now();
  const ec = process.cpuUsage();
  let result: ReturnType<typeof runVirtual> | undefined;
  try {
    result = runVirtual({
      source: datasetSource(dir),
      policy: createPolicy(policy),
      bound: values['no-bound'] !== true,
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
  const engineWall = performance.now() - e0;
  const engineCpu = cpuMs(ec);
  const engineRate = done / (engineWall / 1000);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;

  const k = (x: number): string => `${Math.round(x / 1000)}k`;
  process.stdout.write(
    [
      `trace ${dir} (checksum ${checksum})`,
      `loader  : ${loaded} requests in ${(loaderWall / 1000).toFixed(2)} s = ${k(loaderRate)} req/s wall, ${k(loaded / (loaderCpu / 1000))} req/s CPU`,
      `engine  : ${done} requests in ${(engineWall / 1000).toFixed(2)} s = ${k(engineRate)} req/s wall, ${k(done / (engineCpu / 1000))} req/s CPU` +
        ` (policy ${policy}${values['no-bound'] === true ? ', no bound' : ', with bound'}${complete ? '' : `, stopped after ${maxMs / 1000} s`})`,
      `ratio   : engine / loader = ${(engineRate / loaderRate).toFixed(3)} (wall)`,
      `memory  : peak RSS ${peakRssMb.toFixed(0)} MB`,
      result !== undefined ? `result  : score ${result.report.score.toFixed(4)}, ${result.report.coldStarts} cold starts, bound ${result.bound?.score.toFixed(4) ?? '-'}` : 'result  : (partial run)',
      `target  : ${k(TARGET_REQUESTS_PER_SEC)} req/s wall -> ${engineRate >= TARGET_REQUESTS_PER_SEC ? 'met' : 'NOT met'}`,
    ].join('\n') + '\n',
  );
  return 0;
}

process.exitCode = main();
