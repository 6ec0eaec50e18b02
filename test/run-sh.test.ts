/**
 * Contract of the container entry script `run.sh` (CONTEST.md, "Roles"), exercised with
 * stand-ins: a tiny node "scaler" started through SCALER_CMD, and a TCP listener playing the
 * simulator's statistics port. Ports are ephemeral and poll intervals short.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../src/free-port.js';

const RUN_SH = fileURLToPath(new URL('../run.sh', import.meta.url));
const POLL_SECS = '0.1';
/** Bound on how long run.sh may take to notice and finish, given the short poll intervals. */
const EXIT_WITHIN_MS = 4_000;

/**
 * Stand-in scaler. Behaviour comes from env: STANDIN_DIR (marker files), STANDIN_PORT,
 * STANDIN_LISTEN_DELAY_MS, STANDIN_IGNORE_TERM. Writes `pid`, `listen-at` (ms, taken before
 * listen() so nothing can have connected earlier) and `term` (on SIGTERM).
 */
const STANDIN_SRC = `
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const dir = process.env.STANDIN_DIR;
fs.writeFileSync(path.join(dir, 'pid'), String(process.pid));
process.on('SIGTERM', () => {
  fs.writeFileSync(path.join(dir, 'term'), String(Date.now()));
  if (process.env.STANDIN_IGNORE_TERM !== '1') process.exit(0);
});
setTimeout(() => {
  const server = net.createServer((s) => s.destroy());
  fs.writeFileSync(path.join(dir, 'listen-at'), String(Date.now()));
  server.listen(Number(process.env.STANDIN_PORT), '127.0.0.1');
}, Number(process.env.STANDIN_LISTEN_DELAY_MS ?? '0'));
// Safety net if a failing test leaves it behind.
setTimeout(() => process.exit(9), 20_000);
`;

interface StatsStandIn {
  server: Server;
  /** Arrival time (ms) of every connection, i.e. every probe by run.sh. */
  probes: number[];
  close(): Promise<void>;
}

interface RunShHandle {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}


async function openStats(port: number): Promise<StatsStandIn> {
  const probes: number[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    probes.push(Date.now());
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    server,
    probes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = EXIT_WITHIN_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let dir: string;
let standinPath: string;
const started: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'run-sh-test-'));
  standinPath = join(dir, 'standin.cjs');
  writeFileSync(standinPath, STANDIN_SRC);
});

