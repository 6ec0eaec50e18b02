/**
 * The core as it would have run with another policy: a second ScalerCore under a virtual
 * clock kept in step with the live one, on a replay platform, fed the live core's requests as
 * they arrive. Its running score totals say what that policy would have scored on the same
 * traffic: the same code deciding, not a model of it.
 *
 * A request is released exactly its execution time after the run started it, when the run knows
 * that time by then (the tuner feeds requests after their live Idle, see exchange-rate-tuner.ts);
 * otherwise when it learns it (`finish`), late by at most the difference in waiting.
 */
import type { FunctionMetaRef } from '../../platform.js';
import type { ScalingPolicy } from '../../policy.js';
import { ReplayPlatform, type ReplayLatencies } from './replay-platform.js';
import { ScalerCore } from '../../scaler-core.js';
import type { ScoreTotals } from '../../score-prices.js';
import type { AssignCallback } from '../../types.js';
import { VirtualClock } from '../../virtual-clock.js';

/** One request in the run; made once per concurrent request and reused. */
class RunRequest {
  id = 0;
  meta: FunctionMetaRef | null = null;
  arrivedAt = 0;
  /** When the run handed it an instance (NaN while it waits). */
  startedAt = NaN;
  /** Its execution time once the live Idle told (NaN until then). */
  durationMs = NaN;
  broken = false;
  instanceId = '';
  readonly requestId: string;
  readonly onAssigned: AssignCallback;
  readonly onDone: () => void;

  constructor(run: CounterfactualRun, n: number) {
    this.requestId = `q${n.toString(36)}`;
    this.onAssigned = (err, iid) => run.assigned(this, err === null ? iid : undefined);
    this.onDone = () => run.done(this);
  }
}

export class CounterfactualRun {
  readonly clock: VirtualClock;
  private readonly platform: ReplayPlatform;
  private readonly core: ScalerCore;
  private readonly inFlight = new Map<number, RunRequest>();
  private readonly free: RunRequest[] = [];
  private made = 0;
  private waitMs = 0;
  private execMs = 0;
  private execMbMs = 0;
  private requests = 0;
  private readonly assignIn = { requestId: '', meta: null as unknown as FunctionMetaRef };
  private readonly idleIn = { requestId: '', metaKey: '', instanceId: '', needDestroy: false, durationMs: 0 };

  constructor(
    startMs: number,
    policy: ScalingPolicy,
    latencies: ReplayLatencies,
    private readonly rpcOverheadMs: number,
  ) {
    this.clock = new VirtualClock(startMs);
    this.platform = new ReplayPlatform(this.clock, latencies);
    this.core = new ScalerCore({ clock: this.clock, platform: this.platform, policy, instanceIdPrefix: 'c', uniqueRequestIds: true, rpcOverheadMs });
  }

  /** Runs the run's own events up to `ms` (releases, expiries, pre-warms). */
  advanceTo(ms: number): void {
    if (ms > this.clock.now()) this.clock.runUntil(ms);
  }

  /** Request `id` arrives now (call `advanceTo(now)` first). */
  arrive(id: number, meta: FunctionMetaRef): void {
    const r = this.free.pop() ?? new RunRequest(this, this.made++);
    r.id = id;
    r.meta = meta;
    r.arrivedAt = this.clock.now();
    r.startedAt = NaN;
    r.durationMs = NaN;
    this.inFlight.set(id, r);
    this.requests++;
    const input = this.assignIn;
    input.requestId = r.requestId;
    input.meta = meta;
    this.core.assign(input, r.onAssigned);
  }

  /** The live Idle of request `id` said how long it ran (call `advanceTo(now)` first). */
  finish(id: number, durationMs: number, broken: boolean): void {
    const r = this.inFlight.get(id);
    if (r === undefined) return;
    r.durationMs = durationMs;
    r.broken = broken;
    if (r.startedAt === r.startedAt) this.clock.fire(r.startedAt + durationMs, r.onDone);
  }

  assigned(r: RunRequest, instanceId: string | undefined): void {
    const now = this.clock.now();
    this.waitMs += now - r.arrivedAt;
    if (instanceId === undefined) {
      this.recycle(r);
      return;
    }
    r.startedAt = now;
    r.instanceId = instanceId;
    if (r.durationMs === r.durationMs) this.clock.fire(now + r.durationMs, r.onDone);
  }

  done(r: RunRequest): void {
    const meta = r.meta!;
    const input = this.idleIn;
    input.requestId = r.requestId;
    input.metaKey = meta.key;
    input.instanceId = r.instanceId;
    input.needDestroy = r.broken;
    input.durationMs = r.durationMs;
    this.core.idle(input);
    this.execMs += r.durationMs;
    this.execMbMs += r.durationMs * meta.memoryMb;
    this.recycle(r);
  }

  private recycle(r: RunRequest): void {
    this.inFlight.delete(r.id);
    r.meta = null;
    this.free.push(r);
  }

  /** Running totals up to the run's clock (executions counted as they end in the run). */
  totals(): ScoreTotals {
    return {
      execGBs: this.execMbMs / 1024 / 1000,
      slotGBs: this.platform.slotMbMs() / 1024 / 1000,
      execSecs: this.execMs / 1000,
      scheduleSecs: (this.waitMs + this.requests * this.rpcOverheadMs) / 1000,
    };
  }
}
