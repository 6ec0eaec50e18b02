/**
 * Scores a scaler on contest datasets, live (gRPC, real time) or in virtual time.
 *
 *   npm run evaluate                                  our scaler, live, bundled smoke set, 10 s tail
 *   npm run evaluate -- --data DIR [--data DIR2 ...]  several datasets, one scaler process, mean score
 *   npm run evaluate -- --virtual --policy fixed-5m   the same core in virtual time (no sockets)
 *   npm run evaluate -- --scaler-cmd './my-scaler'    any scaler listening on the scaler address
 *
 * Exit status: 0 when every dataset passes the 99.95% success gate, 1 otherwise, 2 for bad
 * arguments or a run that could not be carried out.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_PLATFORM_ADDRESS, DEFAULT_POLICY } from '../src/config.js';
import { DEFAULT_SCALER_ADDRESS, LATE_DISPATCH_MS } from '../src/sim/live/replayer.js';
import { DEFAULT_STATS_ADDRESS, splitAddress } from '../src/sim/live/stats-server.js';
import { ClairvoyantBound, type ClairvoyantResult } from '../src/sim/scoring/clairvoyant-bound.js';
import { DatasetError, forEachRequestFieldsSync, loadMetasSync } from '../src/sim/datasets/dataset-loader.js';
import { hindsightKeepAlive, type HindsightKeepAlive } from '../src/sim/virtual/hindsight-keep-alive.js';
import { describeWindow, type TraceWindow } from '../src/sim/datasets/trace-window.js';
import { LiveRunError, runLiveSeries, type LiveRunResult } from '../src/sim/live/live-run.js';
import { renderHtmlReport } from '../src/sim/reports/report-html.js';
import { renderTextReport, toJsonLine } from '../src/sim/reports/report-text.js';
import { passesSuccessGate, SUCCESS_RATE_GATE, type ScoreBook, type ScoreReport } from '../src/sim/scoring/score-book.js';
import { DEFAULT_VIRTUAL_TAIL_MS, datasetSource, runVirtual } from '../src/sim/virtual/virtual-engine.js';
import { CallOverheadError, DEFAULT_CALL_OVERHEAD, meanCallOverheadMs, parseCallOverhead, type CallOverhead } from '../src/sim/virtual/call-overhead.js';
import { DEFAULT_CREATE_LATENCY_MS } from '../src/sim/contest/contest-platform.js';
import { createPolicy, policyNames, policySpecProblem } from '../src/core/policies/policy-registry.js';
import { DURATION_UNITS_HELP, DurationError, formatDuration, parseDuration } from '../src/duration.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

/** dist/scripts/evaluate.js -> package root (datasets/ and dist/ live there, whatever the cwd). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SMOKE_DATASET = join(PACKAGE_ROOT, 'datasets', 'function_smoke_test');
export const SCALER_MAIN = join(PACKAGE_ROOT, 'dist', 'src', 'main.js');
/** Tail of the default (no --data) run: the official 300 s would make `npm run evaluate` take 5 minutes. */
export const QUICK_TAIL_MS = 10_000;
/** The official tail, used whenever datasets are named explicitly. */
export const OFFICIAL_TAIL_MS = DEFAULT_VIRTUAL_TAIL_MS;
/** Progress bar only for runs expected to last longer than this (and only on a TTY). */
export const PROGRESS_MIN_MS = 3_000;
export const PROGRESS_INTERVAL_MS = 250;
/** Virtual runs with at least this many requests get a progress bar. */
export const PROGRESS_MIN_VIRTUAL_REQUESTS = 200_000;
const PROGRESS_WIDTH = 30;

