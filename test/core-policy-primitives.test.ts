import { describe, expect, it } from 'vitest';
import { KEEP_WINDOWS_MS, KeepAliveShadows } from '../src/core/policies/adaptive/keep-alive-shadows.js';
import { PriceTracker, PRICE_REFRESH_MS } from '../src/core/price-tracker.js';
import { RecentGaps, RECENT_GAPS } from '../src/core/policies/adaptive/recent-gaps.js';
import { scorePrices } from '../src/core/score-prices.js';
import { AdaptivePolicy } from '../src/core/policies/adaptive/adaptive-policy.js';
import { FunctionStats } from '../src/core/function-stats.js';
import type { InstanceView, PoolView } from '../src/core/policy.js';

describe('scorePrices', () => {
  it('prices memory by the square of the resource ratio and latency by the square of the latency ratio', () => {
    const big = { execGBs: 1_000, slotGBs: 2_000, execSecs: 2_000, scheduleSecs: 100 };
    const p = scorePrices(big);
    // Away from the prior, dScore/dS = 50 E / S^2 and dScore/dD = 50 T / (T + D)^2.
    expect(p.perGBs).toBeCloseTo((50 * 1_030) / 2_060 ** 2, 6);
    const t = 2_060;
    const d = 100 + (60 * 0.1) / 0.9;
    expect(p.perLatencySec).toBeCloseTo((50 * t) / (t + d) ** 2, 6);
  });

  it('floors the ratios, so a poor half does not make its resource look free', () => {
    const wasteful = { execGBs: 100, slotGBs: 100_000, execSecs: 1_000, scheduleSecs: 10 };
    const free = scorePrices(wasteful);
    const floored = scorePrices(wasteful, 0.3);
    expect(floored.perGBs).toBeGreaterThan(free.perGBs * 100);
    expect(floored.perLatencySec).toBe(free.perLatencySec);
  });
});

describe('PriceTracker', () => {
  it('reads the totals at most once per refresh interval', () => {
    let now = 0;
    let reads = 0;
    const tracker = new PriceTracker(
      () => {
        reads++;
        return { execGBs: now, slotGBs: 2 * now, execSecs: now, scheduleSecs: 0 };
      },
      () => now,
    );
    tracker.prices();
    tracker.prices();
    now = PRICE_REFRESH_MS - 1;
    tracker.prices();
    expect(reads).toBe(1);
    now = PRICE_REFRESH_MS;
    tracker.prices();
    expect(reads).toBe(2);
  });
});

describe('RecentGaps', () => {
  it('keeps the last RECENT_GAPS gaps exactly, sorted on demand', () => {
    const g = new RecentGaps();
    for (let i = 0; i < RECENT_GAPS + 4; i++) g.record(1_000 + ((i * 7) % 11));
    expect(g.size).toBe(RECENT_GAPS);
    const s = Array.from(g.sorted());
    expect(s).toEqual([...s].sort((a, b) => a - b));
    expect(s.length).toBe(RECENT_GAPS);
  });
});

describe('KeepAliveShadows', () => {
  const memRate = 1;

  it('keeps a function whose requests return every 3 s when a cold start costs more than idling', () => {
    const sh = new KeepAliveShadows();
    for (let t = 0; t < 300_000; t += 3_000) {
      sh.arrive(t);
      sh.release(t + 100);
    }
    const w = sh.bestWindowMs(300_000, 10, memRate);
    expect(w).toBeGreaterThanOrEqual(3_000);
    expect(w).toBeLessThan(60_000);
  });

  it('releases at once when every request is a one-off far from the next', () => {
    const sh = new KeepAliveShadows();
    for (let t = 0; t < 100 * 3_600_000; t += 3_600_000) {
      sh.arrive(t);
      sh.release(t + 100);
    }
    expect(sh.bestWindowMs(100 * 3_600_000, 10, memRate)).toBe(0);
  });

  it('sizes for concurrency: two overlapping streams need a window covering each one\'s gap', () => {
    const sh = new KeepAliveShadows();
    for (let t = 0; t < 600_000; t += 2_000) {
      sh.arrive(t);
      sh.arrive(t + 10);
      sh.release(t + 1_500);
      sh.release(t + 1_510);
    }
    const w = sh.bestWindowMs(600_000, 5, memRate);
    expect(w).toBeGreaterThanOrEqual(500);
    expect(KEEP_WINDOWS_MS).toContain(w);
  });
});

/** A pool whose busy instances all began their request at `busySince` (ms). */
function poolView(over: Partial<PoolView> & { stats: FunctionStats }, busySince = 0): PoolView {
  const busyCount = over.busyCount ?? 0;
  return {
    key: 'k',
    meta: { key: 'k', runtime: 'go', timeoutInSecs: 60, memoryMb: over.memoryMb ?? 1024 },
    memoryMb: 1024,
    idleCount: 0,
    busyCount,
    startingCount: 0,
    waitingCount: 0,
    policyState: undefined,
    peekIdle: (): InstanceView | null => null,
    oldestWaitingSince: () => NaN,
    busyStarts: (out: Float64Array): number => {
      const n = Math.min(busyCount, out.length);
      out.fill(busySince, 0, n);
      return n;
    },
    ...over,
  };
}

describe('AdaptivePolicy queue model', () => {
  function learned(execMs: number, coldMs: number): FunctionStats {
    const st = new FunctionStats();
    for (let i = 0; i < 5; i++) st.observeExec(execMs);
    st.observeCreate(100);
    st.observeInit(coldMs - 100);
    return st;
  }

  it('cold-starts every waiter while nothing is known about execution time', () => {
    const p = new AdaptivePolicy();
    const pool = poolView({ stats: new FunctionStats(), waitingCount: 20 });
    expect(p.coldStartsOnMiss(pool, 0, 20)).toBe(20);
  });

  it('waits for a busy instance of a short function instead of a long cold start', () => {
    const p = new AdaptivePolicy({ exchangeRate: 1 });
    const pool = poolView({ stats: learned(50, 30_000), busyCount: 1, waitingCount: 1 });
    expect(p.coldStartsOnMiss(pool, 0, 1)).toBe(0);
  });

  it('cold-starts when the queue would take longer than a cold start', () => {
    const p = new AdaptivePolicy({ exchangeRate: 1 });
    const pool = poolView({ stats: learned(10_000, 1_000), busyCount: 1, waitingCount: 3 });
    expect(p.coldStartsOnMiss(pool, 0, 3)).toBe(3);
  });

  it('weighs the wait against the new instance at the exchange rate: a 30 GB model waits where a small one would not', () => {
    // Busy for 10 s of a 20 s execution: about 10 s to go; a cold start takes 5 s.
    const stats = (): FunctionStats => learned(20_000, 5_000);
    const small = poolView({ stats: stats(), memoryMb: 256, busyCount: 1, waitingCount: 1 });
    const model = poolView({ stats: stats(), memoryMb: 30_720, busyCount: 1, waitingCount: 1 });
    expect(new AdaptivePolicy({ exchangeRate: 1 }).coldStartsOnMiss(small, 10_000, 1)).toBe(1);
    expect(new AdaptivePolicy({ exchangeRate: 1 }).coldStartsOnMiss(model, 10_000, 1)).toBe(0);
    // Where waiting is dear enough, the model cold-starts too.
    expect(new AdaptivePolicy({ exchangeRate: 100 }).coldStartsOnMiss(model, 10_000, 1)).toBe(1);
  });
});
