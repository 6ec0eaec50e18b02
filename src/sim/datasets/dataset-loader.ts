/**
 * Loads and validates contest datasets (a folder with `metas` and `requests`, JSON lines).
 *
 * Ordering: the contest's `requests` files are sorted by startTime and both engines rely on it
 * (open-loop replay in arrival order), so an out-of-order line is reported as a
 * `DATASET_MALFORMED` error with its line number rather than silently re-sorted.
 * Blank lines (including a trailing newline or CRLF leftovers) are skipped everywhere.
 *
 * Requests are never loaded whole by the streaming entry points: `streamRequests` reads lines
 * through readline, `forEachRequestFieldsSync` / `forEachRequestSync` read fixed-size chunks and
 * parse the contest's exact line shape straight from the bytes (no string or object per line).
 * Both use hand parsers for that shape and fall back to `JSON.parse` for anything else, so the
 * accepted language is exactly JSON.
 */
import { createReadStream, closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { MetaRecord, RequestRecord } from '../contest/dataset-types.js';
import { TraceWindowFilter, type TraceWindow } from './trace-window.js';

export const METAS_FILE = 'metas';
export const REQUESTS_FILE = 'requests';
/** Chunk size of the synchronous reader; large enough to amortise syscalls, small enough for cache. */
export const SYNC_READ_CHUNK_BYTES = 1 << 20;

export type DatasetErrorCode = 'DATASET_MALFORMED' | 'DATASET_MISSING';

export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  readonly file: string;
  /** 1-based line number; 0 when the error concerns the whole file. */
  readonly line: number;
  readonly reason: string;

  constructor(code: DatasetErrorCode, file: string, line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'DatasetError';
    this.code = code;
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}

export interface Dataset {
  /** Folder name, e.g. `function_smoke_test`. */
  readonly name: string;
  readonly metas: Map<string, MetaRecord>;
  readonly requests: RequestRecord[];
}

export type RequestVisitor = (req: RequestRecord, meta: MetaRecord, line: number) => void;

// ---------------------------------------------------------------------------------------------
// Validation (shared by every entry point)

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(file: string, line: number, reason: string): DatasetError {
  return new DatasetError('DATASET_MALFORMED', file, line, reason);
}

function parseJsonObject(text: string, file: string, line: number): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw malformed(file, line, `invalid JSON (${(e as Error).message})`);
  }
  if (!isObject(v)) throw malformed(file, line, 'expected a JSON object');
  return v;
}

/** Validates one parsed `metas` line. */
export function validateMeta(o: Record<string, unknown>, file: string, line: number): MetaRecord {
  const { key, runtime, memoryInMb, timeoutInSecs, initDurationInMs } = o;
  if (typeof key !== 'string' || key.length === 0) throw malformed(file, line, 'key must be a non-empty string');
  if (typeof memoryInMb !== 'number' || !Number.isInteger(memoryInMb) || memoryInMb <= 0) {
    throw malformed(file, line, `memoryInMb must be a positive integer (got ${JSON.stringify(memoryInMb)})`);
  }
  if (typeof initDurationInMs !== 'number' || !Number.isFinite(initDurationInMs) || initDurationInMs < 0) {
    throw malformed(file, line, `initDurationInMs must be a non-negative number (got ${JSON.stringify(initDurationInMs)})`);
  }
  if (typeof runtime !== 'string') throw malformed(file, line, 'runtime must be a string');
  if (typeof timeoutInSecs !== 'number' || !Number.isFinite(timeoutInSecs)) {
    throw malformed(file, line, `timeoutInSecs must be a number (got ${JSON.stringify(timeoutInSecs)})`);
  }
  return { key, runtime, memoryInMb, timeoutInSecs, initDurationInMs };
}

function checkRequestFields(
  startTime: unknown,
  metaKey: unknown,
  durationsInMs: unknown,
  statusCode: unknown,
  metas: Map<string, MetaRecord>,
  file: string,
  line: number,
): MetaRecord {
  if (typeof startTime !== 'number' || !Number.isFinite(startTime)) {
    throw malformed(file, line, `startTime must be a finite number (got ${JSON.stringify(startTime)})`);
  }
  if (typeof metaKey !== 'string') throw malformed(file, line, 'metaKey must be a string');
  const meta = metas.get(metaKey);
  if (meta === undefined) throw malformed(file, line, `unknown metaKey ${JSON.stringify(metaKey)}`);
  if (typeof durationsInMs !== 'number' || !Number.isFinite(durationsInMs) || durationsInMs < 0) {
    throw malformed(file, line, `durationsInMs must be a non-negative number (got ${JSON.stringify(durationsInMs)})`);
  }
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode)) {
    throw malformed(file, line, `statusCode must be an integer (got ${JSON.stringify(statusCode)})`);
  }
  return meta;
}

