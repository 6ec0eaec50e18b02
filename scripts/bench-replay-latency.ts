/**
 * Per-call latency where it happens: a real trace window replayed live, open loop, against the
 * scaler and, in the same run at the same schedule, against the no-op grpc-js `Scaler` (answers
 * at once, does nothing: what gRPC alone costs on this machine). Per server, per call class:
 * Assign hits (an instance ready and released before the Assign was sent, by the emulated
 * platform's ledger), Assign waits (an existing instance that was still busy), Assign cold
 * starts, and Idle: p50, p99, mean. Beside them the CPU the server and the load generator (this
 * process: replayer and emulated platform thread) used, and the host's busy share, to say which
 * side was the limit.
 *
 * It checks it measured what it names: the scaler's hits are hits on the ledger, the no-op
 * answered every call OK, and every request was classified once. The servers run one after the
 * other on the same schedule (no-op first); `--base MAIN_JS` adds another build of the scaler (a
 * before/after in one run).
 *
 *   node dist/scripts/bench-replay-latency.js [--data DIR] [--for 15m | --from D --for D] [--smoke] [--base MAIN_JS] [--json]
 *
 * Defaults: the densest 15 minutes of ../shared/datasets/tune/contest-ds1-before-burst (beside the
 * clone); `--smoke`: the bundled smoke set whole (its 1 s burst of ~800 requests is what it tests).
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LatencyHistogram, type LatencySummary } from '../src/latency-histogram.js';
import { DIST_DIR, SCALER_MAIN, describeMachine, durationArg, freePort } from '../src/load/bench-harness.js';
import { ProcessSampler, hostBusyShare, readHostCpu, type ProcessUsage } from '../src/load/process-sampler.js';
import { loadDatasetSync } from '../src/sim/datasets/dataset-loader.js';
import { busiestWindow, type TraceWindow } from '../src/sim/datasets/trace-window.js';
import { runLive } from '../src/sim/live/live-run.js';
import type { ReplayCall } from '../src/sim/live/replayer.js';

const REPO = resolve(DIST_DIR, '..');
export const DEFAULT_DATA = resolve(REPO, '../shared/datasets/tune/contest-ds1-before-burst');
export const SMOKE_DATA = resolve(REPO, 'datasets/function_smoke_test');
export const DEFAULT_WINDOW_MS = 15 * 60_000;
/** Slot time after the last request does not matter here: a short tail ends the run soon. */
export const BENCH_TAIL_MS = 2_000;
/** A side whose CPU is this share of one core (a thread) or of the host is the limit. */
const LIMIT_SHARE = 0.9;

const USAGE = `usage: npm run bench:replay-latency -- [options]
  --data DIR        dataset (default ${DEFAULT_DATA})
  --for D           window length, the densest one of the trace (default 15m)
  --from D          ... or from this offset (with --for)
  --smoke           the bundled smoke set, whole (its burst), instead of --data
  --base MAIN_JS    also replay against this build of the scaler (e.g. main's dist/src/main.js)
  --scaler-args A   extra arguments of the scaler(s), space-separated
  --json            one JSON document instead of the table`;

type Side = 'noop' | 'scaler' | 'base';

interface Classes {
  readonly hit: LatencyHistogram;
  readonly wait: LatencyHistogram;
  readonly cold: LatencyHistogram;
  readonly failed: LatencyHistogram;
  /** Every Assign answered OK (the no-op's are all of this kind). */
  readonly assignOk: LatencyHistogram;
  readonly idle: LatencyHistogram;
}

interface SideResult {
  readonly side: Side;
  readonly main: string;
  readonly requests: number;
  readonly failedRequests: number;
  readonly idleErrors: number;
  readonly calls: { [K in keyof Classes]: LatencySummary };
  readonly server: ProcessUsage | undefined;
  readonly loadGenCpuPercent: number;
  /** Highest load-generator CPU over any sampling interval (a burst's, where averages hide it). */
  readonly loadGenMaxCpuPercent: number;
  readonly hostBusy: number;
  readonly wallMs: number;
  readonly limit: string;
  readonly checks: string[];
}

