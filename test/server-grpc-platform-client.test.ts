/**
 * `GrpcPlatformClient` against a tiny in-test Platform server: replies, and how each contest
 * `Status` and each transport failure maps to the core's error kinds (which drive retries).
 */
import { createServer, type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { PlatformErrorKind, type PlatformError, type PlatformErrorKind as Kind } from '../src/core/platform.js';
import { loadProto, Status, type PlatformHandlers } from '../src/proto.js';
import type { CreateSlotReply } from '../src/generated/serverless/simulator/CreateSlotReply.js';
import type { InitRequest__Output } from '../src/generated/serverless/simulator/InitRequest.js';
import { GrpcPlatformClient } from '../src/server/grpc-platform-client.js';

type Answer = { status: number; errorMessage?: string } | { grpcCode: grpc.status } | 'hang';

interface Stub {
  target: string;
  /** What the next calls of each method answer (Ok when unset). */
  answers: { CreateSlot?: Answer; Init?: Answer; DestroySlot?: Answer };
  inits: InitRequest__Output[];
  destroys: string[];
  close(): void;
}

let stubs: Stub[] = [];
let clients: GrpcPlatformClient[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  for (const s of stubs) s.close();
  clients = [];
  stubs = [];
});

async function startStub(): Promise<Stub> {
  const server = new grpc.Server();
  const stub: Stub = { target: '', answers: {}, inits: [], destroys: [], close: () => server.forceShutdown() };
  const answer = <T>(a: Answer | undefined, ok: T, cb: grpc.sendUnaryData<T>): void => {
    if (a === undefined) cb(null, ok);
    else if (a === 'hang') return;
    else if ('grpcCode' in a) cb({ code: a.grpcCode, details: `stub ${grpc.status[a.grpcCode]}` });
    else cb(null, { status: a.status, errorMessage: a.errorMessage } as T);
  };
  const handlers: PlatformHandlers = {
    CreateSlot: (call, cb) => {
      const mem = call.request.resourceConfig?.memoryInMegabytes ?? 0;
      const ok: CreateSlotReply = { status: Status.Ok, slot: { id: 'slot-1', resourceConfig: { memoryInMegabytes: mem }, createTime: 1234, createDurationInMs: 100 } };
      answer(stub.answers.CreateSlot, ok, cb);
    },
    Init: (call, cb) => {
      stub.inits.push(call.request);
      answer(stub.answers.Init, { status: Status.Ok, createTime: 1, initDurationInMs: 42 }, cb);
    },
    DestroySlot: (call, cb) => {
      stub.destroys.push(call.request.id);
      answer(stub.answers.DestroySlot, { status: Status.Ok }, cb);
    },
  };
  server.addService(loadProto().serverless.simulator.Platform.service, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  stub.target = `127.0.0.1:${port}`;
  stubs.push(stub);
  return stub;
}

function client(target: string, callDeadlineMs?: number): GrpcPlatformClient {
  const c = new GrpcPlatformClient({ address: target, callDeadlineMs, initDeadlineMs: callDeadlineMs });
  clients.push(c);
  return c;
}

function createSlot(c: GrpcPlatformClient, mem = 256): Promise<{ err: PlatformError | null; slot: unknown }> {
  return new Promise((resolve) => c.createSlot('req', mem, (err, slot) => resolve({ err, slot })));
}

function init(c: GrpcPlatformClient): Promise<{ err: PlatformError | null; res: unknown }> {
  return new Promise((resolve) =>
    c.init('req-i', 'slot-1', 'inst-1', { key: 'fn', runtime: 'go', timeoutInSecs: 60, memoryMb: 256 }, (err, res) => resolve({ err, res })),
  );
}

function destroy(c: GrpcPlatformClient): Promise<PlatformError | null> {
  return new Promise((resolve) => c.destroySlot('req-d', 'slot-1', 'test', (err) => resolve(err)));
}

describe('GrpcPlatformClient', () => {
  it('returns the slot, the init duration and a plain destroy on Ok', async () => {
    const stub = await startStub();
    const c = client(stub.target);
    expect(await createSlot(c, 1024)).toEqual({ err: null, slot: { slotId: 'slot-1', memoryMb: 1024, createTime: 1234 } });
    expect(await init(c)).toEqual({ err: null, res: { initDurationMs: 42 } });
    expect(stub.inits[0]).toMatchObject({ slotId: 'slot-1', instanceId: 'inst-1', metaData: { key: 'fn', runtime: 'go', timeoutInSecs: 60, memoryInMb: 256 } });
    expect(await destroy(c)).toBeNull();
    expect(stub.destroys).toEqual(['slot-1']);
  });

  it.each<[string, number, Kind]>([
    ['Throttle', Status.Throttle, PlatformErrorKind.Throttle],
    ['InternalError', Status.InternalError, PlatformErrorKind.Transient],
    ['NotFound', Status.NotFound, PlatformErrorKind.Permanent],
    ['InvalidArgument', Status.InvalidArgument, PlatformErrorKind.Permanent],
  ])('maps Status.%s to a %s error on every call, keeping the message', async (_name, status, kind) => {
    const stub = await startStub();
    stub.answers = { CreateSlot: { status, errorMessage: 'nope' }, Init: { status, errorMessage: 'nope' }, DestroySlot: { status, errorMessage: 'nope' } };
    const c = client(stub.target);
    const cs = await createSlot(c);
    expect(cs.err).toEqual({ kind, message: 'CreateSlot: nope' });
    expect(cs.slot).toBeUndefined();
    expect((await init(c)).err).toEqual({ kind, message: 'Init: nope' });
    expect(await destroy(c)).toEqual({ kind, message: 'DestroySlot: nope' });
  });

  it('treats an Ok CreateSlot without a slot as transient', async () => {
    const stub = await startStub();
    stub.answers.CreateSlot = { status: Status.Ok };
    const { err } = await createSlot(client(stub.target));
    expect(err?.kind).toBe(PlatformErrorKind.Transient);
  });

  it.each<[string, grpc.status, Kind]>([
    ['UNAVAILABLE', grpc.status.UNAVAILABLE, PlatformErrorKind.Transient],
    ['INTERNAL', grpc.status.INTERNAL, PlatformErrorKind.Transient],
    ['RESOURCE_EXHAUSTED', grpc.status.RESOURCE_EXHAUSTED, PlatformErrorKind.Transient],
    ['NOT_FOUND', grpc.status.NOT_FOUND, PlatformErrorKind.Permanent],
    ['INVALID_ARGUMENT', grpc.status.INVALID_ARGUMENT, PlatformErrorKind.Permanent],
  ])('maps a gRPC %s error to %s', async (name, code, kind) => {
    const stub = await startStub();
    stub.answers.CreateSlot = { grpcCode: code };
    const { err } = await createSlot(client(stub.target));
    expect(err).toEqual({ kind, message: `CreateSlot: stub ${name}` });
  });

  it('maps a refused connection (transport UNAVAILABLE) to transient', async () => {
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const c = client(`127.0.0.1:${port}`, 5_000);
    const { err } = await createSlot(c);
    expect(err?.kind).toBe(PlatformErrorKind.Transient);
    expect(await destroy(c)).toMatchObject({ kind: PlatformErrorKind.Transient });
  });

  it('maps a missed deadline to transient', async () => {
    const stub = await startStub();
    stub.answers.CreateSlot = 'hang';
    stub.answers.Init = 'hang';
    const c = client(stub.target, 200);
    const t0 = performance.now();
    expect((await createSlot(c)).err?.kind).toBe(PlatformErrorKind.Transient);
    expect((await init(c)).err?.kind).toBe(PlatformErrorKind.Transient);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
