import type { VirtualClock } from '../../core/virtual-clock.js';
import {
  PlatformErrorKind,
  type FunctionMetaRef,
  type InitResult,
  type Platform,
  type PlatformCallback,
  type PlatformError,
  type SlotInfo,
} from '../../core/platform.js';
import { DEFAULT_CREATE_LATENCY_MS } from '../contest/contest-platform.js';

/** Loopback gRPC round trip modelled per platform call in virtual time. */
export const DEFAULT_PLATFORM_RPC_MS = 0.5;

export interface SlotLedgerListener {
  onSlotCreated(slotId: string, memoryMb: number, atMs: number): void;
  /** The slot now hosts a ready instance of this function (its Init succeeded, at `atMs`), as the live platform reports. */
  onSlotBound?(slotId: string, metaKey: string, atMs?: number): void;
  onSlotDestroyed(slotId: string, atMs: number): void;
}

/** Decides whether a platform call fails; returning null lets it through. */
export interface VirtualFaults {
  createSlot?(memoryMb: number): PlatformError | null;
  init?(key: string): PlatformError | null;
  destroySlot?(slotId: string): PlatformError | null;
  /** Multiplier applied to a call's latency (spikes); 1 when absent. */
  latencyFactor?(call: 'createSlot' | 'init'): number;
}

export interface VirtualPlatformOptions {
  clock: VirtualClock;
  /** Init duration of a function, from the dataset's metas. */
  initDurationMs: (key: string) => number;
  createLatencyMs?: number;
  rpcMs?: number;
  listener?: SlotLedgerListener;
  faults?: VirtualFaults;
}

export interface VirtualSlot {
  readonly id: string;
  readonly memoryMb: number;
  readonly createdAt: number;
  destroyedAt: number;
  instanceId: string;
  key: string;
  /** 0 created, 1 initialising, 2 ready, 3 destroyed */
  state: 0 | 1 | 2 | 3;
  /** Replayer's ledger: a request is executing on the instance. */
  busy: boolean;
  /** Replayer's ledger: a request with a non-200 status ran on it; any further use fails. */
  broken: boolean;
  /** Replayer's ledger: the slot was attributed to a function in the score book. */
  bound: boolean;
}

function permanent(message: string): PlatformError {
  return { kind: PlatformErrorKind.Permanent, message };
}

/**
 * The contest platform in virtual time, with the semantics of the live emulator: a slot
 * exists from the end of `CreateSlot`; `Init` checks the slot exists, is fresh and has the
 * function's memory, then takes the function's init duration; `DestroySlot` ends the cost.
 */
export class VirtualPlatform implements Platform {
  readonly slots = new Map<string, VirtualSlot>();
  /** instance id -> slot */
  readonly instances = new Map<string, VirtualSlot>();
  liveSlots = 0;
  peakLiveSlots = 0;
  private seq = 0;
  private readonly clock: VirtualClock;
  private readonly createMs: number;
  private readonly rpcMs: number;
  private readonly initMs: (key: string) => number;
  private readonly listener: SlotLedgerListener | undefined;
  private readonly faults: VirtualFaults | undefined;

  constructor(opts: VirtualPlatformOptions) {
    this.clock = opts.clock;
    this.createMs = opts.createLatencyMs ?? DEFAULT_CREATE_LATENCY_MS;
    this.rpcMs = opts.rpcMs ?? DEFAULT_PLATFORM_RPC_MS;
    this.initMs = opts.initDurationMs;
    this.listener = opts.listener;
    this.faults = opts.faults;
  }

  createSlot(_requestId: string, memoryMb: number, cb: PlatformCallback<SlotInfo>): void {
    const clock = this.clock;
    const fault = this.faults?.createSlot?.(memoryMb) ?? null;
    if (fault !== null) {
      clock.fire(clock.now() + this.rpcMs, () => cb(fault));
      return;
    }
    if (!(memoryMb > 0)) {
      clock.fire(clock.now() + this.rpcMs, () => cb(permanent(`invalid memory ${memoryMb}`)));
      return;
    }
    const factor = this.faults?.latencyFactor?.('createSlot') ?? 1;
    clock.fire(clock.now() + this.rpcMs + this.createMs * factor, () => {
      const now = clock.now();
      const slot: VirtualSlot = { id: `vs-${this.seq++}`, memoryMb, createdAt: now, destroyedAt: NaN, instanceId: '', key: '', state: 0, busy: false, broken: false, bound: false };
      this.slots.set(slot.id, slot);
      if (++this.liveSlots > this.peakLiveSlots) this.peakLiveSlots = this.liveSlots;
      this.listener?.onSlotCreated(slot.id, memoryMb, now);
      cb(null, { slotId: slot.id, memoryMb, createTime: now });
    });
  }

  init(_requestId: string, slotId: string, instanceId: string, meta: FunctionMetaRef, cb: PlatformCallback<InitResult>): void {
    const clock = this.clock;
    const slot = this.slots.get(slotId);
    let err: PlatformError | null = null;
    if (slot === undefined) err = permanent(`unknown slot "${slotId}"`);
    else if (slot.state === 3) err = permanent(`slot "${slotId}" is destroyed`);
    else if (slot.state !== 0) err = permanent(`slot "${slotId}" is already initialised`);
    else if (slot.memoryMb !== meta.memoryMb) err = permanent(`slot "${slotId}" has ${slot.memoryMb} MB, function needs ${meta.memoryMb} MB`);
    else if (this.instances.has(instanceId)) err = permanent(`instance id "${instanceId}" already used`);
    else err = this.faults?.init?.(meta.key) ?? null;
    if (err !== null || slot === undefined) {
      const e = err!;
      clock.fire(clock.now() + this.rpcMs, () => cb(e));
      return;
    }
    slot.state = 1;
    slot.instanceId = instanceId;
    slot.key = meta.key;
    this.instances.set(instanceId, slot);
    const initMs = this.initMs(meta.key) * (this.faults?.latencyFactor?.('init') ?? 1);
    clock.fire(clock.now() + this.rpcMs + initMs, () => {
      if (slot.state !== 1) {
        cb(permanent(`slot "${slotId}" was destroyed during init`));
        return;
      }
      slot.state = 2;
      this.listener?.onSlotBound?.(slot.id, meta.key, clock.now());
      cb(null, { initDurationMs: initMs });
    });
  }

  destroySlot(_requestId: string, slotId: string, _reason: string, cb: PlatformCallback<void>): void {
    const clock = this.clock;
    const fault = this.faults?.destroySlot?.(slotId) ?? null;
    const slot = this.slots.get(slotId);
    const at = clock.now() + this.rpcMs / 2;
    clock.fire(at, () => {
      if (fault !== null) {
        cb(fault);
        return;
      }
      if (slot === undefined || slot.state === 3) {
        cb(permanent(`unknown or destroyed slot "${slotId}"`));
        return;
      }
      slot.state = 3;
      slot.destroyedAt = clock.now();
      // Forget destroyed slots: memory stays bounded by live instances, not trace length.
      this.slots.delete(slotId);
      if (slot.instanceId !== '') this.instances.delete(slot.instanceId);
      this.liveSlots--;
      this.listener?.onSlotDestroyed(slotId, slot.destroyedAt);
      cb(null);
    });
  }
}
