/**
 * Worker side of the sharding layer: call `serveShard(handler)` once in the worker script.
 *
 * Requests arrive on the router's transport: encoded in a shared ring when the router has a
 * codec (give the same one here), else in batches on the router's dedicated MessagePort (the
 * worker's own `parentPort` stays free for the embedder either way). Replies, error replies and
 * events produced during one microtask (or event-loop iteration) go back together: one publish
 * of the ring, or one message.
 */
import { workerData as threadWorkerData } from 'node:worker_threads';
import { SharedCounters, type CounterLayout } from './shared-counters.js';
import { RingConsumer, RingProducer, maxRecordBytes } from './shared-ring.js';
import { WireReader, WireWriter, type ShardCodec } from './shard-wire.js';
import {
  ONE_WAY_ID,
  OutKind,
  RingBell,
  ShardErrorCode,
  isShardBootstrap,
  scheduleFlush,
  type BatchFlush,
  type MainToWorkerMessage,
  type OutBatchMessage,
  type OutEntry,
  type ReadyMessage,
  type RequestEntry,
  type ShardBootstrap,
} from './types.js';

/** Answer for one request; call it (or `.error`) exactly once, now or later. Extra calls are ignored. */
export interface ShardReply<Res> {
  (res: Res): void;
  /** Fail the request: the caller gets ShardError `HANDLER_ERROR` with `handlerCode = code`. */
  error(code: string, message: string): void;
}

export interface ShardWorkerStats {
  batchesReceived: number;
  requestsReceived: number;
  /** Out batches posted (replies and events of one microtask each). */
  batchesSent: number;
  /** Requests received and not yet answered. */
  pending: number;
  /** Replies ignored because the request was already answered. */
  duplicateReplies: number;
  /** One-way messages received (`ShardRouter.tellShard`; included in `requestsReceived`). */
  oneWayReceived: number;
  /** Error replies to one-way messages (nobody to send them to; counted, dropped). */
  oneWayErrors: number;
}

export interface ShardContext<Ev, F extends string = string, W = unknown> {
  readonly shard: number;
  readonly shards: number;
  /** 0 for the first worker of this shard, +1 per restart. */
  readonly generation: number;
  /** Shared counters; this worker is the writer of its own row's user fields. */
  readonly counters: SharedCounters<F>;
  /** What the router's `workerData(shard, generation)` option returned for this worker. */
  readonly workerData: W;
  /** Send an unsolicited event to the router (`router.on('event', (shard, ev) => ...)`). */
  emit(event: Ev): void;
  readonly stats: Readonly<ShardWorkerStats>;
}

export type ShardHandler<Req, Res, Ev, F extends string = string, W = unknown> = (
  body: Req,
  reply: ShardReply<Res>,
  ctx: ShardContext<Ev, F, W>,
) => void | Promise<void>;

export interface ServeShardOptions<Ev, F extends string = string, W = unknown, Req = unknown, Res = unknown> {
  /** The router's codec (required when the router was started with one). */
  codec?: ShardCodec<Req, Res, Ev>;
  /** Expected user counter layout; checked against the router's (and types `ctx.counters`). */
  counterLayout?: CounterLayout<F>;
  /** Runs before the worker reports ready; requests are not delivered until it settles. */
  init?: (ctx: ShardContext<Ev, F, W>) => Promise<void> | void;
  /** Runs on shutdown after every pending request was answered, before the worker exits. */
  onShutdown?: (ctx: ShardContext<Ev, F, W>) => Promise<void> | void;
  /** `process.exit(0)` after shutdown (default true) so stray handles cannot keep the thread up. */
  exitOnShutdown?: boolean;
  /** Reply flush mode; defaults to the router's `batchFlush`. */
  batchFlush?: BatchFlush;
  /**
   * Runs synchronously right before each batch of replies and events is posted (MessagePort) or
   * published (shared rings: records written into the ring stay invisible to main until then),
   * and before the last one at shutdown. A handler that keeps a write-ahead log writes it here,
   * so that no reply leaves the worker ahead of the record it depends on, whatever the flush mode
   * or transport.
   */
  beforeFlush?: () => void;
  /** Bootstrap to use instead of this thread's `workerData` (tests, custom spawners). */
  bootstrap?: ShardBootstrap;
}

/** `handlerCode` of the HANDLER_ERROR sent when a handler throws or rejects. */
export const HANDLER_THROWN_CODE = 'THROWN';
/** `handlerCode` of the HANDLER_ERROR sent for a reply too large for a ring record. */
const TOO_LARGE_CODE = ShardErrorCode.TooLarge;
/** Codec transport: error codes and messages are cut to this many characters to fit a record. */
export const MAX_RING_ERROR_CHARS = 4096;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isPromiseLike(v: unknown): v is PromiseLike<void> {
  return typeof v === 'object' && v !== null && typeof (v as PromiseLike<void>).then === 'function';
}