const HELP = `Usage: npm run evaluate -- [options]     (or: node dist/scripts/evaluate.js [options])

Scores a scaler on contest datasets. With no options: our scaler, live (gRPC, real time), on the
bundled smoke dataset, with the tail shortened to ${QUICK_TAIL_MS / 1000} s (official: ${OFFICIAL_TAIL_MS / 1000} s).

  --data DIR              dataset folder (metas + requests); repeat for several datasets, scored
                          separately against one scaler process, mean reported (default: bundled smoke set)
  --virtual               virtual time: the scaler core in-process, no sockets, no sleeping
  --policy SPEC           scaling policy (${policyNames().join(", ")}; default ${DEFAULT_POLICY}), or adaptive with
                          switches off for an ablation: adaptive(prewarm=off,growth=off), adaptive(exchangeRate=3);
                          live: passed to our scaler as --policy
  --scaler-cmd CMD        live: evaluate any scaler started by \`sh -c CMD\` (it must listen on the
                          scaler address; SCALER_ADDRESS and PLATFORM_ADDRESS are in its env); ours is not started
  --from DURATION         replay only the requests from this offset after the trace's first one
  --for DURATION          ... and up to this long after --from (e.g. --from 4h --for 15m); the
                          bound and the hindsight reference are computed on the same window
  --call-overhead MS      virtual: the per-call floor charged to every Assign and Idle, or ASSIGN_MS,IDLE_MS
                          (default ${DEFAULT_CALL_OVERHEAD.assignMs},${DEFAULT_CALL_OVERHEAD.idleMs}: measured on our live path; 0 disables); the
                          bound and the hindsight reference pay it too
  --no-hindsight          skip the hindsight reference (the best fixed keep-alive per function:
                          ten fixed-policy replays of the trace, seconds on the tuning sets)
  --tail DURATION         slot time charged after the last request (default ${formatDuration(QUICK_TAIL_MS)} without --data,
                          else ${formatDuration(OFFICIAL_TAIL_MS)}); durations take a unit: ${DURATION_UNITS_HELP}
  --speed K               live: replay K times faster (score NOT comparable to official runs)
  --shards N              live: shard workers of our scaler (default: its own default)
  --scaler-address H:P    scaler gRPC address (default ${DEFAULT_SCALER_ADDRESS})
  --platform-address H:P  simulated platform address (default ${DEFAULT_PLATFORM_ADDRESS}; port 0 = any free port)
  --stats-address H:P     simulator statistics HTTP address (default ${DEFAULT_STATS_ADDRESS}; "none" disables)
  --json                  one JSON line per dataset, then a summary line
  --html FILE             self-contained HTML report (FILE-<dataset>.html per dataset when several)
  --help                  this text

Exit status: 0 all datasets pass the ${SUCCESS_RATE_GATE * 100}% success gate, 1 some do not, 2 usage or run error.
`;

export class UsageError extends Error {
  readonly code = 'EVALUATE_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface EvaluateOptions {
  readonly dataDirs: string[];
  readonly explicitData: boolean;
  readonly virtual: boolean;
  readonly policy: string;
  readonly scalerCmd: string | undefined;
  readonly tailMs: number;
  /** Only this window of each trace (undefined: all of it). */
  readonly window: TraceWindow | undefined;
  readonly hindsight: boolean;
  readonly speed: number;
  readonly shards: number | undefined;
  readonly scalerAddress: string;
  readonly platformAddress: string;
  readonly statsAddress: string | null;
  readonly json: boolean;
  readonly html: string | undefined;
  /** Virtual: the per-call floor of Assign and Idle (also what the bound and hindsight pay). */
  readonly callOverhead: CallOverhead;
}

function positiveNumber(flag: string, raw: string | undefined, allowZero: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new UsageError(`${flag} expects a ${allowZero ? 'non-negative' : 'positive'} number, got "${raw}"`);
  }
  return n;
}

function duration(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  try {
    return parseDuration(flag, raw);
  } catch (e) {
    if (e instanceof DurationError) throw new UsageError(e.message);
    throw e;
  }
}

function address(flag: string, raw: string | undefined, fallback: string): string {
  if (raw === undefined) return fallback;
  try {
    splitAddress(raw);
  } catch {
    throw new UsageError(`${flag} expects HOST:PORT, got "${raw}"`);
  }
  if (!/:\d+$/.test(raw)) throw new UsageError(`${flag} expects HOST:PORT, got "${raw}"`);
  return raw;
}

