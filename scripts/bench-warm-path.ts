/**
 * Warm path against the gRPC ceiling, one command for every server: Assign+Idle pairs with a
 * free instance always available, through
 *   - the no-op grpc-js `Scaler` (answers, does nothing: the ceiling of grpc-js on this machine),
 *   - the scaler with the grpc-js server (`--grpc-server grpc-js`, the default),
 *   - the scaler with the `node:http2` server (`--grpc-server http2`),
 *   - and, with `--shard-counts`, the scaler at other shard counts (the default-shard choice),
 * driven by the lean raw HTTP/2 load generator (src/h2). Configurations alternate within each
 * round (a shared machine's noise spreads over all of them); medians are reported.
 *
 * For every run it reports the load generator's own CPU per pair, the server's, the host's busy
 * share (/proc/stat) and the event-loop utilisation of the load generator, the server's main
 * thread and each shard, and names the side that was the limit. It counts the slots the
 * platform created during each measured run and FAILS (exit 1) if a scaler run was not warm
 * (more than {@link WARM_MAX_SLOTS_PER_PAIR} slots per pair): a cold start that costs nothing is
 * cheaper than keeping, so an `adaptive` scaler against an instant platform cold-starts every
 * request, and such a run does not measure the warm path. Then sequential pairs (one caller).
 * The scalers run with their slot journal on, as by default (they listen on fixed ports); each
 * scaler's /stats says how much its journal wrote, to check the path measured is the journaled one.
 *
 *   node dist/scripts/bench-warm-path.js [--rounds 3] [--duration 5s] [--shard-counts 1,2] [--compare-journal] [--markdown] [--json]
 */
import { parseArgs } from 'node:util';
import { PlatformServer } from '../src/sim/live/platform-server.js';
import { createLoadClient } from '../src/load/create-load-client.js';
import { KeyPopulation } from '../src/load/key-population.js';
import { runLoad, type LoadRunResult } from '../src/load/load-runner.js';
import { hostBusyShare, readHostCpu } from '../src/load/process-sampler.js';
import {
  ChildSet, DIST_DIR, WARM_MAX_SLOTS_PER_PAIR, durationArg, describeMachine, fetchScalerTotals, fetchStats, freePort, medianOf, notWarm, startScaler, utilisation,
  waitForPort,
  type EventLoopReading,
} from '../src/load/bench-harness.js';
import { DEFAULT_SHARDS_RULE, defaultShardCount } from '../src/config.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

export const BENCH_WARMUP_S = 3;
export const DEFAULT_DURATION_MS = 5_000;
/** Warm-up runs (as long as a measured one) at most, until one creates (almost) no slots. */
export const MAX_WARMUP_RUNS = 8;
/** The issue's targets (reported as met or not; a shared machine's noise does not fail the run). */
export const TARGET_SCALER_THROUGHPUT_RATIO = 0.9;
export const TARGET_SCALER_CPU_RATIO = 1.2;
export const TARGET_HTTP2_THROUGHPUT_RATIO = 1.3;
export const TARGET_SEQUENTIAL_P50_DELTA_MS = 0.05;
/** A side whose event loop was busier than this, or a host busier than this, was the limit. */
export const SATURATED_ELU = 0.9;
export const SATURATED_HOST = 0.95;

