/**
 * A shard worker: owns the pools, timers and platform client of the functions hashed to its
 * shard. A thin adapter: the decisions are `ScalerCore`'s, the messaging is the sharding layer's.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { RealClock } from '../core/real-clock.js';
import { ScalerCore } from '../core/scaler-core.js';
import { createPolicy } from '../core/policies/policy-registry.js';
import type { ScoreTotals } from '../core/score-prices.js';
import { SCALER_COUNTER_LAYOUT, h2ClientLimitField, platformCallField, type ScalerCounterField } from './counters-layout.js';
import { LimitReporter, type H2ClientLimit } from '../h2/h2-limits.js';
import { DEFAULT_PLATFORM_CLIENT, type LogLevel } from '../config.js';
import { createLogger } from '../logger.js';
import { RawH2PlatformClient } from '../platform/raw-h2-platform-client.js';
import { BoundedPlatform, PLATFORM_CALL_CODES, PLATFORM_METHODS } from '../platform/bounded-platform.js';
import { SCALER_SHARD_CODEC } from './shard-codec.js';
import { ShardOp, type ShardEvent, type ShardRequest, type ShardResponse, type ShardWorkerData } from './shard-messages.js';
import { serveShard, type ShardContext, type ShardReply, type SharedCounters } from '../sharding/index.js';
import { ScalerErrorCode } from '../core/types.js';
import { readBenchShardWorkUs, spinMicros } from './bench-shard-work.js';
import {
  TEST_CRASH_EXIT_CODE,
  TEST_CRASH_INSTANCE_ID,
  TEST_CRASH_ON_RELEASE_REQUEST_ID,
  TEST_KILL_DELAY_MS,
  TEST_KILL_ON_RELEASE_REQUEST_ID,
  testHooksEnabled,
} from './test-hooks.js';
import type { JournalError } from '../journal/journal-error.js';
import { JournalFile } from '../journal/journal-file.js';
import { JournalingPlatform } from '../journal/journaling-platform.js';
import { recoverSlots, type RecoveryCounts, type RecoveryTarget } from '../journal/recover-slots.js';
import type { Logger } from '../logger.js';
import { OffThreadRateTuner, tunerThreadEnabled } from './off-thread-rate-tuner.js';

/** Slot time integrates continuously: refresh the shared score sums at least this often. */
export const COUNTER_REFRESH_MS = 250;
/** Budget for destroying every slot on shutdown. */
export const SHUTDOWN_DESTROY_TIMEOUT_MS = 4_000;

type Ctx = ShardContext<ShardEvent, ScalerCounterField, ShardWorkerData>;

let core: ScalerCore | undefined;
let clock: RealClock | undefined;
let platform: BoundedPlatform | undefined;
let syncScheduled = false;
let refreshTimer: NodeJS.Timeout | undefined;
/**
 * This shard's slot journal file (src/journal); null when off or unusable. One file per shard,
 * written here: this worker owns the slots, sees every event of theirs first, and can write the
 * records before the replies that depend on them leave (beforeFlush). A journal written by main
 * from the slot events would need an event per Assign and Idle across the port and its writes on
 * the thread that already carries all the gRPC work, and could not order a reply after its record.
 */
let journal: JournalFile | null = null;
let journalErrors = 0;
let tornBytes = 0;
let lostCreatesAtCrash = 0;
let recovery: RecoveryCounts = { recovered: 0, adoptedIdle: 0, adoptedBusy: 0, reclaimed: 0 };
/**
 * The adaptive policy's exchange-rate tuner, on its own thread (null: not adaptive, or
 * SCALER_TUNER_THREAD=off): its counterfactual runs are CPU work no reply should wait behind.
 */
let rateTuner: OffThreadRateTuner | null = null;
/** Recovered slots whose destroy has not been answered yet. */
const reclaimPending = new Set<string>();
/** See test-hooks.ts; read once, the hot path only tests a boolean. */
const TEST_HOOKS = testHooksEnabled();
/**
 * `SCALER_LOOP_DELAY_LOG=SECONDS`: log this shard's event-loop delay (how long a message or timer
 * waited behind other work: what a reply can queue behind) every SECONDS, and at shutdown.
 * Diagnostics (docs/per-call-latency.md); off unless set.
 */
export const LOOP_DELAY_LOG_ENV = 'SCALER_LOOP_DELAY_LOG';
let loopDelay: { h: IntervalHistogram; log: Logger } | null = null;
/** Benchmark-only extra work per request (src/shard/bench-shard-work.ts); 0 unless set. */
const BENCH_WORK_US = readBenchShardWorkUs();

