/**
 * Drives Assign -> (hold) -> Idle pairs through a {@link LoadClient} and measures them.
 *
 * - Closed loop: `concurrency` callers, each starting its next pair when the previous ends.
 * - Open loop: pairs arrive at `ratePerSec` on a fixed schedule whatever the replies do (as the
 *   contest simulator replays a trace). Assign latency is measured from the pair's *intended*
 *   start, so time a request spends queued anywhere - in the server, the network, or this
 *   process's own event loop - is counted (no coordinated omission).
 *
 * Pair latency is Assign latency + Idle latency (the hold is excluded): the contest's
 * "schedule time" of one request.
 */
import { Status } from '../wire/proto.js';
import { LatencyHistogram, type LatencySummary } from '../latency-histogram.js';
import { ProcessSampler, PROCESS_SAMPLE_INTERVAL_MS, type ProcessUsage } from './process-sampler.js';
import { grpcStatusName, type AssignOutcome, type LoadCallError, type LoadClient } from './load-client.js';
import type { KeyPopulation } from './key-population.js';

export const DEFAULT_CLOSED_CONCURRENCY = 64;
export const DEFAULT_MEMORY_MB = 128;
/** Open loop: pairs beyond this many in flight are dropped (and counted) instead of queued. */
export const DEFAULT_OPEN_MAX_IN_FLIGHT = 200_000;
/** Open loop: timer period of the arrival scheduler; arrivals due within a tick go out together. */
export const DEFAULT_OPEN_TICK_MS = 1;
/** After the last pair is started, how long to wait for stragglers before giving up on them. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export type LoadMode = 'closed' | 'open';

export interface LoadRunOptions {
  readonly client: LoadClient;
  readonly population: KeyPopulation;
  readonly mode: LoadMode;
  /** Closed loop: concurrent callers. */
  readonly concurrency?: number;
  /** Open loop: pair arrivals per second. */
  readonly ratePerSec?: number;
  /** Stop starting pairs after this long (measured part only; warm-up comes first). */
  readonly durationMs?: number;
  /** Stop after starting this many measured pairs. At least one of duration/count is needed. */
  readonly count?: number;
  /** Unmeasured lead-in: pairs run but are not counted (lets the JIT and connections settle). */
  readonly warmupMs?: number;
  /** Time between an Assign's reply and its Idle. */
  readonly holdMs?: number;
  readonly memoryMb?: number;
  /** Sample this process's CPU and RSS during the measured part. */
  readonly pid?: number;
  readonly sampleIntervalMs?: number;
  readonly requestIdPrefix?: string;
  readonly maxInFlight?: number;
  readonly openTickMs?: number;
  readonly drainTimeoutMs?: number;
}

export interface LoadRunResult {
  readonly mode: LoadMode;
  /** From the first measured pair's (intended) start to the last measured pair's end. */
  readonly elapsedMs: number;
  readonly pairsStarted: number;
  /** Pairs that ended, successfully or not. */
  readonly pairsCompleted: number;
  /** Pairs whose Assign and Idle both returned Ok. */
  readonly pairsOk: number;
  /** `pairsOk` per second of `elapsedMs`. */
  readonly pairsPerSec: number;
  readonly assign: LatencySummary;
  readonly idle: LatencySummary;
  readonly pair: LatencySummary;
  /** Open loop: how late pairs left this process relative to their schedule. */
  readonly sendLag: LatencySummary;
  /** Failures by call and cause, e.g. `Assign grpc:UNAVAILABLE`, `Idle scaler:InvalidAssigment`. */
  readonly errors: Readonly<Record<string, number>>;
  readonly errorCount: number;
  /** Open loop: arrivals not sent because `maxInFlight` pairs were outstanding. */
  readonly dropped: number;
  /** Pairs still outstanding when the drain timeout expired. */
  readonly unfinished: number;
  /** CPU of this (load generator) process over the measured part, in percent of one core. */
  readonly loadgenCpuPercent: number;
  /** This process's CPU per completed pair, in microseconds: what the generator pays per pair. */
  readonly loadgenCpuUsPerPair: number;
  /** The target's CPU per completed pair, in microseconds (with `pid`). */
  readonly targetCpuUsPerPair?: number;
  readonly target?: ProcessUsage;
}

export class LoadRunError extends Error {
  readonly code = 'LOAD_OPTIONS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'LoadRunError';
  }
}

const STATUS_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Status).map(([name, value]) => [value, name]),
);

function scalerStatusName(status: number): string {
  return STATUS_NAMES[status] ?? `Status${status}`;
}

let runCounter = 0;

