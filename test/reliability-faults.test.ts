/**
 * Platform faults at 1% (each kind alone and all at once): the scaler keeps a 100% success rate
 * and leaks no slot, in virtual time (smoke set + a shortened generated FaaS mix) and live (the
 * real scaler process on the smoke set, outages as TCP resets by the fault proxy).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FixedKeepAlivePolicy } from '../src/core/policies/fixed-keep-alive.js';
import { createPolicy } from '../src/core/policies/policy-registry.js';
import { PlatformErrorKind } from '../src/core/platform.js';
import { ScalerCore } from '../src/core/scaler-core.js';
import { ScalerErrorCode } from '../src/core/types.js';
import { VirtualClock } from '../src/core/virtual-clock.js';
import { loadMetas, streamRequests } from '../src/sim/datasets/dataset-loader.js';
import { FAULT_KINDS, FaultPlan, parseFaultRates, virtualFaults, type FaultRates } from '../src/sim/live/fault-plan.js';
import { runFaultLive } from '../src/sim/faults/fault-live-run.js';
import { datasetSource, memorySource, runVirtual, type RequestSource } from '../src/sim/virtual/virtual-engine.js';
import { VirtualPlatform } from '../src/sim/virtual/virtual-platform.js';
import { generateDataset, workloadFamily } from '../src/sim/generator/workload-generator.js';
import { MAIN_JS } from './reliability-fixtures.js';

const SMOKE_DIR = fileURLToPath(new URL('../datasets/function_smoke_test', import.meta.url));
const RATE = 0.01;
const ALL: FaultRates = Object.fromEntries(FAULT_KINDS.map((k) => [k, RATE]));

describe('FaultPlan', () => {
  it('is deterministic per seed and injects at its rate', () => {
    const draw = (seed: number) => {
      const p = new FaultPlan({ rates: { 'create-throttle': 0.1, 'init-failure': 0.05 }, seed });
      const out: string[] = [];
      for (let i = 0; i < 10_000; i++) out.push(p.createSlot(0).fault, p.init(0).fault);
      return { out: out.join(), injected: p.injected };
    };
    const a = draw(7);
    expect(draw(7).out).toBe(a.out);
    expect(draw(8).out).not.toBe(a.out);
    expect(a.injected['create-throttle']).toBeGreaterThan(900);
    expect(a.injected['create-throttle']).toBeLessThan(1100);
    expect(a.injected['init-failure']).toBeGreaterThan(420);
    expect(a.injected['init-failure']).toBeLessThan(580);
    expect(a.injected['destroy-failure']).toBe(0);
  });

  it('places unreachable windows: fraction of time, fixed length, first where asked', () => {
    const p = new FaultPlan({ rates: { outage: 0.01 }, outageMs: 3_000, firstOutageAtMs: 5_000 });
    expect(p.isUnreachable(4_999)).toBe(false);
    expect(p.isUnreachable(5_000)).toBe(true);
    expect(p.isUnreachable(7_999)).toBe(true);
    expect(p.isUnreachable(8_000)).toBe(false);
    expect(p.isUnreachable(305_500)).toBe(true); // period 300 s
    expect(p.outageWindows(700_000)).toEqual([
      [5_000, 8_000],
      [305_000, 308_000],
      [605_000, 608_000],
    ]);
    expect(p.createSlot(6_000).fault).toBe('unreachable');
    expect(p.destroySlot(6_000).fault).toBe('unreachable');
  });

  it('parses rate lists', () => {
    expect(parseFaultRates('all=0.01')).toEqual(ALL);
    expect(parseFaultRates('outage=0.02,init-failure=0.1')).toEqual({ outage: 0.02, 'init-failure': 0.1 });
    expect(() => parseFaultRates('bogus=0.1')).toThrow(/unknown fault/);
  });
});

describe('scaler core under a platform outage', () => {
  /** Five waiters on one function while the platform is unreachable for `outageMs`. */
  function outage(outageMs: number, giveUpMs?: number) {
    const clock = new VirtualClock(0);
    const plan = new FaultPlan({ rates: { outage: 0.001 }, outageMs, firstOutageAtMs: 0 });
    const platform = new VirtualPlatform({ clock, initDurationMs: () => 500, faults: virtualFaults(plan, clock) });
    const core = new ScalerCore({ clock, platform, policy: new FixedKeepAlivePolicy(60_000), coldStartGiveUpMs: giveUpMs });
    const meta = { key: 'f', runtime: 'go', timeoutInSecs: 60, memoryMb: 256 };
    const results: Array<string | null> = [];
    for (let i = 0; i < 5; i++) core.assign({ requestId: `r${i}`, meta }, (err) => results.push(err === null ? null : err.code));
    clock.runUntil(outageMs + 60_000);
    return { results, platform, core };
  }

  it('rides out a 5 s outage: every waiting Assign is served, no slot leaks', () => {
    const { results, platform, core } = outage(5_000);
    expect(results).toEqual([null, null, null, null, null]);
    expect(platform.liveSlots).toBe(core.metrics.liveSlots);
  });

  it('honesty check: failing waiters on the failure count alone (give-up 0) breaks the same run', () => {
    const { results } = outage(5_000, 0);
    expect(results).toContain(ScalerErrorCode.ColdStartFailed);
  });

  it('still fails waiters when the platform stays down past the give-up time', () => {
    const { results } = outage(200_000);
    expect(results.filter((r) => r === ScalerErrorCode.ColdStartFailed).length).toBeGreaterThan(0);
  });

  it('fails fast on permanent errors', () => {
    const clock = new VirtualClock(0);
    const platform = new VirtualPlatform({
      clock,
      initDurationMs: () => 10,
      faults: { createSlot: () => ({ kind: PlatformErrorKind.Permanent, message: 'too big' }) },
    });
    const core = new ScalerCore({ clock, platform, policy: new FixedKeepAlivePolicy(1_000) });
    let code: string | undefined;
    core.assign({ requestId: 'r', meta: { key: 'f', runtime: 'go', timeoutInSecs: 60, memoryMb: 256 } }, (err) => (code = err?.code));
    clock.runUntil(5_000);
    expect(code).toBe(ScalerErrorCode.ColdStartFailed);
  });
});