function writeCounters(ctx: Ctx): void {
  syncScheduled = false;
  if (core === undefined || clock === undefined) return;
  const c = ctx.counters;
  const s = ctx.shard;
  const m = core.metrics;
  const t = m.scoreTotals(clock.now());
  c.set(s, 'inflightAssigns', m.inflightAssigns);
  c.set(s, 'waitingAssigns', m.waitingAssigns);
  c.set(s, 'liveSlots', m.liveSlots);
  c.set(s, 'liveSlotMb', m.liveSlotMb);
  c.set(s, 'idleInstances', m.idleInstances);
  c.set(s, 'busyInstances', m.busyInstances);
  c.set(s, 'startingInstances', m.startingInstances);
  c.set(s, 'coldStarts', m.coldStarts);
  c.set(s, 'prewarms', m.prewarms);
  c.set(s, 'assigns', m.assigns);
  c.set(s, 'idles', m.idles);
  c.set(s, 'failedAssigns', m.failedAssigns);
  c.set(s, 'platformRetries', m.platformRetries);
  c.set(s, 'platformFailures', m.platformFailures);
  c.set(s, 'leaseExpiries', m.leaseExpiries);
  c.set(s, 'initHedges', m.initHedges);
  c.set(s, 'functions', core.functionCount);
  c.set(s, 'lostCreateReplies', m.lostCreateReplies);
  c.set(s, 'recoveredSlots', recovery.recovered);
  c.set(s, 'adoptedIdle', recovery.adoptedIdle);
  c.set(s, 'adoptedBusy', recovery.adoptedBusy);
  c.set(s, 'reclaimedSlots', recovery.reclaimed);
  c.set(s, 'reclaimPending', reclaimPending.size);
  c.set(s, 'lostCreatesAtCrash', lostCreatesAtCrash);
  c.set(s, 'journalTornBytes', tornBytes);
  c.set(s, 'journalErrors', journalErrors);
  c.set(s, 'journalBytesWritten', journal?.bytesWritten ?? 0);
  c.set(s, 'journalWrites', journal?.writes ?? 0);
  c.set(s, 'journalCompactions', journal?.compactions ?? 0);
  c.set(s, 'execGBs', t.execGBs);
  c.set(s, 'slotGBs', t.slotGBs);
  c.set(s, 'execSecs', t.execSecs);
  c.set(s, 'scheduleSecs', t.scheduleSecs);
}

/** Platform call counts and queue depths: for metrics only, so on the refresh timer, not per request. */
function writePlatformCounters(ctx: Ctx): void {
  const p = platform;
  if (p === undefined) return;
  const c = ctx.counters;
  const s = ctx.shard;
  for (const method of PLATFORM_METHODS) {
    for (const code of PLATFORM_CALL_CODES) c.set(s, platformCallField(method, code), p.callCount(method, code));
  }
  c.set(s, 'coldStartsInFlight', p.coldStartsInFlight);
  c.set(s, 'coldStartsQueued', p.coldStartsQueued);
  c.set(s, 'destroysInFlight', p.destroysInFlight);
  c.set(s, 'destroysQueued', p.destroysQueued);
}

function refreshCounters(ctx: Ctx): void {
  writeCounters(ctx);
  writePlatformCounters(ctx);
}

function globalTotals(counters: SharedCounters<ScalerCounterField>): ScoreTotals {
  return {
    execGBs: counters.total('execGBs'),
    slotGBs: counters.total('slotGBs'),
    execSecs: counters.total('execSecs'),
    scheduleSecs: counters.total('scheduleSecs'),
  };
}

function markDirty(ctx: Ctx): void {
  if (!syncScheduled) {
    syncScheduled = true;
    queueMicrotask(() => writeCounters(ctx));
  }
}

