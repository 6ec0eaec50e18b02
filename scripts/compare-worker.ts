/**
 * Piscina task of `compare-policies`: replays one dataset under one policy in the virtual engine
 * and returns a small plain result (structured-clone friendly). Stateless: every task builds a
 * fresh policy, so tasks can run on any thread in any order.
 */
import { createPolicy } from '../src/core/policies/policy-registry.js';
import { hindsightKeepAlive } from '../src/sim/virtual/hindsight-keep-alive.js';
import { DEFAULT_VIRTUAL_TAIL_MS, datasetSource, runVirtual } from '../src/sim/virtual/virtual-engine.js';
import type { CallOverhead } from '../src/sim/virtual/call-overhead.js';
import type { CostSplit } from '../src/sim/scoring/cost-split.js';

/** The task `policy` that asks for the dataset's hindsight reference instead of a policy's run. */
export const HINDSIGHT_TASK = '(hindsight keep-alive)';

export interface CompareTask {
  /** Folder with `metas` and `requests`. */
  readonly dir: string;
  /** Display name of the dataset. */
  readonly dataset: string;
  readonly policy: string;
  /** The per-call floor (default: the virtual engine's). */
  readonly callOverhead?: CallOverhead;
}

export interface CompareResult {
  readonly dataset: string;
  readonly policy: string;
  readonly score: number;
  readonly resourceHalf: number;
  readonly latencyHalf: number;
  /** Clairvoyant reference score of the dataset (POLICIES.md). */
  readonly boundScore: number;
  /** score / boundScore (0 when the bound is 0). */
  readonly boundFraction: number;
  /** Requests that waited for a new instance. */
  readonly coldStarts: number;
  readonly slotsCreated: number;
  /** Slot GB-s not spent executing (slotGBs - execGBs). */
  readonly idleGBs: number;
  readonly slotGBs: number;
  readonly successRate: number;
  readonly requests: number;
  readonly failedRequests: number;
  readonly leakedSlots: number;
  readonly wallMs: number;
  /** Where each half's denominator went (null for the hindsight reference). */
  readonly split: CostSplit | null;
}

export default function runCompareTask(task: CompareTask): CompareResult {
  if (task.policy === HINDSIGHT_TASK) {
    const h = hindsightKeepAlive({ source: () => datasetSource(task.dir), tailMs: DEFAULT_VIRTUAL_TAIL_MS, callOverhead: task.callOverhead });
    return {
      dataset: task.dataset,
      policy: task.policy,
      score: h.score,
      resourceHalf: h.resourceHalf,
      latencyHalf: h.latencyHalf,
      boundScore: NaN,
      boundFraction: NaN,
      coldStarts: NaN,
      slotsCreated: NaN,
      idleGBs: NaN,
      slotGBs: NaN,
      successRate: 1,
      requests: NaN,
      failedRequests: 0,
      leakedSlots: 0,
      wallMs: NaN,
      split: null,
    };
  }
  const r = runVirtual({ source: datasetSource(task.dir), policy: createPolicy(task.policy), callOverhead: task.callOverhead });
  const rep = r.report;
  const boundScore = r.bound?.score ?? 0;
  return {
    dataset: task.dataset,
    policy: task.policy,
    score: rep.score,
    resourceHalf: rep.resourceHalf,
    latencyHalf: rep.latencyHalf,
    boundScore,
    boundFraction: boundScore > 0 ? rep.score / boundScore : 0,
    coldStarts: rep.coldStarts,
    slotsCreated: rep.slotsCreated,
    idleGBs: Math.max(0, rep.totalSlotTimeInGBs - rep.invocationExecutionTimeInGBs),
    slotGBs: rep.totalSlotTimeInGBs,
    successRate: rep.successRate,
    requests: r.requests,
    failedRequests: rep.failedRequestsCount,
    leakedSlots: r.leakedSlots,
    wallMs: r.wallMs,
    split: rep.split,
  };
}
