/**
 * Issue 17's decision: keep (and harden) the raw HTTP/2 platform client, or replace it with
 * `node:http2` (nghttp2)? Both clients send the same CreateSlot frames to the same `node:http2`
 * platform stand-in, which runs in a child process so that this process's CPU is the client's
 * alone. Two shapes: a storm (all calls at once, as a cold-start storm's CreateSlot + Init) and a
 * warm path (a fixed small window of calls in flight). Reported: client CPU per call (user+sys
 * of this process over the run), wall time, and the client's RSS growth.
 *
 *   node dist/scripts/bench-h2-client-choice.js [--calls 20000] [--window 64] [--rounds 3]
 *
 * The `node:http2` client is the leanest unary client node:http2 allows (one session, one
 * `request()` per call, body and trailers collected, no grpc-js layers): a lower bound of what
 * a node:http2 platform client would cost.
 */
import { fork } from 'node:child_process';
import * as http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RawH2PlatformClient } from '../src/platform/raw-h2-platform-client.js';
import { encodeCreateSlotFrame, encodeCreateSlotReply, grpcFrame } from '../src/wire/platform-codec.js';

const CREATE_PATH = '/serverless.simulator.Platform/CreateSlot';

function platformChild(): void {
  const reply = grpcFrame(encodeCreateSlotReply({ status: 0, errorMessage: undefined, slot: { id: 'slot-1', createTime: 1, createDurationInMs: 1, resourceConfig: { memoryInMegabytes: 128 } } }));
  const server = http2.createServer({ settings: { maxConcurrentStreams: 100_000 }, maxSessionMemory: 256 });
  server.on('stream', (stream) => {
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(reply);
    });
    stream.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    process.send!({ port: typeof addr === 'object' && addr !== null ? addr.port : 0 });
  });
}

type Client = { call(done: (err: unknown) => void): void; close(): void };

function rawClient(port: number): Client {
  const c = new RawH2PlatformClient({ address: `127.0.0.1:${port}` });
  let n = 0;
  return {
    call: (done) => c.createSlot(`r${n++}`, 128, (err) => done(err)),
    close: () => c.close(),
  };
}

function nodeClient(port: number): Client {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 4 << 20 }, maxSessionMemory: 256, peerMaxConcurrentStreams: 100_000 });
  session.on('error', (e: Error) => process.stderr.write(`node:http2 session error: ${e.message}\n`));
  let n = 0;
  return {
    call(done) {
      const frame = encodeCreateSlotFrame(`r${n++}`, 128);
      const req = session.request({ ':method': 'POST', ':path': CREATE_PATH, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '10000m' });
      const parts: Buffer[] = [];
      let status = '';
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('trailers', (t: http2.IncomingHttpHeaders) => (status = String(t['grpc-status'])));
      req.on('error', (e) => done(e));
      req.on('close', () => {
        Buffer.concat(parts);
        done(status === '0' ? null : new Error(`grpc-status ${status}`));
      });
      req.end(frame);
    },
    close: () => session.close(),
  };
}

async function run(client: Client, calls: number, window: number): Promise<{ cpuPerCallUs: number; wallMs: number; rssGrowthMb: number; errors: number }> {
  const rss0 = process.memoryUsage().rss;
  let peakRss = rss0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  let done = 0;
  let errors = 0;
  await new Promise<void>((resolve) => {
    const next = (): void => {
      while (sent < calls && sent - done < window) {
        sent++;
        client.call((err) => {
          if (err !== null && err !== undefined) errors++;
          done++;
          if (done % 1000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
          if (done === calls) resolve();
          else next();
        });
      }
    };
    next();
  });
  const cpu = process.cpuUsage(cpu0);
  return { cpuPerCallUs: (cpu.user + cpu.system) / calls, wallMs: performance.now() - t0, rssGrowthMb: (peakRss - rss0) / 2 ** 20, errors };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { calls: { type: 'string' }, window: { type: 'string' }, rounds: { type: 'string' }, 'platform-child': { type: 'boolean' } } });
  if (values['platform-child'] === true) return platformChild();
  const calls = Number(values.calls ?? 20_000);
  const window = Number(values.window ?? 64);
  const rounds = Number(values.rounds ?? 3);
  const child = fork(fileURLToPath(import.meta.url), ['--platform-child']);
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  try {
    for (const [name, make] of [['raw', rawClient], ['node:http2', nodeClient]] as const) {
      // Warm-up (JIT, connection) then alternate shapes; best (lowest CPU) of the rounds.
      const c = make(port);
      await run(c, 2_000, 64);
      let storm = { cpuPerCallUs: Infinity, wallMs: 0, rssGrowthMb: 0, errors: 0 };
      let warm = { cpuPerCallUs: Infinity, wallMs: 0, rssGrowthMb: 0, errors: 0 };
      for (let r = 0; r < rounds; r++) {
        const s = await run(c, calls, calls);
        if (s.cpuPerCallUs < storm.cpuPerCallUs) storm = s;
        const w = await run(c, calls, window);
        if (w.cpuPerCallUs < warm.cpuPerCallUs) warm = w;
      }
      c.close();
      const f = (x: typeof storm): string => `${x.cpuPerCallUs.toFixed(1)} us CPU/call, ${x.wallMs.toFixed(0)} ms wall, RSS +${x.rssGrowthMb.toFixed(0)} MB, ${x.errors} errors`;
      process.stdout.write(`${name.padEnd(10)} storm (${calls} at once): ${f(storm)}\n`);
      process.stdout.write(`${name.padEnd(10)} warm  (${window} in flight): ${f(warm)}\n`);
    }
  } finally {
    child.kill();
  }
}

await main();