/** `null` means --help. */
export function parseEvaluateArgs(argv: readonly string[]): EvaluateOptions | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        data: { type: 'string', multiple: true },
        virtual: { type: 'boolean' },
        policy: { type: 'string' },
        'scaler-cmd': { type: 'string' },
        tail: { type: 'string' },
        from: { type: 'string' },
        for: { type: 'string' },
        'no-hindsight': { type: 'boolean' },
        'call-overhead': { type: 'string' },
        speed: { type: 'string' },
        shards: { type: 'string' },
        'scaler-address': { type: 'string' },
        'platform-address': { type: 'string' },
        'stats-address': { type: 'string' },
        json: { type: 'boolean' },
        html: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help === true) return null;
  const virtual = values.virtual === true;
  const policy = values.policy ?? DEFAULT_POLICY;
  const policyProblem = policySpecProblem(policy);
  if (policyProblem !== null) throw new UsageError(policyProblem);
  const scalerCmd = values['scaler-cmd'];
  if (scalerCmd !== undefined && scalerCmd.trim() === '') throw new UsageError('--scaler-cmd needs a command');
  if (virtual && scalerCmd !== undefined) throw new UsageError('--scaler-cmd evaluates a live scaler process; it cannot be combined with --virtual');
  if (virtual && values.speed !== undefined) throw new UsageError('--speed applies to live runs only (virtual time is as fast as it can be)');
  if (virtual && values.shards !== undefined) throw new UsageError('--shards applies to our live scaler only');
  if (!virtual && values['call-overhead'] !== undefined) throw new UsageError('--call-overhead applies to virtual runs only (live calls cost what they cost)');
  let callOverhead = DEFAULT_CALL_OVERHEAD;
  if (values['call-overhead'] !== undefined) {
    try {
      callOverhead = parseCallOverhead(values['call-overhead']);
    } catch (e) {
      if (e instanceof CallOverheadError) throw new UsageError(e.message);
      throw e;
    }
  }
  if (scalerCmd !== undefined && values.shards !== undefined) throw new UsageError('--shards configures our scaler; it cannot be combined with --scaler-cmd');
  if (scalerCmd !== undefined && values.policy !== undefined) throw new UsageError('--policy configures our scaler; it cannot be combined with --scaler-cmd');
  const explicitData = values.data !== undefined && values.data.length > 0;
  const dataDirs = explicitData ? (values.data as string[]).map((d) => resolve(d)) : [SMOKE_DATASET];
  const tailMs = duration('--tail', values.tail) ?? (explicitData ? OFFICIAL_TAIL_MS : QUICK_TAIL_MS);
  const speed = positiveNumber('--speed', values.speed, false) ?? 1;
  const fromMs = duration('--from', values.from);
  const forMs = duration('--for', values.for);
  if (forMs === 0) throw new UsageError('--for needs a positive duration');
  const window = fromMs === undefined && forMs === undefined ? undefined : { fromMs: fromMs ?? 0, forMs: forMs ?? Infinity };
  const shardsRaw = values.shards;
  let shards: number | undefined;
  if (shardsRaw !== undefined) {
    if (!/^\d+$/.test(shardsRaw) || Number(shardsRaw) < 1) throw new UsageError(`--shards expects a positive integer, got "${shardsRaw}"`);
    shards = Number(shardsRaw);
  }
  const statsRaw = values['stats-address'];
  const statsAddress = statsRaw === 'none' ? null : address('--stats-address', statsRaw, DEFAULT_STATS_ADDRESS);
  if (values.html !== undefined && values.html.trim() === '') throw new UsageError('--html needs a file name');
  return {
    dataDirs,
    explicitData,
    virtual,
    policy,
    scalerCmd,
    tailMs,
    window,
    hindsight: values['no-hindsight'] !== true,
    speed,
    shards,
    scalerAddress: address('--scaler-address', values['scaler-address'], DEFAULT_SCALER_ADDRESS),
    platformAddress: address('--platform-address', values['platform-address'], DEFAULT_PLATFORM_ADDRESS),
    statsAddress,
    json: values.json === true,
    html: values.html,
    callOverhead,
  };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Our scaler; the addresses come from the env runLive sets, so an ephemeral platform port works. */
