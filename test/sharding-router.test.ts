/**
 * ShardRouter ↔ serveShard across real worker threads. The worker script is the compiled example
 * (`npm test` builds first; in a manual run, `npx tsc -p tsconfig.json` first).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shardForKey } from '../src/sharding/key-hash.js';
import { ShardRouter, type ShardRouterOptions } from '../src/sharding/shard-router.js';
import { ShardError } from '../src/sharding/types.js';
import {
  ECHO_COUNTER_LAYOUT,
  bootMarkOf,
  type EchoCounterField,
  type EchoEvent,
  type EchoInfo,
  type EchoRequest,
} from '../src/sharding/examples/echo-protocol.js';
import { ECHO_CODEC } from '../src/sharding/examples/echo-codec.js';
import { MAX_RING_ERROR_CHARS } from '../src/sharding/worker-runtime.js';

const WORKER = new URL('../dist/src/sharding/examples/echo-worker.js', import.meta.url);
type Router = ShardRouter<EchoRequest, unknown, EchoEvent, EchoCounterField>;

const routers: Router[] = [];
type Opts = Partial<ShardRouterOptions<EchoCounterField, EchoRequest, unknown, EchoEvent>>;
/** The transport under test: shared rings with a codec, or the MessagePort (structured clone). */
let transport: Opts = {};
async function startRouter(opts: Opts = {}): Promise<Router> {
  const r = await ShardRouter.start<EchoRequest, unknown, EchoEvent, EchoCounterField>({
    workerScript: WORKER,
    shards: 2,
    counterLayout: ECHO_COUNTER_LAYOUT,
    restartBackoffMs: 20,
    ...transport,
    ...opts,
  });
  routers.push(r);
  return r;
}

/** Collect callback results: resolves with [err, res] in completion order. */
function call(r: Router, shard: number, req: EchoRequest, order?: number[], tag?: number): Promise<[ShardError | null, unknown]> {
  return new Promise((resolve) =>
    r.requestShard(shard, req, (err, res) => {
      if (order !== undefined && tag !== undefined) order.push(tag);
      resolve([err, res]);
    }),
  );
}

function nextEvent<T extends unknown[]>(r: Router, name: 'shard-exit' | 'shard-restart'): Promise<T> {
  return new Promise((resolve) => r.once(name, ((...args: unknown[]) => resolve(args as T)) as () => void));
}

beforeAll(() => {
  if (!existsSync(fileURLToPath(WORKER))) {
    throw new Error(`${fileURLToPath(WORKER)} missing: run \`npx tsc -p tsconfig.json\` (npm test does it)`);
  }
});

afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close()));
});

