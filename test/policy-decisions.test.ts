/**
 * Each registered policy's decisions on small hand-made traces whose right answer is known:
 * a strictly periodic function, a one-off, and an hourly burst. The core runs on a virtual clock
 * against the virtual platform, so every assertion is about exact virtual times.
 */
import { describe, expect, it } from 'vitest';
import { HH_BIN_MS, HH_RANGE_MS, HybridHistogramPolicy, IdleTimeHistogram } from '../src/core/policies/hybrid-histogram.js';
import { createPolicy, policyNames } from '../src/core/policies/policy-registry.js';
import type { ScalingPolicy } from '../src/core/policy.js';
import { ScalerCore } from '../src/core/scaler-core.js';
import type { FunctionMeta } from '../src/core/types.js';
import { VirtualClock } from '../src/core/virtual-clock.js';
import { VirtualPlatform } from '../src/sim/virtual/virtual-platform.js';

const CREATE_MS = 100;
const MIN = 60_000;
const HOUR = 60 * MIN;

interface Fn {
  readonly key: string;
  readonly memoryMb: number;
  readonly initMs: number;
}

interface Req {
  readonly at: number;
  readonly fn: Fn;
  readonly execMs: number;
}

interface Outcome {
  readonly req: Req;
  readonly index: number;
  assignedAt: number;
  instanceId: string;
  slotId: string;
}

interface SlotLife {
  readonly slotId: string;
  readonly memoryMb: number;
  readonly createdAt: number;
  destroyedAt: number;
  key: string;
  /** End of the latest request served (NaN: never used). */
  lastUseEnd: number;
  uses: number;
}

interface Replay {
  readonly outcomes: Outcome[];
  readonly slots: SlotLife[];
  readonly endMs: number;
  readonly core: ScalerCore;
}

/** Replays `reqs` (sorted by time) with zero RPC latency, then runs `tailMs` past the last release. */
function replay(policy: ScalingPolicy, reqs: readonly Req[], tailMs: number): Replay {
  const clock = new VirtualClock(0);
  const inits = new Map<string, number>();
  for (const r of reqs) inits.set(r.fn.key, r.fn.initMs);
  const slots = new Map<string, SlotLife>();
  const platform = new VirtualPlatform({
    clock,
    initDurationMs: (key) => inits.get(key) ?? 0,
    createLatencyMs: CREATE_MS,
    rpcMs: 0,
    listener: {
      onSlotCreated: (slotId, memoryMb, atMs) => {
        slots.set(slotId, { slotId, memoryMb, createdAt: atMs, destroyedAt: NaN, key: '', lastUseEnd: NaN, uses: 0 });
      },
      onSlotDestroyed: (slotId, atMs) => {
        slots.get(slotId)!.destroyedAt = atMs;
      },
    },
  });
  const core = new ScalerCore({ clock, platform, policy, instanceIdPrefix: 'p-', rpcOverheadMs: 0 });
  const outcomes: Outcome[] = [];
  let outstanding = 0;
  let lastDone = 0;
  reqs.forEach((req, index) => {
    clock.runUntil(req.at);
    const meta: FunctionMeta = { key: req.fn.key, runtime: 'python', timeoutInSecs: 600, memoryMb: req.fn.memoryMb };
    const o: Outcome = { req, index, assignedAt: NaN, instanceId: '', slotId: '' };
    outcomes.push(o);
    outstanding++;
    const rid = `r${index}`;
    core.assign({ requestId: rid, meta }, (err, iid) => {
      if (err !== null || iid === undefined) throw new Error(`assign ${rid} failed: ${err?.message ?? 'no instance'}`);
      const now = clock.now();
      const slot = platform.instances.get(iid)!;
      o.assignedAt = now;
      o.instanceId = iid;
      o.slotId = slot.id;
      const life = slots.get(slot.id)!;
      life.key = req.fn.key;
      life.uses++;
      clock.schedule(now + req.execMs, () => {
        const out = core.idle({ requestId: rid, metaKey: meta.key, instanceId: iid, needDestroy: false, durationMs: req.execMs });
        if (out !== null) throw new Error(`idle ${rid} failed: ${out.message}`);
        life.lastUseEnd = clock.now();
        lastDone = Math.max(lastDone, clock.now());
        outstanding--;
      });
    });
  });
  while (outstanding > 0 && clock.step()) {
    /* until every request has been released */
  }
  const endMs = lastDone + tailMs;
  clock.runUntil(endMs);
  return { outcomes, slots: [...slots.values()], endMs, core };
}

