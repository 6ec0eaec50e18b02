/**
 * One conformance suite for both Scaler servers (`--grpc-server grpc-js` and `http2`): the real
 * ScalerServer (built, in this process, with a shard worker) against the simulator's platform,
 * called by the grpc-js client and by the project's raw HTTP/2 client. Deadlines from
 * `grpc-timeout`, status and message in trailers, the message size limit, cancellation,
 * unknown methods, and GOAWAY on shutdown.
 */
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadProto, type ScalerClient } from '../src/wire/proto.js';
import type { AssignReply__Output } from '../src/wire/generated/serverless/simulator/AssignReply.js';
import { freePort } from '../src/free-port.js';
import { H2Method, type H2Call } from '../src/h2/h2-call.js';
import { H2UnaryClient } from '../src/h2/h2-unary-client.js';
import { RawH2Client } from '../src/load/raw-h2-client.js';
import { encodeAssignFrame, encodeMetaField } from '../src/wire/assign-idle-codec.js';

// The server runs from the build: its shard worker script is compiled JavaScript.
const { ScalerServer } = (await import('../dist/src/server/scaler-server.js'));
const { parseConfig } = (await import('../dist/src/config.js'));
const { createLogger } = (await import('../dist/src/logger.js'));
const { PlatformServer } = (await import('../dist/src/sim/live/platform-server.js'));

/** Init time of the stand-in platform: long enough to cancel or time out an Assign waiting on it. */
const INIT_MS = 600;
const { Scaler } = loadProto().serverless.simulator;

type Server = Awaited<ReturnType<typeof ScalerServer.start>>;

describe.each(['grpc-js', 'http2'] as const)('Scaler server conformance: %s', (kind) => {
  let platform: InstanceType<typeof PlatformServer>;
  let server: Server | null;
  let target: string;
  const clients: { close(): void }[] = [];

  beforeEach(async () => {
    platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 0, initDurationMs: () => INIT_MS });
    await platform.start();
    const port = await freePort();
    target = `127.0.0.1:${port}`;
    const config = parseConfig(
      ['--address', target, '--platform', platform.target, '--stats-port', '0', '--shards', '1', '--policy', 'fixed-5m', '--grpc-server', kind],
      {},
    )!;
    server = await ScalerServer.start(config, createLogger('silent'));
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    if (server !== null) await server.close();
    await platform.close();
  });

  function grpcClient(): ScalerClient {
    const c = new Scaler(target, grpc.credentials.createInsecure());
    clients.push(c);
    return c;
  }

  function assign(c: ScalerClient, rid: string, key: string, opts: grpc.CallOptions = {}): Promise<{ err: grpc.ServiceError | null; res?: AssignReply__Output }> {
    return new Promise((resolve) =>
      c.assign({ requestId: rid, metaData: { key, runtime: 'go', memoryInMb: 128, timeoutInSecs: 60 } }, opts, (err, res) => resolve({ err, res })),
    );
  }

  function idle(c: ScalerClient, rid: string, key: string, iid: string): Promise<grpc.ServiceError | null> {
    return new Promise((resolve) =>
      c.idle({ assigment: { requestId: rid, metaKey: key, instanceId: iid }, result: { statusCode: 200, durationInMs: 5 } }, (err) => resolve(err)),
    );
  }

  it('serves the grpc-js client and the raw client: Assign then Idle, reply fields intact', async () => {
    const c = grpcClient();
    const a = await assign(c, 'r-1', 'fn-a');
    expect(a.err).toBeNull();
    expect(a.res?.assigment).toMatchObject({ requestId: 'r-1', metaKey: 'fn-a' });
    const iid = a.res!.assigment!.instanceId;
    expect(iid).not.toBe('');
    expect(await idle(c, 'r-1', 'fn-a', iid)).toBeNull();
    const raw = new RawH2Client({ target });
    clients.push(raw);
    const out = await new Promise<{ status: number; instanceId: string } | null>((resolve) => raw.assign('fn-a', 'r-2', 128, (_e, o) => resolve(o)));
    expect(out).toEqual({ status: 0, instanceId: iid }); // the same, now idle, instance: warm
    const st = await new Promise<number>((resolve) => raw.idle('fn-a', 'r-2', iid, (_e, s) => resolve(s)));
    expect(st).toBe(0);
    expect(platform.createdSlotCount).toBe(1);
  }, 15_000);

  it('sends status and message in trailers (percent-encoded where needed)', async () => {
    const c = grpcClient();
    const bad = await assign(c, 'r-1', '');
    expect(bad.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.err?.details).toBe('meta_data.key is empty');
    const nf = await idle(c, 'r-2', 'fn-b', 'no such instance é%');
    expect(nf?.code).toBe(grpc.status.NOT_FOUND);
    expect(nf?.details).toContain('no such instance é%');
  }, 15_000);

  it('takes the deadline from grpc-timeout; the instance of a timed-out Assign is not lost', async () => {
    const c = grpcClient();
    const t0 = performance.now();
    const late = await assign(c, 'r-1', 'fn-c', { deadline: Date.now() + 200 });
    const took = performance.now() - t0;
    expect(late.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(INIT_MS);
    // The cold start it began finishes and its instance serves the next Assign: no second slot.
    const next = await assign(c, 'r-2', 'fn-c');
    expect(next.err).toBeNull();
    expect(platform.createdSlotCount).toBe(1);
  }, 15_000);

  it('treats a cancelled call as cancelled: its cold start serves the next Assign', async () => {
    const c = grpcClient();
    const p = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = c.assign({ requestId: 'r-1', metaData: { key: 'fn-d', runtime: 'go', memoryInMb: 128, timeoutInSecs: 60 } }, (err) => resolve(err));
      setTimeout(() => call.cancel(), 100);
    });
    expect((await p)?.code).toBe(grpc.status.CANCELLED);
    const next = await assign(c, 'r-2', 'fn-d');
    expect(next.err).toBeNull();
    expect(platform.createdSlotCount).toBe(1);
  }, 15_000);

  it('refuses a message above the 64 KiB limit with RESOURCE_EXHAUSTED', async () => {
    const c = grpcClient();
    const big = await assign(c, 'r'.repeat(100 * 1024), 'fn-e');
    expect(big.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await assign(c, 'r-2', 'fn-e')).err).toBeNull();
  }, 15_000);

  it('answers an unknown method UNIMPLEMENTED (raw client)', async () => {
    const h = new H2UnaryClient({ address: target });
    clients.push({ close: () => h.close(0) });
    const frame = encodeAssignFrame('r-1', 0, encodeMetaField({ key: 'k', memoryInMb: 1 }));
    const call = await new Promise<H2Call>((resolve) => h.call(new H2Method('/serverless.simulator.Scaler/Nope'), frame, 0, resolve, null));
    expect(call.grpcStatus).toBe(grpc.status.UNIMPLEMENTED);
  }, 15_000);

  it('on shutdown sends GOAWAY and lets the call in flight finish', async () => {
    const c = grpcClient();
    const session = http2.connect(`http://${target}`);
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    session.on('error', () => {});
    await new Promise<void>((resolve) => session.once('connect', () => resolve()));
    const inFlight = assign(c, 'r-1', 'fn-f'); // waits on a 600 ms Init
    await new Promise((r) => setTimeout(r, 100));
    const closing = server!.close();
    server = null;
    await goaway;
    const done = await inFlight;
    expect(done.err).toBeNull();
    await closing;
    session.destroy();
  }, 20_000);
});
