/**
 * Issue 17, the platform side: a whole scaler (`dist/src/main.js`, raw HTTP/2 platform client)
 * whose platform is a raw-TCP stand-in (node:net) that answers the scaler's first CreateSlot on a
 * connection with abuse: CONTINUATION floods (full and empty frames), 1-byte DATA frames, a PING
 * flood whose ACKs it never reads, a declared reply length past the limit, SETTINGS and frame
 * rules RFC 9113 forbids, malformed HPACK. Connections without a case queued are piped to a real
 * platform (src/sim/live/platform-server.ts), so the scaler can recover by reconnecting.
 *
 * For each case: the scaler stays up and answers Idle checks sent every 100 ms throughout, the
 * abused connection is closed (with a GOAWAY of the expected code where the rules say so), the
 * limit is counted on /metrics and logged, the Assign that triggered the abuse and one for another
 * function then succeed, and (cases about memory) the scaler's RSS, read from /proc, grows by
 * less than 64 MiB.
 *
 * Binds ephemeral ports; spawns scalers: run under `flock /tmp/scaler-heavy.lock`.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PlatformServer } from '../src/sim/live/platform-server.js';
import { H2Method } from '../src/h2/h2-call.js';
import { H2UnaryClient } from '../src/h2/h2-unary-client.js';
import { RawH2Client } from '../src/load/raw-h2-client.js';
import { LoadCallErrorCode, type AssignOutcome } from '../src/load/load-client.js';
import {
  F,
  FLAG,
  FrameReader,
  GRPC_OK_TRAILERS,
  GRPC_RESPONSE_HEADERS,
  H2,
  MiB,
  RssSampler,
  frame,
  peerLimitCount,
  rssOf,
  settings,
  sleep,
  spawnScaler,
  u32,
  waitFor,
  type SpawnedScaler,
} from './hostile-fixtures.js';

const RSS_GROWTH_LIMIT = 64 * MiB;

/** One abused connection, from the stand-in's side. */
class AbusedConnection {
  readonly reader = new FrameReader(true);
  sid = 0;
  sent = 0;
  closed = false;
  closedAt = 0;
  startedAt = 0;
  finishedAt = 0;
  private readonly closeWaiters: (() => void)[] = [];

  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => this.reader.push(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      this.closedAt = performance.now();
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }

  write(b: Buffer): void {
    if (this.closed) return;
    this.sent += b.length;
    this.sock.write(b);
  }

  /** Writes `chunk` again and again, as fast as the peer takes it, until it closes or `cap` bytes went out. */
  async pump(chunk: Buffer, cap: number): Promise<void> {
    while (!this.closed && this.sent < cap) {
      this.sent += chunk.length;
      if (!this.sock.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            this.sock.off('drain', done);
            resolve();
          };
          this.sock.once('drain', done);
          this.closeWaiters.push(done);
        });
      }
    }
  }

  /** Resolves true once the peer closed the connection, false after `ms`. */
  closedWithin(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(this.closed), ms);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }
}

type Abuse = (c: AbusedConnection) => Promise<void>;

/** The raw-TCP platform stand-in: each new connection takes the next queued abuse, or is piped to the real platform. */
class HostilePlatform {
  readonly abused: AbusedConnection[] = [];
  private readonly server: net.Server;
  port = 0;