// ---------------------------------------------------------------------------------------------
// Fast request-line parser

// The contest's exact line shape; anything else (other spacing or key order, escapes, fractions,
// negative or huge numbers) falls back to JSON.parse, which V8 makes nearly as fast.
const P_START = '{"startTime": ';
const P_KEY = ', "metaKey": "';
const P_DURATION = '", "durationsInMs": ';
const P_STATUS = ', "statusCode": ';
const CH_ZERO = 48;
const CH_NINE = 57;
const CH_CLOSE_BRACE = 125;
/** Up to 15 digits the accumulated value is exact, as JSON.parse's. */
const MAX_FAST_DIGITS = 15;

/** Parses the exact contest shape into its fields; `ok` is false when the line is anything else. */
class ExactLineParser {
  ok = false;
  startTime = 0;
  metaKey = '';
  durationsInMs = 0;
  statusCode = 0;
  private at = 0;

  parse(s: string, start: number, end: number): boolean {
    this.ok = false;
    if (!s.startsWith(P_START, start)) return false;
    if (!this.digits(s, start + P_START.length, end)) return false;
    this.startTime = this.value;
    let i = this.at;
    if (!s.startsWith(P_KEY, i)) return false;
    i += P_KEY.length;
    const q = s.indexOf('"', i);
    if (q < 0 || q >= end) return false;
    const key = s.slice(i, q);
    if (key.includes('\\')) return false; // escapes need the real JSON decoder
    this.metaKey = key;
    if (!s.startsWith(P_DURATION, q)) return false;
    if (!this.digits(s, q + P_DURATION.length, end)) return false;
    this.durationsInMs = this.value;
    i = this.at;
    if (!s.startsWith(P_STATUS, i)) return false;
    if (!this.digits(s, i + P_STATUS.length, end)) return false;
    this.statusCode = this.value;
    i = this.at;
    if (i !== end - 1 || s.charCodeAt(i) !== CH_CLOSE_BRACE) return false;
    this.ok = true;
    return true;
  }

  private value = 0;

  private digits(s: string, from: number, end: number): boolean {
    let v = 0;
    let i = from;
    for (; i < end; i++) {
      const c = s.charCodeAt(i);
      if (c < CH_ZERO || c > CH_NINE) break;
      v = v * 10 + (c - CH_ZERO);
    }
    const n = i - from;
    // JSON forbids leading zeros; leave those (and empty or huge numbers) to JSON.parse.
    if (n === 0 || n > MAX_FAST_DIGITS || (n > 1 && s.charCodeAt(from) === CH_ZERO)) return false;
    this.value = v;
    this.at = i;
    return true;
  }
}

/**
 * Turns request lines into validated records and enforces the non-decreasing startTime order.
 * One instance per file pass.
 */
class RequestLineDecoder {
  private readonly parser = new ExactLineParser();
  private lastStart = -Infinity;

  constructor(
    private readonly metas: Map<string, MetaRecord>,
    private readonly file: string,
  ) {}

  /** Meta of the record last returned by `decode`. */
  meta: MetaRecord | undefined = undefined;

  /** Takes `startTime` as the next record's if it keeps the order; false (no change) otherwise. */
  accept(startTime: number): boolean {
    if (startTime < this.lastStart) return false;
    this.lastStart = startTime;
    return true;
  }

