import type { Clock, TimerHandle } from './clock.js';
import { CoreMetrics } from './core-metrics.js';
import { FunctionPool, type Waiter } from './function-pool.js';
import { Instance, InstanceState } from './instance.js';
import { PlatformErrorKind, type Platform, type PlatformError } from './platform.js';
import type { PolicyEnv, ScalingPolicy } from './policy.js';
import { backoffDelayMs, DEFAULT_RETRY, DESTROY_RETRY, type RetryOptions } from './retry-backoff.js';
import { PriceTracker } from './price-tracker.js';
import type { ScorePrices, ScoreTotals } from './score-prices.js';
import { ScalerError, ScalerErrorCode, type AssignCallback, type AssignInput, type FunctionMeta, type IdleInput, type IdleOutcome } from './types.js';

/** Consecutive failed cold starts of one function after which a waiting assign may be failed. */
export const DEFAULT_MAX_COLD_START_FAILURES = 4;
/**
 * Transient failures (throttling, errors, an unreachable platform) fail a waiting assign only
 * once the function's cold starts have been failing for this long: a short outage just delays.
 */
export const DEFAULT_COLD_START_GIVE_UP_MS = 30_000;
/** Released instances remembered so a duplicate `Idle` stays idempotent after a destroy (a power of two). */
export const RELEASED_TOMBSTONES = 16_384;
/**
 * A request that never sends its Idle (its client crashed, the call was lost) would keep its
 * instance busy, and its slot alive, forever. Past this multiple of the function's own timeout,
 * plus the grace, the request cannot still be running: the instance is destroyed (never reused;
 * a late Idle for it is still an idempotent success). Functions without a timeout are exempt.
 */
export const BUSY_LEASE_TIMEOUT_FACTOR = 2;
export const BUSY_LEASE_GRACE_MS = 60_000;
/** How often busy instances are checked against their lease while any is busy. */
export const BUSY_LEASE_SWEEP_MS = 30_000;
/**
 * Init hedging: an Init still running this many times its function's usual Init time (and at
 * least INIT_HEDGE_MIN_EXTRA_MS beyond it) while requests wait gets one backup cold start;
 * whichever instance is ready first serves, the other is kept or released by the policy. A spike
 * (x10 on a 60 s model load) then costs its waiter about 2 Inits, not 10. Functions whose Init
 * was never observed are not hedged, nor are backups.
 */
export const INIT_HEDGE_FACTOR = 2;
export const INIT_HEDGE_MIN_EXTRA_MS = 1_000;
/** How often running Inits are checked against that, while any runs. */
export const INIT_HEDGE_SWEEP_MS = 1_000;
/** Per Assign+Idle pair, what the caller's RPCs add to scheduling time beyond our own wait. */
export const DEFAULT_RPC_OVERHEAD_MS = 1;

export interface CoreLogger {
  warn(fields: Record<string, unknown>, msg: string): void;
  debug(fields: Record<string, unknown>, msg: string): void;
}

/** Observers of slot lifetimes (a journal of live slots, a simulator's ledger). */
export interface SlotObserver {
  onSlotCreated?(slotId: string, memoryMb: number, instanceId: string, key: string): void;
  onSlotDestroyed?(slotId: string): void;
  onColdStart?(key: string, prewarm: boolean): void;
}

export interface ScalerCoreOptions {
  clock: Clock;
  platform: Platform;
  policy: ScalingPolicy;
  /** Makes instance ids unique across shards, restarts and processes. */
  instanceIdPrefix?: string;
  /** Global score totals for pricing (every shard's); defaults to this core's own. */
  totals?: () => ScoreTotals;
  retry?: RetryOptions;
  destroyRetry?: RetryOptions;
  maxColdStartFailures?: number;
  coldStartGiveUpMs?: number;
  rpcOverheadMs?: number;
  /**
   * The caller never reuses a request id while its request waits for or holds an instance (the
   * virtual engine, which makes the ids): the duplicate-Assign guard and its set are skipped.
   */
  uniqueRequestIds?: boolean;
  logger?: CoreLogger;
  observer?: SlotObserver;
}

const NOOP_LOGGER: CoreLogger = { warn() {}, debug() {} };

function isRetryable(err: PlatformError): boolean {
  return err.kind !== PlatformErrorKind.Permanent;
}

/**
 * The scaler's pools and decisions for the functions of one shard. Pure of I/O: time comes
 * from the injected clock, the platform is an injected callback interface, and the policy
 * answers the questions of when to keep, destroy, wait and pre-warm.
 *
 * Invariants: an instance is handed to at most one request at a time; an instance released
 * with `needDestroy` is never handed out again; every slot created is destroyed (with retries)
 * or still tracked in `instances`.
 */