  constructor(
    private readonly realPort: number,
    private readonly cases: Abuse[],
  ) {
    this.server = net.createServer((sock) => this.onConnection(sock));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  get pending(): number {
    return this.cases.length;
  }

  private onConnection(sock: net.Socket): void {
    const abuse = this.cases.shift();
    if (abuse === undefined) {
      const up = net.connect(this.realPort, '127.0.0.1');
      sock.pipe(up);
      up.pipe(sock);
      sock.on('error', () => up.destroy());
      up.on('error', () => sock.destroy());
      sock.on('close', () => up.destroy());
      up.on('close', () => sock.destroy());
      return;
    }
    const c = new AbusedConnection(sock);
    this.abused.push(c);
    c.reader.onFrame = (type, _flags, sid) => {
      if (type !== F.Headers || c.sid !== 0) return;
      c.sid = sid;
      c.startedAt = performance.now();
      void abuse(c).then(() => {
        c.finishedAt = performance.now();
        // Whatever the outcome, this connection takes no more calls: retries go to a fresh one.
        if (!c.closed) {
          c.write(frame(F.Goaway, 0, 0, Buffer.concat([u32(c.sid), u32(0)])));
          sock.end();
          setTimeout(() => sock.destroy(), 200).unref();
        }
      });
    };
  }

  close(): void {
    this.server.close();
    for (const c of this.abused) c.sock.destroy();
  }
}

interface Rig {
  real: PlatformServer;
  fake: HostilePlatform;
  scaler: SpawnedScaler;
  client: RawH2Client;
  /** Idle checks sent / answered (any status: the scaler answered) / worst latency. */
  checks: { sent: number; answered: number; worstMs: number; outstanding: Set<number> };
  stopChecks(): void;
}

let rig: Rig | null = null;
afterEach(async () => {
  if (rig === null) return;
  rig.stopChecks();
  rig.client.close();
  await rig.scaler.stop();
  rig.fake.close();
  await rig.real.close();
  rig = null;
});

async function startRig(cases: Abuse[]): Promise<Rig> {
  const real = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 5, initDurationMs: () => 20 });
  const realPort = await real.start();
  const fake = new HostilePlatform(realPort, cases);
  const fakePort = await fake.listen();
  const scaler = await spawnScaler(['--platform', `127.0.0.1:${fakePort}`, '--platform-client', 'raw', '--shards', '1', '--journal', 'off']);
  const client = new RawH2Client({ target: `127.0.0.1:${scaler.port}` });
  await client.connect();
  const checks = { sent: 0, answered: 0, worstMs: 0, outstanding: new Set<number>() };
  const timer = setInterval(() => {
    const n = checks.sent++;
    const t0 = performance.now();
    checks.outstanding.add(n);
    client.idle('liveness', `check-${n}`, 'no-such-instance', (err) => {
      checks.outstanding.delete(n);
      // Any answer from the scaler counts (an unknown instance is refused with a gRPC status); a transport failure does not.
      if (err === null || err.code === LoadCallErrorCode.GrpcStatus) checks.answered++;
      checks.worstMs = Math.max(checks.worstMs, performance.now() - t0);
    });
  }, 100);
  rig = { real, fake, scaler, client, checks, stopChecks: () => clearInterval(timer) };
  return rig;
}

function assign(client: RawH2Client, key: string): Promise<AssignOutcome | string> {
  return new Promise((resolve) => {
    client.assign(key, `${key}-${Math.random().toString(36).slice(2)}`, 128, (err, out) => {
      if (err !== null) resolve(`grpc ${err.grpcStatus}: ${err.message}`);
      else if (out === null || out.status !== 0 || out.instanceId === '') resolve(`status ${out?.status}`);
      else resolve(out);
    });
  });
}

/** Assigns for `key` until one succeeds (a cold start may give up after its retries while cases remain queued). */
async function assignEventually(r: Rig, key: string, timeoutMs: number): Promise<AssignOutcome> {
  const t0 = performance.now();
  let last: AssignOutcome | string = '';
  while (performance.now() - t0 < timeoutMs) {
    last = await assign(r.client, key);
    if (typeof last !== 'string') return last;
  }
  throw new Error(`Assign for ${key} did not succeed within ${timeoutMs} ms: ${last}`);
}

/** The scaler is alive and served every Idle check within a second. */
async function expectServedThroughout(r: Rig): Promise<void> {
  await sleep(300);
  await waitFor('the Idle checks in flight', () => r.checks.outstanding.size === 0, 2_000);
  expect(r.scaler.child.exitCode).toBeNull();
  expect(r.checks.sent).toBeGreaterThan(2);
  expect(r.checks.answered).toBe(r.checks.sent);
  expect(r.checks.worstMs).toBeLessThan(1_000);
}

/**
 * Runs one abuse against a fresh scaler: the Assign that triggers it and one for another
 * function must succeed, RSS must stay within bounds; returns the abused connection and growth.
 */
async function memoryCase(abuse: Abuse, budgetMs: number): Promise<{ c: AbusedConnection; growth: number; r: Rig }> {
  const r = await startRig([abuse]);
  const before = rssOf(r.scaler.pid);
  const sampler = new RssSampler(r.scaler.pid);
  await assignEventually(r, 'victim', budgetMs);
  const c = r.fake.abused[0]!;
  await waitFor('the abuse to end', () => c.finishedAt > 0, budgetMs);
  const growth = sampler.stop() - before;
  await assignEventually(r, 'bystander', 5_000);
  await expectServedThroughout(r);
  return { c, growth, r };
}