  /** Returns null for blank lines. `text` is the whole buffer; the line is [start, end). */
  decode(text: string, start: number, end: number, line: number): RequestRecord | null {
    let a = start;
    let b = end;
    while (a < b && isWs(text.charCodeAt(a))) a++;
    while (b > a && isWs(text.charCodeAt(b - 1))) b--;
    if (a === b) return null;
    const p = this.parser;
    let startTime: unknown;
    let metaKey: unknown;
    let durationsInMs: unknown;
    let statusCode: unknown;
    if (p.parse(text, a, b)) {
      const meta = this.metas.get(p.metaKey);
      if (meta !== undefined && p.startTime >= this.lastStart) {
        // Known shape, known key, in order: the only checks left cannot fail (digits only).
        this.lastStart = p.startTime;
        this.meta = meta;
        return { startTime: p.startTime, metaKey: meta.key, durationsInMs: p.durationsInMs, statusCode: p.statusCode };
      }
      startTime = p.startTime;
      metaKey = p.metaKey;
      durationsInMs = p.durationsInMs;
      statusCode = p.statusCode;
    } else {
      const o = parseJsonObject(text.slice(a, b), this.file, line);
      startTime = o.startTime;
      metaKey = o.metaKey;
      durationsInMs = o.durationsInMs;
      statusCode = o.statusCode;
    }
    const meta = checkRequestFields(startTime, metaKey, durationsInMs, statusCode, this.metas, this.file, line);
    const t = startTime as number;
    if (t < this.lastStart) {
      throw malformed(this.file, line, `startTime ${t} is before the previous request's ${this.lastStart} (requests must be sorted)`);
    }
    this.lastStart = t;
    this.meta = meta;
    // Reuse the meta's key string so the sliced copy can be collected.
    return { startTime: t, metaKey: meta.key, durationsInMs: durationsInMs as number, statusCode: statusCode as number };
  }
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

// ---------------------------------------------------------------------------------------------
// Byte-level fast path (the virtual engine's loader)

const B_START = Buffer.from(P_START, 'latin1');
const B_KEY = Buffer.from(P_KEY, 'latin1');
const B_DURATION = Buffer.from(P_DURATION, 'latin1');
const B_STATUS = Buffer.from(P_STATUS, 'latin1');
const CH_QUOTE = 34;
const CH_BACKSLASH = 92;
/** Bytes that a key must not contain to be matched without decoding (controls, non-ASCII). */
const CH_FIRST_PRINTABLE = 32;
const CH_LAST_ASCII = 127;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Maps the raw UTF-8 bytes of a meta key to its record without building a string: FNV-1a hash
 * into an open-addressing table, then a byte comparison. Only plain ASCII keys are entered;
 * lines with other keys take the string path.
 */
class KeyTable {
  private readonly mask: number;
  private readonly hashes: Int32Array;
  private readonly keys: (Buffer | undefined)[];
  private readonly metas: (MetaRecord | undefined)[];

  constructor(metas: Map<string, MetaRecord>) {
    let cap = 16;
    while (cap < metas.size * 2) cap *= 2;
    this.mask = cap - 1;
    this.hashes = new Int32Array(cap);
    this.keys = new Array<Buffer | undefined>(cap).fill(undefined);
    this.metas = new Array<MetaRecord | undefined>(cap).fill(undefined);
    for (const m of metas.values()) {
      const b = Buffer.from(m.key, 'utf8');
      if (b.length !== m.key.length || !plainAscii(b, 0, b.length)) continue;
      const h = fnv(b, 0, b.length);
      let i = h & this.mask;
      while (this.keys[i] !== undefined) i = (i + 1) & this.mask;
      this.hashes[i] = h;
      this.keys[i] = b;
      this.metas[i] = m;
    }
  }

  /** `h` is `fnv(buf, from, to)`, computed by the caller while scanning the key. */
  find(buf: Buffer, from: number, to: number, h: number): MetaRecord | undefined {
    const len = to - from;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const k = this.keys[i];
      if (k === undefined) return undefined;
      if (this.hashes[i] !== h || k.length !== len) continue;
      let j = 0;
      while (j < len && k[j] === buf[from + j]) j++;
      if (j === len) return this.metas[i];
    }
  }
}

function fnv(b: Buffer, from: number, to: number): number {
  let h = FNV_OFFSET;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return h | 0;
}

function plainAscii(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c < CH_FIRST_PRINTABLE || c >= CH_LAST_ASCII || c === CH_BACKSLASH || c === CH_QUOTE) return false;
  }
  return true;
}

function bytesAt(buf: Buffer, at: number, end: number, lit: Buffer): boolean {
  const n = lit.length;
  if (at + n > end) return false;
  for (let i = 0; i < n; i++) if (buf[at + i] !== lit[i]) return false;
  return true;
}

/**
 * Decodes request lines straight from the file's bytes: the exact contest shape with a known
 * plain-ASCII key is parsed in place; any other line is decoded to a string and handed to
 * `RequestLineDecoder`, so the accepted language and the errors are the string path's.
 * Fields of the last record are left in the public properties (no object per line).
 */
