/**
 * A live replay during which the scaler process is killed with SIGKILL and started again at
 * once on the same ports and journal, as a container runtime restarts a dead container. At the
 * end the restarted scaler is stopped and the platform's ledger says what the crash cost: the
 * slots still alive (the journal's job is that there are none), and which requests failed and
 * whether each failure is one no scaler could have avoided (a call in flight at the kill, or sent
 * before the new process could be reached).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetaRecord, RequestRecord } from '../contest/dataset-types.js';
import { freePort, startScalerProcess, type ScalerProcess } from './fault-live-run.js';
import { PlatformServer, monotonicClock } from '../live/platform-server.js';
import { REPLAYER_MAX_RECONNECT_BACKOFF_MS, Replayer, type ReplayFailure } from '../live/replayer.js';
import { ScoreBook } from '../scoring/score-book.js';

/**
 * After the new process listens, the replayer's channel may still be in its reconnect backoff
 * (up to its max plus grpc-js' 20% jitter): calls it fails meanwhile never left the client.
 */
export const RECONNECT_SLACK_MS = Math.ceil(REPLAYER_MAX_RECONNECT_BACKOFF_MS * 1.2) + 100;
/**
 * A slot the platform created this close before the kill, and nobody ever initialised, is a
 * CreateSlot whose reply died with the process: no scaler can learn its id.
 */
export const LOST_WITH_PROCESS_MS = 50;
/** Longest wait after the replay for the restarted scaler's cold starts and reclaims to finish. */
export const CRASH_SETTLE_MAX_MS = 30_000;
const SETTLE_POLL_MS = 100;

export interface CrashLiveRunOptions {
  /** Compiled entry point, e.g. `dist/src/main.js`. */
  readonly mainJs: string;
  readonly metas: ReadonlyMap<string, MetaRecord>;
  readonly requests: Iterable<RequestRecord> | AsyncIterable<RequestRecord>;
  /** When the scaler is killed, ms after the first request was sent. */
  readonly killAtMs: number;
  readonly shards?: number;
  readonly createLatencyMs?: number;
  /** Caps every function's init duration (keeps CI runs short). */
  readonly maxInitMs?: number;
  readonly scalerArgs?: readonly string[];
  /** Journal directory (default: a fresh temporary one, removed afterwards). */
  readonly journalDir?: string;
  /** false: run the scaler with `--journal off`, the baseline of what the journal prevents. */
  readonly journal?: boolean;
  readonly onLog?: (chunk: string) => void;
}

export interface CrashRecovery {
  readonly recoveredSlots: number;
  readonly adoptedIdle: number;
  readonly adoptedBusy: number;
  readonly reclaimedSlots: number;
  readonly lostCreatesAtCrash: number;
}

export interface CrashLiveRunResult {
  readonly requests: number;
  readonly failures: number;
  readonly failureReasons: Record<string, number>;
  /** Failures whose failing call reached no live process: a transport error, in flight at the kill or sent before the new one could be reached. */
  readonly failuresAtCrash: number;
  /** Every other failure (the journal's job is that there are none). */
  readonly otherFailures: readonly ReplayFailure[];
  /** Kill, restart and listening, ms after the first request. */
  readonly killAtMs: number;
  readonly listeningAtMs: number;
  /** The restarted scaler's own times from its process start to accepting calls and to serving them (its log). */
  readonly acceptingMs: number;
  readonly startupMs: number;
  /** What the restarted scaler's /stats says it recovered. */
  readonly recovery: CrashRecovery;
  readonly slotsCreated: number;
  /** Alive on the platform after the restarted scaler stopped. */
  readonly liveSlotsAfterStop: number;
  /** ... of which created within LOST_WITH_PROCESS_MS before the kill and never initialised. */
  readonly lostWithProcess: number;
  readonly leftover: ReadonlyArray<{ slotId: string; createdMsBeforeKill: number; state: string }>;
}

function isTransport(reason: string): boolean {
  return reason.startsWith('assign-rpc-error-UNAVAILABLE') || reason.startsWith('idle-rpc-error-UNAVAILABLE');
}

