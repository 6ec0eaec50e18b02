/**
 * Main-thread side of the sharding layer: owns N worker threads, routes keyed requests to them,
 * applies per-shard backpressure and restarts crashed workers.
 *
 * Two transports, chosen by whether the embedder gives a `codec`:
 *  - codec: requests, replies and events are encoded in place into two shared rings per worker
 *    (`shared-ring.ts`, `shard-wire.ts`); nothing is structured-cloned and a request allocates
 *    nothing on the way. All requests for a shard made during one microtask (or, with
 *    `batchFlush: 'immediate'`, one event-loop iteration) are published at once with at most one
 *    wake-up, and the worker answers the same way.
 *  - no codec: the same batches travel as one `postMessage` each on a dedicated MessageChannel.
 * Either way the port carries the control messages (`ready`, `shutdown`).
 *
 * Hot path: `request` does a hash, takes a callback slot from a free list, and writes (or
 * pushes) the request.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, Worker, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import { shardForKey } from './key-hash.js';
import { ROUTER_COUNTER_FIELDS, SharedCounters, type CounterLayout } from './shared-counters.js';
import { DEFAULT_RING_BYTES, RingConsumer, RingProducer, createRingBuffer, maxRecordBytes } from './shared-ring.js';
import { WireReader, WireWriter, type ShardCodec } from './shard-wire.js';
import {
  DEFAULT_BATCH_FLUSH,
  ONE_WAY_ID,
  OutKind,
  RingBell,
  SHARD_BOOTSTRAP_MARKER,
  scheduleFlush,
  type BatchFlush,
  ShardError,
  ShardErrorCode,
  type RequestBatchMessage,
  type RequestEntry,
  type ShardBootstrap,
  type ShardCallback,
  type ShardRings,
  type ShutdownMessage,
  type WorkerToMainMessage,
} from './types.js';

export const DEFAULT_MAX_IN_FLIGHT_PER_SHARD = 1024;
export const DEFAULT_MAX_QUEUED_PER_SHARD = 16_384;
/** First restart delay after a crash; doubles per consecutive crash up to the max. */
export const DEFAULT_RESTART_BACKOFF_MS = 50;
export const DEFAULT_MAX_RESTART_BACKOFF_MS = 2_000;
/** A worker that stayed up this long resets the backoff to its initial value. */
export const RESTART_BACKOFF_RESET_MS = 10_000;
export const DEFAULT_START_TIMEOUT_MS = 30_000;
/** Total budget of `close()`: drain, then shutdown, then `terminate()` of stragglers. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;

export interface ShardRouterOptions<F extends string = never, Req = unknown, Res = unknown, Ev = unknown> {
  /** Worker script (compiled JS) that calls `serveShard(...)`. */
  workerScript: string | URL;
  shards: number;
  /**
   * Called on every (re)start; the result (structured-cloneable) is `ctx.workerData` in the
   * worker. Lets a supervisor hand a restarted worker its state, e.g. a journal.
   */
  workerData?: (shard: number, generation: number) => unknown;
  /** Per-shard user counter fields (see shared-counters.ts). */
  counterLayout?: CounterLayout<F>;
  /** Requests sent to a worker and not yet answered; more wait in the shard's queue. */
  maxInFlightPerShard?: number;
  /** Waiting requests per shard beyond which `request` fails with SHARD_OVERLOADED. */
  maxQueuedPerShard?: number;
  /** Restart a worker that exits unexpectedly (default true). */
  restartOnExit?: boolean;
  restartBackoffMs?: number;
  maxRestartBackoffMs?: number;
  resourceLimits?: ResourceLimits;
  execArgv?: string[];
  startTimeoutMs?: number;
  closeTimeoutMs?: number;
  /** When accumulated requests (and, in workers, replies) are posted; see {@link BatchFlush}. */
  batchFlush?: BatchFlush;
  /** Thread name prefix (shows in diagnostics as `${name}-${shard}`). */
  name?: string;
  /**
   * Listener of the `event` event from the first spawn on: events a worker emits during its
   * `init`, before `start()` resolves, would otherwise reach no listener.
   */
  onEvent?: (shard: number, event: Ev) => void;
  /**
   * Encode messages into shared rings instead of posting them (the worker must pass the same
   * codec to `serveShard`). Without one, messages are structured-cloned over a MessagePort.
   */
  codec?: ShardCodec<Req, Res, Ev>;
  /** Data bytes of each ring (codec transport); a record may take at most a quarter. */
  ringBytes?: number;
}