class RequestByteDecoder {
  startTime = 0;
  durationsInMs = 0;
  statusCode = 0;
  meta: MetaRecord | undefined = undefined;
  private readonly keys: KeyTable;
  private readonly slow: RequestLineDecoder;
  private value = 0;
  private at = 0;

  constructor(metas: Map<string, MetaRecord>, file: string) {
    this.keys = new KeyTable(metas);
    this.slow = new RequestLineDecoder(metas, file);
  }

  /** False for a blank line. The line is buf[start, end). */
  decode(buf: Buffer, start: number, end: number, line: number): boolean {
    let a = start;
    let b = end;
    while (a < b && isWs(buf[a]!)) a++;
    while (b > a && isWs(buf[b - 1]!)) b--;
    if (a === b) return false;
    if (this.fast(buf, a, b)) return true;
    const text = buf.toString('utf8', a, b);
    const r = this.slow.decode(text, 0, text.length, line);
    if (r === null) return false;
    this.startTime = r.startTime;
    this.durationsInMs = r.durationsInMs;
    this.statusCode = r.statusCode;
    this.meta = this.slow.meta;
    return true;
  }

  private fast(buf: Buffer, a: number, b: number): boolean {
    if (!bytesAt(buf, a, b, B_START)) return false;
    if (!this.digits(buf, a + B_START.length, b)) return false;
    const startTime = this.value;
    let i = this.at;
    if (!bytesAt(buf, i, b, B_KEY)) return false;
    i += B_KEY.length;
    // One pass over the key: find its end, check it is plain ASCII, hash it.
    const k0 = i;
    let h = FNV_OFFSET;
    for (; i < b; i++) {
      const c = buf[i]!;
      if (c === CH_QUOTE) break;
      if (c < CH_FIRST_PRINTABLE || c >= CH_LAST_ASCII || c === CH_BACKSLASH) return false;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    if (i >= b) return false;
    const meta = this.keys.find(buf, k0, i, h | 0);
    if (meta === undefined) return false;
    if (!bytesAt(buf, i, b, B_DURATION)) return false;
    if (!this.digits(buf, i + B_DURATION.length, b)) return false;
    const duration = this.value;
    i = this.at;
    if (!bytesAt(buf, i, b, B_STATUS)) return false;
    if (!this.digits(buf, i + B_STATUS.length, b)) return false;
    const status = this.value;
    i = this.at;
    if (i !== b - 1 || buf[i] !== CH_CLOSE_BRACE) return false;
    // Out of order: let the string path report it with its message.
    if (!this.slow.accept(startTime)) return false;
    this.startTime = startTime;
    this.durationsInMs = duration;
    this.statusCode = status;
    this.meta = meta;
    return true;
  }

  private digits(buf: Buffer, from: number, end: number): boolean {
    let v = 0;
    let i = from;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c < CH_ZERO || c > CH_NINE) break;
      v = v * 10 + (c - CH_ZERO);
    }
    const n = i - from;
    if (n === 0 || n > MAX_FAST_DIGITS || (n > 1 && buf[from] === CH_ZERO)) return false;
    this.value = v;
    this.at = i;
    return true;
  }
}

/** Fields of one request, as `forEachRequestFieldsSync` visits them (no object per request). */
export type RequestFieldsVisitor = (startTime: number, meta: MetaRecord, durationsInMs: number, statusCode: number, line: number) => void;

// ---------------------------------------------------------------------------------------------
// Entry points

function requireFile(dir: string, name: string): string {
  const file = join(dir, name);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new DatasetError('DATASET_MISSING', file, 0, `missing dataset file ${name}`);
  }
  return file;
}

function metasFromText(text: string, file: string): Map<string, MetaRecord> {
  const metas = new Map<string, MetaRecord>();
  let line = 0;
  let pos = 0;
  while (pos <= text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    line++;
    const raw = text.slice(pos, nl).trim();
    pos = nl + 1;
    if (raw.length === 0) continue;
    const meta = validateMeta(parseJsonObject(raw, file, line), file, line);
    if (metas.has(meta.key)) throw malformed(file, line, `duplicate key ${JSON.stringify(meta.key)}`);
    metas.set(meta.key, meta);
  }
  return metas;
}

/** Metas files are small (hundreds of lines), so they are read whole. */
export async function loadMetas(dir: string): Promise<Map<string, MetaRecord>> {
  return loadMetasSync(dir);
}

