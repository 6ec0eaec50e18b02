/**
 * `RawH2PlatformClient` and its codec: the same contract as `GrpcPlatformClient` (replies, how
 * each contest `Status`, gRPC status and transport failure maps to the core's error kinds,
 * deadlines), reconnection after the platform restarts, and protobuf round trips against
 * protobufjs (the serializers grpc-js uses, from `loadProto()`), defaults and unknown fields
 * included.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_PLATFORM_CLIENT, parseConfig } from '../src/config.js';
import { PlatformErrorKind, type PlatformError, type PlatformErrorKind as Kind } from '../src/core/platform.js';
import { loadProto, Status } from '../src/wire/proto.js';
import { freePort } from '../src/free-port.js';
import {
  RAW_PLATFORM_INITIAL_BACKOFF_MS,
  RawH2PlatformClient,
  grpcTimeoutHeader,
  PLATFORM_CREATE_SLOT_PATH,
} from '../src/platform/raw-h2-platform-client.js';
import {
  GRPC_FRAME_HEADER_BYTES,
  PlatformCodecError,
  decodeCreateSlotReply,
  decodeCreateSlotRequest,
  decodeDestroySlotReply,
  decodeDestroySlotRequest,
  decodeInitReply,
  decodeInitRequest,
  encodeCreateSlotFrame,
  encodeCreateSlotReply,
  encodeCreateSlotRequest,
  encodeDestroySlotFrame,
  encodeDestroySlotReply,
  encodeDestroySlotRequest,
  encodeInitFrame,
  encodeInitReply,
  encodeInitRequest,
  grpcFrame,
  type CreateSlotReplyFields,
  type InitReplyFields,
  type InitRequestFields,
} from '../src/wire/platform-codec.js';
import { closePlatformStubs, itMapsPlatformErrors, startPlatformStub } from './platform-client-fixtures.js';

let clients: RawH2PlatformClient[] = [];
let rawServers: http2.Http2Server[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  closePlatformStubs();
  for (const s of rawServers) s.close();
  clients = [];
  rawServers = [];
});

type RawHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Buffer) => void;

/** A bare HTTP/2 server, for answers a well-behaved grpc server never gives. */
async function startRawServer(handler: RawHandler): Promise<string> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => handler(stream, headers, Buffer.concat(chunks)));
    stream.on('error', () => {});
  });
  rawServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(target: string, callDeadlineMs?: number): RawH2PlatformClient {
  const c = new RawH2PlatformClient({ address: target, callDeadlineMs, initDeadlineMs: callDeadlineMs });
  clients.push(c);
  return c;
}

interface Outcome<T> {
  err: PlatformError | null;
  value: T | undefined;
  /** Whether the callback ran before the call returned (it must not). */
  sync: boolean;
}

function createSlot(c: RawH2PlatformClient, mem = 256): Promise<Outcome<unknown>> {
  return new Promise((resolve) => {
    let returned = false;
    c.createSlot('req', mem, (err, value) => resolve({ err, value, sync: !returned }));
    returned = true;
  });
}

function init(c: RawH2PlatformClient): Promise<Outcome<unknown>> {
  return new Promise((resolve) => {
    let returned = false;
    c.init('req-i', 'slot-1', 'inst-1', { key: 'fn', runtime: 'go', timeoutInSecs: 60, memoryMb: 256 }, (err, value) =>
      resolve({ err, value, sync: !returned }),
    );
    returned = true;
  });
}

