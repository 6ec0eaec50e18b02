import { closeSync, lstatSync, lutimesSync, readFileSync, readdirSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { shardForKey } from '../sharding/key-hash.js';
import { JournalError, JournalErrorCode } from './journal-error.js';
import { setAside, writeSnapshotFile } from './journal-file.js';
import type { SlotSnapshot } from './journal-format.js';
import { readJournalFile } from './journal-reader.js';
import { JournalState } from './journal-state.js';
import { JOURNAL_MAX_LOCK_BYTES, createOwnFile, ensureSafeDirectory, readOwnFile } from './journal-safety.js';

export const JOURNAL_LOCK_FILE = 'lock';
/** The live scaler touches its lock this often: the lock's age tells when its writer died. */
export const JOURNAL_HEARTBEAT_MS = 5_000;
/**
 * A journal whose writer showed no sign of life (lock touched, file written) for this long is
 * from an earlier run, not from the process a container runtime just restarted (Docker restarts
 * within seconds, Kubernetes backs off at most 5 minutes): its slots may belong to a platform
 * that is gone, and a new platform may reuse their ids. It is set aside, neither taken over nor
 * destroyed.
 */
export const JOURNAL_STALE_AFTER_MS = 10 * 60_000;
const SHARD_FILE = /^shard-(\d+)\.journal$/;

export function shardJournalFile(dir: string, shard: number): string {
  return join(dir, `shard-${shard}.journal`);
}

export interface JournalDirectoryOptions {
  readonly dir: string;
  readonly shards: number;
  readonly platform: string;
  /** Default JOURNAL_STALE_AFTER_MS. */
  readonly staleAfterMs?: number;
  /** Who must own the directory (default: this process's uid; tests pass another to play a foreign owner). */
  readonly ownerUid?: number;
}

/** What preparing the directory found (for the log and `/stats`). */
export interface JournalDirectoryReport {
  readonly dir: string;
  /** False when the journal is off for this run (locked, or the directory is unusable). */
  readonly enabled: boolean;
  readonly errors: JournalError[];
  /** Files moved out of the way (corrupt, another platform's, stale). */
  readonly setAside: string[];
  /** The previous run had another shard count: its slots were re-filed by key under this one. */
  readonly redistributedFrom: number | null;
}

/** True when `pid` is a live process other than us that looks like a Node process. */
function holderAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // In a container the dead scaler's pid is soon reused by something else: trust it only if it is node.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node');
  } catch {
    return true;
  }
}

/**
 * The main thread's side of the slot journal, run once at process start before any shard worker
 * exists: takes the directory's lock (two live scalers must never replay each other's slots),
 * sets aside files that are not this platform's, and re-files the slots by key when the shard
 * count changed (each worker then replays only its own file). Throws `JournalError`
 * `JOURNAL_UNSAFE` when the directory is not safely ours (journal-safety.ts): the scaler then
 * refuses to start rather than write through it. Any other journal problem does not throw: the
 * report says what went wrong, and the scaler serves, without a journal if need be.
 */
export class JournalDirectory {
  private locked = false;
  private heartbeat: NodeJS.Timeout | null = null;

  private constructor(
    readonly opts: JournalDirectoryOptions,
    readonly report: JournalDirectoryReport,
  ) {}

  /** Journal file of `shard`, or null when the journal is off. */
  fileOf(shard: number): string | null {
    return this.report.enabled ? shardJournalFile(this.opts.dir, shard) : null;
  }

