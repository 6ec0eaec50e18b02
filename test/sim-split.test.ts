/**
 * The cost split (src/sim/scoring/cost-split.ts): a constructed run classified by hand, the
 * parts adding up to the totals in the virtual engine, and the engine's per-call floor.
 */
import { describe, expect, it } from 'vitest';
import { FixedKeepAlivePolicy } from '../src/core/policies/fixed-keep-alive.js';
import { createPolicy } from '../src/core/policies/policy-registry.js';
import { RequestClass, type CostSplit } from '../src/sim/scoring/cost-split.js';
import { ScoreBook, type ScoreReport } from '../src/sim/scoring/score-book.js';
import { generateDataset } from '../src/sim/generator/workload-generator.js';
import { memorySource, runVirtual } from '../src/sim/virtual/virtual-engine.js';
import { NO_CALL_OVERHEAD, parseCallOverhead, CallOverheadError } from '../src/sim/virtual/call-overhead.js';
import type { MetaRecord, RequestRecord } from '../src/sim/contest/dataset-types.js';

const GB = 1024;

/** Every part adds up to its total, in seconds and in points. */
function expectAddsUp(report: ScoreReport): void {
  const { latency: l, resource: r } = report.split;
  expect(l.scheduleSecs).toBeCloseTo(report.invocationScheduleTimeInSecs, 9);
  expect(l.execSecs).toBeCloseTo(report.invocationExecutionTimeInSecs, 9);
  expect(l.overheadSecs + l.busyWaitSecs + l.coldStartSecs + l.failedSecs + l.unclassifiedSecs).toBeCloseTo(l.scheduleSecs, 9);
  expect(l.hitAssignSecs + l.idleCallSecs).toBeCloseTo(l.overheadSecs, 9);
  expect(l.hits + l.busyWaits + l.coldStarts + l.failed + l.unclassified).toBe(report.totalRequestsCount);
  const p = l.pointsLost;
  expect(p.overhead + p.busyWait + p.coldStart + p.failed).toBeCloseTo(50 - report.latencyHalf, 9);
  expect(r.slotGBs).toBeCloseTo(report.totalSlotTimeInGBs, 6);
  expect(r.usefulGBs + r.idleKeepGBs + r.keptAfterLastGBs + r.coldStartGBs + r.prewarmGBs + r.hedgeGBs + r.failedStartGBs).toBeCloseTo(r.slotGBs, 9);
  const q = r.pointsLost;
  expect(q.idleKeep + q.keptAfterLast + q.coldStart + q.prewarm + q.hedge + q.failedStart + (50 * r.usefulGBs) / r.slotGBs).toBeCloseTo(50, 9);
  for (const v of [r.idleKeepGBs, r.keptAfterLastGBs, r.coldStartGBs, r.prewarmGBs, r.hedgeGBs, l.overheadSecs, l.busyWaitSecs, l.coldStartSecs]) expect(v).toBeGreaterThanOrEqual(0);
}