function destroy(c: RawH2PlatformClient): Promise<Outcome<void>> {
  return new Promise((resolve) => {
    let returned = false;
    c.destroySlot('req-d', 'slot-1', 'test', (err) => resolve({ err, value: undefined, sync: !returned }));
    returned = true;
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('RawH2PlatformClient against a grpc-js Platform server', () => {
  itMapsPlatformErrors((target) => client(target));

  it('returns the slot, the init duration and a plain destroy on Ok, with every request field intact', async () => {
    const stub = await startPlatformStub();
    const c = client(stub.target);
    expect(await createSlot(c, 1024)).toEqual({ err: null, value: { slotId: 'slot-1', memoryMb: 1024, createTime: 1234 }, sync: false });
    expect(await init(c)).toEqual({ err: null, value: { initDurationMs: 42 }, sync: false });
    expect(await destroy(c)).toEqual({ err: null, value: undefined, sync: false });
    expect(stub.creates[0]).toMatchObject({ requestId: 'req', resourceConfig: { memoryInMegabytes: 1024 } });
    expect(stub.inits[0]).toMatchObject({
      requestId: 'req-i', slotId: 'slot-1', instanceId: 'inst-1',
      metaData: { key: 'fn', runtime: 'go', timeoutInSecs: 60, memoryInMb: 256 },
    });
    expect(stub.destroys[0]).toMatchObject({ requestId: 'req-d', id: 'slot-1', reason: 'test' });
    expect(c.sessionsOpened).toBe(1);
  });

  it('multiplexes many concurrent calls over one session', async () => {
    const stub = await startPlatformStub();
    const c = client(stub.target);
    const outs = await Promise.all(Array.from({ length: 500 }, (_, i) => createSlot(c, 128 + i)));
    expect(outs.every((o) => o.err === null)).toBe(true);
    expect(outs.map((o) => (o.value as { memoryMb: number }).memoryMb)).toEqual(Array.from({ length: 500 }, (_, i) => 128 + i));
    expect(c.sessionsOpened).toBe(1);
  });

  it('names the status when a non-Ok reply has no error message', async () => {
    const stub = await startPlatformStub();
    stub.answers.Init = { status: Status.NotFound };
    expect((await init(client(stub.target))).err).toEqual({ kind: PlatformErrorKind.Permanent, message: 'Init: status 3' });
  });

  it('treats an Ok CreateSlot without a slot as transient', async () => {
    const stub = await startPlatformStub();
    stub.answers.CreateSlot = { status: Status.Ok };
    const { err } = await createSlot(client(stub.target));
    expect(err).toEqual({ kind: PlatformErrorKind.Transient, message: 'CreateSlot: reply without slot' });
  });

  it('maps a refused connection to transient, asynchronously, and backs off before reconnecting', async () => {
    const c = client(`127.0.0.1:${await freePort()}`, 5_000);
    const first = await createSlot(c);
    expect(first.err?.kind).toBe(PlatformErrorKind.Transient);
    expect(first.sync).toBe(false);
    // Within the backoff the next call fails fast without a new connection attempt.
    const opened = c.sessionsOpened;
    const second = await destroy(c);
    expect(second.err).toMatchObject({ kind: PlatformErrorKind.Transient });
    expect(second.sync).toBe(false);
    expect(c.sessionsOpened).toBe(opened);
    await sleep(RAW_PLATFORM_INITIAL_BACKOFF_MS + 50);
    expect((await init(c)).err?.kind).toBe(PlatformErrorKind.Transient);
    expect(c.sessionsOpened).toBe(opened + 1);
  });

  it('maps a missed deadline to transient, on time, and sends it as grpc-timeout', async () => {
    const stub = await startPlatformStub();
    stub.answers = { CreateSlot: 'hang', Init: 'hang', DestroySlot: 'hang' };
    const c = client(stub.target, 200);
    const t0 = performance.now();
    const outs = await Promise.all([createSlot(c), init(c), destroy(c)]);
    const elapsed = performance.now() - t0;
    for (const o of outs) expect(o.err).toMatchObject({ kind: PlatformErrorKind.Transient, message: expect.stringContaining('deadline') });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2_000);
    // The session survives a cancelled stream: the next call on it succeeds.
    stub.answers = {};
    expect((await createSlot(c)).err).toBeNull();
    expect(c.sessionsOpened).toBe(1);
  });

  it('fails calls in flight as transient when the platform goes away, and reconnects when it is back', async () => {
    const stub = await startPlatformStub();
    const c = client(stub.target, 10_000);
    expect((await createSlot(c)).err).toBeNull();
    stub.answers.Init = 'hang';
    const pending = init(c);
    await sleep(50);
    const t0 = performance.now();
    stub.close();
    const lost = await pending;
    expect(lost.err?.kind).toBe(PlatformErrorKind.Transient);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect((await createSlot(c)).err?.kind).toBe(PlatformErrorKind.Transient);
    // The platform restarts on the same address: calls succeed again within the backoff.
    const again = await startPlatformStub(stub.port);
    const deadline = performance.now() + 5_000;
    let out = await createSlot(c);
    while (out.err !== null && performance.now() < deadline) {
      await sleep(20);
      out = await createSlot(c);
    }
    expect(out.err).toBeNull();
    expect(again.creates.length).toBeGreaterThanOrEqual(1);
    expect(c.sessionsOpened).toBeGreaterThanOrEqual(2);
  });

  it('answers transient after close() without throwing', async () => {
    const stub = await startPlatformStub();
    const c = client(stub.target);
    expect((await createSlot(c)).err).toBeNull();
    c.close();
    const out = await init(c);
    expect(out).toMatchObject({ err: { kind: PlatformErrorKind.Transient, message: 'Init: client closed' }, sync: false });
  });
});

describe('RawH2PlatformClient against misbehaving HTTP/2 servers', () => {
  function ok(stream: http2.ServerHttp2Stream, message: Buffer, trailers: http2.OutgoingHttpHeaders = { 'grpc-status': '0' }): void {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    stream.end(message);
  }

  it('sends the gRPC request headers and a well-formed frame', async () => {
    let seen: http2.IncomingHttpHeaders | undefined;
    let body: Buffer | undefined;
    const target = await startRawServer((stream, headers, b) => {
      seen = headers;
      body = b;
      ok(stream, grpcFrame(encodeCreateSlotReply({ status: 0, slot: { id: 's', resourceConfig: undefined, createTime: 0, createDurationInMs: 0 }, errorMessage: undefined })));
    });
    const c = new RawH2PlatformClient({ address: target, callDeadlineMs: 1234 });
    clients.push(c);
    expect((await createSlot(c, 512)).value).toEqual({ slotId: 's', memoryMb: 512, createTime: 0 });
    expect(seen).toMatchObject({
      ':method': 'POST', ':path': PLATFORM_CREATE_SLOT_PATH, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '1234m',
    });
    expect(body!.subarray(0, GRPC_FRAME_HEADER_BYTES)).toEqual(Buffer.from([0, 0, 0, 0, body!.length - GRPC_FRAME_HEADER_BYTES]));
    expect(decodeCreateSlotRequest(body!, GRPC_FRAME_HEADER_BYTES)).toEqual({ requestId: 'req', resourceConfig: { memoryInMegabytes: 512 } });
  });

  it('reads a trailers-only status and a percent-encoded grpc-message', async () => {
    const target = await startRawServer((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'no%20such%20slot' }, { endStream: true });
    });
    expect((await destroy(client(target))).err).toEqual({ kind: PlatformErrorKind.Permanent, message: 'DestroySlot: no such slot' });
  });

  it.each<[number, Kind]>([
    [503, PlatformErrorKind.Transient],
    [502, PlatformErrorKind.Transient],
    [404, PlatformErrorKind.Permanent],
  ])('maps an HTTP %i without grpc-status like gRPC does (%s)', async (httpStatus, kind) => {
    const target = await startRawServer((stream) => stream.respond({ ':status': httpStatus }, { endStream: true }));
    expect((await createSlot(client(target))).err).toEqual({ kind, message: `CreateSlot: HTTP status ${httpStatus}` });
  });

  it.each<[string, (stream: http2.ServerHttp2Stream) => void]>([
    ['a reset stream', (s) => s.close(http2.constants.NGHTTP2_INTERNAL_ERROR)],
    ['a refused stream', (s) => s.close(http2.constants.NGHTTP2_REFUSED_STREAM)],
    ['a cancelled stream', (s) => s.close(http2.constants.NGHTTP2_CANCEL)],
    ['a body without trailers', (s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' });
      s.end(grpcFrame(encodeInitReply({ status: 0, createTime: 0, initDurationInMs: 5, errorMessage: undefined })));
    }],
    ['a malformed message', (s) => ok(s, Buffer.from([0, 0, 0, 0, 2, 0x08, 0x80]))],
    ['a compressed message', (s) => ok(s, Buffer.from([1, 0, 0, 0, 2, 0x08, 0x00]))],
    ['a truncated frame', (s) => ok(s, Buffer.from([0, 0, 0, 0, 9, 0x08, 0x00]))],
    ['an OK status without a message', (s) => ok(s, Buffer.alloc(0))],
    ['a non-gRPC content type', (s) => {
      s.respond({ ':status': 200, 'content-type': 'text/html' });
      s.end('<html>');
    }],
  ])('maps %s to transient', async (_name, answer) => {
    const target = await startRawServer((stream) => answer(stream));
    const out = await init(client(target));
    expect(out.err?.kind).toBe(PlatformErrorKind.Transient);
    expect(out.err?.message).toMatch(/^Init: /);
  });

  it('decodes a reply with unknown fields the server added', async () => {
    const reply = encodeInitReply({ status: 0, createTime: 7, initDurationInMs: 1500, errorMessage: undefined });
    // field 9 varint, field 10 length-delimited, field 11 fixed64, field 12 fixed32, field 13 group
    const unknown = Buffer.from([0x48, 0x96, 0x01, 0x52, 0x02, 0x68, 0x69, 0x59, 1, 2, 3, 4, 5, 6, 7, 8, 0x65, 1, 2, 3, 4, 0x6b, 0x08, 0x01, 0x6c]);
    const target = await startRawServer((stream) => ok(stream, grpcFrame(Buffer.concat([unknown, reply, unknown]))));
    expect(await init(client(target))).toEqual({ err: null, value: { initDurationMs: 1500 }, sync: false });
  });
});