function waited(o: Outcome): boolean {
  return o.assignedAt > o.req.at;
}

/** Slot GB-ms alive in [from, to) that was not spent executing, for one function. */
function idleMbMs(r: Replay, key: string, from: number, to: number): number {
  let alive = 0;
  for (const s of r.slots) {
    if (s.key !== key && s.key !== '') continue;
    const a = Math.max(from, s.createdAt);
    const b = Math.min(to, Number.isNaN(s.destroyedAt) ? r.endMs : s.destroyedAt);
    if (b > a) alive += (b - a) * s.memoryMb;
  }
  let exec = 0;
  for (const o of r.outcomes) {
    if (o.req.fn.key !== key) continue;
    const a = Math.max(from, o.assignedAt);
    const b = Math.min(to, o.assignedAt + o.req.execMs);
    if (b > a) exec += (b - a) * o.req.fn.memoryMb;
  }
  return alive - exec;
}

function periodic(fn: Fn, periodMs: number, periods: number, execMs: number, offset = 0): Req[] {
  const out: Req[] = [];
  for (let i = 0; i < periods; i++) out.push({ at: offset + i * periodMs, fn, execMs });
  return out;
}

const TIMER: Fn = { key: 'timer', memoryMb: 512, initMs: 500 };
const ONE_OFF: Fn = { key: 'one-off', memoryMb: 512, initMs: 500 };
const BURST: Fn = { key: 'burst', memoryMb: 256, initMs: 500 };

const TIMER_EXEC_MS = 100;
const TIMER_PERIODS = 30;
/** Requests from this index on come after the policies had time to learn. */
const LEARNED_FROM = 10;
const BURST_SIZE = 20;
const BURST_EXEC_MS = 1_000;
const BURSTS = 8;

interface TimerRun {
  readonly r: Replay;
  readonly lateWaits: number;
  readonly waits: number;
  /** Idle slot time per period after learning, as a fraction of the period. */
  readonly idleFraction: number;
}

function timerRun(policy: ScalingPolicy, periodMs: number, tailMs = 30 * MIN): TimerRun {
  const reqs = periodic(TIMER, periodMs, TIMER_PERIODS, TIMER_EXEC_MS);
  const r = replay(policy, reqs, tailMs);
  const from = reqs[LEARNED_FROM]!.at;
  const to = reqs[TIMER_PERIODS - 1]!.at;
  const periods = TIMER_PERIODS - 1 - LEARNED_FROM;
  return {
    r,
    lateWaits: r.outcomes.filter((o) => o.index >= LEARNED_FROM && waited(o)).length,
    waits: r.outcomes.filter(waited).length,
    idleFraction: idleMbMs(r, TIMER.key, from, to) / TIMER.memoryMb / periods / periodMs,
  };
}

/** How long each slot of `key` lived after the end of its last request. */
function afterUse(r: Replay, key: string): number[] {
  return r.slots.filter((s) => s.key === key).map((s) => (Number.isNaN(s.destroyedAt) ? r.endMs : s.destroyedAt) - s.lastUseEnd);
}

function oneOffRun(policy: ScalingPolicy, tailMs = 5 * HOUR): Replay {
  return replay(policy, [{ at: 0, fn: ONE_OFF, execMs: 200 }], tailMs);
}

interface BurstRun {
  readonly r: Replay;
  /** Requests that waited for an instance, per burst. */
  readonly waits: number[];
  /** Slots created while each burst was being served (first arrival to last release). */
  readonly slotsCreated: number[];
}

/** BURST_SIZE simultaneous requests every `gapMs`. */
function burstRun(policy: ScalingPolicy, gapMs: number): BurstRun {
  const reqs: Req[] = [];
  for (let b = 0; b < BURSTS; b++) for (let i = 0; i < BURST_SIZE; i++) reqs.push({ at: b * gapMs, fn: BURST, execMs: BURST_EXEC_MS });
  const r = replay(policy, reqs, 30 * MIN);
  const waits: number[] = [];
  const slotsCreated: number[] = [];
  for (let b = 0; b < BURSTS; b++) {
    const mine = r.outcomes.filter((o) => Math.floor(o.index / BURST_SIZE) === b);
    waits.push(mine.filter(waited).length);
    const end = Math.max(...mine.map((o) => o.assignedAt + o.req.execMs));
    slotsCreated.push(r.slots.filter((s) => s.createdAt >= b * gapMs && s.createdAt <= end).length);
  }
  return { r, waits, slotsCreated };
}