export function ourScalerCommand(policy: string, shards: number | undefined): string {
  const parts = [
    shellQuote(process.execPath),
    shellQuote(SCALER_MAIN),
    '--address',
    '"$SCALER_ADDRESS"',
    '--platform',
    '"$PLATFORM_ADDRESS"',
    '--stats-port',
    '0',
    '--log-level',
    'warn',
    '--policy',
    shellQuote(policy),
  ];
  if (shards !== undefined) parts.push('--shards', String(shards));
  return `exec ${parts.join(' ')}`;
}

/** The bound from the trace alone, with the virtual engine's modelled latencies and per-call floor. */
export function traceBound(dir: string, window?: TraceWindow, overhead: CallOverhead = DEFAULT_CALL_OVERHEAD): { bound: ClairvoyantResult; requests: number; spanMs: number } {
  const metas = loadMetasSync(dir);
  const b = new ClairvoyantBound({ createMs: DEFAULT_CREATE_LATENCY_MS, rpcOverheadMs: meanCallOverheadMs(overhead) });
  const handles = new Map<string, ReturnType<ClairvoyantBound['functionHandle']>>();
  let first = NaN;
  let last = NaN;
  const requests = forEachRequestFieldsSync(dir, metas, (startTime, meta, dur, status) => {
    let h = handles.get(meta.key);
    if (h === undefined) {
      h = b.functionHandle(meta);
      handles.set(meta.key, h);
    }
    b.addFields(h, startTime, dur, status);
    if (first !== first) first = startTime;
    last = startTime;
  }, window);
  return { bound: b.finish(), requests, spanMs: requests === 0 ? 0 : last - first };
}

interface DatasetOutcome {
  readonly dataset: string;
  readonly dir: string;
  readonly mode: 'live' | 'virtual';
  readonly report: ScoreReport;
  readonly bound: ClairvoyantResult | undefined;
  readonly hindsight: HindsightKeepAlive | undefined;
  readonly failures: Record<string, number>;
  readonly leakedSlots: number;
  readonly liveSlotsAtEnd: number;
  readonly comparable: boolean;
  readonly live?: LiveRunResult;
  readonly wallMs: number;
  readonly requestsPerSec?: number;
}

// ---------------------------------------------------------------------------------------------
// Progress bar (stderr, TTY only)

class Progress {
  private last = '';
  constructor(private readonly label: string) {}

  static enabled(expectedMs: number): boolean {
    return process.stderr.isTTY === true && expectedMs > PROGRESS_MIN_MS;
  }

  draw(fraction: number, detail: string): void {
    const f = Math.max(0, Math.min(1, fraction));
    const fill = Math.round(f * PROGRESS_WIDTH);
    const line = `${this.label} [${'#'.repeat(fill)}${'.'.repeat(PROGRESS_WIDTH - fill)}] ${(f * 100).toFixed(0).padStart(3)}% ${detail}`;
    if (line === this.last) return;
    this.last = line;
    process.stderr.write(`\r${line}\x1b[K`);
  }

  clear(): void {
    if (this.last !== '') process.stderr.write('\r\x1b[K');
    this.last = '';
  }
}

// ---------------------------------------------------------------------------------------------

function fmt(x: number, d = 2): string {
  return Number.isFinite(x) ? x.toFixed(d) : String(x);
}

function header(o: EvaluateOptions, out: DatasetOutcome): string {
  const who = o.scalerCmd !== undefined ? `scaler-cmd ${JSON.stringify(o.scalerCmd)}` : `policy ${o.policy}`;
  const notes: string[] = [];
  if (o.tailMs !== OFFICIAL_TAIL_MS) notes.push(`tail shortened to ${fmt(o.tailMs / 1000, 1)} s (official ${OFFICIAL_TAIL_MS / 1000} s): slot cost lower than an official run`);
  if (!o.virtual && o.speed !== 1) notes.push(`speed x${o.speed}: time compressed, score NOT comparable to official runs`);
  if (out.mode === 'virtual') notes.push(`per-call floor ${fmt(o.callOverhead.assignMs, 2)} ms per Assign, ${fmt(o.callOverhead.idleMs, 2)} ms per Idle`);
  const mode = out.mode === 'virtual' ? 'virtual time' : 'live';
  const window = o.window === undefined ? '' : ` window ${describeWindow(o.window, formatDuration)}`;
  return `== ${out.dataset}${window} (${mode}, ${who})` + (notes.length > 0 ? `\n   note: ${notes.join('; ')}` : '');
}

