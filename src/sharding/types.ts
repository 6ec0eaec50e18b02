/**
 * Every message that crosses the dedicated MessageChannel between the router (main thread) and a
 * shard worker, in one place. Generic over the embedder's request, response and event types.
 *
 * Hot-path payloads are arrays of small tuples so that one `postMessage` carries a whole
 * microtask's worth of traffic; control messages are rare and use plain objects.
 */
import type { MessagePort } from 'node:worker_threads';

/** Codes of {@link ShardError}. */
export const ShardErrorCode = {
  /** The shard's in-flight window and its wait queue are both full: shed load now. */
  Overloaded: 'SHARD_OVERLOADED',
  /** The worker exited (or crashed) while the request was sent or being handled. */
  Crashed: 'SHARD_CRASHED',
  /** The router is closing or closed. */
  Closed: 'SHARD_CLOSED',
  /** The handler answered with `reply.error(...)`, threw, or rejected. */
  HandlerError: 'HANDLER_ERROR',
  /** The encoded request (codec transport) is larger than a ring record may be. */
  TooLarge: 'SHARD_MESSAGE_TOO_LARGE',
} as const;
export type ShardErrorCode = (typeof ShardErrorCode)[keyof typeof ShardErrorCode];

/** Typed failure of a sharded request. */
export class ShardError extends Error {
  override readonly name = 'ShardError';
  readonly code: ShardErrorCode;
  /** The shard the request was routed to, or -1 when not known. */
  readonly shard: number;
  /** For `HANDLER_ERROR`: the code the handler passed to `reply.error` (`'THROWN'` if it threw). */
  readonly handlerCode: string | undefined;

  constructor(code: ShardErrorCode, message: string, shard = -1, handlerCode?: string) {
    super(message);
    this.code = code;
    this.shard = shard;
    this.handlerCode = handlerCode;
  }
}

/** Completion callback of a routed request. Exactly one of `err` / `res` is meaningful. */
export type ShardCallback<Res> = (err: ShardError | null, res?: Res) => void;

// ---- main → worker ---------------------------------------------------------------------------

/** One request: router-assigned id (unique per router) and the user's body. */
export type RequestEntry<Req> = readonly [id: number, body: Req];

/**
 * Request id of a one-way message (`ShardRouter.tellShard`): the worker handles it like a
 * request and sends nothing back. Never a callback slot (those count up from 0 and are bounded
 * by the in-flight window).
 */
export const ONE_WAY_ID = 0xffffffff;

export interface RequestBatchMessage<Req> {
  readonly type: 'requests';
  readonly items: RequestEntry<Req>[];
}

/** Ask the worker to finish what it holds, run its `onShutdown` hook and exit. */
export interface ShutdownMessage {
  readonly type: 'shutdown';
}

/**
 * Shared-ring doorbells (a bare number, the cheapest message to clone), either direction:
 * records were published for a reader that sleeps, or released for a writer waiting for room.
 */
export const RingBell = { Records: 0, Room: 1 } as const;
export type RingBell = (typeof RingBell)[keyof typeof RingBell];

export type MainToWorkerMessage<Req> = RequestBatchMessage<Req> | ShutdownMessage | RingBell;

// ---- worker → main ---------------------------------------------------------------------------

/** Tags of {@link OutEntry}: first element of each tuple. */
export const OutKind = { Reply: 0, Error: 1, Event: 2 } as const;

export type ReplyEntry<Res> = readonly [kind: typeof OutKind.Reply, id: number, body: Res];
export type ErrorReplyEntry = readonly [
  kind: typeof OutKind.Error,
  id: number,
  handlerCode: string,
  message: string,
];
/** Unsolicited notification from a shard (e.g. "slot created"), delivered as a router event. */
export type EventEntry<Ev> = readonly [kind: typeof OutKind.Event, event: Ev];

export type OutEntry<Res, Ev> = ReplyEntry<Res> | ErrorReplyEntry | EventEntry<Ev>;

/**
 * Everything a worker produced in one microtask, in production order: replies, error replies
 * and events share one array so an event emitted before a reply is observed before it.
 */
export interface OutBatchMessage<Res, Ev> {
  readonly type: 'out';
  readonly items: OutEntry<Res, Ev>[];
}

/** The worker finished setting up and accepts requests. */
export interface ReadyMessage {
  readonly type: 'ready';
}

export type WorkerToMainMessage<Res, Ev> = OutBatchMessage<Res, Ev> | ReadyMessage | RingBell;

// ---- batching --------------------------------------------------------------------------------

/**
 * When a side posts what it accumulated:
 *  - `'microtask'`: at the end of the current microtask checkpoint (lowest latency). Node runs a
 *    checkpoint after every received port message, so in a closed loop where replies from N
 *    shards trigger new requests, each reply batch fans out into N smaller request batches and
 *    batches fragment towards size 1.
 *  - `'immediate'`: in the event loop's check phase (`setImmediate`), after every message that
 *    arrived in the same poll phase was handled, so batches merge again. Costs the rest of one
 *    loop iteration of latency (microseconds when idle).
 */
export type BatchFlush = 'microtask' | 'immediate';
export const DEFAULT_BATCH_FLUSH: BatchFlush = 'microtask';

/** Schedule `fn` per the flush mode. */
export function scheduleFlush(mode: BatchFlush, fn: () => void): void {
  if (mode === 'immediate') setImmediate(fn);
  else queueMicrotask(fn);
}

// ---- bootstrap ---------------------------------------------------------------------------------

/** Marker property identifying a {@link ShardBootstrap} in `workerData`. */
export const SHARD_BOOTSTRAP_MARKER = '__scalerShardBootstrap';

/** What the router puts in each worker's `workerData` (the port is transferred). */
export interface ShardBootstrap {
  readonly [SHARD_BOOTSTRAP_MARKER]: 1;
  readonly port: MessagePort;
  readonly shard: number;
  readonly shards: number;
  readonly generation: number;
  readonly counterLayout: readonly string[];
  readonly counterBuffer: SharedArrayBuffer;
  /** The router's flush mode, which the worker uses for replies unless told otherwise. */
  readonly batchFlush: BatchFlush;
  /**
   * With a codec (`ShardRouterOptions.codec`): the two shared rings of this worker generation
   * (layout in shared-ring.ts); requests, replies and events travel there, and the port carries
   * only `ready` and `shutdown`. Null: everything travels on the port (structured clone).
   */
  readonly rings: ShardRings | null;
  /** Whatever the embedder's `workerData(shard, generation)` returned. */
  readonly userData: unknown;
}

/** The shared rings of one worker generation, one per direction. */
export interface ShardRings {
  readonly toWorker: SharedArrayBuffer;
  readonly toMain: SharedArrayBuffer;
}

/** True when `data` (normally `workerData`) was created by a ShardRouter. */
export function isShardBootstrap(data: unknown): data is ShardBootstrap {
  return (
    typeof data === 'object' &&
    data !== null &&
    (data as Record<string, unknown>)[SHARD_BOOTSTRAP_MARKER] === 1
  );
}
