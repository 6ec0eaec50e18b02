/**
 * The journal directory as main prepares it at start: one live scaler per directory (lock), a
 * previous run's slots re-filed by key when the shard count changed, another platform's journal
 * set aside, and nothing left behind after a clean stop.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalDirectory, JOURNAL_LOCK_FILE, JOURNAL_STALE_AFTER_MS, shardJournalFile } from '../src/journal/journal-directory.js';
import { JournalErrorCode } from '../src/journal/journal-error.js';
import { JournalFile } from '../src/journal/journal-file.js';
import { shardForKey } from '../src/sharding/key-hash.js';

const PLATFORM = '127.0.0.1:50051';
let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'journal-dir-'));
  dirs.push(d);
  return d;
}

/** A journal of `shards` shards, each slot filed where its key maps (as the scaler would). */
function writeRun(dir: string, shards: number, keys: readonly string[], platform = PLATFORM): void {
  const files = Array.from({ length: shards }, (_, s) => JournalFile.open({ path: shardJournalFile(dir, s), shard: s, shards, platform }).file!);
  keys.forEach((key, n) => {
    const j = files[shardForKey(key, shards)]!;
    j.creating(`c${n}`);
    j.created(`c${n}`, `slot-${n}`, 256);
    j.initBegun(`slot-${n}`, `i${n}`, key, 'go', 60, 256);
    j.ready(`slot-${n}`);
  });
  files[0]!.creating('lost-create');
  files[shards - 1]!.creating('keyless');
  files[shards - 1]!.created('keyless', 'slot-keyless', 128);
  for (const f of files) f.close(false);
}

describe('JournalDirectory', () => {
  it('re-files a previous run’s slots by key when the shard count changed', () => {
    const dir = tempDir();
    const keys = Array.from({ length: 24 }, (_, i) => `fn-${i}`);
    writeRun(dir, 3, keys);
    const d = JournalDirectory.open({ dir, shards: 2, platform: PLATFORM });
    expect(d.report).toMatchObject({ enabled: true, errors: [], redistributedFrom: 3 });
    expect(existsSync(shardJournalFile(dir, 2))).toBe(false);
    const seen = new Set<string>();
    for (let s = 0; s < 2; s++) {
      const { report } = JournalFile.open({ path: d.fileOf(s)!, shard: s, shards: 2, platform: PLATFORM });
      expect(report.error).toBeNull();
      for (const slot of report.slots) {
        seen.add(slot.slotId);
        expect(slot.key === '' ? 0 : shardForKey(slot.key, 2)).toBe(s);
      }
      if (s === 0) expect(report.lostCreates).toBe(1);
    }
    expect(seen.size).toBe(keys.length + 1);
    d.close();
  });

  it('leaves the files alone when the layout is unchanged', () => {
    const dir = tempDir();
    writeRun(dir, 2, ['a', 'b', 'c']);
    const d = JournalDirectory.open({ dir, shards: 2, platform: PLATFORM });
    expect(d.report).toMatchObject({ enabled: true, errors: [], redistributedFrom: null, setAside: [] });
    expect(JournalFile.open({ path: d.fileOf(0)!, shard: 0, shards: 2, platform: PLATFORM }).report.lostCreates).toBe(1);
    d.close();
  });

  it('sets aside a journal of another platform (its slots are not ours to destroy)', () => {
    const dir = tempDir();
    writeRun(dir, 1, ['a'], '10.1.1.1:50051');
    const d = JournalDirectory.open({ dir, shards: 1, platform: PLATFORM });
    expect(d.report.errors.map((e) => e.code)).toEqual([JournalErrorCode.Foreign]);
    expect(d.report.setAside.length).toBe(1);
    expect(existsSync(shardJournalFile(dir, 0))).toBe(false);
    d.close();
  });

  it('sets aside, unreplayed, a journal whose writer died long ago (an earlier run)', () => {
    const dir = tempDir();
    writeRun(dir, 2, ['a', 'b']);
    writeFileSync(join(dir, JOURNAL_LOCK_FILE), JSON.stringify({ pid: 999_999_999 }));
    const then = new Date(Date.now() - JOURNAL_STALE_AFTER_MS - 60_000);
    for (const n of readdirSync(dir)) utimesSync(join(dir, n), then, then);
    const d = JournalDirectory.open({ dir, shards: 2, platform: PLATFORM });
    expect(d.report.enabled).toBe(true);
    expect(d.report.errors.map((e) => e.code)).toEqual([JournalErrorCode.Stale, JournalErrorCode.Stale]);
    expect(d.report.setAside.length).toBe(2);
    expect(existsSync(shardJournalFile(dir, 0))).toBe(false);
    d.close();
    // A recent one (the process a runtime just restarted) is kept for recovery.
    const fresh = tempDir();
    writeRun(fresh, 2, ['a', 'b']);
    const e = JournalDirectory.open({ dir: fresh, shards: 2, platform: PLATFORM });
    expect(e.report.errors).toEqual([]);
    expect(existsSync(shardJournalFile(fresh, 0))).toBe(true);
    e.close();
  });

  it('refuses a directory a live scaler holds, and takes over a dead one’s lock', async () => {
    const dir = tempDir();
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, JOURNAL_LOCK_FILE), JSON.stringify({ pid: holder.pid }));
      const d = JournalDirectory.open({ dir, shards: 1, platform: PLATFORM });
      expect(d.report.enabled).toBe(false);
      expect(d.report.errors[0]?.code).toBe(JournalErrorCode.Locked);
      expect(d.report.errors[0]?.message).toContain(`live process ${holder.pid}`);
      expect(d.fileOf(0)).toBeNull();
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    const d = JournalDirectory.open({ dir, shards: 1, platform: PLATFORM });
    expect(d.report.enabled).toBe(true);
    expect(d.fileOf(0)).toBe(shardJournalFile(dir, 0));
    d.close();
  });

  it('removes its lock and the directory on a clean stop, keeping a journal that still has slots', () => {
    const dir = tempDir();
    const d = JournalDirectory.open({ dir: join(dir, 'j'), shards: 1, platform: PLATFORM });
    d.close();
    expect(existsSync(join(dir, 'j'))).toBe(false);
    mkdirSync(join(dir, 'k'));
    writeRun(join(dir, 'k'), 1, ['a']);
    const e = JournalDirectory.open({ dir: join(dir, 'k'), shards: 1, platform: PLATFORM });
    e.close();
    expect(readdirSync(join(dir, 'k'))).toEqual(['shard-0.journal']);
  });

  it('reports a directory it cannot create, and runs without a journal', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'x');
    const d = JournalDirectory.open({ dir: join(dir, 'file', 'sub'), shards: 1, platform: PLATFORM });
    expect(d.report.enabled).toBe(false);
    expect(d.report.errors[0]?.code).toBe(JournalErrorCode.Unwritable);
  });
});