export function loadMetasSync(dir: string): Map<string, MetaRecord> {
  const file = requireFile(dir, METAS_FILE);
  return metasFromText(readFileSync(file, 'utf8'), file);
}

/**
 * Streams validated requests line by line; memory stays bounded whatever the file size. With a
 * window, only the requests in it (reading stops past its end).
 */
export async function* streamRequests(dir: string, metas: Map<string, MetaRecord>, window?: TraceWindow): AsyncGenerator<RequestRecord> {
  const file = requireFile(dir, REQUESTS_FILE);
  const decoder = new RequestLineDecoder(metas, file);
  const input = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 });
  const rl = createInterface({ input, crlfDelay: Infinity });
  const filter = window === undefined ? undefined : new TraceWindowFilter(window);
  let line = 0;
  try {
    for await (const text of rl) {
      line++;
      const r = decoder.decode(text, 0, text.length, line);
      if (r === null) continue;
      if (filter === undefined) yield r;
      else if (filter.accepts(r.startTime)) yield r;
      else if (filter.done) break;
    }
  } finally {
    rl.close();
    input.destroy();
  }
}

/**
 * Synchronous chunked reader for the virtual engine: no promises, no strings and no object per
 * line (lines are parsed in place in each chunk's bytes). Returns the number of requests visited.
 * With a window, only the requests in it are visited (reading stops past its end).
 */
export function forEachRequestFieldsSync(dir: string, metas: Map<string, MetaRecord>, fn: RequestFieldsVisitor, window?: TraceWindow): number {
  const file = requireFile(dir, REQUESTS_FILE);
  const filter = window === undefined ? undefined : new TraceWindowFilter(window);
  const decoder = new RequestByteDecoder(metas, file);
  const fd = openSync(file, 'r');
  let buf = Buffer.allocUnsafe(SYNC_READ_CHUNK_BYTES);
  let carry = 0; // bytes of an unfinished line kept at the start of buf
  let line = 0;
  let count = 0;
  try {
    for (;;) {
      if (carry === buf.length) {
        // A single line longer than the buffer: grow rather than fail.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, carry);
        buf = bigger;
      }
      const n = readSync(fd, buf, carry, buf.length - carry, null);
      const filled = carry + n;
      const eof = n === 0;
      // Decode only whole lines: '\n' never occurs inside a multi-byte UTF-8 sequence.
      const lastNl = eof ? filled : buf.lastIndexOf(10 /* \n */, filled - 1);
      if (lastNl < 0) {
        carry = filled;
        continue;
      }
      let pos = 0;
      while (pos <= lastNl) {
        let nl = buf.indexOf(10, pos);
        if (nl < 0 || nl > lastNl) nl = lastNl;
        line++;
        if (decoder.decode(buf, pos, nl, line) && (filter === undefined || filter.accepts(decoder.startTime))) {
          fn(decoder.startTime, decoder.meta as MetaRecord, decoder.durationsInMs, decoder.statusCode, line);
          count++;
        }
        pos = nl + 1;
        if (filter?.done === true) break;
      }
      if (eof || filter?.done === true) break;
      // Keep the bytes after the last newline for the next round.
      const rest = filled - (lastNl + 1);
      buf.copy(buf, 0, lastNl + 1, filled);
      carry = rest;
    }
  } finally {
    closeSync(fd);
  }
  return count;
}

/** `forEachRequestFieldsSync` with a record per request. */
export function forEachRequestSync(dir: string, metas: Map<string, MetaRecord>, fn: RequestVisitor, window?: TraceWindow): number {
  return forEachRequestFieldsSync(
    dir,
    metas,
    (startTime, meta, durationsInMs, statusCode, line) => {
      fn({ startTime, metaKey: meta.key, durationsInMs, statusCode }, meta, line);
    },
    window,
  );
}

/** Whole dataset in memory: fine for small sets (smoke test, generated families). */
export async function loadDataset(dir: string): Promise<Dataset> {
  const metas = await loadMetas(dir);
  const requests: RequestRecord[] = [];
  for await (const r of streamRequests(dir, metas)) requests.push(r);
  return { name: basename(dir), metas, requests };
}

export function loadDatasetSync(dir: string): Dataset {
  const metas = loadMetasSync(dir);
  const requests: RequestRecord[] = [];
  forEachRequestSync(dir, metas, (r) => {
    requests.push(r);
  });
  return { name: basename(dir), metas, requests };
}
