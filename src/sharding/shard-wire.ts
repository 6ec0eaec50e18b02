/**
 * Encoding of one record's payload in a shared ring (`shared-ring.ts`): the primitives an
 * embedder's {@link ShardCodec} writes and reads, in place in the ring's bytes.
 *
 * Interned strings (`interned`) are sent in full once and as a small integer afterwards: the
 * writer and the reader of one ring keep matching tables, which live exactly as long as the ring
 * (a restarted worker gets new rings, so both tables start empty together). Use them for values
 * that repeat (function keys, runtimes), plain `str` for values that do not (request ids).
 */

/** Entries per interning table; past it, new strings are sent in full every time. */
export const MAX_INTERNED_STRINGS = 1 << 20;
/** Interned-string tag: the string follows and takes the next id. */
const INTERN_NEW = 0;
/** Interned-string tag: the string follows, the table is full (not interned). */
const INTERN_NONE = 0xffff_ffff;

/** Upper bound of the bytes {@link WireWriter.str} writes for `s`. */
export function strBytes(s: string): number {
  return 4 + s.length * 3;
}

/** Upper bound of the bytes {@link WireWriter.interned} writes for `s`. */
export function internedBytes(s: string): number {
  return 4 + strBytes(s);
}

export class WireWriter {
  /** The ring's data bytes; `pos` is where the next value goes. */
  pos = 0;
  private readonly ids = new Map<string, number>();

  constructor(readonly buf: Buffer) {}

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  /** An unsigned 32-bit integer, little-endian. */
  u32(v: number): void {
    const b = this.buf;
    let p = this.pos;
    b[p++] = v;
    b[p++] = v >>> 8;
    b[p++] = v >>> 16;
    b[p++] = v >>> 24;
    this.pos = p;
  }

  f64(v: number): void {
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }

  bool(v: boolean): void {
    this.buf[this.pos++] = v ? 1 : 0;
  }

  /** A UTF-8 string with a 32-bit byte length. */
  str(s: string): void {
    const at = this.pos;
    const n = s.length === 0 ? 0 : this.buf.write(s, at + 4, 'utf8');
    this.u32(n);
    this.pos = at + 4 + n;
  }

  /** A string that repeats: in full the first time, as its table id afterwards. */
  interned(s: string): void {
    const id = this.ids.get(s);
    if (id !== undefined) {
      this.u32(id);
      return;
    }
    if (this.ids.size < MAX_INTERNED_STRINGS) {
      // Ids start at 1 (0 is the "new" tag) and follow insertion order, as the reader's do.
      this.ids.set(s, this.ids.size + 1);
      this.u32(INTERN_NEW);
    } else {
      this.u32(INTERN_NONE);
    }
    this.str(s);
  }
}

export class WireReader {
  /** The ring's data bytes; `pos` is where the next value is read. */
  pos = 0;
  /** Interned strings by id; index 0 unused. */
  private readonly strings: string[] = [''];

  constructor(readonly buf: Buffer) {}

  u8(): number {
    return this.buf[this.pos++]!;
  }

  u32(): number {
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x100_0000;
  }

  f64(): number {
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  bool(): boolean {
    return this.buf[this.pos++] !== 0;
  }

  str(): string {
    const n = this.u32();
    if (n === 0) return '';
    const at = this.pos;
    this.pos = at + n;
    return this.buf.toString('utf8', at, at + n);
  }

  interned(): string {
    const tag = this.u32();
    if (tag === INTERN_NEW) {
      const s = this.str();
      this.strings.push(s);
      return s;
    }
    if (tag === INTERN_NONE) return this.str();
    const s = this.strings[tag];
    if (s === undefined) throw new RangeError(`interned string ${tag} unknown (rings out of step)`);
    return s;
  }
}

/**
 * How an embedder's messages cross the shared rings: for each of request, reply and event, an
 * upper bound of its encoded size and a writer and reader. The same (stateless) object is given
 * to `ShardRouter.start({ codec })` and `serveShard(handler, { codec })`; interning state lives
 * in the rings' writers and readers.
 */
export interface ShardCodec<Req, Res, Ev = never> {
  requestBytes(body: Req): number;
  writeRequest(w: WireWriter, body: Req): void;
  readRequest(r: WireReader): Req;
  replyBytes(res: Res): number;
  writeReply(w: WireWriter, res: Res): void;
  readReply(r: WireReader): Res;
  eventBytes(ev: Ev): number;
  writeEvent(w: WireWriter, ev: Ev): void;
  readEvent(r: WireReader): Ev;
}
