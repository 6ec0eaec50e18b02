/**
 * Benchmark 4 of issue 5, "many functions": per-call cost and timer overhead must stay flat as
 * the number of distinct functions with idle instances grows (1k, 10k, 100k keys).
 *
 * For each level (cumulatively, so 100k costs 100k cold starts, not 111k) it first gives every
 * key an idle instance (one Assign+Idle per new key against an instant platform stand-in), then:
 *  - measures warm Assign+Idle pairs over uniformly random keys of the level (closed loop):
 *    the scaler's CPU per pair from /proc, split into main thread and other threads;
 *  - measures the scaler's CPU while no calls arrive: what its timers (keep-alive expiry,
 *    counter refresh; the core's RealClock keeps one heap and one runtime timer per shard) cost
 *    with that many idle instances;
 *  - reports RSS and the live/idle instance counts from the scaler's counters.
 *
 * The fixed keep-alive policy (10 min) is used by default so instances stay idle for the whole
 * run, whatever a learning policy would decide about functions called once; `--policy adaptive`
 * measures the default policy instead.
 *
 *   node dist/scripts/bench-many-functions.js [--levels 1000,10000,100000] [--duration 3s] [--rounds 3]
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { PlatformServer } from '../src/sim/live/platform-server.js';
import { RawH2Client } from '../src/load/raw-h2-client.js';
import { KeyPopulation } from '../src/load/key-population.js';
import { runLoad } from '../src/load/load-runner.js';
import { readProcessRssMb } from '../src/load/process-sampler.js';
import {
  ChildSet, describeMachine, durationArg, fetchScalerTotals, medianOf, notWarm, readCpuSplit, startScaler,
} from '../src/load/bench-harness.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

export const DEFAULT_LEVELS = [1_000, 10_000, 100_000];
export const DEFAULT_DURATION_MS = 3_000;
/** Keep-alive of the fixed policy: longer than any run, so every instance stays idle. */
export const BENCH_KEEP_ALIVE_MS = 600_000;
/** New keys' first Assign+Idle pairs kept in flight while creating instances. */
export const CREATE_CONCURRENCY = 256;
export const IDLE_MEASURE_MS = 3_000;
export const KEY_PREFIX = 'many-fn-';

