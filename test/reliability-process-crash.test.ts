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
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { shardJournalFile } from '../src/journal/journal-directory.js';
import { FRAME_HEADER_BYTES } from '../src/journal/journal-format.js';
import { JournalFile } from '../src/journal/journal-file.js';
import { loadProto, type ScalerClient } from '../src/wire/proto.js';
import { runCrashLive } from '../src/sim/faults/crash-live-run.js';
import { startScalerProcess, type ScalerProcess } from '../src/sim/faults/fault-live-run.js';
import { PlatformServer } from '../src/sim/live/platform-server.js';
import { MAIN_JS, assignReq, idleReq, startHarness, type Harness } from './reliability-fixtures.js';
import { crashDataset } from './reliability-datasets.js';
import { TEST_HOOKS_ENV, TEST_KILL_ON_RELEASE_REQUEST_ID } from '../src/shard/test-hooks.js';

const KILL_AT_MS = 5_000;

describe('scaler process killed mid-replay', () => {
  it('restarted on its journal: nothing leaks, and only calls that reached no live process fail', async () => {
    const ds = crashDataset(KILL_AT_MS);
    // A fixed keep-alive, so that idle instances certainly exist at the kill (what adaptive keeps
    // idle at a given instant depends on its plans; the journal does not).
    const r = await runCrashLive({ mainJs: MAIN_JS, metas: ds.metas, requests: ds.requests, killAtMs: KILL_AT_MS, maxInitMs: 3_000, shards: 2, scalerArgs: ['--policy', 'fixed-5m'] });
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

/**
 * A platform, a journal directory and scaler processes started on it one after another (the
 * `fixed` policy, so the idle instance is certainly kept), all torn down after each test.
 */
function journalRestarts() {
  let platform: PlatformServer | undefined;
  let scalers: ScalerProcess[] = [];
  let clients: grpc.Client[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    for (const c of clients) c.close();
    clients = [];
    await Promise.all(scalers.map((s) => s.stop()));
    scalers = [];
    await platform?.close();
    platform = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  return {
    platform: (): PlatformServer => platform!,
    /** The test stopped its scalers itself: the teardown leaves them be. */
    stopped(): void {
      scalers = [];
    },
    /** Starts the platform and a journal directory; returns what starts a scaler on them. */
    async begin(dirPrefix: string, extraArgs: string[], env?: Record<string, string>): Promise<() => Promise<{ scaler: ScalerProcess; client: ScalerClient }>> {
      platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 5, initDurationMs: () => 20 });
      await platform.start();
      const journal = (dir = mkdtempSync(join(tmpdir(), dirPrefix)));
      const target = platform.target;
      return async () => {
        const scaler = await startScalerProcess({
          mainJs: MAIN_JS,
          platformAddress: target,
          shards: 1,
          extraArgs: ['--policy', 'fixed', '--keep-alive', '60s', '--journal', journal, ...extraArgs],
          ...(env !== undefined ? { env } : {}),
        });
        scalers.push(scaler);
        const client = new (loadProto().serverless.simulator.Scaler)(scaler.address, grpc.credentials.createInsecure());
        clients.push(client);
        return { scaler, client };
      };
    },
    assign: (c: ScalerClient, rid: string) =>
      new Promise<string>((resolve, reject) => c.Assign(assignReq(rid, 'fn') as never, (err, r) => (err ? reject(err) : resolve(r!.assigment!.instanceId)))),
    idle: (c: ScalerClient, rid: string, iid: string) =>
      new Promise<grpc.ServiceError | null>((resolve) => c.Idle(idleReq(rid, 'fn', iid) as never, (err) => resolve(err))),
  };
}

/**
 * The same recovery on each gRPC server and shard transport (the replay above runs the default:
 * grpc-js on the shared rings): a scaler killed with an instance handed out and one idle, and
 * restarted on its journal. The held instance's Idle succeeds on the new process, the idle one
 * serves warm, and nothing is left on the platform once the new process stops.
 */
describe.each([
  ['http2', 'rings'],
  ['grpc-js', 'port'],
] as const)('a killed scaler restarted on its journal (%s server, %s transport)', (server, transport) => {
  const restarts = journalRestarts();

  it('takes over the held and the idle instance: the held one’s Idle succeeds, the idle one serves warm', async () => {
    const start = await restarts.begin(`crash-${server}-`, ['--grpc-server', server, '--shard-transport', transport]);
    const { assign, idle } = restarts;

    const a = await start();
    const held = await assign(a.client, 'r1');
    const freed = await assign(a.client, 'r2');
    expect(await idle(a.client, 'r2', freed)).toBeNull();
    // The Idle is answered by main before the shard records the release (src/server/scaler-service.ts;
    // a kill in between is the test below): the shard has it once it counts the instance idle.
    for (let i = 0; (await a.scaler.getJson<{ totals: Record<string, number> }>('/stats')).totals.idleInstances !== 1; i++) {
      if (i > 100) throw new Error('the release of r2 never reached the shard');
      await new Promise((r) => setTimeout(r, 20));
    }
    // SIGKILL: no shutdown, the two slots stay alive on the platform and in the journal.
    a.scaler.child.kill('SIGKILL');
    await a.scaler.exited;
    expect(restarts.platform().liveSlotCount).toBe(2);

    const b = await start();
    const st = await b.scaler.getJson<{ totals: Record<string, number> }>('/stats');
    expect(st.totals).toMatchObject({ recoveredSlots: 2, adoptedBusy: 1, adoptedIdle: 1, reclaimedSlots: 0 });
    // The request that held an instance at the kill finishes on the new process.
    expect(await idle(b.client, 'r1', held)).toBeNull();
    // Both instances are the new process's: two Assigns get them, no cold start.
    const got = [await assign(b.client, 'r3'), await assign(b.client, 'r4')];
    expect(new Set(got)).toEqual(new Set([held, freed]));
    expect((await b.scaler.getJson<{ totals: Record<string, number> }>('/stats')).totals.coldStarts ?? 0).toBe(0);
    for (const [i, iid] of got.entries()) expect(await idle(b.client, `r${3 + i}`, iid)).toBeNull();
    expect(await b.scaler.stop()).toBe(0);
    restarts.stopped();
    expect(restarts.platform().liveSlotCount).toBe(0);
  }, 30_000);
});

/**
 * The Idle answered on the main thread (src/server/scaler-service.ts), the process killed before
 * its shard recorded the release: the hook (SCALER_TEST_HOOKS=1) makes the shard drop that
 * release and SIGKILL the process once main's OK has left. The journal file still says the
 * instance is held by that request, so the next process adopts it busy: it is never handed out
 * (no double assignment, though its request finished), and its slot is destroyed at the latest
 * when that process stops (or at its busy lease): nothing leaks.
 */
describe('a scaler killed between an Idle’s OK and the shard’s release record', () => {
  const restarts = journalRestarts();

  it('restarted on its journal: the released instance is adopted busy, never handed out, destroyed at stop', async () => {
    const start = await restarts.begin('kill-on-release-', [], { [TEST_HOOKS_ENV]: '1' });
    const { assign, idle } = restarts;

    const a = await start();
    const released = await assign(a.client, TEST_KILL_ON_RELEASE_REQUEST_ID);
    const freed = await assign(a.client, 'r2');
    expect(await idle(a.client, 'r2', freed)).toBeNull();
    // OK from main; the shard never records the release and the process dies.
    expect(await idle(a.client, TEST_KILL_ON_RELEASE_REQUEST_ID, released)).toBeNull();
    await a.scaler.exited;
    expect(a.scaler.child.signalCode).toBe('SIGKILL');
    expect(restarts.platform().liveSlotCount).toBe(2);

    const b = await start();
    const st = await b.scaler.getJson<{ totals: Record<string, number> }>('/stats');
    expect(st.totals).toMatchObject({ recoveredSlots: 2, adoptedBusy: 1, adoptedIdle: 1, reclaimedSlots: 0 });
    // The idle one serves warm; the released one stays out of reach: the next Assign cold-starts.
    expect(await assign(b.client, 'r3')).toBe(freed);
    const fresh = await assign(b.client, 'r4');
    expect([released, freed]).not.toContain(fresh);
    expect((await b.scaler.getJson<{ totals: Record<string, number> }>('/stats')).totals.coldStarts).toBe(1);
    expect(await idle(b.client, 'r3', freed)).toBeNull();
    expect(await idle(b.client, 'r4', fresh)).toBeNull();
    expect(await b.scaler.stop()).toBe(0);
    restarts.stopped();
    expect(restarts.platform().liveSlotCount).toBe(0);
    expect(restarts.platform().instances.get(released)?.state).toBe('destroyed');
  }, 30_000);
});
