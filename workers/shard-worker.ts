/**
 * A shard worker: owns the pools, timers and platform client of the functions hashed to its
 * shard. A thin adapter: the decisions are `ScalerCore`'s, the messaging is the sharding layer's.
 */
import { RealClock } from '../src/core/real-clock.js';
import { ScalerCore } from '../src/core/scaler-core.js';
import { createPolicy } from '../src/core/policies/policy-registry.js';
import type { ScoreTotals } from '../src/core/score-prices.js';
import { SCALER_COUNTER_LAYOUT, platformCallField, type ScalerCounterField } from '../src/counters-layout.js';
import { DEFAULT_PLATFORM_CLIENT, type LogLevel } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { GrpcPlatformClient } from '../src/server/grpc-platform-client.js';
import { RawH2PlatformClient } from '../src/server/raw-h2-platform-client.js';
import { BoundedPlatform, PLATFORM_CALL_CODES, PLATFORM_METHODS } from '../src/server/bounded-platform.js';
import { SCALER_SHARD_CODEC } from '../src/shard-codec.js';
import { ShardOp, type ShardEvent, type ShardRequest, type ShardResponse, type ShardWorkerData } from '../src/shard-messages.js';
import { serveShard, type ShardContext, type ShardReply, type SharedCounters } from '../src/sharding/index.js';
import { ScalerErrorCode } from '../src/core/types.js';
import { readBenchShardWorkUs, spinMicros } from '../src/server/bench-shard-work.js';
import { TEST_CRASH_EXIT_CODE, TEST_CRASH_INSTANCE_ID, testHooksEnabled } from '../src/server/test-hooks.js';

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
/** See src/server/test-hooks.ts; read once, the hot path only tests a boolean. */
const TEST_HOOKS = testHooksEnabled();
/** Benchmark-only extra work per request (src/server/bench-shard-work.ts); 0 unless set. */
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
          else reply(instanceId!);
          markDirty(ctx);
        },
      );
      break;
    case ShardOp.Idle: {
      if (TEST_HOOKS && msg.iid === TEST_CRASH_INSTANCE_ID) process.exit(TEST_CRASH_EXIT_CODE);
      const err = c.idle({ requestId: msg.rid, metaKey: msg.key, instanceId: msg.iid, needDestroy: msg.nd, durationMs: msg.dur });
      if (err !== null) reply.error(err.code, err.message);
      else reply('');
      break;
    }
    case ShardOp.Cancel:
      c.cancelWaiting(msg.key, msg.rid);
      reply('');
      break;
  }
  markDirty(ctx);
}

serveShard<ShardRequest, ShardResponse, ShardEvent, ScalerCounterField, ShardWorkerData>(handle, {
  counterLayout: SCALER_COUNTER_LAYOUT,
  codec: SCALER_SHARD_CODEC,
  init(ctx) {
    const wd = ctx.workerData;
    const log = createLogger(wd.logLevel as LogLevel, { shard: ctx.shard, generation: ctx.generation });
    clock = new RealClock();
    const platformClient = wd.platformClient ?? DEFAULT_PLATFORM_CLIENT;
    const client = platformClient === 'raw'
      ? new RawH2PlatformClient({ address: wd.platformAddress })
      : new GrpcPlatformClient({ address: wd.platformAddress });
    platform = new BoundedPlatform(client, { maxColdStarts: wd.maxColdStarts, maxDestroys: wd.maxDestroys });
    core = new ScalerCore({
      clock,
      platform,
      policy: createPolicy(wd.policy, { keepAliveMs: wd.keepAliveMs }),
      instanceIdPrefix: wd.instancePrefix,
      totals: () => globalTotals(ctx.counters),
      logger: log,
      observer: {
        onSlotCreated: (slotId, mem, iid, key) => ctx.emit({ t: 'slot-created', slotId, mem, iid, key }),
        onSlotDestroyed: (slotId) => ctx.emit({ t: 'slot-destroyed', slotId }),
      },
    });
    // A crashed predecessor's slots: nobody can serve from them, so stop paying for them.
    for (const [slotId, mem, iid] of wd.orphanSlots) core.destroyOrphanSlot(slotId, mem, iid);
    refreshTimer = setInterval(() => refreshCounters(ctx), COUNTER_REFRESH_MS);
    refreshTimer.unref();
    log.info(
      { policy: core.policyName, platformClient, maxColdStarts: platform.maxColdStarts, maxDestroys: platform.maxDestroys, orphans: wd.orphanSlots.length },
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
    refreshCounters(ctx);
    clock?.stop();
    platform?.close();
  },
});
