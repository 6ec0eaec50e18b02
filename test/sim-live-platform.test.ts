/**
 * PlatformServer semantics over real gRPC on an ephemeral port: latencies, the slot/instance
 * ledger, every error answered as a non-Ok Status with a message, and slot costs in the ScoreBook.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Status } from '../src/wire/proto.js';
import type { PlatformClient } from '../src/wire/proto.js';
import { PlatformServer } from '../src/sim/live/platform-server.js';
import type { PlatformServerOptions, WallClock } from '../src/sim/live/platform-server.js';
import { ScoreBook } from '../src/sim/scoring/score-book.js';
import { createSlot, destroySlot, initSlot, meta, metaMap, platformClient } from './sim-live-fixtures.js';

const FN = meta('fn-a', 512, 150);
const OTHER = meta('fn-b', 1024, 10);
/** setTimeout may fire a hair early relative to performance.now(). */
const TIMER_SLACK_MS = 3;

let server: PlatformServer | undefined;
let client: PlatformClient | undefined;

async function setup(opts: Partial<PlatformServerOptions> = {}): Promise<{ server: PlatformServer; client: PlatformClient }> {
  server = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 80, metas: metaMap(FN, OTHER), ...opts });
  await server.start();
  client = platformClient(server.target);
  return { server, client };
}

afterEach(async () => {
  client?.close();
  client = undefined;
  await server?.close();
  server = undefined;
});

