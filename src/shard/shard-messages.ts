/**
 * The scaler's messages between the main thread and its shard workers, all in one place.
 * Short field names: each crosses a MessagePort (structured clone) once per call.
 */
import type { PlatformClientKind } from '../config.js';

export const ShardOp = { Assign: 0, Idle: 1, Cancel: 2 } as const;

export interface AssignMessage {
  readonly op: typeof ShardOp.Assign;
  readonly rid: string;
  readonly key: string;
  readonly mem: number;
  readonly rt: string;
  readonly to: number;
}

export interface IdleMessage {
  readonly op: typeof ShardOp.Idle;
  readonly rid: string;
  readonly key: string;
  readonly iid: string;
  /** need_destroy */
  readonly nd: boolean;
  /** duration_in_ms */
  readonly dur: number;
}

/** The client gave up on a waiting Assign (cancelled or deadline). */
export interface CancelMessage {
  readonly op: typeof ShardOp.Cancel;
  readonly rid: string;
  readonly key: string;
}

export type ShardRequest = AssignMessage | IdleMessage | CancelMessage;

/** Assign: the instance id; Idle and Cancel: ''. Errors travel as `reply.error(ScalerErrorCode, message)`. */
export type ShardResponse = string;

/** Slot journal events (shard -> main), so main knows every live slot of every shard. */
export interface SlotCreatedEvent {
  readonly t: 'slot-created';
  readonly slotId: string;
  readonly mem: number;
  readonly iid: string;
  readonly key: string;
}

export interface SlotDestroyedEvent {
  readonly t: 'slot-destroyed';
  readonly slotId: string;
}

/** The shard's slot journal file could not be used as it was (rare; main lists it on /stats). */
export interface JournalErrorEvent {
  readonly t: 'journal-error';
  /** A `JournalErrorCode`. */
  readonly code: string;
  readonly file: string;
  readonly offset: number;
  readonly message: string;
}

export type ShardEvent = SlotCreatedEvent | SlotDestroyedEvent | JournalErrorEvent;

/** What a shard worker is started with (`ShardRouter` `workerData`). */
export interface ShardWorkerData {
  readonly platformAddress: string;
  /** `--platform-client`; absent means `DEFAULT_PLATFORM_CLIENT` (src/config.ts). */
  readonly platformClient?: PlatformClientKind;
  readonly policy: string;
  readonly keepAliveMs: number | undefined;
  /** `--max-cold-starts` / `--max-destroys` (0: unbounded); absent means the defaults of src/platform/bounded-platform.ts. */
  readonly maxColdStarts?: number;
  readonly maxDestroys?: number;
  readonly logLevel: string;
  /** Unique per process start, shard and generation: instance ids never collide. */
  readonly instancePrefix: string;
  /**
   * Slots a crashed predecessor left alive (slot id, memory MB, instance id when initialising
   * began): the new worker destroys them and accepts the pending Idle of their instances.
   */
  readonly orphanSlots: ReadonlyArray<readonly [slotId: string, memoryMb: number, instanceId?: string]>;
  /** This shard's slot journal file (src/journal), or null when the journal is off. */
  readonly journalPath: string | null;
}
