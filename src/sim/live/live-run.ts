/**
 * A live evaluation run, as the closed contest simulator does it: platform on :50051, replay
 * against the scaler on :9001, statistics on :9000 for the run's duration. The scaler can be any
 * process (ours or anyone's); when `scalerCmd` is given it is started here and stopped at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Writable } from 'node:stream';
import { loadMetas } from '../datasets/dataset-loader.js';
import type { MetaRecord } from '../contest/dataset-types.js';
import { PlatformServer, monotonicClock } from './platform-server.js';
import { DEFAULT_PLATFORM_ADDRESS } from '../../config.js';
import { DEFAULT_CREATE_LATENCY_MS } from '../contest/contest-platform.js';
import type { FaultInjector, FunctionResolver } from './platform-server.js';
import { FaultPlan, liveFaultInjector } from './fault-plan.js';
import type { WorkerFaultPlan } from './platform-worker-protocol.js';
import { ThreadedPlatform, platformWorkerAvailable } from './threaded-platform.js';
import { DEFAULT_SCALER_ADDRESS, LATE_DISPATCH_MS, Replayer, type ReplayerOptions } from './replayer.js';
import { renderTextReport, toJsonLine } from '../reports/report-text.js';
import { ScoreBook } from '../scoring/score-book.js';
import { spawnScaler, type ScalerExit, type SpawnedScaler } from './scaler-process.js';
import type { ScoreReport } from '../scoring/score-book.js';
import { DEFAULT_STATS_ADDRESS, StatsServer, splitAddress } from './stats-server.js';
import type { TraceWindow } from '../datasets/trace-window.js';
import type { MetaMsg } from '../../wire/proto.js';

/** How long a spawned scaler may take to accept connections on its port. */
export const DEFAULT_SCALER_START_TIMEOUT_MS = 30_000;
/** SIGTERM → SIGKILL grace for the spawned scaler. */
export const DEFAULT_SCALER_KILL_GRACE_MS = 5_000;
export const SCALER_PROBE_INTERVAL_MS = 100;
/** The platform of a live run: in the replayer's thread, or in a worker thread with a mirror. */
export type LivePlatform = PlatformServer | ThreadedPlatform;

export type LiveRunErrorCode = 'SCALER_EXITED' | 'SCALER_START_TIMEOUT' | 'SCALER_SPAWN_FAILED';

export class LiveRunError extends Error {
  readonly code: LiveRunErrorCode;
  constructor(code: LiveRunErrorCode, message: string) {
    super(message);
    this.name = 'LiveRunError';
    this.code = code;
  }
}

export interface LiveRunOptions {
  readonly dataDir: string;
  /** Shell command starting the scaler (`sh -c`), with SCALER_ADDRESS / PLATFORM_ADDRESS in env. */
  readonly scalerCmd?: string;
  readonly scalerEnv?: Readonly<Record<string, string>>;
  readonly scalerCwd?: string;
  readonly scalerStartTimeoutMs?: number;
  readonly scalerKillGraceMs?: number;
  /** Where the spawned scaler's stdout/stderr go (default: our stderr, keeping stdout for the report); null discards. */
  readonly scalerLog?: Writable | null;
  readonly scalerAddress?: string;
  readonly platformAddress?: string;
  /** null: no statistics server. */
  readonly statsAddress?: string | null;
  readonly speed?: number;
  readonly tailMs?: number;
  /** Replay only this window of each dataset's trace. */
  readonly window?: TraceWindow;
  readonly createLatencyMs?: number;
  readonly assignDeadlineMs?: number;
  readonly idleDeadlineMs?: number;
  readonly lookAheadMs?: number;
  /** In-process fault hook (functions: forces the in-process platform). */
  readonly faults?: FaultInjector;
  /** A seeded fault plan, serialisable: runs inside the platform worker too. Ignored with `faults`. */
  readonly faultPlan?: WorkerFaultPlan;
  /**
   * Run the platform in its own worker thread (default: yes, unless an option only the
   * in-process platform can honour is given: `faults`, `initDurationMs`, `resolveFunction`,
   * or the compiled worker is missing). Keeps platform gRPC work off the replayer's event loop.
   */
  readonly threadedPlatform?: boolean;
  /** Every init lasts this long (serialisable form of `initDurationMs`; works threaded). */
  readonly fixedInitDurationMs?: number;
  /** Pluggable init durations / function resolution for keys absent from metas (load tests). */
  readonly initDurationMs?: (meta: MetaMsg) => number;
  readonly resolveFunction?: FunctionResolver;
  readonly metaFor?: (key: string) => MetaRecord | undefined;
  /** Print the summary as JSON (default: text). */
  readonly json?: boolean;
  /** Where the summary is printed (default stdout); null prints nothing. */
  readonly output?: Writable | null;
  /** Called once the platform is up (e.g. to inspect its ledger in tests). */
  readonly onPlatform?: (platform: LivePlatform) => void;
  /** Called once the statistics server listens, with its bound port. */
  readonly onStats?: (port: number) => void;
  /** Called once the spawned scaler (`scalerCmd`) accepts connections, with its process id. */
  readonly onScaler?: (pid: number) => void;
  /** Passed to the replayer: each request's calls, with their latency and class. */
  readonly onCall?: ReplayerOptions['onCall'];
}