export class ScalerCore {
  readonly metrics = new CoreMetrics();
  private readonly clock: Clock;
  private readonly platform: Platform;
  private readonly policy: ScalingPolicy;
  private readonly pools = new Map<string, FunctionPool>();
  private readonly instances = new Map<string, Instance>();
  /**
   * Tombstones of released instances, by instance number modulo the table size: the number
   * (or -1) and the request it last served. A newer instance with the same residue replaces an
   * older one, so the table remembers about the last RELEASED_TOMBSTONES instances created.
   */
  private readonly tombNumbers = new Float64Array(RELEASED_TOMBSTONES).fill(-1);
  private readonly tombRequests: string[] = new Array<string>(RELEASED_TOMBSTONES).fill('');
  private readonly prefix: string;
  private readonly retry: RetryOptions;
  private readonly destroyRetry: RetryOptions;
  private readonly maxColdStartFailures: number;
  private readonly coldStartGiveUpMs: number;
  private readonly rpcOverheadMs: number;
  private readonly log: CoreLogger;
  private readonly observer: SlotObserver;
  private readonly totalsSource: () => ScoreTotals;
  private seq = 0;
  /** Serial of the next accepted Assign (what the policy knows a request by, from arrival to Idle). */
  private arrivals = 0;
  private stopping = false;
  /** Slots whose DestroySlot has not been answered yet. */
  private readonly destroying = new Set<string>();
  private drainCallbacks: (() => void)[] = [];
  /** Instances of slots a crashed predecessor left (see `destroyOrphanSlot`). */
  private readonly orphanInstances = new Set<string>();
  /** Request ids waiting for or holding an instance: a duplicate Assign must not get a second. */
  private readonly activeRequests = new Set<string>();
  private readonly guardIds: boolean;
  /** Function key -> when its current run of failed cold starts began. */
  private readonly failingSince = new Map<string, number>();
  /** Function key -> pending delayed replacement of failed cold starts. */
  private readonly retryTimers = new Map<string, TimerHandle>();
  /** Pending busy-lease sweep; armed only while some instance is busy. */
  private leaseTimer: TimerHandle | null = null;
  /** Pending slow-Init sweep; armed only while some Init runs. */
  private hedgeTimer: TimerHandle | null = null;
  /**
   * Instances whose Init was sent, since the last sweep (what the sweep looks at); the sweep
   * drops those no longer starting, so a cold start costs one push here, nothing more.
   */
  private initialising: Instance[] = [];

  constructor(opts: ScalerCoreOptions) {
    this.clock = opts.clock;
    this.platform = opts.platform;
    this.policy = opts.policy;
    this.prefix = opts.instanceIdPrefix ?? 'i-';
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.destroyRetry = opts.destroyRetry ?? DESTROY_RETRY;
    this.maxColdStartFailures = opts.maxColdStartFailures ?? DEFAULT_MAX_COLD_START_FAILURES;
    this.coldStartGiveUpMs = opts.coldStartGiveUpMs ?? DEFAULT_COLD_START_GIVE_UP_MS;
    this.rpcOverheadMs = opts.rpcOverheadMs ?? DEFAULT_RPC_OVERHEAD_MS;
    this.guardIds = opts.uniqueRequestIds !== true;
    this.log = opts.logger ?? NOOP_LOGGER;
    this.observer = opts.observer ?? {};
    this.totalsSource = opts.totals ?? (() => this.metrics.scoreTotals(this.clock.now()));
    const tracker = new PriceTracker(this.totalsSource, () => this.clock.now());
    const env: PolicyEnv = {
      prices: (minR?: number, minL?: number): ScorePrices => tracker.prices(minR, minL),
      rpcOverheadMs: this.rpcOverheadMs,
      defer: (fn: () => void): void => void this.clock.schedule(this.clock.now(), fn),
      replan: (key: string): void =>
        void this.clock.schedule(this.clock.now(), () => {
          const pool = this.pools.get(key);
          if (pool !== undefined) this.updatePrewarm(pool, this.clock.now());
        }),
    };
    this.policy.bind?.(env);
  }

  get policyName(): string {
    return this.policy.name;
  }

  get functionCount(): number {
    return this.pools.size;
  }

  /** Live instances (starting, idle or busy) by id; read-only use. */
  get liveInstances(): ReadonlyMap<string, Instance> {
    return this.instances;
  }

