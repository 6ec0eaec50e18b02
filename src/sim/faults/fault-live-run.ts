/**
 * A live fault run: the emulated platform with a `FaultPlan` (statuses and latency spikes via
 * its `FaultInjector`, unreachable windows via a `FaultProxy` that cuts the TCP connections),
 * our scaler as a real child process pointed at the proxy, and the open-loop replayer. At the
 * end the platform's slot ledger is checked against the slots the scaler still tracks (its
 * stats endpoint's `/slots`): anything else alive is a leak.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetaRecord, RequestRecord } from '../contest/dataset-types.js';
import { FaultPlan, liveFaultInjector, type FaultPlanOptions } from '../live/fault-plan.js';
import { FaultProxy } from './fault-proxy.js';
import { PlatformServer, monotonicClock } from '../live/platform-server.js';
import { Replayer } from '../live/replayer.js';
import { ScoreBook } from '../scoring/score-book.js';
import { spawnScaler } from '../live/scaler-process.js';
import { freePort } from '../../free-port.js';
export { freePort };

export const SCALER_READY_TIMEOUT_MS = 20_000;
/** After the last Idle, the least time destroys get before slots are counted. */
export const DEFAULT_SETTLE_MS = 2_000;
/** ... and the most, waiting for in-flight cold starts (a spiked Init) to finish. */
export const MAX_SETTLE_MS = 60_000;
const SETTLE_POLL_MS = 100;
export const SCALER_STOP_GRACE_MS = 8_000;

export interface ScalerProcessOptions {
  /** Compiled entry point, e.g. `dist/src/main.js`. */
  readonly mainJs: string;
  readonly platformAddress: string;
  readonly shards?: number;
  readonly extraArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Receives the child's stderr (JSON logs); default: discarded. */
  readonly onLog?: (chunk: string) => void;
  /** Listen address (default 127.0.0.1:0); a fixed one lets a restarted scaler take its place. */
  readonly address?: string;
  /** Stats port (default: a free one). */
  readonly statsPort?: number;
}

/** Our scaler as a child process on ephemeral ports. */
export interface ScalerProcess {
  readonly child: ChildProcess;
  readonly address: string;
  readonly statsPort: number;
  /** What the scaler logged as its time from process start to serving (its shards ready)... */
  readonly startupMs: number;
  /** ... and to accepting calls (they wait for the shards meanwhile). */
  readonly acceptingMs: number;
  /** Resolves once it exited. */
  readonly exited: Promise<unknown>;
  /** GET a JSON document from the stats endpoint. */
  getJson<T>(path: string): Promise<T>;
  /** SIGTERM, then SIGKILL after a grace. */
  stop(): Promise<number | null>;
}


function httpGetJson<T>(port: number, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
  });
}

/** Starts `node mainJs` on 127.0.0.1:0 and resolves once it logged "scaler listening". */
export async function startScalerProcess(opts: ScalerProcessOptions): Promise<ScalerProcess> {
  // The stats port must be fixed on the command line (0 disables it): take a free one.
  const statsPort = opts.statsPort ?? (await freePort());
  const args = [
    opts.mainJs,
    '--address',
    opts.address ?? '127.0.0.1:0',
    '--platform',
    opts.platformAddress,
    '--stats-port',
    String(statsPort),
    '--shards',
    String(opts.shards ?? 2),
    '--log-level',
    'info',
    ...(opts.extraArgs ?? []),
  ];
  const proc = spawnScaler({ command: process.execPath, args, env: opts.env, stdout: 'ignore', onOutput: opts.onLog });
  // The bound port is only known from the "listening" log line (it binds port 0).
  let startupMs = NaN;
  let acceptingMs = NaN;
  const ready = new Promise<number>((resolve, reject) => {
    let buf = '';
    const done = (): void => {
      clearTimeout(timer);
      stopListening();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`scaler not listening after ${SCALER_READY_TIMEOUT_MS} ms:\n${buf.slice(-2000)}`));
    }, SCALER_READY_TIMEOUT_MS);
    const stopListening = proc.onOutput((text) => {
      buf += text;
      const m = /"port":(\d+),[^\n]*"msg":"scaler listening"/.exec(buf);
      if (m !== null) {
        startupMs = Number(/"startupMs":(\d+)/.exec(m[0])?.[1] ?? NaN);
        acceptingMs = Number(/"acceptingMs":(\d+)/.exec(m[0])?.[1] ?? NaN);
        done();
        resolve(Number(m[1]));
      }
    });
    void proc.exited.then(({ code }) => {
      done();
      reject(new Error(`scaler exited (${code}) before listening:\n${buf.slice(-2000)}`));
    });
  });
  let port: number;
  try {
    port = await ready;
  } catch (e) {
    // Never leave a scaler that did not come up running behind the caller.
    await proc.stop(SCALER_STOP_GRACE_MS);
    throw e;
  }
  return {
    child: proc.child,
    address: `127.0.0.1:${port}`,
    statsPort,
    startupMs,
    acceptingMs,
    exited: proc.exited,
    getJson: <T>(path: string) => httpGetJson<T>(statsPort, path),
    stop: async () => (await proc.stop(SCALER_STOP_GRACE_MS)).code,
  };
}

export interface FaultLiveRunOptions {
  readonly mainJs: string;
  readonly metas: ReadonlyMap<string, MetaRecord>;
  readonly requests: Iterable<RequestRecord> | AsyncIterable<RequestRecord>;
  readonly plan: FaultPlanOptions;
  readonly shards?: number;
  readonly createLatencyMs?: number;
  /** Caps every function's init duration (keeps CI runs short); default: the dataset's. */
  readonly maxInitMs?: number;
  readonly settleMs?: number;
  readonly scalerArgs?: readonly string[];
  readonly onLog?: (chunk: string) => void;
}

