/**
 * The best fixed keep-alive chosen per function in hindsight: where any keep-alive policy tops
 * out on a trace. Beside the clairvoyant bound it splits a policy's shortfall in two: what is
 * lost to choosing keep-alives (policy vs this), and what only prediction and burst handling
 * can win (this vs the bound).
 *
 * Every window of the ladder is replayed against the real core with a fixed keep-alive (the
 * contest's reference behaviour: reuse the most recent idle instance, cold-start on a miss and
 * take whichever instance frees first); under a fixed keep-alive functions do not interact, so
 * one replay per window gives every function's slot time and scheduling time at that window.
 * The choice is made on the score's totals, not a sum of per-function scores: for an exchange
 * rate r each function takes the window minimising slot GB-s + r x scheduling seconds, and the
 * rate whose choices score best over the whole trace wins (a fine sweep over r).
 */
import { FixedKeepAlivePolicy } from '../../core/policies/fixed-keep-alive.js';
import { officialScore, UNBOUND_FUNCTION } from '../scoring/score-book.js';
import { runVirtual, type RequestSource } from '../virtual/virtual-engine.js';
import type { CallOverhead } from '../virtual/call-overhead.js';

/** The ladder of windows, ms (0: destroy after every request). */
export const HINDSIGHT_WINDOWS_MS: readonly number[] = [0, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000];
/** Exchange rates swept, GB-s per second: log-spaced over this range. */
const SWEEP_FROM = 1e-3;
const SWEEP_TO = 1e5;
const SWEEP_STEPS = 241;

export interface HindsightKeepAlive {
  readonly score: number;
  readonly resourceHalf: number;
  readonly latencyHalf: number;
  /** Functions by the window chosen for them, ms -> count. */
  readonly windows: Record<string, number>;
}

export interface HindsightOptions {
  /** A fresh source of the trace per replay (sources are visited once). */
  readonly source: () => RequestSource;
  readonly tailMs: number;
  /** The per-call floor of the replays (default: the virtual engine's). */
  readonly callOverhead?: CallOverhead;
}

export function hindsightKeepAlive(opts: HindsightOptions): HindsightKeepAlive {
  // Per window: each function's slot GB-s and scheduling seconds; and the trace's totals.
  const perWindow: { slot: Map<string, number>; sched: Map<string, number>; unboundSlot: number }[] = [];
  let execGBs = 0;
  let execSecs = 0;
  let successRate = 1;
  for (const w of HINDSIGHT_WINDOWS_MS) {
    const r = runVirtual({ source: opts.source(), policy: new FixedKeepAlivePolicy(w), tailMs: opts.tailMs, bound: false, callOverhead: opts.callOverhead }).report;
    const slot = new Map<string, number>();
    const sched = new Map<string, number>();
    let unboundSlot = 0;
    for (const f of r.functions) {
      if (f.metaKey === UNBOUND_FUNCTION) unboundSlot += f.slotGBs;
      else {
        slot.set(f.metaKey, f.slotGBs);
        sched.set(f.metaKey, f.scheduleSecs);
      }
    }
    perWindow.push({ slot, sched, unboundSlot });
    execGBs = r.invocationExecutionTimeInGBs;
    execSecs = r.invocationExecutionTimeInSecs;
    successRate = Math.min(successRate, r.successRate);
  }
  const keys = new Set<string>();
  for (const p of perWindow) for (const k of p.sched.keys()) keys.add(k);
  let best: HindsightKeepAlive | null = null;
  for (let i = 0; i < SWEEP_STEPS; i++) {
    const rate = SWEEP_FROM * Math.pow(SWEEP_TO / SWEEP_FROM, i / (SWEEP_STEPS - 1));
    let slotGBs = 0;
    let scheduleSecs = 0;
    const windows: Record<string, number> = {};
    for (const k of keys) {
      let bw = 0;
      let bc = Infinity;
      for (let j = 0; j < perWindow.length; j++) {
        const c = (perWindow[j]!.slot.get(k) ?? 0) + rate * (perWindow[j]!.sched.get(k) ?? 0);
        if (c < bc) {
          bc = c;
          bw = j;
        }
      }
      slotGBs += perWindow[bw]!.slot.get(k) ?? 0;
      scheduleSecs += perWindow[bw]!.sched.get(k) ?? 0;
      const label = String(HINDSIGHT_WINDOWS_MS[bw]);
      windows[label] = (windows[label] ?? 0) + 1;
    }
    // Slots never initialised belong to no function: charge the least of them any window had.
    slotGBs += Math.min(...perWindow.map((p) => p.unboundSlot));
    const inputs = { execGBs, slotGBs, execSecs, scheduleSecs, successRate };
    const score = officialScore(inputs);
    if (best === null || score > best.score) {
      best = {
        score,
        resourceHalf: slotGBs > 0 ? (50 * execGBs) / slotGBs : 0,
        latencyHalf: execSecs + scheduleSecs > 0 ? (50 * execSecs) / (execSecs + scheduleSecs) : 0,
        windows,
      };
    }
  }
  return best ?? { score: 0, resourceHalf: 0, latencyHalf: 0, windows: {} };
}
