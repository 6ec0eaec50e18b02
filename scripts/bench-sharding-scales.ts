/**
 * Benchmark 2 of issue 5, "sharding scales": the warm load of benchmark 1 (Assign+Idle pairs, a
 * free instance always available) through the scaler with 1 shard and with N shards, with the
 * shards' own work as is and made artificially heavier (`SCALER_BENCH_SHARD_WORK_US`, a busy-spin
 * per request in each worker), and with both router batching modes (`--batch-flush`).
 *
 * Per configuration it reports pairs/s, the scaler's CPU per pair split into its main thread
 * (gRPC + routing) and its other threads (shard workers, GC helpers), how busy the main thread
 * was, and the mean requests per shard message (router counters). Configurations run in
 * alternating rounds so a shared machine's noise spreads evenly; medians are reported.
 *
 *   node dist/scripts/bench-sharding-scales.js [--shards N] [--work-us 250] [--duration 3s] [--rounds 3]
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { PlatformServer } from '../src/sim/live/platform-server.js';
import { createLoadClient } from '../src/load/create-load-client.js';
import { KeyPopulation } from '../src/load/key-population.js';
import { runLoad } from '../src/load/load-runner.js';
import {
  ChildSet, describeMachine, durationArg, fetchScalerTotals, medianOf, notWarm, readCpuSplit, startScaler, type ScalerChild,
} from '../src/load/bench-harness.js';
import { BENCH_SHARD_WORK_ENV } from '../src/shard/bench-shard-work.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

export const DEFAULT_WORK_US = 250;
export const DEFAULT_DURATION_MS = 3_000;
export const WARMUP_MS = 1_000;

const USAGE = `usage: bench-sharding-scales [options]
  --shards N       the multi-shard configuration (default: CPU cores, at least 2)
  --work-us US     extra busy work per request in each shard for the "heavy" runs (default ${DEFAULT_WORK_US})
  --duration D     measured time per run, e.g. 3s (default 3s)
  --rounds N       alternating rounds; medians are reported (default 3)
  --concurrency N  closed-loop callers (default 64)
  --keys N         distinct keys, uniform (default 16)
  --flush LIST     batch modes to compare, comma-separated (default immediate,microtask)
  --json           one JSON line
  --help`;

const { values } = parseArgs({
  options: {
    shards: { type: 'string' },
    'work-us': { type: 'string', default: String(DEFAULT_WORK_US) },
    duration: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    keys: { type: 'string', default: '16' },
    flush: { type: 'string', default: 'immediate,microtask' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const nShards = values.shards !== undefined ? Number(values.shards) : Math.max(2, os.availableParallelism());
const workUs = Number(values['work-us']);
const durationMs = durationArg('bench-sharding-scales', '--duration', values.duration, DEFAULT_DURATION_MS);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const keys = Number(values.keys);
const flushes = values.flush.split(',').filter((f) => f !== '');
if (!(nShards >= 2) || !(workUs > 0) || !(durationMs > 0) || !(rounds >= 1) || !(concurrency >= 1) || !(keys >= 1) ||
  flushes.some((f) => f !== 'immediate' && f !== 'microtask')) {
  console.error(USAGE);
  process.exit(2);
}

interface Config {
  readonly name: string;
  readonly shards: number;
  readonly workUs: number;
  readonly flush: string;
}

interface Sample {
  pairsPerSec: number;
  cpuUsPerPair: number;
  mainUsPerPair: number;
  otherUsPerPair: number;
  /** Main thread busy share of wall time, percent of one core. */
  mainCpuPercent: number;
  totalCpuPercent: number;
  requestsPerBatch: number;
  p99Ms: number;
  errors: number;
  /** Cold starts during the measured run (warm: ~0), and the pairs it measured. */
  coldStarts: number;
  pairs: number;
}

