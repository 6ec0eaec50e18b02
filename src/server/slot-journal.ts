import type { ShardEvent } from '../shard/shard-messages.js';

/**
 * Main's record of every live slot per shard, fed by the shards' slot events. If a shard
 * crashes, its replacement is handed the slots it left so they are destroyed, not leaked.
 *
 * It lives in this process's memory, so it covers a shard worker's death only; the on-disk
 * journal (src/journal, one file per shard, written by the shards) covers the process's own.
 * With the disk journal on, a restarted worker takes the union of both (the file can know a slot
 * whose event died with the worker); with it off (`--journal off`) this is the only one.
 */
export class SlotJournal {
  /** Per shard: slot id -> [memory MB, instance id]. */
  private readonly perShard: Map<string, readonly [number, string]>[];

  constructor(shards: number) {
    this.perShard = Array.from({ length: shards }, () => new Map<string, readonly [number, string]>());
  }

  apply(shard: number, ev: ShardEvent): void {
    const m = this.perShard[shard];
    if (m === undefined) return;
    if (ev.t === 'slot-created') m.set(ev.slotId, [ev.mem, ev.iid]);
    else if (ev.t === 'slot-destroyed') m.delete(ev.slotId);
  }

  /** The instance id of a live slot of `shard` ('' when unknown or not yet initialising). */
  instanceOf(shard: number, slotId: string): string {
    return this.perShard[shard]?.get(slotId)?.[1] ?? '';
  }

  /** [slot id, memory MB, instance id] of every live slot of `shard`. */
  liveSlots(shard: number): Array<[string, number, string]> {
    const out: Array<[string, number, string]> = [];
    for (const [id, [mem, iid]] of this.perShard[shard] ?? []) out.push([id, mem, iid]);
    return out;
  }

  /** Every journaled slot id, all shards (the `/slots` endpoint, leak checks). */
  allSlotIds(): string[] {
    const out: string[] = [];
    for (const m of this.perShard) for (const id of m.keys()) out.push(id);
    return out;
  }

  get total(): number {
    let n = 0;
    for (const m of this.perShard) n += m.size;
    return n;
  }
}
