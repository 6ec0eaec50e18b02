/**
 * Shared layout of the parallel request parser: a worker decodes the `requests` file and hands
 * records to the (synchronous) caller through a ring of fixed-size chunks in one
 * SharedArrayBuffer. Both sides build their views with `ringViews`, so the layout lives here only.
 *
 * Buffer layout (N = chunks * chunkRecords records; record r of chunk c is at c*chunkRecords+r):
 *
 *   Int32[CONTROL_WORDS] control (padded to 8 bytes) | Float64[N] startTime | Float64[N] durationsInMs
 *   | Float64[N] statusCode | Float64[N] line | Int32[N] metaIndex | Int32[chunks] chunk record count
 *   | Int32[chunks] chunk end flag
 *
 * The control words come first so the worker's bootstrap (`sync-worker-bootstrap.ts`, which
 * knows nothing else of the layout) can find `produced` at Int32 index CONTROL_PRODUCED.
 *
 * statusCode and line are doubles, not Int32: the loader accepts any integer status code (up to
 * 15 digits on its fast path) and the copy must keep every value exact.
 *
 * Hand-off (single producer, single consumer, sequence numbers count chunks from 0, the slot of
 * chunk s is s % chunks):
 * - the producer fills slot s only while `s - consumed < chunks`, else waits on `consumed`;
 *   it writes the records, the count and the end flag, then `Atomics.store` + notify `produced = s + 1`;
 * - if the worker module cannot even be loaded, or the thread dies before `runRequestParseWorker`
 *   settled, the bootstrap posts a `SyncWorkerFailure` and stores `produced = PRODUCED_DEAD`
 *   (the consumer then drops whatever it had not read yet and throws);
 * - the consumer waits on `produced`, reads chunk s, then stores + notifies `consumed = s + 1`;
 * - the last chunk (possibly empty) carries END_OK or END_ERROR in its end flag, so there is one
 *   word to wait on; for END_ERROR the details are posted on the port *before* that chunk is published;
 * - `cancel` is set by the consumer when it stops early; the producer checks it whenever it waits.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ClairvoyantBoundOptions, ClairvoyantResult } from '../scoring/clairvoyant-bound.js';
import type { DatasetErrorCode } from './dataset-loader.js';
import type { SyncWorkerFailure } from './sync-worker-bootstrap.js';

export const REQUEST_PARSE_WORKER_KIND = 'request-parse';
/** The worker module's entry function (see `RequestParseWorkerModule`). */
export const REQUEST_PARSE_ENTRY = 'runRequestParseWorker';

/** Slots in the ring: enough to ride out the consumer's bursts without holding the trace. */
export const RING_CHUNKS = 8;
/** Records per chunk: large enough that the per-chunk atomics vanish in the per-record work. */
export const CHUNK_RECORDS = 16 * 1024;

export const CONTROL_PRODUCED = 0;
export const CONTROL_CONSUMED = 1;
export const CONTROL_CANCEL = 2;
export const CONTROL_WORDS = 3;
/** `produced` when the worker could not start or died: the failure is on the port. */
export const PRODUCED_DEAD = -1;

/** Chunk end flags. */
export const CHUNK_MORE = 0;
export const END_OK = 1;
export const END_ERROR = 2;

export interface RingViews {
  readonly startTime: Float64Array;
  readonly durationsInMs: Float64Array;
  readonly statusCode: Float64Array;
  readonly line: Float64Array;
  readonly metaIndex: Int32Array;
  readonly count: Int32Array;
  readonly end: Int32Array;
  readonly control: Int32Array;
}

const F64 = Float64Array.BYTES_PER_ELEMENT;
const I32 = Int32Array.BYTES_PER_ELEMENT;

/** Control words padded so the Float64 arrays after them are aligned. */
const CONTROL_BYTES = Math.ceil((CONTROL_WORDS * I32) / F64) * F64;

export function ringBytes(chunks: number, chunkRecords: number): number {
  const n = chunks * chunkRecords;
  return CONTROL_BYTES + n * (4 * F64 + I32) + 2 * chunks * I32;
}

export function ringViews(sab: SharedArrayBuffer, chunks: number, chunkRecords: number): RingViews {
  const n = chunks * chunkRecords;
  const control = new Int32Array(sab, 0, CONTROL_WORDS);
  let at = CONTROL_BYTES;
  const f64 = (): Float64Array => {
    const v = new Float64Array(sab, at, n);
    at += n * F64;
    return v;
  };
  const i32 = (len: number): Int32Array => {
    const v = new Int32Array(sab, at, len);
    at += len * I32;
    return v;
  };
  const startTime = f64();
  const durationsInMs = f64();
  const statusCode = f64();
  const line = f64();
  const metaIndex = i32(n);
  const count = i32(chunks);
  const end = i32(chunks);
  return { startTime, durationsInMs, statusCode, line, metaIndex, count, end, control };
}

export interface RequestParseWorkerData {
  readonly kind: typeof REQUEST_PARSE_WORKER_KIND;
  readonly dir: string;
  /**
   * The caller's metas as [map key, record] pairs in `metas` iteration order; a record's
   * position is its `metaIndex`. Sent rather than re-read from disk so the worker validates
   * against exactly the map the caller passed.
   */
  readonly metas: readonly (readonly [string, RequestParseMeta])[];
  readonly ring: SharedArrayBuffer;
  readonly chunks: number;
  readonly chunkRecords: number;
  /** Error details go here (read synchronously with `receiveMessageOnPort`). */
  readonly port: MessagePort;
  /**
   * Also compute the clairvoyant bound of the trace while parsing it (one pass over the file
   * for both); its `RequestParseBound` message precedes the END_OK chunk.
   */
  readonly bound?: ClairvoyantBoundOptions;
}

/** The bound computed on the way, posted before the END_OK chunk when it was asked for. */
export interface RequestParseBound {
  readonly kind: 'bound';
  readonly result: ClairvoyantResult;
}

/** A MetaRecord reduced to plain, cloneable data. */
export interface RequestParseMeta {
  readonly key: string;
  readonly runtime: string;
  readonly memoryInMb: number;
  readonly timeoutInSecs: number;
  readonly initDurationInMs: number;
}

/** What the worker module exports; the bootstrap calls it with the `RequestParseWorkerData`. */
export interface RequestParseWorkerModule {
  runRequestParseWorker(data: RequestParseWorkerData): Promise<void>;
}

/** What went wrong in the worker, with enough fields to rebuild the error on the caller's side. */
export type RequestParseFailure =
  | SyncWorkerFailure
  | {
      readonly kind: 'dataset';
      readonly code: DatasetErrorCode;
      readonly file: string;
      readonly line: number;
      readonly reason: string;
    }
  | {
      readonly kind: 'other';
      readonly name: string;
      readonly message: string;
      /** Node system-error fields (`code`, `errno`, `syscall`, `path`) when present. */
      readonly code?: string;
      readonly errno?: number;
      readonly syscall?: string;
      readonly path?: string;
    };
