import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_PLATFORM_CLIENT, type ScalerConfig } from '../config.js';
import { SCALER_COUNTER_LAYOUT, type ScalerCounterField } from '../shard/counters-layout.js';
import { JournalDirectory } from '../journal/journal-directory.js';
import type { Logger } from '../logger.js';
import { loadProto } from '../wire/proto.js';
import type { ShardEvent, ShardRequest, ShardResponse, ShardWorkerData } from '../shard/shard-messages.js';
import { SCALER_SHARD_CODEC } from '../shard/shard-codec.js';
import { SHARD_ENTRY_URL } from '../shard/shard-entry-url.js';
import { ShardRouter } from '../sharding/index.js';
import { FunctionSlotTally } from './function-slot-tally.js';
import { instrumentScalerHandlers } from './rpc-metrics.js';
import { ScalerMetrics } from './scaler-metrics.js';
import { GRPC_SERVER_OPTIONS } from './grpc-server-options.js';
import { H2ScalerServer } from './h2-scaler-server.js';
import { ScalerService, createScalerHandlers, type ScalerRouter } from './scaler-service.js';
import { SlotJournal } from './slot-journal.js';
import { startStatsEndpoint, type JournalStatus } from './stats-endpoint.js';

export { GRPC_SERVER_OPTIONS };
/** Router window beyond the Assign bound, for the Idle and Cancel calls that free instances. */
export const ROUTER_CONTROL_HEADROOM = 4_096;
/** Initial V8 old-space size of shard workers, MB (see `start`). */
export const WORKER_INITIAL_OLD_SPACE_MB = 32;
/** How long SIGTERM waits for in-flight calls before cancelling them. */
export const SHUTDOWN_GRACE_MS = 5_000;
/**
 * Shard message batching (`--batch-flush`). 'immediate' merges every call read in one event-loop
 * iteration into one message per shard; 'microtask' fragments towards one call per message
 * under closed-loop load (see README "Performance", benchmark 2).
 */
export const DEFAULT_SCALER_BATCH_FLUSH = 'immediate';

export const WORKER_SCRIPT = SHARD_ENTRY_URL;

export class ScalerServer {
  private constructor(
    readonly config: ScalerConfig,
    readonly router: ScalerRouter,
    readonly journal: SlotJournal,
    /** The Scaler service's server: grpc-js, or `node:http2` (`--grpc-server http2`). */
    private readonly grpcServer: grpc.Server | H2ScalerServer,
    private readonly stats: HttpServer | null,
    readonly port: number,
    private readonly log: Logger,
    private readonly state: { closing: boolean },
    private readonly disk: JournalDirectory | null,
  ) {}

