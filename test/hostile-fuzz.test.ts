/**
 * Issue 17: byte-level fuzzing (fast-check) of what a peer's bytes reach. The raw HTTP/2 client's
 * frame parser and HPACK decoder are fed, through a real socket split at random points, frame
 * sequences with random types, flags, stream ids and payloads (and random garbage): the call must
 * end exactly once (answered, failed or at its deadline), nothing may throw out of the client, and
 * the connection's buffers stay bounded. Both protobuf codecs (the server's Assign/Idle requests,
 * the platform's replies and requests) are fed random bytes and mutated valid messages: they
 * return or throw their own codec error, never anything else, and in time linear in the input.
 */
import * as net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H2Method } from '../src/h2/h2-call.js';
import { H2UnaryClient } from '../src/h2/h2-unary-client.js';
import { CodecError, decodeAssignRequest, decodeIdleRequest, encodeAssignFrame, encodeIdleFrame, encodeMetaField, encodeResultField } from '../src/wire/assign-idle-codec.js';
import {
  PlatformCodecError,
  decodeCreateSlotReply,
  decodeCreateSlotRequest,
  decodeDestroySlotReply,
  decodeDestroySlotRequest,
  decodeInitReply,
  decodeInitRequest,
  encodeCreateSlotReply,
  encodeInitFrame,
  encodeInitReply,
} from '../src/wire/platform-codec.js';
import { ProtobufWireError } from '../src/wire/protobuf-wire.js';
import { F, FLAG, FrameReader, GRPC_OK_TRAILERS, GRPC_RESPONSE_HEADERS, H2, frame, settings, u32 } from './hostile-fixtures.js';

/** What the stand-in server sends on the next connection: chunks written one by one. */
let script: Buffer[] = [];
/** GOAWAY codes the client sent on the last connection. */
let goaways: number[] = [];
let server: net.Server;
let port = 0;

beforeAll(async () => {
  server = net.createServer((sock) => {
    sock.on('error', () => {});
    const chunks = script;
    const reader = new FrameReader(true);
    goaways = reader.goaways;
    let sent = false;
    sock.on('data', (d: Buffer) => {
      reader.push(d);
      if (sent) return;
      sent = true;
      let i = 0;
      const next = (): void => {
        if (i >= chunks.length || sock.destroyed) {
          sock.end();
          return;
        }
        sock.write(chunks[i++]!);
        setImmediate(next);
      };
      next();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(() => server.close());

const METHOD = new H2Method('/serverless.simulator.Platform/CreateSlot');

/** One call against the scripted server; resolves with how many times it ended (must be 1). */
async function callOnce(chunks: Buffer[]): Promise<{ ends: number; failure: string }> {
  script = chunks;
  const client = new H2UnaryClient({ address: `127.0.0.1:${port}`, maxReplyBytes: 1 << 16 });
  let ends = 0;
  let failure = '';
  await new Promise<void>((resolve) => {
    client.call(METHOD, Buffer.from([0, 0, 0, 0, 0]), 1_500, (call) => {
      ends++;
      failure = call.failure;
      resolve();
    }, null);
  });
  // Anything arriving after the end must not end it again.
  await new Promise((r) => setTimeout(r, 5));
  client.close(0);
  return { ends, failure };
}

const FRAME_TYPES = [F.Data, F.Headers, 2, F.RstStream, F.Settings, 5, F.Ping, F.Goaway, F.WindowUpdate, F.Continuation, 10, 0xff];

const arbFrame = fc
  .record({
    type: fc.constantFrom(...FRAME_TYPES),
    flags: fc.oneof(fc.constantFrom(0, FLAG.EndStream, FLAG.EndHeaders, FLAG.EndHeaders | FLAG.EndStream, FLAG.Padded, 0x20), fc.integer({ min: 0, max: 255 })),
    sid: fc.oneof(fc.constant(0), fc.constant(1), fc.constant(3), fc.integer({ min: 0, max: 2 ** 31 - 1 })),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 48 }),
      // Well-formed pieces the parser must get past before the garbage: headers, a gRPC prefix, settings pairs.
      fc.constantFrom(GRPC_RESPONSE_HEADERS, GRPC_OK_TRAILERS, Buffer.from([0, 0, 0, 0, 2, 8, 1]), Buffer.from([0, 5, 0, 0, 0x40, 0])),
    ),
  })
  .map(({ type, flags, sid, payload }) => frame(type, flags, sid, Buffer.from(payload)));

/** Splits `b` at the given fractions: the parser must not care where TCP cuts. */
function split(b: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * b.length)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    if (c <= prev || c >= b.length) continue;
    out.push(b.subarray(prev, c));
    prev = c;
  }
  out.push(b.subarray(prev));
  return out;
}

describe('the raw HTTP/2 client under random frames', () => {
  it('ends every call exactly once and never throws, whatever the frames and wherever TCP splits them', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(arbFrame, { minLength: 1, maxLength: 12 }),
          fc.uint8Array({ maxLength: 24 }),
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
          fc.boolean(),
          async (frames, garbage, cuts, withSettings) => {
            const bytes = Buffer.concat([...(withSettings ? [settings([])] : []), ...frames, Buffer.from(garbage)]);
            const r = await callOnce(split(bytes, cuts));
            expect(r.ends).toBe(1);
          },
        ),
        { numRuns: 250 },
      );
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  }, 60_000);
});

