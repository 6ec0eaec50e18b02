/**
 * The adaptive policy's decision pieces, each on inputs whose right answer is known: idle plans
 * (keep, release, pre-warm), wait-or-cold-start on a stream, the recent-sample remainder, the
 * counterfactual run (the same core, so it must score what the virtual engine scores), and the
 * exchange-rate tuner (it must move towards the rate that scores better).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CounterfactualRun } from '../src/core/policies/adaptive/counterfactual-run.js';
import { INITIAL_EXCHANGE_RATE } from '../src/core/policies/adaptive/exchange-rate-tuner.js';
import { bestIdlePlan, gapKeepCost, gapPlanCost, KEEP_SLACK, prewarmMarginMs, type IdlePrices } from '../src/core/policies/adaptive/idle-plan.js';
import { AdaptivePolicy } from '../src/core/policies/adaptive/adaptive-policy.js';
import { coldStartsWorthIt } from '../src/core/policies/adaptive/queue-plan.js';
import { RecentSamples } from '../src/core/policies/adaptive/recent-samples.js';
import { memorySource, runVirtual } from '../src/sim/virtual/virtual-engine.js';
import { DEFAULT_PLATFORM_RPC_MS } from '../src/sim/virtual/virtual-platform.js';
import { DEFAULT_CREATE_LATENCY_MS } from '../src/sim/contest/contest-platform.js';
import { generateDataset, Rng } from '../src/sim/generator/workload-generator.js';
import type { MetaRecord, RequestRecord } from '../src/sim/contest/dataset-types.js';

const sorted = (xs: number[]): Float64Array => Float64Array.from(xs).sort();

function prices(over: Partial<IdlePrices> = {}): IdlePrices {
  return { coldMs: 150, latencyGB: 10, memGB: 0.25, waitWeight: 1, releaseLagMs: 30, ...over };
}

describe('bestIdlePlan', () => {
  it('keeps through the short gaps of a clustered function and pre-warms for the next cluster', () => {
    // Clusters a second apart: four 40-60 ms gaps inside a cluster, then a 940-960 ms gap.
    const gaps: number[] = [];
    for (let c = 0; c < 12; c++) {
      for (let i = 0; i < 4; i++) gaps.push(40 + ((c * 7 + i * 5) % 21));
      gaps.push(940 + ((c * 3) % 21));
    }
    const g = sorted(gaps.slice(-64));
    const p = prices();
    const plan = bestIdlePlan(g, p)!;
    expect(plan.keepMs).toBeGreaterThanOrEqual(60);
    expect(plan.keepMs).toBeLessThan(940);
    expect(plan.prewarmAtMs + p.coldMs).toBeLessThanOrEqual(940);
    expect(plan.prewarmAtMs + p.coldMs).toBeGreaterThan(940 - 4 * prewarmMarginMs(p.coldMs));
    expect(plan.holdMs).toBeGreaterThanOrEqual(960);
  });

  it('releases a timer at once and brings it back just before the next tick', () => {
    const g = sorted(Array.from({ length: 32 }, (_, i) => 30_000 + (i % 7) - 3));
    const p = prices({ coldMs: 150, memGB: 0.5 });
    const plan = bestIdlePlan(g, p)!;
    expect(plan.keepMs).toBe(0);
    const ready = plan.prewarmAtMs + p.coldMs;
    expect(ready).toBeLessThanOrEqual(30_000 - 3);
    expect(ready).toBeGreaterThan(30_000 - 3 - 2 * prewarmMarginMs(p.coldMs));
  });

  it('does not pre-warm gaps it cannot predict', () => {
    // Exponential gaps, mean 20 s: no lead catches enough of them to beat a plain keep-alive.
    const g = sorted(Array.from({ length: 64 }, (_, i) => -20_000 * Math.log((i + 0.5) / 64)));
    const plan = bestIdlePlan(g, prices({ latencyGB: 1 }))!;
    expect(plan.prewarmAtMs).toBe(Infinity);
  });

  it('costs each plan as the mean of its per-gap costs, and no nearby plan costs less', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 3, maxLength: 64 }),
        fc.constantFrom(0.1, 1, 10, 100),
        (xs, latencyGB) => {
          const g = sorted(xs);
          const p = prices({ latencyGB });
          const plan = bestIdlePlan(g, p)!;
          let mean = 0;
          for (const x of g) mean += gapPlanCost(x, plan, p);
          mean /= g.length;
          expect(plan.cost).toBeCloseTo(mean, 6);
          // Brute force over the plain keep-alives it considers (0, or just past a gap with
          // KEEP_SLACK to spare): the plan is never worse than any of them.
          for (const w of [0, ...Array.from(g, (x) => x * (1 + KEEP_SLACK))]) {
            let keep = 0;
            for (const x of g) keep += gapKeepCost(x, w, p);
            expect(plan.cost).toBeLessThanOrEqual(keep / g.length + 1e-6);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('coldStartsWorthIt', () => {
  const base = {
    freeInMs: Float64Array.of(10),
    servers: 1,
    waiting: 1,
    execMs: 30,
    coldMs: 150,
    latencyGB: 10,
    memGB: 0.25,
    expected: 0,
    gapMs: 1,
  };

  it('lets a lone waiter wait for a short request', () => {
    expect(coldStartsWorthIt(base)).toBe(0);
  });

  it('starts instances for a burst behind the waiter: the stream, not the waiter at hand', () => {
    // 60 more requests 10 ms apart, 30 ms each: one instance cannot keep up.
    expect(coldStartsWorthIt({ ...base, expected: 60, gapMs: 10 })).toBeGreaterThanOrEqual(2);
    // 100 ms apart, it can: the waiter waits its 10 ms.
    expect(coldStartsWorthIt({ ...base, expected: 60, gapMs: 100 })).toBe(0);
  });

  it('lets an AI request wait when its model is 30 GB and waiting is cheap, and cold-starts when it is dear', () => {
    const ai = { ...base, freeInMs: Float64Array.of(40_000), execMs: 30_000, coldMs: 30_000, memGB: 30 };
    expect(coldStartsWorthIt({ ...ai, latencyGB: 1 })).toBe(0);
    expect(coldStartsWorthIt({ ...ai, latencyGB: 100 })).toBe(1);
    // A new instance that would be ready after the busy one frees is never worth it.
    expect(coldStartsWorthIt({ ...ai, freeInMs: Float64Array.of(20_000), latencyGB: 1_000 })).toBe(0);
  });
});

describe('RecentSamples', () => {
  it('expects what remains of one under way from the samples larger than its progress', () => {
    const s = new RecentSamples();
    expect(s.remaining(100, 250)).toBe(150);
    for (const x of [100, 200, 300]) s.record(x);
    expect(s.remaining(0, 0)).toBeCloseTo(200);
    expect(s.remaining(150, 0)).toBeCloseTo(100);
    // Past every sample: a quarter of the largest.
    expect(s.remaining(400, 0)).toBeCloseTo(75);
  });
});

function smallWorkload(): { metas: MetaRecord[]; requests: RequestRecord[] } {
  return generateDataset({ seed: 7, durationSec: 180, functions: 12, pattern: ['poisson', 'bursty', 'periodic'] });
}

describe('CounterfactualRun', () => {
  it('scores what the virtual engine scores on the same requests (it is the same core)', () => {
    const { metas, requests } = smallWorkload();
    const rate = 1;
    const engine = runVirtual({ source: memorySource('w', metas, requests), policy: new AdaptivePolicy({ exchangeRate: rate }), tailMs: 0 }).report;
    const byKey = new Map(metas.map((m) => [m.key, m]));
    const rpc = 2 * DEFAULT_PLATFORM_RPC_MS;
    const run = new CounterfactualRun(requests[0]!.startTime, new AdaptivePolicy({ exchangeRate: rate }), {
      createMs: () => DEFAULT_CREATE_LATENCY_MS + rpc,
      initMs: (meta) => byKey.get(meta.key)!.initDurationInMs + rpc,
    }, 1);
    requests.forEach((r, id) => {
      const m = byKey.get(r.metaKey)!;
      run.advanceTo(r.startTime);
      run.arrive(id, { key: m.key, runtime: m.runtime, timeoutInSecs: m.timeoutInSecs, memoryMb: m.memoryInMb });
      run.finish(id, r.durationsInMs, r.statusCode !== 200);
    });
    run.advanceTo(requests[requests.length - 1]!.startTime + 3_600_000);
    const t = run.totals();
    const score = (50 * t.execGBs) / t.slotGBs + (50 * t.execSecs) / (t.execSecs + t.scheduleSecs);
    expect(t.execSecs).toBeCloseTo(engine.invocationExecutionTimeInSecs, 3);
    expect(Math.abs(score - engine.score)).toBeLessThan(1);
  });
});

describe('exchange-rate tuner (counterfactual runs on a grid of rates)', () => {
  const meta = (key: string, memoryInMb: number, initDurationInMs: number): MetaRecord => ({ key, runtime: 'python', memoryInMb, timeoutInSecs: 600, initDurationInMs });
  const score = (metas: MetaRecord[], requests: RequestRecord[], policy: AdaptivePolicy): number =>
    runVirtual({ source: memorySource('t', metas, requests), policy, tailMs: 0 }).report.score;

  it('moves up where waiting is dear: small instances, 1 s inits, every key back within seconds', () => {
    // 200 keys of 128 MB, each requested every 2-6 s for 20 minutes, 5 ms executions.
    const metas = Array.from({ length: 200 }, (_, i) => meta(`k${i}`, 128, 1_000));
    const requests: RequestRecord[] = [];
    for (let i = 0; i < metas.length; i++) {
      for (let t = (i * 37) % 4_000; t < 20 * 60_000; t += 2_000 + ((i * 7919 + t) % 4_000)) {
        requests.push({ startTime: 1_000_000 + t, metaKey: `k${i}`, durationsInMs: 5, statusCode: 200 });
      }
    }
    requests.sort((a, b) => a.startTime - b.startTime);
    const policy = new AdaptivePolicy();
    const r = runVirtual({ source: memorySource('keep', metas, requests), policy, tailMs: 0 });
    expect(policy.tunedRate!).toBeGreaterThan(1);
    // And it keeps them warm: most requests find an idle instance.
    expect(r.report.coldStarts / r.requests).toBeLessThan(0.2);
  }, 60_000);

  it('follows a decisive lead at once: a 1 s-init load of 1 ms executions that every rate below keeping cold-starts', () => {
    // 300 keys of 128 MB, each back after ~17 s (exponential gaps), 1 ms executions: what a
    // closed loop of callers sees while every request cold-starts. Every run scores near 0 but
    // the ones that keep, several times better: creeping up by 1.5x per snapshot would take
    // minutes of cold starts, so the rate must be there within two judgements.
    const rng = new Rng(7);
    const metas = Array.from({ length: 300 }, (_, i) => meta(`k${i}`, 128, 1_000));
    const requests: RequestRecord[] = [];
    for (let i = 0; i < metas.length; i++) {
      for (let t = rng.uniform(0, 17_000); t < 100_000; t += rng.exp(17_000)) {
        requests.push({ startTime: 1_000_000 + Math.round(t), metaKey: `k${i}`, durationsInMs: 1, statusCode: 200 });
      }
    }
    requests.sort((a, b) => a.startTime - b.startTime);
    // (Without early judging: with it, a first judgement 20 s in, before the runs' keep-alives
    // were charged, comes on top; core-policy-start.test.ts checks that one.)
    const policy = new AdaptivePolicy({ earlyJudge: false });
    runVirtual({ source: memorySource('cold-loop', metas, requests), policy, tailMs: 0 });
    expect(policy.tunerChoices!).toBeLessThanOrEqual(2);
    expect(policy.tunedRate!).toBeGreaterThan(3);
  }, 60_000);

  it('moves down where memory is dear: trains of requests that a kept instance rarely serves', () => {
    // Groups of functions firing trains of 5-40 requests together, minutes apart.
    const { metas, requests } = generateDataset({ seed: 11, durationSec: 1200, functions: 40, pattern: 'correlated' });
    const policy = new AdaptivePolicy();
    const tuned = score(metas, requests, policy);
    expect(policy.tunedRate!).toBeLessThan(INITIAL_EXCHANGE_RATE);
    // Where the tuner went is worth it: it beats the rate it started from, held fixed.
    expect(tuned).toBeGreaterThan(score(metas, requests, new AdaptivePolicy({ exchangeRate: INITIAL_EXCHANGE_RATE })));
  }, 60_000);
});