export interface ShardRouterEvents<Ev> {
  /** Unsolicited event emitted by a shard's handler via `ctx.emit`. */
  event: (shard: number, event: Ev) => void;
  /** A worker exited (any reason, including during close). */
  'shard-exit': (shard: number, code: number) => void;
  /** A replacement worker reported ready. */
  'shard-restart': (shard: number, generation: number) => void;
  /** A worker threw an uncaught error (its exit follows), or a restart failed to spawn. */
  'shard-error': (shard: number, error: Error) => void;
}

interface ShardState<Req, Res> {
  readonly index: number;
  worker: Worker | null;
  port: MessagePort | null;
  generation: number;
  ready: boolean;
  /** Worker gone and not coming back (restartOnExit false). */
  dead: boolean;
  /** Set once `shutdown` was posted, so its exit is not a crash. */
  stopping: boolean;
  readyAt: number;
  /** Some generation of this shard has reported ready (start() counts each shard once). */
  everReady: boolean;
  backoffMs: number;
  restartTimer: NodeJS.Timeout | null;
  /** Callback of each request batched or sent and not answered, by request id (a slot number). */
  cbs: (ShardCallback<Res> | undefined)[];
  /** Free slots of `cbs`. */
  freeIds: number[];
  inFlight: number;
  /** Port transport: requests accumulated for the next post. */
  batch: RequestEntry<Req>[];
  /** Codec transport: this generation's ring to the worker and from it, with their encoders. */
  tx: RingProducer | null;
  rx: RingConsumer | null;
  w: WireWriter | null;
  r: WireReader | null;
  /** Codec transport: [id, body] pairs that did not fit in the ring yet, flat, from `overflowHead`. */
  overflow: unknown[];
  overflowHead: number;
  flushScheduled: boolean;
  /** FIFO of waiting requests as flat [body, cb, body, cb, ...] from `queueHead` (cb null: one-way). */
  queue: unknown[];
  queueHead: number;
  flush: () => void;
  exited: (() => void) | null;
}

const IDX_IN_FLIGHT = ROUTER_COUNTER_FIELDS.indexOf('routerInFlight');
const IDX_QUEUED = ROUTER_COUNTER_FIELDS.indexOf('routerQueued');
const IDX_REQUESTS = ROUTER_COUNTER_FIELDS.indexOf('routerRequests');
const IDX_OVERLOADS = ROUTER_COUNTER_FIELDS.indexOf('routerOverloads');
const IDX_BATCHES_SENT = ROUTER_COUNTER_FIELDS.indexOf('routerBatchesSent');
const IDX_BATCHES_RECEIVED = ROUTER_COUNTER_FIELDS.indexOf('routerBatchesReceived');
const IDX_RESTARTS = ROUTER_COUNTER_FIELDS.indexOf('routerRestarts');
const IDX_GENERATION = ROUTER_COUNTER_FIELDS.indexOf('routerGeneration');

function queueLength(s: { readonly queue: unknown[]; readonly queueHead: number }): number {
  return (s.queue.length - s.queueHead) >> 1;
}

function rethrowLater(err: unknown): void {
  // A throwing user callback must not leave the router's bookkeeping half-done.
  process.nextTick(() => {
    throw err;
  });
}