  /** True while the slot's DestroySlot is in flight (or being retried). */
  isDestroying(slotId: string): boolean {
    return this.destroying.has(slotId);
  }

  pool(key: string): FunctionPool | undefined {
    return this.pools.get(key);
  }

  /**
   * Hands `cb` an initialised instance of the function: an idle one at once (most recently
   * used first), else whichever becomes free first, a new cold start or a release.
   */
  assign(input: AssignInput, cb: AssignCallback): void {
    const m = this.metrics;
    if (this.guardIds && this.activeRequests.has(input.requestId)) {
      // Refused before any state changes: the first call keeps its instance (or its wait).
      cb(new ScalerError(ScalerErrorCode.AlreadyExists, `request "${input.requestId}" is already waiting for or holding an instance`));
      return;
    }
    m.assigns++;
    if (this.stopping) {
      m.failedAssigns++;
      cb(new ScalerError(ScalerErrorCode.ShuttingDown, 'scaler is shutting down'));
      return;
    }
    const now = this.clock.now();
    const pool = this.poolFor(input.meta);
    if (this.guardIds) this.activeRequests.add(input.requestId);
    pool.stats.observeArrival(now);
    const arrival = this.arrivals++;
    this.policy.onArrival(pool, now, arrival);
    const inst = pool.popIdle();
    if (inst !== null) {
      m.idleInstances--;
      this.markBusy(inst, input.requestId, now, arrival);
      m.scheduleMs += this.rpcOverheadMs;
      this.updatePrewarm(pool, now);
      cb(null, inst.id);
      return;
    }
    m.inflightAssigns++;
    m.waitingAssigns++;
    pool.addWaiter({ requestId: input.requestId, arrivedAt: now, arrival, cb, done: false });
    this.ensureColdStarts(pool, now, false);
    this.updatePrewarm(pool, now);
  }

  /** Returns an instance after a request. Never waits on the platform. */
  idle(input: IdleInput): IdleOutcome {
    const inst = this.instances.get(input.instanceId);
    if (inst === undefined) {
      if (this.releasedRequest(input.instanceId) === input.requestId) return null;
      if (this.orphanInstances.delete(input.instanceId)) return null;
      return new ScalerError(ScalerErrorCode.NotFound, `unknown instance "${input.instanceId}"`);
    }
    const pool = inst.pool;
    if (pool.key !== input.metaKey) {
      return new ScalerError(
        ScalerErrorCode.InvalidArgument,
        `instance "${inst.id}" belongs to function "${pool.key}", not "${input.metaKey}"`,
      );
    }
    if (inst.state !== InstanceState.Busy) {
      if (inst.lastRequestId === input.requestId) return null;
      return new ScalerError(ScalerErrorCode.NotFound, `instance "${inst.id}" is not serving request "${input.requestId}"`);
    }
    if (input.requestId !== '' && inst.busyRequestId !== input.requestId) {
      return new ScalerError(
        ScalerErrorCode.InvalidArgument,
        `instance "${inst.id}" is serving request "${inst.busyRequestId}", not "${input.requestId}"`,
      );
    }
    const m = this.metrics;
    const now = this.clock.now();
    m.idles++;
    m.busyInstances--;
    pool.removeBusy(inst);
    if (this.guardIds) this.activeRequests.delete(inst.busyRequestId);
    inst.lastRequestId = inst.busyRequestId;
    inst.busyRequestId = '';
    const dur = input.durationMs;
    if (dur > 0) {
      m.execMs += dur;
      m.execMbMs += dur * pool.memoryMb;
      pool.stats.observeExec(dur);
    }
    pool.stats.lastReleaseAt = now;
    this.policy.onExecDone(pool, dur, now, input.needDestroy, inst.busyArrival);
    if (input.needDestroy || this.stopping) {
      this.destroyInstance(inst, input.needDestroy ? 'need_destroy' : 'shutdown');
      if (!this.stopping) this.ensureColdStarts(pool, now, false);
    } else {
      this.onInstanceFree(inst, now);
    }
    this.updatePrewarm(pool, now);
    return null;
  }

  /** Gives up on a waiting assign (client cancelled or deadline passed). */
  cancelWaiting(key: string, requestId: string): boolean {
    const pool = this.pools.get(key);
    if (pool === undefined) return false;
    const w = pool.findWaiter(requestId);
    if (w === null) return false;
    pool.dropWaiter(w);
    if (this.guardIds) this.activeRequests.delete(requestId);
    this.metrics.waitingAssigns--;
    this.metrics.inflightAssigns--;
    w.cb(new ScalerError(ScalerErrorCode.Cancelled, `assign "${requestId}" cancelled while waiting`));
    return true;
  }

