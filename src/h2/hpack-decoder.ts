/**
 * HPACK header block decoding (RFC 7541) for the raw HTTP/2 client: static and dynamic table,
 * integer and (Huffman-coded or plain) string literals. One decoder per connection; every block
 * of the connection must pass through it, in order, to keep the dynamic table in step.
 */
import { HpackError } from './hpack-error.js';
import { decodeHuffman } from './hpack-huffman.js';
import { HPACK_STATIC_TABLE } from './hpack-static-table.js';

/** SETTINGS_HEADER_TABLE_SIZE we advertise (the protocol default, so nothing is sent). */
export const HPACK_DECODER_TABLE_BYTES = 4096;
/** RFC 7541 section 4.1: an entry costs its name and value lengths plus 32. */
const ENTRY_OVERHEAD = 32;
const STATIC_COUNT = HPACK_STATIC_TABLE.length;

/** Receives each decoded header; `this`-free so a class method bound once can be passed. */
export type HeaderSink = (name: string, value: string) => void;

export class HpackDecoder {
  /** Dynamic table, oldest first (index 62 is the last element). */
  private names: string[] = [];
  private values: string[] = [];
  private size = 0;
  private maxSize = HPACK_DECODER_TABLE_BYTES;
  private pos = 0;

  /** Decodes the block `buf[start, end)`, calling `sink` per header field in order. */
  decode(buf: Buffer, start: number, end: number, sink: HeaderSink): void {
    this.pos = start;
    while (this.pos < end) {
      const b = buf[this.pos]!;
      if (b & 0x80) {
        const i = this.int(buf, end, 7);
        if (i === 0) throw new HpackError('indexed header field 0');
        sink(this.nameAt(i), this.valueAt(i));
      } else if (b & 0x40) {
        const i = this.int(buf, end, 6);
        const name = i === 0 ? this.str(buf, end) : this.nameAt(i);
        const value = this.str(buf, end);
        this.add(name, value);
        sink(name, value);
      } else if (b & 0x20) {
        const size = this.int(buf, end, 5);
        if (size > HPACK_DECODER_TABLE_BYTES) throw new HpackError(`table size update ${size} above ${HPACK_DECODER_TABLE_BYTES}`);
        this.maxSize = size;
        this.evict(0);
      } else {
        // Literal without indexing (0000) or never indexed (0001): same shape, not stored.
        const i = this.int(buf, end, 4);
        const name = i === 0 ? this.str(buf, end) : this.nameAt(i);
        sink(name, this.str(buf, end));
      }
    }
  }

  private int(buf: Buffer, end: number, prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    let v = buf[this.pos++]! & max;
    if (v < max) return v;
    for (let m = 0; m <= 28; m += 7) {
      if (this.pos >= end) throw new HpackError('truncated integer');
      const x = buf[this.pos++]!;
      v += (x & 127) * 2 ** m;
      if (x < 128) return v;
    }
    throw new HpackError('integer too large');
  }

  private str(buf: Buffer, end: number): string {
    if (this.pos >= end) throw new HpackError('truncated string');
    const huffman = (buf[this.pos]! & 0x80) !== 0;
    const len = this.int(buf, end, 7);
    const at = this.pos;
    if (len > end - at) throw new HpackError('truncated string');
    this.pos = at + len;
    return huffman ? decodeHuffman(buf, at, at + len) : buf.toString('latin1', at, at + len);
  }

  private nameAt(i: number): string {
    if (i <= STATIC_COUNT) return HPACK_STATIC_TABLE[i - 1]![0];
    const d = this.names.length - 1 - (i - STATIC_COUNT - 1);
    if (d < 0) throw new HpackError(`header index ${i} beyond the tables`);
    return this.names[d]!;
  }

  private valueAt(i: number): string {
    if (i <= STATIC_COUNT) return HPACK_STATIC_TABLE[i - 1]![1];
    return this.values[this.values.length - 1 - (i - STATIC_COUNT - 1)]!;
  }

  private add(name: string, value: string): void {
    const cost = name.length + value.length + ENTRY_OVERHEAD;
    if (cost > this.maxSize) {
      // An entry larger than the table empties it and is not stored (section 4.4).
      this.names = [];
      this.values = [];
      this.size = 0;
      return;
    }
    this.evict(cost);
    this.names.push(name);
    this.values.push(value);
    this.size += cost;
  }

  /** Drops the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    while (this.size + room > this.maxSize && this.names.length > 0) {
      this.size -= this.names[0]!.length + this.values[0]!.length + ENTRY_OVERHEAD;
      this.names.shift();
      this.values.shift();
    }
  }
}
