/**
 * In-test stand-ins for the live-mode tests: small Scaler gRPC servers with deliberate
 * behaviours (naive, sharing one instance, reusing broken instances), and helpers.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { loadProto, Status } from '../src/wire/proto.js';
import type { PlatformClient, ScalerHandlers } from '../src/wire/proto.js';
import type { CreateSlotReply__Output } from '../src/wire/generated/serverless/simulator/CreateSlotReply.js';
import type { InitReply__Output } from '../src/wire/generated/serverless/simulator/InitReply.js';
import type { DestroySlotReply__Output } from '../src/wire/generated/serverless/simulator/DestroySlotReply.js';
import type { MetaRecord, RequestRecord } from '../src/sim/contest/dataset-types.js';

export function platformClient(target: string): PlatformClient {
  const proto = loadProto();
  return new proto.serverless.simulator.Platform(target, grpc.credentials.createInsecure());
}

export function createSlot(c: PlatformClient, memoryMb: number, requestId = randomUUID()): Promise<CreateSlotReply__Output> {
  return new Promise((resolve, reject) => {
    c.CreateSlot({ requestId, resourceConfig: { memoryInMegabytes: memoryMb } }, (err, reply) => (err ? reject(err) : resolve(reply as CreateSlotReply__Output)));
  });
}

export function initSlot(c: PlatformClient, slotId: string, instanceId: string, meta: MetaRecord, requestId = randomUUID()): Promise<InitReply__Output> {
  return new Promise((resolve, reject) => {
    c.Init(
      {
        requestId,
        slotId,
        instanceId,
        metaData: { key: meta.key, runtime: meta.runtime, timeoutInSecs: meta.timeoutInSecs, memoryInMb: meta.memoryInMb },
      },
      (err, reply) => (err ? reject(err) : resolve(reply as InitReply__Output)),
    );
  });
}

export function destroySlot(c: PlatformClient, slotId: string, requestId = randomUUID()): Promise<DestroySlotReply__Output> {
  return new Promise((resolve, reject) => {
    c.DestroySlot({ requestId, id: slotId }, (err, reply) => (err ? reject(err) : resolve(reply as DestroySlotReply__Output)));
  });
}

export interface TestScaler {
  readonly target: string;
  /** performance.now() at each Assign arrival, by request id. */
  readonly arrivals: Map<string, number>;
  close(): Promise<void>;
}

export type ScalerBehaviour = 'naive' | 'share-one' | 'reuse-broken' | 'throttle' | 'grpc-error';

interface Held {
  slotId: string;
  instanceId: string;
}

/**
 * - naive: cold-starts one instance per request, destroys it after Idle (outside the reply path).
 * - share-one: one instance per function handed to every request, even concurrent ones.
 * - reuse-broken: one instance per function, reused in turn, ignoring needDestroy.
 * - throttle: every Assign answers Status.Throttle. grpc-error: every Assign fails at gRPC level.
 */
export async function startTestScaler(behaviour: ScalerBehaviour, platformTarget: string): Promise<TestScaler> {
  const proto = loadProto();
  const platform = platformClient(platformTarget);
  const arrivals = new Map<string, number>();
  const perFunction = new Map<string, Promise<Held>>();
  const byInstance = new Map<string, Held>();

  const coldStart = async (meta: MetaRecord): Promise<Held> => {
    const slot = await createSlot(platform, meta.memoryInMb);
    if (slot.status !== Status.Ok || slot.slot == null) throw new Error(`CreateSlot: ${slot.errorMessage}`);
    const instanceId = randomUUID();
    const init = await initSlot(platform, slot.slot.id, instanceId, meta);
    if (init.status !== Status.Ok) throw new Error(`Init: ${init.errorMessage}`);
    const held = { slotId: slot.slot.id, instanceId };
    byInstance.set(instanceId, held);
    return held;
  };

  const handlers: ScalerHandlers = {
    Assign: (call, cb) => {
      const req = call.request;
      arrivals.set(req.requestId, performance.now());
      const m = req.metaData;
      const meta: MetaRecord = {
        key: m?.key ?? '',
        runtime: m?.runtime ?? '',
        memoryInMb: m?.memoryInMb ?? 0,
        timeoutInSecs: m?.timeoutInSecs ?? 0,
        initDurationInMs: 0,
      };
      if (behaviour === 'throttle') {
        cb(null, { status: Status.Throttle, errorMessage: 'busy' });
        return;
      }
      if (behaviour === 'grpc-error') {
        cb({ code: grpc.status.UNAVAILABLE, details: 'down' });
        return;
      }
      let held: Promise<Held>;
      if (behaviour === 'naive') held = coldStart(meta);
      else {
        let p = perFunction.get(meta.key);
        if (p === undefined) {
          p = coldStart(meta);
          perFunction.set(meta.key, p);
        }
        held = p;
      }
      held.then(
        (h) => cb(null, { status: Status.Ok, assigment: { requestId: req.requestId, metaKey: meta.key, instanceId: h.instanceId } }),
        (e: unknown) => cb(null, { status: Status.InternalError, errorMessage: String(e) }),
      );
    },
    Idle: (call, cb) => {
      const a = call.request.assigment;
      cb(null, { status: Status.Ok });
      if (behaviour === 'naive' && a !== null) {
        const h = byInstance.get(a.instanceId);
        if (h !== undefined) {
          byInstance.delete(a.instanceId);
          void destroySlot(platform, h.slotId);
        }
      }
    },
  };
  const server = new grpc.Server();
  server.addService(proto.serverless.simulator.Scaler.service, handlers);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    target: `127.0.0.1:${port}`,
    arrivals,
    close: async () => {
      platform.close();
      server.forceShutdown();
    },
  };
}

export function meta(key: string, memoryInMb: number, initDurationInMs: number): MetaRecord {
  return { key, runtime: 'nodejs', memoryInMb, timeoutInSecs: 60, initDurationInMs };
}

/** Requests at `offsetMs` from a fixed epoch. */
export function req(offsetMs: number, metaKey: string, durationsInMs: number, statusCode = 200): RequestRecord {
  return { startTime: 1_700_000_000_000 + offsetMs, metaKey, durationsInMs, statusCode };
}

export function metaMap(...metas: MetaRecord[]): Map<string, MetaRecord> {
  return new Map(metas.map((m) => [m.key, m]));
}
