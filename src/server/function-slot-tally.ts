import type { SlotCreatedEvent, SlotDestroyedEvent } from '../shard/shard-messages.js';

interface FunctionSlots {
  readonly key: string;
  slots: number;
  memoryMb: number;
}

/**
 * Live slots per function, from the shards' slot events (the ones main's journal gets), for the
 * opt-in per-function series of `/metrics` (`--metrics-top-functions N`). Kept only when that
 * option is on: it costs two map operations per slot created or destroyed on the main thread.
 */
export class FunctionSlotTally {
  private readonly byKey = new Map<string, FunctionSlots>();
  private readonly bySlot = new Map<string, FunctionSlots>();

  apply(ev: SlotCreatedEvent | SlotDestroyedEvent): void {
    if (ev.t === 'slot-created') {
      let f = this.byKey.get(ev.key);
      if (f === undefined) {
        f = { key: ev.key, slots: 0, memoryMb: 0 };
        this.byKey.set(ev.key, f);
      }
      f.slots++;
      f.memoryMb += ev.mem;
      this.bySlot.set(ev.slotId, f);
      return;
    }
    const f = this.bySlot.get(ev.slotId);
    if (f === undefined) return;
    this.bySlot.delete(ev.slotId);
    const mem = f.slots > 0 ? f.memoryMb / f.slots : 0;
    f.slots--;
    f.memoryMb -= mem;
    if (f.slots === 0) this.byKey.delete(f.key);
  }

  /** The `n` functions with most live slot memory (ties by key), most first. */
  top(n: number): ReadonlyArray<Readonly<FunctionSlots>> {
    if (n <= 0) return [];
    const all = [...this.byKey.values()];
    all.sort((a, b) => b.memoryMb - a.memoryMb || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return all.slice(0, n);
  }
}