export interface LiveRunResult {
  readonly dataset: string;
  readonly report: ScoreReport;
  /** Failure reason → failed requests. */
  readonly failures: Record<string, number>;
  /** Live at the end and unusable by the scaler: never initialised, failed init, or broken. */
  readonly leakedSlots: number;
  /** Slots not destroyed by the end of the tail (charged until then). */
  readonly liveSlotsAtEnd: number;
  /** Slots alive when the last Idle returned (before the tail). */
  readonly liveSlotsAtLastIdle: number;
  readonly slowIdles: number;
  readonly requests: number;
  readonly failedRequests: number;
  readonly coldStarts: number;
  readonly lateDispatches: number;
  readonly maxDispatchLagMs: number;
  /** Platform calls answered, by method and status name. */
  readonly platformCalls: Record<string, Record<string, number>>;
  /** Faults injected by `faultPlan`, by kind (cumulative over a series). */
  readonly faultsInjected?: Record<string, number>;
  /** The platform ran in a worker thread. */
  readonly threadedPlatform: boolean;
  readonly speed: number;
  /** False when time was compressed (speed ≠ 1): the score is then not comparable to official runs. */
  readonly comparable: boolean;
  readonly scalerExit?: ScalerExit;
}

// ---------------------------------------------------------------------------------------------
// Spawned scaler

function spawnScalerCmd(
  opts: Pick<LiveRunOptions, 'scalerCmd' | 'scalerCwd' | 'scalerEnv' | 'scalerLog'>,
  scalerAddress: string,
  platformAddress: string,
  journalDir: string,
): SpawnedScaler {
  const sink = opts.scalerLog === undefined ? process.stderr : opts.scalerLog;
  return spawnScaler({
    command: 'sh',
    args: ['-c', opts.scalerCmd as string],
    cwd: opts.scalerCwd,
    // A fresh slot journal per run (ours reads SCALER_JOURNAL): each run has a fresh platform, and
    // a journal left by an earlier run's killed scaler must not be replayed against it.
    env: { SCALER_JOURNAL: journalDir, ...opts.scalerEnv, SCALER_ADDRESS: scalerAddress, PLATFORM_ADDRESS: platformAddress },
    processGroup: true,
    onOutput: sink === null ? undefined : (text) => void sink.write(text),
  });
}

function tryConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.removeAllListeners();
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1_000, () => done(false));
  });
}