  /**
   * Destroys a slot this core never owned (left by a crashed predecessor), with retries. With
   * its instance id, the one `Idle` of a request that was running on it is accepted: the
   * request did run, only the shard that handed the instance out is gone.
   */
  destroyOrphanSlot(slotId: string, memoryMb: number, instanceId?: string): void {
    if (instanceId !== undefined && instanceId !== '') this.orphanInstances.add(instanceId);
    const m = this.metrics;
    m.integrate(this.clock.now());
    m.liveSlots++;
    m.liveSlotMb += memoryMb;
    this.destroySlot(slotId, memoryMb, 'orphaned by a crashed shard', 0);
  }

  /**
   * Takes over an initialised instance this core never created (a previous process of the
   * scaler did; its slot journal says so). With `busyRequestId`, the instance is serving that
   * request and its Idle is awaited (the busy lease applies from now); without, it is free and
   * goes to a waiter or idles under the policy's keep-alive. Observers see its slot as created.
   * Returns false, changing nothing, when the core is stopping or already has the instance.
   */
  adoptInstance(slotId: string, instanceId: string, meta: FunctionMeta, busyRequestId = ''): boolean {
    if (this.stopping || this.instances.has(instanceId)) return false;
    const now = this.clock.now();
    const pool = this.poolFor(meta);
    const inst = new Instance(instanceId, this.seq++, pool, false);
    inst.slotId = slotId;
    inst.readyAt = now;
    this.instances.set(instanceId, inst);
    const m = this.metrics;
    m.integrate(now);
    m.liveSlots++;
    m.liveSlotMb += pool.memoryMb;
    this.observer.onSlotCreated?.(slotId, pool.memoryMb, instanceId, pool.key);
    if (busyRequestId !== '') {
      if (this.guardIds) this.activeRequests.add(busyRequestId);
      // When its request arrived is unknown here: as if at the adoption.
      this.markBusy(inst, busyRequestId, now, now);
    } else {
      this.onInstanceFree(inst, now);
    }
    return true;
  }

  /**
   * Stops accepting work, fails waiting assigns, destroys every slot (idle, busy and
   * initialising ones; a CreateSlot still in flight is destroyed when it answers) and calls
   * `done` once the platform answered every destroy. Call it after the RPC front has stopped.
   */
  shutdown(done: () => void): void {
    this.stopping = true;
    if (this.leaseTimer !== null) this.clock.cancel(this.leaseTimer);
    this.leaseTimer = null;
    if (this.hedgeTimer !== null) this.clock.cancel(this.hedgeTimer);
    this.hedgeTimer = null;
    for (const pool of this.pools.values()) {
      if (pool.prewarmTimer !== null) this.clock.cancel(pool.prewarmTimer);
      if (pool.missTimer !== null) this.clock.cancel(pool.missTimer);
      pool.prewarmTimer = pool.missTimer = null;
      const retry = this.retryTimers.get(pool.key);
      if (retry !== undefined) this.clock.cancel(retry);
      this.retryTimers.delete(pool.key);
      for (const w of pool.drainWaiters()) this.failWaiter(w, ScalerErrorCode.ShuttingDown, 'scaler is shutting down');
      for (const inst of [...pool.idleInstances()]) this.destroyInstance(inst, 'shutdown');
    }
    // Callers stop the RPC front first, so a busy instance will never be released and an Init
    // may take minutes: destroy both now rather than let their slots outlive the scaler.
    for (const inst of [...this.instances.values()]) {
      if (inst.state === InstanceState.Busy) {
        inst.pool.removeBusy(inst);
        this.metrics.busyInstances--;
        inst.lastRequestId = inst.busyRequestId;
        inst.busyRequestId = '';
        this.destroyInstance(inst, 'shutdown while busy');
      } else if (inst.state === InstanceState.Starting && inst.slotId !== '') {
        this.abandonStarting(inst, 'shutdown during init');
      }
    }
    this.drainCallbacks.push(done);
    this.checkDrained();
  }

  // ---- internals -------------------------------------------------------------------------

  private poolFor(meta: FunctionMeta): FunctionPool {
    let pool = this.pools.get(meta.key);
    if (pool === undefined) {
      pool = new FunctionPool(meta);
      this.pools.set(meta.key, pool);
    }
    return pool;
  }

