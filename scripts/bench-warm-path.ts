/**
 * Benchmark 1 of issue 5, "warm path vs the limit": Assign+Idle pairs/s through the scaler with
 * a free instance always available, against a no-op grpc-js Scaler measured in the same run
 * (the ceiling of the gRPC stack on this machine), and the scaler's p99 at half its saturation.
 *
 * Starts a platform stand-in (in this process, instant CreateSlot/Init), the scaler and the
 * no-op server (child processes), then drives each with the load generator:
 *
 *   node dist/scripts/bench-warm-path.js [--duration 10s] [--concurrency 64] [--shards 2] [--json]
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
import { durationArg, fetchScalerTotals, medianOf, readCpuSplit, waitForPort } from '../src/load/bench-harness.js';

export const BENCH_WARMUP_S = 2;
export const DEFAULT_DURATION_MS = 5_000;
/** How long a child may take to shut down gracefully before it is killed. */
export const CHILD_STOP_GRACE_MS = 5_000;
/** The issue's targets: the scaler reaches this share of the no-op ceiling ... */
export const TARGET_CEILING_RATIO = 0.8;
/** ... and its p99 pair latency at half of saturation stays under this. */
export const TARGET_HALF_LOAD_P99_MS = 2;

const USAGE = `usage: bench-warm-path [options]
  --duration DURATION measured time per run, e.g. 5s (default 5s)
  --rounds N          alternate no-op and scaler saturation runs N times; medians are compared,
                      which keeps a noisy (shared) machine from skewing the ratio (default 3)
  --concurrency N     closed-loop callers for the saturation runs (default 64)
  --keys N            distinct function keys, uniform (default 16)
  --shards N          scaler shard workers (default: CPU cores)
  --client raw|grpc-js  load-generator client for the main runs (default raw)
  --compare-clients   also measure the no-op ceiling with the other client mode
  --compare-latency-histograms
                      also run a scaler with --latency-histograms off in every round (A/B of
                      the per-call prom-client cost: CPU per pair, total and main thread)
  --compare-journal   also run a scaler with --journal off in every round (A/B of the slot
                      journal's cost, which lands on the shard threads: CPU per pair, total)
  --json              one JSON line with every run
  --help`;

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    keys: { type: 'string', default: '16' },
    shards: { type: 'string' },
    client: { type: 'string', default: 'raw' },
    'compare-clients': { type: 'boolean', default: false },
    'compare-latency-histograms': { type: 'boolean', default: false },
    'compare-journal': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const durationMs = durationArg('bench-warm-path', '--duration', values.duration, DEFAULT_DURATION_MS);
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

/** Main-thread CPU per pair of the target during the measured part (us), by run. */
const mainCpuUsPerPair = new WeakMap<LoadRunResult, number>();