export class ShardRouter<Req, Res, Ev = never, F extends string = never> {
  readonly shards: number;
  readonly counters: SharedCounters<F>;
  private readonly opts: ShardRouterOptions<F, Req, Res, Ev>;
  private readonly layout: CounterLayout<F>;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly batchFlush: BatchFlush;
  private readonly states: ShardState<Req, Res>[] = [];
  private readonly emitter = new EventEmitter();
  private readonly codec: ShardCodec<Req, Res, Ev> | null;
  private readonly ringBytes: number;
  /** Largest request record (codec transport). */
  private readonly maxRecord: number;
  private closing = false;
  private closePromise: Promise<void> | null = null;
  private drained: (() => void) | null = null;
  private unrefed = false;
  /** Set while `start()` waits: a worker failing before its first ready aborts the start. */
  private startWaiter: { ready: () => void; fail: (err: Error) => void } | null = null;

  private constructor(opts: ShardRouterOptions<F, Req, Res, Ev>) {
    if (!Number.isInteger(opts.shards) || opts.shards < 1) {
      throw new RangeError(`shards must be a positive integer, got ${opts.shards}`);
    }
    this.opts = opts;
    this.shards = opts.shards;
    this.layout = opts.counterLayout ?? [];
    this.counters = SharedCounters.create(this.layout, this.shards);
    this.maxInFlight = opts.maxInFlightPerShard ?? DEFAULT_MAX_IN_FLIGHT_PER_SHARD;
    this.maxQueued = opts.maxQueuedPerShard ?? DEFAULT_MAX_QUEUED_PER_SHARD;
    this.batchFlush = opts.batchFlush ?? DEFAULT_BATCH_FLUSH;
    if (opts.onEvent !== undefined) this.emitter.on('event', opts.onEvent);
    this.codec = opts.codec ?? null;
    this.ringBytes = opts.ringBytes ?? DEFAULT_RING_BYTES;
    this.maxRecord = maxRecordBytes(Math.ceil(this.ringBytes / 8) * 8);
    if (!(this.maxInFlight >= 1)) throw new RangeError('maxInFlightPerShard must be >= 1');
    if (!(this.maxQueued >= 0)) throw new RangeError('maxQueuedPerShard must be >= 0');
    for (let i = 0; i < this.shards; i++) {
      const s: ShardState<Req, Res> = {
        index: i,
        worker: null,
        port: null,
        generation: 0,
        ready: false,
        dead: false,
        stopping: false,
        readyAt: 0,
        everReady: false,
        backoffMs: opts.restartBackoffMs ?? DEFAULT_RESTART_BACKOFF_MS,
        restartTimer: null,
        cbs: [],
        freeIds: [],
        inFlight: 0,
        batch: [],
        tx: null,
        rx: null,
        w: null,
        r: null,
        overflow: [],
        overflowHead: 0,
        flushScheduled: false,
        queue: [],
        queueHead: 0,
        flush: () => this.flush(s),
        exited: null,
      };
      this.states.push(s);
    }
  }

  /** Spawn every worker; resolves once all reported ready, rejects (and cleans up) otherwise. */
  static async start<Req, Res, Ev = never, F extends string = never>(
    opts: ShardRouterOptions<F, Req, Res, Ev>,
  ): Promise<ShardRouter<Req, Res, Ev, F>> {
    const { router, ready } = ShardRouter.launch<Req, Res, Ev, F>(opts);
    await ready;
    return router;
  }