  private markBusy(inst: Instance, requestId: string, now: number, arrival: number): void {
    inst.state = InstanceState.Busy;
    inst.busyRequestId = requestId;
    inst.busySince = now;
    inst.busyArrival = arrival;
    inst.uses++;
    inst.pool.addBusy(inst);
    this.metrics.busyInstances++;
    if (this.leaseTimer === null) this.leaseTimer = this.clock.schedule(now + BUSY_LEASE_SWEEP_MS, this.sweepLeases);
  }

  /** Destroys instances whose request outlived its lease (see BUSY_LEASE_TIMEOUT_FACTOR). */
  private readonly sweepLeases = (): void => {
    this.leaseTimer = null;
    if (this.stopping) return;
    const now = this.clock.now();
    let expired: Instance[] | undefined;
    for (const inst of this.instances.values()) {
      if (inst.state !== InstanceState.Busy) continue;
      const timeoutMs = inst.pool.meta.timeoutInSecs * 1000;
      if (timeoutMs > 0 && now - inst.busySince > BUSY_LEASE_TIMEOUT_FACTOR * timeoutMs + BUSY_LEASE_GRACE_MS) (expired ??= []).push(inst);
    }
    if (expired !== undefined) for (const inst of expired) this.reclaimBusy(inst, now);
    if (this.metrics.busyInstances > 0) this.leaseTimer = this.clock.schedule(now + BUSY_LEASE_SWEEP_MS, this.sweepLeases);
  };

  private reclaimBusy(inst: Instance, now: number): void {
    const pool = inst.pool;
    const m = this.metrics;
    m.busyInstances--;
    m.leaseExpiries++;
    pool.removeBusy(inst);
    if (this.guardIds) this.activeRequests.delete(inst.busyRequestId);
    this.log.warn(
      { key: pool.key, instanceId: inst.id, requestId: inst.busyRequestId, busyMs: now - inst.busySince },
      'no Idle within the busy lease: instance destroyed',
    );
    inst.lastRequestId = inst.busyRequestId;
    inst.busyRequestId = '';
    this.policy.onExecDone(pool, 0, now, true);
    this.destroyInstance(inst, 'busy lease expired');
    this.ensureColdStarts(pool, now, false);
    this.updatePrewarm(pool, now);
  }

  /** Serves the oldest waiter with `inst`, or parks it idle under the policy's keep-alive. */
  private onInstanceFree(inst: Instance, now: number): void {
    const pool = inst.pool;
    const w = pool.shiftWaiter();
    if (w !== null) {
      const m = this.metrics;
      m.waitingAssigns--;
      m.inflightAssigns--;
      m.scheduleMs += now - w.arrivedAt + this.rpcOverheadMs;
      this.policy.onWaitServed?.(pool, inst, now - w.arrivedAt, now);
      this.markBusy(inst, w.requestId, now, w.arrival);
      w.cb(null, inst.id);
      return;
    }
    inst.state = InstanceState.Idle;
    inst.idleSince = now;
    pool.pushIdle(inst);
    this.metrics.idleInstances++;
    const keep = this.policy.keepAliveMs(pool, inst, now);
    if (!(keep > 0)) {
      this.policy.onIdleDestroyed?.(pool, inst, now);
      this.destroyInstance(inst, 'keep-alive 0');
      return;
    }
    inst.expireAt = now + keep;
    if (inst.expireAt !== Infinity && (inst.timer === null || inst.timer.at > inst.expireAt)) {
      this.armExpiry(inst, inst.expireAt);
    }
  }

  private armExpiry(inst: Instance, at: number): void {
    if (inst.timer !== null) this.clock.cancel(inst.timer);
    // One callback per instance, made on its first expiry: re-arms (frequent) allocate nothing.
    inst.onExpiry ??= () => this.onExpiryTimer(inst);
    inst.timer = this.clock.schedule(at, inst.onExpiry);
  }

  /** At most one timer per instance: if it was reused since, move the timer to the new expiry. */
  private onExpiryTimer(inst: Instance): void {
    inst.timer = null;
    if (inst.state !== InstanceState.Idle) return;
    const now = this.clock.now();
    if (now < inst.expireAt) {
      if (inst.expireAt !== Infinity) this.armExpiry(inst, inst.expireAt);
      return;
    }
    this.policy.onIdleDestroyed?.(inst.pool, inst, now);
    this.destroyInstance(inst, 'keep-alive expired');
    this.updatePrewarm(inst.pool, now);
  }