  static open(opts: JournalDirectoryOptions): JournalDirectory {
    const errors: JournalError[] = [];
    const setAsideList: string[] = [];
    const off = (err: JournalError): JournalDirectory =>
      new JournalDirectory(opts, { dir: opts.dir, enabled: false, errors: [...errors, err], setAside: setAsideList, redistributedFrom: null });
    try {
      ensureSafeDirectory(opts.dir, opts.ownerUid);
    } catch (e) {
      if (e instanceof JournalError && e.code !== JournalErrorCode.Unsafe) return off(e);
      throw e;
    }
    const lock = join(opts.dir, JOURNAL_LOCK_FILE);
    // When the previous writer was last alive: its lock's heartbeat, or its files' last write.
    let lastAlive: number;
    try {
      lastAlive = JournalDirectory.lastSignOfLife(opts.dir);
    } catch (e) {
      return off(new JournalError(JournalErrorCode.Unreadable, opts.dir, `cannot list the journal directory: ${(e as Error).message}`));
    }
    const lockErr = JournalDirectory.lock(lock);
    if (lockErr !== null) return off(lockErr);
    let redistributedFrom: number | null = null;
    try {
      const quietMs = Date.now() - lastAlive;
      if (quietMs > (opts.staleAfterMs ?? JOURNAL_STALE_AFTER_MS)) JournalDirectory.setAsideStale(opts.dir, quietMs, errors, setAsideList);
      const files = JournalDirectory.inspect(opts, errors, setAsideList);
      if (files.needsRefiling) {
        redistributedFrom = files.previousShards;
        JournalDirectory.refile(opts, files.paths, errors, setAsideList);
      }
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      errors.push(new JournalError(JournalErrorCode.Unwritable, opts.dir, `cannot prepare the journal directory: ${e.message}`));
    }
    const d = new JournalDirectory(opts, { dir: opts.dir, enabled: true, errors, setAside: setAsideList, redistributedFrom });
    d.locked = true;
    d.heartbeat = setInterval(() => {
      try {
        const now = new Date();
        lutimesSync(lock, now, now);
      } catch {
        // the directory went away: nothing to vouch for
      }
    }, JOURNAL_HEARTBEAT_MS);
    d.heartbeat.unref();
    return d;
  }

  /** Latest mtime of the lock and the shard files (-Infinity when there are none). */
  private static lastSignOfLife(dir: string): number {
    let last = -Infinity;
    for (const name of readdirSync(dir)) {
      if (name !== JOURNAL_LOCK_FILE && !SHARD_FILE.test(name)) continue;
      try {
        last = Math.max(last, lstatSync(join(dir, name)).mtimeMs);
      } catch {
        // removed meanwhile
      }
    }
    return last;
  }

  private static setAsideStale(dir: string, quietMs: number, errors: JournalError[], setAsideList: string[]): void {
    for (const name of readdirSync(dir)) {
      if (!SHARD_FILE.test(name)) continue;
      const path = join(dir, name);
      errors.push(
        new JournalError(
          JournalErrorCode.Stale,
          path,
          `written by a scaler last alive ${Math.round(quietMs / 60_000)} min ago, an earlier run: set aside, its slots neither taken over nor destroyed`,
        ),
      );
      const to = setAside(path, 'stale');
      if (to !== null) setAsideList.push(to);
    }
  }

  /** Releases the lock; removes the directory when nothing is left in it (clean shutdown). */
  close(): void {
    if (!this.locked) return;
    this.locked = false;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
    try {
      unlinkSync(join(this.opts.dir, JOURNAL_LOCK_FILE));
      rmdirSync(this.opts.dir);
    } catch {
      // journal files left to recover, or already gone
    }
  }

