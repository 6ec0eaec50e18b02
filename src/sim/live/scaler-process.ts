/**
 * A scaler running as a child process, for the live runs: spawned with its output captured (and
 * the last lines kept for error messages), its exit tracked, and stopped with SIGTERM then SIGKILL
 * after a grace. How to tell that it is ready differs per caller (a TCP probe of a fixed port, or
 * the bound port read from its log), so that stays with them.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** Lines of a scaler's output kept for error messages. */
export const SCALER_LOG_TAIL_LINES = 20;

export interface ScalerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnScalerOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  /** Added to (and overriding) our own environment. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Start it in its own process group and signal the whole group on stop, so that stopping
   * `sh -c CMD` also stops whatever CMD started.
   */
  readonly processGroup?: boolean;
  /** 'ignore' captures stderr only (default: both). */
  readonly stdout?: 'capture' | 'ignore';
  /** Every chunk of captured output, as it arrives. */
  readonly onOutput?: (text: string) => void;
}

export interface SpawnedScaler {
  readonly child: ChildProcess;
  /** How it ended; undefined while it runs. A failed spawn counts as an exit with neither code nor signal. */
  readonly exit: ScalerExit | undefined;
  /** Resolves once it has exited (or failed to spawn). */
  readonly exited: Promise<ScalerExit>;
  /** The last non-empty output lines (and a spawn error), oldest first. */
  readonly logTail: readonly string[];
  /** Listens to captured output from now on; returns the unsubscribe function. */
  onOutput(listener: (text: string) => void): () => void;
  /** SIGTERM, then SIGKILL when it is still running after `graceMs`. Resolves once it exited. */
  stop(graceMs: number): Promise<ScalerExit>;
}

export function spawnScaler(opts: SpawnScalerOptions): SpawnedScaler {
  const group = opts.processGroup === true;
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', opts.stdout === 'ignore' ? 'ignore' : 'pipe', 'pipe'],
    detached: group,
  });
  let exit: ScalerExit | undefined;
  const logTail: string[] = [];
  const listeners = new Set<(text: string) => void>();
  if (opts.onOutput !== undefined) listeners.add(opts.onOutput);
  const onData = (text: string): void => {
    for (const l of listeners) l(text);
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      logTail.push(line);
      if (logTail.length > SCALER_LOG_TAIL_LINES) logTail.shift();
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    // Decoded per stream, so a character split across chunks survives.
    stream?.setEncoding('utf8');
    stream?.on('data', onData);
  }
  const exited = new Promise<ScalerExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
    child.once('error', (e) => {
      logTail.push(`spawn error: ${e.message}`);
      exit ??= { code: null, signal: null };
      resolve(exit);
    });
  });
  const signal = (sig: NodeJS.Signals): void => {
    const pid = child.pid;
    if (pid === undefined) return;
    if (group) {
      try {
        process.kill(-pid, sig);
        return;
      } catch {
        // group already gone: fall back to the child itself
      }
    }
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  };
  return {
    child,
    get exit() {
      return exit;
    },
    exited,
    logTail,
    onOutput(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async stop(graceMs) {
      if (exit !== undefined) return exit;
      signal('SIGTERM');
      // The child process handle keeps the event loop alive until it exits.
      const timer = setTimeout(() => signal('SIGKILL'), graceMs).unref();
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
