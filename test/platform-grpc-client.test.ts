/**
 * `GrpcPlatformClient` against a tiny in-test Platform server: replies, and how each contest
 * `Status` and each transport failure maps to the core's error kinds (which drive retries).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PlatformErrorKind, type PlatformError } from '../src/core/platform.js';
import { Status } from '../src/wire/proto.js';
import { GrpcPlatformClient } from '../src/platform/grpc-platform-client.js';
import { freePort } from '../src/free-port.js';
import { closePlatformStubs, itMapsPlatformErrors, startPlatformStub } from './platform-client-fixtures.js';

let clients: GrpcPlatformClient[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  closePlatformStubs();
  clients = [];
});

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
  itMapsPlatformErrors((target) => client(target));

  it('returns the slot, the init duration and a plain destroy on Ok', async () => {
    const stub = await startPlatformStub();
    const c = client(stub.target);
    expect(await createSlot(c, 1024)).toEqual({ err: null, slot: { slotId: 'slot-1', memoryMb: 1024, createTime: 1234 } });
    expect(await init(c)).toEqual({ err: null, res: { initDurationMs: 42 } });
    expect(stub.inits[0]).toMatchObject({ slotId: 'slot-1', instanceId: 'inst-1', metaData: { key: 'fn', runtime: 'go', timeoutInSecs: 60, memoryInMb: 256 } });
    expect(await destroy(c)).toBeNull();
    expect(stub.destroys.map((d) => d.id)).toEqual(['slot-1']);
  });

  it('treats an Ok CreateSlot without a slot as transient', async () => {
    const stub = await startPlatformStub();
    stub.answers.CreateSlot = { status: Status.Ok };
    const { err } = await createSlot(client(stub.target));
    expect(err?.kind).toBe(PlatformErrorKind.Transient);
  });

  it('maps a refused connection (transport UNAVAILABLE) to transient', async () => {
    // A port that was just free: nothing listens there.
    const c = client(`127.0.0.1:${await freePort()}`, 5_000);
    const { err } = await createSlot(c);
    expect(err?.kind).toBe(PlatformErrorKind.Transient);
    expect(await destroy(c)).toMatchObject({ kind: PlatformErrorKind.Transient });
  });

  it('maps a missed deadline to transient', async () => {
    const stub = await startPlatformStub();
    stub.answers.CreateSlot = 'hang';
    stub.answers.Init = 'hang';
    const c = client(stub.target, 200);
    const t0 = performance.now();
    expect((await createSlot(c)).err?.kind).toBe(PlatformErrorKind.Transient);
    expect((await init(c)).err?.kind).toBe(PlatformErrorKind.Transient);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