function handle(msg: ShardRequest, reply: ShardReply<ShardResponse>, ctx: Ctx): void {
  if (BENCH_WORK_US > 0) spinMicros(BENCH_WORK_US);
  const c = core;
  if (c === undefined) {
    reply.error(ScalerErrorCode.ShuttingDown, 'shard is not ready');
    return;
  }
  switch (msg.op) {
    case ShardOp.Assign:
      c.assign(
        { requestId: msg.rid, meta: { key: msg.key, memoryMb: msg.mem, runtime: msg.rt, timeoutInSecs: msg.to } },
        (err, instanceId) => {
          if (err !== null) reply.error(err.code, err.message);
          else {
            // Journaled before the reply is posted (serveShard's beforeFlush writes it first).
            journal?.assigned(instanceId!, msg.rid);
            reply(instanceId!);
          }
          markDirty(ctx);
        },
      );
      break;
    case ShardOp.Idle: {
      if (TEST_HOOKS && testCrashOnIdle(msg.iid, msg.rid)) return;
      // The request holding the instance, read before the core may hand it to a waiter.
      const held = journal === null ? '' : (c.liveInstances.get(msg.iid)?.busyRequestId ?? '');
      const err = c.idle({ requestId: msg.rid, metaKey: msg.key, instanceId: msg.iid, needDestroy: msg.nd, durationMs: msg.dur });
      if (err !== null) reply.error(err.code, err.message);
      else {
        // After the core, so a waiter it served meanwhile was journaled first; a release by a
        // request that no longer holds the instance changes nothing on replay.
        if (held !== '') journal?.released(msg.iid, held);
        reply('');
      }
      break;
    }
    case ShardOp.Cancel:
      c.cancelWaiting(msg.key, msg.rid);
      reply('');
      break;
  }
  markDirty(ctx);
}

/** src/shard/test-hooks.ts: true when the hook took this Idle (the worker is going down). */
function testCrashOnIdle(iid: string, rid: string): boolean {
  if (iid === TEST_CRASH_INSTANCE_ID || rid === TEST_CRASH_ON_RELEASE_REQUEST_ID) process.exit(TEST_CRASH_EXIT_CODE);
  if (rid !== TEST_KILL_ON_RELEASE_REQUEST_ID) return false;
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), TEST_KILL_DELAY_MS);
  return true;
}

function startLoopDelayLog(log: Logger): void {
  const secs = Number(process.env[LOOP_DELAY_LOG_ENV] ?? '');
  if (!(secs > 0)) return;
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  loopDelay = { h, log };
  const t = setInterval(logLoopDelay, secs * 1000);
  t.unref();
}

function logLoopDelay(): void {
  if (loopDelay === null || loopDelay.h.count === 0) return;
  const { h, log } = loopDelay;
  const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;
  log.warn({ n: h.count, p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), p999Ms: ms(h.percentile(99.9)), maxMs: ms(h.max), meanMs: ms(h.mean) }, 'shard event-loop delay');
  h.reset();
}

function reportJournalError(ctx: Ctx, log: Logger, e: JournalError): void {
  journalErrors++;
  log.error({ code: e.code, file: e.file, offset: e.offset }, e.message);
  ctx.emit({ t: 'journal-error', code: e.code, file: e.file, offset: e.offset, message: e.message });
}

