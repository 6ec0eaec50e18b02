/**
 * The live platform in a worker thread (`platform-worker.ts`), seen from the replayer's thread
 * through a mirror of its ledger.
 *
 * Why: on a small loaded machine, platform gRPC work (thousands of CreateSlot/Init calls in a
 * burst) on the replayer's event loop delays its dispatch timers and the callbacks that time
 * Assign/Idle, which inflates the measured schedule time. In a worker it runs in parallel.
 *
 * Exactness of validation. The worker numbers every ledger change (1, 2, ...) and publishes the
 * last number in a shared counter before the change can be observed through any reply. So when
 * an Assign reply arrives, `mark()` (one atomic load) is at least the number of every change the
 * scaler could have seen before replying. `at(mark, fn)` runs `fn` when the mirror has applied
 * exactly the changes up to `mark`, no more: at once if it already has (the usual case), else
 * from inside the batch handler, between the change numbered `mark` and the next. Callbacks run
 * in call order (FIFO; marks are non-decreasing since they are read from a monotonic counter),
 * so the replayer's own busy/broken bookkeeping is applied in the same order as in-process.
 * Hence each validation sees the ledger as of a point no earlier than the reply's causes and no
 * later than its arrival: an instance initialised before the scaler named it is always known,
 * and a destroy that happened after the reply arrived is never held against it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { MetaRecord } from '../contest/dataset-types.js';
import { leakCheckOf, PLATFORM_SHUTDOWN_GRACE_MS } from './platform-server.js';
import { DEFAULT_PLATFORM_ADDRESS } from '../../config.js';
import type { InstanceEntry, LeakCheck, SlotCostSink, SlotEntry } from './platform-server.js';
import { COUNTER_BYTES, LEDGER_OP_ARITY, LedgerOp, PLATFORM_WORKER_KIND, PUBLISHED_SEQ_INDEX } from './platform-worker-protocol.js';
import type {
  LedgerBatchMessage,
  LedgerOpCode,
  MainToPlatformWorker,
  PlatformWorkerData,
  PlatformWorkerToMain,
  SyncReply,
  WorkerFaultPlan,
} from './platform-worker-protocol.js';

/** How long `start()` waits for the worker to bind its port. */
export const PLATFORM_WORKER_START_TIMEOUT_MS = 15_000;
/** `close()` gives the worker the platform's own grace, plus this, before terminating it. */
export const PLATFORM_WORKER_CLOSE_MARGIN_MS = 1_000;

/**
 * Compiled worker script: next to this file when it runs from `dist/src/sim/live/`, else (a test
 * importing the TypeScript source) under `<repo>/dist/`.
 */
export const PLATFORM_WORKER_SCRIPT = ((): string => {
  const here = fileURLToPath(new URL('./', import.meta.url));
  return /[\\/]dist[\\/]src[\\/]sim[\\/]live[\\/]$/.test(here)
    ? `${here}platform-worker.js`
    : fileURLToPath(new URL('../../../dist/src/sim/live/platform-worker.js', import.meta.url));
})();

/** True when the compiled worker exists (the threaded platform can be used). */
export function platformWorkerAvailable(script: string = PLATFORM_WORKER_SCRIPT): boolean {
  return existsSync(script);
}

export type ThreadedPlatformErrorCode = 'WORKER_START_FAILED' | 'WORKER_EXITED' | 'LEDGER_OUT_OF_ORDER';

export class ThreadedPlatformError extends Error {
  readonly code: ThreadedPlatformErrorCode;
  constructor(code: ThreadedPlatformErrorCode, message: string) {
    super(message);
    this.name = 'ThreadedPlatformError';
    this.code = code;
  }
}

export interface ThreadedPlatformOptions {
  readonly address?: string;
  readonly createLatencyMs?: number;
  readonly metas: Iterable<MetaRecord>;
  /** Every init lasts this long (instead of the function's `initDurationInMs`). */
  readonly fixedInitDurationMs?: number;
  readonly faultPlan?: WorkerFaultPlan;
  readonly scoreBook?: SlotCostSink;
  readonly workerScript?: string;
}

export interface PlatformSyncResult {
  readonly callCounts: Record<string, Record<string, number>>;
  readonly injected?: Record<string, number>;
}

interface Waiter {
  readonly mark: number;
  readonly fn: () => void;
}

export class ThreadedPlatform {
  /** Mirror of the worker's ledger (busy/broken are the replayer's, kept here only). */
  readonly slots = new Map<string, SlotEntry>();
  readonly instances = new Map<string, InstanceEntry>();

