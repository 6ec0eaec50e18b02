/**
 * Per-shard numeric counters in one SharedArrayBuffer, readable by every thread without
 * messaging (dashboards, load-aware routing, the scaler's global view).
 *
 * Byte layout (all cells are native-endian float64, offsets in bytes, `L` = 64, a cache line):
 *
 *   [0, 64)                      header: magic, version, shards, R, U, routerStride, userStride, 0
 *   [64, 64 + S*Rs*8)            router region: S rows of `routerStride` (Rs) cells; the first R
 *                                cells of row s are the ROUTER_COUNTER_FIELDS of shard s
 *   [64 + S*Rs*8, ... + S*Us*8)  user region: S rows of `userStride` (Us) cells; the first U cells
 *                                of row s are the embedder's CounterLayout fields of shard s
 *
 * where S = shards, R = ROUTER_COUNTER_FIELDS.length, U = layout length, and each stride is the
 * field count rounded up to a multiple of 8 cells, so no cache line is shared by two shards or by
 * the router and a worker (no false sharing between writers).
 *
 * Writers, by convention (the buffer does not enforce it):
 *  - router fields: written only by the main thread (the ShardRouter); workers read them.
 *  - user fields of row s: written only by shard s's worker, unless the embedder documents
 *    another single writer for a field. `add` is a plain read-modify-write, not atomic, so two
 *    writers of one cell lose updates. Aligned 8-byte stores do not tear on the platforms Node
 *    supports, so readers see old or new values, never a mix; totals are not a consistent cut.
 *
 * A restarted worker attaches to the same buffer and finds its row as its predecessor left it:
 * resetting (or keeping) user fields across a restart is the embedder's decision.
 */

/** Fields the router maintains for every shard (separate region from the embedder's). */
export const ROUTER_COUNTER_FIELDS = [
  /** Requests sent (or batched for sending) to the worker and not yet answered. */
  'routerInFlight',
  /** Requests waiting in the router's per-shard backpressure queue. */
  'routerQueued',
  /** Requests accepted for the shard since the router started (queued or sent). */
  'routerRequests',
  /** Requests rejected with SHARD_OVERLOADED. */
  'routerOverloads',
  /** postMessage calls carrying request batches to the shard (one per flushed microtask). */
  'routerBatchesSent',
  /** Reply batches received from the shard. */
  'routerBatchesReceived',
  /** Times the shard's worker was restarted. */
  'routerRestarts',
  /** Current worker generation (0 for the first worker). */
  'routerGeneration',
] as const;
export type RouterCounterField = (typeof ROUTER_COUNTER_FIELDS)[number];

/** The embedder's ordered per-shard fields, declared once, e.g. `['inflight', 'liveSlots'] as const`. */
export type CounterLayout<F extends string = string> = readonly F[];

/** Every field name of a counter set with user layout `F`. */
export type CounterField<F extends string> = F | RouterCounterField;

export interface CounterSnapshot<F extends string> {
  readonly perShard: Record<CounterField<F>, number>[];
  readonly totals: Record<CounterField<F>, number>;
}

const MAGIC = 0x5348_4354; // "SHCT"
const VERSION = 1;
const HEADER_CELLS = 8;
const CELLS_PER_LINE = 8;

/** Validate a layout (unique, non-empty names, no clash with router fields) and freeze it. */
export function defineCounterLayout<const F extends string>(fields: readonly F[]): CounterLayout<F> {
  const seen = new Set<string>();
  for (const f of fields) {
    if (typeof f !== 'string' || f.length === 0) throw new TypeError('counter field names must be non-empty strings');
    if (seen.has(f)) throw new TypeError(`duplicate counter field '${f}'`);
    if ((ROUTER_COUNTER_FIELDS as readonly string[]).includes(f)) {
      throw new TypeError(`counter field '${f}' is reserved for the router`);
    }
    seen.add(f);
  }
  return Object.freeze([...fields]);
}

function strideFor(fields: number): number {
  return Math.max(CELLS_PER_LINE, Math.ceil(fields / CELLS_PER_LINE) * CELLS_PER_LINE);
}

/** Bytes needed for `shards` rows of `layout` (plus the router region and header). */
export function counterBufferBytes(layout: CounterLayout, shards: number): number {
  const cells =
    HEADER_CELLS + shards * strideFor(ROUTER_COUNTER_FIELDS.length) + shards * strideFor(layout.length);
  return cells * 8;
}

