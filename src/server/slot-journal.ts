import type { ShardEvent } from '../shard-messages.js';

/**
 * Main's record of every live slot per shard, fed by the shards' slot events. If a shard
 * crashes, its replacement is handed the slots it left so they are destroyed, not leaked.
 */
export class SlotJournal {
  private readonly perShard: Map<string, number>[];

  constructor(shards: number) {
    this.perShard = Array.from({ length: shards }, () => new Map<string, number>());
  }

  apply(shard: number, ev: ShardEvent): void {
    const m = this.perShard[shard];
    if (m === undefined) return;
    if (ev.t === 'slot-created') m.set(ev.slotId, ev.mem);
    else m.delete(ev.slotId);
  }

  liveSlots(shard: number): Array<[string, number]> {
    return [...(this.perShard[shard] ?? [])];
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
