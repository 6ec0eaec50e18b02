/**
 * Shard crash and overload, end to end on a real scaler process.
 *
 * Crash: the test hook (SCALER_TEST_HOOKS=1, see src/shard/test-hooks.ts) kills one shard's
 * worker thread. The supervisor restarts it; an Assign in flight on that shard is retried by the
 * service and succeeds; the slots the dead worker owned (idle, busy, mid-Init) are handed to the
 * new worker as orphans and destroyed, and their journal entries removed; the Idle of a request
 * that was running on the dead shard still succeeds; the other shard is untouched.
 *
 * Overload: with `--max-inflight N`, the N+1st outstanding Assign on a shard answers
 * RESOURCE_EXHAUSTED at once, while Idle still goes through.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_CRASH_EXIT_CODE, TEST_CRASH_INSTANCE_ID, TEST_CRASH_ON_RELEASE_REQUEST_ID, TEST_HOOKS_ENV } from '../src/shard/test-hooks.js';
import { shardForKey } from '../src/sharding/key-hash.js';
import { assignReq, idleReq, sleep, startHarness, stateOf, type Harness } from './reliability-fixtures.js';

const SLOW_INIT_MS = 1_500;
const platformOpts = { createLatencyMs: 5, initDurationMs: (m: { key: string }) => (m.key.startsWith('slow') ? SLOW_INIT_MS : 20) };

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A key with `prefix` that hashes to `shard` of `shards`. */
function keyOnShard(prefix: string, shard: number, shards: number): string {
  for (let i = 0; ; i++) if (shardForKey(`${prefix}-${i}`, shards) === shard) return `${prefix}-${i}`;
}

let journalDir: string | undefined;
afterEach(() => {
  if (journalDir !== undefined) rmSync(journalDir, { recursive: true, force: true });
  journalDir = undefined;
});