describe('a platform that floods the scaler', () => {
  it('CONTINUATION flood (16 KiB frames): connection closed with ENHANCE_YOUR_CALM, RSS bounded', async () => {
    const { c, growth, r } = await memoryCase(async (c) => {
      c.write(settings([]));
      c.write(frame(F.Headers, 0, c.sid, GRPC_RESPONSE_HEADERS)); // no END_HEADERS
      const batch = Buffer.concat(Array.from({ length: 32 }, () => frame(F.Continuation, 0, c.sid, Buffer.alloc(16_384))));
      await c.pump(batch, 256 * MiB);
    }, 40_000);
    expect(c.closed).toBe(true);
    expect(c.sent).toBeLessThan(64 * MiB);
    expect(c.reader.goaways).toContain(H2.ENHANCE_YOUR_CALM);
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(await peerLimitCount(r.scaler.statsPort, 'platform_client', 'header_block')).toBeGreaterThanOrEqual(1);
    expect(r.scaler.log()).toContain('platform connection limit header_block');
  }, 60_000);

  it('empty CONTINUATION flood: bounded like full frames (9 bytes each count)', async () => {
    const { c, growth, r } = await memoryCase(async (c) => {
      c.write(settings([]));
      c.write(frame(F.Headers, 0, c.sid, GRPC_RESPONSE_HEADERS));
      const batch = Buffer.concat(Array.from({ length: 8192 }, () => frame(F.Continuation, 0, c.sid)));
      await c.pump(batch, 128 * MiB);
    }, 40_000);
    expect(c.closed).toBe(true);
    expect(c.sent).toBeLessThan(64 * MiB);
    expect(c.reader.goaways).toContain(H2.ENHANCE_YOUR_CALM);
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(await peerLimitCount(r.scaler.statsPort, 'platform_client', 'header_block')).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('a 1 MiB reply in 1-byte DATA frames is read in linear time (no re-concatenation per frame)', async () => {
    const declared = 1 * MiB;
    const { c, growth } = await memoryCase(async (c) => {
      c.write(settings([]));
      c.write(frame(F.Headers, FLAG.EndHeaders, c.sid, GRPC_RESPONSE_HEADERS));
      const prefix = Buffer.from([0, 0, 0, 0, 0]);
      prefix.writeUInt32BE(declared, 1);
      const bytes = (n: number, fill: (i: number) => number): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => frame(F.Data, 0, c.sid, Buffer.from([fill(i)]))));
      c.write(bytes(5, (i) => prefix[i]!));
      // 1 MiB of 1-byte frames (10 MiB on the wire), written in batches of 64 Ki frames.
      const batch = bytes(65_536, () => 0x08);
      const until = c.sent + declared * (batch.length / 65_536);
      await c.pump(batch, until);
      c.write(frame(F.Headers, FLAG.EndHeaders | FLAG.EndStream, c.sid, GRPC_OK_TRAILERS));
      // The reply is not a CreateSlotReply (a malformed reply, transient): its retry goes elsewhere.
      await c.closedWithin(500);
    }, 20_000);
    expect(c.finishedAt - c.startedAt).toBeLessThan(15_000);
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
  }, 60_000);

  it('a reply declaring more than the limit is refused on its 5-byte prefix: stream reset, counted', async () => {
    const { c, growth, r } = await memoryCase(async (c) => {
      c.write(settings([]));
      c.write(frame(F.Headers, FLAG.EndHeaders, c.sid, GRPC_RESPONSE_HEADERS));
      const prefix = Buffer.from([0, 0, 0, 0, 0]);
      prefix.writeUInt32BE(64 * MiB, 1);
      for (const b of prefix) c.write(frame(F.Data, 0, c.sid, Buffer.from([b])));
      await waitFor('RST_STREAM', () => c.reader.frames.some((f) => f.type === F.RstStream && f.sid === c.sid), 3_000).catch(() => {});
    }, 20_000);
    expect(c.reader.frames.some((f) => f.type === F.RstStream && f.sid === c.sid)).toBe(true);
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(await peerLimitCount(r.scaler.statsPort, 'platform_client', 'reply_body')).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('PING flood whose ACKs are never read: connection closed once our unread output passes the bound', async () => {
    const { c, growth, r } = await memoryCase(async (c) => {
      c.write(settings([]));
      c.sock.pause(); // never read again
      const batch = Buffer.concat(Array.from({ length: 4096 }, () => frame(F.Ping, 0, 0, Buffer.alloc(8))));
      await c.pump(batch, 512 * MiB);
    }, 50_000);
    expect(c.closed).toBe(true);
    expect(c.sent).toBeLessThan(256 * MiB);
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(await peerLimitCount(r.scaler.statsPort, 'platform_client', 'unsent_output')).toBeGreaterThanOrEqual(1);
    expect(r.scaler.log()).toContain('platform connection limit unsent_output');
  }, 60_000);
});

/** A connection that sends `frames` after its SETTINGS and must be closed with GOAWAY `code` (or just closed, code null). */
type RuleCase = readonly [name: string, frames: (sid: number) => Buffer[], code: number | null];

const HPACK = (block: number[]) => (sid: number) => [frame(F.Headers, FLAG.EndHeaders, sid, Buffer.from(block))];

const RULE_CASES: readonly RuleCase[] = [
  ['SETTINGS_MAX_FRAME_SIZE below 16384', () => [settings([[5, 100]])], H2.PROTOCOL_ERROR],
  ['SETTINGS_MAX_FRAME_SIZE above 2^24-1', () => [settings([[5, 2 ** 24]])], H2.PROTOCOL_ERROR],
  ['SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1', () => [settings([[4, 2 ** 31]])], H2.FLOW_CONTROL_ERROR],
  ['SETTINGS_ENABLE_PUSH 2', () => [settings([[2, 2]])], H2.PROTOCOL_ERROR],
  ['SETTINGS on a stream', (sid) => [settings([], sid)], H2.PROTOCOL_ERROR],
  ['DATA on stream 0', () => [frame(F.Data, 0, 0, Buffer.from([1]))], H2.PROTOCOL_ERROR],
  ['WINDOW_UPDATE of 0 on the connection', () => [frame(F.WindowUpdate, 0, 0, u32(0))], H2.PROTOCOL_ERROR],
  ['WINDOW_UPDATE past 2^31-1', () => [frame(F.WindowUpdate, 0, 0, u32(2 ** 31 - 1))], H2.FLOW_CONTROL_ERROR],
  ['PADDED DATA whose pad length exceeds the payload', (sid) => [frame(F.Data, FLAG.Padded, sid, Buffer.from([200, 1, 2, 3]))], H2.PROTOCOL_ERROR],
  ['PADDED DATA of length 0', (sid) => [frame(F.Data, FLAG.Padded, sid)], H2.PROTOCOL_ERROR],
  ['HPACK integer past 2^35', HPACK([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), H2.COMPRESSION_ERROR],
  ['HPACK truncated integer', HPACK([0xff, 0x80]), H2.COMPRESSION_ERROR],
  ['HPACK index beyond both tables', HPACK([0xff, 0x80, 0x01]), H2.COMPRESSION_ERROR],
  ['HPACK index 0', HPACK([0x80]), H2.COMPRESSION_ERROR],
  ['HPACK string longer than the block', HPACK([0x00, 0x7f, 0xff, 0xff, 0x03, 0x61]), H2.COMPRESSION_ERROR],
  ['HPACK table size update above SETTINGS_HEADER_TABLE_SIZE', HPACK([0x3f, 0xe1, 0xff, 0x03]), H2.COMPRESSION_ERROR],
];

describe('a platform that breaks the protocol', () => {
  it('each violation closes its connection with the right GOAWAY, is counted, and calls carry on elsewhere', async () => {
    const results: { name: string; closed: boolean; goaways: number[]; expected: number | null }[] = [];
    const cases: Abuse[] = RULE_CASES.map(([name, frames, code]) => async (c) => {
      c.write(settings([]));
      for (const f of frames(c.sid)) c.write(f);
      const closed = await c.closedWithin(2_000);
      results.push({ name, closed, goaways: c.reader.goaways, expected: code });
    });
    // MAX_CONCURRENT_STREAMS 0 and the call refused: it must fail at once (not at its 30 s
    // deadline) and the client must move to another connection.
    let zeroStreams: AbusedConnection | null = null;
    cases.push(async (c) => {
      zeroStreams = c;
      c.write(settings([[3, 0]]));
      c.write(frame(F.RstStream, 0, c.sid, u32(H2.REFUSED_STREAM)));
      await c.closedWithin(2_000);
    });
    const r = await startRig(cases);
    await assignEventually(r, 'victim', 40_000);
    expect(r.fake.pending).toBe(0);
    await assignEventually(r, 'bystander', 5_000);
    await expectServedThroughout(r);
    expect(results.filter((x) => !x.closed || (x.expected !== null && !x.goaways.includes(x.expected)))).toEqual([]);
    expect(results).toHaveLength(RULE_CASES.length);
    expect(zeroStreams!.closed).toBe(true);
    expect(zeroStreams!.closedAt - zeroStreams!.startedAt).toBeLessThan(2_000);
    expect(await peerLimitCount(r.scaler.statsPort, 'platform_client', 'protocol_violation')).toBeGreaterThanOrEqual(RULE_CASES.length);
    expect(await peerLimitCount(r.scaler.statsPort, 'platform_client', 'no_streams')).toBeGreaterThanOrEqual(1);
    expect(r.scaler.log()).toContain('platform connection limit protocol_violation');
  }, 60_000);
});



/**
 * Many replies started and none finished, in-process against the raw client itself (a whole
 * scaler sends one CreateSlot per cold start; here 2,000 calls share one connection): declared
 * sizes cost nothing until their bytes come, and the bytes that do come are bounded per connection.
 */
describe('a platform that starts many replies and finishes none', () => {
  let srv: net.Server | null = null;
  afterEach(() => {
    srv?.close();
    srv = null;
  });

  /** Answers every request stream with HEADERS and the first `bytes` of a reply declaring `declared`. */
  async function partialReplies(declared: number, bytes: number): Promise<{ port: number; goaways: number[] }> {
    const goaways: number[] = [];
    srv = net.createServer((sock) => {
      sock.on('error', () => {});
      const reader = new FrameReader(true);
      reader.onFrame = (type, _flags, sid, payload) => {
        if (type === F.Goaway) goaways.push(payload.readUInt32BE(4));
        if (type !== F.Headers) return;
        const body = Buffer.alloc(bytes);
        if (bytes >= 5) body.writeUInt32BE(declared, 1);
        const frames = [frame(F.Headers, FLAG.EndHeaders, sid, GRPC_RESPONSE_HEADERS)];
        for (let off = 0; off < body.length; off += 16_384) frames.push(frame(F.Data, 0, sid, body.subarray(off, off + 16_384)));
        sock.write(Buffer.concat(frames));
      };
      sock.on('data', (d: Buffer) => reader.push(d));
      sock.write(settings([]));
    });
    await new Promise<void>((r) => srv!.listen(0, '127.0.0.1', r));
    return { port: (srv.address() as net.AddressInfo).port, goaways };
  }

  async function calls(port: number, n: number, limits: { maxPendingReplyBytes?: number }, hits: string[]): Promise<string[]> {
    const client = new H2UnaryClient({ address: `127.0.0.1:${port}`, limits: { ...limits, onLimit: (l) => hits.push(l) } });
    const method = new H2Method('/serverless.simulator.Platform/CreateSlot');
    try {
      return await Promise.all(
        Array.from({ length: n }, () => new Promise<string>((resolve) => client.call(method, Buffer.from([0, 0, 0, 0, 0]), 1_500, (c) => resolve(c.failure), null))),
      );
    } finally {
      client.close(0);
    }
  }

  it('2,000 replies each declaring 4 MiB and sending 5 bytes allocate kilobytes, not gigabytes', async () => {
    const { port } = await partialReplies(4 * MiB - 1, 5);
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 5);
    const failures = await calls(port, 2_000, {}, []);
    clearInterval(t);
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    expect(failures.every((f) => f !== '')).toBe(true); // all ended (deadline or connection closed)
    expect(peak - before).toBeLessThan(64 * MiB);
  }, 20_000);

  it('bytes of unfinished replies past the per-connection bound close the connection (ENHANCE_YOUR_CALM), counted', async () => {
    const { port, goaways } = await partialReplies(60_000, 40_005);
    const hits: string[] = [];
    const failures = await calls(port, 40, { maxPendingReplyBytes: 1 * MiB }, hits);
    expect(hits).toContain('pending_reply_bytes');
    expect(failures.filter((f) => /protocol error: too many bytes in unfinished replies/.test(f)).length).toBeGreaterThan(0);
    await waitFor('the GOAWAY', () => goaways.includes(H2.ENHANCE_YOUR_CALM), 2_000);
  }, 20_000);
});