const configs: Config[] = [];
for (const flush of flushes) {
  for (const w of [0, workUs]) {
    for (const s of [1, nShards]) {
      configs.push({ name: `${s} shard${s > 1 ? 's' : ''}, work ${w === 0 ? 'none' : `+${w}us/req`}, ${flush}`, shards: s, workUs: w, flush });
    }
  }
}

const children = new ChildSet();
process.once('SIGINT', () => {
  children.killAll();
  process.exit(130);
});

async function measure(scaler: ScalerChild): Promise<Sample> {
  const client = createLoadClient({ kind: 'raw', target: `127.0.0.1:${scaler.port}` });
  await client.connect();
  const population = new KeyPopulation({ distribution: keys === 1 ? 'hot' : 'uniform', keys });
  // Warm-up run (JIT, instances created), then the measured one with counters read around it.
  await runLoad({ client, population, mode: 'closed', concurrency, durationMs: WARMUP_MS });
  const before = await fetchScalerTotals(scaler.statsPort);
  const cpu0 = readCpuSplit(scaler.pid);
  const t0 = performance.now();
  const r = await runLoad({ client, population, mode: 'closed', concurrency, durationMs });
  const wall = performance.now() - t0;
  const cpu1 = readCpuSplit(scaler.pid);
  const after = await fetchScalerTotals(scaler.statsPort);
  client.close();
  const pairs = Math.max(1, r.pairsOk);
  const totalMs = cpu1.totalMs - cpu0.totalMs;
  const mainMs = cpu1.mainMs - cpu0.mainMs;
  const reqs = after.routerRequests! - before.routerRequests!;
  const batches = after.routerBatchesSent! - before.routerBatchesSent!;
  return {
    pairsPerSec: r.pairsPerSec,
    cpuUsPerPair: (totalMs * 1000) / pairs,
    mainUsPerPair: (mainMs * 1000) / pairs,
    otherUsPerPair: ((totalMs - mainMs) * 1000) / pairs,
    mainCpuPercent: (mainMs / wall) * 100,
    totalCpuPercent: (totalMs / wall) * 100,
    requestsPerBatch: batches > 0 ? reqs / batches : 0,
    p99Ms: r.pair.p99Ms,
    errors: r.errorCount,
    coldStarts: after.coldStarts! - before.coldStarts!,
    pairs: r.pairsOk,
  };
}

/** Pairs/s that one dedicated core per thread would sustain, from the measured CPU per pair. */
function capacities(r: Sample & { shards: number }): { main: number; shards: number } {
  return { main: 1e6 / r.mainUsPerPair, shards: (1e6 * r.shards) / r.otherUsPerPair };
}

function med(samples: Sample[]): Sample {
  const keysOf = Object.keys(samples[0]!) as (keyof Sample)[];
  const out = {} as Sample;
  for (const k of keysOf) out[k] = medianOf(samples.map((s) => s[k]));
  out.errors = samples.reduce((n, s) => n + s.errors, 0);
  out.coldStarts = samples.reduce((n, s) => n + s.coldStarts, 0);
  out.pairs = samples.reduce((n, s) => n + s.pairs, 0);
  return out;
}

