/**
 * The raw HTTP/2 unary client (src/h2) against `node:http2` servers (nghttp2: Huffman-coded,
 * dynamically indexed headers, flow control, stream limits, GOAWAY): the protocol paths the
 * platform client's and load generator's own tests do not reach.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { H2Method, type H2Call } from '../src/h2/h2-call.js';
import { H2UnaryClient } from '../src/h2/h2-unary-client.js';
import { HpackDecoder } from '../src/h2/hpack-decoder.js';
import { HpackEncoder } from '../src/h2/hpack-encoder.js';
import { decodeHuffman } from '../src/h2/hpack-huffman.js';
import { HPACK_HUFFMAN_CODES } from '../src/h2/hpack-huffman-codes.js';

const sessionsBySrv = new WeakMap<http2.Http2Server, Set<http2.ServerHttp2Session>>();
let servers: http2.Http2Server[] = [];
let clients: H2UnaryClient[] = [];
afterEach(() => {
  for (const c of clients) c.close(0);
  for (const s of servers) s.close();
  servers = [];
  clients = [];
});

type Handler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Buffer) => void;

async function server(handler: Handler, settings: http2.Settings = {}): Promise<{ target: string; srv: http2.Http2Server }> {
  const srv = http2.createServer({ settings });
  const sessions = new Set<http2.ServerHttp2Session>();
  sessionsBySrv.set(srv, sessions);
  srv.on('session', (sess) => sessions.add(sess));
  srv.on('stream', (stream, headers) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => handler(stream, headers, Buffer.concat(parts)));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  servers.push(srv);
  return { target: `127.0.0.1:${(srv.address() as AddressInfo).port}`, srv };
}

function reply(stream: http2.ServerHttp2Stream, body: Buffer, trailers: http2.OutgoingHttpHeaders = { 'grpc-status': '0' }): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers(trailers));
  stream.end(body);
}

const M = new H2Method('/t.T/M');
function call(c: H2UnaryClient, message: Buffer, deadlineMs = 0): Promise<H2Call> {
  return new Promise((resolve) => c.call(M, message, deadlineMs, resolve, null));
}

describe('H2UnaryClient against node:http2', () => {
  it('keeps HPACK in step over thousands of Huffman-coded, indexed and evicted headers', async () => {
    // Each reply carries a fresh 200-byte grpc-message: the server indexes it, evicting older ones.
    const { target } = await server((stream, _h, body) => {
      const n = body.readUInt32BE(0);
      reply(stream, body, { 'grpc-status': String(n % 17), 'grpc-message': `m-${n}-${'é~?'.repeat(60)}`, 'x-pad': `${n}`.repeat(40) });
    });
    const c = new H2UnaryClient({ address: target });
    clients.push(c);
    for (let round = 0; round < 20; round++) {
      const calls = await Promise.all(Array.from({ length: 100 }, (_, i) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(round * 100 + i);
        return call(c, b);
      }));
      calls.forEach((k, i) => {
        const n = round * 100 + i;
        expect(k.grpcStatus).toBe(n % 17);
        expect(k.grpcMessage).toBe(`m-${n}-${'é~?'.repeat(60)}`);
        expect(k.body?.readUInt32BE(0)).toBe(n);
      });
    }
    expect(c.sessionsOpened).toBe(1);
  }, 20_000);

  it('respects the peer stream limit and flow-control windows (a message larger than the window is split)', async () => {
    let open = 0;
    let maxOpen = 0;
    const { target } = await server((stream, _h, body) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      setTimeout(() => {
        open--;
        reply(stream, body.subarray(0, 8));
      }, 5);
    }, { maxConcurrentStreams: 3, initialWindowSize: 1000 });
    const c = new H2UnaryClient({ address: target });
    clients.push(c);
    const big = Buffer.alloc(200_000, 7);
    big.writeUInt32BE(42, 0);
    const calls = await Promise.all(Array.from({ length: 12 }, () => call(c, big)));
    for (const k of calls) {
      expect(k.failure).toBe('');
      expect(k.grpcStatus).toBe(0);
      expect(k.body?.readUInt32BE(0)).toBe(42);
    }
    expect(maxOpen).toBeLessThanOrEqual(3);
  }, 20_000);

  it('ends a call at its deadline with a reset, and the connection goes on', async () => {
    let resets = 0;
    const { target } = await server((stream, _h, body) => {
      if (body[0] === 1) {
        stream.on('close', () => (resets += stream.rstCode === http2.constants.NGHTTP2_CANCEL ? 1 : 0));
        return; // never answers
      }
      reply(stream, body);
    });
    const c = new H2UnaryClient({ address: target });
    clients.push(c);
    const t0 = performance.now();
    const late = await call(c, Buffer.from([1]), 100);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    expect(late).toMatchObject({ grpcStatus: -1, localCode: 4, failure: 'deadline exceeded', mayHaveBeenProcessed: true });
    expect((await call(c, Buffer.from([2]))).grpcStatus).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(resets).toBe(1);
    expect(c.sessionsOpened).toBe(1);
  });

  it('finishes calls in flight on GOAWAY and opens a new connection for the next', async () => {
    const { target, srv } = await server((stream, _h, body) => setTimeout(() => reply(stream, body), 50));
    const c = new H2UnaryClient({ address: target });
    clients.push(c);
    expect((await call(c, Buffer.from([0]))).grpcStatus).toBe(0);
    const inFlight = call(c, Buffer.from([1]));
    await new Promise((r) => setTimeout(r, 10));
    for (const s of sessionsOf(srv)) s.goaway(http2.constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1);
    expect((await inFlight).grpcStatus).toBe(0);
    expect((await call(c, Buffer.from([2]))).grpcStatus).toBe(0);
    expect(c.sessionsOpened).toBe(2);
  });

  it('says whether a call that ended without a status may have been processed', async () => {
    // Nobody listening: the request reached no server.
    const { freePort } = await import('../src/free-port.js');
    const nobody = new H2UnaryClient({ address: `127.0.0.1:${await freePort()}` });
    clients.push(nobody);
    expect(await call(nobody, Buffer.from([0]))).toMatchObject({ grpcStatus: -1, mayHaveBeenProcessed: false });
    // A server that read the request and dropped the connection: it may have acted.
    const cut = await server((stream) => stream.session?.socket.resetAndDestroy());
    const c1 = new H2UnaryClient({ address: cut.target });
    clients.push(c1);
    expect(await call(c1, Buffer.from([1]))).toMatchObject({ grpcStatus: -1, mayHaveBeenProcessed: true });
    // Refused unprocessed (REFUSED_STREAM, RFC 9113 8.7), every time it is sent again.
    let refused = 0;
    const { target } = await server((stream) => {
      refused++;
      stream.on('error', () => {}); // node reports the code it sent as a stream error
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
    const c2 = new H2UnaryClient({ address: target });
    clients.push(c2);
    expect(await call(c2, Buffer.from([2]))).toMatchObject({ grpcStatus: -1, resetCode: http2.constants.NGHTTP2_REFUSED_STREAM, mayHaveBeenProcessed: false });
    expect(refused).toBeGreaterThan(1);
  }, 10_000);
});

function sessionsOf(srv: http2.Http2Server): Set<http2.ServerHttp2Session> {
  return sessionsBySrv.get(srv) ?? new Set();
}

describe('HPACK pieces', () => {
  it('decodes every Huffman code of the generated table, and rejects bad padding', () => {
    // Encode all symbols in one string by hand with the table itself.
    let bits = '';
    for (const [, code, n] of HPACK_HUFFMAN_CODES) bits += code.toString(2).padStart(n, '0');
    bits += '1'.repeat((8 - (bits.length % 8)) % 8);
    const buf = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
    expect(decodeHuffman(buf, 0, buf.length)).toBe(Buffer.from(HPACK_HUFFMAN_CODES.map(([s]) => s)).toString('latin1'));
    // '0' is 00000: one byte 0x00 holds '0' then three 0 bits, which are not EOS padding.
    expect(() => decodeHuffman(Buffer.from([0x00]), 0, 1)).toThrow(/padding/);
  });

  it('encodes fixed header lists once as literals, then as indices the decoder resolves', () => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder();
    const list = (p: string): [string, string][] => [[':method', 'POST'], [':path', p], ['te', 'trailers']];
    const sizes: number[] = [];
    for (const p of ['/a', '/a', '/b', '/a', '/b']) {
      const block = enc.encode(list(p));
      sizes.push(block.length);
      const got: string[] = [];
      dec.decode(block, 0, block.length, (n, v) => got.push(`${n}=${v}`));
      expect(got).toEqual([':method=POST', `:path=${p}`, 'te=trailers']);
    }
    expect(sizes.slice(3)).toEqual([3, 3]);
  });
});
