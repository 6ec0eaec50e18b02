import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { startNoopScaler, type NoopScalerServer } from '../src/load/noop-scaler-server.js';
import { RawH2Client } from '../src/load/raw-h2-client.js';
import { GrpcJsClient } from '../src/load/grpc-js-client.js';
import { KeyPopulation } from '../src/load/key-population.js';
import { runLoad, LoadRunError } from '../src/load/load-runner.js';

const hot = (): KeyPopulation => new KeyPopulation({ distribution: 'hot' });

describe('load runner', () => {
  let noop: NoopScalerServer;
  beforeAll(async () => {
    noop = await startNoopScaler({ host: '127.0.0.1' });
  });
  afterAll(async () => {
    await noop.close();
  });

  it.each([
    ['raw', (t: string) => new RawH2Client({ target: t })],
    ['grpc-js', (t: string) => new GrpcJsClient({ target: t })],
  ])('closed loop with %s sends exactly `count` pairs', { timeout: 20_000 }, async (_n, make) => {
    const client = make(`127.0.0.1:${noop.port}`);
    const before = { ...noop.counts };
    const r = await runLoad({ client, population: hot(), mode: 'closed', concurrency: 8, count: 500, pid: process.pid });
    client.close();
    expect(noop.counts.assign - before.assign).toBe(500);
    expect(noop.counts.idle - before.idle).toBe(500);
    expect(r.pairsStarted).toBe(500);
    expect(r.pairsCompleted).toBe(500);
    expect(r.pairsOk).toBe(500);
    expect(r.errorCount).toBe(0);
    expect(r.assign.count).toBe(500);
    expect(r.idle.count).toBe(500);
    expect(r.pair.count).toBe(500);
    expect(r.pairsPerSec).toBeGreaterThan(0);
    expect(r.pair.p50Ms).toBeGreaterThanOrEqual(r.assign.p50Ms);
    expect(r.target?.pid).toBe(process.pid);
    expect(r.target!.maxRssMb).toBeGreaterThan(10);
    expect(r.target!.cpuMs).toBeGreaterThanOrEqual(0);
  });

  it('closed loop bounded by duration stops and drains', { timeout: 20_000 }, async () => {
    const client = new RawH2Client({ target: `127.0.0.1:${noop.port}` });
    const before = noop.counts.assign;
    const t0 = performance.now();
    const r = await runLoad({ client, population: hot(), mode: 'closed', concurrency: 4, durationMs: 300, holdMs: 50 });
    const wall = performance.now() - t0;
    client.close();
    expect(wall).toBeGreaterThanOrEqual(300);
    expect(wall).toBeLessThan(2000);
    expect(r.pairsOk).toBe(r.pairsStarted);
    expect(noop.counts.assign - before).toBe(r.pairsStarted);
    // 4 callers, each pair holds >= 50 ms: at most 4 * 300/50 pairs (+ the last round).
    expect(r.pairsStarted).toBeGreaterThanOrEqual(4);
    expect(r.pairsStarted).toBeLessThanOrEqual(4 * (300 / 50 + 1));
    // The hold is not part of the pair latency (a loopback no-op pair takes far less than 40 ms).
    expect(r.pair.p50Ms).toBeLessThan(40);
  });

  it('counts errors by call and status', { timeout: 20_000 }, async () => {
    const bad = await startNoopScaler({ host: '127.0.0.1', idleGrpcError: grpc.status.NOT_FOUND });
    const throttle = await startNoopScaler({ host: '127.0.0.1', assignStatus: 1 });
    try {
      const c1 = new RawH2Client({ target: `127.0.0.1:${bad.port}` });
      const r1 = await runLoad({ client: c1, population: hot(), mode: 'closed', concurrency: 2, count: 20 });
      c1.close();
      expect(r1.errors).toEqual({ 'Idle grpc:NOT_FOUND': 20 });
      expect(r1.pairsOk).toBe(0);
      expect(r1.pairsCompleted).toBe(20);
      const c2 = new RawH2Client({ target: `127.0.0.1:${throttle.port}` });
      const r2 = await runLoad({ client: c2, population: hot(), mode: 'closed', concurrency: 2, count: 10 });
      c2.close();
      expect(r2.errors).toEqual({ 'Assign scaler:Throttle': 10 });
      expect(throttle.counts.idle).toBe(0);
    } finally {
      await Promise.all([bad.close(), throttle.close()]);
    }
  });

  it('open loop sends at the configured rate', { timeout: 20_000 }, async () => {
    const client = new RawH2Client({ target: `127.0.0.1:${noop.port}` });
    const r = await runLoad({ client, population: hot(), mode: 'open', ratePerSec: 500, durationMs: 1000 });
    client.close();
    expect(r.pairsStarted).toBeGreaterThanOrEqual(495);
    expect(r.pairsStarted).toBeLessThanOrEqual(501);
    expect(r.pairsOk).toBe(r.pairsStarted);
    expect(r.sendLag.count).toBe(r.pairsStarted);
  });

  it('open loop latency includes queueing when the server is over capacity', { timeout: 20_000 }, async () => {
    // One Assign at a time, 50 ms each: capacity 20/s; offered 40/s for 1 s.
    const slow = await startNoopScaler({ host: '127.0.0.1', assignDelayMs: 50, serialAssign: true });
    try {
      const client = new RawH2Client({ target: `127.0.0.1:${slow.port}` });
      const r = await runLoad({ client, population: hot(), mode: 'open', ratePerSec: 40, durationMs: 1000 });
      client.close();
      expect(r.pairsOk).toBe(40);
      // Service time alone is 50 ms; the backlog makes the later requests wait ~1 s more.
      expect(r.assign.p50Ms).toBeGreaterThan(300);
      expect(r.assign.maxMs).toBeGreaterThan(800);
      // Arrivals themselves left on time: the delay is the server's queue.
      expect(r.sendLag.p99Ms).toBeLessThan(50);
    } finally {
      await slow.close();
    }
  });

  it('open loop latency counts from the intended send time when the generator stalls', { timeout: 20_000 }, async () => {
    const client = new RawH2Client({ target: `127.0.0.1:${noop.port}` });
    // Block this event loop for 200 ms in the middle of the run: arrivals due meanwhile go out late.
    setTimeout(() => {
      const end = performance.now() + 200;
      while (performance.now() < end);
    }, 300).unref();
    const r = await runLoad({ client, population: hot(), mode: 'open', ratePerSec: 200, durationMs: 800 });
    client.close();
    expect(r.pairsOk).toBe(r.pairsStarted);
    expect(r.assign.maxMs).toBeGreaterThan(150);
    expect(r.sendLag.maxMs).toBeGreaterThan(150);
    // ~40 of ~160 arrivals fell in the stall, so the p90 is well above a loopback round trip.
    expect(r.assign.p90Ms).toBeGreaterThan(20);
  });

  it('rejects runs without a bound', () => {
    const client = new RawH2Client({ target: '127.0.0.1:1' });
    expect(() => runLoad({ client, population: hot(), mode: 'closed' })).toThrow(LoadRunError);
    expect(() => runLoad({ client, population: hot(), mode: 'open', count: 1 })).toThrow(LoadRunError);
    client.close();
  });
});
