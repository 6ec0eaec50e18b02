/**
 * Bad input against a real scaler process: each refused call gets a clear gRPC status with a
 * message and changes nothing (checked on the stats endpoint's counters and the platform's
 * ledger). Also: duplicate request ids, oversized messages, and Assigns cancelled by the client
 * or past their deadline while waiting for a cold start (the instance returns to the pool).
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Status } from '../src/wire/proto.js';
import { assignReq, idleReq, sleep, startHarness, stateOf, type Harness } from './reliability-fixtures.js';

/** Keys starting with "slow" take this long to Init, so a test can act while an Assign waits. */
const SLOW_INIT_MS = 1_500;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    shards: 1,
    platform: { createLatencyMs: 5, initDurationMs: (m) => (m.key.startsWith('slow') ? SLOW_INIT_MS : 20) },
  });
}, 30_000);

afterAll(async () => {
  await h?.close();
});

/** Runs `call`, expects gRPC `code` with a message, and no change in the scaler's state. */
async function expectRefused(code: grpc.status, call: () => Promise<{ err: grpc.ServiceError | null }>, detail?: RegExp): Promise<void> {
  const before = stateOf(await h.stats());
  const liveBefore = h.platform.liveSlotCount;
  const { err } = await call();
  expect(err, 'call should fail').not.toBeNull();
  expect(grpc.status[err!.code]).toBe(grpc.status[code]);
  expect(err!.details.length).toBeGreaterThan(0);
  if (detail !== undefined) expect(err!.details).toMatch(detail);
  await sleep(30);
  expect(stateOf(await h.stats())).toEqual(before);
  expect(h.platform.liveSlotCount).toBe(liveBefore);
}

/** A warm instance of `key`, assigned and released (so the function exists in the scaler). */
async function warm(key: string, rid: string): Promise<string> {
  const a = await h.assign(assignReq(rid, key));
  expect(a.err).toBeNull();
  const iid = a.reply!.assigment!.instanceId;
  const i = await h.idle(idleReq(rid, key, iid));
  expect(i.err).toBeNull();
  return iid;
}

describe('Assign validation', () => {
  it('missing meta', () => expectRefused(grpc.status.INVALID_ARGUMENT, () => h.assign({ requestId: 'bad-1', timestamp: 1 }), /meta_data is missing/));
  it('empty meta', () => expectRefused(grpc.status.INVALID_ARGUMENT, () => h.assign({ requestId: 'bad-2', metaData: {} }), /key is empty/));
  it('empty key', () => expectRefused(grpc.status.INVALID_ARGUMENT, () => h.assign(assignReq('bad-3', '')), /key is empty/));
  it('empty request id', () => expectRefused(grpc.status.INVALID_ARGUMENT, () => h.assign(assignReq('', 'fn-a')), /request_id is empty/));
  it('zero memory', () => expectRefused(grpc.status.INVALID_ARGUMENT, () => h.assign(assignReq('bad-4', 'fn-a', 0)), /memory_in_mb/));
  it('absurd memory', () => expectRefused(grpc.status.INVALID_ARGUMENT, () => h.assign(assignReq('bad-5', 'fn-a', 2 ** 40)), /exceeds/));
  it('key over 1 KiB', () => expectRefused(grpc.status.INVALID_ARGUMENT, () => h.assign(assignReq('bad-6', 'k'.repeat(2_000))), /longer than/));
  it('message over the 64 KiB receive limit', () =>
    expectRefused(grpc.status.RESOURCE_EXHAUSTED, () => h.assign(assignReq('bad-7', 'k'.repeat(100_000)))));
});

