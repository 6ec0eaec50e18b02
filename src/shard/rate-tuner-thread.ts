/**
 * The exchange-rate tuner of one shard, on a thread of its own: the same `ExchangeRateTuner` the
 * simulator runs in-thread (five counterfactual ScalerCores on virtual clocks), fed the shard's
 * tuner calls in order, answering with the rate each time it chooses one. Pure CPU work that
 * used to share the shard's event loop with the replies (see docs/per-call-latency.md).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_CREATE_MS, DEFAULT_INIT_MS } from '../core/function-stats.js';
import type { FunctionMetaRef } from '../core/platform.js';
import { inThreadRateTuner, type AdaptivePolicyOptions } from '../core/policies/adaptive/adaptive-policy.js';
import { lowerThisThreadPriority } from '../thread-priority.js';
import { TUNER_EVENT_WIDTH, TunerEventKind, type TunerBatchMessage, type TunerRateMessage, type TunerThreadData } from './rate-tuner-protocol.js';

const port = parentPort!;
const data = workerData as TunerThreadData;
// Work that may lag: the threads that answer calls come first when the cores are short.
lowerThisThreadPriority();

const metas: FunctionMetaRef[] = [];
const initByKey = new Map<string, number>();
let createMs = DEFAULT_CREATE_MS;
let reportedChoices = 0;

const report = (): void => {
  if (tuner.choices === reportedChoices) return;
  reportedChoices = tuner.choices;
  const m: TunerRateMessage = { type: 'rate', rate: tuner.rate, choices: tuner.choices };
  port.postMessage(m);
};

const tuner = inThreadRateTuner({
  policyOptions: data.policyOptions as Required<AdaptivePolicyOptions>,
  latencies: { createMs: () => createMs, initMs: (meta) => initByKey.get(meta.key) ?? DEFAULT_INIT_MS },
  rpcOverheadMs: data.rpcOverheadMs,
  // The runs are fed after the batch that asked for it; the rate they choose goes back at once.
  defer: (fn) =>
    setImmediate(() => {
      fn();
      report();
    }),
});

port.on('message', (b: TunerBatchMessage) => {
  for (let i = 0; i < b.fns.length; i++) metas[b.fnBase + i] = b.fns[i]!;
  createMs = b.createMs;
  const init = b.initMs;
  for (let i = 0; i + 1 < init.length; i += 2) initByKey.set(metas[init[i]!]!.key, init[i + 1]!);
  const ev = b.events;
  for (let r = 0; r < b.count; r++) {
    const o = r * TUNER_EVENT_WIDTH;
    if (ev[o] === TunerEventKind.Arrive) tuner.arrive(metas[ev[o + 1]!]!, ev[o + 2]!, ev[o + 3]!);
    else tuner.finish(ev[o + 1]!, ev[o + 2]!, ev[o + 3] === 1, ev[o + 4]!);
  }
  report();
});
