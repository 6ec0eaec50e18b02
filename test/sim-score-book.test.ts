import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../src/latency-histogram.js';
import { officialScore, passesSuccessGate, ScoreBook, scoreHalves } from '../src/sim/scoring/score-book.js';

const T0 = 1_685_000_000_000;

function smallRun(): ScoreBook {
  const b = new ScoreBook();
  b.onSlotCreated('s1', 512, T0, 'f1');
  b.onSlotCreated('s2', 1024, T0 + 2000);
  b.onRequest({ metaKey: 'f1', memoryMb: 512, durationMs: 4000, assignLatencyMs: 100, idleLatencyMs: 0.5, failed: false, coldStart: true, atMs: T0 + 100, slotId: 's1' });
  b.onRequest({ metaKey: 'f2', memoryMb: 1024, durationMs: 6000, assignLatencyMs: 1400, idleLatencyMs: 0.5, failed: false, coldStart: true, atMs: T0 + 3400, slotId: 's2' });
  return b;
}

describe('official score', () => {
  it('matches hand-computed halves', () => {
    const h = scoreHalves({ execGBs: 8, slotGBs: 15, execSecs: 10, scheduleSecs: 1.501, successRate: 1 });
    expect(h.resourceHalf).toBeCloseTo((50 * 8) / 15, 10);
    expect(h.latencyHalf).toBeCloseTo((50 * 10) / 11.501, 10);
    expect(h.score).toBeCloseTo(26.666666667 + 43.474480480, 6);
    expect(officialScore({ execGBs: 8, slotGBs: 15, execSecs: 10, scheduleSecs: 1.501, successRate: 1 })).toBeCloseTo(70.141147, 5);
    expect(officialScore({ execGBs: 1, slotGBs: 1, execSecs: 1, scheduleSecs: 0, successRate: 1 })).toBe(100);
  });
  it('gates at 99.95% success', () => {
    expect(passesSuccessGate(9995 / 10000)).toBe(true);
    expect(passesSuccessGate(9994 / 10000)).toBe(false);
    expect(officialScore({ execGBs: 1, slotGBs: 2, execSecs: 1, scheduleSecs: 1, successRate: 0.9994 })).toBe(0);
    expect(officialScore({ execGBs: 1, slotGBs: 2, execSecs: 1, scheduleSecs: 1, successRate: 0.9995 })).toBe(50);
  });
  it('empty totals score 0 without dividing by zero', () => {
    expect(scoreHalves({ execGBs: 0, slotGBs: 0, execSecs: 0, scheduleSecs: 0, successRate: 1 })).toEqual({ resourceHalf: 0, latencyHalf: 0, score: 0 });
  });
});