describe('policy decisions on hand-made traces', () => {
  it('covers every registered policy', () => {
    expect([...policyNames()].sort()).toEqual(['adaptive', 'fixed', 'fixed-10m', 'fixed-5m', 'hybrid-histogram']);
  });

  describe.each([
    ['fixed', 60_000],
    ['fixed-5m', 5 * MIN],
    ['fixed-10m', 10 * MIN],
  ] as const)('%s (keep-alive %i ms)', (name, keepMs) => {
    it('releases a one-off exactly one keep-alive after its request', () => {
      const r = oneOffRun(createPolicy(name));
      expect(afterUse(r, ONE_OFF.key)).toEqual([keepMs]);
    });

    it('keeps a 60 s timer warm through every gap: one cold start, idle through each period', () => {
      const t = timerRun(createPolicy(name), 60_000);
      expect(t.waits).toBe(1);
      expect(t.r.slots).toHaveLength(1);
      expect(t.idleFraction).toBeGreaterThan(0.99);
    });

    it('serves a 10-minute timer warm only if the keep-alive covers the gap', () => {
      const t = timerRun(createPolicy(name), 10 * MIN);
      if (keepMs >= 10 * MIN - TIMER_EXEC_MS) {
        expect(t.waits).toBe(1);
      } else {
        expect(t.waits).toBe(TIMER_PERIODS);
        for (const life of afterUse(t.r, TIMER.key)) expect(life).toBe(keepMs);
      }
    });

    it('gives an hourly burst no capacity (every burst cold), a 5-minute one kept capacity if the keep-alive covers it', () => {
      expect(burstRun(createPolicy(name), HOUR).waits).toEqual(Array(BURSTS).fill(BURST_SIZE));
      const b = burstRun(createPolicy(name), 5 * MIN);
      if (keepMs >= 5 * MIN) {
        expect(b.waits).toEqual([BURST_SIZE, ...Array<number>(BURSTS - 1).fill(0)]);
        expect(b.r.slots).toHaveLength(BURST_SIZE);
      } else {
        expect(b.waits).toEqual(Array(BURSTS).fill(BURST_SIZE));
      }
    });
  });

  describe('hybrid-histogram', () => {
    it('builds its windows from 1-minute bins: CV rule, 5th/99th percentiles with 10% margins', () => {
      const h = new IdleTimeHistogram();
      expect(h.decision()).toEqual({ mode: 'conservative', prewarmMs: 0, keepAliveMs: HH_RANGE_MS });
      for (let i = 0; i < 50; i++) h.record(10 * MIN - 100);
      // All in one bin of 240: CV = sqrt(239), representative.
      expect(h.binCountCv()).toBeCloseTo(Math.sqrt(239), 6);
      expect(h.decision()).toEqual({ mode: 'histogram', prewarmMs: 9 * MIN * 0.9, keepAliveMs: 10 * MIN * 1.1 });
      // A few longer gaps move the 99th percentile, not the 5th.
      h.record(30 * MIN + 5);
      expect(h.decision()).toEqual({ mode: 'histogram', prewarmMs: 9 * MIN * 0.9, keepAliveMs: 31 * MIN * 1.1 });

      const spread = new IdleTimeHistogram();
      for (let bin = 0; bin < 240; bin++) spread.record(bin * HH_BIN_MS + 1);
      expect(spread.binCountCv()).toBe(0);
      expect(spread.decision().mode).toBe('conservative');

      const oob = new IdleTimeHistogram();
      oob.record(5 * HOUR);
      oob.record(10 * MIN);
      oob.record(6 * HOUR);
      // EWMA (alpha 0.5) of 5 h, 10 min, 6 h.
      const f = (5 * HOUR + 10 * MIN) / 2 / 2 + 6 * HOUR / 2;
      expect(oob.decision().mode).toBe('forecast');
      expect(oob.decision().prewarmMs).toBeCloseTo(0.85 * f, 6);
      expect(oob.decision().keepAliveMs).toBeCloseTo(1.15 * f, 6);
    });

    it('pre-warms a 10-minute timer: released after use, back before the next tick, no late cold starts', () => {
      const policy = new HybridHistogramPolicy();
      const t = timerRun(policy, 10 * MIN);
      expect(t.lateWaits).toBe(0);
      expect(t.idleFraction).toBeLessThan(0.25);
      const pool = t.r.core.pool(TIMER.key)!;
      expect(policy.decisionFor(pool)).toEqual({ mode: 'histogram', prewarmMs: 9 * MIN * 0.9, keepAliveMs: 10 * MIN * 1.1 });
      expect(t.r.core.metrics.prewarms).toBeGreaterThanOrEqual(TIMER_PERIODS - LEARNED_FROM);
    });

    it('keeps a 60 s timer alive instead (its idle times fall in the first bin: no pre-warm window)', () => {
      const policy = new HybridHistogramPolicy();
      const t = timerRun(policy, 60_000);
      expect(t.waits).toBe(1);
      expect(policy.decisionFor(t.r.core.pool(TIMER.key)!)).toEqual({ mode: 'histogram', prewarmMs: 0, keepAliveMs: 1.1 * MIN });
      // After the last request the instance lives out the 66 s keep-alive window.
      expect(afterUse(t.r, TIMER.key)).toEqual([1.1 * MIN]);
    });

    it('forecasts idle times beyond its 4-hour range: a 5-hour timer is pre-warmed at 85% of the gap', () => {
      const t = timerRun(new HybridHistogramPolicy(), 5 * HOUR, HOUR);
      expect(t.r.outcomes.filter((o) => o.index >= 2 && waited(o))).toHaveLength(0);
      expect(t.idleFraction).toBeLessThan(0.2);
    });

    it('keeps a one-off for the whole 4-hour range (no idle time seen: not representative)', () => {
      expect(afterUse(oneOffRun(new HybridHistogramPolicy()), ONE_OFF.key)).toEqual([HH_RANGE_MS]);
    });

    it('keeps an hourly burst its capacity: later bursts see no cold start', () => {
      const policy = new HybridHistogramPolicy();
      const b = burstRun(policy, HOUR);
      expect(b.waits).toEqual([BURST_SIZE, ...Array<number>(BURSTS - 1).fill(0)]);
      // 19 of 20 idle times are 0 (the function is busy), one is the hour: keep 66 min.
      expect(policy.decisionFor(b.r.core.pool(BURST.key)!)).toEqual({ mode: 'histogram', prewarmMs: 0, keepAliveMs: 60 * MIN * 1.1 });
    });
  });

  describe('adaptive', () => {
    it('pre-warms a 60 s timer: no late cold starts, idle time per period well below the period', () => {
      const t = timerRun(createPolicy('adaptive'), 60_000);
      expect(t.lateWaits).toBe(0);
      expect(t.idleFraction).toBeLessThan(0.2);
    });

    // Fails with the adaptive policy as of this writing: every tick is a cold start (virtual
    // engine, this trace alone: score 10.4, against 41.3 for hybrid-histogram and fixed-10m and
    // 56.7 for the clairvoyant bound).
    it('pre-warms a 10-minute timer', () => {
      const t = timerRun(createPolicy('adaptive'), 10 * MIN);
      expect(t.lateWaits).toBe(0);
      expect(t.idleFraction).toBeLessThan(0.2);
    });

    it('releases a one-off well before any fixed keep-alive would', () => {
      const lives = afterUse(oneOffRun(createPolicy('adaptive')), ONE_OFF.key);
      expect(lives).toHaveLength(1);
      expect(lives[0]!).toBeLessThan(60_000);
    });

    // Pre-warming needs three equal idle gaps in its sample (MIN_PREWARM_HITS: one or two
    // could be chance): the gaps before bursts 1, 2 and 3 teach it, so bursts 4 and later
    // arrive to pre-warmed capacity, all 20 of it.
    it('gives an hourly burst capacity: once three gaps are learned, bursts see far fewer cold starts', () => {
      const b = burstRun(createPolicy('adaptive'), HOUR);
      expect(b.waits[0]).toBe(BURST_SIZE);
      for (let i = 4; i < BURSTS; i++) expect(b.waits[i]!).toBeLessThanOrEqual(BURST_SIZE / 4);
    });

    // Guards a fixed bug: the burst plan once counted only busy instances, not waiters, and
    // started a second burst's worth of slots that never served.
    it('creates no more slots for a burst than its concurrency', () => {
      const b = burstRun(createPolicy('adaptive'), HOUR);
      for (const n of b.slotsCreated) expect(n).toBeLessThanOrEqual(BURST_SIZE);
    });
  });
});