  /**
   * Makes sure waiting requests get instances: begins cold starts for those no cold start is
   * coming for, as many as the policy wants (all when `force`), and re-asks later if it held back.
   */
  private ensureColdStarts(pool: FunctionPool, now: number, force: boolean): void {
    const deficit = pool.waitingCount - pool.startingCount;
    if (deficit <= 0 || this.stopping) return;
    let n = deficit;
    if (!force && this.policy.coldStartsOnMiss !== undefined) {
      const want = Math.floor(this.policy.coldStartsOnMiss(pool, now, deficit));
      n = want > deficit ? deficit : want > 0 ? want : 0;
    }
    for (let i = 0; i < n; i++) this.startColdStart(pool, false);
    if (n < deficit && pool.missTimer === null) {
      const delay = Math.max(1, this.policy.missRecheckMs?.(pool, now) ?? 1);
      pool.onMissRecheck ??= () => {
        pool.missTimer = null;
        this.ensureColdStarts(pool, this.clock.now(), false);
      };
      pool.missTimer = this.clock.schedule(now + delay, pool.onMissRecheck);
    }
  }

  private updatePrewarm(pool: FunctionPool, now: number): void {
    if (this.stopping) return;
    const plan = this.policy.prewarmPlan(pool, now);
    const prev = pool.prewarmPlanned;
    if (plan === null) {
      if (pool.prewarmTimer !== null) this.clock.cancel(pool.prewarmTimer);
      pool.prewarmTimer = null;
      pool.prewarmPlanned = null;
      return;
    }
    if (prev !== null && pool.prewarmTimer !== null && prev.atMs === plan.atMs && prev.count === plan.count) return;
    if (pool.prewarmTimer !== null) this.clock.cancel(pool.prewarmTimer);
    pool.prewarmPlanned = plan;
    pool.prewarmTimer = this.clock.schedule(Math.max(now, plan.atMs), () => {
      pool.prewarmTimer = null;
      pool.prewarmPlanned = null;
      if (this.stopping) return;
      const have = pool.idleCount + pool.startingCount - pool.waitingCount;
      for (let i = have; i < plan.count; i++) this.startColdStart(pool, true);
    });
  }

  private startColdStart(pool: FunctionPool, prewarm: boolean): Instance {
    const n = this.seq++;
    const inst = new Instance(this.prefix + n.toString(36), n, pool, prewarm);
    this.instances.set(inst.id, inst);
    pool.startingCount++;
    pool.stats.coldStarts++;
    const m = this.metrics;
    m.startingInstances++;
    if (prewarm) m.prewarms++;
    else m.coldStarts++;
    this.observer.onColdStart?.(pool.key, prewarm);
    this.createSlot(inst, 0);
    return inst;
  }

  /** `ridAttempt`: the attempt whose request id this call reuses (see the lost-reply case below). */
  private createSlot(inst: Instance, attempt: number, ridAttempt = attempt): void {
    const pool = inst.pool;
    const started = this.clock.now();
    const requestId = `${inst.id}-c${ridAttempt}`;
    this.platform.createSlot(requestId, pool.memoryMb, (err, slot) => {
      if (err !== null || slot === undefined) {
        const e = err ?? { kind: PlatformErrorKind.Transient, message: 'CreateSlot returned no slot' };
        const lost = e.unknownOutcome === true;
        if (lost) {
          this.metrics.lostCreateReplies++;
          this.log.warn(
            { key: pool.key, instanceId: inst.id, requestId, reason: e.message },
            'CreateSlot reply lost: the platform may hold a slot nobody can destroy',
          );
        }
        if (isRetryable(e) && attempt + 1 < this.retry.maxAttempts && !this.stopping) {
          this.metrics.platformRetries++;
          const at = this.clock.now() + backoffDelayMs(this.retry, attempt, this.seq);
          // After a lost reply, ask again under the same request id: a platform that deduplicates
          // requests then answers with the slot it made instead of making a second one. After a
          // definite answer (Throttle, an error status) a fresh id, so that answer is not replayed.
          const nextRid = lost ? ridAttempt : attempt + 1;
          this.clock.schedule(at, () => this.createSlot(inst, attempt + 1, nextRid));
          return;
        }
        this.coldStartFailed(inst, `CreateSlot failed: ${e.message}`, false, !isRetryable(e));
        return;
      }
      const now = this.clock.now();
      inst.slotId = slot.slotId;
      this.slotCreated(inst, now);
      pool.stats.observeCreate(now - started);
      if (this.stopping) {
        this.abandonStarting(inst, 'shutdown');
        return;
      }
      this.initInstance(inst);
    });
  }

