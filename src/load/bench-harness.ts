/**
 * Shared plumbing of the benchmark scripts (issue 5, benchmarks 2-4): free ports, child
 * processes that are always reaped, a scaler child started against a platform address, and its
 * stats endpoint. Each benchmark keeps its own measurement logic; this is only the harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { readProcessCpuMs } from './process-sampler.js';
import { freePort } from '../free-port.js';
import { DurationError, parseDuration } from '../duration.js';
export { freePort };

export const BENCH_READY_TIMEOUT_MS = 20_000;
/** How long a child may take to shut down gracefully before it is killed. */
export const CHILD_STOP_GRACE_MS = 8_000;
const READY_POLL_MS = 50;

/**
 * `dist/` of the compiled tree: two levels up when this runs as `dist/src/load/bench-harness.js`,
 * `<repo>/dist/` when a test imports the TypeScript source.
 */
const UP_TWO = fileURLToPath(new URL('../../', import.meta.url));
export const DIST_DIR = /[\\/]dist[\\/]$/.test(UP_TWO) ? UP_TWO : `${UP_TWO}dist/`;
/** The scaler a benchmark starts; `BENCH_SCALER_MAIN=/path/to/dist/src/main.js` runs another build (A/B). */
export const SCALER_MAIN = process.env.BENCH_SCALER_MAIN ?? `${DIST_DIR}src/main.js`;


export async function waitForPort(port: number, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + BENCH_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  throw new Error(`${name} did not listen on ${port} within ${BENCH_READY_TIMEOUT_MS} ms`);
}

export interface StartedChild {
  readonly name: string;
  readonly child: ChildProcess;
  /** Last 4 KB of its stderr (for error reports). */
  stderr(): string;
}

/** Child processes of one benchmark; `stopAll` reaps them (SIGTERM, then SIGKILL). */
export class ChildSet {
  private readonly children: StartedChild[] = [];
  private stopping = false;

  start(name: string, args: string[], env?: NodeJS.ProcessEnv): StartedChild {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(env !== undefined ? { env: { ...process.env, ...env } } : {}),
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.once('exit', (code, signal) => {
      if (code !== 0 && signal === null && !this.stopping) console.error(`${name} exited (${code}): ${err}`);
    });
    const started: StartedChild = { name, child, stderr: () => err };
    this.children.push(started);
    return started;
  }

  /** SIGTERM one child; resolves with how long it took to exit (SIGKILL after the grace). */
  static stop(c: ChildProcess, graceMs = CHILD_STOP_GRACE_MS): Promise<number> {
    const t0 = Date.now();
    return new Promise<number>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) {
        resolve(0);
        return;
      }
      const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
      c.once('exit', () => {
        clearTimeout(timer);
        resolve(Date.now() - t0);
      });
      c.kill('SIGTERM');
    });
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.children.map((c) => ChildSet.stop(c.child)));
  }

  /** Kill everything now (SIGINT of the benchmark). */
  killAll(): void {
    for (const c of this.children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  }
}

export interface ScalerChildOptions {
  readonly platformAddress: string;
  /** Omitted: the scaler's own default. */
  readonly shards?: number;
  /** Extra environment (e.g. SCALER_BATCH_FLUSH, SCALER_BENCH_SHARD_WORK_US). */
  readonly env?: NodeJS.ProcessEnv;
  readonly extraArgs?: string[];
  /** Node flags before the script (e.g. --cpu-prof). */
  readonly nodeArgs?: string[];
}

export interface ScalerChild extends StartedChild {
  readonly port: number;
  readonly statsPort: number;
  readonly pid: number;
}

/**
 * Extra node flags for every scaler child, e.g. `BENCH_SCALER_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=/tmp/prof"` to profile the scaler (main thread and shard workers) under a benchmark.
 */
export const SCALER_NODE_ARGS_ENV = 'BENCH_SCALER_NODE_ARGS';