function liveLines(r: LiveRunResult): string[] {
  return [
    `slots: live at last idle ${r.liveSlotsAtLastIdle}, live at end ${r.liveSlotsAtEnd}, leaked ${r.leakedSlots}; slow idles (> 1 s) ${r.slowIdles}`,
    `dispatch: ${r.lateDispatches} late (> ${LATE_DISPATCH_MS} ms), max lag ${fmt(r.maxDispatchLagMs, 1)} ms`,
  ];
}

function failureLine(failures: Record<string, number>): string {
  const reasons = Object.entries(failures).sort((a, b) => b[1] - a[1]);
  return reasons.length > 0 ? `failures: ${reasons.map(([k, v]) => `${k}=${v}`).join(', ')}` : 'failures: none';
}

function renderText(o: EvaluateOptions, out: DatasetOutcome): string {
  const lines = [header(o, out), renderTextReport(out.report, out.bound, out.hindsight).trimEnd(), ''];
  if (out.live !== undefined) lines.push(...liveLines(out.live));
  else lines.push(`slots: live at end ${out.liveSlotsAtEnd}, leaked ${out.leakedSlots}; ${fmt((out.requestsPerSec ?? 0) / 1000, 0)}k requests/s of wall time`);
  lines.push(failureLine(out.failures));
  if (!passesSuccessGate(out.report.successRate)) lines.push(`** success rate ${fmt(out.report.successRate * 100, 3)}% is below the ${SUCCESS_RATE_GATE * 100}% gate: score 0 **`);
  return lines.join('\n') + '\n\n';
}

function jsonLine(o: EvaluateOptions, out: DatasetOutcome): string {
  const base = JSON.parse(toJsonLine(out.report, out.bound, {}, out.hindsight)) as Record<string, unknown>;
  return JSON.stringify({
    dataset: out.dataset,
    window: o.window === undefined ? null : { fromMs: o.window.fromMs, forMs: Number.isFinite(o.window.forMs) ? o.window.forMs : null },
    mode: out.mode,
    policy: o.scalerCmd !== undefined ? null : o.policy,
    scalerCmd: o.scalerCmd ?? null,
    tailMs: o.tailMs,
    speed: out.mode === 'live' ? o.speed : null,
    callOverhead: out.mode === 'virtual' ? o.callOverhead : null,
    comparable: out.comparable,
    ...base,
    failures: out.failures,
    leakedSlots: out.leakedSlots,
    liveSlotsAtEnd: out.liveSlotsAtEnd,
    passesGate: passesSuccessGate(out.report.successRate),
    wallMs: out.wallMs,
    ...(out.live !== undefined
      ? {
          lateDispatches: out.live.lateDispatches,
          maxDispatchLagMs: out.live.maxDispatchLagMs,
          slowIdles: out.live.slowIdles,
          liveSlotsAtLastIdle: out.live.liveSlotsAtLastIdle,
        }
      : { requestsPerSec: out.requestsPerSec }),
  });
}

interface Summary {
  readonly datasets: number;
  readonly meanScore: number;
  readonly meanResourceHalf: number;
  readonly meanLatencyHalf: number;
  readonly meanBoundScore: number | null;
  readonly meanBoundFraction: number | null;
  readonly minSuccessRate: number;
  readonly pass: boolean;
}

function summarize(outs: readonly DatasetOutcome[]): Summary {
  const n = outs.length;
  const mean = (f: (o: DatasetOutcome) => number): number => outs.reduce((s, o) => s + f(o), 0) / n;
  const withBound = outs.every((o) => o.bound !== undefined);
  const meanBound = withBound ? mean((o) => (o.bound as ClairvoyantResult).score) : null;
  const meanScore = mean((o) => o.report.score);
  return {
    datasets: n,
    meanScore,
    meanResourceHalf: mean((o) => o.report.resourceHalf),
    meanLatencyHalf: mean((o) => o.report.latencyHalf),
    meanBoundScore: meanBound,
    meanBoundFraction: meanBound !== null && meanBound > 0 ? meanScore / meanBound : null,
    minSuccessRate: Math.min(...outs.map((o) => o.report.successRate)),
    pass: outs.every((o) => passesSuccessGate(o.report.successRate)),
  };
}