describe('ScoreBook', () => {
  it('keeps the contest stats with exact field names and live charging', () => {
    const b = smallRun();
    const live = b.liveStats(T0 + 6000);
    expect(Object.keys(live).sort()).toEqual(
      [
        'totalRequestsCount', 'failedRequestsCount', 'successRate', 'invocationExecutionTimeInSecs', 'invocationExecutionTimeInGBs',
        'invocationScheduleTimeInSecs', 'invocationIdleTimeInSecs', 'totalSlotTimeInGBs', 'totalLiveSlotCount', 'score',
      ].sort(),
    );
    expect(live.totalSlotTimeInGBs).toBeCloseTo(6 * 0.5 + 4 * 1, 9);
    expect(live.totalLiveSlotCount).toBe(2);
    expect(live.invocationExecutionTimeInGBs).toBeCloseTo(8, 12);
    expect(b.onSlotDestroyed('s1', T0 + 10_000)).toBe(true);
    expect(b.onSlotDestroyed('s1', T0 + 11_000)).toBe(false);
    expect(b.liveStats(T0 + 10_000).totalSlotTimeInGBs).toBeCloseTo(5 + 8, 9);
  });

  it('finish charges live slots until the end and computes the score', () => {
    const b = smallRun();
    b.onSlotDestroyed('s1', T0 + 10_000);
    const r = b.finish(T0 + 12_000);
    expect(r.totalSlotTimeInGBs).toBeCloseTo(15, 9);
    expect(r.invocationExecutionTimeInSecs).toBeCloseTo(10, 12);
    expect(r.invocationScheduleTimeInSecs).toBeCloseTo(1.501, 12);
    expect(r.invocationIdleTimeInSecs).toBeCloseTo(20 - 10, 9);
    expect(r.resourceHalf).toBeCloseTo((50 * 8) / 15, 9);
    expect(r.latencyHalf).toBeCloseTo((50 * 10) / 11.501, 9);
    expect(r.score).toBeCloseTo(r.resourceHalf + r.latencyHalf, 12);
    expect(r.totalLiveSlotCount).toBe(1);
    expect(r.peakLiveSlots).toBe(2);
    expect(r.coldStarts).toBe(2);
    expect(r.successRate).toBe(1);
    const f1 = r.functions.find((f) => f.metaKey === 'f1');
    const f2 = r.functions.find((f) => f.metaKey === 'f2');
    expect(f1).toMatchObject({ requests: 1, coldStarts: 1, slots: 1, memoryMb: 512 });
    expect(f1?.slotGBs).toBeCloseTo(5, 9);
    expect(f1?.idleGBs).toBeCloseTo(3, 9);
    expect(f1?.meanAssignMs).toBeCloseTo(100, 9);
    expect(f2?.slotGBs).toBeCloseTo(10, 9); // bound through the request's slotId
    expect(r.functions[0].metaKey).toBe('f2'); // sorted by slot cost
    // Frozen after finish.
    b.onRequest({ metaKey: 'f1', memoryMb: 512, durationMs: 1, assignLatencyMs: 1, idleLatencyMs: 1, failed: true });
    expect(b.finish(T0 + 99_000)).toBe(r);
  });

  it('zeroes the score below 99.95% success', () => {
    for (const [failed, gated] of [[5, false], [6, true]] as const) {
      const b = new ScoreBook();
      b.onSlotCreated('s', 1024, 0);
      for (let i = 0; i < 10_000; i++) {
        b.onRequest({ metaKey: 'f', memoryMb: 1024, durationMs: 10, assignLatencyMs: 1, idleLatencyMs: 0, failed: i < failed });
      }
      const r = b.finish(1000);
      expect(r.failedRequestsCount).toBe(failed);
      expect(r.score === 0).toBe(gated);
      expect(r.resourceHalf).toBeGreaterThan(0);
    }
  });

  it('keeps the time series bounded and exact over a long run', () => {
    const b = new ScoreBook({ originMs: 0 });
    const hours = 10;
    // One 128 MB slot per minute living 90 s, each running one 30 s request.
    for (let m = 0; m < hours * 60; m++) {
      const t = m * 60_000;
      b.onSlotCreated(`s${m}`, 128, t);
      b.onRequest({ metaKey: 'f', memoryMb: 128, durationMs: 30_000, assignLatencyMs: 0, idleLatencyMs: 0, failed: false, coldStart: true, atMs: t, slotId: `s${m}` });
      if (m > 0) b.onSlotDestroyed(`s${m - 1}`, t + 30_000);
    }
    const end = hours * 3_600_000;
    const r = b.finish(end);
    const pts = r.timeline.points;
    expect(pts.length).toBeLessThanOrEqual(2000);
    expect(pts.length).toBeGreaterThan(500);
    const span = (i: number): number => Math.min(r.timeline.bucketMs, end - pts[i].tMs);
    const slotSecs = pts.reduce((s, p, i) => s + (p.liveSlots * span(i)) / 1000, 0);
    expect(slotSecs).toBeCloseTo(r.slotTimeInSecs, 3);
    const busySecs = pts.reduce((s, p, i) => s + (p.busyInstances * span(i)) / 1000, 0);
    expect(busySecs).toBeCloseTo(r.invocationExecutionTimeInSecs, 3);
    expect(pts.reduce((s, p) => s + p.coldStarts, 0)).toBe(hours * 60);
    expect(Math.max(...pts.map((p) => p.maxLiveSlots))).toBe(2);
    expect(Math.min(...pts.map((p) => p.maxLiveSlots))).toBe(1);
    expect(r.peakLiveSlots).toBe(2);
  });
});

describe('LatencyHistogram', () => {
  it('gives percentiles within 1% over a million samples, cheaply', () => {
    const h = new LatencyHistogram();
    const t = performance.now();
    for (let i = 1; i <= 1_000_000; i++) h.record(i / 1000);
    expect(performance.now() - t).toBeLessThan(2000);
    expect(h.count).toBe(1_000_000);
    expect(h.quantile(0.5)).toBeGreaterThan(500 * 0.99);
    expect(h.quantile(0.5)).toBeLessThan(500 * 1.01);
    expect(h.quantile(0.99)).toBeGreaterThan(990 * 0.99);
    expect(h.quantile(0.99)).toBeLessThan(990 * 1.01);
    expect(h.max).toBe(1000);
    expect(h.mean).toBeCloseTo(500.0005, 6);
    const z = new LatencyHistogram();
    z.record(0);
    z.record(0);
    expect(z.quantile(0.99)).toBe(0);
  });
});