/** Serve this worker's shard. Returns the context (also passed to every handler call). */
export function serveShard<Req, Res, Ev = never, F extends string = string, W = unknown>(
  handler: ShardHandler<Req, Res, Ev, F, W>,
  options: ServeShardOptions<Ev, F, W, Req, Res> = {},
): ShardContext<Ev, F, W> {
  const boot: unknown = options.bootstrap ?? threadWorkerData;
  if (!isShardBootstrap(boot)) {
    throw new TypeError('serveShard: workerData is not a ShardRouter bootstrap (is this script started by ShardRouter?)');
  }
  if (options.counterLayout) {
    const want = options.counterLayout.join(',');
    const got = boot.counterLayout.join(',');
    if (want !== got) throw new TypeError(`serveShard: counter layout [${want}] differs from router's [${got}]`);
  }
  if (boot.rings !== null && options.codec === undefined) {
    throw new TypeError('serveShard: the router encodes messages with a codec; pass the same codec to serveShard');
  }
  const port = boot.port;
  const flushMode = options.batchFlush ?? boot.batchFlush;
  const counters = SharedCounters.attach(boot.counterLayout as CounterLayout<F>, boot.shards, boot.counterBuffer);
  const stats: ShardWorkerStats = {
    batchesReceived: 0,
    requestsReceived: 0,
    batchesSent: 0,
    pending: 0,
    duplicateReplies: 0,
    oneWayReceived: 0,
    oneWayErrors: 0,
  };

  let out: OutEntry<Res, Ev>[] = [];
  let flushScheduled = false;
  let shuttingDown = false;
  let onDrained: (() => void) | null = null;

  const beforeFlush = options.beforeFlush;
  // Codec transport: the ring to main and its encoder; entries that did not fit wait in `out`.
  const codec = boot.rings !== null ? options.codec! : null;
  // Doorbells to main ride on the port: a bare number, only when main said it sleeps.
  const bell = {
    records: (): void => port.postMessage(RingBell.Records),
    room: (): void => port.postMessage(RingBell.Room),
  };
  const tx = boot.rings !== null ? new RingProducer(boot.rings.toMain, bell) : null;
  const w = tx !== null ? new WireWriter(tx.buf) : null;
  const maxRecord = tx !== null ? maxRecordBytes(tx.capacity) : 0;
  /** Characters of code + message an error record can hold (3 bytes each, plus its header). */
  const maxErrorChars = Math.min(MAX_RING_ERROR_CHARS, Math.floor((maxRecord - 13) / 3));

  /** One out entry in place in the ring; false if the ring is full. */
  const writeEntry = (kind: number, id: number, a: unknown, b: unknown): boolean => {
    const c = codec!;
    let bound: number;
    if (kind === OutKind.Reply) bound = 5 + c.replyBytes(a as Res);
    else if (kind === OutKind.Error) bound = 5 + 8 + ((a as string).length + (b as string).length) * 3;
    else bound = 1 + c.eventBytes(a as Ev);
    const at = tx!.reserve(bound);
    if (at < 0) return false;
    const ww = w!;
    ww.pos = at;
    ww.u8(kind);
    if (kind === OutKind.Event) {
      c.writeEvent(ww, a as Ev);
    } else {
      ww.u32(id);
      if (kind === OutKind.Reply) c.writeReply(ww, a as Res);
      else {
        ww.str(a as string);
        ww.str(b as string);
      }
    }
    tx!.commit(ww.pos);
    return true;
  };

  const flushRing = (): void => {
    let i = 0;
    for (; i < out.length; i++) {
      const e = out[i]!;
      const ok = e[0] === OutKind.Event ? writeEntry(OutKind.Event, 0, e[1], undefined) : writeEntry(e[0], e[1], e[2], e.length > 3 ? e[3] : undefined);
      if (!ok) break;
    }
    if (i > 0) out = i === out.length ? [] : out.slice(i);
    // Main released records meanwhile: write again next turn; else its `room` bell flushes.
    if (out.length > 0 && tx!.waitForRoom()) scheduled();
    if (tx!.publish()) stats.batchesSent++;
  };

  const flush = (): void => {
    flushScheduled = false;
    if (tx !== null) {
      // Records already in the ring are private until `publish`: the hook runs before that too.
      if (out.length === 0 && !tx.hasUnpublished) return;
      beforeFlush?.();
      flushRing();
      return;
    }
    if (out.length === 0) return;
    beforeFlush?.();
    const msg: OutBatchMessage<Res, Ev> = { type: 'out', items: out };
    out = [];
    stats.batchesSent++;
    port.postMessage(msg);
  };
  const scheduled = (): void => {
    if (!flushScheduled) {
      flushScheduled = true;
      scheduleFlush(flushMode, flush);
    }
  };
  const push = (entry: OutEntry<Res, Ev>): void => {
    out.push(entry);
    scheduled();
  };
  /** A reply, error or event: in place in the ring when it has room and nothing waits, else queued. */
  const send = (kind: number, id: number, a: unknown, b: unknown): void => {
    if (tx === null || out.length > 0 || !writeEntry(kind, id, a, b)) {
      if (kind === OutKind.Reply) push([OutKind.Reply, id, a as Res]);
      else if (kind === OutKind.Error) push([OutKind.Error, id, a as string, b as string]);
      else push([OutKind.Event, a as Ev]);
      return;
    }
    scheduled();
  };
  const settled = (): void => {
    stats.pending--;
    if (stats.pending === 0 && onDrained !== null) onDrained();
  };

  const ctx: ShardContext<Ev, F, W> = {
    shard: boot.shard,
    shards: boot.shards,
    generation: boot.generation,
    counters,
    workerData: boot.userData as W,
    emit(event: Ev): void {
      if (codec !== null && 1 + codec.eventBytes(event) > maxRecord) {
        throw new RangeError(`shard event larger than a ring record (${maxRecord} bytes)`);
      }
      send(OutKind.Event, 0, event, undefined);
    },
    stats,
  };

  const makeReply = (id: number): ShardReply<Res> => {
    let done = false;
    // A one-way message (ShardRouter.tellShard): settled like a request, answered to nobody.
    const oneWay = id === ONE_WAY_ID;
    if (oneWay) stats.oneWayReceived++;
    const reply = ((res: Res): void => {
      if (done) {
        stats.duplicateReplies++;
        return;
      }
      done = true;
      if (oneWay) {
        settled();
        return;
      }
      if (codec !== null && 5 + codec.replyBytes(res) > maxRecord) {
        send(OutKind.Error, id, TOO_LARGE_CODE, `reply larger than a ring record (${maxRecord} bytes)`);
      } else {
        send(OutKind.Reply, id, res, undefined);
      }
      settled();
    }) as ShardReply<Res>;
    reply.error = (code: string, message: string): void => {
      if (done) {
        stats.duplicateReplies++;
        return;
      }
      done = true;
      if (oneWay) {
        stats.oneWayErrors++;
        settled();
        return;
      }
      if (codec !== null && code.length + message.length > maxErrorChars) {
        code = code.slice(0, 64);
        message = message.slice(0, maxErrorChars - code.length);
      }
      send(OutKind.Error, id, code, message);
      settled();
    };
    return reply;
  };

  const dispatchOne = (id: number, body: Req): void => {
    const reply = makeReply(id);
    try {
      const r = handler(body, reply, ctx);
      if (isPromiseLike(r)) r.then(undefined, (err: unknown) => reply.error(HANDLER_THROWN_CODE, messageOf(err)));
    } catch (err) {
      reply.error(HANDLER_THROWN_CODE, messageOf(err));
    }
  };

  const dispatch = (items: RequestEntry<Req>[]): void => {
    stats.batchesReceived++;
    stats.requestsReceived += items.length;
    stats.pending += items.length;
    for (let i = 0; i < items.length; i++) {
      const e = items[i]!;
      dispatchOne(e[0], e[1]);
    }
  };

  // Codec transport: read every published request record, then sleep until the next publish.
  const rx = boot.rings !== null ? new RingConsumer(boot.rings.toWorker, bell) : null;
  const rr = rx !== null ? new WireReader(rx.buf) : null;
  const drainRequests = (): void => {
    const c = rx!;
    if (!c.begin()) return;
    stats.batchesReceived++;
    const r = rr!;
    for (let p = c.next(); p !== -1; p = c.next()) {
      r.pos = p;
      const id = r.u32();
      const body = codec!.readRequest(r);
      stats.requestsReceived++;
      stats.pending++;
      dispatchOne(id, body);
    }
    c.end();
  };
  /** Main published while we slept: read until there is nothing left, then sleep again. */
  const onRequests = (): void => {
    do drainRequests();
    while (!rx!.sleep());
  };

  const shutdown = async (): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    if (stats.pending > 0) await new Promise<void>((resolve) => (onDrained = resolve));
    try {
      await options.onShutdown?.(ctx);
    } finally {
      flush();
      port.close();
      if (options.exitOnShutdown !== false) process.exit(0);
    }
  };

  port.on('message', (msg: MainToWorkerMessage<Req>) => {
    if (msg === RingBell.Records) onRequests();
    else if (msg === RingBell.Room) flush();
    else if (msg.type === 'requests') dispatch(msg.items);
    else if (msg.type === 'shutdown') void shutdown();
  });

  const ready = (): void => {
    // Events the init emitted go first (the same port carries the rings' doorbell): a router's
    // `onEvent` has them all by the time this worker counts as ready.
    flush();
    const m: ReadyMessage = { type: 'ready' };
    port.postMessage(m);
    // Sleep from the start: main rings once it has published anything.
    if (rx !== null && !rx.sleep()) onRequests();
  };
  if (options.init) {
    Promise.resolve(options.init(ctx)).then(ready, (err: unknown) => {
      // A shard that cannot initialise must not report ready: fail the thread so the router sees it.
      setImmediate(() => {
        throw err;
      });
    });
  } else {
    ready();
  }
  return ctx;
}
