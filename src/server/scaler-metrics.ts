/**
 * The scaler's Prometheus metrics (`GET /metrics` on the stats port), with prom-client.
 *
 * Almost everything is read at scrape time from the shared counters (src/counters-layout.ts),
 * in prom-client `collect()` callbacks: no shard is messaged and no request pays for it. Only
 * the main thread's per-call counts and latency histograms are recorded per call
 * (src/server/rpc-metrics.ts).
 *
 * Cardinality is low: series are per shard (a handful) and per small fixed label set; no
 * function key appears unless `--metrics-top-functions N` asks for the top N.
 *
 * Shard-side counters start again from 0 when a shard's worker is restarted (as a process's
 * would); they carry a `shard` label so that Prometheus sees that as the reset of one series.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { h2ClientLimitField, platformCallField, type ScalerCounterField } from '../shard/counters-layout.js';
import { H2_CLIENT_LIMITS } from '../h2/h2-limits.js';
import { H2_SERVER_LIMITS, h2ServerLimitHits } from './h2-scaler-server.js';
import type { CounterField, SharedCounters } from '../sharding/index.js';
import { PLATFORM_CALL_CODES, PLATFORM_METHODS } from '../platform/bounded-platform.js';
import type { FunctionSlotTally } from './function-slot-tally.js';
import { RpcMetrics } from './rpc-metrics.js';

const MB = 1024 * 1024;
const GB = 1024 * MB;
/**
 * prom-client's default gauges whose names end in `_total`, which Prometheus reserves for
 * counters (`promtool check metrics` rejects them): left out.
 */
export const OMITTED_DEFAULT_METRICS: readonly string[] = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface ScalerMetricsOptions {
  counters: SharedCounters<ScalerCounterField>;
  policy: string;
  platformClient: string;
  /** Per-shard bounds in force (0: unbounded). */
  maxColdStartsPerShard: number;
  maxDestroysPerShard: number;
  /** Assign/Idle latency histograms (default true). */
  latencyHistograms?: boolean;
  /** Per-function series for the top N functions by live slot memory (needs `functionSlots`). */
  topFunctions?: number;
  functionSlots?: FunctionSlotTally;
  /** Node.js process metrics (CPU, memory, event loop lag, GC) as prom-client collects them (default true). */
  processMetrics?: boolean;
}

type Field = CounterField<ScalerCounterField>;

export class ScalerMetrics {
  readonly registry = new Registry();
  readonly rpc: RpcMetrics;