describe('PlatformServer', () => {
  it('binds an ephemeral port and honours the create latency', async () => {
    const { server: s, client: c } = await setup();
    expect(s.port).toBeGreaterThan(0);
    const t0 = performance.now();
    const reply = await createSlot(c, 512);
    const elapsed = performance.now() - t0;
    expect(reply.status).toBe(Status.Ok);
    expect(elapsed).toBeGreaterThanOrEqual(80 - TIMER_SLACK_MS);
    expect(reply.slot?.id).toMatch(/^slot-\d+$/);
    expect(reply.slot?.resourceConfig?.memoryInMegabytes).toBe(512);
    expect(reply.slot?.createTime).toBeGreaterThan(1_600_000_000_000);
    expect(s.slots.get(reply.slot?.id ?? '')?.state).toBe('created');
    expect(s.liveSlotCount).toBe(1);
    const second = await createSlot(c, 512);
    expect(second.slot?.id).not.toBe(reply.slot?.id);
  });

  it('Init blocks for the function init duration and answers it', async () => {
    const { server: s, client: c } = await setup({ createLatencyMs: 0 });
    const slot = await createSlot(c, 512);
    const slotId = slot.slot?.id ?? '';
    const t0 = performance.now();
    const pending = initSlot(c, slotId, 'inst-1', FN);
    // While Init runs, the instance exists but is not usable.
    await new Promise((r) => setTimeout(r, 40));
    expect(s.instances.get('inst-1')?.state).toBe('initialising');
    const reply = await pending;
    const elapsed = performance.now() - t0;
    expect(reply.status).toBe(Status.Ok);
    expect(elapsed).toBeGreaterThanOrEqual(150 - TIMER_SLACK_MS);
    expect(reply.initDurationInMs).toBeGreaterThanOrEqual(149);
    expect(reply.initDurationInMs).toBeLessThan(400);
    expect(reply.createTime).toBeGreaterThan(1_600_000_000_000);
    const inst = s.instances.get('inst-1');
    expect(inst).toMatchObject({ slotId, metaKey: 'fn-a', state: 'ready', broken: false });
    expect(inst?.busyRequestId).toBeUndefined();
    expect(s.slots.get(slotId)?.state).toBe('ready');
  });

  it('rejects double init, wrong memory, unknown function, unknown and destroyed slots with messages', async () => {
    const { server: s, client: c } = await setup({ createLatencyMs: 0, metas: metaMap(meta('fn-a', 512, 5), OTHER) });
    const slotId = (await createSlot(c, 512)).slot?.id ?? '';

    const wrongMem = await initSlot(c, slotId, 'x-1', OTHER);
    expect(wrongMem.status).toBe(Status.InvalidArgument);
    expect(wrongMem.errorMessage).toMatch(/1024 MB.*512 MB/);

    const unknownFn = await initSlot(c, slotId, 'x-2', meta('nope', 512, 5));
    expect(unknownFn.status).toBe(Status.InvalidArgument);
    expect(unknownFn.errorMessage).toMatch(/unknown function nope/);

    const unknownSlot = await initSlot(c, 'slot-999', 'x-3', FN);
    expect(unknownSlot.status).toBe(Status.NotFound);
    expect(unknownSlot.errorMessage).toMatch(/slot-999.*not found/);

    // Failed attempts left the slot usable.
    expect((await initSlot(c, slotId, 'ok-1', FN)).status).toBe(Status.Ok);
    const double = await initSlot(c, slotId, 'ok-2', FN);
    expect(double.status).toBe(Status.InvalidArgument);
    expect(double.errorMessage).toMatch(/already initialised/);

    const slot2 = (await createSlot(c, 512)).slot?.id ?? '';
    const reused = await initSlot(c, slot2, 'ok-1', FN);
    expect(reused.status).toBe(Status.InvalidArgument);
    expect(reused.errorMessage).toMatch(/instance id ok-1 is already used/);

    expect((await destroySlot(c, slotId)).status).toBe(Status.Ok);
    expect(s.instances.get('ok-1')?.state).toBe('destroyed');
    const onDestroyed = await initSlot(c, slotId, 'x-4', FN);
    expect(onDestroyed.status).toBe(Status.NotFound);
    expect(onDestroyed.errorMessage).toMatch(/destroyed/);

    const again = await destroySlot(c, slotId);
    expect(again.status).toBe(Status.NotFound);
    expect(again.errorMessage).toMatch(/already destroyed/);
    const unknown = await destroySlot(c, 'slot-404');
    expect(unknown.status).toBe(Status.NotFound);
    expect(unknown.errorMessage).toMatch(/slot-404.*not found/);

    const zero = await createSlot(c, 0);
    expect(zero.status).toBe(Status.InvalidArgument);
    expect(zero.errorMessage).toMatch(/memoryInMegabytes/);
    expect(s.callCounts.DestroySlot).toEqual({ Ok: 1, NotFound: 2 });
  });

  it('answers an Init in progress with an error as soon as its slot is destroyed', async () => {
    const { server: s, client: c } = await setup({ createLatencyMs: 0, metas: metaMap(meta('slow', 512, 5_000)) });
    const slotId = (await createSlot(c, 512)).slot?.id ?? '';
    const t0 = performance.now();
    const pending = initSlot(c, slotId, 'inst-slow', meta('slow', 512, 5_000));
    await new Promise((r) => setTimeout(r, 30));
    expect((await destroySlot(c, slotId)).status).toBe(Status.Ok);
    const reply = await pending;
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(reply.status).toBe(Status.NotFound);
    expect(reply.errorMessage).toMatch(/destroyed during init/);
    expect(s.instances.get('inst-slow')?.state).toBe('destroyed');
    expect(s.liveSlotCount).toBe(0);
  });

  it('charges a slot from creation to destruction in the ScoreBook', async () => {
    let now = 10_000;
    const clock: WallClock = { now: () => now };
    const book = new ScoreBook();
    const { server: s, client: c } = await setup({ createLatencyMs: 0, clock, scoreBook: book });
    const slotId = (await createSlot(c, 1024)).slot?.id ?? '';
    expect(s.slots.get(slotId)?.createdAtMs).toBe(10_000);
    now = 12_000;
    expect(book.liveStats(now).totalSlotTimeInGBs).toBeCloseTo(2, 9);
    expect(book.liveStats(now).totalLiveSlotCount).toBe(1);
    now = 13_000;
    expect((await destroySlot(c, slotId)).status).toBe(Status.Ok);
    // Cost stopped at the destroy: later reads and the final report do not grow.
    expect(book.liveStats(50_000).totalSlotTimeInGBs).toBeCloseTo(3, 9);
    expect(book.liveStats(50_000).totalLiveSlotCount).toBe(0);
    // A slot never destroyed is charged until the end.
    now = 20_000;
    await createSlot(c, 2048);
    expect(book.finish(25_000).totalSlotTimeInGBs).toBeCloseTo(3 + 2 * 5, 9);
  });

  it('lets a fault injector answer Throttle without side effects', async () => {
    let throttles = 1;
    const { server: s, client: c } = await setup({
      createLatencyMs: 0,
      faults: { createSlot: () => (throttles-- > 0 ? { status: Status.Throttle, errorMessage: 'slow down' } : undefined) },
    });
    const first = await createSlot(c, 512);
    expect(first.status).toBe(Status.Throttle);
    expect(first.errorMessage).toBe('slow down');
    expect(s.slots.size).toBe(0);
    expect((await createSlot(c, 512)).status).toBe(Status.Ok);
    expect(s.callCounts.CreateSlot).toEqual({ Throttle: 1, Ok: 1 });
  });

  it('accepts keys absent from metas through a pluggable init duration', async () => {
    const { server: s, client: c } = await setup({ createLatencyMs: 0, metas: undefined, initDurationMs: () => 20 });
    const slotId = (await createSlot(c, 256)).slot?.id ?? '';
    const reply = await initSlot(c, slotId, 'any-1', meta('load-test-key-17', 256, 0));
    expect(reply.status).toBe(Status.Ok);
    expect(reply.initDurationInMs).toBeGreaterThanOrEqual(19);
    expect(s.instances.get('any-1')?.metaKey).toBe('load-test-key-17');
  });

  it('reports live and leaked slots', async () => {
    const { server: s, client: c } = await setup({ createLatencyMs: 0, metas: metaMap(meta('fn-a', 512, 1)) });
    const used = (await createSlot(c, 512)).slot?.id ?? '';
    await initSlot(c, used, 'i-used', meta('fn-a', 512, 1));
    const orphan = (await createSlot(c, 512)).slot?.id ?? '';
    const gone = (await createSlot(c, 512)).slot?.id ?? '';
    await destroySlot(c, gone);
    expect(s.leakCheck()).toEqual({ liveSlotIds: [used, orphan], leakedSlotIds: [orphan] });
    s.instances.get('i-used')!.broken = true;
    expect(s.leakCheck().leakedSlotIds).toEqual([used, orphan]);
    expect(s.leakCheck([used]).leakedSlotIds).toEqual([orphan]);
  });
});