  private initInstance(inst: Instance): void {
    const pool = inst.pool;
    const started = this.clock.now();
    inst.initStartedAt = started;
    this.initialising.push(inst);
    if (this.hedgeTimer === null) this.hedgeTimer = this.clock.schedule(started + INIT_HEDGE_SWEEP_MS, this.sweepSlowInits);
    this.platform.init(`${inst.id}-i`, inst.slotId, inst.id, pool.meta, (err) => {
      if (inst.state !== InstanceState.Starting) return;
      if (err !== null) {
        pool.stats.initFailures++;
        this.abandonStarting(inst, 'init failed');
        this.coldStartFailed(inst, `Init failed: ${err.message}`, true, !isRetryable(err));
        return;
      }
      const now = this.clock.now();
      pool.stats.observeInit(now - started);
      pool.startingCount--;
      pool.coldStartFailures = 0;
      this.failingSince.delete(pool.key);
      this.metrics.startingInstances--;
      inst.readyAt = now;
      if (this.stopping) {
        this.destroyInstance(inst, 'shutdown');
        return;
      }
      this.onInstanceFree(inst, now);
    });
  }

  /** Starts one backup cold start for each Init overrunning its hedge time while requests wait. */
  private readonly sweepSlowInits = (): void => {
    this.hedgeTimer = null;
    if (this.stopping) return;
    const now = this.clock.now();
    let slow: Instance[] | undefined;
    const list = this.initialising;
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const inst = list[i]!;
      // Its Init answered, or it was abandoned (shutdown, destroy): no longer ours to watch.
      if (inst.state !== InstanceState.Starting) continue;
      list[kept++] = inst;
      if (inst.hedged) continue;
      const st = inst.pool.stats;
      const usual = st.initMs;
      const hedgeAfter = INIT_HEDGE_FACTOR * usual > usual + INIT_HEDGE_MIN_EXTRA_MS ? INIT_HEDGE_FACTOR * usual : usual + INIT_HEDGE_MIN_EXTRA_MS;
      if (st.initSamples > 0 && inst.pool.waitingCount > 0 && now - inst.initStartedAt > hedgeAfter) (slow ??= []).push(inst);
    }
    if (slow !== undefined) {
      for (const inst of slow) {
        inst.hedged = true;
        this.metrics.initHedges++;
        this.log.warn(
          { key: inst.pool.key, instanceId: inst.id, initMs: now - inst.initStartedAt, usualInitMs: inst.pool.stats.initMs },
          'Init overrunning: backup cold start',
        );
        this.startColdStart(inst.pool, false).hedged = true;
      }
    }
    list.length = kept;
    if (kept > 0) this.hedgeTimer = this.clock.schedule(now + INIT_HEDGE_SWEEP_MS, this.sweepSlowInits);
  };

  /** A starting instance whose slot exists but will not serve: destroy the slot. */
  private abandonStarting(inst: Instance, reason: string): void {
    if (inst.state !== InstanceState.Starting) return;
    inst.pool.startingCount--;
    this.metrics.startingInstances--;
    inst.state = InstanceState.Destroyed;
    this.instances.delete(inst.id);
    this.destroySlot(inst.slotId, inst.pool.memoryMb, reason, 0);
    this.checkDrained();
  }

  private coldStartFailed(inst: Instance, message: string, alreadyAbandoned = false, permanent = false): void {
    const pool = inst.pool;
    if (!alreadyAbandoned) {
      pool.startingCount--;
      this.metrics.startingInstances--;
      inst.state = InstanceState.Destroyed;
      this.instances.delete(inst.id);
    }
    this.metrics.platformFailures++;
    const now = this.clock.now();
    if (pool.coldStartFailures++ === 0) this.failingSince.set(pool.key, now);
    this.log.warn({ key: pool.key, instanceId: inst.id, failures: pool.coldStartFailures }, message);
    if (this.stopping) {
      this.checkDrained();
      return;
    }
    // Permanent errors will not go away by waiting; transient ones fail a waiter only after
    // the function has been unable to start for the give-up time (an outage, not a blip).
    const failingFor = now - (this.failingSince.get(pool.key) ?? now);
    if (
      pool.coldStartFailures >= this.maxColdStartFailures &&
      (permanent || failingFor >= this.coldStartGiveUpMs) &&
      pool.waitingCount > pool.startingCount
    ) {
      const w = pool.shiftWaiter();
      if (w !== null) this.failWaiter(w, ScalerErrorCode.ColdStartFailed, `cold start of "${pool.key}" failed: ${message}`);
    }
    if (pool.coldStartFailures <= 1) {
      this.ensureColdStarts(pool, now, true);
      return;
    }
    // Back off between replacement cold starts so a failing platform is not hammered.
    if (this.retryTimers.has(pool.key)) return;
    const at = now + backoffDelayMs(this.retry, pool.coldStartFailures - 2, this.seq);
    this.retryTimers.set(
      pool.key,
      this.clock.schedule(at, () => {
        this.retryTimers.delete(pool.key);
        if (!this.stopping) this.ensureColdStarts(pool, this.clock.now(), true);
      }),
    );
  }

  private failWaiter(w: Waiter, code: ScalerErrorCode, message: string): void {
    if (this.guardIds) this.activeRequests.delete(w.requestId);
    const m = this.metrics;
    m.waitingAssigns--;
    m.inflightAssigns--;
    m.failedAssigns++;
    w.cb(new ScalerError(code, message));
  }

  private destroyInstance(inst: Instance, reason: string): void {
    const pool = inst.pool;
    if (inst.state === InstanceState.Idle) {
      pool.removeIdle(inst);
      this.metrics.idleInstances--;
    } else if (inst.state === InstanceState.Starting) {
      this.abandonStarting(inst, reason);
      return;
    }
    if (inst.timer !== null) {
      this.clock.cancel(inst.timer);
      inst.timer = null;
    }
    inst.state = InstanceState.Destroyed;
    this.instances.delete(inst.id);
    this.remember(inst);
    this.destroySlot(inst.slotId, pool.memoryMb, reason, 0);
    this.checkDrained();
  }

  /** Tombstone of a released instance (a table write: destroys are frequent, lookups rare). */
  private remember(inst: Instance): void {
    const i = inst.number & (RELEASED_TOMBSTONES - 1);
    this.tombNumbers[i] = inst.number;
    this.tombRequests[i] = inst.lastRequestId;
  }

  /** The request a released instance last served, if its tombstone is still kept. */
  private releasedRequest(instanceId: string): string | undefined {
    const prefix = this.prefix;
    if (!instanceId.startsWith(prefix) || instanceId.length === prefix.length) return undefined;
    const digits = instanceId.slice(prefix.length);
    const n = parseInt(digits, 36);
    // Round trip: only ids this core could have minted ("v0a" is not instance 10).
    if (!(n >= 0) || n.toString(36) !== digits) return undefined;
    const i = n & (RELEASED_TOMBSTONES - 1);
    return this.tombNumbers[i] === n ? this.tombRequests[i] : undefined;
  }

  private slotCreated(inst: Instance, now: number): void {
    const m = this.metrics;
    m.integrate(now);
    m.liveSlots++;
    m.liveSlotMb += inst.pool.memoryMb;
    this.observer.onSlotCreated?.(inst.slotId, inst.pool.memoryMb, inst.id, inst.pool.key);
  }

  private destroySlot(slotId: string, memoryMb: number, reason: string, attempt: number): void {
    if (attempt === 0) {
      this.destroying.add(slotId);
      this.metrics.destroys++;
    }
    this.platform.destroySlot(`${slotId}-d${attempt}`, slotId, reason, (err) => {
      if (err !== null && isRetryable(err) && attempt + 1 < this.destroyRetry.maxAttempts) {
        this.metrics.platformRetries++;
        const at = this.clock.now() + backoffDelayMs(this.destroyRetry, attempt, this.seq);
        this.clock.schedule(at, () => this.destroySlot(slotId, memoryMb, reason, attempt + 1));
        return;
      }
      if (err !== null && err.kind === PlatformErrorKind.Permanent) {
        // NotFound and the like: the slot is already gone (an earlier attempt got through).
        this.log.debug({ slotId, reason: err.message }, 'DestroySlot: slot already gone');
      } else if (err !== null) {
        this.metrics.platformFailures++;
        this.log.warn({ slotId, reason: err.message }, 'DestroySlot failed after retries');
      }
      const m = this.metrics;
      m.integrate(this.clock.now());
      m.liveSlots--;
      m.liveSlotMb -= memoryMb;
      this.observer.onSlotDestroyed?.(slotId);
      this.destroying.delete(slotId);
      this.checkDrained();
    });
  }

  private checkDrained(): void {
    if (!this.stopping || this.drainCallbacks.length === 0) return;
    if (this.destroying.size > 0 || this.metrics.startingInstances > 0 || this.metrics.busyInstances > 0) return;
    const cbs = this.drainCallbacks;
    this.drainCallbacks = [];
    for (const cb of cbs) cb();
  }
}
