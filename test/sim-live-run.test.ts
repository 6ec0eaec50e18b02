/**
 * runLive end to end: a scaler spawned through `sh -c` (a standalone naive scaler script), the
 * platform, the :9000 statistics server's lifetime, and the bundled smoke dataset.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTO_PATH } from '../src/wire/proto.js';
import { LiveRunError, runLive } from '../src/sim/live/live-run.js';
import type { ContestStats } from '../src/sim/scoring/score-book.js';
import { freePort } from '../src/free-port.js';

const require = createRequire(import.meta.url);
const SMOKE_DIR = fileURLToPath(new URL('../datasets/function_smoke_test', import.meta.url));

/** Naive standalone scaler: one cold start per request, destroy after Idle. Writes its pid. */
const NAIVE_SCALER_SRC = `
const grpc = require(${JSON.stringify(require.resolve('@grpc/grpc-js'))});
const loader = require(${JSON.stringify(require.resolve('@grpc/proto-loader'))});
const fs = require('node:fs');
const crypto = require('node:crypto');
fs.writeFileSync(process.env.PID_FILE, String(process.pid));
const def = loader.loadSync(${JSON.stringify(PROTO_PATH)}, { keepCase: false, longs: Number, enums: Number, defaults: true, oneofs: true });
const sim = grpc.loadPackageDefinition(def).serverless.simulator;
const platform = new sim.Platform(process.env.PLATFORM_ADDRESS, grpc.credentials.createInsecure());
const call = (m, req) => new Promise((res, rej) => platform[m](req, (e, r) => (e ? rej(e) : r.status !== 0 ? rej(new Error(r.errorMessage)) : res(r))));
const slots = new Map();
const server = new grpc.Server();
server.addService(sim.Scaler.service, {
  Assign: async (c, cb) => {
    const m = c.request.metaData;
    try {
      const s = await call('CreateSlot', { requestId: c.request.requestId, resourceConfig: { memoryInMegabytes: m.memoryInMb } });
      const instanceId = crypto.randomUUID();
      await call('Init', { requestId: c.request.requestId, slotId: s.slot.id, instanceId, metaData: m });
      slots.set(instanceId, s.slot.id);
      cb(null, { status: 0, assigment: { requestId: c.request.requestId, metaKey: m.key, instanceId } });
    } catch (e) {
      cb(null, { status: 2, errorMessage: String(e) });
    }
  },
  Idle: (c, cb) => {
    cb(null, { status: 0 });
    const id = c.request.assigment.instanceId;
    const slotId = slots.get(id);
    slots.delete(id);
    if (slotId !== undefined) call('DestroySlot', { requestId: id, id: slotId }).catch(() => {});
  },
});
server.bindAsync(process.env.SCALER_ADDRESS, grpc.ServerCredentials.createInsecure(), (e) => { if (e) { console.error(e); process.exit(1); } });
setTimeout(() => process.exit(9), 60000).unref();
`;