function summaryText(s: Summary): string {
  const bound = s.meanBoundScore !== null ? `   bound ${fmt(s.meanBoundScore)}${s.meanBoundFraction !== null ? ` (${fmt(s.meanBoundFraction * 100, 1)}% of bound)` : ''}` : '';
  return (
    `mean over ${s.datasets} datasets: score ${fmt(s.meanScore)} = resource ${fmt(s.meanResourceHalf)} + latency ${fmt(s.meanLatencyHalf)}${bound}\n` +
    `lowest success rate ${fmt(s.minSuccessRate * 100, 3)}%: ${s.pass ? 'all datasets pass' : 'SOME DATASETS FAIL'} the ${SUCCESS_RATE_GATE * 100}% gate\n`
  );
}

function htmlPath(file: string, dataset: string, several: boolean): string {
  if (!several) return file;
  const ext = extname(file);
  return ext === '' ? `${file}-${dataset}.html` : `${file.slice(0, -ext.length)}-${dataset}${ext}`;
}

// ---------------------------------------------------------------------------------------------

function runVirtualSeries(o: EvaluateOptions, emit: (out: DatasetOutcome) => void): DatasetOutcome[] {
  const outs: DatasetOutcome[] = [];
  for (const dir of o.dataDirs) {
    const source = datasetSource(dir, o.window);
    const name = basename(dir);
    let progress: Progress | undefined;
    let total = 0;
    if (process.stderr.isTTY === true) {
      // A cheap estimate of the request count from the file size is enough for a bar.
      total = traceLineEstimate(dir);
      if (total >= PROGRESS_MIN_VIRTUAL_REQUESTS) progress = new Progress(name);
    }
    const r = runVirtual({
      source,
      policy: createPolicy(o.policy),
      tailMs: o.tailMs,
      callOverhead: o.callOverhead,
      onProgress: progress === undefined ? undefined : (n) => progress.draw(n / total, `${n} requests`),
    });
    progress?.clear();
    const out: DatasetOutcome = {
      dataset: r.dataset,
      dir,
      mode: 'virtual',
      report: r.report,
      bound: r.bound,
      hindsight: o.hindsight ? hindsightKeepAlive({ source: () => datasetSource(dir, o.window), tailMs: o.tailMs, callOverhead: o.callOverhead }) : undefined,
      failures: r.failures,
      leakedSlots: r.leakedSlots,
      liveSlotsAtEnd: r.liveSlotsAtEnd,
      comparable: o.tailMs === OFFICIAL_TAIL_MS,
      wallMs: r.wallMs,
      requestsPerSec: r.requestsPerSec,
    };
    outs.push(out);
    emit(out);
  }
  return outs;
}

/** Contest request lines are about this long: enough to size a progress bar without reading. */
const APPROX_LINE_BYTES = 125;

function traceLineEstimate(dir: string): number {
  try {
    return Math.round(statSync(join(dir, 'requests')).size / APPROX_LINE_BYTES);
  } catch {
    return 0;
  }
}