describe('cost split: a constructed run, classified by hand', () => {
  // One 1 GB function; the platform's CreateSlot takes 100 ms (a slot created at C began at C - 100).
  const book = new ScoreBook({ originMs: 0, createLatencyMs: 100 });
  const classes: Record<string, RequestClass> = {};
  /** A request sent at `sent`, executing on `slot` from `start` for `dur`, its Idle taking 1 ms. */
  const serve = (id: string, slot: string, sent: number, start: number, dur: number): void => {
    classes[id] = book.onExecutionStart(slot, 'f', sent, start, dur);
  };
  const done = (id: string, sent: number, start: number, dur: number): void => {
    book.onRequest({ metaKey: 'f', memoryMb: GB, durationMs: dur, assignLatencyMs: start - sent, idleLatencyMs: 1, failed: false, atMs: start, requestClass: classes[id] });
  };
  // s1 is started for r1 (CreateSlot at 0, the request sent at 0): a cold start.
  book.onSlotCreated('s1', GB, 100);
  book.onSlotBound('s1', 'f', 150);
  serve('r1', 's1', 0, 151, 100);
  done('r1', 0, 151, 100);
  // r2 finds s1 idle (since 251): a hit; 50 ms of idle keep before it.
  serve('r2', 's1', 300, 301, 100);
  // r3 comes while r2 runs on s1 (until 401): waits behind a busy instance.
  serve('r3', 's1', 350, 402, 100);
  done('r2', 300, 301, 100);
  done('r3', 350, 402, 100);
  // s2 is started at 900 while nobody waits: a pre-warm, until r4 uses it at 2001.
  book.onSlotCreated('s2', GB, 1000);
  book.onSlotBound('s2', 'f', 1050);
  book.onSlotDestroyed('s1', 1502); // 1000 ms kept after its last request
  serve('r4', 's2', 2000, 2001, 100);
  done('r4', 2000, 2001, 100);
  serve('r6', 's2', 2990, 2991, 49); // a hit
  // r5 comes while r6 runs: a wait; s3 is started for it (3001) but r5 is served by s2: a hedge.
  serve('r5', 's2', 3000, 3041, 100);
  book.onSlotCreated('s3', GB, 3101);
  done('r6', 2990, 2991, 49);
  book.onSlotBound('s3', 'f', 3150);
  done('r5', 3000, 3041, 100);
  book.onSlotDestroyed('s3', 3401);
  // s4 never gets a ready instance.
  book.onSlotCreated('s4', GB, 4000);
  book.onSlotDestroyed('s4', 4100);
  const report = book.finish(5000); // s2 kept from its last request (3141) to the end
  const { latency: l, resource: r } = report.split;

  it('classifies each request: a cold start, hits, waits', () => {
    expect(classes).toEqual({
      r1: RequestClass.ColdStart,
      r2: RequestClass.Hit,
      r3: RequestClass.BusyWait,
      r4: RequestClass.Hit,
      r6: RequestClass.Hit,
      r5: RequestClass.BusyWait,
    });
    expect([l.hits, l.busyWaits, l.coldStarts, l.failed, l.unclassified]).toEqual([3, 2, 1, 0, 0]);
    expect(l.hitAssignSecs).toBeCloseTo(0.003, 12);
    expect(l.idleCallSecs).toBeCloseTo(0.006, 12);
    expect(l.overheadSecs).toBeCloseTo(0.009, 12);
    expect(l.busyWaitSecs).toBeCloseTo(0.052 + 0.041, 12);
    expect(l.coldStartSecs).toBeCloseTo(0.151, 12);
    expect(l.hitAssignMeanMs).toBeCloseTo(1, 12);
    expect(l.idleCallMeanMs).toBeCloseTo(1, 12);
  });

  it('charges each slot second to useful work, idle keep, kept after last, cold start, pre-warm, hedge, failed start', () => {
    // s1: 51 cold-start startup, 300 useful, 50 + 1 idle keep, 1000 after its last request.
    // s2: 1001 pre-warm, 249 useful, 890 + 1 idle keep, 1859 after its last. s3: 300 hedge. s4: 100 failed.
    expect(r.coldStartGBs).toBeCloseTo(0.051, 12);
    expect(r.usefulGBs).toBeCloseTo(0.549, 12);
    expect(r.idleKeepGBs).toBeCloseTo(0.051 + 0.891, 12);
    expect(r.keptAfterLastGBs).toBeCloseTo(1.0 + 1.859, 12);
    expect(r.prewarmGBs).toBeCloseTo(1.001, 12);
    expect(r.hedgeGBs).toBeCloseTo(0.3, 12);
    expect(r.failedStartGBs).toBeCloseTo(0.1, 12);
    expect(r.slots).toEqual({ coldStart: 1, prewarm: 1, hedge: 1, failedStart: 1 });
    expect(r.usefulGBs).toBeCloseTo(report.invocationExecutionTimeInGBs, 12);
  });

  it('adds up to the totals, in seconds and in points', () => {
    expectAddsUp(report);
    expect(r.slotGBs).toBeCloseTo(5.802, 9);
    expect(r.pointsLost.hedge).toBeCloseTo((50 * 0.3) / 5.802, 9);
    expect(l.pointsLost.coldStart).toBeCloseTo((50 * 0.151) / (0.549 + 0.253), 9);
  });

  it('a slot started while a request waited is a pre-warm, not a hedge, when no wait covers its start', () => {
    const b = new ScoreBook({ originMs: 0, createLatencyMs: 100 });
    b.onSlotCreated('a', GB, 100);
    b.onSlotBound('a', 'f', 110);
    const c = b.onExecutionStart('a', 'f', 0, 111, 10); // cold, waited [0, 111)
    b.onRequest({ metaKey: 'f', memoryMb: GB, durationMs: 10, assignLatencyMs: 111, idleLatencyMs: 0, failed: false, requestClass: c });
    b.onSlotCreated('late', GB, 400); // started at 300: nobody waiting
    b.onSlotCreated('during', GB, 150); // started at 50: r waited
    b.onSlotBound('late', 'f', 410);
    b.onSlotBound('during', 'f', 160);
    const s = b.finish(1000).split.resource;
    expect(s.slots).toEqual({ coldStart: 1, prewarm: 1, hedge: 1, failedStart: 0 });
    expect(s.prewarmGBs).toBeCloseTo(0.6, 12);
    expect(s.hedgeGBs).toBeCloseTo(0.85, 12);
  });
});

