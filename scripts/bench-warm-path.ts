/**
 * Benchmark 1 of issue 5, "warm path vs the limit": Assign+Idle pairs/s through the scaler with
 * a free instance always available, against a no-op grpc-js Scaler measured in the same run
 * (the ceiling of the gRPC stack on this machine), and the scaler's p99 at half its saturation.
 *
 * Starts a platform stand-in (in this process, instant CreateSlot/Init), the scaler and the
 * no-op server (child processes), then drives each with the load generator:
 *
 *   node dist/scripts/bench-warm-path.js [--duration 10] [--concurrency 64] [--shards 2] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PlatformServer } from '../src/sim/platform-server.js';
import { createLoadClient, LOAD_CLIENT_KINDS, type LoadClientKind } from '../src/load/create-load-client.js';
import { KeyPopulation } from '../src/load/key-population.js';
import { runLoad, type LoadMode, type LoadRunResult } from '../src/load/load-runner.js';
import { formatLoadResult } from '../src/load/load-report.js';
import { freePort } from '../src/free-port.js';
import { waitForPort } from '../src/load/bench-harness.js';

export const BENCH_WARMUP_S = 2;
/** How long a child may take to shut down gracefully before it is killed. */
export const CHILD_STOP_GRACE_MS = 5_000;
/** The issue's targets: the scaler reaches this share of the no-op ceiling ... */
export const TARGET_CEILING_RATIO = 0.8;
/** ... and its p99 pair latency at half of saturation stays under this. */
export const TARGET_HALF_LOAD_P99_MS = 2;

const USAGE = `usage: bench-warm-path [options]
  --duration S        measured seconds per run (default 5)
  --rounds N          alternate no-op and scaler saturation runs N times; medians are compared,
                      which keeps a noisy (shared) machine from skewing the ratio (default 3)
  --concurrency N     closed-loop callers for the saturation runs (default 64)
  --keys N            distinct function keys, uniform (default 16)
  --shards N          scaler shard workers (default: CPU cores)
  --client raw|grpc-js  load-generator client for the main runs (default raw)
  --compare-clients   also measure the no-op ceiling with the other client mode
  --json              one JSON line with every run
  --help`;

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    keys: { type: 'string', default: '16' },
    shards: { type: 'string' },
    client: { type: 'string', default: 'raw' },
    'compare-clients': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const durationMs = Number(values.duration) * 1000;
const concurrency = Number(values.concurrency);
const keys = Number(values.keys);
const shards = values.shards !== undefined ? Number(values.shards) : os.availableParallelism();
const clientKind = values.client as LoadClientKind;
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(USAGE);
  process.exit(2);
}
if (!(durationMs > 0) || !(concurrency >= 1) || !(keys >= 1) || !(shards >= 1) || !LOAD_CLIENT_KINDS.includes(clientKind)) {
  console.error(USAGE);
  process.exit(2);
}

const distDir = fileURLToPath(new URL('..', import.meta.url)); // dist/
const children: ChildProcess[] = [];



function startChild(name: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal === null && !stopping) console.error(`${name} exited (${code}): ${stderr}`);
  });
  children.push(child);
  return child;
}

let stopping = false;
/** SIGTERM the children, then SIGKILL whichever has not exited after the grace period. */
async function stopChildren(): Promise<void> {
  stopping = true;
  await Promise.all(children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) {
      resolve();
      return;
    }
    const timer = setTimeout(() => c.kill('SIGKILL'), CHILD_STOP_GRACE_MS);
    c.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.kill('SIGTERM');
  })));
}
process.once('SIGINT', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  process.exit(130);
});

function oneLine(label: string, r: LoadRunResult): string {
  const t = r.target ? `, target cpu ${r.target.cpuPercent.toFixed(0)}% (${(r.targetCpuUsPerPair ?? 0).toFixed(0)} us/pair)` : '';
  return `${label}: ${r.pairsPerSec.toFixed(0)} pairs/s, pair p99 ${r.pair.p99Ms.toFixed(2)} ms, errors ${r.errorCount}, ` +
    `loadgen cpu ${r.loadgenCpuPercent.toFixed(0)}% (${r.loadgenCpuUsPerPair.toFixed(0)} us/pair)${t}`;
}

async function measure(
  label: string, port: number, pid: number | undefined, kind: LoadClientKind, mode: LoadMode, rate?: number,
): Promise<LoadRunResult> {
  const client = createLoadClient({ kind, target: `127.0.0.1:${port}` });
  await client.connect();
  const r = await runLoad({
    client,
    population: new KeyPopulation({ distribution: keys === 1 ? 'hot' : 'uniform', keys }),
    mode,
    concurrency,
    ...(rate !== undefined ? { ratePerSec: rate } : {}),
    warmupMs: BENCH_WARMUP_S * 1000,
    durationMs,
    ...(pid !== undefined ? { pid } : {}),
  });
  client.close();
  if (!values.json) console.log(oneLine(label, r));
  return r;
}

/** The run with the median throughput. */
function median(runs: LoadRunResult[]): LoadRunResult {
  return [...runs].sort((a, b) => a.pairsPerSec - b.pairsPerSec)[Math.floor(runs.length / 2)]!;
}