function newClasses(): Classes {
  return { hit: new LatencyHistogram(), wait: new LatencyHistogram(), cold: new LatencyHistogram(), failed: new LatencyHistogram(), assignOk: new LatencyHistogram(), idle: new LatencyHistogram() };
}

async function replayAgainst(side: Side, main: string, dataDir: string, window: TraceWindow | undefined, extraArgs: string[]): Promise<SideResult> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const cmd =
    side === 'noop'
      ? `exec node ${DIST_DIR}scripts/noop-scaler.js --host 127.0.0.1 --port ${port}`
      : `exec node ${main} --address ${address} --stats-port 0 --log-level warn ${extraArgs.join(' ')}`;
  const c = newClasses();
  let idleErrors = 0;
  let sampler: ProcessSampler | undefined;
  const host0 = readHostCpu();
  const cpu0 = process.cpuUsage();
  const self = new ProcessSampler(process.pid);
  self.start();
  const t0 = performance.now();
  const result = await runLive({
    dataDir,
    window,
    scalerCmd: cmd,
    scalerAddress: address,
    platformAddress: '127.0.0.1:0',
    statsAddress: null,
    scalerLog: null,
    output: null,
    tailMs: BENCH_TAIL_MS,
    onScaler: (pid) => {
      sampler = new ProcessSampler(pid);
      sampler.start();
    },
    onCall: (call: ReplayCall) => {
      c[call.assign].record(call.assignMs);
      if (call.assignOk) c.assignOk.record(call.assignMs);
      if (call.idleMs === call.idleMs) {
        c.idle.record(call.idleMs);
        if (!call.idleOk) idleErrors++;
      }
    },
  });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const server = sampler?.stop();
  const loadGenMaxCpuPercent = self.stop()?.maxCpuPercent ?? NaN;
  const hostBusy = hostBusyShare(host0, readHostCpu());
  const loadGenCpuPercent = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
  const summary = Object.fromEntries(Object.entries(c).map(([k, h]) => [k, (h as LatencyHistogram).summary()])) as SideResult['calls'];
  const checks: string[] = [];
  const classified = c.hit.count + c.wait.count + c.cold.count + c.failed.count;
  if (classified !== result.requests) checks.push(`classified ${classified} Assigns of ${result.requests} requests`);
  if (side === 'noop') {
    if (c.assignOk.count !== result.requests) checks.push(`no-op answered ${c.assignOk.count} of ${result.requests} Assigns OK`);
    if (idleErrors > 0) checks.push(`no-op failed ${idleErrors} Idles`);
  } else {
    if (c.hit.count === 0) checks.push('no Assign hit an idle instance: the hit row measures nothing');
    if (c.failed.count > 0) checks.push(`${c.failed.count} Assigns got no valid instance`);
  }
  // Averages over a trace hide its bursts: the peaks over a sampling interval say who saturated.
  const limits: string[] = [];
  if (loadGenMaxCpuPercent / 100 >= LIMIT_SHARE) limits.push(`load generator at its peak (${loadGenMaxCpuPercent.toFixed(0)}% of a core: its calls queued in the client)`);
  if ((server?.maxCpuPercent ?? 0) / 100 >= LIMIT_SHARE) limits.push(`server at its peak (${server!.maxCpuPercent.toFixed(0)}% of a core)`);
  if (hostBusy >= LIMIT_SHARE) limits.push(`host (${(hostBusy * 100).toFixed(0)}% busy on average)`);
  const limit = limits.length > 0 ? limits.join('; ') : 'none (open loop below capacity: latency is the per-call path)';
  return { side, main, requests: result.requests, failedRequests: result.failedRequests, idleErrors, calls: summary, server, loadGenCpuPercent, loadGenMaxCpuPercent, hostBusy, wallMs, limit, checks };
}

function fmt(s: LatencySummary, key: 'p50Ms' | 'p99Ms' | 'meanMs'): string {
  return s.count === 0 ? '-' : s[key].toFixed(3);
}