// ---- codec against protobufjs ------------------------------------------------------------

const svc = loadProto().serverless.simulator.Platform.service;

/** protobufjs' objects as plain data: no oneof markers, `null` sub-messages as absent. */
function plain(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object' || Buffer.isBuffer(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k.startsWith('_')) continue;
    const p = plain(x);
    if (p !== undefined) out[k] = p;
  }
  return out;
}

/** The same for our decoded objects (absent fields are `undefined` keys). */
const ours = plain;

const u64 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1_000_000 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
const u32 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff }));
const str = fc.oneof(fc.constant(''), fc.string(), fc.string({ unit: 'grapheme', maxLength: 40 }));
const optStr = fc.option(str, { nil: undefined });
const status = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }));
const resourceConfig = fc.option(fc.record({ memoryInMegabytes: u64 }), { nil: undefined });
const meta = fc.option(fc.record({ key: str, runtime: str, timeoutInSecs: u32, memoryInMb: u64 }), { nil: undefined });
const slot = fc.option(fc.record({ id: str, resourceConfig, createTime: u64, createDurationInMs: u64 }), { nil: undefined });
const createReq = fc.record({ requestId: str, resourceConfig });
const initReq = fc.record({ requestId: str, slotId: str, instanceId: str, metaData: meta });
const destroyReq = fc.record({ requestId: str, id: str, reason: optStr });
const createReply = fc.record({ status, slot, errorMessage: optStr });
const initReply = fc.record({ status, createTime: u64, initDurationInMs: u64, errorMessage: optStr });
const destroyReply = fc.record({ status, errorMessage: optStr });