describe('cost split in the virtual engine', () => {
  const ds = generateDataset({ seed: 5, durationSec: 240, functions: 16, pattern: ['poisson', 'bursty', 'periodic'] });

  for (const policy of ['adaptive', 'fixed-5m', 'fixed']) {
    it(`adds up to the totals (${policy})`, () => {
      const r = runVirtual({ source: memorySource('mix', ds.metas, ds.requests), policy: createPolicy(policy), tailMs: 30_000 });
      expectAddsUp(r.report);
      const l = r.report.split.latency;
      expect(l.hits).toBeGreaterThan(0);
      expect(l.coldStarts).toBeGreaterThan(0);
      expect(l.failed + l.unclassified).toBe(0);
      expect(r.report.split.resource.usefulGBs).toBeCloseTo(r.report.invocationExecutionTimeInGBs, 6);
    });
  }

  it('charges the per-call floor to every hit and every Idle, and nothing with --call-overhead 0', () => {
    const run = (o = parseCallOverhead('1.25,0.75')): CostSplit =>
      runVirtual({ source: memorySource('mix', ds.metas, ds.requests), policy: createPolicy('fixed-5m'), tailMs: 0, callOverhead: o }).report.split;
    const s = run();
    expect(s.latency.hitAssignMeanMs).toBeCloseTo(1.25, 9);
    expect(s.latency.idleCallMeanMs).toBeCloseTo(0.75, 9);
    const free = run(NO_CALL_OVERHEAD);
    expect(free.latency.overheadSecs).toBe(0);
    expect(free.latency.scheduleSecs).toBeLessThan(s.latency.scheduleSecs);
  });

  it('shifts executions by the floor as the live simulator sees them', () => {
    // Init 10 ms, fixed keep-alive; Assign costs 2 ms, Idle 4 ms. A arrives at 0 and cold-starts:
    // slot at 100.5, ready at 111, answered at 111 (latency 113); it executes from 112 to 212,
    // and the scaler learns of its release at 214 (half an Idle later). B, sent at 211 while A
    // runs, is answered at 214 (latency 5) and is a wait; C, at 1000, is a hit (latency 2).
    const metas: MetaRecord[] = [{ key: 'k', runtime: 'go', memoryInMb: GB, timeoutInSecs: 60, initDurationInMs: 10 }];
    const at = (t: number): RequestRecord => ({ startTime: 1_000_000 + t, metaKey: 'k', durationsInMs: 100, statusCode: 200 });
    const r = runVirtual({
      source: memorySource('shift', metas, [at(0), at(211), at(1000)]),
      policy: new FixedKeepAlivePolicy(60_000),
      tailMs: 0,
      callOverhead: { assignMs: 2, idleMs: 4 },
      bound: false,
    }).report;
    expect(r.assignLatencyMs.max).toBeCloseTo(113, 6);
    expect(r.invocationScheduleTimeInSecs).toBeCloseTo((113 + 5 + 2 + 3 * 4) / 1000, 9);
    const l = r.split.latency;
    expect([l.coldStarts, l.busyWaits, l.hits]).toEqual([1, 1, 1]);
    expect(l.coldStartSecs).toBeCloseTo(0.113, 9);
    expect(l.busyWaitSecs).toBeCloseTo(0.005, 9);
    // Slot 1: created at 100.5, executes A [112, 212) and B [215, 315), kept until the end (C's
    // release, 1103). B's wait started slot 2 (CreateSlot at 211.5, created at 311.5), which B
    // did not need: a hedge until C, the most recent idle instance's next request, uses it at 1001.
    const s = r.split.resource;
    expect(s.coldStartGBs).toBeCloseTo((112 - 100.5) / 1000, 9);
    expect(s.idleKeepGBs).toBeCloseTo(3 / 1000, 9);
    expect(s.hedgeGBs).toBeCloseTo((1001 - 311.5) / 1000, 9);
    expect(s.keptAfterLastGBs).toBeCloseTo((1103 - 315 + 1103 - 1101) / 1000, 9);
    expect(s.slots).toEqual({ coldStart: 1, prewarm: 0, hedge: 1, failedStart: 0 });
    expectAddsUp(r);
  });

  it('refuses a malformed floor', () => {
    expect(parseCallOverhead('0')).toEqual({ assignMs: 0, idleMs: 0 });
    expect(parseCallOverhead('1.5')).toEqual({ assignMs: 1.5, idleMs: 1.5 });
    for (const bad of ['', '-1', 'x', '1,2,3', '1,', 'NaN', 'Infinity']) expect(() => parseCallOverhead(bad)).toThrow(CallOverheadError);
  });
});