async function waitForScaler(proc: SpawnedScaler | undefined, address: string, timeoutMs: number): Promise<void> {
  const { host, port } = splitAddress(address);
  const connectHost = host === '0.0.0.0' ? '127.0.0.1' : host;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (proc?.exit !== undefined) {
      const { code, signal } = proc.exit;
      throw new LiveRunError(
        'SCALER_EXITED',
        `scaler exited before accepting connections on ${address} (code ${code}, signal ${signal})` +
          (proc.logTail.length > 0 ? `; last output:\n${proc.logTail.join('\n')}` : ''),
      );
    }
    if (await tryConnect(connectHost, port)) return;
    if (performance.now() >= deadline) {
      throw new LiveRunError('SCALER_START_TIMEOUT', `scaler did not accept connections on ${address} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, SCALER_PROBE_INTERVAL_MS));
  }
}

// ---------------------------------------------------------------------------------------------

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}

/** Human summary of a live run: the score report plus what only a live run can tell. */
export function formatLiveRun(r: LiveRunResult): string {
  const lines = [
    `dataset ${r.dataset} (live, speed x${r.speed})` + (r.comparable ? '' : '  ** time compressed: score NOT comparable to official runs **'),
    renderTextReport(r.report).trimEnd(),
    '',
    `slots: live at last idle ${r.liveSlotsAtLastIdle}, live at end ${r.liveSlotsAtEnd}, leaked ${r.leakedSlots}; slow idles (> 1 s) ${r.slowIdles}`,
    `dispatch: ${r.lateDispatches} late (> ${LATE_DISPATCH_MS} ms), max lag ${fmt(r.maxDispatchLagMs, 1)} ms`,
  ];
  const reasons = Object.entries(r.failures).sort((a, b) => b[1] - a[1]);
  lines.push(reasons.length > 0 ? `failures: ${reasons.map(([k, v]) => `${k}=${v}`).join(', ')}` : 'failures: none');
  return lines.join('\n') + '\n';
}

/** One JSON line: the report summary (no per-function table or time series) plus the live fields. */
export function liveRunJsonLine(r: LiveRunResult): string {
  const { report, ...live } = r;
  return JSON.stringify({ ...(JSON.parse(toJsonLine(report)) as object), ...live });
}

/** Several datasets replayed one after another against ONE scaler process, as the contest does. */
export interface LiveSeriesOptions extends Omit<LiveRunOptions, 'dataDir' | 'onPlatform'> {
  readonly dataDirs: readonly string[];
  readonly onPlatform?: (platform: LivePlatform) => void;
  /** Called when a dataset's replay starts, with its (live) score book. */
  readonly onDataset?: (index: number, dataDir: string, book: ScoreBook) => void;
  /** Called with each dataset's result as soon as it is known. */
  readonly onResult?: (result: LiveRunResult, index: number) => void;
}

export async function runLive(opts: LiveRunOptions): Promise<LiveRunResult> {
  const { dataDir, ...rest } = opts;
  const [result] = await runLiveSeries({ ...rest, dataDirs: [dataDir] });
  return result as LiveRunResult;
}

/**
 * Replays each dataset in turn. The platform, the statistics port and the scaler stay up for the
 * whole series (the contest's entry script stops the scaler when :9000 disappears); each dataset
 * is scored on its own book, so a slot left over from one dataset is never charged to the next.
 */
export async function runLiveSeries(opts: LiveSeriesOptions): Promise<LiveRunResult[]> {
  if (opts.dataDirs.length === 0) throw new Error('runLiveSeries needs at least one dataset');
  const scalerAddress = opts.scalerAddress ?? DEFAULT_SCALER_ADDRESS;
  const platformAddress = opts.platformAddress ?? DEFAULT_PLATFORM_ADDRESS;
  const statsAddress = opts.statsAddress === undefined ? DEFAULT_STATS_ADDRESS : opts.statsAddress;
  const clock = monotonicClock;
  // Keys of different datasets never collide: one platform knows every function of the series.
  const metasByDir: Map<string, MetaRecord>[] = [];
  const allMetas = new Map<string, MetaRecord>();
  for (const dir of opts.dataDirs) {
    const m = await loadMetas(dir);
    metasByDir.push(m);
    for (const [k, v] of m) allMetas.set(k, v);
  }
  // The cost split dates a CreateSlot from its slot's creation minus the platform's create latency.
  const bookOpts = { createLatencyMs: opts.createLatencyMs ?? DEFAULT_CREATE_LATENCY_MS };
  let book = new ScoreBook(bookOpts);
  const threaded = useThreadedPlatform(opts);
  let localPlan: FaultPlan | undefined;
  let localFaultT0 = NaN;
  let faults = opts.faults;
  if (faults === undefined && opts.faultPlan !== undefined && !threaded) {
    const fp = opts.faultPlan;
    const plan = (localPlan = new FaultPlan(fp.plan));
    const initOf = (key: string): number => {
      const ms = opts.fixedInitDurationMs ?? allMetas.get(key)?.initDurationInMs ?? 0;
      return fp.maxInitMs === undefined ? ms : Math.min(ms, fp.maxInitMs);
    };
    faults = liveFaultInjector(plan, {
      now: () => (Number.isNaN(localFaultT0) ? -1 : clock.now() - localFaultT0),
      createLatencyMs: opts.createLatencyMs ?? 100,
      initDurationMs: initOf,
      outageAs: fp.outageAs ?? 'status',
    });
  }
  const fixedInit = opts.fixedInitDurationMs;
  const platform: LivePlatform = threaded
    ? new ThreadedPlatform({
        address: platformAddress,
        createLatencyMs: opts.createLatencyMs,
        metas: allMetas.values(),
        fixedInitDurationMs: fixedInit,
        faultPlan: opts.faultPlan,
        scoreBook: book,
      })
    : new PlatformServer({
        address: platformAddress,
        createLatencyMs: opts.createLatencyMs,
        metas: allMetas,
        initDurationMs: opts.initDurationMs ?? (fixedInit === undefined ? undefined : () => fixedInit),
        resolveFunction: opts.resolveFunction,
        scoreBook: book,
        faults,
        clock,
      });
  let faultClockStarted = false;
  const startFaultClock = (): void => {
    if (faultClockStarted) return;
    faultClockStarted = true;
    if (platform instanceof ThreadedPlatform) platform.startFaultClock();
    else localFaultT0 = clock.now();
  };
  let proc: SpawnedScaler | undefined;
  let journalDir: string | undefined;
  let stats: StatsServer | undefined;
  const results: LiveRunResult[] = [];
  const out = opts.output === undefined ? process.stdout : opts.output;
  try {
    await platform.start();
    opts.onPlatform?.(platform);
    if (opts.scalerCmd !== undefined) {
      journalDir = mkdtempSync(join(tmpdir(), 'scaler-run-'));
      proc = spawnScalerCmd(opts, scalerAddress, platform.target, journalDir);
    }
    await waitForScaler(proc, scalerAddress, opts.scalerStartTimeoutMs ?? DEFAULT_SCALER_START_TIMEOUT_MS);
    if (proc?.child.pid !== undefined) opts.onScaler?.(proc.child.pid);
    if (statsAddress !== null) {
      stats = new StatsServer({ address: statsAddress, stats: () => book.liveStats(clock.now()) });
      const port = await stats.start();
      opts.onStats?.(port);
    }
    for (let i = 0; i < opts.dataDirs.length; i++) {
      const dataDir = opts.dataDirs[i] as string;
      if (i > 0) {
        book = new ScoreBook(bookOpts);
        platform.attachScoreBook(book);
      }
      const before = new Set(platform.slots.keys());
      opts.onDataset?.(i, dataDir, book);
      const replayer = new Replayer({
        dataDir,
        metas: metasByDir[i],
        metaFor: opts.metaFor,
        scalerAddress,
        platform,
        scoreBook: book,
        speed: opts.speed,
        tailMs: opts.tailMs,
        window: opts.window,
        assignDeadlineMs: opts.assignDeadlineMs,
        idleDeadlineMs: opts.idleDeadlineMs,
        lookAheadMs: opts.lookAheadMs,
        clock,
        onStart: opts.faultPlan === undefined ? undefined : startFaultClock,
        onCall: opts.onCall,
      });
      const replay = await replayer.run();
      // The book is final: late destroys must not be charged to (or alter) this run.
      platform.detachScoreBook();
      const calls = platform instanceof ThreadedPlatform ? await platform.sync() : { callCounts: platform.callCounts, injected: localPlan?.injected };
      const check = platform.leakCheck();
      const mine = (id: string): boolean => !before.has(id);
      const result: LiveRunResult = {
        dataset: basename(dataDir),
        report: replay.report,
        failures: replay.failures,
        leakedSlots: check.leakedSlotIds.filter(mine).length,
        liveSlotsAtEnd: check.liveSlotIds.filter(mine).length,
        liveSlotsAtLastIdle: replay.liveSlotsAtLastIdle,
        slowIdles: replay.slowIdles,
        requests: replay.requests,
        failedRequests: replay.failedRequests,
        coldStarts: replay.coldStarts,
        lateDispatches: replay.lateDispatches,
        maxDispatchLagMs: replay.maxDispatchLagMs,
        platformCalls: cloneCounts(calls.callCounts),
        faultsInjected: calls.injected === undefined ? undefined : { ...calls.injected },
        threadedPlatform: threaded,
        speed: replay.speed,
        comparable: replay.comparable,
        scalerExit: proc?.exit,
      };
      results.push(result);
      // The last one is printed once the scaler has stopped, with how it exited.
      if (i < opts.dataDirs.length - 1) {
        if (out !== null) out.write(opts.json === true ? liveRunJsonLine(result) + '\n' : formatLiveRun(result));
        opts.onResult?.(result, i);
      }
    }
  } finally {
    // Port going away first: that is how the contest's entry script learns the run is over.
    await stats?.close();
    await proc?.stop(opts.scalerKillGraceMs ?? DEFAULT_SCALER_KILL_GRACE_MS);
    await platform.close();
    if (journalDir !== undefined) rmSync(journalDir, { recursive: true, force: true });
  }
  const lastIndex = results.length - 1;
  const last = results[lastIndex];
  if (last !== undefined) {
    const final: LiveRunResult = { ...last, scalerExit: proc?.exit };
    results[lastIndex] = final;
    if (out !== null) out.write(opts.json === true ? liveRunJsonLine(final) + '\n' : formatLiveRun(final));
    opts.onResult?.(final, lastIndex);
  }
  return results;
}

/** See `LiveRunOptions.threadedPlatform`. */
export function useThreadedPlatform(opts: Pick<LiveRunOptions, 'threadedPlatform' | 'faults' | 'initDurationMs' | 'resolveFunction'>): boolean {
  const inProcessOnly = opts.faults !== undefined || opts.initDurationMs !== undefined || opts.resolveFunction !== undefined;
  if (opts.threadedPlatform === false || inProcessOnly) return false;
  return platformWorkerAvailable();
}

function cloneCounts(c: Record<string, Record<string, number>>): Record<string, Record<string, number>> {
  const outc: Record<string, Record<string, number>> = {};
  for (const [k, v] of Object.entries(c)) outc[k] = { ...v };
  return outc;
}
