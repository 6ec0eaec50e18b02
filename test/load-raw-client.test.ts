import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Status } from '../src/wire/proto.js';
import { startNoopScaler, NOOP_INSTANCE_ID, type NoopScalerServer } from '../src/load/noop-scaler-server.js';
import { RawH2Client } from '../src/load/raw-h2-client.js';
import { GrpcJsClient } from '../src/load/grpc-js-client.js';
import { LoadCallError, LoadCallErrorCode, type AssignOutcome, type LoadClient } from '../src/load/load-client.js';

function assign(c: LoadClient, key = 'k', rid = 'r1'): Promise<{ err: LoadCallError | null; out: AssignOutcome | null }> {
  return new Promise((resolve) => c.assign(key, rid, 256, (err, out) => resolve({ err, out })));
}
function idle(c: LoadClient, iid: string): Promise<{ err: LoadCallError | null; status: number }> {
  return new Promise((resolve) => c.idle('k', 'r1', iid, (err, status) => resolve({ err, status })));
}

const CLIENTS: [string, (target: string) => LoadClient][] = [
  ['raw', (target) => new RawH2Client({ target })],
  ['grpc-js', (target) => new GrpcJsClient({ target })],
];

describe.each(CLIENTS)('%s client', (_name, make) => {
  let ok: NoopScalerServer;
  let throttle: NoopScalerServer;
  let broken: NoopScalerServer;
  beforeAll(async () => {
    ok = await startNoopScaler({ host: '127.0.0.1' });
    throttle = await startNoopScaler({ host: '127.0.0.1', assignStatus: Status.Throttle });
    broken = await startNoopScaler({
      host: '127.0.0.1',
      assignGrpcError: grpc.status.RESOURCE_EXHAUSTED,
      idleGrpcError: grpc.status.FAILED_PRECONDITION,
    });
  });
  afterAll(async () => {
    await Promise.all([ok.close(), throttle.close(), broken.close()]);
  });

  it('gets Ok and the instance id from the noop scaler, and the server sees the calls', async () => {
    const c = make(`127.0.0.1:${ok.port}`);
    const a = await assign(c);
    expect(a.err).toBeNull();
    expect(a.out).toEqual({ status: Status.Ok, instanceId: NOOP_INSTANCE_ID });
    const i = await idle(c, a.out!.instanceId);
    expect(i).toEqual({ err: null, status: Status.Ok });
    expect(ok.counts).toEqual({ assign: 1, idle: 1 });
    c.close();
  });

  it('handles many concurrent calls on one connection', { timeout: 20_000 }, async () => {
    const c = make(`127.0.0.1:${ok.port}`);
    const before = ok.counts.assign;
    const results = await Promise.all(Array.from({ length: 2000 }, (_, i) => assign(c, `k${i % 7}`, `r${i}`)));
    expect(results.every((r) => r.err === null && r.out!.status === 0)).toBe(true);
    expect(ok.counts.assign - before).toBe(2000);
    c.close();
  });

  it('reports a non-Ok scaler status without a call error', async () => {
    const c = make(`127.0.0.1:${throttle.port}`);
    const a = await assign(c);
    expect(a.err).toBeNull();
    expect(a.out!.status).toBe(Status.Throttle);
    c.close();
  });

  it('reports a gRPC error status as a LoadCallError carrying it', async () => {
    const c = make(`127.0.0.1:${broken.port}`);
    const a = await assign(c);
    expect(a.out).toBeNull();
    expect(a.err).toBeInstanceOf(LoadCallError);
    expect(a.err!.code).toBe(LoadCallErrorCode.GrpcStatus);
    expect(a.err!.grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const i = await idle(c, 'x');
    expect(i.err!.grpcStatus).toBe(grpc.status.FAILED_PRECONDITION);
    c.close();
  });

  it('reports UNAVAILABLE when nothing listens', { timeout: 20_000 }, async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const c = make(`127.0.0.1:${port}`);
    const a = await new Promise<{ err: LoadCallError | null }>((resolve) => {
      c.assign('k', 'r', 1, (err) => resolve({ err }));
    });
    expect(a.err).toBeInstanceOf(LoadCallError);
    expect(a.err!.grpcStatus).toBe(grpc.status.UNAVAILABLE);
    c.close();
  });
});

describe('raw client against a hand-written HTTP/2 server', () => {
  let server: http2.Http2Server;
  let port = 0;
  beforeAll(async () => {
    server = http2.createServer();
    server.on('stream', (stream, headers) => {
      const path = headers[':path'];
      stream.on('data', () => {});
      stream.on('end', () => {
        if (path === '/serverless.simulator.Scaler/Assign') {
          // A full message followed by a non-zero status in the trailers: the status wins.
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '9', 'grpc-message': 'no%20way' }));
          stream.end(Buffer.from([0, 0, 0, 0, 0]));
        } else {
          // Not gRPC at all.
          stream.respond({ ':status': 503 });
          stream.end('busy');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('takes grpc-status from trailers even after a complete message', async () => {
    const c = new RawH2Client({ target: `127.0.0.1:${port}`, sessions: 2 });
    const a = await assign(c);
    expect(a.err!.code).toBe(LoadCallErrorCode.GrpcStatus);
    expect(a.err!.grpcStatus).toBe(9);
    expect(a.err!.message).toBe('no way');
    c.close();
  });

  it('treats a response without grpc-status as a transport failure', async () => {
    const c = new RawH2Client({ target: `127.0.0.1:${port}` });
    const i = await idle(c, 'x');
    expect(i.err!.code).toBe(LoadCallErrorCode.Transport);
    expect(i.err!.grpcStatus).toBe(grpc.status.UNAVAILABLE);
    expect(i.err!.message).toMatch(/503/);
    c.close();
  });
});
