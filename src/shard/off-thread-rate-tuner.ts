/**
 * The shard's side of its exchange-rate tuner thread (src/shard/rate-tuner-thread.ts): a
 * `RateTuner` (src/core/rate-tuner.ts) that records the policy's calls in a typed array and posts
 * them every TUNER_BATCH_MS, and answers `arrive` with the rate the thread last chose. What stays
 * on the shard's thread per request is a few array writes; the counterfactual runs, their
 * snapshots and the choice run on the tuner's thread.
 *
 * The thread sees the same calls in the same order as an in-thread tuner would, with each
 * call's own clock reading; what may differ is when its runs read the live latencies (at the
 * batch, not at the call: TUNER_BATCH_MS at most, against the tuner's lag of seconds) and when
 * the rate it chooses takes effect (after the batch and the thread's turn, against a snapshot
 * every TUNER_SNAPSHOT_MS of fed time).
 */
import { Worker } from 'node:worker_threads';
import { INITIAL_EXCHANGE_RATE } from '../core/policies/adaptive/exchange-rate-tuner.js';
import type { FunctionMetaRef } from '../core/platform.js';
import type { AdaptivePolicyOptions } from '../core/policies/adaptive/adaptive-policy.js';
import type { RateTuner, RateTunerSetup } from '../core/policies/adaptive/rate-tuner.js';
import type { ReplayLatencies } from '../core/policies/adaptive/replay-platform.js';
import { TUNER_EVENT_WIDTH, TunerEventKind, type TunerBatchMessage, type TunerRateMessage, type TunerThreadData } from './rate-tuner-protocol.js';

/** How often the recorded calls go to the tuner thread. */
export const TUNER_BATCH_MS = 50;
/** Rows of the first event buffer of a batch (it doubles as needed). */
const INITIAL_ROWS = 256;
/** Arrivals remembered by serial until their finish, to know which function it touched (a power of two). */
const ARRIVAL_FN_MASK = (1 << 16) - 1;
/** `SCALER_TUNER_THREAD=off` keeps the tuner on the shard's thread (A/B measurements). */
export const TUNER_THREAD_ENV = 'SCALER_TUNER_THREAD';

export const TUNER_THREAD_SCRIPT = new URL('./rate-tuner-thread.js', import.meta.url);

export function tunerThreadEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[TUNER_THREAD_ENV] !== 'off';
}

export class OffThreadRateTuner implements RateTuner {
  rate = INITIAL_EXCHANGE_RATE;
  choices = 0;
  /** Batches posted, and the thread's failure if it died (the last rate then stays). */
  batches = 0;
  failure: Error | null = null;
  private readonly worker: Worker;
  private readonly latencies: ReplayLatencies;
  private events = new Float64Array(INITIAL_ROWS * TUNER_EVENT_WIDTH);
  private count = 0;
  private readonly fnIndex = new Map<string, number>();
  private readonly fns: FunctionMetaRef[] = [];
  private fnsSent = 0;
  /** Functions touched since the last batch (their Init latency goes with it), and a mark per function. */
  private touched: number[] = [];
  private touchedMark = new Uint8Array(64);
  private readonly arrivalFn = new Int32Array(ARRIVAL_FN_MASK + 1).fill(-1);
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly flushTask = (): void => this.flush();

  constructor(setup: RateTunerSetup<Required<AdaptivePolicyOptions>>) {
    this.latencies = setup.latencies;
    const data: TunerThreadData = { policyOptions: { ...setup.policyOptions }, rpcOverheadMs: setup.rpcOverheadMs };
    this.worker = new Worker(TUNER_THREAD_SCRIPT, { workerData: data, name: 'scaler-rate-tuner' });
    // Never what keeps a shard alive; its death costs the tuning, not the shard.
    this.worker.unref();
    this.worker.on('message', (m: TunerRateMessage) => {
      this.rate = m.rate;
      this.choices = m.choices;
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      this.closed = true;
    });
  }

  arrive(meta: FunctionMetaRef, arrival: number, now: number): number {
    if (this.closed) return this.rate;
    let fn = this.fnIndex.get(meta.key);
    if (fn === undefined) {
      fn = this.fns.length;
      this.fnIndex.set(meta.key, fn);
      this.fns.push(meta);
    }
    this.arrivalFn[arrival & ARRIVAL_FN_MASK] = fn;
    this.touch(fn);
    this.row(TunerEventKind.Arrive, fn, arrival, now, 0);
    return this.rate;
  }

  finish(arrival: number, durationMs: number, broken: boolean, now: number): void {
    if (this.closed) return;
    const fn = this.arrivalFn[arrival & ARRIVAL_FN_MASK]!;
    if (fn >= 0) this.touch(fn);
    this.row(TunerEventKind.Finish, arrival, durationMs, broken ? 1 : 0, now);
  }

  /** Stops the thread (shard shutdown). */
  close(): Promise<number> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    return this.worker.terminate();
  }

  private touch(fn: number): void {
    if (fn >= this.touchedMark.length) {
      const m = new Uint8Array(Math.max(fn + 1, this.touchedMark.length * 2));
      m.set(this.touchedMark);
      this.touchedMark = m;
    }
    if (this.touchedMark[fn] === 0) {
      this.touchedMark[fn] = 1;
      this.touched.push(fn);
    }
  }

  private row(kind: number, a: number, b: number, c: number, d: number): void {
    let ev = this.events;
    const o = this.count * TUNER_EVENT_WIDTH;
    if (o + TUNER_EVENT_WIDTH > ev.length) {
      const grown = new Float64Array(ev.length * 2);
      grown.set(ev);
      this.events = ev = grown;
    }
    ev[o] = kind;
    ev[o + 1] = a;
    ev[o + 2] = b;
    ev[o + 3] = c;
    ev[o + 4] = d;
    this.count++;
    if (this.timer === null) {
      this.timer = setTimeout(this.flushTask, TUNER_BATCH_MS);
      this.timer.unref();
    }
  }

  private flush(): void {
    this.timer = null;
    if (this.closed || this.count === 0) return;
    const init = new Float64Array(this.touched.length * 2);
    for (let i = 0; i < this.touched.length; i++) {
      const fn = this.touched[i]!;
      init[2 * i] = fn;
      init[2 * i + 1] = this.latencies.initMs(this.fns[fn]!);
      this.touchedMark[fn] = 0;
    }
    this.touched = [];
    const msg: TunerBatchMessage = {
      type: 'batch',
      fns: this.fns.slice(this.fnsSent),
      fnBase: this.fnsSent,
      events: this.events,
      count: this.count,
      createMs: this.latencies.createMs(),
      initMs: init,
    };
    this.fnsSent = this.fns.length;
    const size = this.events.length;
    this.worker.postMessage(msg, [this.events.buffer as ArrayBuffer]);
    this.events = new Float64Array(size);
    this.count = 0;
    this.batches++;
  }
}