/** Unknown fields of every wire type, to splice between known ones. */
const unknownField = fc.oneof(
  fc.tuple(fc.integer({ min: 16, max: 2000 }), fc.maxSafeNat()).map(([f, v]) => wire(f, 0, varint(v))),
  fc.tuple(fc.integer({ min: 16, max: 2000 }), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([f, b]) => wire(f, 1, [...b])),
  fc.tuple(fc.integer({ min: 16, max: 2000 }), fc.uint8Array({ maxLength: 20 })).map(([f, b]) => wire(f, 2, [...varint(b.length), ...b])),
  fc.tuple(fc.integer({ min: 16, max: 2000 }), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([f, b]) => wire(f, 5, [...b])),
  fc.integer({ min: 16, max: 2000 }).map((f) => [...varint((f << 3) | 3), ...wire(1, 0, [5]), ...varint((f << 3) | 4)]),
);

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function wire(field: number, type: number, payload: number[]): number[] {
  return [...varint((field << 3) | type), ...payload];
}

interface Codec<T> {
  name: string;
  arb: fc.Arbitrary<T>;
  encode(m: T): Buffer;
  decode(b: Buffer): unknown;
  pjEncode(m: T): Buffer;
  pjDecode(b: Buffer): unknown;
}

const codecs: Codec<never>[] = [
  { name: 'CreateSlotRequest', arb: createReq, encode: encodeCreateSlotRequest, decode: (b: Buffer) => decodeCreateSlotRequest(b), pjEncode: svc.CreateSlot.requestSerialize, pjDecode: svc.CreateSlot.requestDeserialize },
  { name: 'InitRequest', arb: initReq, encode: encodeInitRequest, decode: (b: Buffer) => decodeInitRequest(b), pjEncode: svc.Init.requestSerialize, pjDecode: svc.Init.requestDeserialize },
  { name: 'DestroySlotRequest', arb: destroyReq, encode: encodeDestroySlotRequest, decode: (b: Buffer) => decodeDestroySlotRequest(b), pjEncode: svc.DestroySlot.requestSerialize, pjDecode: svc.DestroySlot.requestDeserialize },
  { name: 'CreateSlotReply', arb: createReply, encode: encodeCreateSlotReply, decode: (b: Buffer) => decodeCreateSlotReply(b), pjEncode: svc.CreateSlot.responseSerialize, pjDecode: svc.CreateSlot.responseDeserialize },
  { name: 'InitReply', arb: initReply, encode: encodeInitReply, decode: (b: Buffer) => decodeInitReply(b), pjEncode: svc.Init.responseSerialize, pjDecode: svc.Init.responseDeserialize },
  { name: 'DestroySlotReply', arb: destroyReply, encode: encodeDestroySlotReply, decode: (b: Buffer) => decodeDestroySlotReply(b), pjEncode: svc.DestroySlot.responseSerialize, pjDecode: svc.DestroySlot.responseDeserialize },
] as unknown as Codec<never>[];

