/**
 * The scaler process SIGKILLed in the middle of a live replay and started again at once on the
 * same ports and journal, as a container runtime restarts a dead container. The platform's
 * ledger is checked after the restarted scaler stops: no slot alive; the only failed requests are
 * calls that reached no live process (in flight at the kill, or sent before the new process could
 * be reached); the held instance's Idle reached the new process and succeeded; the recovery is
 * counted on its /stats.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { shardJournalFile } from '../src/journal/journal-directory.js';
import { FRAME_HEADER_BYTES } from '../src/journal/journal-format.js';
import { JournalFile } from '../src/journal/journal-file.js';
import { runCrashLive } from '../src/sim/crash-live-run.js';
import { MAIN_JS, assignReq, idleReq, startHarness, type Harness } from './reliability-fixtures.js';
import { crashDataset } from './reliability-datasets.js';

const KILL_AT_MS = 5_000;

describe('scaler process killed mid-replay', () => {
  it('restarted on its journal: nothing leaks, and only calls that reached no live process fail', async () => {
    const ds = crashDataset(KILL_AT_MS);
    const r = await runCrashLive({ mainJs: MAIN_JS, metas: ds.metas, requests: ds.requests, killAtMs: KILL_AT_MS, maxInitMs: 3_000, shards: 2 });
    const summary = JSON.stringify({ ...r, otherFailures: r.otherFailures.slice(0, 5) });
    expect(r.requests, summary).toBe(ds.requests.length);
    // Every failure is a transport error of a call that was in flight at the kill or sent while
    // no process could answer it; none is a refused Idle, a bad or double assignment.
    expect(r.otherFailures, summary).toEqual([]);
    expect(r.failuresAtCrash, summary).toBe(r.failures);
    expect(r.failures, summary).toBeGreaterThan(0);
    // The restarted scaler found the killed one's slots: the idle instances, the one held by the
    // 5 s request (whose Idle then succeeded, else it would be among otherFailures), and the slot
    // whose Init was running (reclaimed).
    expect(r.recovery.adoptedBusy, summary).toBeGreaterThanOrEqual(1);
    expect(r.recovery.adoptedIdle, summary).toBeGreaterThanOrEqual(1);
    expect(r.recovery.reclaimedSlots, summary).toBeGreaterThanOrEqual(1);
    expect(r.recovery.recoveredSlots, summary).toBe(r.recovery.adoptedBusy + r.recovery.adoptedIdle + r.recovery.reclaimedSlots);
    // Nothing alive after the restarted scaler stopped, except a CreateSlot the platform answered
    // in the last instant before the kill (its id died unread with the process; counted).
    expect(r.liveSlotsAfterStop - r.lostWithProcess, summary).toBe(0);
    expect(r.lostWithProcess, summary).toBeLessThanOrEqual(r.recovery.lostCreatesAtCrash);
    expect(r.startupMs, summary).toBeGreaterThan(0);
  }, 60_000);
});

describe('a corrupt journal at start', () => {
  let h: Harness | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('is a clear error on /stats and in the log (file, offset), set aside; the scaler serves with a fresh journal', async () => {
    dir = mkdtempSync(join(tmpdir(), 'corrupt-journal-'));
    const path = shardJournalFile(dir, 0);
    let bad = -1;
    let log = '';
    h = await startHarness({
      onLog: (c) => (log += c),
      shards: 1,
      args: ['--policy', 'fixed', '--keep-alive', '60s', '--journal', dir],
      // A previous run's journal for this platform whose second frame was damaged on disk.
      beforeScaler: (platform) => {
        const j = JournalFile.open({ path, shard: 0, shards: 1, platform: platform.target }).file!;
        j.creating('c1');
        bad = readFileSync(path).length;
        j.created('c1', 'slot-x', 128);
        j.flush();
        j.creating('c2');
        j.close(false);
        const buf = readFileSync(path);
        buf[bad + FRAME_HEADER_BYTES]! ^= 0xff;
        writeFileSync(path, buf);
      },
    });
    const st = (await h.scaler.getJson<{ journal: { errors: unknown[] }; totals: Record<string, number> }>('/stats'));
    expect(st.journal.errors).toEqual([
      { code: 'JOURNAL_CORRUPT', file: path, offset: bad, message: expect.stringContaining(`${path}: frame checksum mismatch`) },
    ]);
    expect(st.totals.journalErrors).toBe(1);
    expect(log).toMatch(new RegExp(`"level":50,[^\\n]*"code":"JOURNAL_CORRUPT","file":"${path}","offset":${bad}`));
    // What came before the bad frame was read: the one CreateSlot then unanswered.
    expect(st.totals.lostCreatesAtCrash).toBe(1);
    expect(readdirSync(dir).some((n) => n.startsWith('shard-0.journal.corrupt-'))).toBe(true);
    // It serves, journaling into a fresh file.
    const a = await h.assign(assignReq('r1', 'fn'));
    expect(a.err).toBeNull();
    expect((await h.idle(idleReq('r1', 'fn', a.reply!.assigment!.instanceId))).err).toBeNull();
    expect(existsSync(path)).toBe(true);
    expect((await h.stats()).totals.journalWrites).toBeGreaterThan(0);
  }, 30_000);
});