  /**
   * Spawns every worker and returns the router at once: requests made before the workers are
   * ready wait in their shard's queue (up to `maxQueuedPerShard`) and go out when it is. `ready`
   * resolves once every worker reported ready; it rejects, after closing the router, if one
   * fails first or `startTimeoutMs` passes. Lets a server accept calls while its workers start.
   */
  static launch<Req, Res, Ev = never, F extends string = never>(
    opts: ShardRouterOptions<F, Req, Res, Ev>,
  ): { router: ShardRouter<Req, Res, Ev, F>; ready: Promise<void> } {
    const router = new ShardRouter<Req, Res, Ev, F>(opts);
    let remaining = router.shards;
    const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const waiting = new Promise<void>((resolve, reject) => {
      router.startWaiter = {
        ready: () => {
          if (--remaining === 0) resolve();
        },
        fail: reject,
      };
      timer = setTimeout(() => reject(new Error(`shard workers not ready after ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      for (const s of router.states) router.spawn(s);
    });
    const ready = waiting.then(
      () => {
        clearTimeout(timer);
        router.startWaiter = null;
      },
      async (err: unknown) => {
        clearTimeout(timer);
        router.startWaiter = null;
        await router.close();
        throw err;
      },
    );
    return { router, ready };
  }

  shardFor(key: string): number {
    return shardForKey(key, this.shards);
  }

  /** Route `body` to the shard owning `key`; `cb` runs once, never synchronously. */
  request(key: string, body: Req, cb: ShardCallback<Res>): void {
    this.requestShard(shardForKey(key, this.shards), body, cb);
  }

  requestShard(shard: number, body: Req, cb: ShardCallback<Res>): void {
    const s = this.states[shard];
    if (s === undefined) throw new RangeError(`shard ${shard} out of range [0, ${this.shards})`);
    if (this.closing) {
      this.failLater(cb, ShardErrorCode.Closed, 'shard router is closed', shard);
      return;
    }
    if (s.dead) {
      this.failLater(cb, ShardErrorCode.Crashed, `shard ${shard} worker exited and is not restarted`, shard);
      return;
    }
    if (this.codec !== null && 4 + this.codec.requestBytes(body) > this.maxRecord) {
      this.failLater(cb, ShardErrorCode.TooLarge, `request to shard ${shard} larger than a ring record (${this.maxRecord} bytes)`, shard);
      return;
    }
    if (s.ready && s.inFlight < this.maxInFlight && queueLength(s) === 0) {
      this.counters.addAt(shard, IDX_REQUESTS, 1);
      this.send(s, body, cb);
    } else if (queueLength(s) < this.maxQueued) {
      this.counters.addAt(shard, IDX_REQUESTS, 1);
      s.queue.push(body, cb);
      this.counters.setAt(shard, IDX_QUEUED, queueLength(s));
    } else {
      this.counters.addAt(shard, IDX_OVERLOADS, 1);
      this.failLater(
        cb,
        ShardErrorCode.Overloaded,
        `shard ${shard} overloaded (${s.inFlight} in flight, ${queueLength(s)} queued)`,
        shard,
      );
    }
  }

  /**
   * One-way message to `shard`: the worker's handler gets it like a request (its reply goes
   * nowhere). It travels on the same ordered channel as requests, after every request made before
   * it and before every one made after, so a request that depends on it finds it handled. It takes
   * no place in the in-flight window and is never shed (it waits in the queue, whatever its length,
   * while the worker is not ready or requests queue ahead of it). It is lost, with the requests in
   * flight, if the worker dies before handling it: the embedder's crash recovery must cover that.
   * Returns false, sending nothing, when the router is closed, the shard is dead for good or the
   * message is larger than a ring record.
   */
  tellShard(shard: number, body: Req): boolean {
    const s = this.states[shard];
    if (s === undefined) throw new RangeError(`shard ${shard} out of range [0, ${this.shards})`);
    if (this.closing || s.dead) return false;
    if (this.codec !== null && 4 + this.codec.requestBytes(body) > this.maxRecord) return false;
    this.counters.addAt(shard, IDX_REQUESTS, 1);
    if (s.ready && queueLength(s) === 0) {
      this.send(s, body, null);
    } else {
      s.queue.push(body, null);
      this.counters.setAt(shard, IDX_QUEUED, queueLength(s));
    }
    return true;
  }

  requestAsync(key: string, body: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.request(key, body, (err, res) => (err ? reject(err) : resolve(res as Res)));
    });
  }

  requestShardAsync(shard: number, body: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.requestShard(shard, body, (err, res) => (err ? reject(err) : resolve(res as Res)));
    });
  }

  /**
   * Event-loop utilisation of `shard`'s current worker since it started (`idle` and `active` ms),
   * or null while it has none: how busy the shard thread is, without messaging it.
   */
  eventLoopUtilization(shard: number): { idle: number; active: number } | null {
    const w = this.states[shard]?.worker;
    if (w === null || w === undefined) return null;
    const u = w.performance.eventLoopUtilization();
    return { idle: u.idle, active: u.active };
  }

  /** Current worker generation of `shard` (0 until its first restart). */
  generationOf(shard: number): number {
    return this.states[shard]!.generation;
  }

  on<K extends keyof ShardRouterEvents<Ev>>(event: K, listener: ShardRouterEvents<Ev>[K]): this {
    this.emitter.on(event, listener);
    return this;
  }

  once<K extends keyof ShardRouterEvents<Ev>>(event: K, listener: ShardRouterEvents<Ev>[K]): this {
    this.emitter.once(event, listener);
    return this;
  }

  off<K extends keyof ShardRouterEvents<Ev>>(event: K, listener: ShardRouterEvents<Ev>[K]): this {
    this.emitter.off(event, listener);
    return this;
  }

  /** Let the process exit while workers are still up (e.g. a CLI that ends on its own). */
  unref(): void {
    this.unrefed = true;
    for (const s of this.states) {
      s.worker?.unref();
      s.port?.unref();
    }
  }

  /**
   * Stop accepting requests, let in-flight and queued ones finish, ask workers to shut down
   * (their `onShutdown` runs), and terminate any still running when `closeTimeoutMs` runs out.
   * Requests still unanswered then fail with SHARD_CLOSED. Idempotent.
   */
  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  // ---- internals -------------------------------------------------------------------------------

  private async doClose(): Promise<void> {
    this.closing = true;
    const deadline = Date.now() + (this.opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    for (const s of this.states) {
      if (s.restartTimer !== null) {
        clearTimeout(s.restartTimer);
        s.restartTimer = null;
      }
      // Queued requests of a shard without a live worker have nowhere to go.
      if (s.worker === null) this.failQueued(s, ShardErrorCode.Closed, 'shard router closed');
    }
    if (!this.isDrained()) {
      await this.waitUntil(deadline, (done) => (this.drained = done));
      this.drained = null;
    }
    const exits: Promise<void>[] = [];
    for (const s of this.states) {
      const w = s.worker;
      if (w === null) continue;
      exits.push(new Promise<void>((resolve) => (s.exited = resolve)));
      s.stopping = true;
      if (s.ready && s.port !== null) {
        this.flush(s);
        const m: ShutdownMessage = { type: 'shutdown' };
        s.port.postMessage(m);
      } else {
        void w.terminate();
      }
    }
    if (exits.length > 0) {
      const all = Promise.all(exits).then(() => undefined);
      await this.waitUntil(deadline, (done) => void all.then(done));
      for (const s of this.states) {
        if (s.worker !== null) void s.worker.terminate();
      }
      await all;
    }
    for (const s of this.states) {
      this.failPending(s, ShardErrorCode.Closed, 'shard router closed');
      this.failQueued(s, ShardErrorCode.Closed, 'shard router closed');
    }
  }

  /** Resolves when `arm`'s callback fires or at `deadline`, whichever first. */
  private waitUntil(deadline: number, arm: (done: () => void) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      t.unref();
      arm(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private isDrained(): boolean {
    for (const s of this.states) {
      if (s.inFlight > 0 || queueLength(s) > 0) return false;
    }
    return true;
  }

  private spawn(s: ShardState<Req, Res>): void {
    const gen = s.generation;
    const userData = this.opts.workerData ? this.opts.workerData(s.index, gen) : undefined;
    const { port1, port2 } = new MessageChannel();
    let rings: ShardRings | null = null;
    if (this.codec !== null) {
      rings = { toWorker: createRingBuffer(this.ringBytes), toMain: createRingBuffer(this.ringBytes) };
      // The doorbells ride on this generation's port: a bare number, only when the worker sleeps.
      const bell = {
        records: (): void => port1.postMessage(RingBell.Records),
        room: (): void => port1.postMessage(RingBell.Room),
      };
      s.tx = new RingProducer(rings.toWorker, bell);
      s.rx = new RingConsumer(rings.toMain, bell);
      s.w = new WireWriter(s.tx.buf);
      s.r = new WireReader(s.rx.buf);
      s.rx.sleep();
    }
    const boot: ShardBootstrap = {
      [SHARD_BOOTSTRAP_MARKER]: 1,
      port: port2,
      shard: s.index,
      shards: this.shards,
      generation: gen,
      counterLayout: this.layout,
      counterBuffer: this.counters.buffer,
      batchFlush: this.batchFlush,
      rings,
      userData,
    };
    const worker = new Worker(this.opts.workerScript, {
      workerData: boot,
      transferList: [port2],
      resourceLimits: this.opts.resourceLimits,
      execArgv: this.opts.execArgv,
      name: `${this.opts.name ?? 'shard'}-${s.index}`,
    });
    s.worker = worker;
    s.port = port1;
    s.ready = false;
    this.counters.setAt(s.index, IDX_GENERATION, gen);
    port1.on('message', (msg: WorkerToMainMessage<Res, Ev>) => {
      if (s.generation !== gen || s.port !== port1) return;
      if (msg === RingBell.Records) this.onRecords(s);
      else if (msg === RingBell.Room) this.flush(s);
      else this.onMessage(s, msg);
    });
    worker.on('error', (err: Error) => this.emitter.emit('shard-error', s.index, err));
    worker.on('exit', (code: number) => this.onExit(s, gen, code));
    if (this.unrefed) {
      worker.unref();
      port1.unref();
    }
  }

  /** Codec transport: the worker published replies while we slept; read until there are none. */
  private onRecords(s: ShardState<Req, Res>): void {
    const rx = s.rx;
    if (rx === null) return;
    do this.drainRing(s);
    while (s.rx === rx && !rx.sleep());
  }

  private onMessage(s: ShardState<Req, Res>, msg: Exclude<WorkerToMainMessage<Res, Ev>, RingBell>): void {
    if (msg.type === 'out') {
      this.counters.addAt(s.index, IDX_BATCHES_RECEIVED, 1);
      const items = msg.items;
      for (let i = 0; i < items.length; i++) {
        const e = items[i]!;
        if (e[0] === OutKind.Event) {
          try {
            this.emitter.emit('event', s.index, e[1]);
          } catch (err) {
            rethrowLater(err);
          }
          continue;
        }
        if (e[0] === OutKind.Reply) this.complete(s, e[1], null, e[2]);
        else this.complete(s, e[1], new ShardError(ShardErrorCode.HandlerError, e[3], s.index, e[2]), undefined);
      }
      this.afterReplies(s);
    } else if (msg.type === 'ready') {
      s.ready = true;
      s.readyAt = Date.now();
      if (s.generation > 0) this.emitter.emit('shard-restart', s.index, s.generation);
      if (!s.everReady) {
        s.everReady = true;
        this.startWaiter?.ready();
      }
      this.pump(s);
    }
  }

  /** Answers a request: frees its slot and calls its callback. */
  private complete(s: ShardState<Req, Res>, id: number, err: ShardError | null, res: Res | undefined): void {
    const cb = s.cbs[id];
    if (cb === undefined) return;
    s.cbs[id] = undefined;
    s.freeIds.push(id);
    s.inFlight--;
    try {
      cb(err, res);
    } catch (e) {
      rethrowLater(e);
    }
  }

  private afterReplies(s: ShardState<Req, Res>): void {
    this.pump(s);
    this.counters.setAt(s.index, IDX_IN_FLIGHT, s.inFlight);
    if (this.drained !== null && this.isDrained()) this.drained();
  }

  /** Codec transport: reads every published record of the worker's ring, in order. */
  private drainRing(s: ShardState<Req, Res>): void {
    const rx = s.rx!;
    if (!rx.begin()) return;
    const r = s.r!;
    const codec = this.codec!;
    this.counters.addAt(s.index, IDX_BATCHES_RECEIVED, 1);
    for (let p = rx.next(); p !== -1; p = rx.next()) {
      r.pos = p;
      const kind = r.u8();
      if (kind === OutKind.Event) {
        const ev = codec.readEvent(r);
        try {
          this.emitter.emit('event', s.index, ev);
        } catch (err) {
          rethrowLater(err);
        }
        continue;
      }
      const id = r.u32();
      if (kind === OutKind.Reply) {
        this.complete(s, id, null, codec.readReply(r));
      } else {
        const handlerCode = r.str();
        this.complete(s, id, new ShardError(ShardErrorCode.HandlerError, r.str(), s.index, handlerCode), undefined);
      }
    }
    rx.end();
    this.afterReplies(s);
  }

  private onExit(s: ShardState<Req, Res>, gen: number, code: number): void {
    if (s.generation !== gen) return;
    // Replies the worker published before it went are answers, not losses.
    if (s.rx !== null) this.drainRing(s);
    const wasStopping = s.stopping;
    const wasReady = s.ready;
    s.worker = null;
    s.ready = false;
    s.stopping = false;
    s.port?.close();
    s.port = null;
    this.dropRings(s);
    if (wasStopping) {
      this.failPending(s, ShardErrorCode.Closed, `shard ${s.index} worker stopped`);
    } else {
      this.failPending(s, ShardErrorCode.Crashed, `shard ${s.index} worker exited with code ${code}`);
    }
    this.emitter.emit('shard-exit', s.index, code);
    if (s.exited !== null) {
      const done = s.exited;
      s.exited = null;
      done();
    }
    if (this.startWaiter !== null && !wasReady && !s.everReady) {
      this.startWaiter.fail(new Error(`shard ${s.index} worker exited with code ${code} before it was ready`));
      return;
    }
    if (this.closing) {
      this.failQueued(s, ShardErrorCode.Closed, 'shard router closed');
      if (this.drained !== null && this.isDrained()) this.drained();
      return;
    }
    if (this.opts.restartOnExit === false) {
      s.dead = true;
      this.failQueued(s, ShardErrorCode.Crashed, `shard ${s.index} worker exited and is not restarted`);
      return;
    }
    this.scheduleRestart(s);
  }

  private scheduleRestart(s: ShardState<Req, Res>): void {
    const initial = this.opts.restartBackoffMs ?? DEFAULT_RESTART_BACKOFF_MS;
    const max = this.opts.maxRestartBackoffMs ?? DEFAULT_MAX_RESTART_BACKOFF_MS;
    if (s.readyAt > 0 && Date.now() - s.readyAt >= RESTART_BACKOFF_RESET_MS) s.backoffMs = initial;
    const delay = s.backoffMs;
    s.backoffMs = Math.min(max, Math.max(1, s.backoffMs * 2));
    s.readyAt = 0;
    s.restartTimer = setTimeout(() => {
      s.restartTimer = null;
      if (this.closing) return;
      s.generation++;
      this.counters.addAt(s.index, IDX_RESTARTS, 1);
      try {
        this.spawn(s);
      } catch (err) {
        this.emitter.emit('shard-error', s.index, err instanceof Error ? err : new Error(String(err)));
        this.scheduleRestart(s);
      }
    }, delay);
    s.restartTimer.unref();
  }

  /** `cb` null: a one-way message (no callback slot, outside the in-flight window). */
  private send(s: ShardState<Req, Res>, body: Req, cb: ShardCallback<Res> | null): void {
    let id = ONE_WAY_ID;
    if (cb !== null) {
      id = s.freeIds.length > 0 ? s.freeIds.pop()! : s.cbs.length;
      s.cbs[id] = cb;
      s.inFlight++;
    }
    if (s.tx !== null) {
      if (s.overflowHead !== s.overflow.length || !this.writeRequest(s, id, body)) s.overflow.push(id, body);
    } else {
      s.batch.push([id, body]);
    }
    this.counters.setAt(s.index, IDX_IN_FLIGHT, s.inFlight);
    if (!s.flushScheduled) {
      s.flushScheduled = true;
      scheduleFlush(this.batchFlush, s.flush);
    }
  }

  /** Codec transport: one request record in place in the ring; false if the ring is full. */
  private writeRequest(s: ShardState<Req, Res>, id: number, body: Req): boolean {
    const codec = this.codec!;
    const at = s.tx!.reserve(4 + codec.requestBytes(body));
    if (at < 0) return false;
    const w = s.w!;
    w.pos = at;
    w.u32(id);
    codec.writeRequest(w, body);
    s.tx!.commit(w.pos);
    return true;
  }

  private flush(s: ShardState<Req, Res>): void {
    s.flushScheduled = false;
    if (!s.ready || s.port === null) return;
    const tx = s.tx;
    if (tx !== null) {
      const q = s.overflow;
      while (s.overflowHead < q.length && this.writeRequest(s, q[s.overflowHead] as number, q[s.overflowHead + 1] as Req)) {
        q[s.overflowHead + 1] = undefined;
        s.overflowHead += 2;
      }
      if (s.overflowHead === q.length) {
        s.overflow = [];
        s.overflowHead = 0;
      } else if (tx.waitForRoom()) {
        // The worker released records in between: write again on the next turn.
        if (!s.flushScheduled) {
          s.flushScheduled = true;
          scheduleFlush(this.batchFlush, s.flush);
        }
      }
      // else: the ring is full of records the worker has not read; its `room` bell calls flush.
      if (tx.publish()) this.counters.addAt(s.index, IDX_BATCHES_SENT, 1);
      return;
    }
    if (s.batch.length === 0) return;
    const msg: RequestBatchMessage<Req> = { type: 'requests', items: s.batch };
    s.batch = [];
    this.counters.addAt(s.index, IDX_BATCHES_SENT, 1);
    s.port.postMessage(msg);
  }

  /** Forgets a dead generation's rings. */
  private dropRings(s: ShardState<Req, Res>): void {
    s.tx = null;
    s.rx = null;
    s.w = null;
    s.r = null;
    s.overflow = [];
    s.overflowHead = 0;
  }

  /** Move waiting requests into the in-flight window while it has room. */
  private pump(s: ShardState<Req, Res>): void {
    if (!s.ready || queueLength(s) === 0) return;
    const q = s.queue;
    while (s.queueHead < q.length && (s.inFlight < this.maxInFlight || q[s.queueHead + 1] === null)) {
      const body = q[s.queueHead] as Req;
      const cb = q[s.queueHead + 1] as ShardCallback<Res> | null;
      q[s.queueHead] = undefined;
      q[s.queueHead + 1] = undefined;
      s.queueHead += 2;
      this.send(s, body, cb);
    }
    if (s.queueHead === q.length) {
      s.queue = [];
      s.queueHead = 0;
    } else if (s.queueHead > 4096 && s.queueHead * 2 > q.length) {
      s.queue = q.slice(s.queueHead);
      s.queueHead = 0;
    }
    this.counters.setAt(s.index, IDX_QUEUED, queueLength(s));
  }

  private failPending(s: ShardState<Req, Res>, code: ShardErrorCode, message: string): void {
    s.batch = [];
    s.overflow = [];
    s.overflowHead = 0;
    if (s.inFlight === 0) return;
    const cbs = s.cbs.filter((cb): cb is ShardCallback<Res> => cb !== undefined);
    s.cbs = [];
    s.freeIds = [];
    s.inFlight = 0;
    this.counters.setAt(s.index, IDX_IN_FLIGHT, 0);
    for (const cb of cbs) {
      try {
        cb(new ShardError(code, message, s.index));
      } catch (err) {
        rethrowLater(err);
      }
    }
  }

  private failQueued(s: ShardState<Req, Res>, code: ShardErrorCode, message: string): void {
    if (queueLength(s) === 0) return;
    const q = s.queue;
    const from = s.queueHead;
    s.queue = [];
    s.queueHead = 0;
    this.counters.setAt(s.index, IDX_QUEUED, 0);
    for (let i = from + 1; i < q.length; i += 2) {
      // One-way messages have nobody to tell.
      if (q[i] === null) continue;
      try {
        (q[i] as ShardCallback<Res>)(new ShardError(code, message, s.index));
      } catch (err) {
        rethrowLater(err);
      }
    }
  }

  private failLater(cb: ShardCallback<Res>, code: ShardErrorCode, message: string, shard: number): void {
    const err = new ShardError(code, message, shard);
    queueMicrotask(() => cb(err));
  }
}