afterEach(() => {
  // Kill by pid only what this test started, if a failure left it running.
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  const pidFile = join(dir, 'pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

function runSh(env: Record<string, string>): RunShHandle {
  const child = spawn(RUN_SH, [], {
    env: {
      ...process.env,
      POLL_INTERVAL_SECS: POLL_SECS,
      WATCH_INTERVAL_SECS: POLL_SECS,
      STOP_GRACE_SECS: '3',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  started.push(child);
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, stderr: () => err, exited };
}

function standinCmd(): string {
  return `'${process.execPath}' '${standinPath}'`;
}

const marker = (name: string): string => join(dir, name);

describe('run.sh', () => {
  it('waits for the scaler, runs while :9000 is up, then SIGTERMs the scaler and exits 0', async () => {
    const scalerPort = await freePort();
    const statsPort = await freePort();
    // The simulator is up from the start: only run.sh's own ordering can delay its first probe.
    const stats = await openStats(statsPort);
    try {
      const run = runSh({
        SCALER_CMD: standinCmd(),
        SCALER_PORT: String(scalerPort),
        SIM_STATS_PORT: String(statsPort),
        STANDIN_DIR: dir,
        STANDIN_PORT: String(scalerPort),
        STANDIN_LISTEN_DELAY_MS: '800',
      });

      await waitFor('first probe of the stats port', () => stats.probes.length > 0, 5_000);
      const listenAt = Number(readFileSync(marker('listen-at'), 'utf8'));
      expect(stats.probes[0]).toBeGreaterThanOrEqual(listenAt);

      // Simulator still up: run.sh keeps watching and leaves the scaler alone.
      const probesBefore = stats.probes.length;
      await new Promise((r) => setTimeout(r, 1_000));
      expect(run.child.exitCode).toBeNull();
      expect(existsSync(marker('term'))).toBe(false);
      expect(stats.probes.length - probesBefore).toBeGreaterThanOrEqual(3);

      const closedAt = Date.now();
      await stats.close();
      const result = await withTimeout(run.exited, EXIT_WITHIN_MS, 'run.sh exit');
      expect(result.code, run.stderr()).toBe(0);
      expect(existsSync(marker('term'))).toBe(true);
      expect(Number(readFileSync(marker('term'), 'utf8'))).toBeGreaterThanOrEqual(closedAt);
      expect(result.at - closedAt).toBeLessThan(EXIT_WITHIN_MS);
      expect(run.stderr()).toMatch(/is gone: stopping scaler/);
    } finally {
      if (stats.server.listening) await stats.close();
    }
  }, 12_000);

  it('exits non-zero with a message when the scaler exits immediately', async () => {
    const run = runSh({
      SCALER_CMD: `'${process.execPath}' -e 'process.exit(3)'`,
      SCALER_PORT: String(await freePort()),
      SIM_STATS_PORT: String(await freePort()),
    });
    const result = await withTimeout(run.exited, EXIT_WITHIN_MS, 'run.sh exit');
    expect(result.code).toBe(3);
    expect(run.stderr()).toMatch(/scaler exited prematurely with status 3/);
  }, 8_000);

  it('exits non-zero when the scaler exits 0 before the simulator finished', async () => {
    const run = runSh({
      SCALER_CMD: `'${process.execPath}' -e 'process.exit(0)'`,
      SCALER_PORT: String(await freePort()),
      SIM_STATS_PORT: String(await freePort()),
    });
    const result = await withTimeout(run.exited, EXIT_WITHIN_MS, 'run.sh exit');
    expect(result.code).not.toBe(0);
    expect(run.stderr()).toMatch(/scaler exited prematurely/);
  }, 8_000);

  it('forwards SIGTERM received while waiting for the simulator', async () => {
    const scalerPort = await freePort();
    const run = runSh({
      SCALER_CMD: standinCmd(),
      SCALER_PORT: String(scalerPort),
      SIM_STATS_PORT: String(await freePort()),
      STANDIN_DIR: dir,
      STANDIN_PORT: String(scalerPort),
    });
    await waitFor('run.sh to wait for the simulator', () => /waiting for simulator/.test(run.stderr()));
    run.child.kill('SIGTERM');
    const result = await withTimeout(run.exited, EXIT_WITHIN_MS, 'run.sh exit');
    expect(existsSync(marker('term'))).toBe(true);
    expect(result.code, run.stderr()).toBe(0);
  }, 8_000);

  it('SIGKILLs a scaler that ignores SIGTERM after STOP_GRACE_SECS and still exits 0', async () => {
    const scalerPort = await freePort();
    const statsPort = await freePort();
    const stats = await openStats(statsPort);
    try {
      const run = runSh({
        SCALER_CMD: standinCmd(),
        SCALER_PORT: String(scalerPort),
        SIM_STATS_PORT: String(statsPort),
        STOP_GRACE_SECS: '0.5',
        STANDIN_DIR: dir,
        STANDIN_PORT: String(scalerPort),
        STANDIN_IGNORE_TERM: '1',
      });
      await waitFor('simulator detected', () => /simulator is up/.test(run.stderr()));
      await stats.close();
      const result = await withTimeout(run.exited, EXIT_WITHIN_MS, 'run.sh exit');
      expect(result.code, run.stderr()).toBe(0);
      expect(existsSync(marker('term'))).toBe(true);
      expect(run.stderr()).toMatch(/sending SIGKILL/);
      expect(pidAlive(Number(readFileSync(marker('pid'), 'utf8')))).toBe(false);
    } finally {
      if (stats.server.listening) await stats.close();
    }
  }, 8_000);
});
