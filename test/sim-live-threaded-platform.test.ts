/**
 * The platform in a worker thread (compiled `dist/src/sim/live/platform-worker.js`, built by
 * `npm test`'s pretest) with the replayer validating against its mirrored ledger: same
 * verdicts and costs as the in-process platform, including the race where the scaler names an
 * instance before the mirror has applied its "initialised" change.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PlatformServer } from '../src/sim/live/platform-server.js';
import { Replayer } from '../src/sim/live/replayer.js';
import type { ReplayResult } from '../src/sim/live/replayer.js';
import { ScoreBook } from '../src/sim/scoring/score-book.js';
import { ThreadedPlatform } from '../src/sim/live/threaded-platform.js';
import type { RequestRecord } from '../src/sim/contest/dataset-types.js';
import { createSlot, destroySlot, initSlot, meta, metaMap, platformClient, req, startTestScaler } from './sim-live-fixtures.js';
import type { ScalerBehaviour, TestScaler } from './sim-live-fixtures.js';

const A = meta('fn-a', 512, 30);
const B = meta('fn-b', 1024, 10);
/** Init of 0 ms: the Assign reply follows the Init reply at once (the mirror race). */
const Z = meta('fn-z', 256, 0);
const METAS = metaMap(A, B, Z);
const TAIL_MS = 60;

let platform: ThreadedPlatform | PlatformServer | undefined;
let scaler: TestScaler | undefined;

afterEach(async () => {
  await scaler?.close();
  scaler = undefined;
  await platform?.close();
  platform = undefined;
});

async function replay(behaviour: ScalerBehaviour, requests: RequestRecord[], threaded = true): Promise<{ result: ReplayResult; platform: ThreadedPlatform | PlatformServer }> {
  const book = new ScoreBook();
  const p = threaded
    ? new ThreadedPlatform({ address: '127.0.0.1:0', createLatencyMs: 20, metas: METAS.values(), scoreBook: book })
    : new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 20, metas: METAS, scoreBook: book });
  platform = p;
  await p.start();
  scaler = await startTestScaler(behaviour, p.target);
  const result = await new Replayer({ requests, metas: METAS, scalerAddress: scaler.target, platform: p, scoreBook: book, tailMs: TAIL_MS, requestIdPrefix: 'r' }).run();
  return { result, platform: p };
}

describe('ThreadedPlatform', () => {
  it('mirrors the ledger: at(mark) sees an instance initialised before the mark', async () => {
    const tp = new ThreadedPlatform({ address: '127.0.0.1:0', createLatencyMs: 1, metas: METAS.values() });
    platform = tp;
    await tp.start();
    const c = platformClient(tp.target);
    try {
      const slot = await createSlot(c, 256);
      const init = await initSlot(c, slot.slot?.id ?? '', 'inst-1', Z);
      expect(init.status).toBe(0);
      // The Init reply is here; whatever the mirror holds now, a validation at the current mark
      // must see the instance ready.
      const seen = await new Promise<string | undefined>((resolve) => {
        const m = tp.mark();
        tp.at(m, () => resolve(tp.instances.get('inst-1')?.state));
      });
      expect(seen).toBe('ready');
      await destroySlot(c, slot.slot?.id ?? '');
      await tp.settled();
      expect(tp.instances.get('inst-1')?.state).toBe('destroyed');
      expect(tp.liveSlotCount).toBe(0);
      const { callCounts } = await tp.sync();
      expect(callCounts).toEqual({ CreateSlot: { Ok: 1 }, Init: { Ok: 1 }, DestroySlot: { Ok: 1 } });
    } finally {
      c.close();
    }
  });

  it('a naive scaler with 0 ms inits has zero failures and is charged exactly the mirrored slot lifetimes', async () => {
    const trace: RequestRecord[] = [];
    for (let i = 0; i < 60; i++) trace.push(req(i * 3, i % 3 === 0 ? 'fn-a' : 'fn-z', 20 + (i % 5) * 10));
    const threaded = await replay('naive', trace);
    expect(threaded.result.failures).toEqual({});
    const t = threaded.result.report;
    expect(t.slotsCreated).toBe(60);
    expect(t.coldStarts).toBe(60);
    let slotGBs = 0;
    for (const s of threaded.platform.slots.values()) slotGBs += (((s.destroyedAtMs ?? t.endMs) - s.createdAtMs) / 1000) * (s.memoryMb / 1024);
    expect(t.totalSlotTimeInGBs).toBeCloseTo(slotGBs, 9);
    await scaler?.close();
    await platform?.close();
    const local = await replay('naive', trace, false);
    expect(local.result.failures).toEqual({});
    expect(t.invocationExecutionTimeInGBs).toBeCloseTo(local.result.report.invocationExecutionTimeInGBs, 9);
  }, 20_000);

  it('still catches a busy instance and a broken one', async () => {
    const busy = await replay('share-one', [req(0, 'fn-a', 200), req(120, 'fn-a', 100), req(400, 'fn-a', 20)]);
    expect(busy.result.failures).toEqual({ 'instance-busy': 1 });
    expect([...busy.platform.instances.values()][0]?.busyRequestId).toBeUndefined();
    await scaler?.close();
    await platform?.close();
    const broken = await replay('reuse-broken', [req(0, 'fn-a', 30, 500), req(150, 'fn-a', 30), req(300, 'fn-b', 10)]);
    expect(broken.result.failures).toEqual({ 'instance-broken': 1 });
    const inst = [...broken.platform.instances.values()].find((i) => i.metaKey === 'fn-a');
    expect(inst?.broken).toBe(true);
    expect(broken.platform.leakCheck().leakedSlotIds).toEqual([inst?.slotId]);
  }, 20_000);
});
