/**
 * HPACK encoding of the raw HTTP/2 client's few fixed request header lists. Each (name, value)
 * goes out once as a literal with incremental indexing and as a one- or two-byte index after
 * that, as gRPC clients do, so a call's HEADERS frame is a handful of bytes. The encoder never
 * evicts: it stops indexing new entries when they would no longer fit the peer's table. Strings
 * are sent without Huffman coding (bytes are not what costs on a local link).
 */
import { HPACK_STATIC_TABLE } from './hpack-static-table.js';

const ENTRY_OVERHEAD = 32;
const STATIC_COUNT = HPACK_STATIC_TABLE.length;

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

function staticIndex(name: string, value: string): { full: number; name: number } {
  let nameIndex = 0;
  for (let i = 0; i < STATIC_COUNT; i++) {
    const [n, v] = HPACK_STATIC_TABLE[i]!;
    if (n !== name) continue;
    if (v === value) return { full: i + 1, name: i + 1 };
    if (nameIndex === 0) nameIndex = i + 1;
  }
  return { full: 0, name: nameIndex };
}

export class HpackEncoder {
  /** Insertion number of each entry this encoder added to the peer's table. */
  private readonly inserted = new Map<string, number>();
  private count = 0;
  private size = 0;
  /** The peer shrank its table: the next block starts with a size update to 0 (RFC 7541 4.2). */
  private sizeUpdatePending = false;

  /** `maxSize`: the peer's SETTINGS_HEADER_TABLE_SIZE (4096 until it says otherwise). */
  constructor(private maxSize = 4096) {}

  /** The peer lowered its table size: index nothing more (existing entries may be evicted). */
  limit(maxSize: number): void {
    if (maxSize < this.maxSize) {
      this.maxSize = 0;
      this.size = 0;
      this.inserted.clear();
      this.sizeUpdatePending = true;
    }
  }

  /** Whether entries were indexed since the block of `version` was encoded (indices moved). */
  get version(): number {
    return this.count + (this.maxSize === 0 ? 0x4000_0000 : 0) + (this.sizeUpdatePending ? 0x2000_0000 : 0);
  }

  /** The header block for `headers`, indexing what it can. */
  encode(headers: HeaderList): Buffer {
    const bytes: number[] = [];
    if (this.sizeUpdatePending) {
      this.sizeUpdatePending = false;
      bytes.push(0x20);
    }
    for (const [name, value] of headers) {
      const s = staticIndex(name, value);
      if (s.full !== 0) {
        int(bytes, 0x80, 7, s.full);
        continue;
      }
      const key = `${name}\0${value}`;
      const k = this.inserted.get(key);
      if (k !== undefined) {
        int(bytes, 0x80, 7, STATIC_COUNT + this.count - k + 1);
        continue;
      }
      const cost = name.length + value.length + ENTRY_OVERHEAD;
      const index = this.size + cost <= this.maxSize;
      if (index) {
        int(bytes, 0x40, 6, s.name);
        this.inserted.set(key, ++this.count);
        this.size += cost;
      } else {
        int(bytes, 0x00, 4, s.name);
      }
      if (s.name === 0) literal(bytes, name);
      literal(bytes, value);
    }
    return Buffer.from(bytes);
  }
}

function int(out: number[], flags: number, prefixBits: number, v: number): void {
  const max = (1 << prefixBits) - 1;
  if (v < max) {
    out.push(flags | v);
    return;
  }
  out.push(flags | max);
  v -= max;
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function literal(out: number[], s: string): void {
  const b = Buffer.from(s, 'latin1');
  int(out, 0x00, 7, b.length);
  for (const x of b) out.push(x);
}
