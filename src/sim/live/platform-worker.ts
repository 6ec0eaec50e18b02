/**
 * Worker-thread entry of the live platform: a `PlatformServer` whose gRPC work (HTTP/2 framing,
 * protobuf, timers for creates and inits) runs off the replayer's event loop, so that it cannot
 * delay the replayer's dispatch timers or inflate the Assign/Idle latencies it measures.
 *
 * Ledger changes are published as they happen (shared sequence counter first, then the change in
 * a batch, see `platform-worker-protocol.ts`). Batches are flushed once per event-loop turn, and
 * at once when an `Init` succeeds, before its reply is handed to gRPC, so that the replayer's
 * mirror usually knows the instance before the scaler can name it.
 *
 * Started by `ThreadedPlatform`; runs only as a worker with our `workerData`.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { FaultPlan, liveFaultInjector } from './fault-plan.js';
import { PlatformServer, monotonicClock } from './platform-server.js';
import { DEFAULT_CREATE_LATENCY_MS } from '../contest/contest-platform.js';
import type { FaultInjector, InstanceEntry, LedgerListener, SlotEntry } from './platform-server.js';
import { LedgerOp, PLATFORM_WORKER_KIND, PUBLISHED_SEQ_INDEX } from './platform-worker-protocol.js';
import type { MainToPlatformWorker, PlatformWorkerData, PlatformWorkerToMain } from './platform-worker-protocol.js';
import type { MessagePort } from 'node:worker_threads';

function isWorkerData(d: unknown): d is PlatformWorkerData {
  return typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === PLATFORM_WORKER_KIND;
}

/** Publishes ledger changes to the main thread: counter first, batch at the end of the turn. */
class LedgerPublisher implements LedgerListener {
  private readonly counter: Int32Array;
  private seq = 0;
  private batchFirstSeq = 1;
  private ops: Array<string | number> = [];
  private flushScheduled = false;

  constructor(
    private readonly port: MessagePort,
    counter: SharedArrayBuffer,
  ) {
    this.counter = new Int32Array(counter);
  }

  get lastSeq(): number {
    return this.seq;
  }

  slotCreated(slot: SlotEntry): void {
    this.push(LedgerOp.SlotCreated, slot.slotId, slot.memoryMb, slot.createdAtMs);
  }

  initStarted(inst: InstanceEntry): void {
    this.push(LedgerOp.InitStarted, inst.slotId, inst.instanceId, inst.metaKey);
  }

  initReady(inst: InstanceEntry): void {
    this.push(LedgerOp.InitReady, inst.slotId, inst.readyAtMs ?? monotonicClock.now());
    // The scaler learns of the instance from the Init reply: get the change on its way first.
    this.flush();
  }

  initFailed(slotId: string): void {
    this.push(LedgerOp.InitFailed, slotId);
  }

  slotDestroyed(slot: SlotEntry): void {
    this.push(LedgerOp.SlotDestroyed, slot.slotId, slot.destroyedAtMs ?? monotonicClock.now());
  }

  flush(): void {
    if (this.ops.length === 0) return;
    const msg: PlatformWorkerToMain = { type: 'ledger', firstSeq: this.batchFirstSeq, ops: this.ops };
    this.ops = [];
    this.batchFirstSeq = this.seq + 1;
    this.port.postMessage(msg);
  }

  private push(...fields: Array<string | number>): void {
    for (const f of fields) this.ops.push(f);
    this.seq++;
    Atomics.store(this.counter, PUBLISHED_SEQ_INDEX, this.seq);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }
}

async function main(port: MessagePort, data: PlatformWorkerData): Promise<void> {
  const publisher = new LedgerPublisher(port, data.counter);
  const metas = new Map(data.metas.map((m) => [m.key, m]));
  const createLatencyMs = data.createLatencyMs ?? DEFAULT_CREATE_LATENCY_MS;
  const fixedInit = data.fixedInitDurationMs;
  let plan: FaultPlan | undefined;
  let faultT0 = NaN;
  let faults: FaultInjector | undefined;
  if (data.faultPlan !== undefined) {
    const fp = data.faultPlan;
    plan = new FaultPlan(fp.plan);
    const initOf = (key: string): number => {
      const ms = fixedInit ?? metas.get(key)?.initDurationInMs ?? 0;
      return fp.maxInitMs === undefined ? ms : Math.min(ms, fp.maxInitMs);
    };
    faults = liveFaultInjector(plan, {
      now: () => (Number.isNaN(faultT0) ? -1 : monotonicClock.now() - faultT0),
      createLatencyMs,
      initDurationMs: initOf,
      outageAs: fp.outageAs ?? 'status',
    });
  }
  const platform = new PlatformServer({
    address: data.address,
    createLatencyMs,
    metas,
    initDurationMs: fixedInit === undefined ? undefined : () => fixedInit,
    faults,
    clock: monotonicClock,
    ledgerListener: publisher,
  });
  let closing = false;
  port.on('message', (msg: MainToPlatformWorker) => {
    switch (msg.type) {
      case 'sync': {
        publisher.flush();
        const reply: PlatformWorkerToMain = {
          type: 'sync-reply',
          id: msg.id,
          seq: publisher.lastSeq,
          callCounts: platform.callCounts,
          injected: plan === undefined ? undefined : { ...plan.injected },
        };
        port.postMessage(reply);
        break;
      }
      case 'start-fault-clock':
        faultT0 = monotonicClock.now();
        break;
      case 'close':
        if (closing) return;
        closing = true;
        void platform.close().then(() => {
          publisher.flush();
          port.postMessage({ type: 'closed' } satisfies PlatformWorkerToMain);
          port.close();
        });
        break;
    }
  });
  try {
    const bound = await platform.start();
    port.postMessage({ type: 'ready', port: bound } satisfies PlatformWorkerToMain);
  } catch (e) {
    port.postMessage({ type: 'start-failed', message: e instanceof Error ? e.message : String(e) } satisfies PlatformWorkerToMain);
    port.close();
  }
}

if (!isMainThread && parentPort !== null && isWorkerData(workerData)) {
  void main(parentPort, workerData);
}
