/**
 * A scaler "process" (core + journal file + journaling platform) killed in virtual time, and its
 * successor recovering from the file it left, against one virtual platform that outlives both:
 * handed-out instances are taken over (their Idle succeeds), idle ones serve warm, the rest is
 * destroyed, and nothing is left alive on the platform after the successor shuts down.
 */
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../src/core/clock.js';
import type { Platform } from '../src/core/platform.js';
import { FixedKeepAlivePolicy } from '../src/core/policies/fixed-keep-alive.js';
import { ScalerCore } from '../src/core/scaler-core.js';
import type { FunctionMeta } from '../src/core/types.js';
import { VirtualClock } from '../src/core/virtual-clock.js';
import { SlotPhase } from '../src/journal/journal-format.js';
import { JournalFile } from '../src/journal/journal-file.js';
import { JournalingPlatform } from '../src/journal/journaling-platform.js';
import { recoverSlots, type RecoveryTarget } from '../src/journal/recover-slots.js';
import { VirtualPlatform } from '../src/sim/virtual/virtual-platform.js';

const FN_A: FunctionMeta = { key: 'fn-a', runtime: 'go', timeoutInSecs: 60, memoryMb: 256 };
const FN_SLOW: FunctionMeta = { key: 'fn-slow', runtime: 'python', timeoutInSecs: 600, memoryMb: 1024 };
const PLATFORM = '127.0.0.1:50051';

/** A clock and a platform that go silent once their process is "killed": a dead process acts on nothing. */
class Killable {
  dead = false;
  constructor(
    private readonly clock: VirtualClock,
    private readonly inner: Platform,
  ) {}

  readonly clockView: Clock = {
    now: () => this.clock.now(),
    schedule: (at: number, fn: () => void): TimerHandle => this.clock.schedule(at, () => !this.dead && fn()),
    cancel: (h: TimerHandle) => this.clock.cancel(h),
  };

  readonly platformView: Platform = {
    createSlot: (rid, mem, cb) => this.inner.createSlot(rid, mem, (e, v) => !this.dead && cb(e, v)),
    init: (rid, slot, iid, meta, cb) => this.inner.init(rid, slot, iid, meta, (e, v) => !this.dead && cb(e, v)),
    destroySlot: (rid, slot, reason, cb) => this.inner.destroySlot(rid, slot, reason, (e) => !this.dead && cb(e)),
  };
}

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function journalPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'journal-recovery-'));
  dirs.push(d);
  return join(d, 'shard-0.journal');
}

/** One scaler process: its core on a killable view of the shared clock and platform, journaled. */
function startProcess(clock: VirtualClock, vp: VirtualPlatform, path: string, prefix: string) {
  const k = new Killable(clock, vp);
  const opened = JournalFile.open({ path, shard: 0, shards: 1, platform: PLATFORM });
  const journal = opened.file!;
  const core = new ScalerCore({
    clock: k.clockView,
    platform: new JournalingPlatform(k.platformView, journal),
    policy: new FixedKeepAlivePolicy(60_000),
    instanceIdPrefix: prefix,
  });
  const assign = (rid: string, meta: FunctionMeta) => {
    const out: { id?: string } = {};
    core.assign({ requestId: rid, meta }, (err, id) => {
      if (err === null) {
        // What the shard worker does before it replies.
        journal.assigned(id!, rid);
        out.id = id;
      }
    });
    return out;
  };
  const idle = (rid: string, iid: string, needDestroy = false) => {
    const held = core.liveInstances.get(iid)?.busyRequestId ?? '';
    const err = core.idle({ requestId: rid, metaKey: core.liveInstances.get(iid)?.pool.key ?? FN_A.key, instanceId: iid, needDestroy, durationMs: 20 });
    if (err === null && held !== '') journal.released(iid, held);
    return err;
  };
  return { k, core, journal, report: opened.report, assign, idle };
}