async function runLiveMode(o: EvaluateOptions, emit: (out: DatasetOutcome) => void): Promise<DatasetOutcome[]> {
  // Bounds (and spans for the progress bar) come from the traces alone, before the run.
  const pre = o.dataDirs.map((d) => traceBound(d, o.window));
  const outs: DatasetOutcome[] = [];
  let progress: Progress | undefined;
  let timer: NodeJS.Timeout | undefined;
  let started = 0;
  const stopProgress = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    progress?.clear();
    progress = undefined;
  };
  try {
    await runLiveSeries({
      dataDirs: o.dataDirs,
      scalerCmd: o.scalerCmd ?? ourScalerCommand(o.policy, o.shards),
      scalerCwd: o.scalerCmd === undefined ? PACKAGE_ROOT : undefined,
      scalerAddress: o.scalerAddress,
      platformAddress: o.platformAddress,
      statsAddress: o.statsAddress,
      speed: o.speed,
      tailMs: o.tailMs,
      window: o.window,
      output: null,
      onDataset: (i, dir, book: ScoreBook) => {
        stopProgress();
        started = performance.now();
        const p = pre[i]!;
        const expectedMs = (p.spanMs + o.tailMs) / o.speed;
        if (!Progress.enabled(expectedMs)) return;
        const bar = (progress = new Progress(basename(dir)));
        timer = setInterval(() => {
          const elapsed = performance.now() - started;
          const done = book.liveStats(0).totalRequestsCount;
          bar.draw(elapsed / expectedMs, `${done}/${p.requests} requests, ${fmt(elapsed / 1000, 0)}/${fmt(expectedMs / 1000, 0)} s`);
        }, PROGRESS_INTERVAL_MS);
        timer.unref();
      },
      onResult: (r, i) => {
        stopProgress();
        const out: DatasetOutcome = {
          dataset: r.dataset,
          dir: o.dataDirs[i]!,
          mode: 'live',
          report: r.report,
          bound: pre[i]!.bound,
          hindsight: o.hindsight ? hindsightKeepAlive({ source: () => datasetSource(o.dataDirs[i]!, o.window), tailMs: o.tailMs }) : undefined,
          failures: r.failures,
          leakedSlots: r.leakedSlots,
          liveSlotsAtEnd: r.liveSlotsAtEnd,
          comparable: r.comparable && o.tailMs === OFFICIAL_TAIL_MS,
          live: r,
          wallMs: performance.now() - started,
        };
        outs.push(out);
        emit(out);
      },
    });
  } finally {
    stopProgress();
  }
  return outs;
}

export async function main(argv: readonly string[]): Promise<number> {
  let o: EvaluateOptions | null;
  try {
    o = parseEvaluateArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`evaluate: ${e.message}\n(see --help)\n`);
      return 2;
    }
    throw e;
  }
  if (o === null) {
    process.stdout.write(HELP);
    return 0;
  }
  for (const d of o.dataDirs) {
    if (!existsSync(join(d, 'metas')) || !existsSync(join(d, 'requests'))) {
      process.stderr.write(`evaluate: ${d} is not a dataset folder (needs metas and requests files)\n`);
      return 2;
    }
  }
  const opts = o;
  const emit = (out: DatasetOutcome): void => {
    process.stdout.write(opts.json ? jsonLine(opts, out) + '\n' : renderText(opts, out));
    if (opts.html !== undefined) {
      const file = htmlPath(opts.html, out.dataset, opts.dataDirs.length > 1);
      const html = renderHtmlReport(out.report, {
        title: `${out.dataset}: ${opts.scalerCmd !== undefined ? 'external scaler' : opts.policy} (${out.mode})`,
        bound: out.bound,
        hindsight: out.hindsight,
        policy: opts.scalerCmd !== undefined ? undefined : opts.policy,
        mode: out.mode,
      });
      writeFileSync(file, html);
      if (!opts.json) process.stdout.write(`HTML report: ${file}\n\n`);
    }
  };
  let outs: DatasetOutcome[];
  try {
    outs = opts.virtual ? runVirtualSeries(opts, emit) : await runLiveMode(opts, emit);
  } catch (e) {
    if (e instanceof DatasetError || e instanceof LiveRunError) {
      process.stderr.write(`evaluate: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const s = summarize(outs);
  if (opts.json) process.stdout.write(JSON.stringify({ summary: true, ...s, tailMs: opts.tailMs, mode: opts.virtual ? 'virtual' : 'live' }) + '\n');
  else if (outs.length > 1) process.stdout.write(summaryText(s));
  else if (!s.pass) process.stdout.write(summaryText(s));
  return s.pass ? 0 : 1;
}

// Run only as a script (tests import the parser).
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  endQuietlyOnClosedOutput();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`evaluate: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