/** Runs one load test to completion. */
export function runLoad(options: LoadRunOptions): Promise<LoadRunResult> {
  return new LoadRun(options).run();
}

class LoadRun {
  private readonly o: LoadRunOptions;
  private readonly holdMs: number;
  private readonly memoryMb: number;
  private readonly ridPrefix: string;
  private readonly countLimit: number;
  private readonly maxInFlight: number;

  private readonly assignH = new LatencyHistogram();
  private readonly idleH = new LatencyHistogram();
  private readonly pairH = new LatencyHistogram();
  private readonly lagH = new LatencyHistogram();
  private readonly errors = new Map<string, number>();
  private errorCount = 0;

  private seq = 0;
  private inFlight = 0;
  private started = 0;
  private completed = 0;
  private ok = 0;
  private dropped = 0;
  private lastEnd = 0;

  private t0 = 0;
  /** Start of the measured part; pairs intended before it are warm-up. */
  private measureStart = 0;
  /** Pairs intended at or after this are not started. */
  private stopAt = Infinity;
  private stopping = false;
  private measuring = false;
  private syncDepth = 0;
  private resolve: ((r: LoadRunResult) => void) | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private sampler: ProcessSampler | null = null;
  private cpuStart: NodeJS.CpuUsage = { user: 0, system: 0 };

  constructor(options: LoadRunOptions) {
    this.o = options;
    if (options.durationMs === undefined && options.count === undefined) {
      throw new LoadRunError('need durationMs and/or count');
    }
    if (options.mode === 'open' && !(options.ratePerSec! > 0)) {
      throw new LoadRunError('open loop needs ratePerSec > 0');
    }
    if (options.mode === 'closed' && options.concurrency !== undefined && !(options.concurrency >= 1)) {
      throw new LoadRunError('concurrency must be >= 1');
    }
    this.holdMs = options.holdMs ?? 0;
    this.memoryMb = options.memoryMb ?? DEFAULT_MEMORY_MB;
    this.ridPrefix = options.requestIdPrefix ?? `lg-${process.pid}-${++runCounter}-`;
    this.countLimit = options.count ?? Infinity;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_OPEN_MAX_IN_FLIGHT;
  }

