/**
 * Both platform clients tell a call cut after it was sent (the platform may have acted: a
 * CreateSlot may have made a slot whose id is lost) from one that never left (nothing happened),
 * because the core counts the first kind and retries it under the same request id.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PlatformErrorKind, type Platform, type PlatformError } from '../src/core/platform.js';
import { freePort } from '../src/free-port.js';
import { GrpcPlatformClient } from '../src/platform/grpc-platform-client.js';
import { RawH2PlatformClient } from '../src/platform/raw-h2-platform-client.js';
import { closePlatformStubs, startPlatformStub } from './platform-client-fixtures.js';
import * as grpc from '@grpc/grpc-js';

const CLIENTS: Array<[string, (target: string) => Platform & { close(): void }]> = [
  ['raw', (t) => new RawH2PlatformClient({ address: t })],
  ['grpc-js', (t) => new GrpcPlatformClient({ address: t })],
];

let servers: http2.Http2Server[] = [];
let clients: Array<{ close(): void }> = [];

afterEach(() => {
  for (const s of servers) s.close();
  servers = [];
  for (const c of clients) c.close();
  clients = [];
  closePlatformStubs();
});

/** An HTTP/2 server that reads each request to its end, then resets the whole connection. */
async function startResettingServer(): Promise<{ target: string; requests: () => number }> {
  let requests = 0;
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('data', () => {});
    stream.on('end', () => {
      requests++;
      // The platform "acted" and the connection died before its reply went out.
      stream.session?.socket.resetAndDestroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { target: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

function createSlot(c: Platform): Promise<PlatformError | null> {
  return new Promise((resolve) => c.createSlot('rid-1', 256, (err) => resolve(err)));
}

describe.each(CLIENTS)('%s platform client', (_name, make) => {
  it('marks a CreateSlot cut after it was sent as an unknown outcome', async () => {
    const srv = await startResettingServer();
    const c = make(srv.target);
    clients.push(c);
    const err = await createSlot(c);
    expect(srv.requests()).toBe(1);
    expect(err?.kind).toBe(PlatformErrorKind.Transient);
    expect(err?.unknownOutcome).toBe(true);
  }, 15_000);

  it('does not when the call never reached a platform (connection refused)', async () => {
    const port = await freePort();
    const c = make(`127.0.0.1:${port}`);
    clients.push(c);
    const err = await createSlot(c);
    expect(err?.kind).toBe(PlatformErrorKind.Transient);
    expect(err?.unknownOutcome).toBeUndefined();
  }, 15_000);

  it('does not when the platform answered a status, even UNAVAILABLE', async () => {
    const stub = await startPlatformStub();
    stub.answers = { CreateSlot: { grpcCode: grpc.status.UNAVAILABLE } };
    const c = make(stub.target);
    clients.push(c);
    const err = await createSlot(c);
    expect(err?.kind).toBe(PlatformErrorKind.Transient);
    expect(err?.unknownOutcome).toBeUndefined();
  }, 15_000);
});
