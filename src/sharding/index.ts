/**
 * Generic sharding layer: route keyed requests from the main thread to N worker threads (over
 * shared rings with an embedder's codec, or dedicated MessagePorts), with batching,
 * backpressure, restarts and shared per-shard counters.
 * Knows nothing about its embedder's protocol. See README.md in this directory.
 */
export { FNV1A_32_OFFSET_BASIS, FNV1A_32_PRIME, fnv1a32, hashKey, mix32, reduceHash, shardForKey } from './key-hash.js';
export {
  DEFAULT_BATCH_FLUSH,
  ONE_WAY_ID,
  OutKind,
  RingBell,
  scheduleFlush,
  type BatchFlush,
  SHARD_BOOTSTRAP_MARKER,
  ShardError,
  ShardErrorCode,
  isShardBootstrap,
  type ErrorReplyEntry,
  type EventEntry,
  type MainToWorkerMessage,
  type OutBatchMessage,
  type OutEntry,
  type ReadyMessage,
  type ReplyEntry,
  type RequestBatchMessage,
  type RequestEntry,
  type ShardBootstrap,
  type ShardCallback,
  type ShardRings,
  type ShutdownMessage,
  type WorkerToMainMessage,
} from './types.js';
export {
  ROUTER_COUNTER_FIELDS,
  SharedCounters,
  counterBufferBytes,
  defineCounterLayout,
  type CounterField,
  type CounterLayout,
  type CounterSnapshot,
  type RouterCounterField,
} from './shared-counters.js';
export {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_IN_FLIGHT_PER_SHARD,
  DEFAULT_MAX_QUEUED_PER_SHARD,
  DEFAULT_MAX_RESTART_BACKOFF_MS,
  DEFAULT_RESTART_BACKOFF_MS,
  DEFAULT_START_TIMEOUT_MS,
  RESTART_BACKOFF_RESET_MS,
  ShardRouter,
  type ShardRouterEvents,
  type ShardRouterOptions,
} from './shard-router.js';
export {
  DEFAULT_RING_BYTES,
  MIN_RING_BYTES,
  RingConsumer,
  RingProducer,
  SHARED_RING_LAYOUT,
  createRingBuffer,
  maxRecordBytes,
  type RingDoorbell,
} from './shared-ring.js';
export {
  MAX_INTERNED_STRINGS,
  WireReader,
  WireWriter,
  internedBytes,
  strBytes,
  type ShardCodec,
} from './shard-wire.js';
export {
  HANDLER_THROWN_CODE,
  serveShard,
  type ServeShardOptions,
  type ShardContext,
  type ShardHandler,
  type ShardReply,
  type ShardWorkerStats,
} from './worker-runtime.js';