describe('platform codec vs protobufjs', () => {
  it.each(codecs.map((c) => [c.name, c] as const))('%s: ours -> protobufjs and protobufjs -> ours agree', (_name, c) => {
    fc.assert(
      fc.property(c.arb, (m) => {
        // What protobufjs reads from our bytes equals what we read from them and from its own.
        const fromOurs = plain(c.pjDecode(c.encode(m)));
        expect(ours(c.decode(c.encode(m)))).toEqual(fromOurs);
        expect(ours(c.decode(c.pjEncode(m)))).toEqual(plain(c.pjDecode(c.pjEncode(m))));
        expect(ours(c.decode(c.pjEncode(m)))).toEqual(fromOurs);
      }),
      { numRuns: 300 },
    );
  });

  it.each(codecs.map((c) => [c.name, c] as const))('%s: unknown fields anywhere are skipped as protobufjs skips them', (_name, c) => {
    fc.assert(
      fc.property(c.arb, fc.array(unknownField, { maxLength: 3 }), fc.array(unknownField, { maxLength: 3 }), (m, pre, post) => {
        const bytes = Buffer.concat([Buffer.from(pre.flat()), c.pjEncode(m), Buffer.from(post.flat())]);
        expect(ours(c.decode(bytes))).toEqual(plain(c.pjDecode(bytes)));
      }),
      { numRuns: 200 },
    );
  });

  it('omits proto3 defaults but keeps present optional fields and sub-messages', () => {
    expect(encodeCreateSlotRequest({ requestId: '', resourceConfig: { memoryInMegabytes: 0 } })).toEqual(Buffer.from([0x12, 0x00]));
    expect(encodeDestroySlotRequest({ requestId: '', id: '', reason: '' })).toEqual(Buffer.from([0x1a, 0x00]));
    expect(encodeDestroySlotRequest({ requestId: '', id: '', reason: undefined })).toEqual(Buffer.alloc(0));
    expect(encodeInitReply({ status: 0, createTime: 0, initDurationInMs: 0, errorMessage: '' })).toEqual(Buffer.from([0x22, 0x00]));
    expect(plain(svc.DestroySlot.requestDeserialize(Buffer.from([0x1a, 0x00])))).toEqual({ requestId: '', id: '', reason: '' });
  });

  it('fills defaults for an empty message and leaves optional fields absent', () => {
    expect(decodeInitReply(Buffer.alloc(0))).toEqual({ status: 0, createTime: 0, initDurationInMs: 0, errorMessage: undefined });
    expect(decodeCreateSlotReply(Buffer.alloc(0))).toEqual({ status: 0, slot: undefined, errorMessage: undefined });
    expect(decodeDestroySlotReply(Buffer.alloc(0))).toEqual({ status: 0, errorMessage: undefined });
    expect(decodeInitRequest(Buffer.alloc(0))).toEqual({ requestId: '', slotId: '', instanceId: '', metaData: undefined });
    // An empty slot is present, with defaults.
    expect(decodeCreateSlotReply(Buffer.from([0x12, 0x00])).slot).toEqual({ id: '', resourceConfig: undefined, createTime: 0, createDurationInMs: 0 });
  });

  it('lets the last scalar win and merges a repeated sub-message, as the protobuf spec says', () => {
    const a = encodeCreateSlotReply({ status: 1, slot: { id: 'a', resourceConfig: { memoryInMegabytes: 512 }, createTime: 5, createDurationInMs: 0 }, errorMessage: 'x' });
    const b = encodeCreateSlotReply({ status: 2, slot: { id: 'b', resourceConfig: undefined, createTime: 0, createDurationInMs: 9 }, errorMessage: undefined });
    const both = Buffer.concat([a, b]);
    const got = decodeCreateSlotReply(both);
    const pj = plain(svc.CreateSlot.responseDeserialize(both)) as typeof got;
    expect([got.status, got.errorMessage, got.slot?.id]).toEqual([pj.status, pj.errorMessage, pj.slot?.id]);
    // protobufjs replaces the earlier sub-message instead of merging it (a known deviation).
    expect(got.slot).toEqual({ id: 'b', resourceConfig: { memoryInMegabytes: 512 }, createTime: 5, createDurationInMs: 9 });
  });

  it('frames requests exactly as the unframed encoders', () => {
    const m: InitRequestFields = { requestId: 'r', slotId: 's', instanceId: 'i', metaData: { key: 'k', runtime: 'go', timeoutInSecs: 3, memoryInMb: 128 } };
    const f = encodeInitFrame(m.requestId, m.slotId, m.instanceId, m.metaData!);
    expect(f.readUInt32BE(1)).toBe(f.length - GRPC_FRAME_HEADER_BYTES);
    expect(f.subarray(GRPC_FRAME_HEADER_BYTES)).toEqual(encodeInitRequest(m));
    expect(encodeCreateSlotFrame('r', 64).subarray(GRPC_FRAME_HEADER_BYTES)).toEqual(encodeCreateSlotRequest({ requestId: 'r', resourceConfig: { memoryInMegabytes: 64 } }));
    expect(encodeDestroySlotFrame('r', 'x', 'why').subarray(GRPC_FRAME_HEADER_BYTES)).toEqual(encodeDestroySlotRequest({ requestId: 'r', id: 'x', reason: 'why' }));
  });

  it('rejects truncated and invalid input with a PlatformCodecError', () => {
    const full = encodeInitReply({ status: 2, createTime: 123456789, initDurationInMs: 99, errorMessage: 'boom' } satisfies InitReplyFields);
    for (let n = 1; n < full.length; n++) {
      if (n === 2 || n === 7 || n === 9) continue; // cuts that fall between fields are valid shorter messages
      expect(() => decodeInitReply(full.subarray(0, n)), `cut at ${n}`).toThrow(PlatformCodecError);
    }
    expect(() => decodeCreateSlotReply(Buffer.from([0x0f]))).toThrow(PlatformCodecError); // wire type 7
    expect(() => decodeCreateSlotReply(Buffer.from([0x00, 0x00]))).toThrow(PlatformCodecError); // field 0
    expect(() => decodeCreateSlotReply(Buffer.from([0x1b, 0x24]))).toThrow(PlatformCodecError); // mismatched end group
    const r: CreateSlotReplyFields = { status: 0, slot: undefined, errorMessage: undefined };
    expect(decodeCreateSlotReply(encodeCreateSlotReply(r))).toEqual(r);
  });

  it('formats grpc-timeout within 8 digits', () => {
    expect(grpcTimeoutHeader(30_000)).toBe('30000m');
    expect(grpcTimeoutHeader(15 * 60_000)).toBe('900000m');
    expect(grpcTimeoutHeader(1e9)).toBe('1000000S');
  });
});

describe('--platform-client / SCALER_PLATFORM_CLIENT', () => {
  it('selects the client by flag over environment, defaults when unset, and rejects unknown kinds', () => {
    expect(parseConfig([], {})!.platformClient).toBeUndefined();
    expect(DEFAULT_PLATFORM_CLIENT).toBe('raw');
    expect(parseConfig([], { SCALER_PLATFORM_CLIENT: 'grpc-js' })!.platformClient).toBe('grpc-js');
    expect(parseConfig(['--platform-client', 'raw'], { SCALER_PLATFORM_CLIENT: 'grpc-js' })!.platformClient).toBe('raw');
    expect(parseConfig(['--platform-client=grpc-js'], {})!.platformClient).toBe('grpc-js');
    expect(() => parseConfig(['--platform-client', 'grpc'], {})).toThrow(ConfigError);
    expect(() => parseConfig([], { SCALER_PLATFORM_CLIENT: 'RAW' })).toThrow(/--platform-client must be one of grpc-js, raw/);
  });
});