export async function runCrashLive(opts: CrashLiveRunOptions): Promise<CrashLiveRunResult> {
  const initOf = (key: string): number => {
    const ms = opts.metas.get(key)?.initDurationInMs ?? 0;
    return opts.maxInitMs === undefined ? ms : Math.min(ms, opts.maxInitMs);
  };
  const clock = monotonicClock;
  const scoreBook = new ScoreBook();
  const platform = new PlatformServer({
    address: '127.0.0.1:0',
    createLatencyMs: opts.createLatencyMs ?? 100,
    metas: opts.metas,
    initDurationMs: (m) => initOf(m.key),
    scoreBook,
    clock,
  });
  await platform.start();
  const ownDir = opts.journalDir === undefined;
  const journalDir = opts.journalDir ?? mkdtempSync(join(tmpdir(), 'scaler-crash-'));
  const address = `127.0.0.1:${await freePort()}`;
  const statsPort = await freePort();
  const start = (): Promise<ScalerProcess> =>
    startScalerProcess({
      mainJs: opts.mainJs,
      platformAddress: platform.target,
      shards: opts.shards,
      address,
      statsPort,
      extraArgs: [...(opts.scalerArgs ?? []), '--journal', opts.journal === false ? 'off' : journalDir],
      onLog: opts.onLog,
    });
  let first: ScalerProcess | undefined;
  let second: ScalerProcess | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  try {
    first = await start();
    const failures: ReplayFailure[] = [];
    let t0 = NaN;
    let killAt = NaN;
    let listeningAt = NaN;
    let restarted: Promise<void> | undefined;
    const replayer = new Replayer({
      requests: opts.requests,
      metas: opts.metas,
      scalerAddress: address,
      platform,
      scoreBook,
      tailMs: 0,
      clock,
      onFailure: (f) => failures.push(f),
      onStart: () => {
        t0 = clock.now();
        killTimer = setTimeout(() => {
          killAt = clock.now();
          first!.child.kill('SIGKILL');
          // As a container runtime would: start it again as soon as it is gone.
          restarted = first!.exited.then(async () => {
            second = await start();
            listeningAt = clock.now();
          });
        }, opts.killAtMs);
      },
    });
    const replay = await replayer.run();
    if (restarted === undefined) throw new Error(`the replay ended before the kill at ${opts.killAtMs} ms`);
    await restarted;
    const scaler = second!;
    // Let the restarted scaler finish its cold starts and the destroys of what it recovered.
    const settleBy = Date.now() + CRASH_SETTLE_MAX_MS;
    let totals: Record<string, number> = {};
    for (;;) {
      totals = (await scaler.getJson<{ totals: Record<string, number> }>('/stats')).totals;
      if (((totals.startingInstances ?? 0) === 0 && (totals.reclaimPending ?? 0) === 0) || Date.now() > settleBy) break;
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    }
    await scaler.stop();
    const leftover = platform.leakCheck().liveSlotIds.map((slotId) => {
      const slot = platform.slots.get(slotId)!;
      return { slotId, createdMsBeforeKill: killAt - slot.createdAtMs, state: slot.state };
    });
    const lostWithProcess = leftover.filter((l) => l.state === 'created' && l.createdMsBeforeKill >= 0 && l.createdMsBeforeKill <= LOST_WITH_PROCESS_MS).length;
    const reachable = listeningAt + RECONNECT_SLACK_MS;
    const otherFailures = failures.filter((f) => !(isTransport(f.reason) && f.endedAtMs >= killAt && f.startedAtMs <= reachable));
    return {
      requests: replay.requests,
      failures: replay.failedRequests,
      failureReasons: replay.failures,
      failuresAtCrash: failures.length - otherFailures.length,
      otherFailures,
      killAtMs: killAt - t0,
      listeningAtMs: listeningAt - t0,
      acceptingMs: scaler.acceptingMs,
      startupMs: scaler.startupMs,
      recovery: {
        recoveredSlots: totals.recoveredSlots ?? 0,
        adoptedIdle: totals.adoptedIdle ?? 0,
        adoptedBusy: totals.adoptedBusy ?? 0,
        reclaimedSlots: totals.reclaimedSlots ?? 0,
        lostCreatesAtCrash: totals.lostCreatesAtCrash ?? 0,
      },
      slotsCreated: platform.createdSlotCount,
      liveSlotsAfterStop: leftover.length,
      lostWithProcess,
      leftover,
    };
  } finally {
    if (killTimer !== undefined) clearTimeout(killTimer);
    await second?.stop();
    await first?.stop();
    await platform.close();
    if (ownDir) rmSync(journalDir, { recursive: true, force: true });
  }
}
