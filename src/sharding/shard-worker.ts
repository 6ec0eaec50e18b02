/**
 * Worker side of the sharding layer: call `serveShard(handler)` once in the worker script.
 *
 * Requests arrive in batches on the router's dedicated MessagePort (the worker's own
 * `parentPort` stays free for the embedder). Replies, error replies and events produced during
 * one microtask go back as a single message.
 */
import { workerData as threadWorkerData } from 'node:worker_threads';
import { SharedCounters, type CounterLayout } from './shared-counters.js';
import {
  OutKind,
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

export interface ServeShardOptions<Ev, F extends string = string, W = unknown> {
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
   * Runs synchronously right before each batch of replies and events is posted (and before the
   * last one at shutdown). A handler that keeps a write-ahead log writes it here, so that no
   * reply leaves the worker ahead of the record it depends on, whatever the flush mode.
   */
  beforeFlush?: () => void;
  /** Bootstrap to use instead of this thread's `workerData` (tests, custom spawners). */
  bootstrap?: ShardBootstrap;
}

/** `handlerCode` of the HANDLER_ERROR sent when a handler throws or rejects. */
export const HANDLER_THROWN_CODE = 'THROWN';

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isPromiseLike(v: unknown): v is PromiseLike<void> {
  return typeof v === 'object' && v !== null && typeof (v as PromiseLike<void>).then === 'function';
}

/** Serve this worker's shard. Returns the context (also passed to every handler call). */
export function serveShard<Req, Res, Ev = never, F extends string = string, W = unknown>(
  handler: ShardHandler<Req, Res, Ev, F, W>,
  options: ServeShardOptions<Ev, F, W> = {},
): ShardContext<Ev, F, W> {
  const boot = options.bootstrap ?? threadWorkerData;
  if (!isShardBootstrap(boot)) {
    throw new TypeError('serveShard: workerData is not a ShardRouter bootstrap (is this script started by ShardRouter?)');
  }
  if (options.counterLayout) {
    const want = options.counterLayout.join(',');
    const got = boot.counterLayout.join(',');
    if (want !== got) throw new TypeError(`serveShard: counter layout [${want}] differs from router's [${got}]`);
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
  };

  let out: OutEntry<Res, Ev>[] = [];
  let flushScheduled = false;
  let shuttingDown = false;
  let onDrained: (() => void) | null = null;

  const beforeFlush = options.beforeFlush;
  const flush = (): void => {
    flushScheduled = false;
    if (out.length === 0) return;
    beforeFlush?.();
    const msg: OutBatchMessage<Res, Ev> = { type: 'out', items: out };
    out = [];
    stats.batchesSent++;
    port.postMessage(msg);
  };
  const push = (entry: OutEntry<Res, Ev>): void => {
    out.push(entry);
    if (!flushScheduled) {
      flushScheduled = true;
      scheduleFlush(flushMode, flush);
    }
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
      push([OutKind.Event, event]);
    },
    stats,
  };

  const makeReply = (id: number): ShardReply<Res> => {
    let done = false;
    const reply = ((res: Res): void => {
      if (done) {
        stats.duplicateReplies++;
        return;
      }
      done = true;
      push([OutKind.Reply, id, res]);
      settled();
    }) as ShardReply<Res>;
    reply.error = (code: string, message: string): void => {
      if (done) {
        stats.duplicateReplies++;
        return;
      }
      done = true;
      push([OutKind.Error, id, code, message]);
      settled();
    };
    return reply;
  };

  const dispatch = (items: RequestEntry<Req>[]): void => {
    stats.batchesReceived++;
    stats.requestsReceived += items.length;
    stats.pending += items.length;
    for (let i = 0; i < items.length; i++) {
      const [id, body] = items[i]!;
      const reply = makeReply(id);
      try {
        const r = handler(body, reply, ctx);
        if (isPromiseLike(r)) r.then(undefined, (err: unknown) => reply.error(HANDLER_THROWN_CODE, messageOf(err)));
      } catch (err) {
        reply.error(HANDLER_THROWN_CODE, messageOf(err));
      }
    }
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
    if (msg.type === 'requests') dispatch(msg.items);
    else if (msg.type === 'shutdown') void shutdown();
  });

  const ready = (): void => {
    const m: ReadyMessage = { type: 'ready' };
    port.postMessage(m);
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
