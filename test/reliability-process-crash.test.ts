/**
 * The scaler process SIGKILLed in the middle of a live replay and started again at once on the
 * same ports and journal, as a container runtime restarts a dead container. The platform's
 * ledger is checked after the restarted scaler stops: no slot alive; the only failed requests are
 * calls that reached no live process (in flight at the kill, or sent before the new process could
 * be reached); the held instance's Idle reached the new process and succeeded; the recovery is
 * counted on its /stats.
 */
import { describe, expect, it } from 'vitest';
import { runCrashLive } from '../src/sim/crash-live-run.js';
import { MAIN_JS } from './reliability-fixtures.js';
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