  constructor(opts: ScalerMetricsOptions) {
    const reg = this.registry;
    const counters = opts.counters;
    const shards = Array.from({ length: counters.shards }, (_, s) => String(s));
    this.rpc = new RpcMetrics({ registry: reg, histograms: opts.latencyHistograms !== false });
    if (opts.processMetrics !== false) {
      collectDefaultMetrics({ register: reg });
      for (const name of OMITTED_DEFAULT_METRICS) reg.removeSingleMetric(name);
    }

    const get = (s: number, f: Field): number => counters.get(s, f);
    /** A per-shard series of one counter field. */
    const perShard = (type: 'counter' | 'gauge', name: string, help: string, field: Field, scale = 1): void => {
      const collect = function (this: Counter<'shard'> | Gauge<'shard'>): void {
        this.reset();
        for (let s = 0; s < shards.length; s++) {
          const v = get(s, field) * scale;
          if (this instanceof Counter) this.inc({ shard: shards[s]! }, v);
          else this.set({ shard: shards[s]! }, v);
        }
      };
      if (type === 'counter') new Counter({ name, help, labelNames: ['shard'], registers: [reg], collect });
      else new Gauge({ name, help, labelNames: ['shard'], registers: [reg], collect });
    };

    new Gauge({
      name: 'scaler_info',
      help: 'Constant 1: the scaling policy, the platform client and the shard count',
      labelNames: ['policy', 'platform_client', 'shards'],
      registers: [reg],
      collect() {
        this.set({ policy: opts.policy, platform_client: opts.platformClient, shards: String(shards.length) }, 1);
      },
    });

    // ---- cold starts, slots, instances ------------------------------------------------------
    new Counter({
      name: 'scaler_cold_starts_total',
      help: 'Cold starts begun (CreateSlot + Init), by reason: on_demand (for waiting Assigns), prewarm (predicted), hedge (backup for an overrunning Init)',
      labelNames: ['shard', 'reason'],
      registers: [reg],
      collect() {
        this.reset();
        for (let s = 0; s < shards.length; s++) {
          const shard = shards[s]!;
          const hedges = get(s, 'initHedges');
          // The core counts a hedge among the on-demand cold starts as well.
          this.inc({ shard, reason: 'on_demand' }, Math.max(0, get(s, 'coldStarts') - hedges));
          this.inc({ shard, reason: 'prewarm' }, get(s, 'prewarms'));
          this.inc({ shard, reason: 'hedge' }, hedges);
        }
      },
    });
    perShard('gauge', 'scaler_live_slots', 'Slots created and not yet destroyed', 'liveSlots');
    perShard('gauge', 'scaler_live_slot_memory_bytes', 'Memory of the live slots', 'liveSlotMb', MB);
    new Gauge({
      name: 'scaler_instances',
      help: 'Instances by state: idle (kept warm), busy (serving a request), starting (CreateSlot or Init under way)',
      labelNames: ['shard', 'state'],
      registers: [reg],
      collect() {
        this.reset();
        for (let s = 0; s < shards.length; s++) {
          const shard = shards[s]!;
          this.set({ shard, state: 'idle' }, get(s, 'idleInstances'));
          this.set({ shard, state: 'busy' }, get(s, 'busyInstances'));
          this.set({ shard, state: 'starting' }, get(s, 'startingInstances'));
        }
      },
    });
    perShard('gauge', 'scaler_assigns_in_flight', 'Assigns a shard received and has not answered yet', 'inflightAssigns');
    perShard('gauge', 'scaler_assigns_waiting', 'Assigns waiting for an instance (a cold start or a busy one)', 'waitingAssigns');
    perShard('counter', 'scaler_assigns_failed_total', 'Assigns a shard answered with an error (cold start failed, shutting down, cancelled)', 'failedAssigns');
    perShard('gauge', 'scaler_functions', 'Functions a shard has seen', 'functions');
    perShard('counter', 'scaler_lease_expiries_total', 'Busy instances destroyed because their Idle never came', 'leaseExpiries');

    // ---- recovery after a crash, and the slot journal (src/journal) ---------------------------
    new Gauge({
      name: 'scaler_recovered_slots',
      help: 'Slots a shard found at start that its predecessor (a killed process, through the slot journal, or a crashed worker) left, by outcome: adopted_idle and adopted_busy (taken over), reclaimed (destroyed)',
      labelNames: ['shard', 'outcome'],
      registers: [reg],
      collect() {
        this.reset();
        for (let s = 0; s < shards.length; s++) {
          const shard = shards[s]!;
          this.set({ shard, outcome: 'adopted_idle' }, get(s, 'adoptedIdle'));
          this.set({ shard, outcome: 'adopted_busy' }, get(s, 'adoptedBusy'));
          this.set({ shard, outcome: 'reclaimed' }, get(s, 'reclaimedSlots'));
        }
      },
    });
    perShard('gauge', 'scaler_reclaim_pending', 'Recovered slots whose DestroySlot has not been answered yet', 'reclaimPending');
    perShard('gauge', 'scaler_lost_creates_at_crash', 'CreateSlot calls the killed predecessor had sent (or queued) and never saw answered', 'lostCreatesAtCrash');
    perShard('counter', 'scaler_lost_create_replies_total', 'CreateSlot calls cut after they were sent: each may have left a slot nobody can destroy', 'lostCreateReplies');
    perShard('counter', 'scaler_journal_errors_total', 'Slot journal problems (corrupt, unreadable, unwritable, foreign or stale file); see /stats journal.errors', 'journalErrors');
    perShard('counter', 'scaler_journal_written_bytes_total', 'Bytes the slot journal wrote (records and compaction snapshots)', 'journalBytesWritten');
    perShard('counter', 'scaler_journal_writes_total', 'Group-commit writes of the slot journal', 'journalWrites');
    perShard('counter', 'scaler_journal_compactions_total', 'Slot journal compactions (the file rewritten as a snapshot of its live slots)', 'journalCompactions');

    // ---- platform ---------------------------------------------------------------------------
    new Counter({
      name: 'scaler_platform_calls_total',
      help: 'Platform calls answered, by method and outcome: ok, throttle (Status Throttle), transient (InternalError or transport, retried), permanent (NotFound, InvalidArgument)',
      labelNames: ['shard', 'method', 'code'],
      registers: [reg],
      collect() {
        this.reset();
        for (let s = 0; s < shards.length; s++) {
          for (const method of PLATFORM_METHODS) {
            for (const code of PLATFORM_CALL_CODES) this.inc({ shard: shards[s]!, method, code }, get(s, platformCallField(method, code)));
          }
        }
      },
    });
    perShard('counter', 'scaler_platform_retries_total', 'CreateSlot and DestroySlot calls retried after Throttle or a transient error', 'platformRetries');
    perShard('counter', 'scaler_platform_failures_total', 'Cold starts and destroys given up after their retries', 'platformFailures');
    const queue = (name: string, help: string, coldStart: Field, destroy: Field): void => {
      new Gauge({
        name,
        help,
        labelNames: ['shard', 'queue'],
        registers: [reg],
        collect() {
          this.reset();
          for (let s = 0; s < shards.length; s++) {
            this.set({ shard: shards[s]!, queue: 'cold_start' }, get(s, coldStart));
            this.set({ shard: shards[s]!, queue: 'destroy' }, get(s, destroy));
          }
        },
      });
    };
    queue('scaler_platform_in_flight', 'Cold starts holding a permit of the bound (CreateSlot through Init), and DestroySlot calls in flight', 'coldStartsInFlight', 'destroysInFlight');
    queue('scaler_platform_queued', 'CreateSlot and DestroySlot calls waiting inside the scaler for the bound', 'coldStartsQueued', 'destroysQueued');
    new Gauge({
      name: 'scaler_platform_concurrency_limit',
      help: 'Per-shard bound of scaler_platform_in_flight (--max-cold-starts, --max-destroys); +Inf when unbounded',
      labelNames: ['queue'],
      registers: [reg],
      collect() {
        this.set({ queue: 'cold_start' }, opts.maxColdStartsPerShard === 0 ? Infinity : opts.maxColdStartsPerShard);
        this.set({ queue: 'destroy' }, opts.maxDestroysPerShard === 0 ? Infinity : opts.maxDestroysPerShard);
      },
    });

    // ---- limits on what a peer controls (docs/limits.md) ------------------------------------
    new Counter({
      name: 'scaler_peer_limits_total',
      help: 'Limits on what a peer sent that fired, each closing the offending stream or connection (docs/limits.md): side platform_client (per shard) or server (shard "main")',
      labelNames: ['side', 'limit', 'shard'],
      registers: [reg],
      collect() {
        this.reset();
        for (let s = 0; s < shards.length; s++) {
          for (const limit of H2_CLIENT_LIMITS) this.inc({ side: 'platform_client', limit, shard: shards[s]! }, get(s, h2ClientLimitField(limit)));
        }
        for (const limit of H2_SERVER_LIMITS) this.inc({ side: 'server', limit, shard: 'main' }, h2ServerLimitHits[limit]);
      },
    });

    // ---- shards and the router --------------------------------------------------------------
    perShard('counter', 'scaler_shard_restarts_total', 'Times a shard worker crashed and was restarted', 'routerRestarts');
    perShard('gauge', 'scaler_router_in_flight', 'Requests sent to a shard and not answered yet', 'routerInFlight');
    perShard('gauge', 'scaler_router_queued', 'Requests waiting in the router for a shard (backpressure)', 'routerQueued');
    perShard('counter', 'scaler_router_overloads_total', 'Requests refused because a shard was overloaded', 'routerOverloads');

    // ---- the score --------------------------------------------------------------------------
    // GB-seconds in base units (bytes x seconds, GB = 2^30 bytes), as Prometheus names want them.
    perShard('counter', 'scaler_exec_memory_byte_seconds_total', 'Useful memory time: request duration x memory (the score\'s E, in byte-seconds)', 'execGBs', GB);
    perShard('counter', 'scaler_slot_memory_byte_seconds_total', 'Slot memory time paid for (the score\'s S, in byte-seconds)', 'slotGBs', GB);
    perShard('counter', 'scaler_exec_seconds_total', 'Request execution seconds (the score\'s T)', 'execSecs');
    perShard('counter', 'scaler_schedule_seconds_total', 'Scheduling seconds: Assign and Idle latency (the score\'s D)', 'scheduleSecs');
    new Gauge({
      name: 'scaler_score_ratio',
      help: 'The score\'s running halves as ratios, over all shards since start: resource = E/S, latency = T/(T+D); score = 50 x resource + 50 x latency',
      labelNames: ['half'],
      registers: [reg],
      collect() {
        this.reset();
        const e = counters.total('execGBs');
        const sl = counters.total('slotGBs');
        const t = counters.total('execSecs');
        const d = counters.total('scheduleSecs');
        // Until there is slot time (or execution time) the ratio is undefined: no sample.
        if (sl > 0) this.set({ half: 'resource' }, e / sl);
        if (t + d > 0) this.set({ half: 'latency' }, t / (t + d));
      },
    });

    // ---- opt-in: the top functions ----------------------------------------------------------
    const topN = opts.topFunctions ?? 0;
    const tally = opts.functionSlots;
    if (topN > 0 && tally !== undefined) {
      let top: ReturnType<FunctionSlotTally['top']> = [];
      new Gauge({
        name: 'scaler_function_live_slots',
        help: `Live slots of the ${topN} functions with most live slot memory (--metrics-top-functions)`,
        labelNames: ['function'],
        registers: [reg],
        collect() {
          this.reset();
          top = tally.top(topN);
          for (const f of top) this.set({ function: f.key }, f.slots);
        },
      });
      new Gauge({
        name: 'scaler_function_live_slot_memory_bytes',
        help: `Live slot memory of the ${topN} functions with most of it (--metrics-top-functions)`,
        labelNames: ['function'],
        registers: [reg],
        collect() {
          this.reset();
          // The same functions as scaler_function_live_slots in this scrape.
          for (const f of top) this.set({ function: f.key }, f.memoryMb * MB);
        },
      });
    }
  }

  /** The exposition text and its content type, for `GET /metrics`. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