  private readonly opts: ThreadedPlatformOptions;
  private readonly address: string;
  private readonly counterBuf = new SharedArrayBuffer(COUNTER_BYTES);
  private readonly counter = new Int32Array(this.counterBuf);
  private scoreBook: SlotCostSink | undefined;
  private worker: Worker | undefined;
  private boundPort = 0;
  private liveSlots = 0;
  private applied = 0;
  private waiters: Waiter[] = [];
  private waitHead = 0;
  private nextSyncId = 1;
  private readonly syncs = new Map<number, (r: SyncReply) => void>();
  private closed: (() => void) | undefined;
  private failure: ThreadedPlatformError | undefined;

  constructor(opts: ThreadedPlatformOptions) {
    this.opts = opts;
    this.address = opts.address ?? DEFAULT_PLATFORM_ADDRESS;
    this.scoreBook = opts.scoreBook;
  }

  get port(): number {
    return this.boundPort;
  }

  get target(): string {
    const host = this.address.slice(0, this.address.lastIndexOf(':'));
    return `${host}:${this.boundPort}`;
  }

  get liveSlotCount(): number {
    return this.liveSlots;
  }

  get createdSlotCount(): number {
    return this.slots.size;
  }

  /** Set when the worker died or the ledger stream broke; validations then see a frozen ledger. */
  get error(): ThreadedPlatformError | undefined {
    return this.failure;
  }

  detachScoreBook(): void {
    this.scoreBook = undefined;
  }

  attachScoreBook(book: SlotCostSink): void {
    this.scoreBook = book;
  }

  async start(): Promise<number> {
    if (this.worker !== undefined) throw new Error('ThreadedPlatform already started');
    const data: PlatformWorkerData = {
      kind: PLATFORM_WORKER_KIND,
      address: this.address,
      createLatencyMs: this.opts.createLatencyMs,
      metas: [...this.opts.metas],
      fixedInitDurationMs: this.opts.fixedInitDurationMs,
      faultPlan: this.opts.faultPlan,
      counter: this.counterBuf,
    };
    const worker = new Worker(this.opts.workerScript ?? PLATFORM_WORKER_SCRIPT, { workerData: data });
    this.worker = worker;
    return new Promise<number>((resolve, reject) => {
      let started = false;
      const timer = setTimeout(() => {
        if (started) return;
        reject(new ThreadedPlatformError('WORKER_START_FAILED', `platform worker did not start within ${PLATFORM_WORKER_START_TIMEOUT_MS} ms`));
        void worker.terminate();
      }, PLATFORM_WORKER_START_TIMEOUT_MS);
      timer.unref();
      worker.on('message', (msg: PlatformWorkerToMain) => {
        switch (msg.type) {
          case 'ledger':
            this.apply(msg);
            break;
          case 'sync-reply':
            this.syncs.get(msg.id)?.(msg);
            this.syncs.delete(msg.id);
            break;
          case 'ready':
            started = true;
            clearTimeout(timer);
            this.boundPort = msg.port;
            resolve(msg.port);
            break;
          case 'start-failed':
            clearTimeout(timer);
            reject(new ThreadedPlatformError('WORKER_START_FAILED', msg.message));
            break;
          case 'closed':
            this.closed?.();
            break;
        }
      });
      worker.once('error', (e) => {
        this.fail(new ThreadedPlatformError('WORKER_EXITED', `platform worker failed: ${e.message}`));
        if (!started) reject(this.failure!);
      });
      worker.once('exit', (code) => {
        this.worker = undefined;
        if (this.closed === undefined) {
          this.fail(new ThreadedPlatformError('WORKER_EXITED', `platform worker exited (code ${code})`));
          if (!started) reject(this.failure!);
        }
        this.closed?.();
      });
    });
  }

  /** Every ledger change published so far, anywhere (see the file comment). */
  mark(): number {
    return Atomics.load(this.counter, PUBLISHED_SEQ_INDEX);
  }

  /** Runs `fn` once the mirror holds exactly the changes up to `mark` (FIFO, see file comment). */
  at(mark: number, fn: () => void): void {
    if (this.waitHead === this.waiters.length && (this.applied >= mark || this.failure !== undefined)) {
      fn();
      return;
    }
    this.waiters.push({ mark, fn });
  }

  /** Resolves once the mirror holds every change made before the call. */
  settled(): Promise<void> {
    const m = this.mark();
    return new Promise((resolve) => this.at(m, resolve));
  }

  /** Call counts (and injected faults) from the worker, with the mirror caught up to them. */
  async sync(): Promise<PlatformSyncResult> {
    const worker = this.worker;
    if (worker === undefined) return { callCounts: {} };
    const id = this.nextSyncId++;
    const reply = await new Promise<SyncReply>((resolve) => {
      this.syncs.set(id, resolve);
      worker.postMessage({ type: 'sync', id } satisfies MainToPlatformWorker);
    });
    await new Promise<void>((resolve) => this.at(reply.seq, resolve));
    return { callCounts: reply.callCounts, injected: reply.injected };
  }

