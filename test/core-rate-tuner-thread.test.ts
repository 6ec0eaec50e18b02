/**
 * The exchange-rate tuner on a thread of its own (src/shard/off-thread-rate-tuner.ts, run from
 * dist/: `npm test` builds first) chooses what the in-thread tuner chooses from the same calls:
 * same rates, same number of choices, when both are fed the same calls drained at the same points
 * (each 50 ms batch of the thread's is one drain of the in-thread one's).
 */
import { describe, expect, it } from 'vitest';
import { inThreadRateTuner, ADAPTIVE_DEFAULTS } from '../src/core/policies/adaptive/adaptive-policy.js';
import type { FunctionMetaRef } from '../src/core/platform.js';
import type { ReplayLatencies } from '../src/core/policies/adaptive/replay-platform.js';
import { Rng } from '../src/sim/generator/workload-generator.js';
import type { OffThreadRateTuner as Proxy } from '../src/shard/off-thread-rate-tuner.js';

const { OffThreadRateTuner, TUNER_BATCH_MS } = (await import(new URL('../dist/src/shard/off-thread-rate-tuner.js', import.meta.url).href)) as typeof import('../src/shard/off-thread-rate-tuner.js');

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

type Call = { at: number; arrive: boolean; fn: number; serial: number; dur: number };

describe('exchange-rate tuner off the shard thread', () => {
  it('chooses the same rates as the in-thread tuner from the same calls', async () => {
    // 200 functions of 128 MB with a 1 s Init, each back after ~17 s, 1 ms executions that waited
    // for a cold start: a load whose best rate is far from the initial one, so the rate moves.
    const rng = new Rng(7);
    const metas: FunctionMetaRef[] = Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, runtime: 'node', timeoutInSecs: 60, memoryMb: 128 }));
    const calls: Call[] = [];
    let serial = 0;
    for (let i = 0; i < metas.length; i++) {
      for (let t = rng.uniform(0, 17_000); t < 240_000; t += rng.exp(17_000)) {
        const s = serial++;
        calls.push({ at: 1_000_000 + t, arrive: true, fn: i, serial: s, dur: 1 });
        calls.push({ at: 1_000_000 + t + 1_100, arrive: false, fn: i, serial: s, dur: 1 });
      }
    }
    calls.sort((a, b) => a.at - b.at || Number(b.arrive) - Number(a.arrive));
    // Serials in arrival order, as the core numbers them.
    const order = new Map<number, number>();
    for (const c of calls) if (c.arrive) order.set(c.serial, order.size);
    const latencies: ReplayLatencies = { createMs: () => 100, initMs: () => 1_000 };
    let deferred: (() => void) | null = null;
    const local = inThreadRateTuner({ policyOptions: { ...ADAPTIVE_DEFAULTS }, latencies, rpcOverheadMs: 1, defer: (fn) => (deferred = fn) });
    const remote: Proxy = new OffThreadRateTuner({ policyOptions: { ...ADAPTIVE_DEFAULTS }, latencies, rpcOverheadMs: 1, defer: () => {} });
    try {
      const CHUNK = 400;
      for (let from = 0; from < calls.length; from += CHUNK) {
        for (const c of calls.slice(from, from + CHUNK)) {
          const n = order.get(c.serial)!;
          for (const t of [local, remote]) {
            if (c.arrive) t.arrive(metas[c.fn]!, n, c.at);
            else t.finish(n, c.dur, false, c.at);
          }
        }
        // One drain per batch on both sides: the in-thread one now, the thread after its batch.
        const d = deferred as (() => void) | null;
        deferred = null;
        d?.();
        await sleep(TUNER_BATCH_MS * 2);
      }
      // The thread catches up: the same number of choices, then the same rate.
      for (let i = 0; remote.choices < local.choices && i < 500; i++) await sleep(20);
      expect(local.choices).toBeGreaterThan(0);
      expect(local.rate).not.toBe(0.3);
      expect(remote.choices).toBe(local.choices);
      expect(remote.rate).toBe(local.rate);
      expect(remote.failure).toBeNull();
      expect(remote.batches).toBeGreaterThan(1);
    } finally {
      await remote.close();
    }
  }, 60_000);
});
