/**
 * Random valid and invalid call sequences (fast-check) against a real scaler process and the
 * in-test platform, checking after every answer and at the end:
 *  - no instance is handed to two requests at once;
 *  - an instance released with need_destroy is never handed out again;
 *  - every assignment names a ready instance of the right function on the platform;
 *  - invalid calls get their error code;
 *  - every slot created is destroyed or still in the scaler's journal, and none alive holds a
 *    broken, never-initialised or failed instance.
 */
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignReq, idleReq, sleep, startHarness, type Harness } from './reliability-fixtures.js';

const KEYS = ['fz-a', 'fz-b', 'fz-c', 'fz-d'];

type Cmd =
  | { t: 'assign'; k: number }
  | { t: 'burst'; k: number; n: number }
  | { t: 'deadline'; k: number; ms: number }
  | { t: 'idle'; pick: number; nd: boolean }
  | { t: 'dup'; pick: number }
  | { t: 'bad-assign'; kind: 'no-meta' | 'no-key' | 'mem0' | 'no-rid' }
  | { t: 'bad-idle'; kind: 'unknown' | 'wrong-key' | 'released' | 'none' }
  | { t: 'pause'; ms: number };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('assign' as const), k: fc.nat(KEYS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('burst' as const), k: fc.nat(KEYS.length - 1), n: fc.integer({ min: 2, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('deadline' as const), k: fc.nat(KEYS.length - 1), ms: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('idle' as const), pick: fc.nat(), nd: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('dup' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('bad-assign' as const), kind: fc.constantFrom('no-meta' as const, 'no-key' as const, 'mem0' as const, 'no-rid' as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('bad-idle' as const), kind: fc.constantFrom('unknown' as const, 'wrong-key' as const, 'released' as const, 'none' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('pause' as const), ms: fc.integer({ min: 1, max: 60 }) }) },
);

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    shards: 2,
    // Short keep-alive so that expiry destroys race with reuse; inits differ per function.
    args: ['--policy', 'fixed', '--keep-alive', '150ms'],
    platform: { createLatencyMs: 2, initDurationMs: (m) => 5 + 10 * KEYS.indexOf(m.key) },
  });
}, 30_000);

afterAll(async () => {
  await h?.close();
});