  static async start(config: ScalerConfig, log: Logger): Promise<ScalerServer> {
    const journal = new SlotJournal(config.shards);
    // The crash-safe journal: one file per shard, written by the shard that owns the slots (see
    // src/journal/journal-file.ts for why there and not here). Main only prepares the directory.
    const disk = config.journalDir === null ? null : JournalDirectory.open({ dir: config.journalDir, shards: config.shards, platform: config.platformAddress });
    const journalStatus: JournalStatus = {
      dir: config.journalDir,
      enabled: disk?.report.enabled ?? false,
      errors: (disk?.report.errors ?? []).map((e) => e.toJSON()),
      setAside: disk?.report.setAside ?? [],
      redistributedFrom: disk?.report.redistributedFrom ?? null,
    };
    for (const e of journalStatus.errors) log.error({ code: e.code, file: e.file, offset: e.offset }, e.message);
    if (disk?.report.redistributedFrom != null) {
      log.warn({ from: disk.report.redistributedFrom, to: config.shards }, 'journal: slots re-filed for the new shard count');
    }
    const withMetrics = config.statsPort !== 0;
    const functionSlots = withMetrics && config.metricsTopFunctions > 0 ? new FunctionSlotTally() : undefined;
    // Set once the gRPC front exists; slot events can come before (recovery during the shards' init).
    let service: ScalerService | undefined;
    const onEvent = (shard: number, ev: ShardEvent): void => {
      if (ev.t === 'journal-error') {
        journalStatus.errors.push({ code: ev.code, file: ev.file, offset: ev.offset, message: ev.message });
        return;
      }
      // A handed-out instance whose slot is gone (its busy lease ran out): its late Idle is the shard's.
      if (ev.t === 'slot-destroyed' && service !== undefined) {
        const iid = journal.instanceOf(shard, ev.slotId);
        if (iid !== '') service.forgetInstance(iid);
      }
      journal.apply(shard, ev);
      functionSlots?.apply(ev);
    };
    // Parsed before the workers start competing for the CPU: binding the port is what ends a
    // restarted scaler's downtime. (The node:http2 server has its own codec, no .proto.)
    const proto = config.grpcServer === 'http2' ? null : loadProto();
    const runId = randomBytes(3).toString('hex');
    // Shard isolates start with a small old space so V8 collects early instead of growing each
    // heap to ~300 MB of garbage first (a 20k cold-start storm stays under 1 GiB this way);
    // it applies to isolates created from here on, i.e. the workers.
    setFlagsFromString(`--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`);
    const { router, ready } = ShardRouter.launch<ShardRequest, ShardResponse, ShardEvent, ScalerCounterField>({
      workerScript: WORKER_SCRIPT,
      shards: config.shards,
      counterLayout: SCALER_COUNTER_LAYOUT,
      // The service bounds Assigns itself (so Idle is never shed); the router's window only
      // needs room for those plus the Idle/Cancel traffic that frees them.
      maxInFlightPerShard: config.maxInFlightPerShard + ROUTER_CONTROL_HEADROOM,
      name: 'scaler-shard',
      ...(config.shardTransport === 'port' ? {} : { codec: SCALER_SHARD_CODEC }),
      batchFlush: config.batchFlush ?? DEFAULT_SCALER_BATCH_FLUSH,
      workerData: (shard, generation): ShardWorkerData => ({
        platformAddress: config.platformAddress,
        platformClient: config.platformClient,
        policy: config.policy,
        keepAliveMs: config.keepAliveMs,
        maxColdStarts: config.maxColdStartsPerShard,
        maxDestroys: config.maxDestroysPerShard,
        logLevel: config.logLevel,
        instancePrefix: `${runId}-${shard}.${generation}-`,
        orphanSlots: journal.liveSlots(shard),
        journalPath: disk?.fileOf(shard) ?? null,
      }),
      // From the first spawn on: workers report what they recovered during their init.
      onEvent,
    });
    // Without a stats port nobody can scrape: no metrics, and no per-call instrumentation.
    const metrics = !withMetrics ? undefined : new ScalerMetrics({
      counters: router.counters,
      policy: config.policy,
      platformClient: config.platformClient ?? DEFAULT_PLATFORM_CLIENT,
      maxColdStartsPerShard: config.maxColdStartsPerShard,
      maxDestroysPerShard: config.maxDestroysPerShard,
      latencyHistograms: config.latencyHistograms,
      topFunctions: config.metricsTopFunctions,
      functionSlots,
    });
    // Exits during close() are the plan; any other exit is a crash the supervisor restarts.
    const state = { closing: false };
    router.on('shard-exit', (shard, code) => {
      if (state.closing) log.debug({ shard, code }, 'shard worker stopped');
      else log.warn({ shard, code }, 'shard worker exited');
    });
    router.on('shard-restart', (shard, generation) => log.warn({ shard, generation }, 'shard worker restarted'));
    router.on('shard-error', (shard, error) => log.error({ shard, err: error.message }, 'shard worker error'));

    // Calls are accepted while the workers start: they wait in the router's per-shard queues
    // and go out once their shard is ready, i.e. after it recovered what a killed predecessor
    // left. A restarted scaler is reachable as soon as it can bind, not a worker start later.
    let grpcServer: grpc.Server | H2ScalerServer;
    let port: number;
    const handlerOptions = { maxAssignsPerShard: config.maxInFlightPerShard };
    try {
      if (config.grpcServer === 'http2') {
        service = new ScalerService(router, handlerOptions);
        const h2 = await H2ScalerServer.listen({ address: config.address, service, log });
        grpcServer = h2;
        port = h2.port;
      } else {
        const g = new grpc.Server(GRPC_SERVER_OPTIONS);
        service = new ScalerService(router, handlerOptions);
        const handlers = createScalerHandlers(service);
        g.addService(
          (proto ?? loadProto()).serverless.simulator.Scaler.service,
          metrics === undefined ? handlers : instrumentScalerHandlers(handlers, metrics.rpc),
        );
        grpcServer = g;
        port = await new Promise<number>((resolve, reject) =>
          g.bindAsync(config.address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
        );
      }
    } catch (err) {
      ready.catch(() => {}); // closing the router below ends its start too
      await router.close();
      disk?.close();
      throw err;
    }
    const acceptingMs = Math.round(performance.now());
    try {
      await ready;
    } catch (err) {
      // The router closed itself; calls that waited for it were failed UNAVAILABLE.
      if (grpcServer instanceof H2ScalerServer) await grpcServer.close(0);
      else grpcServer.forceShutdown();
      disk?.close();
      throw err;
    }
    let stats: HttpServer | null = null;
    let statsPort = 0;
    if (config.statsPort !== 0) {
      try {
        stats = await startStatsEndpoint({ host: config.statsHost, port: config.statsPort, router, journal, policy: config.policy, metrics, journalStatus });
        statsPort = (stats.address() as AddressInfo).port;
      } catch (err) {
        log.warn({ err: (err as Error).message, port: config.statsPort }, 'stats endpoint not started');
      }
    }
    const t = router.counters;
    if (t.total('recoveredSlots') > 0 || t.total('lostCreatesAtCrash') > 0) {
      log.warn(
        {
          recoveredSlots: t.total('recoveredSlots'),
          adoptedIdle: t.total('adoptedIdle'),
          adoptedBusy: t.total('adoptedBusy'),
          reclaimedSlots: t.total('reclaimedSlots'),
          lostCreatesAtCrash: t.total('lostCreatesAtCrash'),
          journal: config.journalDir,
        },
        'recovered the slots the previous scaler process left: instances taken over, the rest being destroyed',
      );
    }
    log.info(
      {
        address: config.address,
        port,
        statsPort,
        shards: config.shards,
        platform: config.platformAddress,
        policy: config.policy,
        grpcServer: config.grpcServer,
        shardTransport: config.shardTransport,
        journal: journalStatus.enabled ? config.journalDir : null,
        // Since the process started (performance's time origin): calls were accepted (and
        // queued) from acceptingMs, served from startupMs. What a restart leaves unserved.
        acceptingMs,
        startupMs: Math.round(performance.now()),
      },
      'scaler listening',
    );
    return new ScalerServer(config, router, journal, grpcServer, stats, port, log, state, disk);
  }

  /** Stop accepting, let in-flight calls finish (or cancel them after a grace), destroy slots. */
  async close(): Promise<void> {
    this.state.closing = true;
    const server = this.grpcServer;
    if (server instanceof H2ScalerServer) {
      // GOAWAY on every connection; calls in flight get the grace, then are cut.
      await server.close(SHUTDOWN_GRACE_MS);
    } else {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        t.unref();
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await this.router.close();
    // The workers closed (and, with every slot destroyed, removed) their journal files.
    this.disk?.close();
    if (this.stats !== null) await new Promise<void>((r) => this.stats!.close(() => r()));
    this.log.info({ journaledSlots: this.journal.total }, 'scaler stopped');
  }
}
