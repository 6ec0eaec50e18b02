/**
 * A shard's platform client behind two bounded queues (fastq): cold starts in flight
 * (`CreateSlot` through its `Init`) and `DestroySlot` calls in flight. A cold-start storm of
 * 20,000 Assigns then queues here, inside the scaler, instead of opening 20,000 calls on the
 * platform at once. It also counts every call by method and outcome for the metrics endpoint.
 *
 * A cold start holds one permit from its `CreateSlot` until its `Init` answers: the platform
 * sees at most `maxColdStarts` `CreateSlot` + `Init` calls of this shard at once, and an `Init`
 * never waits behind new `CreateSlot`s (the core times Inits from the call, to spot slow ones,
 * and a created slot costs money while it waits). The permit is returned early when the
 * `CreateSlot` fails, or when the slot is destroyed before any `Init` was sent (shutdown).
 *
 * The core's retry and timing logic is unchanged: a queued call is, to it, a slow call.
 */
import fastq from 'fastq';
import {
  PlatformErrorKind,
  type FunctionMetaRef,
  type InitResult,
  type Platform,
  type PlatformCallback,
  type PlatformError,
  type SlotInfo,
} from '../core/platform.js';

/**
 * Cold starts (`CreateSlot` + `Init`) in flight per shard. Far above what the contest's
 * datasets reach at once (the smoke set's peak is tens), low enough that a storm does not
 * open tens of thousands of calls on the platform (see README "Cold-start storm").
 */
export const DEFAULT_MAX_COLD_STARTS_PER_SHARD = 1_024;
/** `DestroySlot` calls in flight per shard (each answers in about a millisecond). */
export const DEFAULT_MAX_DESTROYS_PER_SHARD = 256;

export const PLATFORM_METHODS = ['CreateSlot', 'Init', 'DestroySlot'] as const;
export type PlatformMethod = (typeof PLATFORM_METHODS)[number];
/** Outcome of a call: `ok`, or the `PlatformErrorKind` the clients classified the failure as. */
export const PLATFORM_CALL_CODES = ['ok', PlatformErrorKind.Throttle, PlatformErrorKind.Transient, PlatformErrorKind.Permanent] as const;
export type PlatformCallCode = (typeof PLATFORM_CALL_CODES)[number];

const CREATE = 0;
const INIT = 1;
const DESTROY = 2;

function codeIndex(err: PlatformError | null): number {
  if (err === null) return 0;
  switch (err.kind) {
    case PlatformErrorKind.Throttle:
      return 1;
    case PlatformErrorKind.Transient:
      return 2;
    default:
      return 3;
  }
}

/** The inner client: the three calls and a close. */
export interface ClosablePlatform extends Platform {
  close(): void;
}

export interface BoundedPlatformOptions {
  /** Cold starts in flight; 0 means unbounded. Default {@link DEFAULT_MAX_COLD_STARTS_PER_SHARD}. */
  maxColdStarts?: number;
  /** `DestroySlot` calls in flight; 0 means unbounded. Default {@link DEFAULT_MAX_DESTROYS_PER_SHARD}. */
  maxDestroys?: number;
}

interface CreateTask {
  readonly requestId: string;
  readonly memoryMb: number;
  readonly cb: PlatformCallback<SlotInfo>;
}

interface DestroyTask {
  readonly requestId: string;
  readonly slotId: string;
  readonly reason: string;
  readonly cb: PlatformCallback<void>;
}

type Release = fastq.done<void>;

function limit(n: number | undefined, dflt: number): number {
  const v = n ?? dflt;
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`platform concurrency bound must be a non-negative integer, got ${v}`);
  return v === 0 ? Infinity : v;
}

export class BoundedPlatform implements ClosablePlatform {
  /** Bounds in force (Infinity when unbounded). */
  readonly maxColdStarts: number;
  readonly maxDestroys: number;
  private readonly coldStarts: fastq.queue<CreateTask, void>;
  private readonly destroys: fastq.queue<DestroyTask, void>;
  /** Slots created whose `Init` has not been sent: their cold start's permit. */
  private readonly heldPermits = new Map<string, Release>();
  /** Calls answered, `[method * 4 + code]` (see {@link callCount}). */
  private readonly calls = new Float64Array(PLATFORM_METHODS.length * PLATFORM_CALL_CODES.length);
  private closed = false;