describe('fuzz: random call sequences', () => {
  it('keeps the invariants', async () => {
    let seq = 0;
    const broken = new Set<string>();
    /** instance -> request holding it */
    const busy = new Map<string, string>();
    /** Held assignments, in order. */
    const held: Array<{ rid: string; key: string; iid: string }> = [];
    const released: Array<{ rid: string; key: string; iid: string }> = [];

    const onAssigned = (rid: string, key: string, iid: string): void => {
      expect(busy.has(iid), `instance ${iid} handed to ${rid} while held by ${busy.get(iid)}`).toBe(false);
      expect(broken.has(iid), `broken instance ${iid} reused`).toBe(false);
      const inst = h.platform.instances.get(iid);
      expect(inst?.state, `instance ${iid} not ready`).toBe('ready');
      expect(inst?.metaKey).toBe(key);
      busy.set(iid, rid);
      held.push({ rid, key, iid });
    };
    const release = async (i: number, nd: boolean): Promise<void> => {
      const [a] = held.splice(i, 1);
      busy.delete(a!.iid);
      if (nd) broken.add(a!.iid);
      const r = await h.idle(idleReq(a!.rid, a!.key, a!.iid, nd));
      expect(r.err, `idle ${a!.rid}`).toBeNull();
      released.push(a!);
    };
    const doAssign = async (k: number, opts?: grpc.CallOptions): Promise<void> => {
      const rid = `fz-${seq++}`;
      const key = KEYS[k]!;
      const r = await h.assign(assignReq(rid, key), opts);
      if (r.err !== null) {
        expect(opts?.deadline, `unexpected ${r.err.message}`).toBeDefined();
        expect([grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED]).toContain(r.err.code);
        return;
      }
      onAssigned(rid, key, r.reply!.assigment!.instanceId);
    };

    const run = async (cmds: Cmd[]): Promise<void> => {
      for (const c of cmds) {
        switch (c.t) {
          case 'assign':
            await doAssign(c.k);
            break;
          case 'burst':
            await Promise.all(Array.from({ length: c.n }, () => doAssign(c.k)));
            break;
          case 'deadline':
            await doAssign(c.k, { deadline: Date.now() + c.ms });
            break;
          case 'idle':
            if (held.length > 0) await release(c.pick % held.length, c.nd);
            break;
          case 'dup': {
            if (held.length === 0) break;
            const a = held[c.pick % held.length]!;
            const r = await h.assign(assignReq(a.rid, a.key));
            expect(r.err?.code).toBe(grpc.status.ALREADY_EXISTS);
            break;
          }
          case 'bad-assign': {
            const req =
              c.kind === 'no-meta' ? { requestId: `fz-${seq++}` } : c.kind === 'no-key' ? assignReq(`fz-${seq++}`, '') : c.kind === 'mem0' ? assignReq(`fz-${seq++}`, KEYS[0]!, 0) : assignReq('', KEYS[0]!);
            const r = await h.assign(req);
            expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
            break;
          }
          case 'bad-idle': {
            if (c.kind === 'none') {
              expect((await h.idle({ result: { statusCode: 200 } })).err?.code).toBe(grpc.status.INVALID_ARGUMENT);
            } else if (c.kind === 'unknown') {
              expect((await h.idle(idleReq(`fz-${seq++}`, KEYS[1]!, `nope-${seq}`))).err?.code).toBe(grpc.status.NOT_FOUND);
            } else if (c.kind === 'wrong-key' && held.length > 0) {
              const a = held[0]!;
              const other = KEYS[(KEYS.indexOf(a.key) + 1) % KEYS.length]!;
              // Another shard may own the other key: it has never heard of the instance.
              expect([grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND]).toContain((await h.idle(idleReq(a.rid, other, a.iid))).err?.code);
            } else if (c.kind === 'released' && released.length > 0) {
              const a = released[released.length - 1]!;
              // A second Idle by another request for a released instance is refused...
              const r = await h.idle(idleReq(`${a.rid}-x`, a.key, a.iid));
              if (busy.has(a.iid)) expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT); // re-assigned since
              else expect(r.err?.code).toBe(grpc.status.NOT_FOUND);
            }
            break;
          }
          case 'pause':
            await sleep(c.ms);
            break;
        }
      }
      // Give everything back before the next sequence.
      while (held.length > 0) await release(held.length - 1, false);
    };

    await fc.assert(fc.asyncProperty(fc.array(cmdArb, { minLength: 5, maxLength: 30 }), run), { numRuns: 25, seed: 20231, endOnFailure: true });

    // Quiescence: Assigns that hit their deadline may still be cold-starting; then compare the
    // platform's ledger with the scaler's journal.
    const s = await h.waitStats((st) => st.totals.startingInstances === 0 && st.totals.busyInstances === 0 && st.journaledSlots === h.platform.liveSlotCount, 5_000);
    expect(s.totals.waitingAssigns).toBe(0);
    // Keep-alive expiries go on while we look: a slot the platform just destroyed may still be in
    // the journal for a moment (its event is in flight). Take a snapshot on which both agree;
    // a real leak never converges.
    let journal = await h.slots();
    for (let i = 0; i < 50; i++) {
      const live = new Set(h.platform.leakCheck().liveSlotIds);
      if (journal.length === live.size && journal.every((id) => live.has(id))) break;
      await sleep(100);
      journal = await h.slots();
    }
    const byJournal = h.platform.leakCheck(journal);
    expect(byJournal.leakedSlotIds).toEqual([]);
    expect(h.platform.leakCheck().leakedSlotIds).toEqual([]);
    expect(new Set(journal)).toEqual(new Set(byJournal.liveSlotIds));
    for (const iid of broken) expect(h.platform.instances.get(iid)?.state).toBe('destroyed');
    expect(seq).toBeGreaterThan(100);
  }, 60_000);
});