const USAGE = `usage: bench-warm-path [options]
  --duration DURATION measured time per run, e.g. 5s (default 5s)
  --rounds N          alternating rounds; medians are reported (default 3)
  --concurrency N     closed-loop callers (default 64)
  --connections N     HTTP/2 connections of the load generator (default 4)
  --keys N            distinct function keys, uniform (default 1000)
  --policy NAME       scaler policy (default fixed-5m: keeps instances, so the path is warm)
  --shard-counts LIST also run the grpc-js scaler at these shard counts, e.g. 1,2
  --servers LIST      which of noop,grpc-js,http2 to run (default all)
  --compare-port      also run the grpc-js scaler on the MessagePort shard transport (A/B of the rings)
  --compare-latency-histograms
                      also run the grpc-js scaler with --latency-histograms off (A/B of the
                      per-call /metrics histograms)
  --compare-journal   also run the grpc-js scaler with --journal off (A/B of the slot journal's
                      cost, which lands on the shard threads)
  --sequential N      sequential (one caller) pairs per server, split over the rounds (default 2000; 0: skip)
  --markdown          print the README table
  --json              one JSON line with every run
  --help`;

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    connections: { type: 'string', default: '4' },
    keys: { type: 'string', default: '1000' },
    policy: { type: 'string', default: 'fixed-5m' },
    'shard-counts': { type: 'string', default: '' },
    servers: { type: 'string', default: 'noop,grpc-js,http2' },
    'compare-port': { type: 'boolean', default: false },
    'compare-latency-histograms': { type: 'boolean', default: false },
    'compare-journal': { type: 'boolean', default: false },
    sequential: { type: 'string', default: '2000' },
    markdown: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const durationMs = durationArg('bench-warm-path', '--duration', values.duration, DEFAULT_DURATION_MS);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const connections = Number(values.connections);
const keys = Number(values.keys);
const sequentialPairs = Number(values.sequential);
const shardCounts = values['shard-counts'] === '' ? [] : values['shard-counts'].split(',').map(Number);
const serverKinds = values.servers.split(',');
if (![rounds, concurrency, connections, keys].every((n) => Number.isInteger(n) && n >= 1) || !(durationMs > 0) ||
  !(Number.isInteger(sequentialPairs) && sequentialPairs >= 0) || shardCounts.some((n) => !(Number.isInteger(n) && n >= 1)) ||
  serverKinds.some((k) => !['noop', 'grpc-js', 'http2'].includes(k))) {
  console.error(USAGE);
  process.exit(2);
}
const defaultShards = defaultShardCount();

interface Target {
  readonly name: string;
  readonly kind: 'noop' | 'scaler';
  readonly port: number;
  readonly statsPort: number;
  readonly pid: number;
  readonly shards: number;
  /** Whether its slot journal is on (a scaler's default). */
  readonly journal: boolean;
}

interface Run {
  readonly target: string;
  readonly load: LoadRunResult;
  readonly serverCpuUsPerPair: number;
  readonly loadgenCpuUsPerPair: number;
  readonly hostBusy: number;
  readonly loadgenElu: number;
  readonly serverMainElu: number;
  readonly shardElu: number[];
  readonly slotsCreated: number;
  readonly limit: string;
}

function limitOf(hostBusy: number, loadgenElu: number, serverElu: number, shardElu: number[]): string {
  const sides: [string, number][] = [['server main thread', serverElu], ['load generator', loadgenElu]];
  shardElu.forEach((u, i) => sides.push([`shard ${i}`, u]));
  sides.sort((a, b) => b[1] - a[1]);
  if (sides[0]![1] >= SATURATED_ELU) return sides[0]![0];
  if (hostBusy >= SATURATED_HOST) return `host CPU (${sides[0]![0]} busiest)`;
  return 'latency (no side saturated)';
}

const platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 0, initDurationMs: () => 0 });
const children = new ChildSet();
process.once('SIGINT', () => {
  children.killAll();
  process.exit(130);
});