/** Frames RFC 9113 forbids, with the connection error they call for. */
const arbViolation: fc.Arbitrary<[Buffer, number]> = fc.oneof(
  fc.integer({ min: 0, max: 16_383 }).map((v) => [settings([[5, v]]), H2.PROTOCOL_ERROR] as [Buffer, number]),
  fc.integer({ min: 2 ** 24, max: 2 ** 32 - 1 }).map((v) => [settings([[5, v]]), H2.PROTOCOL_ERROR] as [Buffer, number]),
  fc.integer({ min: 2 ** 31, max: 2 ** 32 - 1 }).map((v) => [settings([[4, v]]), H2.FLOW_CONTROL_ERROR] as [Buffer, number]),
  fc.integer({ min: 2, max: 2 ** 32 - 1 }).map((v) => [settings([[2, v]]), H2.PROTOCOL_ERROR] as [Buffer, number]),
  fc.integer({ min: 1, max: 2 ** 31 - 1 }).map((sid) => [settings([], sid), H2.PROTOCOL_ERROR] as [Buffer, number]),
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((p) => [frame(F.Data, 0, 0, Buffer.from(p)), H2.PROTOCOL_ERROR] as [Buffer, number]),
  fc.constant([frame(F.WindowUpdate, 0, 0, u32(0)), H2.PROTOCOL_ERROR] as [Buffer, number]),
  fc.integer({ min: 2 ** 31 - 65_000, max: 2 ** 31 - 1 }).map((v) => [frame(F.WindowUpdate, 0, 0, u32(v)), H2.FLOW_CONTROL_ERROR] as [Buffer, number]),
  fc.uint8Array({ maxLength: 8 }).chain((p) =>
    fc.integer({ min: p.length + 1, max: 255 }).map((pad) => [frame(F.Data, FLAG.Padded, 1, Buffer.concat([Buffer.from([pad]), Buffer.from(p)])), H2.PROTOCOL_ERROR] as [Buffer, number]),
  ),
  fc.integer({ min: 1, max: 7 }).map((len) => [frame(F.Ping, 0, 0, Buffer.alloc(len)), H2.FRAME_SIZE_ERROR] as [Buffer, number]),
);