serveShard<ShardRequest, ShardResponse, ShardEvent, ScalerCounterField, ShardWorkerData>(handle, {
  counterLayout: SCALER_COUNTER_LAYOUT,
  codec: SCALER_SHARD_CODEC,
  // Group commit: whatever the journal holds is written before any reply leaves this worker.
  beforeFlush: () => journal?.flush(),
  async init(ctx) {
    const wd = ctx.workerData;
    const log = createLogger(wd.logLevel as LogLevel, { shard: ctx.shard, generation: ctx.generation });
    clock = new RealClock();
    const platformClient = wd.platformClient ?? DEFAULT_PLATFORM_CLIENT;
    // grpc-js is loaded only when asked for: a raw-client worker starts ~0.2 s sooner without it.
    const client = platformClient === 'raw'
      ? new RawH2PlatformClient({
          address: wd.platformAddress,
          // A platform connection or stream closed for what the peer sent: counted, logged at most once a second per limit.
          limits: {
            onLimit: new LimitReporter<H2ClientLimit>(
              (limit) => ctx.counters.add(ctx.shard, h2ClientLimitField(limit), 1),
              (limit, detail, suppressed) => log.warn({ limit, suppressed, platform: wd.platformAddress }, `platform connection limit ${limit}: ${detail}`),
            ).hit,
          },
        })
      : new (await import('../platform/grpc-platform-client.js')).GrpcPlatformClient({ address: wd.platformAddress });
    const opened =
      wd.journalPath === null
        ? null
        : JournalFile.open({ path: wd.journalPath, shard: ctx.shard, shards: ctx.shards, platform: wd.platformAddress, onError: (e) => reportJournalError(ctx, log, e) });
    journal = opened?.file ?? null;
    if (opened?.report.error) reportJournalError(ctx, log, opened.report.error);
    tornBytes = opened?.report.tornBytes ?? 0;
    lostCreatesAtCrash = opened?.report.lostCreates ?? 0;
    platform = new BoundedPlatform(client, { maxColdStarts: wd.maxColdStarts, maxDestroys: wd.maxDestroys });
    const c = (core = new ScalerCore({
      clock,
      // Journaled above the bound: a destroy is recorded when the core decides it, even while it
      // waits for a permit (else a broken instance whose destroy was queued at a kill would be
      // taken over as idle); a CreateSlot waiting for one is then counted as in flight.
      platform: journal === null ? platform : new JournalingPlatform(platform, journal),
      policy: createPolicy(wd.policy, {
        keepAliveMs: wd.keepAliveMs,
        rateTuner: tunerThreadEnabled() ? (setup) => (rateTuner = new OffThreadRateTuner(setup)) : undefined,
      }),
      instanceIdPrefix: wd.instancePrefix,
      totals: () => globalTotals(ctx.counters),
      logger: log,
      observer: {
        onSlotCreated: (slotId, mem, iid, key) => ctx.emit({ t: 'slot-created', slotId, mem, iid, key }),
        onSlotDestroyed: (slotId) => {
          ctx.emit({ t: 'slot-destroyed', slotId });
          if (reclaimPending.delete(slotId) && reclaimPending.size === 0) log.info({ reclaimed: recovery.reclaimed }, 'recovery: every leftover slot destroyed');
        },
      },
    }));
    // What the predecessor left. A killed process (generation 0 reads the file it left): its
    // initialised instances are taken over, the rest destroyed. A crashed worker of this process:
    // everything destroyed (see recoverSlots), from the file and from main's in-memory journal.
    const fromFile = opened?.report.slots ?? [];
    const target: RecoveryTarget = {
      adoptInstance: (slotId, iid, meta, busy) => c.adoptInstance(slotId, iid, meta, busy),
      destroyOrphanSlot: (slotId, mem, iid) => {
        // Main learns of it (its /slots and a later crash hand-over) before it goes.
        ctx.emit({ t: 'slot-created', slotId, mem, iid: iid ?? '', key: '' });
        reclaimPending.add(slotId);
        c.destroyOrphanSlot(slotId, mem, iid);
      },
    };
    recovery = recoverSlots(fromFile, target, ctx.generation === 0);
    const inFile = new Set(fromFile.map((sl) => sl.slotId));
    let orphans = 0;
    for (const [slotId, mem, iid] of wd.orphanSlots) {
      if (inFile.has(slotId)) continue;
      orphans++;
      reclaimPending.add(slotId);
      c.destroyOrphanSlot(slotId, mem, iid);
    }
    if (orphans > 0) recovery = { ...recovery, recovered: recovery.recovered + orphans, reclaimed: recovery.reclaimed + orphans };
    if (recovery.recovered > 0 || lostCreatesAtCrash > 0) {
      log.warn(
        { ...recovery, lostCreatesAtCrash, tornBytes, journal: wd.journalPath },
        ctx.generation === 0
          ? 'recovery: slots left by the previous scaler process taken over or destroyed'
          : 'recovery: slots left by the crashed shard worker destroyed',
      );
    }
    refreshCounters(ctx);
    startLoopDelayLog(log);
    refreshTimer = setInterval(() => refreshCounters(ctx), COUNTER_REFRESH_MS);
    refreshTimer.unref();
    log.info(
      { policy: c.policyName, platformClient, maxColdStarts: platform.maxColdStarts, maxDestroys: platform.maxDestroys, journal: journal?.path ?? null },
      'shard ready',
    );
  },
  async onShutdown(ctx) {
    if (refreshTimer !== undefined) clearInterval(refreshTimer);
    const c = core;
    if (c === undefined) return;
    // Main closes the router only after its gRPC server stopped and every forwarded Idle was
    // delivered: the core destroys busy and initialising instances too (see ScalerCore.shutdown).
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, SHUTDOWN_DESTROY_TIMEOUT_MS);
      t.unref();
      c.shutdown(() => {
        clearTimeout(t);
        resolve();
      });
      // The core is stopping now: CreateSlots still queued for a permit would only create
      // slots to destroy; failed, the core counts them out instead of retrying.
      platform?.abortQueuedColdStarts('scaler is shutting down');
    });
    await rateTuner?.close();
    logLoopDelay();
    refreshCounters(ctx);
    // Every slot destroyed: nothing to recover, the file goes. Otherwise the next start finishes.
    journal?.close(true);
    clock?.stop();
    platform?.close();
  },
});
