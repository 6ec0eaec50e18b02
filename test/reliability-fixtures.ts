/**
 * Shared by the reliability tests: a real scaler process (compiled `dist/`) against an in-test
 * `PlatformServer`, a Scaler client with promise helpers, and stats readers.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadProto } from '../src/wire/proto.js';
import type { ScalerClient } from '../src/wire/proto.js';
import type { AssignReply__Output } from '../src/wire/generated/serverless/simulator/AssignReply.js';
import type { IdleReply__Output } from '../src/wire/generated/serverless/simulator/IdleReply.js';
import { PlatformServer, type PlatformServerOptions } from '../src/sim/live/platform-server.js';
import { startScalerProcess, type ScalerProcess } from '../src/sim/faults/fault-live-run.js';

export const MAIN_JS = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));

export interface Outcome<T> {
  readonly err: grpc.ServiceError | null;
  readonly reply: T | undefined;
  readonly ms: number;
}

export interface Harness {
  readonly platform: PlatformServer;
  readonly scaler: ScalerProcess;
  readonly client: ScalerClient;
  assign(req: unknown, opts?: grpc.CallOptions): Promise<Outcome<AssignReply__Output>>;
  /** Starts an Assign and returns its call, so the test can cancel it. */
  assignCall(req: unknown, opts?: grpc.CallOptions): { call: grpc.ClientUnaryCall; done: Promise<Outcome<AssignReply__Output>> };
  idle(req: unknown): Promise<Outcome<IdleReply__Output>>;
  stats(): Promise<StatsDoc>;
  slots(): Promise<string[]>;
  /** Polls `pred` on the stats until true; throws after `timeoutMs`. */
  waitStats(pred: (s: StatsDoc) => boolean, timeoutMs?: number): Promise<StatsDoc>;
  close(): Promise<void>;
}

export interface StatsDoc {
  readonly journaledSlots: number;
  readonly totals: Record<string, number>;
  readonly perShard: Array<Record<string, number>>;
}

export interface HarnessOptions {
  readonly platform?: PlatformServerOptions;
  readonly shards?: number;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** The scaler's log (JSON lines on stderr), as it arrives. */
  readonly onLog?: (chunk: string) => void;
  /** Runs once the platform listens, before the scaler starts (e.g. to prepare its journal). */
  readonly beforeScaler?: (platform: PlatformServer) => void;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 5, initDurationMs: () => 20, ...opts.platform });
  await platform.start();
  let scaler: ScalerProcess;
  try {
    opts.beforeScaler?.(platform);
    scaler = await startScalerProcess({
      mainJs: MAIN_JS,
      platformAddress: platform.target,
      shards: opts.shards ?? 1,
      extraArgs: opts.args ?? ['--policy', 'fixed', '--keep-alive', '60s'],
      env: opts.env,
      onLog: opts.onLog,
    });
  } catch (e) {
    await platform.close();
    throw e;
  }
  const proto = loadProto();
  const client = new proto.serverless.simulator.Scaler(scaler.address, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': 4 * 1024 * 1024,
  });
  const assignCall = (req: unknown, o: grpc.CallOptions = {}) => {
    const t = performance.now();
    let call!: grpc.ClientUnaryCall;
    const done = new Promise<Outcome<AssignReply__Output>>((resolve) => {
      call = client.Assign(req as never, o, (err, reply) => resolve({ err, reply, ms: performance.now() - t }));
    });
    return { call, done };
  };
  const stats = () => scaler.getJson<StatsDoc>('/stats');
  return {
    platform,
    scaler,
    client,
    assign: (req, o) => assignCall(req, o).done,
    assignCall,
    idle: (req) => {
      const t = performance.now();
      return new Promise((resolve) => client.Idle(req as never, (err, reply) => resolve({ err, reply, ms: performance.now() - t })));
    },
    stats,
    slots: async () => (await scaler.getJson<{ slots: string[] }>('/slots')).slots,
    async waitStats(pred, timeoutMs = 5_000) {
      const by = Date.now() + timeoutMs;
      for (;;) {
        const s = await stats();
        if (pred(s)) return s;
        if (Date.now() > by) throw new Error(`stats condition not met within ${timeoutMs} ms: ${JSON.stringify(s.totals)}`);
        await sleep(50);
      }
    },
    async close() {
      client.close();
      await scaler.stop();
      await platform.close();
    },
  };
}

export function assignReq(requestId: string, key: string, memoryInMb = 128): unknown {
  return { requestId, timestamp: Date.now(), metaData: { key, runtime: 'nodejs', timeoutInSecs: 60, memoryInMb } };
}

export function idleReq(requestId: string, metaKey: string, instanceId: string, needDestroy = false): unknown {
  return { assigment: { requestId, metaKey, instanceId }, result: { statusCode: needDestroy ? 500 : 200, durationInMs: 10, needDestroy } };
}

/** Counters that any accepted call would move; a refused call must leave them as they were. */
export function stateOf(s: StatsDoc): Record<string, number> {
  const t = s.totals;
  return {
    assigns: t.assigns ?? 0,
    idles: t.idles ?? 0,
    liveSlots: t.liveSlots ?? 0,
    idleInstances: t.idleInstances ?? 0,
    busyInstances: t.busyInstances ?? 0,
    waitingAssigns: t.waitingAssigns ?? 0,
    coldStarts: t.coldStarts ?? 0,
    functions: t.functions ?? 0,
    journaledSlots: s.journaledSlots,
  };
}