  private static lock(lock: string): JournalError | null {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = createOwnFile(lock);
        writeSync(fd, `${JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() })}\n`);
        closeSync(fd);
        return null;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          return new JournalError(JournalErrorCode.Unwritable, lock, `cannot take the journal lock: ${(e as Error).message}`);
        }
      }
      let pid = NaN;
      try {
        const text = readOwnFile(lock, JOURNAL_MAX_LOCK_BYTES)?.toString('utf8') ?? '';
        pid = Number((JSON.parse(text) as { pid?: unknown }).pid);
      } catch {
        // unreadable, half-written or not a file: the holder died while taking it (or it is not a lock)
      }
      if (holderAlive(pid)) return new JournalError(JournalErrorCode.Locked, lock, `held by live process ${pid}: another scaler uses this journal; running without one`);
      try {
        unlinkSync(lock);
      } catch {
        // someone else removed it first
      }
    }
    return new JournalError(JournalErrorCode.Locked, lock, 'cannot take the journal lock: another process keeps taking it');
  }

  /** Shard files present, and whether their layout differs from this run's. */
  private static inspect(
    opts: JournalDirectoryOptions,
    errors: JournalError[],
    setAsideList: string[],
  ): { paths: string[]; needsRefiling: boolean; previousShards: number | null } {
    const paths: string[] = [];
    let needsRefiling = false;
    let previousShards: number | null = null;
    for (const name of readdirSync(opts.dir)) {
      const path = join(opts.dir, name);
      if (name.endsWith('.journal.tmp')) {
        // A compaction or re-filing that died before its rename: the original is intact.
        unlinkSync(path);
        continue;
      }
      const m = SHARD_FILE.exec(name);
      if (m === null) continue;
      const index = Number(m[1]);
      let header;
      try {
        const read = readJournalFile(path, null);
        if (read.corrupt !== null && read.header === null) {
          errors.push(read.corrupt);
          const to = setAside(path, 'corrupt');
          if (to !== null) setAsideList.push(to);
          continue;
        }
        header = read.header;
      } catch (e) {
        if (!(e instanceof JournalError)) throw e;
        errors.push(e);
        if (e.code === JournalErrorCode.NotAFile) {
          // A symlink, FIFO or device in place of a journal file: moved aside (the link itself,
          // never its target), so the shard starts a fresh journal instead of opening it.
          const to = setAside(path, 'not-a-file');
          if (to !== null) setAsideList.push(to);
        }
        // Unreadable: left in place; its worker reports it again and runs without a journal.
        continue;
      }
      if (header !== null && header.platform !== opts.platform) {
        errors.push(
          new JournalError(JournalErrorCode.Foreign, path, `journal of platform ${header.platform}, not ${opts.platform}: its slots are not ours; set aside`),
        );
        const to = setAside(path, 'foreign');
        if (to !== null) setAsideList.push(to);
        continue;
      }
      paths.push(path);
      if (header !== null && (header.shards !== opts.shards || header.shard !== index)) {
        needsRefiling = true;
        previousShards = header.shards;
      }
      if (index >= opts.shards) needsRefiling = true;
    }
    return { paths, needsRefiling, previousShards };
  }

  /**
   * Re-files every slot under the shard its function's key maps to now (slots whose Init never
   * began have no key: shard 0 destroys them). New files are written whole and renamed into
   * place before the old ones are removed; a crash between leaves the same slot in two files
   * with the same state, which the next start merges.
   */
  private static refile(opts: JournalDirectoryOptions, paths: readonly string[], errors: JournalError[], setAsideList: string[]): void {
    const merged = new Map<string, SlotSnapshot>();
    const pending = new Set<string>();
    for (const path of paths) {
      const st = new JournalState();
      const read = readJournalFile(path, st);
      if (read.corrupt !== null) {
        // Its readable prefix is re-filed; the file itself is kept aside for inspection.
        errors.push(read.corrupt);
        const to = setAside(path, 'corrupt');
        if (to !== null) setAsideList.push(to);
      }
      for (const s of st.slots.values()) if (!merged.has(s.slotId)) merged.set(s.slotId, { ...s });
      for (const rid of st.pendingCreates) pending.add(rid);
    }
    const per: SlotSnapshot[][] = Array.from({ length: opts.shards }, () => []);
    for (const s of merged.values()) per[s.key === '' ? 0 : shardForKey(s.key, opts.shards)]!.push(s);
    const written = new Set<string>();
    for (let shard = 0; shard < opts.shards; shard++) {
      const path = shardJournalFile(opts.dir, shard);
      const { fd } = writeSnapshotFile(path, { shard, shards: opts.shards, platform: opts.platform }, per[shard]!, shard === 0 ? pending : []);
      closeSync(fd);
      written.add(path);
    }
    for (const path of paths) {
      if (written.has(path)) continue;
      try {
        unlinkSync(path);
      } catch {
        // set aside above
      }
    }
  }
}