async function measure(
  label: string, port: number, pid: number | undefined, kind: LoadClientKind, mode: LoadMode, rate?: number,
): Promise<LoadRunResult> {
  const client = createLoadClient({ kind, target: `127.0.0.1:${port}` });
  await client.connect();
  const load = {
    client,
    population: new KeyPopulation({ distribution: keys === 1 ? 'hot' : 'uniform', keys }),
    mode,
    concurrency,
    ...(rate !== undefined ? { ratePerSec: rate } : {}),
  };
  // Warm-up apart, so that the main thread's CPU can be read around the measured part alone.
  await runLoad({ ...load, durationMs: BENCH_WARMUP_S * 1000 });
  const cpu0 = pid !== undefined ? readCpuSplit(pid) : undefined;
  const r = await runLoad({ ...load, durationMs, ...(pid !== undefined ? { pid } : {}) });
  if (pid !== undefined) mainCpuUsPerPair.set(r, ((readCpuSplit(pid).mainMs - cpu0!.mainMs) * 1000) / Math.max(1, r.pairsOk));
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
  // The slot journal is on, as by default (this scaler is on a fixed port); its /stats says how
  // much it wrote, to check that the path measured is the journaled one.
  const scalerStatsPort = await freePort();
  const scaler = startChild('scaler', [
    `${distDir}src/main.js`, '--address', `127.0.0.1:${scalerPort}`, '--platform', `127.0.0.1:${platformPort}`,
    // A stats port, as deployed: without one the scaler skips its /metrics instrumentation.
    '--shards', String(shards), '--stats-port', String(scalerStatsPort), '--log-level', 'warn',
  ]);
  await Promise.all([waitForPort(noopPort, noop, 'noop-scaler'), waitForPort(scalerPort, scaler, 'scaler')]);
  const abHistograms = values['compare-latency-histograms'];
  const offPort = abHistograms ? await freePort() : 0;
  const scalerOff = abHistograms
    ? startChild('scaler-no-histograms', [
      `${distDir}src/main.js`, '--address', `127.0.0.1:${offPort}`, '--platform', `127.0.0.1:${platformPort}`,
      '--shards', String(shards), '--stats-port', String(await freePort()), '--log-level', 'warn', '--latency-histograms', 'off',
    ])
    : undefined;
  if (scalerOff !== undefined) await waitForPort(offPort, scalerOff, 'scaler-no-histograms');
  const abJournal = values['compare-journal'];
  const noJournalPort = abJournal ? await freePort() : 0;
  const scalerNoJournal = abJournal
    ? startChild('scaler-no-journal', [
      `${distDir}src/main.js`, '--address', `127.0.0.1:${noJournalPort}`, '--platform', `127.0.0.1:${platformPort}`,
      '--shards', String(shards), '--stats-port', String(await freePort()), '--log-level', 'warn', '--journal', 'off',
    ])
    : undefined;
  if (scalerNoJournal !== undefined) await waitForPort(noJournalPort, scalerNoJournal, 'scaler-no-journal');

  if (!values.json) {
    console.log(`warm path: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ` +
      `${shards} shard(s), ${concurrency} callers, ${keys} key(s), ${rounds} round(s) of ${durationMs / 1000} s\n`);
  }
  const other: LoadClientKind = clientKind === 'raw' ? 'grpc-js' : 'raw';
  const all: Record<string, LoadRunResult[]> = { noop: [], scaler: [] };
  if (values['compare-clients']) all[`noop-${other}`] = [];
  if (scalerOff !== undefined) all.scalerNoHistograms = [];
  if (scalerNoJournal !== undefined) all.scalerNoJournal = [];
  for (let i = 1; i <= rounds; i++) {
    all.noop!.push(await measure(`round ${i} no-op ceiling (${clientKind})`, noopPort, noop.pid, clientKind, 'closed'));
    if (values['compare-clients']) {
      all[`noop-${other}`]!.push(await measure(`round ${i} no-op ceiling (${other})`, noopPort, noop.pid, other, 'closed'));
    }
    const on = (): Promise<LoadRunResult> => measure(`round ${i} scaler saturation (${clientKind})`, scalerPort, scaler.pid, clientKind, 'closed');
    const off = (): Promise<LoadRunResult> =>
      measure(`round ${i} scaler saturation, --latency-histograms off (${clientKind})`, offPort, scalerOff!.pid, clientKind, 'closed');
    // With the A/B, the two scalers take turns going first.
    const noJournal = (): Promise<LoadRunResult> =>
      measure(`round ${i} scaler saturation, --journal off (${clientKind})`, noJournalPort, scalerNoJournal!.pid, clientKind, 'closed');
    // With an A/B, the scalers take turns going first.
    if (scalerOff !== undefined && i % 2 === 0) all.scalerNoHistograms!.push(await off());
    if (scalerNoJournal !== undefined && i % 2 === 0) all.scalerNoJournal!.push(await noJournal());
    all.scaler!.push(await on());
    if (scalerOff !== undefined && i % 2 === 1) all.scalerNoHistograms!.push(await off());
    if (scalerNoJournal !== undefined && i % 2 === 1) all.scalerNoJournal!.push(await noJournal());
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
  /** The histogram A/B: medians over the rounds of CPU per pair, whole process and main thread. */
  const cpuOf = (rs: LoadRunResult[]): { totalUs: number; mainUs: number } => ({
    totalUs: medianOf(rs.map((r) => r.targetCpuUsPerPair ?? NaN)),
    mainUs: medianOf(rs.map((r) => mainCpuUsPerPair.get(r) ?? NaN)),
  });
  const histogramAb = scalerOff !== undefined ? { on: cpuOf(all.scaler!), off: cpuOf(all.scalerNoHistograms!) } : undefined;
  // The journal A/B: the same medians, and the median of each round's paired difference.
  const pairedUs = (a: LoadRunResult[], b: LoadRunResult[]): number =>
    medianOf(a.map((r, k) => (r.targetCpuUsPerPair ?? NaN) - (b[k]?.targetCpuUsPerPair ?? NaN)));
  const journalAb = scalerNoJournal !== undefined
    ? { on: cpuOf(all.scaler!), off: cpuOf(all.scalerNoJournal!), pairedDiffUs: pairedUs(all.scaler!, all.scalerNoJournal!) }
    : undefined;
  // That the journal was on the path measured: its writes and bytes over the scaler's pairs.
  const jt = await fetchScalerTotals(scalerStatsPort);
  const journalPath = {
    writes: jt.journalWrites ?? 0,
    bytes: jt.journalBytesWritten ?? 0,
    pairs: jt.idles ?? 0,
  };
  if (values.json) {
    const perRound = Object.fromEntries(Object.entries(all).map(([k, rs]) => [k, rs.map((r) => r.pairsPerSec)]));
    const perRoundMainCpu = Object.fromEntries(Object.entries(all).map(([k, rs]) => [k, rs.map((r) => mainCpuUsPerPair.get(r) ?? null)]));
    console.log(JSON.stringify({
      bench: 'warm-path', shards, concurrency, keys, client: clientKind, durationMs, rounds, ...verdict, histogramAb, journalAb, journalPath, perRound, perRoundMainCpu, runs,
    }));
  } else {
    if (histogramAb !== undefined) {
      const { on, off } = histogramAb;
      console.log(`latency histograms A/B, CPU per pair (medians of ${rounds}): on ${on.totalUs.toFixed(1)} us (main thread ${on.mainUs.toFixed(1)}), ` +
        `off ${off.totalUs.toFixed(1)} us (main thread ${off.mainUs.toFixed(1)}): +${(on.totalUs - off.totalUs).toFixed(1)} us total, ` +
        `+${(on.mainUs - off.mainUs).toFixed(1)} us main`);
    }
    if (journalAb !== undefined) {
      const { on, off, pairedDiffUs } = journalAb;
      console.log(`slot journal A/B, CPU per pair (medians of ${rounds}): on ${on.totalUs.toFixed(1)} us, --journal off ${off.totalUs.toFixed(1)} us; ` +
        `paired difference per round, median: ${pairedDiffUs >= 0 ? '+' : ''}${pairedDiffUs.toFixed(1)} us`);
    }
    const j = journalPath;
    console.log(`slot journal on the measured path: ${j.writes} writes, ${(j.bytes / 2 ** 20).toFixed(1)} MiB for ${j.pairs} pairs ` +
      `(${j.pairs > 0 ? (j.bytes / j.pairs).toFixed(0) : '0'} bytes and ${j.pairs > 0 ? (j.writes / j.pairs).toFixed(3) : '0'} writes per pair)` +
      (j.writes === 0 ? ' ** the journal wrote nothing: its cost was not measured **' : ''));
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
