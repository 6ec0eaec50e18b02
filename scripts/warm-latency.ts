/**
 * Warm-path latency of the real scaler: sequential Assign+Idle pairs of one function whose
 * instance already exists, over loopback with grpc-js, one call at a time (no queueing, so this
 * is the per-call cost, not throughput under load).
 *
 * Starts a stand-in platform (in this process, 1 ms CreateSlot and Init) and the scaler
 * (`dist/src/main.js`, child process), creates the instance with one pair, runs `--warmup`
 * unmeasured pairs, then measures `--pairs` pairs:
 *
 *   node dist/scripts/warm-latency.js [--shards 2] [--pairs 5000] [--warmup 500] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { loadProto, Status, type ScalerClient } from '../src/wire/proto.js';
import { PlatformServer } from '../src/sim/live/platform-server.js';
import { durationArg, notWarm } from '../src/load/bench-harness.js';
import { formatDuration } from '../src/duration.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

export const DEFAULT_PAIRS = 5_000;
export const DEFAULT_WARMUP_PAIRS = 500;
/** The whole run (start, warm-up, measurement, stop) must end within this. */
export const DEFAULT_TIME_LIMIT_MS = 120_000;
export const SCALER_START_TIMEOUT_MS = 15_000;
export const CALL_DEADLINE_MS = 5_000;
/** Stand-in platform latencies: tiny, the cold start is not what is measured. */
export const PLATFORM_LATENCY_MS = 1;

const USAGE = `usage: warm-latency [options]
  --shards N        scaler shard workers (default 2)
  --pairs N         measured Assign+Idle pairs (default ${DEFAULT_PAIRS})
  --warmup N        unmeasured pairs first (default ${DEFAULT_WARMUP_PAIRS})
  --policy NAME     scaler policy (default: the scaler's)
  --time-limit D    give up after this long, e.g. 2m (default ${formatDuration(DEFAULT_TIME_LIMIT_MS)})
  --json            one JSON line instead of the table
  --help`;

const { values } = parseArgs({
  options: {
    shards: { type: 'string', default: '2' },
    pairs: { type: 'string', default: String(DEFAULT_PAIRS) },
    warmup: { type: 'string', default: String(DEFAULT_WARMUP_PAIRS) },
    policy: { type: 'string' },
    'time-limit': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const shards = Number(values.shards);
const pairs = Number(values.pairs);
const warmup = Number(values.warmup);
const timeLimitMs = durationArg('warm-latency', '--time-limit', values['time-limit'], DEFAULT_TIME_LIMIT_MS);
if (![shards, pairs, timeLimitMs].every((n) => Number.isInteger(n) && n >= 1) || !(Number.isInteger(warmup) && warmup >= 0)) {
  console.error(USAGE);
  process.exit(2);
}

const MAIN_JS = fileURLToPath(new URL('../src/main.js', import.meta.url));

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of `samples` (ms); sorts in place. */
export function summarize(samples: Float64Array): LatencySummary {
  samples.sort();
  const n = samples.length;
  const at = (q: number): number => samples[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  let sum = 0;
  for (const v of samples) sum += v;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: samples[n - 1]!, mean: sum / n };
}

function startScaler(platformTarget: string): Promise<{ child: ChildProcess; port: number }> {
  const args = [MAIN_JS, '--address', '127.0.0.1:0', '--platform', platformTarget, '--shards', String(shards), '--stats-port', '0', '--log-level', 'info'];
  if (values.policy !== undefined) args.push('--policy', values.policy);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`scaler did not start within ${SCALER_START_TIMEOUT_MS} ms: ${tail}`)), SCALER_START_TIMEOUT_MS);
    child.stderr!.on('data', (d: Buffer) => {
      tail = (tail + d.toString('utf8')).slice(-4_000);
      // The bound port is only known from the scaler's "listening" log line (we ask for port 0).
      const m = /"port":(\d+)[^\n]*"msg":"scaler listening"/.exec(tail);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`scaler exited (code ${code}) before listening: ${tail}`));
    });
  });
}

function unary<Rep>(fn: (cb: (err: grpc.ServiceError | null, reply?: Rep) => void) => void): Promise<Rep> {
  return new Promise((resolve, reject) => fn((err, reply) => (err !== null ? reject(err) : resolve(reply as Rep))));
}

const META = { key: 'warm-fn', runtime: 'go', timeoutInSecs: 60, memoryInMb: 256 };