let exitCode = 0;
const platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 0, initDurationMs: () => 0 });
try {
  const platformPort = await platform.start();
  const scalers: ScalerChild[] = [];
  for (const c of configs) {
    scalers.push(await startScaler(children, c.name, {
      platformAddress: `127.0.0.1:${platformPort}`,
      shards: c.shards,
      // fixed-5m keeps instances: the measured path is the warm one (checked below).
      extraArgs: ['--batch-flush', c.flush, '--policy', 'fixed-5m'],
      env: { [BENCH_SHARD_WORK_ENV]: String(c.workUs) },
    }));
  }
  if (!values.json) {
    console.log(`sharding scales: ${describeMachine()}; ${concurrency} callers, ${keys} keys, ${rounds} round(s) of ` +
      `${durationMs / 1000} s per configuration, alternating\n`);
  }
  const samples: Sample[][] = configs.map(() => []);
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < configs.length; i++) {
      const s = await measure(scalers[i]!);
      samples[i]!.push(s);
      if (!values.json) {
        console.log(`round ${round} ${configs[i]!.name.padEnd(38)} ${s.pairsPerSec.toFixed(0).padStart(6)} pairs/s, ` +
          `${s.cpuUsPerPair.toFixed(0)} us/pair (main ${s.mainUsPerPair.toFixed(0)}, other ${s.otherUsPerPair.toFixed(0)}), ` +
          `main thread ${s.mainCpuPercent.toFixed(0)}%, ${s.requestsPerBatch.toFixed(1)} req/msg, ${s.coldStarts} cold starts while measured`);
      }
    }
  }
  const results = configs.map((c, i) => ({ ...c, ...med(samples[i]!) }));
  const find = (shards: number, w: number, flush: string): (typeof results)[number] | undefined =>
    results.find((r) => r.shards === shards && r.workUs === w && r.flush === flush);
  const f0 = flushes[0]!;
  const light1 = find(1, 0, f0);
  const lightN = find(nShards, 0, f0);
  const heavy1 = find(1, workUs, f0);
  const heavyN = find(nShards, workUs, f0);
  const capN = heavyN ? capacities(heavyN) : undefined;
  const cap1 = heavy1 ? capacities(heavy1) : undefined;
  const verdict = {
    heavyCapacitySpeedup: capN && cap1 ? Math.min(capN.main, capN.shards) / Math.min(cap1.main, cap1.shards) : NaN,
    lightSpeedup: light1 && lightN ? lightN.pairsPerSec / light1.pairsPerSec : NaN,
    heavySpeedup: heavy1 && heavyN ? heavyN.pairsPerSec / heavy1.pairsPerSec : NaN,
  };
  const errors = results.reduce((n, r) => n + r.errors, 0);
  for (const r of results) {
    const cold = notWarm(r.name, r.coldStarts, r.pairs);
    if (cold !== null) {
      console.error(`FAIL: ${cold}`);
      exitCode = 1;
    }
  }
  if (values.json) {
    console.log(JSON.stringify({ bench: 'sharding-scales', machine: describeMachine(), nShards, workUs, concurrency, keys, durationMs, rounds, results, ...verdict, errors }));
  } else {
    console.log('\nmedians:');
    console.log('| configuration | pairs/s | scaler CPU us/pair (main + other) | main-thread cap | shard-side cap | limit | requests/message |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of results) {
      const cap = capacities(r);
      console.log(`| ${r.name} | ${r.pairsPerSec.toFixed(0)} | ${r.cpuUsPerPair.toFixed(0)} (${r.mainUsPerPair.toFixed(0)} + ${r.otherUsPerPair.toFixed(0)}) | ` +
        `${cap.main.toFixed(0)} | ${cap.shards.toFixed(0)} | ${cap.main <= cap.shards ? 'main thread' : 'shards'} | ${r.requestsPerBatch.toFixed(1)} |`);
    }
    console.log('\n(caps: pairs/s one fully busy core would sustain from the measured CPU per pair: main thread = 1e6 / main us, ' +
      'shard side = 1e6 x shards / other us, assuming a core per shard; on a shared machine these are steadier than pairs/s)');
    console.log(`\n${f0}: ${nShards} shards / 1 shard throughput = ${verdict.lightSpeedup.toFixed(2)}x with the real shard work, ` +
      `${verdict.heavySpeedup.toFixed(2)}x with +${workUs} us/request of shard work ` +
      `(capacity model: ${verdict.heavyCapacitySpeedup.toFixed(2)}x)`);
    if (errors > 0) console.log(`errors: ${errors}`);
  }
  if (errors > 0) exitCode = 1;
} catch (e) {
  console.error(`bench-sharding-scales: ${(e as Error).message}`);
  exitCode = 1;
} finally {
  await children.stopAll();
  await platform.close();
}
process.exit(exitCode);