export interface FaultLiveRunResult {
  readonly requests: number;
  readonly failures: number;
  readonly failureReasons: Record<string, number>;
  readonly slotsCreated: number;
  /** Alive at the end and not in the scaler's journal, or unusable (never initialised, failed init, broken). */
  readonly leakedSlots: number;
  /** Why each leaked slot counts as leaked (platform state, journaled or not). */
  readonly leakedDetail: Array<{ slotId: string; state: string; initFailed: boolean; journaled: boolean; broken: boolean }>;
  readonly liveSlotsAtEnd: number;
  /** Slots still alive on the platform after the scaler stopped (SIGTERM: it destroys all it knows). */
  readonly liveSlotsAfterStop: number;
  /** CreateSlot calls whose answer the scaler never got (its count): the only slots it cannot destroy. */
  readonly lostCreateReplies: number;
  readonly injected: Record<string, number>;
  readonly proxyOutages: number;
  /** Platform calls whose connection was gone when they were answered (cut mid-call). */
  readonly cutCalls: Record<string, number>;
  readonly platformCalls: Record<string, Record<string, number>>;
}

export async function runFaultLive(opts: FaultLiveRunOptions): Promise<FaultLiveRunResult> {
  const plan = new FaultPlan(opts.plan);
  const createLatencyMs = opts.createLatencyMs ?? 100;
  const initOf = (key: string): number => {
    const ms = opts.metas.get(key)?.initDurationInMs ?? 0;
    return opts.maxInitMs === undefined ? ms : Math.min(ms, opts.maxInitMs);
  };
  let t0 = NaN;
  const now = (): number => (Number.isNaN(t0) ? -1 : monotonicClock.now() - t0);
  const scoreBook = new ScoreBook();
  const platform = new PlatformServer({
    address: '127.0.0.1:0',
    createLatencyMs,
    metas: opts.metas,
    initDurationMs: (m) => initOf(m.key),
    scoreBook,
    faults: liveFaultInjector(plan, { now, createLatencyMs, initDurationMs: initOf, outageAs: 'none' }),
  });
  await platform.start();
  const proxy = new FaultProxy({ upstream: platform.target });
  await proxy.start();
  // The slot journal as deployed (on by default on a fixed port; this scaler binds port 0).
  const journalDir = mkdtempSync(join(tmpdir(), 'scaler-fault-'));
  let scaler: ScalerProcess | undefined;
  try {
    scaler = await startScalerProcess({
      mainJs: opts.mainJs,
      platformAddress: proxy.target,
      shards: opts.shards,
      extraArgs: ['--journal', journalDir, ...(opts.scalerArgs ?? [])],
      onLog: opts.onLog,
    });
    const replayer = new Replayer({
      requests: opts.requests,
      metas: opts.metas,
      scalerAddress: scaler.address,
      platform,
      scoreBook,
      tailMs: 0,
      onStart: () => {
        t0 = monotonicClock.now();
        proxy.follow(plan, now);
      },
    });
    const replay = await replayer.run();
    proxy.stopFollowing();
    proxy.setDown(false);
    await new Promise((r) => setTimeout(r, opts.settleMs ?? DEFAULT_SETTLE_MS));
    // A slot whose Init is still running (e.g. spiked) is tracked, not leaked: let it finish.
    const settleBy = Date.now() + MAX_SETTLE_MS;
    while (Date.now() < settleBy) {
      const st = await scaler.getJson<{ totals: Record<string, number> }>('/stats');
      if ((st.totals.startingInstances ?? 0) === 0 && (st.totals.liveSlots ?? 0) === platform.liveSlotCount) break;
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    }
    const tracked = (await scaler.getJson<{ slots: string[] }>('/slots')).slots;
    const lostCreateReplies = (await scaler.getJson<{ totals: Record<string, number> }>('/stats')).totals.lostCreateReplies ?? 0;
    const byJournal = platform.leakCheck(tracked);
    const orphans = platform.leakCheck();
    // Leaked: not journaled, or journaled but unusable (never initialised, failed init, broken).
    const leaked = new Set([...byJournal.leakedSlotIds, ...orphans.leakedSlotIds]);
    await scaler.stop();
    const liveSlotsAfterStop = platform.liveSlotCount;
    return {
      requests: replay.requests,
      failures: replay.failedRequests,
      failureReasons: replay.failures,
      slotsCreated: platform.createdSlotCount,
      leakedSlots: leaked.size,
      leakedDetail: [...leaked].map((id) => {
        const slot = platform.slots.get(id);
        const inst = slot?.instanceId === undefined ? undefined : platform.instances.get(slot.instanceId);
        return { slotId: id, state: slot?.state ?? '?', initFailed: slot?.initFailed ?? false, journaled: tracked.includes(id), broken: inst?.broken ?? false };
      }),
      liveSlotsAtEnd: byJournal.liveSlotIds.length,
      liveSlotsAfterStop,
      lostCreateReplies,
      injected: { ...plan.injected, outage: plan.injected.outage + proxy.refused },
      proxyOutages: proxy.outages,
      cutCalls: { ...platform.cutCalls },
      platformCalls: platform.callCounts,
    };
  } finally {
    proxy.stopFollowing();
    await scaler?.stop();
    await proxy.close();
    await platform.close();
    rmSync(journalDir, { recursive: true, force: true });
  }
}
