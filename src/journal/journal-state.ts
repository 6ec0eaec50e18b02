import { SlotPhase, type JournalVisitor, type SlotSnapshot } from './journal-format.js';

/** A live slot as the journal knows it (mutable view of a `SlotSnapshot`). */
export interface JournaledSlot {
  readonly slotId: string;
  memoryMb: number;
  phase: SlotPhase;
  instanceId: string;
  key: string;
  runtime: string;
  timeoutInSecs: number;
  busyRequestId: string;
}

/**
 * What a journal's records add up to: every slot not yet destroyed, with its instance, function,
 * phase and the request holding it, and the CreateSlot calls still unanswered. The same class
 * replays a file on start (recovery) and mirrors the writer's records while it runs (so that a
 * compaction snapshot is the state, not a re-read of the file).
 *
 * Records that do not fit the slot's phase are ignored rather than trusted: an Init reply after
 * the slot was retired, a release by a request that no longer holds the instance (its Idle raced
 * a waiter being served) or an assignment of a retired instance change nothing.
 */
export class JournalState implements JournalVisitor {
  readonly slots = new Map<string, JournaledSlot>();
  /** Request ids of CreateSlot calls sent and not answered. */
  readonly pendingCreates = new Set<string>();
  private readonly byInstance = new Map<string, JournaledSlot>();

  get size(): number {
    return this.slots.size;
  }

  creating(requestId: string): void {
    this.pendingCreates.add(requestId);
  }

  created(requestId: string, slotId: string, memoryMb: number): void {
    this.pendingCreates.delete(requestId);
    if (this.slots.has(slotId)) return;
    this.slots.set(slotId, { slotId, memoryMb, phase: SlotPhase.Created, instanceId: '', key: '', runtime: '', timeoutInSecs: 0, busyRequestId: '' });
  }

  createEnded(requestId: string): void {
    this.pendingCreates.delete(requestId);
  }

  initBegun(slotId: string, instanceId: string, key: string, runtime: string, timeoutInSecs: number, memoryMb: number): void {
    const s = this.slots.get(slotId);
    if (s === undefined || s.phase !== SlotPhase.Created) return;
    s.phase = SlotPhase.Initialising;
    s.instanceId = instanceId;
    s.key = key;
    s.runtime = runtime;
    s.timeoutInSecs = timeoutInSecs;
    s.memoryMb = memoryMb;
    this.byInstance.set(instanceId, s);
  }

  ready(slotId: string): void {
    const s = this.slots.get(slotId);
    if (s !== undefined && s.phase === SlotPhase.Initialising) s.phase = SlotPhase.Ready;
  }

  assigned(instanceId: string, requestId: string): void {
    const s = this.byInstance.get(instanceId);
    if (s !== undefined && s.phase === SlotPhase.Ready) s.busyRequestId = requestId;
  }

  released(instanceId: string, requestId: string): void {
    const s = this.byInstance.get(instanceId);
    // A retired instance can still be released (need_destroy: retired, then its Idle returns).
    if (s !== undefined && s.phase >= SlotPhase.Ready && s.busyRequestId === requestId) s.busyRequestId = '';
  }

  retired(slotId: string): void {
    const s = this.slots.get(slotId);
    if (s !== undefined) s.phase = SlotPhase.Retired;
  }

  /** True when the slot is known and already retired (the writer then skips a duplicate record). */
  isRetired(slotId: string): boolean {
    return this.slots.get(slotId)?.phase === SlotPhase.Retired;
  }

  destroyed(slotId: string): void {
    const s = this.slots.get(slotId);
    if (s === undefined) return;
    this.slots.delete(slotId);
    if (s.instanceId !== '' && this.byInstance.get(s.instanceId) === s) this.byInstance.delete(s.instanceId);
  }

  slot(snap: SlotSnapshot): void {
    const s: JournaledSlot = { ...snap };
    this.slots.set(s.slotId, s);
    if (s.instanceId !== '') this.byInstance.set(s.instanceId, s);
  }

  /** Forgets everything (a writer whose file could not be kept). */
  clear(): void {
    this.slots.clear();
    this.byInstance.clear();
    this.pendingCreates.clear();
  }
}