function row(label: string, s: LatencySummary): string {
  return `| ${label} | ${s.count} | ${fmt(s, 'p50Ms')} | ${fmt(s, 'p99Ms')} | ${fmt(s, 'meanMs')} |`;
}

function printTable(title: string, results: SideResult[]): void {
  console.log(`\n${title}\n${describeMachine()}\n`);
  for (const r of results) {
    console.log(`${r.side === 'noop' ? 'no-op grpc-js Scaler' : `${r.side} (${r.main})`}: ${r.requests} requests in ${(r.wallMs / 1000).toFixed(0)} s, ` +
      `server CPU ${r.server?.cpuPercent.toFixed(1) ?? '?'}% of a core (max ${r.server?.maxCpuPercent.toFixed(0) ?? '?'}%), load generator ${r.loadGenCpuPercent.toFixed(1)}% (max ${r.loadGenMaxCpuPercent.toFixed(0)}%), host busy ${(r.hostBusy * 100).toFixed(0)}%; limit: ${r.limit}`);
    if (r.checks.length > 0) console.log(`  CHECK FAILED: ${r.checks.join('; ')}`);
    console.log('| call | n | p50 ms | p99 ms | mean ms |\n|---|---:|---:|---:|---:|');
    if (r.side === 'noop') console.log(row('Assign (all OK)', r.calls.assignOk));
    else {
      console.log(row('Assign hit', r.calls.hit));
      console.log(row('Assign wait (busy instance)', r.calls.wait));
      console.log(row('Assign cold start', r.calls.cold));
    }
    console.log(row('Idle', r.calls.idle));
  }
  const noop = results.find((r) => r.side === 'noop');
  if (noop === undefined) return;
  console.log('\nabove the no-op at the same schedule (ms): Assign hit p50 | Idle mean | Idle p99');
  for (const r of results) {
    if (r.side === 'noop') continue;
    const d = (a: number, b: number): string => `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(3)}`;
    console.log(`  ${r.side}: ${d(r.calls.hit.p50Ms, noop.calls.assignOk.p50Ms)} | ${d(r.calls.idle.meanMs, noop.calls.idle.meanMs)} | ${d(r.calls.idle.p99Ms, noop.calls.idle.p99Ms)}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      for: { type: 'string' },
      from: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      base: { type: 'string' },
      'scaler-args': { type: 'string', default: '' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const dataDir = values.smoke ? SMOKE_DATA : resolve(values.data ?? DEFAULT_DATA);
  if (!existsSync(dataDir)) {
    console.error(`bench-replay-latency: no dataset at ${dataDir} (the tuning sets live in ../shared beside the clone)`);
    process.exit(2);
  }
  let window: TraceWindow | undefined;
  if (!values.smoke) {
    const forMs = durationArg('bench-replay-latency', '--for', values.for, DEFAULT_WINDOW_MS);
    if (values.from !== undefined) window = { fromMs: durationArg('bench-replay-latency', '--from', values.from, 0), forMs };
    else window = busiestWindow(loadDatasetSync(dataDir).requests, forMs).window;
  }
  const extra = values['scaler-args'].split(' ').filter((a) => a !== '');
  const sides: Array<[Side, string]> = [['noop', ''], ['scaler', SCALER_MAIN]];
  if (values.base !== undefined) sides.push(['base', resolve(values.base)]);
  const results: SideResult[] = [];
  for (const [side, main] of sides) {
    if (!values.json) console.error(`replaying ${basename(dataDir)}${window ? ` [${window.fromMs} ms, +${window.forMs} ms)` : ''} against ${side}...`);
    results.push(await replayAgainst(side, main, dataDir, window, extra));
  }
  const title = `bench-replay-latency: ${basename(dataDir)}${window ? `, window from ${(window.fromMs / 1000).toFixed(0)} s for ${(window.forMs / 60_000).toFixed(1)} min` : ', whole'}`;
  if (values.json) console.log(JSON.stringify({ title, machine: describeMachine(), dataDir, window, results }));
  else printTable(title, results);
  if (results.some((r) => r.checks.length > 0)) process.exitCode = 1;
}

await main();