describe.each([
  ['MessagePort', {}],
  ['shared rings', { codec: ECHO_CODEC }],
] as const)('ShardRouter with real workers over %s', (name, t) => {
  beforeAll(() => {
    transport = t;
  });
  const rings = name === 'shared rings';

  it('launch: answers requests made before its workers were ready, once they are', async () => {
    const { router, ready } = ShardRouter.launch<EchoRequest, unknown, EchoEvent, EchoCounterField>({
      workerScript: WORKER,
      shards: 2,
      counterLayout: ECHO_COUNTER_LAYOUT,
      ...transport,
    });
    routers.push(router);
    // Made before any worker ran its init (which writes the boot mark): they wait in the queues.
    const early = [call(router, 0, { op: 'echo', value: 'a' }), call(router, 1, { op: 'echo', value: 'b' })];
    expect([router.counters.get(0, 'bootMark'), router.counters.get(1, 'bootMark')]).toEqual([0, 0]);
    expect(await Promise.all(early)).toEqual([
      [null, 'a'],
      [null, 'b'],
    ]);
    await ready;
    expect(router.counters.get(0, 'bootMark')).toBe(bootMarkOf(0, 0));
  }, 10_000);

  it('onEvent gets the events workers emit during their init, all before start() resolves', async () => {
    const seen: string[] = [];
    await startRouter({
      shards: 2,
      // Replies and events wait for the end of the event-loop turn: later than the ready report.
      batchFlush: 'immediate',
      workerData: () => ({ bootEvent: 'recovered' }),
      onEvent: (shard, ev) => seen.push(`${shard}:${String(ev.value)}:${ev.shard}`),
    });
    expect(seen.sort()).toEqual(['0:recovered:0', '1:recovered:1']);
  }, 10_000);

  it('beforeFlush runs before a reply can reach main, for every batch', async () => {
    // The hook busy-waits, then records how many answers it covered: a reply published (or
    // posted) before it ran would be seen here with the count still short of it.
    const r = await startRouter({ shards: 1, workerData: () => ({ flushSpinMs: 15 }) });
    let seen = 0;
    const covered: [number, number][] = [];
    const one = (v: number): Promise<void> =>
      new Promise((resolve) =>
        r.requestShard(0, { op: 'echo', value: v }, () => {
          seen++;
          covered.push([seen, r.counters.get(0, 'flushedAnswers')]);
          resolve();
        }),
      );
    for (let i = 0; i < 3; i++) await one(i); // one reply per batch
    await Promise.all(Array.from({ length: 20 }, (_, i) => one(100 + i))); // replies batched
    expect(covered.length).toBe(23);
    for (const [n, flushed] of covered) expect(flushed).toBeGreaterThanOrEqual(n);
  }, 10_000);

  it('shares counters: worker writes at boot and per request, main reads without messaging', async () => {
    const r = await startRouter({ shards: 3 });
    for (let s = 0; s < 3; s++) expect(r.counters.get(s, 'bootMark')).toBe(bootMarkOf(s, 0));
    await Promise.all([0, 0, 1, 2, 2, 2].map((s) => r.requestShardAsync(s, { op: 'echo', value: s })));
    expect([0, 1, 2].map((s) => r.counters.get(s, 'handled'))).toEqual([2, 1, 3]);
    expect(r.counters.total('handled')).toBe(6);
    expect(r.counters.total('routerRequests')).toBe(6);
    expect(r.counters.total('routerInFlight')).toBe(0);
  }, 10_000);

  it('routes by key: a keyed counter service keeps each key on one shard', async () => {
    const r = await startRouter({ shards: 2 });
    const keys = Array.from({ length: 40 }, (_, i) => `fn-${i}`);
    expect(keys.map((k) => r.shardFor(k))).toEqual(keys.map((k) => shardForKey(k, 2)));
    const ps: Promise<unknown>[] = [];
    for (let round = 0; round < 3; round++) for (const key of keys) ps.push(r.requestAsync(key, { op: 'add', key, n: 1 }));
    const totals = await Promise.all(ps);
    expect(totals.slice(80)).toEqual(keys.map(() => 3));
    const perShard = [0, 1].map((s) => keys.filter((k) => shardForKey(k, 2) === s).length);
    expect([0, 1].map((s) => r.counters.get(s, 'keys'))).toEqual(perShard);
    expect(perShard[0]! > 0 && perShard[1]! > 0).toBe(true);
  }, 10_000);

  it('batches: many requests in one tick cost one message each way', async () => {
    const r = await startRouter({ shards: 2 });
    const before = (await r.requestShardAsync(0, { op: 'info' })) as EchoInfo;
    const sent0 = r.counters.get(0, 'routerBatchesSent');
    const recv0 = r.counters.get(0, 'routerBatchesReceived');
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) ps.push(r.requestShardAsync(0, { op: 'echo', value: i }));
    expect(r.counters.get(0, 'routerInFlight')).toBe(200);
    expect(await Promise.all(ps)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(r.counters.get(0, 'routerBatchesSent') - sent0).toBe(1);
    expect(r.counters.get(0, 'routerBatchesReceived') - recv0).toBe(1);
    const after = (await r.requestShardAsync(0, { op: 'info' })) as EchoInfo;
    // +1 batch of 200, then +1 batch for this info request itself.
    expect(after.batchesReceived - before.batchesReceived).toBe(2);
    expect(after.requestsReceived - before.requestsReceived).toBe(201);
    expect(after.batchesSent - before.batchesSent).toBe(2);
    expect(r.counters.get(1, 'routerBatchesSent')).toBe(0);
  }, 10_000);

  it('batchFlush: microtask posts per microtask, immediate merges a whole loop iteration', async () => {
    for (const [batchFlush, expected] of [
      ['microtask', 3],
      ['immediate', 1],
    ] as const) {
      const r = await startRouter({ shards: 1, batchFlush });
      const sent0 = r.counters.get(0, 'routerBatchesSent');
      const ps: Promise<unknown>[] = [];
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 10; i++) ps.push(r.requestShardAsync(0, { op: 'echo', value: i }));
        await Promise.resolve(); // a microtask boundary, as between two socket reads' handlers
        await Promise.resolve();
      }
      await Promise.all(ps);
      expect(r.counters.get(0, 'routerBatchesSent') - sent0, batchFlush).toBe(expected);
      // A ring's reader takes whatever was published when it wakes: up to one batch per publish.
      if (rings) expect(r.counters.get(0, 'routerBatchesReceived'), batchFlush).toBeLessThanOrEqual(expected);
      else expect(r.counters.get(0, 'routerBatchesReceived'), batchFlush).toBe(expected);
    }
  }, 10_000);

  it('applies backpressure: bounded queue, fast SHARD_OVERLOADED, queued requests complete in order', async () => {
    const r = await startRouter({ shards: 1, maxInFlightPerShard: 2, maxQueuedPerShard: 3 });
    const order: number[] = [];
    const ps = [0, 1, 2, 3, 4, 5].map((i) => call(r, 0, { op: 'delay', value: i, ms: 40 }, order, i));
    expect(r.counters.get(0, 'routerInFlight')).toBe(2);
    expect(r.counters.get(0, 'routerQueued')).toBe(3);
    const [overErr] = await ps[5]!;
    expect(order).toEqual([5]); // failed fast, before any of the 40 ms handlers answered
    expect(overErr).toBeInstanceOf(ShardError);
    expect(overErr?.code).toBe('SHARD_OVERLOADED');
    expect(overErr?.shard).toBe(0);
    const results = await Promise.all(ps.slice(0, 5));
    expect(results).toEqual([0, 1, 2, 3, 4].map((i) => [null, i]));
    expect(order).toEqual([5, 0, 1, 2, 3, 4]);
    expect(r.counters.get(0, 'routerOverloads')).toBe(1);
    expect(r.counters.get(0, 'routerQueued')).toBe(0);
    expect(r.counters.get(0, 'routerInFlight')).toBe(0);
    expect(await r.requestShardAsync(0, { op: 'echo', value: 'after' })).toBe('after');
  }, 10_000);

  it('tellShard: one-way, in order with requests, outside the in-flight window, never shed, never answered', async () => {
    const r = await startRouter({ shards: 1, maxInFlightPerShard: 1, maxQueuedPerShard: 1 });
    // The window (1) and the queue (1) full of slow requests: a tell still goes in, behind them.
    const slow = [call(r, 0, { op: 'delay', value: 's0', ms: 40 }), call(r, 0, { op: 'delay', value: 's1', ms: 40 })];
    expect(r.tellShard(0, { op: 'add', key: 'k', n: 5 })).toBe(true);
    expect(r.tellShard(0, { op: 'add', key: 'k', n: 2 })).toBe(true);
    expect(r.counters.get(0, 'routerQueued')).toBe(3);
    expect(await Promise.all(slow)).toEqual([
      [null, 's0'],
      [null, 's1'],
    ]);
    // A request made after the tells finds them handled: the channel is FIFO.
    expect(await r.requestShardAsync(0, { op: 'add', key: 'k', n: 0 })).toBe(7);
    // No reply came back for them (a reply with no callback would be dropped, but none is made).
    expect(r.counters.get(0, 'routerInFlight')).toBe(0);
    // Nor do they wait at close; an error in a one-way handler goes nowhere.
    expect(r.tellShard(0, { op: 'fail', code: 'X', message: 'nobody hears this' })).toBe(true);
    expect(await r.requestShardAsync(0, { op: 'echo', value: 'still fine' })).toBe('still fine');
    await r.close();
    expect(r.tellShard(0, { op: 'echo', value: 'late' })).toBe(false);
  }, 10_000);

  it('supports async replies, handler errors and throws', async () => {
    const r = await startRouter({ shards: 1 });
    const order: number[] = [];
    const slow = call(r, 0, { op: 'delay', value: 'slow', ms: 80 }, order, 1);
    const fast = call(r, 0, { op: 'delay', value: 'fast', ms: 5 }, order, 2);
    const sync = call(r, 0, { op: 'echo', value: 'sync' }, order, 3);
    expect(await Promise.all([slow, fast, sync])).toEqual([
      [null, 'slow'],
      [null, 'fast'],
      [null, 'sync'],
    ]);
    expect(order).toEqual([3, 2, 1]);
    const [failErr] = await call(r, 0, { op: 'fail', code: 'NOT_FOUND', message: 'no such key' });
    expect(failErr).toMatchObject({ code: 'HANDLER_ERROR', handlerCode: 'NOT_FOUND', message: 'no such key', shard: 0 });
    const [throwErr] = await call(r, 0, { op: 'throw', message: 'boom' });
    expect(throwErr).toMatchObject({ code: 'HANDLER_ERROR', handlerCode: 'THROWN', message: 'boom' });
    expect(await r.requestShardAsync(0, { op: 'echo', value: 1 })).toBe(1);
  }, 10_000);

  it('delivers worker events before the reply produced after them', async () => {
    const r = await startRouter({ shards: 2 });
    const seen: string[] = [];
    r.on('event', (shard, ev) => seen.push(`event:${shard}:${String(ev.value)}:${ev.shard}`));
    await new Promise<void>((resolve) =>
      r.requestShard(1, { op: 'emit', value: 'slot-created' }, (err, res) => {
        seen.push(`reply:${String(res)}:${err === null}`);
        resolve();
      }),
    );
    expect(seen).toEqual(['event:1:slot-created:1', 'reply:slot-created:true']);
  }, 10_000);

  it('fails in-flight requests of a crashed worker, restarts it with generation 1 and fresh workerData', async () => {
    const calls: [number, number][] = [];
    const r = await startRouter({
      shards: 2,
      workerData: (shard, generation) => {
        calls.push([shard, generation]);
        return { journal: `j-${shard}-${generation}` };
      },
    });
    expect(calls.sort()).toEqual([
      [0, 0],
      [1, 0],
    ]);
    const exited = nextEvent<[number, number]>(r, 'shard-exit');
    const restarted = nextEvent<[number, number]>(r, 'shard-restart');
    const held = [1, 2, 3].map((i) => call(r, 0, { op: 'delay', value: i, ms: 5_000 }));
    const crash = call(r, 0, { op: 'crash', code: 7 });
    const other = call(r, 1, { op: 'delay', value: 'ok', ms: 50 });
    for (const [err] of await Promise.all([...held, crash])) {
      expect(err).toBeInstanceOf(ShardError);
      expect(err?.code).toBe('SHARD_CRASHED');
    }
    expect(await exited).toEqual([0, 7]);
    // Sent while the worker is down: waits in the queue for generation 1.
    const during = call(r, 0, { op: 'echo', value: 'queued-during-restart' });
    expect(await restarted).toEqual([0, 1]);
    expect(await during).toEqual([null, 'queued-during-restart']);
    expect(calls).toContainEqual([0, 1]);
    expect(r.generationOf(0)).toBe(1);
    expect(r.generationOf(1)).toBe(0);
    expect(r.counters.get(0, 'routerRestarts')).toBe(1);
    expect(r.counters.get(0, 'routerGeneration')).toBe(1);
    expect(r.counters.get(0, 'bootMark')).toBe(bootMarkOf(0, 1));
    const info = (await r.requestShardAsync(0, { op: 'info' })) as EchoInfo;
    expect(info).toMatchObject({ shard: 0, generation: 1, workerData: { journal: 'j-0-1' } });
    expect(await other).toEqual([null, 'ok']);
  }, 10_000);

  it('with restartOnExit false, a dead shard fails fast with SHARD_CRASHED', async () => {
    const r = await startRouter({ shards: 1, restartOnExit: false });
    const exited = nextEvent<[number, number]>(r, 'shard-exit');
    const [err] = await call(r, 0, { op: 'crash', code: 3 });
    expect(err?.code).toBe('SHARD_CRASHED');
    await exited;
    const [after] = await call(r, 0, { op: 'echo', value: 1 });
    expect(after?.code).toBe('SHARD_CRASHED');
  }, 10_000);

  it('close() drains in-flight and queued requests, runs onShutdown, then rejects new requests', async () => {
    const r = await startRouter({ shards: 2, maxInFlightPerShard: 2 });
    const exits: [number, number][] = [];
    r.on('shard-exit', (s, code) => exits.push([s, code]));
    const ps = [0, 1, 2, 3, 4, 5].map((i) => call(r, i % 2, { op: 'delay', value: i, ms: 60 }));
    expect(r.counters.total('routerQueued')).toBe(2);
    const closing = r.close();
    const [closedErr] = await call(r, 0, { op: 'echo', value: 'late' });
    expect(closedErr?.code).toBe('SHARD_CLOSED');
    await closing;
    expect(await Promise.all(ps)).toEqual([0, 1, 2, 3, 4, 5].map((i) => [null, i]));
    expect(exits.sort()).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(r.counters.get(0, 'shutdownMark')).toBe(1);
    expect(r.counters.get(1, 'shutdownMark')).toBe(1);
    expect(await r.close()).toBeUndefined(); // idempotent
  }, 10_000);

  it('close() gives up on stragglers after closeTimeoutMs: SHARD_CLOSED, workers terminated', async () => {
    const r = await startRouter({ shards: 1, closeTimeoutMs: 300 });
    const stuck = call(r, 0, { op: 'delay', value: 'never', ms: 20_000 });
    const t0 = Date.now();
    await r.close();
    expect(Date.now() - t0).toBeLessThan(2_000);
    const [err] = await stuck;
    expect(err?.code).toBe('SHARD_CLOSED');
  }, 10_000);

  it('start() rejects when a worker cannot start', async () => {
    await expect(
      ShardRouter.start({ workerScript: new URL('./no-such-worker.js', WORKER), shards: 2 }),
    ).rejects.toThrow(/before it was ready/);
  }, 10_000);
});

