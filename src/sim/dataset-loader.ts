/**
 * Loads and validates contest datasets (a folder with `metas` and `requests`, JSON lines).
 *
 * Ordering: the contest's `requests` files are sorted by startTime and both engines rely on it
 * (open-loop replay in arrival order), so an out-of-order line is reported as a
 * `DATASET_MALFORMED` error with its line number rather than silently re-sorted.
 * Blank lines (including a trailing newline or CRLF leftovers) are skipped everywhere.
 *
 * Requests are never loaded whole by the streaming entry points: `streamRequests` reads lines
 * through readline, `forEachRequestSync` reads fixed-size chunks. Both parse lines with a hand
 * parser for the contest's exact line shape (about 25% faster than JSON.parse) and fall back to
 * `JSON.parse` for anything else, so the accepted language is exactly JSON.
 */
import { createReadStream, closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { MetaRecord, RequestRecord } from './dataset-types.js';

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

/** Streams validated requests line by line; memory stays bounded whatever the file size. */
export async function* streamRequests(dir: string, metas: Map<string, MetaRecord>): AsyncGenerator<RequestRecord> {
  const file = requireFile(dir, REQUESTS_FILE);
  const decoder = new RequestLineDecoder(metas, file);
  const input = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 });
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of rl) {
      line++;
      const r = decoder.decode(text, 0, text.length, line);
      if (r !== null) yield r;
    }
  } finally {
    rl.close();
    input.destroy();
  }
}

/**
 * Synchronous chunked reader for the virtual engine: no promises, no per-line strings
 * (lines are parsed in place in each decoded chunk). Returns the number of requests visited.
 */
export function forEachRequestSync(dir: string, metas: Map<string, MetaRecord>, fn: RequestVisitor): number {
  const file = requireFile(dir, REQUESTS_FILE);
  const decoder = new RequestLineDecoder(metas, file);
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
      const text = buf.toString('utf8', 0, lastNl);
      let pos = 0;
      const len = text.length;
      while (pos <= len) {
        let nl = text.indexOf('\n', pos);
        if (nl < 0) nl = len;
        line++;
        const r = decoder.decode(text, pos, nl, line);
        if (r !== null) {
          fn(r, decoder.meta as MetaRecord, line);
          count++;
        }
        pos = nl + 1;
      }
      if (eof) break;
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
