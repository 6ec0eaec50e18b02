import { PlatformErrorKind, type FunctionMetaRef, type InitResult, type Platform, type PlatformCallback, type SlotInfo } from '../core/platform.js';
import type { JournalFile } from './journal-file.js';

/**
 * The shard's platform client with every slot-changing call journaled around it: the intent is
 * recorded (and, for CreateSlot and DestroySlot, written) before the call leaves, the outcome
 * before the core hears of it. The core stays unaware of the journal; only the assignments and
 * releases, which the shard worker sees and the platform does not, are journaled by the worker.
 */
export class JournalingPlatform implements Platform {
  constructor(
    private readonly inner: Platform & { close?(): void },
    private readonly journal: JournalFile,
  ) {}

  close(): void {
    this.inner.close?.();
  }

  createSlot(requestId: string, memoryMb: number, cb: PlatformCallback<SlotInfo>): void {
    const journal = this.journal;
    journal.creating(requestId);
    this.inner.createSlot(requestId, memoryMb, (err, slot) => {
      if (err === null && slot !== undefined) journal.created(requestId, slot.slotId, memoryMb);
      else journal.createEnded(requestId);
      cb(err, slot);
    });
  }

  init(requestId: string, slotId: string, instanceId: string, meta: FunctionMetaRef, cb: PlatformCallback<InitResult>): void {
    const journal = this.journal;
    journal.initBegun(slotId, instanceId, meta.key, meta.runtime, meta.timeoutInSecs, meta.memoryMb);
    this.inner.init(requestId, slotId, instanceId, meta, (err, res) => {
      if (err === null) journal.ready(slotId);
      cb(err, res);
    });
  }

  destroySlot(requestId: string, slotId: string, reason: string, cb: PlatformCallback<void>): void {
    const journal = this.journal;
    journal.retired(slotId);
    this.inner.destroySlot(requestId, slotId, reason, (err) => {
      // Gone, or already gone (NotFound). A destroy that keeps failing stays Retired, so the
      // next start tries again.
      if (err === null || err.kind === PlatformErrorKind.Permanent) journal.destroyed(slotId);
      cb(err);
    });
  }
}
