/**
 * Messages between `ThreadedPlatform` (main thread, replayer side) and `platform-worker.ts`
 * (the `PlatformServer` in its own thread).
 *
 * Ledger changes travel as batches of flat tuples. Each change has a sequence number (1, 2, ...,
 * in the order the platform made them); the worker publishes the last number it has assigned in
 * a shared counter (`Atomics.store`) BEFORE the change can be observed by anyone else (before the
 * gRPC reply that reveals it is sent). The main thread reads that counter to know how far its
 * mirror must catch up to reflect everything that happened before a given instant.
 */
import type { MetaRecord } from '../contest/dataset-types.js';
import type { FaultPlanOptions } from './fault-plan.js';

/** `Int32Array` index of the last published sequence number in the shared counter buffer. */
export const PUBLISHED_SEQ_INDEX = 0;
export const COUNTER_BYTES = 4;
/** Marks `workerData` as ours (the worker script refuses to start otherwise). */
export const PLATFORM_WORKER_KIND = 'scaler-platform-worker';

export const LedgerOp = {
  /** slotId, memoryMb, atMs */
  SlotCreated: 1,
  /** slotId, instanceId, metaKey */
  InitStarted: 2,
  /** slotId, atMs */
  InitReady: 3,
  /** slotId */
  InitFailed: 4,
  /** slotId, atMs */
  SlotDestroyed: 5,
} as const;
export type LedgerOpCode = (typeof LedgerOp)[keyof typeof LedgerOp];

/** Fields per op after the op code itself (the tuple stream is flat). */
export const LEDGER_OP_ARITY: Readonly<Record<LedgerOpCode, number>> = {
  [LedgerOp.SlotCreated]: 3,
  [LedgerOp.InitStarted]: 3,
  [LedgerOp.InitReady]: 2,
  [LedgerOp.InitFailed]: 1,
  [LedgerOp.SlotDestroyed]: 2,
};

/** Fault injection inside the worker: a `FaultPlan` is seeded, so its options reproduce it. */
export interface WorkerFaultPlan {
  readonly plan: FaultPlanOptions;
  /** Caps init durations used to size init spikes (as `runFaultLive` does). */
  readonly maxInitMs?: number;
  /** Unreachable windows answered as InternalError ('status') or ignored ('none'). */
  readonly outageAs?: 'status' | 'none';
}

export interface PlatformWorkerData {
  readonly kind: typeof PLATFORM_WORKER_KIND;
  readonly address: string;
  readonly createLatencyMs?: number;
  readonly metas: readonly MetaRecord[];
  /** When set, every init lasts this long (as the `initDurationMs` option, but a constant). */
  readonly fixedInitDurationMs?: number;
  readonly faultPlan?: WorkerFaultPlan;
  /** `SharedArrayBuffer` of `COUNTER_BYTES`: the last published sequence number. */
  readonly counter: SharedArrayBuffer;
}

// ---------------------------------------------------------------------------------------------
// main -> worker

export interface SyncRequest {
  readonly type: 'sync';
  readonly id: number;
}
/** Plan time starts now (fault windows and per-call draws are relative to it). */
export interface StartFaultClockMessage {
  readonly type: 'start-fault-clock';
}
export interface CloseRequest {
  readonly type: 'close';
}
export type MainToPlatformWorker = SyncRequest | StartFaultClockMessage | CloseRequest;

// ---------------------------------------------------------------------------------------------
// worker -> main

export interface ReadyMessage {
  readonly type: 'ready';
  readonly port: number;
}
export interface StartFailedMessage {
  readonly type: 'start-failed';
  readonly message: string;
}
export interface LedgerBatchMessage {
  readonly type: 'ledger';
  /** Sequence number of the first change in `ops`. */
  readonly firstSeq: number;
  /** Flat tuples: op code, then `LEDGER_OP_ARITY[op]` fields. */
  readonly ops: ReadonlyArray<string | number>;
}
export interface SyncReply {
  readonly type: 'sync-reply';
  readonly id: number;
  /** Last sequence number published when the request was handled (all earlier batches are sent). */
  readonly seq: number;
  readonly callCounts: Record<string, Record<string, number>>;
  readonly injected?: Record<string, number>;
}
export interface ClosedMessage {
  readonly type: 'closed';
}
export type PlatformWorkerToMain = ReadyMessage | StartFailedMessage | LedgerBatchMessage | SyncReply | ClosedMessage;