describe('recovery from the journal of a killed process', () => {
  it('takes over held and idle instances, destroys the rest, and leaves nothing alive', () => {
    const clock = new VirtualClock(0);
    const vp = new VirtualPlatform({ clock, initDurationMs: (key) => (key === FN_SLOW.key ? 60_000 : 200), createLatencyMs: 100, rpcMs: 1 });
    const path = journalPath();
    const a = startProcess(clock, vp, path, 'a-');
    const r1 = a.assign('r1', FN_A);
    const r2 = a.assign('r2', FN_A);
    const r3 = a.assign('r3', FN_A);
    clock.runUntil(1_000);
    expect([r1.id, r2.id, r3.id].every((id) => id !== undefined)).toBe(true);
    expect(a.idle('r1', r1.id!)).toBeNull(); // idle at the crash
    a.assign('w1', FN_SLOW); // its slot exists, its Init runs for a minute
    clock.runUntil(1_500);
    expect(vp.liveSlots).toBe(4);
    // r2 still runs at the crash; r3's instance broke and its DestroySlot is in flight when it dies.
    expect(a.idle('r3', r3.id!, true)).toBeNull();
    // The last group commit happened (the shard flushes before every reply it posts); then SIGKILL.
    a.journal.flush();
    a.k.dead = true;

    const b = startProcess(clock, vp, path, 'b-');
    const bySlot = new Map(b.report.slots.map((s) => [s.slotId, s]));
    expect(b.report.slots.length).toBe(4);
    expect(b.report.lostCreates).toBe(0);
    const phases = [...bySlot.values()].map((s) => [s.phase, s.busyRequestId]).sort();
    expect(phases).toEqual(
      [
        [SlotPhase.Initialising, ''],
        [SlotPhase.Ready, ''],
        [SlotPhase.Ready, 'r2'],
        [SlotPhase.Retired, ''],
      ].sort(),
    );
    const counts = recoverSlots(b.report.slots, b.core, true);
    expect(counts).toEqual({ recovered: 4, adoptedIdle: 1, adoptedBusy: 1, reclaimed: 2 });
    expect(b.core.metrics.liveSlots).toBe(4);

    // The request that was running when the process died finishes: its Idle reaches the new one.
    expect(b.idle('r2', r2.id!)).toBeNull();
    clock.runUntil(2_000);
    // Both taken-over instances serve warm; no cold start in the new process.
    const n1 = b.assign('n1', FN_A);
    const n2 = b.assign('n2', FN_A);
    expect(new Set([n1.id, n2.id])).toEqual(new Set([r1.id, r2.id]));
    expect(b.core.metrics.coldStarts).toBe(0);
    // The slow slot mid-Init and the broken instance's slot are gone from the platform.
    expect(vp.liveSlots).toBe(2);
    expect(b.idle('n1', n1.id!)).toBeNull();
    expect(b.idle('n2', n2.id!)).toBeNull();

    let drained = false;
    b.core.shutdown(() => (drained = true));
    clock.runUntil(3_000);
    expect(drained).toBe(true);
    expect(vp.liveSlots).toBe(0);
    b.journal.close(true);
    expect(existsSync(path)).toBe(false);
  });

  it('without the Assigned record, the held instance would be handed out twice (the record is what prevents it)', () => {
    const clock = new VirtualClock(0);
    const vp = new VirtualPlatform({ clock, initDurationMs: () => 200, createLatencyMs: 100, rpcMs: 1 });
    const path = journalPath();
    const a = startProcess(clock, vp, path, 'a-');
    let iid: string | undefined;
    // The core's answer without the shard's journaling of it.
    a.core.assign({ requestId: 'r1', meta: FN_A }, (err, id) => (iid = err === null ? id : undefined));
    clock.runUntil(1_000);
    expect(iid).toBeDefined();
    a.journal.flush();
    a.k.dead = true;
    const b = startProcess(clock, vp, path, 'b-');
    recoverSlots(b.report.slots, b.core, true);
    // The new process believes it idle and gives it to another request while r1 still runs on it.
    expect(b.assign('r2', FN_A).id).toBe(iid);
  });

  it('counts the CreateSlot calls that were in flight when the process died', () => {
    const clock = new VirtualClock(0);
    const vp = new VirtualPlatform({ clock, initDurationMs: () => 200, createLatencyMs: 100, rpcMs: 1 });
    const path = journalPath();
    const a = startProcess(clock, vp, path, 'a-');
    a.assign('r1', FN_A);
    a.assign('r2', FN_A);
    clock.runUntil(50); // both CreateSlot calls sent, neither answered
    a.k.dead = true;
    clock.runUntil(1_000); // the platform made the slots; nobody will hear their ids
    const b = startProcess(clock, vp, path, 'b-');
    expect(b.report.lostCreates).toBe(2);
    expect(b.report.slots).toEqual([]);
    expect(vp.liveSlots).toBe(2);
  });
});

describe('recoverSlots', () => {
  function recorder(): RecoveryTarget & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      adoptInstance: (slotId, iid, meta, busy) => {
        calls.push(`adopt ${slotId} ${iid} ${meta.key}/${meta.runtime}/${meta.timeoutInSecs}/${meta.memoryMb} '${busy}'`);
        return true;
      },
      destroyOrphanSlot: (slotId, mem, iid) => void calls.push(`destroy ${slotId} ${mem} ${iid ?? '-'}`),
    };
  }
  const base = { memoryMb: 512, key: 'k', runtime: 'go', timeoutInSecs: 30, busyRequestId: '' };
  const slots = [
    { ...base, slotId: 's1', phase: SlotPhase.Created, instanceId: '', key: '', runtime: '', timeoutInSecs: 0 },
    { ...base, slotId: 's2', phase: SlotPhase.Initialising, instanceId: 'i2' },
    { ...base, slotId: 's3', phase: SlotPhase.Ready, instanceId: 'i3' },
    { ...base, slotId: 's4', phase: SlotPhase.Ready, instanceId: 'i4', busyRequestId: 'r4' },
    { ...base, slotId: 's5', phase: SlotPhase.Retired, instanceId: 'i5', busyRequestId: 'r5' },
  ];

  it('after a process restart: adopts initialised instances as they were, destroys the rest', () => {
    const t = recorder();
    expect(recoverSlots(slots, t, true)).toEqual({ recovered: 5, adoptedIdle: 1, adoptedBusy: 1, reclaimed: 3 });
    expect(t.calls).toEqual([
      'destroy s1 512 -',
      'destroy s2 512 i2',
      "adopt s3 i3 k/go/30/512 ''",
      "adopt s4 i4 k/go/30/512 'r4'",
      'destroy s5 512 i5',
    ]);
  });

  it('after a shard worker crash: destroys everything, keeping instance ids for their one Idle', () => {
    const t = recorder();
    expect(recoverSlots(slots, t, false)).toEqual({ recovered: 5, adoptedIdle: 0, adoptedBusy: 0, reclaimed: 5 });
    expect(t.calls.every((c) => c.startsWith('destroy'))).toBe(true);
    expect(t.calls).toContain('destroy s4 512 i4');
  });
});