describe('virtual: each fault at 1%', () => {
  const fam = workloadFamily('faas-mix');
  const gen = generateDataset({ ...fam.options, durationSec: 120 });
  const sources: Array<[string, () => RequestSource]> = [
    ['smoke', () => datasetSource(SMOKE_DIR)],
    ['faas-mix-120s', () => memorySource('faas-mix-120s', gen.metas, gen.requests)],
  ];
  const cases: Array<[string, FaultRates]> = [...FAULT_KINDS.map((k): [string, FaultRates] => [k, { [k]: RATE }]), ['all', ALL]];
  for (const [name, rates] of cases) {
    for (const [dsName, source] of sources) {
      it(`${name} on ${dsName}: no failure, no leaked slot`, () => {
        let plan: FaultPlan | undefined;
        const r = runVirtual({
          source: source(),
          policy: createPolicy('adaptive'),
          bound: false,
          faultsFor: (clock) => {
            plan = new FaultPlan({ rates, seed: 3, firstOutageAtMs: 3_000 });
            return virtualFaults(plan, clock);
          },
        });
        expect(r.failures).toEqual({});
        expect(r.leakedSlots).toBe(0);
        // The faults really happened.
        const injected = Object.values(plan!.injected).reduce((a, b) => a + b, 0);
        expect(injected).toBeGreaterThan(0);
      });
    }
  }
});

describe('live: the scaler process on the smoke set', () => {
  it('all faults at 1% (and a 3 s outage): 100% success, no leaked slot', async () => {
    const metas = await loadMetas(SMOKE_DIR);
    const r = await runFaultLive({
      mainJs: MAIN_JS,
      metas,
      requests: streamRequests(SMOKE_DIR, metas),
      plan: { rates: ALL, seed: 5, firstOutageAtMs: 3_000 },
      maxInitMs: 300,
      shards: 2,
    });
    expect(r.requests).toBe(980);
    expect(r.failureReasons).toEqual({});
    expect(r.failures).toBe(0);
    expect(r.leakedDetail).toEqual([]);
    expect(r.proxyOutages).toBe(1);
    // Several kinds of faults really hit the scaler.
    const kinds = Object.entries(r.injected).filter(([, n]) => n > 0).map(([k]) => k);
    expect(kinds.length).toBeGreaterThanOrEqual(4);
    expect(kinds).toContain('outage');
  }, 60_000);
});