async function measure(t: Target, mode: { concurrency: number; durationMs?: number; count?: number; warmupMs: number }): Promise<Run> {
  const client = createLoadClient({ kind: 'raw', target: `127.0.0.1:${t.port}`, connections });
  await client.connect();
  let stats0: { eventLoop: EventLoopReading } | undefined;
  let slots0 = 0;
  let host0 = readHostCpu();
  let elu0 = performance.eventLoopUtilization();
  // The measured part starts after the warm-up: take the "before" readings then.
  const marks = setTimeout(() => {
    host0 = readHostCpu();
    elu0 = performance.eventLoopUtilization();
    slots0 = platform.createdSlotCount;
    void fetchStats<{ eventLoop: EventLoopReading }>(t.statsPort).then((s) => (stats0 = s));
  }, mode.warmupMs);
  const load = await runLoad({
    client,
    population: new KeyPopulation({ distribution: 'uniform', keys }),
    mode: 'closed',
    concurrency: mode.concurrency,
    warmupMs: mode.warmupMs,
    ...(mode.durationMs !== undefined ? { durationMs: mode.durationMs } : {}),
    ...(mode.count !== undefined ? { count: mode.count } : {}),
    pid: t.pid,
  });
  clearTimeout(marks);
  const elu = performance.eventLoopUtilization(elu0);
  const host = hostBusyShare(host0, readHostCpu());
  const slots = platform.createdSlotCount - slots0;
  const stats1 = await fetchStats<{ eventLoop: EventLoopReading }>(t.statsPort);
  client.close();
  const serverMainElu = utilisation(stats0?.eventLoop.main, stats1.eventLoop.main);
  const shardElu = stats1.eventLoop.shards.map((s, i) => utilisation(stats0?.eventLoop.shards[i], s));
  return {
    target: t.name,
    load,
    serverCpuUsPerPair: load.targetCpuUsPerPair ?? NaN,
    loadgenCpuUsPerPair: load.loadgenCpuUsPerPair,
    hostBusy: host,
    loadgenElu: elu.utilization,
    serverMainElu,
    shardElu,
    slotsCreated: t.kind === 'scaler' ? slots : 0,
    limit: limitOf(host, elu.utilization, serverMainElu, shardElu),
  };
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '-';
}

function line(r: Run): string {
  const l = r.load;
  return `${r.target.padEnd(26)} ${l.pairsPerSec.toFixed(0).padStart(6)} pairs/s  server ${r.serverCpuUsPerPair.toFixed(0).padStart(4)} us/pair  ` +
    `loadgen ${r.loadgenCpuUsPerPair.toFixed(0).padStart(3)} us/pair  host ${pct(r.hostBusy)}  ELU lg ${pct(r.loadgenElu)} main ${pct(r.serverMainElu)}` +
    `${r.shardElu.length > 0 ? ` shards ${r.shardElu.map(pct).join('/')}` : ''}  slots ${r.slotsCreated}  errors ${l.errorCount}  limit: ${r.limit}`;
}