/** The same crash with the on-disk journal off (main's in-memory journal alone) and on (both). */
describe.each([['off'], ['on']])('shard crash, disk journal %s', (disk) => {
  it('restarts the worker, retries the in-flight Assign, destroys the dead shard’s slots and clears their journal entries', async () => {
    const args = ['--policy', 'fixed', '--keep-alive', '60s'];
    if (disk === 'on') args.push('--journal', (journalDir = mkdtempSync(join(tmpdir(), 'shard-crash-'))));
    h = await startHarness({ shards: 2, platform: platformOpts, env: { [TEST_HOOKS_ENV]: '1' }, args });
    const a = keyOnShard('fn-a', 0, 2);
    const slow = keyOnShard('slow-a', 0, 2);
    const b = keyOnShard('fn-b', 1, 2);

    // Shard 0: two idle instances and one busy; shard 1: one idle instance.
    const a1 = await h.assign(assignReq('a1', a));
    const a2 = await h.assign(assignReq('a2', a));
    const a3 = await h.assign(assignReq('a3', a));
    for (const [rid, r] of [['a1', a1], ['a2', a2]] as const) expect((await h.idle(idleReq(rid, a, r.reply!.assigment!.instanceId))).err).toBeNull();
    const b1 = await h.assign(assignReq('b1', b));
    expect((await h.idle(idleReq('b1', b, b1.reply!.assigment!.instanceId))).err).toBeNull();
    const bInstance = b1.reply!.assigment!.instanceId;

    // An Assign waiting for a cold start on shard 0 when it dies (its slot exists, Init runs).
    const waiting = h.assignCall(assignReq('w1', slow));
    await h.waitStats((s) => s.perShard[0]!.waitingAssigns === 1 && s.journaledSlots === 5 && h!.platform.liveSlotCount === 5, 1_000);
    const before = new Set(await h.slots());
    const owned0 = [...before].filter((id) => h!.platform.slots.get(id)?.instanceId !== bInstance);
    expect(owned0.length).toBe(4);

    // Kill shard 0's worker.
    const crash = await h.idle(idleReq('boom', a, TEST_CRASH_INSTANCE_ID));
    expect(crash.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(crash.err?.details).toMatch(new RegExp(`exited with code ${TEST_CRASH_EXIT_CODE}`));

    // The waiting Assign was retried on the new worker: the client sees a success.
    const w = await waiting.done;
    expect(w.err).toBeNull();
    const wInstance = w.reply!.assigment!.instanceId;
    expect(h.platform.instances.get(wInstance)?.state).toBe('ready');

    // Every slot of the dead worker is destroyed on the platform and gone from the journal.
    const s = await h.waitStats(
      (st) => st.journaledSlots === h!.platform.liveSlotCount && owned0.every((id) => h!.platform.slots.get(id)?.state === 'destroyed'),
      10_000,
    );
    expect(s.perShard[0]!.routerRestarts).toBe(1);
    expect(s.perShard[1]!.routerRestarts).toBe(0);
    const journal = new Set(await h.slots());
    for (const id of owned0) expect(journal.has(id)).toBe(false);
    expect(journal).toEqual(new Set(h.platform.leakCheck().liveSlotIds));

    // The busy instance's slot was destroyed with the rest, but the request did run: its one
    // Idle is accepted (the new worker got the instance id with the orphan), a second is not.
    const late = await h.idle(idleReq('a3', a, a3.reply!.assigment!.instanceId));
    expect(late.err).toBeNull();
    const again = await h.idle(idleReq('a3-again', a, a3.reply!.assigment!.instanceId));
    expect(again.err?.code).toBe(grpc.status.NOT_FOUND);

    // Shard 1 never noticed: its idle instance is served warm.
    const b2 = await h.assign(assignReq('b2', b));
    expect(b2.reply?.assigment?.instanceId).toBe(bInstance);
    expect((await h.idle(idleReq('b2', b, bInstance))).err).toBeNull();
    // And shard 0 serves again.
    expect((await h.idle(idleReq('w1', slow, wInstance))).err).toBeNull();
    const a4 = await h.assign(assignReq('a4', a));
    expect(a4.err).toBeNull();
    expect((await h.idle(idleReq('a4', a, a4.reply!.assigment!.instanceId))).err).toBeNull();
    if (disk === 'on') {
      // The new worker read the dead one's slots from its file (the same four) and counted them.
      const st = await h.stats();
      expect(st.perShard[0]!.recoveredSlots).toBe(4);
      expect(st.perShard[0]!.reclaimedSlots).toBe(4);
      expect(st.perShard[0]!.reclaimPending).toBe(0);
      expect(st.perShard[0]!.adoptedIdle + st.perShard[0]!.adoptedBusy).toBe(0);
    }
  }, 30_000);
});

/**
 * The Idle answered on the main thread (src/server/scaler-service.ts): the release reaches the
 * shard afterwards, as a one-way message. The hook kills the shard's worker when that release
 * arrives, before its core or its journal sees it: the crash lands between the Idle's OK and the
 * release record. The dead worker's slots, the released instance's included, are destroyed by its
 * replacement; the instance is never handed out again; nothing is left once the scaler stops.
 */
describe.each([['off'], ['on']])('shard crash between the Idle reply and the release record, disk journal %s', (disk) => {
  it('the Idle is OK, the released instance is destroyed with the dead shard’s slots, never handed out again', async () => {
    const args = ['--policy', 'fixed', '--keep-alive', '60s'];
    if (disk === 'on') args.push('--journal', (journalDir = mkdtempSync(join(tmpdir(), 'release-crash-'))));
    h = await startHarness({ shards: 1, platform: platformOpts, env: { [TEST_HOOKS_ENV]: '1' }, args });
    const key = 'fn-r';
    const rid = TEST_CRASH_ON_RELEASE_REQUEST_ID;
    const held = (await h.assign(assignReq(rid, key))).reply!.assigment!.instanceId;
    const other = (await h.assign(assignReq('r2', key))).reply!.assigment!.instanceId;
    expect((await h.idle(idleReq('r2', key, other))).err).toBeNull();
    const slots = await h.waitStats((st) => st.journaledSlots === 2 && st.totals.idleInstances === 1 && st.totals.busyInstances === 1);
    expect(slots.perShard[0]!.routerRestarts).toBe(0);

    // Answered OK by main before the shard got the release; the shard dies on receiving it.
    const idle = await h.idle(idleReq(rid, key, held));
    expect(idle.err).toBeNull();

    // The replacement destroyed both slots: the released one too (not reused, not leaked).
    const st = await h.waitStats(
      (s) => s.perShard[0]!.routerRestarts === 1 && s.journaledSlots === 0 && h!.platform.liveSlotCount === 0 && (s.totals.reclaimPending ?? 0) === 0,
      10_000,
    );
    expect(st.totals.liveSlots).toBe(0);
    const destroyed = [...h.platform.instances.values()].filter((i) => i.state === 'destroyed').map((i) => i.instanceId);
    expect(new Set(destroyed)).toEqual(new Set([held, other]));

    // New requests cold-start: neither instance is ever handed out again.
    const got = [(await h.assign(assignReq('r3', key))).reply!.assigment!.instanceId, (await h.assign(assignReq('r4', key))).reply!.assigment!.instanceId];
    for (const iid of got) expect([held, other]).not.toContain(iid);
    expect(new Set(got).size).toBe(2);
    for (const [i, iid] of got.entries()) expect((await h.idle(idleReq(`r${3 + i}`, key, iid))).err).toBeNull();
    expect(await h.scaler.stop()).toBe(0);
    expect(h.platform.liveSlotCount).toBe(0);
  }, 30_000);
});

describe('shard crash hook', () => {
  it('the crash hook is inert without SCALER_TEST_HOOKS=1', async () => {
    h = await startHarness({ shards: 1, platform: platformOpts });
    const r = await h.idle(idleReq('boom', 'fn-a', TEST_CRASH_INSTANCE_ID));
    expect(r.err?.code).toBe(grpc.status.NOT_FOUND);
    expect((await h.stats()).perShard[0]!.routerRestarts).toBe(0);
  }, 30_000);
});

describe('overload', () => {
  it('past --max-inflight outstanding Assigns per shard, answers RESOURCE_EXHAUSTED at once; Idle still flows', async () => {
    const max = 3;
    h = await startHarness({ shards: 1, platform: platformOpts, args: ['--policy', 'fixed', '--keep-alive', '60s', '--max-inflight', String(max)] });
    const held = await h.assign(assignReq('held', 'fn-h'));
    const heldId = held.reply!.assigment!.instanceId;
    // `held` answered, so it no longer counts; fill the bound with waiting cold starts.
    const waiting = Array.from({ length: max }, (_, i) => h!.assignCall(assignReq(`w${i}`, `slow-${i}`)));
    await h.waitStats((s) => s.totals.waitingAssigns === max && s.totals.liveSlots === max + 1);
    const before = stateOf(await h.stats());
    const over = await h.assign(assignReq('over', 'fn-h'));
    expect(over.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(over.err?.details).toMatch(/limit 3/);
    expect(over.ms).toBeLessThan(250);
    await sleep(20);
    expect(stateOf(await h.stats())).toEqual(before);
    // Idle is never shed: it is what frees instances.
    expect((await h.idle(idleReq('held', 'fn-h', heldId))).err).toBeNull();
    for (const [i, w] of waiting.entries()) {
      const r = await w.done;
      expect(r.err).toBeNull();
      expect((await h.idle(idleReq(`w${i}`, `slow-${i}`, r.reply!.assigment!.instanceId))).err).toBeNull();
    }
    // Below the bound again: accepted.
    const after = await h.assign(assignReq('after', 'fn-h'));
    expect(after.reply?.assigment?.instanceId).toBe(heldId);
  }, 30_000);
});