describe('ShardRouter over shared rings: limits', () => {
  beforeAll(() => {
    transport = { codec: ECHO_CODEC };
  });

  it('a full ring holds requests back (in order) until the worker has read some; a record too large fails', async () => {
    const r = await startRouter({ shards: 1, ringBytes: 4096, maxInFlightPerShard: 10_000 });
    const big = 'x'.repeat(200);
    const ps: Promise<unknown>[] = [];
    // ~2,000 records of ~220 bytes: a hundred times the ring, several wraps.
    for (let i = 0; i < 2000; i++) ps.push(r.requestShardAsync(0, { op: 'echo', value: `${i}:${big}` }));
    const got = await Promise.all(ps);
    expect(got).toEqual(Array.from({ length: 2000 }, (_, i) => `${i}:${big}`));
    const [err] = await call(r, 0, { op: 'echo', value: 'y'.repeat(2000) });
    expect(err?.code).toBe('SHARD_MESSAGE_TOO_LARGE');
    // A handler's error message longer than MAX_RING_ERROR_CHARS is cut, not stuck.
    const big2 = await startRouter({ shards: 1 });
    const [failErr] = await call(big2, 0, { op: 'fail', code: 'E', message: 'z'.repeat(10_000) });
    expect(failErr).toMatchObject({ code: 'HANDLER_ERROR', handlerCode: 'E' });
    expect(failErr!.message).toBe('z'.repeat(MAX_RING_ERROR_CHARS - 1));
    expect(await r.requestShardAsync(0, { op: 'echo', value: 'after' })).toBe('after');
  }, 20_000);
});