const { values } = parseArgs({
  options: {
    levels: { type: 'string', default: DEFAULT_LEVELS.join(',') },
    duration: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    shards: { type: 'string' },
    policy: { type: 'string', default: 'fixed' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const USAGE = `usage: bench-many-functions [--levels 1000,10000,100000] [--duration DURATION] [--rounds N]
                            [--concurrency N] [--shards N] [--policy fixed|adaptive] [--json]`;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const levels = values.levels.split(',').map(Number).sort((a, b) => a - b);
const durationMs = durationArg('bench-many-functions', '--duration', values.duration, DEFAULT_DURATION_MS);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const shards = values.shards !== undefined ? Number(values.shards) : os.availableParallelism();
if (levels.some((l) => !(l >= 1)) || !(durationMs > 0) || !(rounds >= 1) || !(concurrency >= 1) || !(shards >= 1)) {
  console.error(USAGE);
  process.exit(2);
}

/** Give keys [from, to) an idle instance each: one Assign then Idle per key. */
function createInstances(client: RawH2Client, from: number, to: number): Promise<number> {
  let next = from;
  let done = 0;
  let failed = 0;
  const total = to - from;
  return new Promise((resolve) => {
    if (total <= 0) {
      resolve(0);
      return;
    }
    const one = (): void => {
      if (next >= to) return;
      const i = next++;
      const key = `${KEY_PREFIX}${i}`;
      const rid = `create-${i}`;
      const end = (ok: boolean): void => {
        if (!ok) failed++;
        if (++done === total) resolve(failed);
        else one();
      };
      client.assign(key, rid, 128, (err, out) => {
        if (err !== null || out === null || out.status !== 0) {
          end(false);
          return;
        }
        client.idle(key, rid, out.instanceId, (ie, status) => end(ie === null && status === 0));
      });
    };
    for (let k = 0; k < CREATE_CONCURRENCY; k++) one();
  });
}

interface LevelResult {
  keys: number;
  createSecs: number;
  createFailures: number;
  pairsPerSec: number;
  cpuUsPerPair: number;
  mainUsPerPair: number;
  otherUsPerPair: number;
  idleCpuMsPerSec: number;
  rssMb: number;
  idleInstances: number;
  liveSlots: number;
  errors: number;
  /** Slots the platform created during the measured rounds (warm: ~0). */
  slotsCreated: number;
}

const children = new ChildSet();
process.once('SIGINT', () => {
  children.killAll();
  process.exit(130);
});

let exitCode = 0;
const platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 0, initDurationMs: () => 0 });
try {
  const platformPort = await platform.start();
  const scaler = await startScaler(children, 'scaler', {
    platformAddress: `127.0.0.1:${platformPort}`,
    shards,
    extraArgs: ['--policy', values.policy, ...(values.policy === 'fixed' ? ['--keep-alive', `${BENCH_KEEP_ALIVE_MS}ms`] : [])],
  });
  const client = new RawH2Client({ target: `127.0.0.1:${scaler.port}` });
  await client.connect();
  if (!values.json) {
    console.log(`many functions: ${describeMachine()}; ${shards} shard(s), policy ${values.policy}, ${concurrency} callers, ` +
      `${rounds} round(s) of ${durationMs / 1000} s per level\n`);
  }
  const results: LevelResult[] = [];
  let created = 0;
  for (const level of levels) {
    const t0 = performance.now();
    const createFailures = await createInstances(client, created, level);
    const createSecs = (performance.now() - t0) / 1000;
    created = level;
    const population = new KeyPopulation({ distribution: 'uniform', keys: level, prefix: KEY_PREFIX, seed: level });
    await runLoad({ client, population, mode: 'closed', concurrency, durationMs: 1_000 });
    const samples: Array<{ pps: number; cpu: number; main: number; other: number; errors: number }> = [];
    const slots0 = platform.createdSlotCount;
    let measuredPairs = 0;
    for (let r = 0; r < rounds; r++) {
      const c0 = readCpuSplit(scaler.pid);
      const res = await runLoad({ client, population, mode: 'closed', concurrency, durationMs });
      const c1 = readCpuSplit(scaler.pid);
      const pairs = Math.max(1, res.pairsOk);
      measuredPairs += res.pairsOk;
      samples.push({
        pps: res.pairsPerSec,
        cpu: ((c1.totalMs - c0.totalMs) * 1000) / pairs,
        main: ((c1.mainMs - c0.mainMs) * 1000) / pairs,
        other: ((c1.totalMs - c1.mainMs - (c0.totalMs - c0.mainMs)) * 1000) / pairs,
        errors: res.errorCount,
      });
    }
    const slotsCreated = platform.createdSlotCount - slots0;
    const cold = notWarm(`${level} keys, policy ${values.policy}`, slotsCreated, measuredPairs);
    if (cold !== null) {
      console.error(`FAIL: ${cold}`);
      exitCode = 1;
    }
    const i0 = readCpuSplit(scaler.pid);
    await new Promise((r) => setTimeout(r, IDLE_MEASURE_MS));
    const i1 = readCpuSplit(scaler.pid);
    const totals = await fetchScalerTotals(scaler.statsPort);
    const lr: LevelResult = {
      keys: level,
      createSecs,
      createFailures,
      pairsPerSec: medianOf(samples.map((s) => s.pps)),
      cpuUsPerPair: medianOf(samples.map((s) => s.cpu)),
      mainUsPerPair: medianOf(samples.map((s) => s.main)),
      otherUsPerPair: medianOf(samples.map((s) => s.other)),
      idleCpuMsPerSec: ((i1.totalMs - i0.totalMs) * 1000) / IDLE_MEASURE_MS,
      rssMb: readProcessRssMb(scaler.pid) ?? NaN,
      idleInstances: totals.idleInstances ?? NaN,
      liveSlots: totals.liveSlots ?? NaN,
      errors: samples.reduce((n, s) => n + s.errors, 0),
      slotsCreated,
    };
    results.push(lr);
    if (!values.json) {
      console.log(`${String(level).padStart(7)} keys: created in ${createSecs.toFixed(1)} s (${createFailures} failed); ` +
        `${lr.pairsPerSec.toFixed(0)} pairs/s, ${lr.cpuUsPerPair.toFixed(0)} us/pair (main ${lr.mainUsPerPair.toFixed(0)}, other ${lr.otherUsPerPair.toFixed(0)}); ` +
        `idle CPU ${lr.idleCpuMsPerSec.toFixed(1)} ms/s; RSS ${lr.rssMb.toFixed(0)} MiB; ${lr.idleInstances} idle instances, ${lr.liveSlots} live slots; ` +
        `${slotsCreated} slots created while measured`);
    }
  }
  client.close();
  const first = results[0]!;
  const last = results[results.length - 1]!;
  const growth = last.cpuUsPerPair / first.cpuUsPerPair;
  const errors = results.reduce((n, r) => n + r.errors + r.createFailures, 0);
  if (values.json) {
    console.log(JSON.stringify({ bench: 'many-functions', machine: describeMachine(), shards, policy: values.policy, concurrency, durationMs, rounds, results, cpuGrowth: growth, errors }));
  } else {
    console.log('\n| keys with idle instances | pairs/s | scaler CPU us/pair (main + other) | idle CPU ms/s | RSS MiB |');
    console.log('|---|---|---|---|---|');
    for (const r of results) {
      console.log(`| ${r.keys} | ${r.pairsPerSec.toFixed(0)} | ${r.cpuUsPerPair.toFixed(0)} (${r.mainUsPerPair.toFixed(0)} + ${r.otherUsPerPair.toFixed(0)}) | ` +
        `${r.idleCpuMsPerSec.toFixed(1)} | ${r.rssMb.toFixed(0)} |`);
    }
    console.log(`\nCPU per pair at ${last.keys} keys / at ${first.keys} keys = ${growth.toFixed(2)}x`);
    if (errors > 0) console.log(`errors: ${errors}`);
  }
  if (errors > 0) exitCode = 1;
} catch (e) {
  console.error(`bench-many-functions: ${(e as Error).message}`);
  exitCode = 1;
} finally {
  await children.stopAll();
  await platform.close();
}
process.exit(exitCode);