describe('Idle validation', () => {
  it('without assignment', () => expectRefused(grpc.status.INVALID_ARGUMENT, () => h.idle({ result: { statusCode: 200 } }), /assigment is missing/));

  it('unknown instance', async () => {
    await warm('fn-u', 'u-0');
    await expectRefused(grpc.status.NOT_FOUND, () => h.idle(idleReq('u-1', 'fn-u', 'no-such-instance')), /unknown instance/);
  });

  it('already released: another request id is NOT_FOUND, the same one is an idempotent success', async () => {
    const iid = await warm('fn-r', 'r-0');
    await expectRefused(grpc.status.NOT_FOUND, () => h.idle(idleReq('r-other', 'fn-r', iid)), /not serving/);
    const before = stateOf(await h.stats());
    const again = await h.idle(idleReq('r-0', 'fn-r', iid));
    expect(again.err).toBeNull();
    expect(again.reply?.status).toBe(Status.Ok);
    expect(stateOf(await h.stats())).toEqual(before);
  });

  it('meta key that does not match the instance', async () => {
    const a = await h.assign(assignReq('m-0', 'fn-m'));
    const iid = a.reply!.assigment!.instanceId;
    await warm('fn-other', 'm-x');
    await expectRefused(grpc.status.INVALID_ARGUMENT, () => h.idle(idleReq('m-0', 'fn-other', iid)), /belongs to function/);
    // The instance is still held by m-0 and can be released properly.
    expect((await h.idle(idleReq('m-0', 'fn-m', iid))).err).toBeNull();
  });
});

describe('duplicate request ids', () => {
  it('an Assign whose id is waiting or holding an instance gets ALREADY_EXISTS, never a second instance', async () => {
    const slots0 = (await h.stats()).totals.liveSlots!;
    const first = h.assignCall(assignReq('dup-1', 'slow-dup'));
    // Waiting, with its slot created and Init under way (so nothing moves during the check).
    await h.waitStats((s) => s.totals.waitingAssigns === 1 && s.totals.liveSlots === slots0 + 1 && h.platform.liveSlotCount === s.journaledSlots);
    await expectRefused(grpc.status.ALREADY_EXISTS, () => h.assign(assignReq('dup-1', 'slow-dup')), /already/);
    const got = await first.done;
    expect(got.err).toBeNull();
    const iid = got.reply!.assigment!.instanceId;
    // Holding: still refused.
    await expectRefused(grpc.status.ALREADY_EXISTS, () => h.assign(assignReq('dup-1', 'slow-dup')));
    expect((await h.idle(idleReq('dup-1', 'slow-dup', iid))).err).toBeNull();
    // Released: the id may be used again (and gets the warm instance back).
    const again = await h.assign(assignReq('dup-1', 'slow-dup'));
    expect(again.reply?.assigment?.instanceId).toBe(iid);
    expect((await h.idle(idleReq('dup-1', 'slow-dup', iid))).err).toBeNull();
  });
});

describe('Assign abandoned while waiting for a cold start', () => {
  async function expectBackInPool(key: string): Promise<void> {
    // The cold start completes; the instance must be idle in the pool, not busy, not leaked.
    const s = await h.waitStats((st) => st.totals.startingInstances === 0 && st.totals.waitingAssigns === 0, SLOW_INIT_MS + 3_000);
    expect(s.totals.waitingAssigns).toBe(0);
    expect(s.totals.busyInstances).toBe(0);
    const idleBefore = s.totals.idleInstances;
    const slotsBefore = h.platform.createdSlotCount;
    const next = await h.assign(assignReq(`${key}-next`, key));
    expect(next.err).toBeNull();
    expect(next.ms).toBeLessThan(SLOW_INIT_MS / 2); // served warm
    expect(h.platform.createdSlotCount).toBe(slotsBefore);
    expect(idleBefore).toBeGreaterThanOrEqual(1);
    expect((await h.idle(idleReq(`${key}-next`, key, next.reply!.assigment!.instanceId))).err).toBeNull();
    expect(new Set(await h.slots())).toEqual(new Set(h.platform.leakCheck().liveSlotIds));
  }

  it('cancelled by the client', async () => {
    const { call, done } = h.assignCall(assignReq('c-1', 'slow-cancel'));
    await h.waitStats((s) => s.totals.waitingAssigns === 1);
    call.cancel();
    const r = await done;
    expect(r.err?.code).toBe(grpc.status.CANCELLED);
    // The waiter is dropped at once (Cancel), while its cold start goes on.
    const s = await h.waitStats((st) => st.totals.waitingAssigns === 0, 500);
    expect(s.totals.startingInstances).toBe(1);
    await expectBackInPool('slow-cancel');
  });

  it('past its deadline', async () => {
    const r = await h.assign(assignReq('d-1', 'slow-deadline'), { deadline: Date.now() + 300 });
    expect(r.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const s = await h.waitStats((st) => st.totals.waitingAssigns === 0, 500);
    expect(s.totals.startingInstances).toBe(1);
    await expectBackInPool('slow-deadline');
  });
});