let dir: string;
let scalerScript: string;


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sim-live-run-'));
  scalerScript = join(dir, 'naive-scaler.cjs');
  writeFileSync(scalerScript, NAIVE_SCALER_SRC);
  const data = join(dir, 'tiny');
  mkdirSync(data);
  writeFileSync(
    join(data, 'metas'),
    [
      { key: 'fa', runtime: 'nodejs', memoryInMb: 512, timeoutInSecs: 60, initDurationInMs: 20 },
      { key: 'fb', runtime: 'python', memoryInMb: 2048, timeoutInSecs: 60, initDurationInMs: 5 },
    ]
      .map((m) => JSON.stringify(m))
      .join('\n') + '\n',
  );
  const t = 1_685_000_000_000;
  writeFileSync(
    join(data, 'requests'),
    [
      { startTime: t, metaKey: 'fa', durationsInMs: 40, statusCode: 200 },
      { startTime: t + 50, metaKey: 'fb', durationsInMs: 100, statusCode: 200 },
      { startTime: t + 120, metaKey: 'fa', durationsInMs: 30, statusCode: 408 },
      { startTime: t + 250, metaKey: 'fb', durationsInMs: 60, statusCode: 200 },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('runLive', () => {
  it('spawns the scaler, serves :9000 only during the run, stops the scaler', async () => {
    const scalerPort = await freePort();
    const pidFile = join(dir, 'pid-1');
    let statsPort = 0;
    const seen: ContestStats[] = [];
    const polls: Promise<void>[] = [];
    const printed: string[] = [];
    const result = await runLive({
      dataDir: join(dir, 'tiny'),
      scalerCmd: `exec node ${scalerScript}`,
      scalerEnv: { PID_FILE: pidFile },
      scalerLog: null,
      scalerAddress: `127.0.0.1:${scalerPort}`,
      platformAddress: '127.0.0.1:0',
      statsAddress: '127.0.0.1:0',
      tailMs: 150,
      json: true,
      output: new Writable({
        write(chunk: Buffer, _enc, cb) {
          printed.push(chunk.toString('utf8'));
          cb();
        },
      }),
      onStats: (port) => {
        statsPort = port;
        polls.push(
          fetch(`http://127.0.0.1:${port}/`)
            .then((r) => r.json() as Promise<ContestStats>)
            .then((j) => void seen.push(j)),
        );
      },
    });
    await Promise.all(polls);
    const line = JSON.parse(printed.join('')) as Record<string, unknown>;
    expect(line).toMatchObject({ dataset: 'tiny', totalRequestsCount: 4, failures: {}, leakedSlots: 0, comparable: true });
    expect(line.timeline).toBeUndefined();
    expect(Object.keys(seen[0]).sort()).toEqual(
      [
        'totalRequestsCount',
        'failedRequestsCount',
        'successRate',
        'invocationExecutionTimeInSecs',
        'invocationExecutionTimeInGBs',
        'invocationScheduleTimeInSecs',
        'invocationIdleTimeInSecs',
        'totalSlotTimeInGBs',
        'totalLiveSlotCount',
        'score',
      ].sort(),
    );
    expect(result.failures).toEqual({});
    expect(result.report.totalRequestsCount).toBe(4);
    expect(result.report.failedRequestsCount).toBe(0);
    expect(result.report.invocationExecutionTimeInGBs).toBeCloseTo(0.04 * 0.5 + 0.1 * 2 + 0.03 * 0.5 + 0.06 * 2, 9);
    expect(result.report.slotsCreated).toBe(4);
    expect(result.liveSlotsAtEnd).toBe(0);
    expect(result.leakedSlots).toBe(0);
    expect(result.comparable).toBe(true);
    expect(result.platformCalls.CreateSlot).toEqual({ Ok: 4 });
    // The statistics port is gone once the run is over, and so is the scaler.
    await expect(fetch(`http://127.0.0.1:${statsPort}/`)).rejects.toThrow();
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(false);
    expect(result.scalerExit).toBeDefined();
  }, 20_000);

  it('fails clearly when the scaler exits before listening', async () => {
    const scalerPort = await freePort();
    const err = await runLive({
      dataDir: join(dir, 'tiny'),
      scalerCmd: 'echo boom-from-scaler >&2; exit 3',
      scalerLog: null,
      scalerAddress: `127.0.0.1:${scalerPort}`,
      platformAddress: '127.0.0.1:0',
      statsAddress: '127.0.0.1:0',
      output: null,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LiveRunError);
    expect((err as LiveRunError).code).toBe('SCALER_EXITED');
    expect((err as LiveRunError).message).toMatch(/code 3/);
    expect((err as LiveRunError).message).toMatch(/boom-from-scaler/);
  }, 10_000);

  it('replays the bundled smoke dataset without failures (compressed, short inits)', async () => {
    const scalerPort = await freePort();
    const out: string[] = [];
    const result = await runLive({
      dataDir: SMOKE_DIR,
      scalerCmd: `exec node ${scalerScript}`,
      scalerEnv: { PID_FILE: join(dir, 'pid-smoke') },
      scalerLog: null,
      scalerAddress: `127.0.0.1:${scalerPort}`,
      platformAddress: '127.0.0.1:0',
      statsAddress: null,
      speed: 10,
      tailMs: 500,
      createLatencyMs: 5,
      initDurationMs: () => 5,
      output: new Writable({
        write(chunk: Buffer, _enc, cb) {
          out.push(chunk.toString('utf8'));
          cb();
        },
      }),
    });
    expect(result.failures).toEqual({});
    expect(result.report.totalRequestsCount).toBe(980);
    expect(result.report.slotsCreated).toBe(980);
    expect(result.comparable).toBe(false);
    expect(out.join('')).toMatch(/NOT comparable/);
    expect(out.join('')).toMatch(/requests 980 +failed 0/);
    expect(out.join('')).toMatch(/failures: none/);
  }, 30_000);
});
