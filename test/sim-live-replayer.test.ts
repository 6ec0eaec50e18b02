/**
 * Replayer against tiny in-test scalers over real gRPC: open-loop dispatch at trace offsets,
 * assignment validation against the platform ledger, failure reasons, costs and the tail.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PlatformServer } from '../src/sim/live/platform-server.js';
import { Replayer } from '../src/sim/live/replayer.js';
import type { ReplayResult, ReplayerOptions } from '../src/sim/live/replayer.js';
import { ScoreBook } from '../src/sim/scoring/score-book.js';
import type { MetaRecord, RequestRecord } from '../src/sim/contest/dataset-types.js';
import { meta, metaMap, req, startTestScaler } from './sim-live-fixtures.js';
import type { ScalerBehaviour, TestScaler } from './sim-live-fixtures.js';

const A = meta('fn-a', 512, 30);
const B = meta('fn-b', 1024, 10);
const METAS = metaMap(A, B);
const TAIL_MS = 60;

let platform: PlatformServer | undefined;
let scaler: TestScaler | undefined;

afterEach(async () => {
  await scaler?.close();
  scaler = undefined;
  await platform?.close();
  platform = undefined;
});

interface Run {
  result: ReplayResult;
  platform: PlatformServer;
  scaler: TestScaler;
  book: ScoreBook;
}

async function replay(
  behaviour: ScalerBehaviour,
  requests: RequestRecord[] | AsyncIterable<RequestRecord>,
  extra: Partial<ReplayerOptions> = {},
  metas: Map<string, MetaRecord> = METAS,
): Promise<Run> {
  const book = new ScoreBook();
  platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 20, metas, scoreBook: book });
  await platform.start();
  scaler = await startTestScaler(behaviour, platform.target);
  const replayer = new Replayer({
    requests,
    metas,
    scalerAddress: scaler.target,
    platform,
    scoreBook: book,
    tailMs: TAIL_MS,
    requestIdPrefix: 'r',
    ...extra,
  });
  const result = await replayer.run();
  return { result, platform, scaler, book };
}

describe('Replayer', () => {
  it('a naive cold-start-per-request scaler has zero failures and is charged exactly', async () => {
    const trace = [
      req(0, 'fn-a', 50),
      req(10, 'fn-a', 80),
      req(20, 'fn-b', 40),
      req(60, 'fn-a', 30, 500),
      req(100, 'fn-b', 20),
      req(150, 'fn-a', 60),
      req(150, 'fn-a', 60),
      req(200, 'fn-b', 10),
      req(250, 'fn-a', 40),
      req(300, 'fn-b', 30),
    ];
    const { result, platform: p } = await replay('naive', trace);
    expect(result.failures).toEqual({});
    expect(result.requests).toBe(10);
    expect(result.slowIdles).toBe(0);
    expect(result.comparable).toBe(true);
    const r = result.report;
    expect(r.totalRequestsCount).toBe(10);
    expect(r.failedRequestsCount).toBe(0);
    expect(r.successRate).toBe(1);
    expect(r.slotsCreated).toBe(10);
    expect(result.coldStarts).toBe(10);
    // Trace durations, not measured sleeps, are the useful work.
    const execMs = trace.reduce((s, q) => s + q.durationsInMs, 0);
    expect(r.invocationExecutionTimeInSecs).toBeCloseTo(execMs / 1000, 9);
    const execGBs = trace.reduce((s, q) => s + (q.durationsInMs / 1000) * ((q.metaKey === 'fn-a' ? 512 : 1024) / 1024), 0);
    expect(r.invocationExecutionTimeInGBs).toBeCloseTo(execGBs, 9);
    // Every Assign waited for create (20 ms) + init (>= 10 ms): schedule time reflects it.
    expect(r.invocationScheduleTimeInSecs).toBeGreaterThan(10 * 0.03 - 0.01);
    expect(r.assignLatencyMs.p50).toBeGreaterThanOrEqual(28);
    // Slots lived at least init + execution each; all destroyed by the end of the tail.
    expect(r.totalSlotTimeInGBs).toBeGreaterThan(execGBs);
    expect(p.liveSlotCount).toBe(0);
    expect(p.leakCheck().liveSlotIds).toEqual([]);
    expect(r.score).toBeGreaterThan(0);
    expect(result.endedAtMs - result.lastIdleAtMs).toBeGreaterThanOrEqual(TAIL_MS - 2);
    // The 500 request broke its instance.
    expect([...p.instances.values()].filter((i) => i.broken)).toHaveLength(1);
  });

  it('dispatches open loop at trace offsets, whatever earlier requests are doing', async () => {
    // The first Assign blocks ~1 s (create 20 + init 1000); the others must not wait for it.
    const slow = meta('slow', 256, 1_000);
    const metas = metaMap(slow, A);
    const trace = [req(0, 'slow', 10), req(100, 'fn-a', 10), req(200, 'fn-a', 10), req(300, 'fn-a', 10)];
    const { result, scaler: s } = await replay('naive', trace, {}, metas);
    expect(result.failures).toEqual({});
    const t0 = s.arrivals.get('r0') as number;
    for (let i = 1; i < 4; i++) {
      const offset = (s.arrivals.get(`r${i}`) as number) - t0;
      expect(offset).toBeGreaterThanOrEqual(i * 100 - 5);
      // Generous for a loaded machine, yet far below the 1 s a closed loop would impose.
      expect(offset).toBeLessThan(i * 100 + 250);
    }
    expect(result.report.assignLatencyMs.max).toBeGreaterThanOrEqual(1_000);
  });

  it('compresses time with speed and flags the result as not comparable', async () => {
    const trace = [req(0, 'fn-b', 10), req(400, 'fn-b', 10)];
    const { result, scaler: s } = await replay('naive', trace, { speed: 4 });
    expect(result.speed).toBe(4);
    expect(result.comparable).toBe(false);
    // 400 ms of trace at speed 4 is 100 ms of wall time: far from 400 (uncompressed) and from 0.
    // A late first dispatch on a loaded machine shortens the gap, so the lower bound has slack.
    const gap = (s.arrivals.get('r1') as number) - (s.arrivals.get('r0') as number);
    expect(gap).toBeGreaterThanOrEqual(60);
    expect(gap).toBeLessThan(250);
  });

  it('counts a second concurrent request on a busy instance as instance-busy', async () => {
    // Both requests of fn-a overlap; the buggy scaler hands the same instance to both.
    const trace = [req(0, 'fn-a', 200), req(120, 'fn-a', 100), req(400, 'fn-a', 20)];
    const { result, platform: p } = await replay('share-one', trace);
    expect(result.failures).toEqual({ 'instance-busy': 1 });
    expect(result.report.failedRequestsCount).toBe(1);
    expect(result.report.successRate).toBeCloseTo(2 / 3, 9);
    // Below the 99.95 % gate, the score is 0.
    expect(result.report.score).toBe(0);
    // The failed request did not run: only the two valid executions count as useful work.
    expect(result.report.invocationExecutionTimeInSecs).toBeCloseTo(0.22, 9);
    // Reused sequentially afterwards without failing, and freed at the end.
    const insts = [...p.instances.values()];
    expect(insts).toHaveLength(1);
    expect(insts[0].busyRequestId).toBeUndefined();
    // The scaler kept its slot: live at the end, charged through the tail, not an orphan.
    expect(p.leakCheck()).toEqual({ liveSlotIds: [insts[0].slotId], leakedSlotIds: [] });
  });

  it('counts reuse of an instance broken by a non-200 request as instance-broken', async () => {
    const trace = [req(0, 'fn-a', 30, 500), req(150, 'fn-a', 30), req(300, 'fn-b', 10)];
    const { result, platform: p } = await replay('reuse-broken', trace);
    expect(result.failures).toEqual({ 'instance-broken': 1 });
    expect(result.failedRequests).toBe(1);
    const broken = [...p.instances.values()].find((i) => i.metaKey === 'fn-a');
    expect(broken?.broken).toBe(true);
    // Never destroyed although Idle said needDestroy: a leak.
    expect(p.leakCheck().leakedSlotIds).toEqual([broken?.slotId]);
  });

  it('counts non-Ok statuses and gRPC errors of Assign by reason', async () => {
    const trace = [req(0, 'fn-a', 10), req(20, 'fn-b', 10)];
    const throttled = await replay('throttle', trace);
    expect(throttled.result.failures).toEqual({ 'assign-status-Throttle': 2 });
    expect(throttled.result.report.invocationExecutionTimeInSecs).toBe(0);
    await scaler?.close();
    await platform?.close();
    const broken = await replay('grpc-error', trace);
    expect(broken.result.failures).toEqual({ 'assign-rpc-error-UNAVAILABLE': 2 });
  });

  it('reads the trace as a stream, bounded by the look-ahead window', async () => {
    const pulled: number[] = [];
    const startedAt = performance.now();
    async function* gen(): AsyncGenerator<RequestRecord> {
      for (let i = 0; i < 6; i++) {
        pulled.push(performance.now() - startedAt);
        yield req(i * 100, 'fn-b', 5);
      }
    }
    const { result } = await replay('naive', gen(), { lookAheadMs: 100 });
    expect(result.failures).toEqual({});
    expect(result.requests).toBe(6);
    // With a 100 ms window the last record (at 500 ms) cannot have been read at the start.
    expect(pulled[5]).toBeGreaterThan(300);
  });
});
