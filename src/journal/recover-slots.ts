import type { FunctionMeta } from '../core/types.js';
import { SlotPhase, type SlotSnapshot } from './journal-format.js';

/** The two `ScalerCore` calls recovery needs. */
export interface RecoveryTarget {
  adoptInstance(slotId: string, instanceId: string, meta: FunctionMeta, busyRequestId: string): boolean;
  destroyOrphanSlot(slotId: string, memoryMb: number, instanceId?: string): void;
}

export interface RecoveryCounts {
  /** Live slots found in the journal. */
  readonly recovered: number;
  /** Initialised instances taken over idle (the policy's keep-alive then decides). */
  readonly adoptedIdle: number;
  /** Initialised instances taken over while a request holds them (their Idle is awaited). */
  readonly adoptedBusy: number;
  /** Slots destroyed because nothing will use them: Init never answered, or already retired. */
  readonly reclaimed: number;
}

/**
 * Hands the slots a previous writer of this journal left to the new core. After a process
 * restart (`adopt`), every initialised instance is taken over as it was, idle or held by its
 * request, so that request's Idle succeeds and warm instances stay warm; the rest (created or
 * mid-Init when the process died, or being destroyed) can serve nobody and are destroyed. After
 * a shard worker crash (not `adopt`) everything is destroyed, as the in-memory journal did before:
 * a crashed worker is a bug, and its instances are not trusted; a held instance's one Idle is
 * still accepted.
 */
export function recoverSlots(slots: readonly SlotSnapshot[], target: RecoveryTarget, adopt: boolean): RecoveryCounts {
  let adoptedIdle = 0;
  let adoptedBusy = 0;
  let reclaimed = 0;
  for (const s of slots) {
    if (adopt && s.phase === SlotPhase.Ready && s.instanceId !== '') {
      const meta: FunctionMeta = { key: s.key, runtime: s.runtime, timeoutInSecs: s.timeoutInSecs, memoryMb: s.memoryMb };
      if (target.adoptInstance(s.slotId, s.instanceId, meta, s.busyRequestId)) {
        if (s.busyRequestId === '') adoptedIdle++;
        else adoptedBusy++;
        continue;
      }
    }
    target.destroyOrphanSlot(s.slotId, s.memoryMb, s.instanceId === '' ? undefined : s.instanceId);
    reclaimed++;
  }
  return { recovered: slots.length, adoptedIdle, adoptedBusy, reclaimed };
}