/** Start `dist/src/main.js` on free ports and wait until its gRPC port accepts connections. */
export async function startScaler(set: ChildSet, name: string, o: ScalerChildOptions): Promise<ScalerChild> {
  const port = await freePort();
  const statsPort = await freePort();
  const c = set.start(name, [
    ...(process.env[SCALER_NODE_ARGS_ENV]?.split(' ').filter((a) => a !== '') ?? []),
    ...(o.nodeArgs ?? []),
    SCALER_MAIN, '--address', `127.0.0.1:${port}`, '--platform', o.platformAddress,
    ...(o.shards !== undefined ? ['--shards', String(o.shards)] : []), '--stats-port', String(statsPort), '--log-level', 'warn',
    ...(o.extraArgs ?? []),
  ], o.env);
  await waitForPort(port, c.child, name);
  await waitForPort(statsPort, c.child, `${name} stats`);
  return { ...c, port, statsPort, pid: c.child.pid! };
}

/** A stats endpoint's JSON (`/stats` of the scaler or of the no-op server). */
export function fetchStats<T>(statsPort: number): Promise<T> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: statsPort, path: '/stats' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (e) {
          reject(e as Error);
        }
      });
    }).once('error', reject);
  });
}

/** Cumulative event-loop ms of a server's threads, as its `/stats` reports them. */
export interface EventLoopReading {
  readonly main: { idle: number; active: number };
  readonly shards: ReadonlyArray<{ idle: number; active: number } | null>;
}

/** Utilisation (0-1) between two cumulative readings of one thread. */
export function utilisation(a: { idle: number; active: number } | null | undefined, b: { idle: number; active: number } | null | undefined): number {
  if (a == null || b == null) return NaN;
  const active = b.active - a.active;
  const idle = b.idle - a.idle;
  return active + idle > 0 ? active / (active + idle) : NaN;
}

/** Totals of the scaler's shared counters (router and core fields), from its stats endpoint. */
export function fetchScalerTotals(statsPort: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: statsPort, path: '/stats' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as { totals: Record<string, number> }).totals);
        } catch (e) {
          reject(e as Error);
        }
      });
    }).once('error', reject);
  });
}

/** One line describing the machine, for the reports. */
export function describeMachine(): string {
  const cpus = os.cpus();
  return `${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ` +
    `load avg ${os.loadavg()[0]!.toFixed(1)}`;
}

/** The median of `xs` (middle element after sorting; upper middle for even lengths). */
export function medianOf(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** utime + stime (ms) of thread `tid` of process `pid` (the main thread's tid is the pid). */
export function readThreadCpuMs(pid: number, tid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS_PER_SEC;
}
/** USER_HZ; 100 on every mainstream Linux build (see process-sampler.ts). */
const CLOCK_TICKS_PER_SEC = 100;

/** CPU (ms) of a process, split into its main (event-loop) thread and every other thread. */
export interface CpuSplit {
  readonly totalMs: number;
  readonly mainMs: number;
}

export function readCpuSplit(pid: number): CpuSplit {
  return { totalMs: readProcessCpuMs(pid) ?? NaN, mainMs: readThreadCpuMs(pid, pid) ?? NaN };
}

/**
 * A benchmark's duration flag (`--duration 5s`), or `dfltMs` when absent. A bad value (a bare
 * number included) ends the run with a message saying which units are accepted (exit 2).
 */
export function durationArg(bench: string, flag: string, raw: string | undefined, dfltMs: number): number {
  if (raw === undefined) return dfltMs;
  try {
    return parseDuration(flag, raw);
  } catch (e) {
    if (!(e instanceof DurationError)) throw e;
    process.stderr.write(`${bench}: ${e.message}\n`);
    process.exit(2);
  }
}

/**
 * A warm-path run creates (almost) no slots: at most this many per measured pair. A scaler
 * whose policy destroys idle instances (e.g. `adaptive` against an instant platform, where a
 * cold start costs nothing) cold-starts every request (about 1 slot per pair), and its "warm"
 * numbers would be cold starts. With many keys and callers a key's concurrency still reaches a
 * new high now and then (1 pair in 700-1,500 in our runs, each a new instance); a cold start
 * costs the scaler 2-3 pairs' CPU, so 1 in 200 moves CPU per pair by at most 1.5%.
 */
export const WARM_MAX_SLOTS_PER_PAIR = 0.005;

/** Null when `slots` created during `pairs` measured pairs is warm, else why it is not. */
export function notWarm(name: string, slots: number, pairs: number): string | null {
  if (slots <= WARM_MAX_SLOTS_PER_PAIR * Math.max(1, pairs)) return null;
  return `"${name}" was not warm: ${slots} slots created during ${pairs} measured pairs; this run measured cold starts, not the warm path`;
}