let exitCode = 0;
try {
  await platform.start();
  const targets: Target[] = [];
  if (serverKinds.includes('noop')) {
    const port = await freePort();
    const statsPort = await freePort();
    const c = children.start('noop-scaler', [`${DIST_DIR}scripts/noop-scaler.js`, '--port', String(port), '--host', '127.0.0.1', '--stats-port', String(statsPort)]);
    await waitForPort(port, c.child, 'noop-scaler');
    await waitForPort(statsPort, c.child, 'noop-scaler stats');
    targets.push({ name: 'no-op grpc-js', kind: 'noop', port, statsPort, pid: c.child.pid!, shards: 0, journal: false });
  }
  const scalerConfigs: { name: string; server: string; shards: number | undefined; transport: string; extra?: string[] }[] = [];
  if (serverKinds.includes('grpc-js')) scalerConfigs.push({ name: `scaler grpc-js, ${defaultShards} shard(s)`, server: 'grpc-js', shards: undefined, transport: 'rings' });
  if (serverKinds.includes('http2')) scalerConfigs.push({ name: `scaler http2, ${defaultShards} shard(s)`, server: 'http2', shards: undefined, transport: 'rings' });
  if (values['compare-latency-histograms']) {
    scalerConfigs.push({ name: `scaler grpc-js, ${defaultShards} shard(s), no latency histograms`, server: 'grpc-js', shards: undefined, transport: 'rings', extra: ['--latency-histograms', 'off'] });
  }
  const noJournalName = `scaler grpc-js, ${defaultShards} shard(s), --journal off`;
  if (values['compare-journal']) {
    scalerConfigs.push({ name: noJournalName, server: 'grpc-js', shards: undefined, transport: 'rings', extra: ['--journal', 'off'] });
  }
  if (values['compare-port']) scalerConfigs.push({ name: `scaler grpc-js, ${defaultShards} shard(s), port`, server: 'grpc-js', shards: undefined, transport: 'port' });
  for (const n of shardCounts) {
    if (n !== defaultShards) scalerConfigs.push({ name: `scaler grpc-js, ${n} shard(s)`, server: 'grpc-js', shards: n, transport: 'rings' });
  }
  for (const cfg of scalerConfigs) {
    const s = await startScaler(children, cfg.name, {
      platformAddress: platform.target,
      ...(cfg.shards !== undefined ? { shards: cfg.shards } : {}),
      extraArgs: ['--policy', values.policy, '--grpc-server', cfg.server, '--shard-transport', cfg.transport, ...(cfg.extra ?? [])],
    });
    targets.push({
      name: cfg.name, kind: 'scaler', port: s.port, statsPort: s.statsPort, pid: s.pid, shards: cfg.shards ?? defaultShards,
      journal: !(cfg.extra ?? []).includes('--journal'),
    });
  }
  if (!values.json) {
    console.log(`warm path: ${describeMachine()}; ${concurrency} callers over ${connections} connections, ${keys} keys, ` +
      `policy ${values.policy}, default shards ${defaultShards} (${DEFAULT_SHARDS_RULE}), ${rounds} round(s) of ${durationMs / 1000} s\n`);
  }
  // Every key gets its instances before anything is measured. The key sequence is seeded (the
  // same in every run), and with many keys and callers a key's concurrency keeps reaching new
  // highs (each a new instance) for a while: warm up with runs as long as the measured ones
  // until one creates (almost) no slots.
  for (const t of targets) {
    if (t.kind !== 'scaler') continue;
    for (let i = 0; i < MAX_WARMUP_RUNS; i++) {
      const r = await measure(t, { concurrency, durationMs, warmupMs: 1000 });
      if (!values.json) console.log(`warm-up ${t.name}: ${r.slotsCreated} slots in ${r.load.pairsOk} pairs`);
      // Stricter than the check on the measured runs, so they have a margin.
      if (r.slotsCreated <= (WARM_MAX_SLOTS_PER_PAIR / 5) * r.load.pairsOk) break;
    }
  }
  const runs = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
  const seqRuns = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
  for (let round = 1; round <= rounds; round++) {
    // Rotate the order each round so no configuration always runs first (or after the same one).
    const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
    for (const t of order) {
      const r = await measure(t, { concurrency, durationMs, warmupMs: 1000 });
      runs.get(t.name)!.push(r);
      if (!values.json) console.log(`round ${round}  ${line(r)}`);
    }
    if (sequentialPairs > 0) {
      for (const t of order) {
        const r = await measure(t, { concurrency: 1, count: Math.ceil(sequentialPairs / rounds), warmupMs: 300 });
        seqRuns.get(t.name)!.push(r);
        if (!values.json) console.log(`round ${round}  sequential ${t.name}: pair p50 ${r.load.pair.p50Ms.toFixed(3)} ms, p99 ${r.load.pair.p99Ms.toFixed(3)} ms, server ${r.serverCpuUsPerPair.toFixed(0)} us/pair, host ${pct(r.hostBusy)}, slots ${r.slotsCreated}`);
      }
    }
  }
  // The sequential run of each configuration with the median p50.
  const seq = new Map<string, Run>();
  for (const [name, rs] of seqRuns) {
    if (rs.length > 0) seq.set(name, [...rs].sort((a, b) => a.load.pair.p50Ms - b.load.pair.p50Ms)[Math.floor(rs.length / 2)]!);
  }

  // Medians per configuration; the ratios compare medians of the same round set.
  const summary = targets.map((t) => {
    const rs = runs.get(t.name)!;
    const median = (f: (r: Run) => number): number => medianOf(rs.map(f));
    return {
      name: t.name,
      kind: t.kind,
      shards: t.shards,
      pairsPerSec: median((r) => r.load.pairsPerSec),
      serverCpuUsPerPair: median((r) => r.serverCpuUsPerPair),
      loadgenCpuUsPerPair: median((r) => r.loadgenCpuUsPerPair),
      hostBusy: median((r) => r.hostBusy),
      loadgenElu: median((r) => r.loadgenElu),
      serverMainElu: median((r) => r.serverMainElu),
      shardElu: (rs[0]?.shardElu ?? []).map((_, i) => medianOf(rs.map((r) => r.shardElu[i] ?? NaN))),
      slotsCreated: rs.reduce((n, r) => n + r.slotsCreated, 0),
      pairs: rs.reduce((n, r) => n + r.load.pairsOk, 0),
      errors: rs.reduce((n, r) => n + r.load.errorCount, 0) + (seqRuns.get(t.name) ?? []).reduce((n, r) => n + r.load.errorCount, 0),
      limits: rs.map((r) => r.limit),
      sequentialP50Ms: seq.get(t.name)?.load.pair.p50Ms ?? NaN,
      sequentialSlots: (seqRuns.get(t.name) ?? []).reduce((n, r) => n + r.slotsCreated, 0),
    };
  });
  const noop = summary.find((s) => s.kind === 'noop');
  const mostCommon = (xs: string[]): string => {
    const c = new Map<string, number>();
    for (const x of xs) c.set(x, (c.get(x) ?? 0) + 1);
    return [...c.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '-';
  };
  const errors = summary.reduce((n, s) => n + s.errors, 0);
  // That the journal was on the path measured: each journaled scaler's writes and bytes over its
  // pairs (warm-up included: the totals are the process's).
  const journalPaths = await Promise.all(targets.filter((t) => t.kind === 'scaler').map(async (t) => {
    const jt = await fetchScalerTotals(t.statsPort);
    return { name: t.name, journal: t.journal, writes: jt.journalWrites ?? 0, bytes: jt.journalBytesWritten ?? 0, pairs: jt.idles ?? 0 };
  }));
  const unjournaled = journalPaths.filter((j) => j.journal && j.writes === 0);
  // The journal A/B: medians of server CPU per pair, and the median of each round's paired difference.
  const journalOn = runs.get(`scaler grpc-js, ${defaultShards} shard(s)`);
  const journalOff = runs.get(noJournalName);
  const journalAb = journalOn !== undefined && journalOff !== undefined
    ? {
      onUs: medianOf(journalOn.map((r) => r.serverCpuUsPerPair)),
      offUs: medianOf(journalOff.map((r) => r.serverCpuUsPerPair)),
      pairedDiffUs: medianOf(journalOn.map((r, k) => r.serverCpuUsPerPair - (journalOff[k]?.serverCpuUsPerPair ?? NaN))),
    }
    : undefined;
  const cold = summary.filter((s) => s.kind === 'scaler').map((s) => notWarm(`${s.name}, policy ${values.policy}`, s.slotsCreated + s.sequentialSlots, s.pairs)).filter((m) => m !== null);
  if (values.json) {
    console.log(JSON.stringify({ bench: 'warm-path', machine: describeMachine(), concurrency, connections, keys, policy: values.policy, rounds, durationMs, defaultShards, summary, journalAb, journalPaths, runs: Object.fromEntries(runs), sequential: Object.fromEntries(seq) }));
  } else {
    const rows = summary.map((s) => {
      const vsPairs = noop !== undefined ? s.pairsPerSec / noop.pairsPerSec : NaN;
      const vsCpu = noop !== undefined ? s.serverCpuUsPerPair / noop.serverCpuUsPerPair : NaN;
      const elu = `${pct(s.loadgenElu)} / ${pct(s.serverMainElu)}${s.shardElu.length > 0 ? ` / ${s.shardElu.map(pct).join(', ')}` : ''}`;
      const seqDelta = noop !== undefined && s !== noop ? ` (${(s.sequentialP50Ms - noop.sequentialP50Ms) >= 0 ? '+' : ''}${(s.sequentialP50Ms - noop.sequentialP50Ms).toFixed(3)})` : '';
      return `| ${s.name} | ${s.pairsPerSec.toFixed(0)} (${pct(vsPairs)}) | ${s.serverCpuUsPerPair.toFixed(0)} (${Number.isFinite(vsCpu) ? vsCpu.toFixed(2) : '-'}x) | ` +
        `${s.loadgenCpuUsPerPair.toFixed(0)} | ${pct(s.hostBusy)} | ${elu} | ${s.kind === 'scaler' ? s.slotsCreated : '-'} | ${mostCommon(s.limits)} | ` +
        `${Number.isFinite(s.sequentialP50Ms) ? s.sequentialP50Ms.toFixed(3) : '-'}${seqDelta} |`;
    });
    const table = [
      '| server | pairs/s (vs no-op) | server CPU us/pair (vs no-op) | load generator CPU us/pair | host busy | ELU load generator / server main / shards | slots created while measured | limit | sequential pair p50 ms (vs no-op) |',
      '|---|---:|---:|---:|---:|---|---:|---|---:|',
      ...rows,
    ].join('\n');
    console.log(`\nmedians of ${rounds} round(s):\n${table}`);
    if (noop !== undefined) {
      for (const s of summary) {
        if (s === noop) continue;
        const tp = s.pairsPerSec / noop.pairsPerSec;
        const cpu = s.serverCpuUsPerPair / noop.serverCpuUsPerPair;
        const seqD = s.sequentialP50Ms - noop.sequentialP50Ms;
        const tpTarget = s.name.includes('http2') ? TARGET_HTTP2_THROUGHPUT_RATIO : TARGET_SCALER_THROUGHPUT_RATIO;
        console.log(`${s.name}: ${pct(tp)} of the no-op's pairs/s (target >= ${pct(tpTarget)}: ${tp >= tpTarget ? 'met' : 'NOT met'}), ` +
          `${cpu.toFixed(2)}x its CPU per pair (target <= ${TARGET_SCALER_CPU_RATIO}x: ${cpu <= TARGET_SCALER_CPU_RATIO ? 'met' : 'NOT met'}), ` +
          `sequential p50 ${seqD >= 0 ? '+' : ''}${seqD.toFixed(3)} ms (target <= +${TARGET_SEQUENTIAL_P50_DELTA_MS}: ${seqD <= TARGET_SEQUENTIAL_P50_DELTA_MS ? 'met' : 'NOT met'})`);
      }
    }
    for (const s of summary) if (s.kind === 'noop' && s.loadgenCpuUsPerPair > s.serverCpuUsPerPair) console.log(`note: the load generator cost more per pair than the no-op server (${s.loadgenCpuUsPerPair.toFixed(0)} vs ${s.serverCpuUsPerPair.toFixed(0)} us)`);
    if (journalAb !== undefined) {
      const { onUs, offUs, pairedDiffUs } = journalAb;
      console.log(`slot journal A/B, server CPU per pair (medians of ${rounds}): on ${onUs.toFixed(1)} us, --journal off ${offUs.toFixed(1)} us; ` +
        `paired difference per round, median: ${pairedDiffUs >= 0 ? '+' : ''}${pairedDiffUs.toFixed(1)} us`);
    }
    for (const j of journalPaths) {
      if (!j.journal) continue;
      console.log(`slot journal of ${j.name}: ${j.writes} writes, ${(j.bytes / 2 ** 20).toFixed(1)} MiB for ${j.pairs} pairs ` +
        `(${j.pairs > 0 ? (j.bytes / j.pairs).toFixed(0) : '0'} bytes and ${j.pairs > 0 ? (j.writes / j.pairs).toFixed(3) : '0'} writes per pair)`);
    }
    if (values.markdown) console.log(`\n${table}`);
  }
  if (errors > 0) {
    console.error(`FAIL: ${errors} failed calls`);
    exitCode = 1;
  }
  for (const j of unjournaled) {
    console.error(`FAIL: ${j.name}: its slot journal wrote nothing; the journaled path was not measured`);
    exitCode = 1;
  }
  for (const m of cold) {
    console.error(`FAIL: ${m}`);
    exitCode = 1;
  }
} catch (e) {
  console.error(`bench-warm-path: ${(e as Error).stack ?? (e as Error).message}`);
  exitCode = 1;
} finally {
  await children.stopAll();
  await platform.close();
}
process.exit(exitCode);