export class SharedCounters<F extends string = string> {
  readonly shards: number;
  /** All field names: router fields first, then the user layout (the index space of `getAt`). */
  readonly fields: readonly CounterField<F>[];
  readonly buffer: SharedArrayBuffer;
  private readonly cells: Float64Array;
  private readonly indexByName: Map<string, number>;
  /** cell offset of (shard, fieldIndex) at `shard * fields.length + fieldIndex`. */
  private readonly offsets: Int32Array;
  private readonly nFields: number;

  private constructor(layout: CounterLayout<F>, shards: number, buffer: SharedArrayBuffer, init: boolean) {
    if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a positive integer, got ${shards}`);
    const userLayout = defineCounterLayout(layout);
    const bytes = counterBufferBytes(userLayout, shards);
    if (buffer.byteLength < bytes) {
      throw new RangeError(`counter buffer has ${buffer.byteLength} bytes, layout needs ${bytes}`);
    }
    this.shards = shards;
    this.buffer = buffer;
    this.cells = new Float64Array(buffer, 0, bytes / 8);
    this.fields = Object.freeze([...ROUTER_COUNTER_FIELDS, ...userLayout]);
    this.nFields = this.fields.length;
    this.indexByName = new Map(this.fields.map((f, i) => [f, i]));

    const r = ROUTER_COUNTER_FIELDS.length;
    const u = userLayout.length;
    const rs = strideFor(r);
    const us = strideFor(u);
    const header = [MAGIC, VERSION, shards, r, u, rs, us, 0];
    if (init) {
      this.cells.set(header, 0);
    } else {
      for (let i = 0; i < header.length; i++) {
        if (this.cells[i] !== header[i]) {
          throw new TypeError(
            `counter buffer header mismatch at cell ${i} (found ${this.cells[i]}, expected ${header[i]}): ` +
              'attach with the same layout and shard count as the creator',
          );
        }
      }
    }
    const userBase = HEADER_CELLS + shards * rs;
    this.offsets = new Int32Array(shards * this.nFields);
    for (let s = 0; s < shards; s++) {
      for (let i = 0; i < this.nFields; i++) {
        this.offsets[s * this.nFields + i] =
          i < r ? HEADER_CELLS + s * rs + i : userBase + s * us + (i - r);
      }
    }
  }

  /** Allocate a zeroed buffer for `shards` rows of `layout` (main thread). */
  static create<const F extends string>(layout: CounterLayout<F>, shards: number): SharedCounters<F> {
    return new SharedCounters(layout, shards, new SharedArrayBuffer(counterBufferBytes(layout, shards)), true);
  }

  /** View an existing buffer (e.g. in a worker); throws if layout or shard count differ. */
  static attach<const F extends string>(
    layout: CounterLayout<F>,
    shards: number,
    buffer: SharedArrayBuffer,
  ): SharedCounters<F> {
    return new SharedCounters(layout, shards, buffer, false);
  }

  /** Index of `field` for the `*At` fast paths; resolve once, outside hot loops. */
  indexOf(field: CounterField<F>): number {
    const i = this.indexByName.get(field);
    if (i === undefined) throw new RangeError(`unknown counter field '${field}'`);
    return i;
  }

  getAt(shard: number, index: number): number {
    return this.cells[this.offsets[shard * this.nFields + index]!]!;
  }

  setAt(shard: number, index: number, value: number): void {
    this.cells[this.offsets[shard * this.nFields + index]!] = value;
  }

  addAt(shard: number, index: number, delta: number): void {
    this.cells[this.offsets[shard * this.nFields + index]!]! += delta;
  }

  get(shard: number, field: CounterField<F>): number {
    return this.getAt(shard, this.indexOf(field));
  }

  set(shard: number, field: CounterField<F>, value: number): void {
    this.setAt(shard, this.indexOf(field), value);
  }

  add(shard: number, field: CounterField<F>, delta: number): void {
    this.addAt(shard, this.indexOf(field), delta);
  }

  totalAt(index: number): number {
    let sum = 0;
    for (let s = 0; s < this.shards; s++) sum += this.getAt(s, index);
    return sum;
  }

  /** Sum of `field` over all shards (each row read once; not an atomic cut). */
  total(field: CounterField<F>): number {
    return this.totalAt(this.indexOf(field));
  }

  snapshot(): CounterSnapshot<F> {
    const perShard: Record<CounterField<F>, number>[] = [];
    const totals = {} as Record<CounterField<F>, number>;
    for (const f of this.fields) totals[f] = 0;
    for (let s = 0; s < this.shards; s++) {
      const row = {} as Record<CounterField<F>, number>;
      for (let i = 0; i < this.nFields; i++) {
        const f = this.fields[i]!;
        const v = this.getAt(s, i);
        row[f] = v;
        totals[f] += v;
      }
      perShard.push(row);
    }
    return { perShard, totals };
  }
}