  run(): Promise<LoadRunResult> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.t0 = performance.now();
      const warmup = this.o.warmupMs ?? 0;
      this.measureStart = this.t0 + warmup;
      if (this.o.durationMs !== undefined) this.stopAt = this.measureStart + this.o.durationMs;
      if (warmup > 0) {
        setTimeout(() => this.beginMeasuring(), warmup).unref();
      } else {
        this.beginMeasuring();
      }
      if (this.o.mode === 'closed') this.startClosed();
      else this.openTick();
    });
  }

  private beginMeasuring(): void {
    this.measuring = true;
    this.cpuStart = process.cpuUsage();
    if (this.o.pid !== undefined) {
      this.sampler = new ProcessSampler(this.o.pid, this.o.sampleIntervalMs ?? PROCESS_SAMPLE_INTERVAL_MS);
      this.sampler.start();
    }
  }

  /** Whether a pair intended at `t` may start; flips to stopping once the limits are reached. */
  private mayStart(t: number): boolean {
    if (this.stopping) return false;
    if (t >= this.stopAt || this.started >= this.countLimit) {
      this.stopping = true;
      return false;
    }
    return true;
  }

  // --- closed loop ----------------------------------------------------------------------------

  private startClosed(): void {
    const n = this.o.concurrency ?? DEFAULT_CLOSED_CONCURRENCY;
    for (let i = 0; i < n; i++) this.nextClosed();
    this.maybeFinish();
  }

  private nextClosed(): void {
    const t = performance.now();
    if (!this.mayStart(t)) return;
    this.startPair(t);
  }

  // --- open loop ------------------------------------------------------------------------------

  private openTick(): void {
    const now = performance.now();
    const interval = 1000 / this.o.ratePerSec!;
    // Arrival i is intended at t0 + i * interval; send every arrival that is due.
    while (true) {
      const intended = this.t0 + this.seq * interval;
      if (intended > now) break;
      if (!this.mayStart(intended)) break;
      if (this.inFlight >= this.maxInFlight) {
        this.seq++;
        if (intended >= this.measureStart) {
          this.dropped++;
          this.started++;
        }
        continue;
      }
      this.startPair(intended);
    }
    if (this.stopping) {
      this.maybeFinish();
      return;
    }
    const next = this.t0 + this.seq * interval;
    const wait = Math.max(this.o.openTickMs ?? DEFAULT_OPEN_TICK_MS, next - performance.now());
    setTimeout(() => this.openTick(), wait);
  }

  // --- one pair -------------------------------------------------------------------------------

  private startPair(intended: number): void {
    const measured = intended >= this.measureStart;
    if (measured) this.started++;
    this.inFlight++;
    const key = this.o.population.nextKey();
    const requestId = this.ridPrefix + this.seq++;
    const sentAt = performance.now();
    if (measured && this.o.mode === 'open') this.lagH.record(sentAt - intended);
    const from = this.o.mode === 'open' ? intended : sentAt;
    this.syncDepth++;
    this.o.client.assign(key, requestId, this.memoryMb, (err, outcome) => {
      const assignEnd = performance.now();
      const assignMs = assignEnd - from;
      if (measured) this.assignH.record(assignMs);
      if (err !== null || outcome === null) {
        this.pairFailed(measured, 'Assign', err, outcome);
        return;
      }
      if (outcome.status !== 0 || outcome.instanceId === '') {
        this.pairFailed(measured, 'Assign', null, outcome);
        return;
      }
      if (this.holdMs > 0) {
        setTimeout(() => this.sendIdle(measured, key, requestId, outcome.instanceId, assignMs), this.holdMs);
      } else {
        this.sendIdle(measured, key, requestId, outcome.instanceId, assignMs);
      }
    });
    this.syncDepth--;
  }

  private sendIdle(measured: boolean, key: string, requestId: string, instanceId: string, assignMs: number): void {
    const idleStart = performance.now();
    this.o.client.idle(key, requestId, instanceId, (err, status) => {
      const idleMs = performance.now() - idleStart;
      if (measured) this.idleH.record(idleMs);
      if (err !== null) {
        this.pairFailed(measured, 'Idle', err, null);
        return;
      }
      if (status !== 0) {
        this.pairFailed(measured, 'Idle', null, { status, instanceId });
        return;
      }
      if (measured) {
        this.pairH.record(assignMs + idleMs);
        this.ok++;
      }
      this.pairDone(measured);
    });
  }

  private pairFailed(measured: boolean, call: string, err: LoadCallError | null, outcome: AssignOutcome | null): void {
    if (measured) {
      let label: string;
      if (err !== null) label = `${call} grpc:${grpcStatusName(err.grpcStatus)}`;
      else if (outcome !== null && outcome.status !== 0) label = `${call} scaler:${scalerStatusName(outcome.status)}`;
      else label = `${call} no-instance`;
      this.errors.set(label, (this.errors.get(label) ?? 0) + 1);
      this.errorCount++;
    }
    this.pairDone(measured);
  }

  private pairDone(measured: boolean): void {
    this.inFlight--;
    if (measured) {
      this.completed++;
      this.lastEnd = performance.now();
    }
    if (this.o.mode === 'closed') {
      // A client that fails synchronously would otherwise recurse once per pair.
      if (this.syncDepth > 0) setImmediate(() => this.nextClosed());
      else this.nextClosed();
    }
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (!this.stopping || this.resolve === null) return;
    if (this.inFlight === 0) {
      this.finish();
      return;
    }
    if (this.drainTimer === null) {
      this.drainTimer = setTimeout(() => this.finish(), this.o.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
      this.drainTimer.unref();
    }
  }

  private finish(): void {
    const resolve = this.resolve;
    if (resolve === null) return;
    this.resolve = null;
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    if (!this.measuring) this.beginMeasuring();
    const cpu = process.cpuUsage(this.cpuStart);
    const target = this.sampler?.stop();
    const end = this.completed > 0 ? this.lastEnd : performance.now();
    const elapsedMs = Math.max(end - this.measureStart, 1e-3);
    const wallForCpu = Math.max(performance.now() - this.measureStart, 1e-3);
    const cpuUs = cpu.user + cpu.system;
    const pairs = Math.max(this.completed, 1);
    resolve({
      mode: this.o.mode,
      elapsedMs,
      pairsStarted: this.started,
      pairsCompleted: this.completed,
      pairsOk: this.ok,
      pairsPerSec: (this.ok * 1000) / elapsedMs,
      assign: this.assignH.summary(),
      idle: this.idleH.summary(),
      pair: this.pairH.summary(),
      sendLag: this.lagH.summary(),
      errors: Object.fromEntries(this.errors),
      errorCount: this.errorCount,
      dropped: this.dropped,
      unfinished: this.inFlight,
      loadgenCpuPercent: (cpuUs / 1000 / wallForCpu) * 100,
      loadgenCpuUsPerPair: cpuUs / pairs,
      ...(target !== undefined ? { target, targetCpuUsPerPair: (target.cpuMs * 1000) / pairs } : {}),
    });
  }
}