/** One Assign then its Idle; returns their latencies (ms) and the instance. */
async function pair(client: ScalerClient, requestId: string): Promise<{ assignMs: number; idleMs: number; instanceId: string }> {
  const t0 = performance.now();
  const a = await unary<{ status: number; assigment: { instanceId: string } | null }>((cb) =>
    client.Assign({ requestId, timestamp: Date.now(), metaData: META }, { deadline: Date.now() + CALL_DEADLINE_MS }, cb),
  );
  const t1 = performance.now();
  if (a.status !== Status.Ok || a.assigment === null) throw new Error(`Assign ${requestId}: status ${a.status}`);
  const instanceId = a.assigment.instanceId;
  const i = await unary<{ status: number }>((cb) =>
    client.Idle(
      { assigment: { requestId, metaKey: META.key, instanceId }, result: { statusCode: 200, durationInMs: 1, needDestroy: false } },
      { deadline: Date.now() + CALL_DEADLINE_MS },
      cb,
    ),
  );
  const t2 = performance.now();
  if (i.status !== Status.Ok) throw new Error(`Idle ${requestId}: status ${i.status}`);
  return { assignMs: t1 - t0, idleMs: t2 - t1, instanceId };
}

const fmt = (s: LatencySummary): string =>
  `p50 ${s.p50.toFixed(3)}  p90 ${s.p90.toFixed(3)}  p99 ${s.p99.toFixed(3)}  max ${s.max.toFixed(3)}  mean ${s.mean.toFixed(3)} ms`;

let exitCode = 0;
let scaler: ChildProcess | undefined;
let client: ScalerClient | undefined;
const limit = setTimeout(() => {
  console.error(`warm-latency: gave up after ${formatDuration(timeLimitMs)}`);
  scaler?.kill('SIGKILL');
  process.exit(1);
}, timeLimitMs);
limit.unref();

const platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: PLATFORM_LATENCY_MS, initDurationMs: () => PLATFORM_LATENCY_MS });
try {
  await platform.start();
  const started = await startScaler(platform.target);
  scaler = started.child;
  const proto = loadProto();
  client = new proto.serverless.simulator.Scaler(`127.0.0.1:${started.port}`, grpc.credentials.createInsecure());
  await new Promise<void>((resolve, reject) => client!.waitForReady(Date.now() + 5_000, (e) => (e ? reject(e) : resolve())));

  const first = await pair(client, 'cold-0'); // creates the instance (CreateSlot + Init)
  for (let i = 0; i < warmup; i++) await pair(client, `warm-${i}`);
  const assignMs = new Float64Array(pairs);
  const idleMs = new Float64Array(pairs);
  const pairMs = new Float64Array(pairs);
  const instances = new Set<string>();
  const t0 = performance.now();
  for (let i = 0; i < pairs; i++) {
    const p = await pair(client, `m-${i}`);
    assignMs[i] = p.assignMs;
    idleMs[i] = p.idleMs;
    pairMs[i] = p.assignMs + p.idleMs;
    instances.add(p.instanceId);
  }
  const elapsedS = (performance.now() - t0) / 1000;
  const result = {
    bench: 'warm-latency',
    node: process.version,
    cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}`,
    loadAverage1m: os.loadavg()[0],
    shards,
    pairs,
    warmup,
    coldAssignMs: first.assignMs,
    // More than one would mean the "warm" path cold-started (e.g. a policy destroying the instance).
    distinctInstances: instances.size,
    slotsCreated: platform.createdSlotCount,
    pairsPerSec: pairs / elapsedS,
    pair: summarize(pairMs),
    assign: summarize(assignMs),
    idle: summarize(idleMs),
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(`warm path: ${result.cpus}, node ${result.node}, load avg ${result.loadAverage1m.toFixed(2)}, ${shards} shard(s)`);
    console.log(`${pairs} sequential Assign+Idle pairs after ${warmup} warm-up; first (cold) Assign ${first.assignMs.toFixed(1)} ms`);
    console.log(`  pair    ${fmt(result.pair)}`);
    console.log(`  Assign  ${fmt(result.assign)}`);
    console.log(`  Idle    ${fmt(result.idle)}`);
    console.log(`  ${result.pairsPerSec.toFixed(0)} pairs/s; instances used ${instances.size}; slots created ${result.slotsCreated}`);
  }
  // The first pair's cold start makes the one slot; any other means the pairs were not warm.
  const cold = notWarm(`warm-latency, policy ${values.policy ?? 'default'}`, result.slotsCreated - 1, pairs + warmup);
  if (cold !== null) {
    console.error(`FAIL: ${cold}`);
    exitCode = 1;
  }
} catch (e) {
  console.error(`warm-latency: ${(e as Error).message}`);
  exitCode = 1;
} finally {
  client?.close();
  if (scaler !== undefined && scaler.exitCode === null) {
    const exited = new Promise((r) => scaler!.once('exit', r));
    scaler.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 12_000).unref())]);
    if (scaler.exitCode === null) scaler.kill('SIGKILL');
  }
  await platform.close();
}
process.exit(exitCode);