  constructor(
    private readonly inner: ClosablePlatform,
    opts: BoundedPlatformOptions = {},
  ) {
    this.maxColdStarts = limit(opts.maxColdStarts, DEFAULT_MAX_COLD_STARTS_PER_SHARD);
    this.maxDestroys = limit(opts.maxDestroys, DEFAULT_MAX_DESTROYS_PER_SHARD);
    // eslint-disable-next-line @typescript-eslint/unbound-method -- fastq calls the worker with its first argument as `this`
    this.coldStarts = fastq<BoundedPlatform, CreateTask, void>(this, this.runColdStart, this.maxColdStarts);
    // eslint-disable-next-line @typescript-eslint/unbound-method -- as above
    this.destroys = fastq<BoundedPlatform, DestroyTask, void>(this, this.runDestroy, this.maxDestroys);
  }

  createSlot(requestId: string, memoryMb: number, cb: PlatformCallback<SlotInfo>): void {
    if (this.closed) {
      failLater(cb, 'CreateSlot: platform client closed');
      return;
    }
    this.coldStarts.push({ requestId, memoryMb, cb });
  }

  init(requestId: string, slotId: string, instanceId: string, meta: FunctionMetaRef, cb: PlatformCallback<InitResult>): void {
    // Never queued: it already holds its cold start's permit (taken by its CreateSlot).
    const release = this.heldPermits.get(slotId);
    if (release !== undefined) this.heldPermits.delete(slotId);
    this.inner.init(requestId, slotId, instanceId, meta, (err, result) => {
      this.calls[INIT * 4 + codeIndex(err)]!++;
      release?.(null);
      cb(err, result);
    });
  }

  destroySlot(requestId: string, slotId: string, reason: string, cb: PlatformCallback<void>): void {
    // Created and never initialised (abandoned at shutdown): its cold start is over.
    const release = this.heldPermits.get(slotId);
    if (release !== undefined) {
      this.heldPermits.delete(slotId);
      release(null);
    }
    this.destroys.push({ requestId, slotId, reason, cb });
  }

  /** Calls answered so far for `method` with outcome `code`. */
  callCount(method: PlatformMethod, code: PlatformCallCode): number {
    return this.calls[PLATFORM_METHODS.indexOf(method) * 4 + PLATFORM_CALL_CODES.indexOf(code)]!;
  }

  /** Cold starts holding a permit: CreateSlot in flight, created awaiting Init, Init in flight. */
  get coldStartsInFlight(): number {
    return this.coldStarts.running();
  }

  /** CreateSlot calls waiting for a permit. */
  get coldStartsQueued(): number {
    return this.coldStarts.length();
  }

  get destroysInFlight(): number {
    return this.destroys.running();
  }

  get destroysQueued(): number {
    return this.destroys.length();
  }

  /**
   * Fails every CreateSlot still waiting for a permit (call once the core is shutting down:
   * it then destroys instead of retrying). Destroys keep their queue: they are what shutdown waits for.
   */
  abortQueuedColdStarts(reason: string): void {
    const waiting = this.coldStarts.getQueue();
    this.coldStarts.kill();
    for (const t of waiting) failLater(t.cb, `CreateSlot: ${reason}`);
  }

  close(): void {
    this.closed = true;
    this.abortQueuedColdStarts('platform client closed');
    this.inner.close();
  }

  private runColdStart(task: CreateTask, release: Release): void {
    this.inner.createSlot(task.requestId, task.memoryMb, (err, slot) => {
      this.calls[CREATE * 4 + codeIndex(err)]!++;
      // Held until this slot's Init answers (or it is destroyed uninitialised); set before the
      // core's callback, which sends the Init at once.
      if (err === null && slot !== undefined) this.heldPermits.set(slot.slotId, release);
      else release(null);
      task.cb(err, slot);
    });
  }

  private runDestroy(task: DestroyTask, release: Release): void {
    this.inner.destroySlot(task.requestId, task.slotId, task.reason, (err) => {
      this.calls[DESTROY * 4 + codeIndex(err)]!++;
      release(null);
      task.cb(err);
    });
  }
}

/** Platform callbacks are never called synchronously (the clients' contract). */
function failLater<T>(cb: PlatformCallback<T>, message: string): void {
  setImmediate(cb, { kind: PlatformErrorKind.Transient, message } satisfies PlatformError);
}