  /** Plan time of a worker-side fault plan starts now. */
  startFaultClock(): void {
    this.worker?.postMessage({ type: 'start-fault-clock' } satisfies MainToPlatformWorker);
  }

  /** Same rules as `PlatformServer.leakCheck`, on the mirror (which holds the broken flags). */
  leakCheck(trackedSlotIds?: Iterable<string>): LeakCheck {
    return leakCheckOf(this.slots, this.instances, trackedSlotIds);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        resolve();
      }, PLATFORM_SHUTDOWN_GRACE_MS + PLATFORM_WORKER_CLOSE_MARGIN_MS);
      timer.unref();
      this.closed = () => {
        clearTimeout(timer);
        resolve();
      };
      worker.postMessage({ type: 'close' } satisfies MainToPlatformWorker);
    });
    this.closed = () => undefined;
    // 'closed' is the worker's last message; let the thread end (or end it).
    await worker.terminate();
    this.worker = undefined;
  }

  // ------------------------------------------------------------------------------------------

  private fail(e: ThreadedPlatformError): void {
    this.failure ??= e;
    // Nothing more will arrive: release every waiter on the ledger as it stands.
    this.runWaiters(Infinity);
  }

  private runWaiters(upTo: number): void {
    const w = this.waiters;
    while (this.waitHead < w.length && (w[this.waitHead] as Waiter).mark <= upTo) {
      const { fn } = w[this.waitHead] as Waiter;
      w[this.waitHead++] = undefined as unknown as Waiter;
      fn();
    }
    if (this.waitHead === w.length) {
      this.waiters = [];
      this.waitHead = 0;
    }
  }

  private apply(msg: LedgerBatchMessage): void {
    if (msg.firstSeq !== this.applied + 1) {
      this.fail(new ThreadedPlatformError('LEDGER_OUT_OF_ORDER', `ledger batch starts at ${msg.firstSeq}, expected ${this.applied + 1}`));
      return;
    }
    const ops = msg.ops;
    let i = 0;
    while (i < ops.length) {
      const op = ops[i] as LedgerOpCode;
      const slotId = ops[i + 1] as string;
      switch (op) {
        case LedgerOp.SlotCreated: {
          const memoryMb = ops[i + 2] as number;
          const atMs = ops[i + 3] as number;
          this.slots.set(slotId, { slotId, memoryMb, createdAtMs: atMs, state: 'created', initFailed: false });
          this.liveSlots++;
          this.scoreBook?.onSlotCreated(slotId, memoryMb, atMs);
          break;
        }
        case LedgerOp.InitStarted: {
          const slot = this.slots.get(slotId);
          const instanceId = ops[i + 2] as string;
          if (slot !== undefined) {
            this.instances.set(instanceId, {
              instanceId,
              slotId,
              metaKey: ops[i + 3] as string,
              memoryMb: slot.memoryMb,
              state: 'initialising',
              broken: false,
            });
            slot.state = 'initialising';
            slot.instanceId = instanceId;
          }
          break;
        }
        case LedgerOp.InitReady: {
          const slot = this.slots.get(slotId);
          const inst = slot?.instanceId === undefined ? undefined : this.instances.get(slot.instanceId);
          if (slot !== undefined && inst !== undefined) {
            inst.state = 'ready';
            inst.readyAtMs = ops[i + 2] as number;
            slot.state = 'ready';
            this.scoreBook?.onSlotBound?.(slotId, inst.metaKey, inst.readyAtMs);
          }
          break;
        }
        case LedgerOp.InitFailed: {
          const slot = this.slots.get(slotId);
          if (slot !== undefined && slot.state !== 'destroyed') slot.initFailed = true;
          break;
        }
        case LedgerOp.SlotDestroyed: {
          const slot = this.slots.get(slotId);
          const atMs = ops[i + 2] as number;
          if (slot !== undefined) {
            slot.state = 'destroyed';
            slot.destroyedAtMs = atMs;
            this.liveSlots--;
            const inst = slot.instanceId === undefined ? undefined : this.instances.get(slot.instanceId);
            if (inst !== undefined) inst.state = 'destroyed';
          }
          this.scoreBook?.onSlotDestroyed(slotId, atMs);
          break;
        }
        default:
          this.fail(new ThreadedPlatformError('LEDGER_OUT_OF_ORDER', `unknown ledger op ${String(op)}`));
          return;
      }
      i += 1 + LEDGER_OP_ARITY[op];
      this.applied++;
      if (this.waitHead < this.waiters.length && (this.waiters[this.waitHead] as Waiter).mark <= this.applied) this.runWaiters(this.applied);
    }
  }
}
