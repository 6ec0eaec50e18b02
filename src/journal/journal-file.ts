import { closeSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { JournalError, JournalErrorCode } from './journal-error.js';
import { RecordType, type JournalHeader, type JournalVisitor, type SlotSnapshot } from './journal-format.js';
import { readJournalFile } from './journal-reader.js';
import { JournalState } from './journal-state.js';
import { RecordEncoder } from './record-encoder.js';
import { createOwnFile } from './journal-safety.js';

/**
 * Compaction: once this many bytes were appended since the last snapshot, and at least
 * COMPACT_GROWTH_FACTOR times the snapshot's size, the file is rewritten as a snapshot of the live
 * slots. At 4,000 Assign+Idle pairs/s a shard appends about 0.3 MB/s, so this is every 15-30 s,
 * and a snapshot is ~100 bytes per live slot.
 */
export const COMPACT_MIN_BYTES = 8 * 1024 * 1024;
export const COMPACT_GROWTH_FACTOR = 4;

export interface JournalFileOptions {
  readonly path: string;
  readonly shard: number;
  readonly shards: number;
  /** The platform the slots live on: a journal of another platform is set aside, not replayed. */
  readonly platform: string;
  readonly compactMinBytes?: number;
  readonly compactGrowthFactor?: number;
  /** Called once if appending fails; the journal then stops writing and the scaler serves on. */
  readonly onError?: (err: JournalError) => void;
}

/** What opening a shard's journal found (the previous writer's slots) and did. */
export interface JournalOpenReport {
  /** Slots the previous writer left alive (copies; the writer's own state moves on). */
  readonly slots: readonly SlotSnapshot[];
  /** CreateSlot calls the previous writer sent and never saw answered: slots that may exist unknown. */
  readonly lostCreates: number;
  /** Bytes of a torn last frame that were dropped. */
  readonly tornBytes: number;
  /** Corrupt (the readable prefix was used), foreign, unreadable or unwritable. */
  readonly error: JournalError | null;
  /** Where a corrupt or foreign file was moved to, for inspection. */
  readonly setAsideTo: string | null;
}

function writeFully(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Moves a file out of the way (keeping it for inspection); returns where, or null if it could not. */
export function setAside(path: string, why: string): string | null {
  const to = `${path}.${why}-${Date.now()}`;
  try {
    renameSync(path, to);
    return to;
  } catch {
    return null;
  }
}

/**
 * Writes a whole journal (header frame, then one frame with every slot and pending create) to
 * `path` through a temporary file and an atomic rename, and returns the open descriptor,
 * positioned at the end, for appending. A crash at any point leaves the old file or the new one.
 */
export function writeSnapshotFile(
  path: string,
  header: Omit<JournalHeader, 'version'>,
  slots: Iterable<SlotSnapshot>,
  pendingCreates: Iterable<string>,
): { fd: number; bytes: number } {
  const enc = new RecordEncoder(4096);
  const tmp = `${path}.tmp`;
  // A leftover (or planted) temporary file or symlink is removed, not written through: the new
  // one is created exclusively, without following links.
  try {
    unlinkSync(tmp);
  } catch {
    // none there
  }
  const fd = createOwnFile(tmp);
  try {
    enc.header(header);
    const head = enc.frame();
    writeFully(fd, head);
    let bytes = head.length;
    enc.reset();
    for (const s of slots) enc.slot(s);
    for (const rid of pendingCreates) enc.creating(rid);
    if (enc.payloadBytes > 0) {
      const body = enc.frame();
      writeFully(fd, body);
      bytes += body.length;
    }
    renameSync(tmp, path);
    return { fd, bytes };
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
}

/**
 * One shard's slot journal: an append-only file written only by that shard's worker thread (the
 * owner of its slots, so no locking, no cross-thread hop, and the cost lands on a shard thread,
 * not on the main thread that carries all the gRPC work).
 *
 * Group commit: records are encoded into one buffer and written with one `write` per event-loop
 * iteration (`setImmediate`), or earlier through `flush()`, which the shard calls before it posts any
 * reply (so an Assign reply never leaves ahead of its `Assigned` record) and which `creating` and
 * `retired` call themselves (so no CreateSlot or DestroySlot is sent ahead of its record). A
 * `write` to the page cache does not wait for the disk, and survives the process being killed;
 * there is no fsync: a machine crash takes the platform's slots with it.
 *
 * Every record is also applied to an in-memory `JournalState`, so compaction writes a snapshot of
 * that state without re-reading the file.
 */
export class JournalFile implements JournalVisitor {
  readonly state: JournalState;
  bytesWritten = 0;
  writes = 0;
  compactions = 0;
  private fd: number;
  private readonly enc = new RecordEncoder();
  private scheduled = false;
  private sinceSnapshot = 0;
  private snapshotBytes: number;
  private readonly compactMin: number;
  private readonly growth: number;
  private readonly header: Omit<JournalHeader, 'version'>;
  private failure: JournalError | null = null;
  private readonly flushTask = (): void => {
    this.scheduled = false;
    this.flush();
  };

  private constructor(
    readonly path: string,
    fd: number,
    state: JournalState,
    snapshotBytes: number,
    private readonly opts: JournalFileOptions,
  ) {
    this.fd = fd;
    this.state = state;
    this.snapshotBytes = snapshotBytes;
    this.bytesWritten = snapshotBytes;
    this.compactMin = opts.compactMinBytes ?? COMPACT_MIN_BYTES;
    this.growth = opts.compactGrowthFactor ?? COMPACT_GROWTH_FACTOR;
    this.header = { shard: opts.shard, shards: opts.shards, platform: opts.platform };
  }

  /**
   * Reads what the previous writer left at `path` (a torn tail is dropped; a corrupt file is read
   * up to the bad frame and set aside; a file of another shard layout or platform is set aside
   * unread), then starts the file afresh as a snapshot of the live slots. `file` is null when the
   * journal cannot be written here: the report's error says why.
   */
  static open(opts: JournalFileOptions): { file: JournalFile | null; report: JournalOpenReport } {
    const state = new JournalState();
    let error: JournalError | null = null;
    let setAsideTo: string | null = null;
    let tornBytes = 0;
    try {
      const read = readJournalFile(opts.path, state);
      tornBytes = read.tornBytes;
      const h = read.header;
      if (h !== null && (h.shard !== opts.shard || h.shards !== opts.shards || h.platform !== opts.platform)) {
        state.clear();
        error = new JournalError(
          JournalErrorCode.Foreign,
          opts.path,
          `journal of shard ${h.shard}/${h.shards} on platform ${h.platform}, not shard ${opts.shard}/${opts.shards} on ${opts.platform}: set aside, not replayed`,
        );
        setAsideTo = setAside(opts.path, 'foreign');
      } else if (read.corrupt !== null) {
        error = read.corrupt;
        setAsideTo = setAside(opts.path, 'corrupt');
      }
    } catch (e) {
      if (!(e instanceof JournalError)) throw e;
      // A file we cannot read is not one we may overwrite either.
      return { file: null, report: { slots: [], lostCreates: 0, tornBytes: 0, error: e, setAsideTo: null } };
    }
    const slots = [...state.slots.values()].map((s) => ({ ...s }));
    const lostCreates = state.pendingCreates.size;
    // Those calls' answers died with their process: nothing will resolve them now.
    state.pendingCreates.clear();
    let opened: { fd: number; bytes: number };
    try {
      opened = writeSnapshotFile(opts.path, { shard: opts.shard, shards: opts.shards, platform: opts.platform }, state.slots.values(), []);
    } catch (e) {
      const err = new JournalError(JournalErrorCode.Unwritable, opts.path, `cannot write the slot journal: ${(e as Error).message}`);
      return { file: null, report: { slots, lostCreates, tornBytes, error: error ?? err, setAsideTo } };
    }
    const file = new JournalFile(opts.path, opened.fd, state, opened.bytes, opts);
    return { file, report: { slots, lostCreates, tornBytes, error, setAsideTo } };
  }

  /** Set once writing failed; the journal writes nothing after it. */
  get error(): JournalError | null {
    return this.failure;
  }

  creating(requestId: string): void {
    if (this.fd < 0) return;
    this.enc.creating(requestId);
    this.state.creating(requestId);
    this.flush();
  }

  created(requestId: string, slotId: string, memoryMb: number): void {
    if (this.fd < 0) return;
    this.enc.created(requestId, slotId, memoryMb);
    this.state.created(requestId, slotId, memoryMb);
    this.schedule();
  }

  createEnded(requestId: string): void {
    if (this.fd < 0) return;
    this.enc.createEnded(requestId);
    this.state.createEnded(requestId);
    this.schedule();
  }

  initBegun(slotId: string, instanceId: string, key: string, runtime: string, timeoutInSecs: number, memoryMb: number): void {
    if (this.fd < 0) return;
    this.enc.initBegun(slotId, instanceId, key, runtime, timeoutInSecs, memoryMb);
    this.state.initBegun(slotId, instanceId, key, runtime, timeoutInSecs, memoryMb);
    this.schedule();
  }

  ready(slotId: string): void {
    if (this.fd < 0) return;
    this.enc.slotEvent(RecordType.Ready, slotId);
    this.state.ready(slotId);
    this.schedule();
  }

  assigned(instanceId: string, requestId: string): void {
    if (this.fd < 0) return;
    this.enc.instanceEvent(RecordType.Assigned, instanceId, requestId);
    this.state.assigned(instanceId, requestId);
    this.schedule();
  }

  released(instanceId: string, requestId: string): void {
    if (this.fd < 0) return;
    this.enc.instanceEvent(RecordType.Released, instanceId, requestId);
    this.state.released(instanceId, requestId);
    this.schedule();
  }

  /** Written (and flushed) once per slot, before its first DestroySlot is sent. */
  retired(slotId: string): void {
    if (this.fd < 0 || this.state.isRetired(slotId)) return;
    this.enc.slotEvent(RecordType.Retired, slotId);
    this.state.retired(slotId);
    this.flush();
  }

  destroyed(slotId: string): void {
    if (this.fd < 0) return;
    this.enc.slotEvent(RecordType.Destroyed, slotId);
    this.state.destroyed(slotId);
    this.schedule();
  }

  slot(s: SlotSnapshot): void {
    if (this.fd < 0) return;
    this.enc.slot(s);
    this.state.slot(s);
    this.schedule();
  }

  /** Writes what was appended since the last write, as one frame. Cheap when there is nothing. */
  flush(): void {
    if (this.fd < 0 || this.enc.payloadBytes === 0) return;
    const frame = this.enc.frame();
    try {
      writeFully(this.fd, frame);
    } catch (e) {
      this.fail(`cannot append to the slot journal: ${(e as Error).message}`);
      return;
    }
    this.enc.reset();
    this.writes++;
    this.bytesWritten += frame.length;
    this.sinceSnapshot += frame.length;
    if (this.sinceSnapshot > this.compactMin && this.sinceSnapshot > this.growth * this.snapshotBytes) this.compact();
  }

  /** Rewrites the file as a snapshot of the live slots (see COMPACT_MIN_BYTES). */
  compact(): void {
    if (this.fd < 0) return;
    this.flush();
    let next: { fd: number; bytes: number };
    try {
      next = writeSnapshotFile(this.path, this.header, this.state.slots.values(), this.state.pendingCreates);
    } catch {
      // The old file is intact and still ours: keep appending to it, try again after the next threshold.
      this.sinceSnapshot = 0;
      return;
    }
    closeSync(this.fd);
    this.fd = next.fd;
    this.snapshotBytes = next.bytes;
    this.sinceSnapshot = 0;
    this.bytesWritten += next.bytes;
    this.compactions++;
  }

  /**
   * Flushes and closes. With `removeIfEmpty`, a journal with no live slot and no unanswered
   * create is deleted (a clean shutdown leaves nothing to recover); otherwise it stays for the
   * next start, which destroys what is left.
   */
  close(removeIfEmpty: boolean): void {
    if (this.fd < 0) return;
    this.flush();
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
    if (removeIfEmpty && this.state.size === 0 && this.state.pendingCreates.size === 0) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      // Once per event-loop iteration (with every message handled in its poll phase), not per
      // microtask checkpoint: nothing that depends on a record leaves before it is written
      // (replies go through the shard's beforeFlush; CreateSlot and DestroySlot flush themselves),
      // so a later write only merges more records into it.
      setImmediate(this.flushTask);
    }
  }

  private fail(message: string): void {
    this.failure = new JournalError(JournalErrorCode.Unwritable, this.path, message);
    try {
      closeSync(this.fd);
    } catch {
      // already unusable
    }
    this.fd = -1;
    this.enc.reset();
    this.opts.onError?.(this.failure);
  }
}