describe('the raw HTTP/2 client under RFC 9113 violations', () => {
  it('answers every forbidden frame with GOAWAY of the code the RFC names, and ends the call once', async () => {
    await fc.assert(
      fc.asyncProperty(arbViolation, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }), async ([bad, code], cuts) => {
        const bytes = Buffer.concat([settings([]), bad, frame(F.Headers, FLAG.EndHeaders | FLAG.EndStream, 1, GRPC_RESPONSE_HEADERS)]);
        const r = await callOnce(split(bytes, cuts));
        expect(r.ends).toBe(1);
        expect(goaways).toContain(code);
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});

const ASSIGN = encodeAssignFrame('req-1', 1_700_000_000_000, encodeMetaField({ key: 'fn-key', runtime: 'go', timeoutInSecs: 60, memoryInMb: 512 }));
const IDLE = encodeIdleFrame('req-1', 'fn-key', 'inst-1', encodeResultField({ statusCode: 200, durationInMs: 15, needDestroy: true, reason: 'r' }));
const INIT_REQUEST = encodeInitFrame('req-1', 'slot-1', 'inst-1', { key: 'fn-key', runtime: 'go', timeoutInSecs: 60, memoryInMb: 512 });
const CREATE_REPLY = encodeCreateSlotReply({ status: 0, errorMessage: undefined, slot: { id: 'slot-1', createTime: 5, createDurationInMs: 3, resourceConfig: { memoryInMegabytes: 512 } } });
const INIT_REPLY = encodeInitReply({ status: 0, createTime: 7, initDurationInMs: 1500, errorMessage: 'x' });

/** Random bytes, or a valid message with random bytes flipped, cut or spliced in. */
function arbMutated(valid: Uint8Array): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
    fc
      .record({
        flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        cut: fc.nat(),
        insert: fc.uint8Array({ maxLength: 16 }),
        at: fc.nat(),
      })
      .map(({ flips, cut, insert, at }) => {
        const b = Buffer.from(valid);
        for (const [i, v] of flips) b[i % b.length] = v;
        const body = b.subarray(0, b.length - (cut % Math.max(1, b.length)));
        const p = at % (body.length + 1);
        return Buffer.concat([body.subarray(0, p), Buffer.from(insert), body.subarray(p)]);
      }),
  );
}

function decodesOrRefuses(decode: (b: Buffer) => unknown, ownError: (e: unknown) => boolean): (b: Buffer) => void {
  return (b) => {
    const t0 = performance.now();
    try {
      decode(b);
    } catch (e) {
      if (!ownError(e)) throw new Error(`threw ${(e as Error).name}: ${(e as Error).message}`);
    }
    expect(performance.now() - t0).toBeLessThan(50);
  };
}

describe('the codecs under random and mutated bytes', () => {
  const serverOwn = (e: unknown): boolean => e instanceof CodecError || e instanceof ProtobufWireError;
  const platformOwn = (e: unknown): boolean => e instanceof PlatformCodecError;

  it('Assign and Idle requests (src/server/assign-idle-codec.ts)', () => {
    fc.assert(fc.property(arbMutated(ASSIGN.subarray(5)), decodesOrRefuses((b) => decodeAssignRequest(b, 0, b.length), serverOwn)), { numRuns: 2_000 });
    fc.assert(fc.property(arbMutated(IDLE.subarray(5)), decodesOrRefuses((b) => decodeIdleRequest(b, 0, b.length), serverOwn)), { numRuns: 2_000 });
  });

  it('Platform replies and requests (src/platform/platform-codec.ts)', () => {
    fc.assert(fc.property(arbMutated(CREATE_REPLY), decodesOrRefuses((b) => decodeCreateSlotReply(b), platformOwn)), { numRuns: 2_000 });
    fc.assert(fc.property(arbMutated(INIT_REPLY), decodesOrRefuses((b) => decodeInitReply(b), platformOwn)), { numRuns: 2_000 });
    fc.assert(fc.property(arbMutated(Buffer.from([8, 1, 18, 1, 120])), decodesOrRefuses((b) => decodeDestroySlotReply(b), platformOwn)), { numRuns: 1_000 });
    fc.assert(fc.property(arbMutated(INIT_REQUEST.subarray(5)), decodesOrRefuses((b) => decodeInitRequest(b), platformOwn)), { numRuns: 1_000 });
    fc.assert(fc.property(arbMutated(Buffer.from([10, 2, 114, 49, 18, 3, 8, 128, 4])), decodesOrRefuses((b) => decodeCreateSlotRequest(b), platformOwn)), { numRuns: 1_000 });
    fc.assert(fc.property(arbMutated(Buffer.from([10, 1, 114, 18, 1, 115])), decodesOrRefuses((b) => decodeDestroySlotRequest(b), platformOwn)), { numRuns: 1_000 });
  });
});