let exitCode = 0;
const platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 0, initDurationMs: () => 0 });
try {
  const platformPort = await platform.start();
  const noopPort = await freePort();
  const scalerPort = await freePort();
  const noop = startChild('noop-scaler', [`${distDir}scripts/noop-scaler.js`, '--port', String(noopPort), '--host', '127.0.0.1']);
  const scaler = startChild('scaler', [
    `${distDir}src/main.js`, '--address', `127.0.0.1:${scalerPort}`, '--platform', `127.0.0.1:${platformPort}`,
    '--shards', String(shards), '--stats-port', '0', '--log-level', 'warn',
  ]);
  await Promise.all([waitForPort(noopPort, noop, 'noop-scaler'), waitForPort(scalerPort, scaler, 'scaler')]);

  if (!values.json) {
    console.log(`warm path: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ` +
      `${shards} shard(s), ${concurrency} callers, ${keys} key(s), ${rounds} round(s) of ${durationMs / 1000} s\n`);
  }
  const other: LoadClientKind = clientKind === 'raw' ? 'grpc-js' : 'raw';
  const all: Record<string, LoadRunResult[]> = { noop: [], scaler: [] };
  if (values['compare-clients']) all[`noop-${other}`] = [];
  for (let i = 1; i <= rounds; i++) {
    all.noop!.push(await measure(`round ${i} no-op ceiling (${clientKind})`, noopPort, noop.pid, clientKind, 'closed'));
    if (values['compare-clients']) {
      all[`noop-${other}`]!.push(await measure(`round ${i} no-op ceiling (${other})`, noopPort, noop.pid, other, 'closed'));
    }
    all.scaler!.push(await measure(`round ${i} scaler saturation (${clientKind})`, scalerPort, scaler.pid, clientKind, 'closed'));
  }
  const runs: Record<string, LoadRunResult> = {};
  for (const [name, rs] of Object.entries(all)) runs[name] = median(rs);
  const halfRate = Math.max(1, Math.round(runs.scaler!.pairsPerSec / 2));
  runs.scalerHalf = await measure(`scaler at half saturation (${halfRate} pairs/s, open loop)`, scalerPort, scaler.pid, clientKind, 'open', halfRate);
  // The same rate against the no-op server: the latency floor of this machine's gRPC stack and
  // load generator, so the scaler's tail can be told apart from theirs.
  runs.noopHalf = await measure(`no-op at the same rate (${halfRate} pairs/s, open loop)`, noopPort, noop.pid, clientKind, 'open', halfRate);
  const halfLabels: Record<string, string> = { scalerHalf: 'scaler, half saturation', noopHalf: 'no-op, same rate' };
  if (!values.json) {
    console.log('');
    for (const [name, r] of Object.entries(runs)) console.log(`${formatLoadResult(r, halfLabels[name] ?? `${name} (median of ${rounds})`)}\n`);
  }
  const runsNoop = runs.noop!;
  const runsScaler = runs.scaler!;
  const runsHalf = runs.scalerHalf;
  const noopHalfP99 = runs.noopHalf.pair.p99Ms;
  const ratio = runsNoop.pairsPerSec > 0 ? runsScaler.pairsPerSec / runsNoop.pairsPerSec : 0;
  const p99 = runsHalf.pair.p99Ms;
  const errors = Object.values(all).flat().concat(runsHalf, runs.noopHalf).reduce((n, r) => n + r.errorCount, 0);
  // CPU per pair is steadier than throughput when other work shares the machine.
  const noopCpu = runsNoop.targetCpuUsPerPair ?? 0;
  const scalerCpu = runsScaler.targetCpuUsPerPair ?? 0;
  const verdict = {
    ceilingCpuUsPerPair: noopCpu,
    scalerCpuUsPerPair: scalerCpu,
    ceilingPairsPerSec: runsNoop.pairsPerSec,
    scalerPairsPerSec: runsScaler.pairsPerSec,
    ratio,
    ratioTarget: TARGET_CEILING_RATIO,
    halfLoadRatePerSec: halfRate,
    halfLoadP99Ms: p99,
    noopSameRateP99Ms: noopHalfP99,
    p99TargetMs: TARGET_HALF_LOAD_P99_MS,
    errors,
  };
  if (values.json) {
    const perRound = Object.fromEntries(Object.entries(all).map(([k, rs]) => [k, rs.map((r) => r.pairsPerSec)]));
    console.log(JSON.stringify({ bench: 'warm-path', shards, concurrency, keys, client: clientKind, durationMs, rounds, ...verdict, perRound, runs }));
  } else {
    console.log(`scaler / no-op ceiling (medians): ${runsScaler.pairsPerSec.toFixed(0)} / ${runsNoop.pairsPerSec.toFixed(0)} pairs/s = ` +
      `${(ratio * 100).toFixed(1)}% (target >= ${TARGET_CEILING_RATIO * 100}%)`);
    console.log(`target CPU per pair (medians' runs): scaler ${scalerCpu.toFixed(0)} us, no-op ${noopCpu.toFixed(0)} us ` +
      `(scaler costs ${noopCpu > 0 ? (scalerCpu / noopCpu).toFixed(2) : '?'}x the gRPC stack alone)`);
    console.log(`p99 pair latency at half saturation (${halfRate} pairs/s): ${p99.toFixed(3)} ms (target < ${TARGET_HALF_LOAD_P99_MS} ms); ` +
      `no-op server at the same rate: ${noopHalfP99.toFixed(3)} ms`);
    if (errors > 0) console.log(`errors: ${errors} (see the runs above)`);
  }
  if (errors > 0) exitCode = 1;
} catch (e) {
  console.error(`bench-warm-path: ${(e as Error).message}`);
  exitCode = 1;
} finally {
  // The platform stays up until the scaler has gone, so its shutdown can still reach it.
  await stopChildren();
  await platform.close();
}
process.exit(exitCode);
