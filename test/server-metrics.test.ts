/**
 * `GET /metrics`: the Prometheus exposition of a running scaler, scraped while load runs, checked
 * by a strict parser of the format (test/prometheus-text.ts) and by `promtool check metrics`
 * where Debian's `prometheus` package is installed; the values are checked against what the
 * load and the platform saw. Plus the registry alone, on real shared counters: no function key
 * in any label unless asked for, no histograms when turned off.
 */
import { get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { Histogram, Registry } from 'prom-client';
import { SCALER_COUNTER_LAYOUT } from '../src/shard/counters-layout.js';
import { RawH2Client } from '../src/load/raw-h2-client.js';
import { KeyPopulation } from '../src/load/key-population.js';
import { runLoad } from '../src/load/load-runner.js';
import { DEFAULT_MAX_COLD_STARTS_PER_SHARD, DEFAULT_MAX_DESTROYS_PER_SHARD } from '../src/platform/bounded-platform.js';
import { CountedHistogram } from '../src/server/counted-histogram.js';
import { FunctionSlotTally } from '../src/server/function-slot-tally.js';
import { RpcMethod } from '../src/server/rpc-metrics.js';
import { ScalerMetrics } from '../src/server/scaler-metrics.js';
import { SharedCounters } from '../src/sharding/index.js';
import { assignReq, sleep, startHarness, type Harness } from './reliability-fixtures.js';
import { ExpositionError, hasPromtool, parseExposition, promtoolCheck, sumOf } from './prometheus-text.js';

const PROMTOOL = hasPromtool();

function getText(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).once('error', reject);
  });
}

/** Parse strictly, and with promtool when there is one: both must accept it without a remark. */
function checkFormat(text: string): ReturnType<typeof parseExposition> {
  const families = parseExposition(text);
  if (PROMTOOL) {
    const r = promtoolCheck(text);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  }
  return families;
}

describe('strict exposition parser', () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\na_total{x="2"} 0\n';
  it.each([
    ['a valid counter', ok, null],
    ['a duplicate series', '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', /given twice/],
    ['interleaved families', '# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x="2"} 1\n', /not contiguous/],
    ['a bad escape', '# TYPE a gauge\na{x="\\t"} 1\n', /bad escape/],
    ['an unquoted label', '# TYPE a gauge\na{x=1} 1\n', /not quoted/],
    ['a negative counter', '# TYPE a_total counter\na_total -1\n', /counter a_total is -1/],
    ['a bad value', '# TYPE a gauge\na 1,5\n', /not a float/],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n', /after its samples/],
    ['no final newline', '# TYPE a gauge\na 1', /no newline/],
    [
      'non-cumulative buckets',
      '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="2"} 4\nh_bucket{le="+Inf"} 5\nh_sum 1\nh_count 5\n',
      /below the previous/,
    ],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 5\nh_sum 1\nh_count 5\n', /no le="\+Inf"/],
    ['+Inf bucket != count', '# TYPE h histogram\nh_bucket{le="+Inf"} 5\nh_sum 1\nh_count 6\n', /!= _count/],
  ])('%s', (_name, text, error) => {
    if (error === null) expect(parseExposition(text).get('a_total')?.samples.length).toBe(2);
    else expect(() => parseExposition(text)).toThrow(error);
  });
  it('agrees with promtool on what is broken', { skip: !PROMTOOL }, () => {
    expect(promtoolCheck('# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n').status).not.toBe(0);
    expect(promtoolCheck('# TYPE a gauge\na{x=1} 1\n').status).not.toBe(0);
    expect(promtoolCheck('# HELP a_total A.\n# TYPE a_total counter\na_total 1\n').status).toBe(0);
    expect(() => parseExposition('# TYPE a gauge\na{x=1} 1\n')).toThrow(ExpositionError);
  });
});

describe('CountedHistogram', () => {
  it('prints exactly what a prom-client Histogram given the same observations prints', async () => {
    const series = [{ m: 'a', c: 'OK' }, { m: 'a', c: 'NOT_FOUND' }, { m: 'b', c: 'OK' }];
    const buckets = [0.001, 0.01, 0.1, 1];
    const mine = new Registry();
    const theirs = new Registry();
    const counted = new CountedHistogram({ name: 'h_seconds', help: 'H.', labelNames: ['m', 'c'], buckets, series, registers: [mine] });
    const plain = new Histogram({ name: 'h_seconds', help: 'H.', labelNames: ['m', 'c'], buckets, registers: [theirs] });
    // Values on bucket bounds, between them, above the last and zero; series 2 is never observed.
    const obs: Array<[number, number]> = [[0, 0.001], [0, 0.0005], [0, 5], [1, 0.01], [1, 0.05], [0, 0], [1, 1], [0, 0.1000001]];
    for (const [s, v] of obs) {
      counted.observeAt(s, v);
      plain.observe(series[s]!, v);
    }
    expect(await mine.metrics()).toBe(await theirs.metrics());
    expect(await counted.get()).toEqual(await plain.get());
    checkFormat(await mine.metrics());
    counted.reset();
    plain.reset();
    expect(await mine.metrics()).toBe(await theirs.metrics());
  });
});

describe('the metrics registry on real shared counters', () => {
  it('has no function label by default, and no histograms when they are off', async () => {
    const counters = SharedCounters.create(SCALER_COUNTER_LAYOUT, 3);
    counters.set(1, 'liveSlots', 4);
    counters.set(1, 'coldStarts', 7);
    counters.set(1, 'initHedges', 2);
    counters.set(2, 'prewarms', 5);
    counters.set(0, 'platformCreateSlotThrottle', 3);
    const tally = new FunctionSlotTally();
    tally.apply({ t: 'slot-created', slotId: 's1', mem: 128, iid: 'i1', key: 'fn-a' });
    const m = new ScalerMetrics({
      counters, policy: 'adaptive', platformClient: 'raw', maxColdStartsPerShard: 0, maxDestroysPerShard: 16,
      latencyHistograms: false, functionSlots: tally,
    });
    m.rpc.record(RpcMethod.Assign, grpc.status.OK, performance.now());
    m.rpc.record(RpcMethod.Assign, grpc.status.INVALID_ARGUMENT, performance.now());
    const { body, contentType } = await m.render();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const f = checkFormat(body);
    for (const fam of f.values()) for (const s of fam.samples) expect(Object.keys(s.labels)).not.toContain('function');
    expect(f.has('grpc_server_handling_seconds')).toBe(false);
    expect(sumOf(f, 'grpc_server_handled_total', { grpc_method: 'Assign', grpc_code: 'INVALID_ARGUMENT' })).toBe(1);
    expect(sumOf(f, 'grpc_server_handled_total', { grpc_method: 'Idle', grpc_code: 'OK' })).toBe(0);
    expect(sumOf(f, 'scaler_live_slots', { shard: '1' })).toBe(4);
    expect(sumOf(f, 'scaler_cold_starts_total', { shard: '1', reason: 'on_demand' })).toBe(5);
    expect(sumOf(f, 'scaler_cold_starts_total', { shard: '1', reason: 'hedge' })).toBe(2);
    expect(sumOf(f, 'scaler_cold_starts_total', { reason: 'prewarm' })).toBe(5);
    expect(sumOf(f, 'scaler_platform_calls_total', { method: 'CreateSlot', code: 'throttle' })).toBe(3);
    expect(sumOf(f, 'scaler_platform_concurrency_limit', { queue: 'cold_start' })).toBe(Infinity);
    expect(sumOf(f, 'scaler_platform_concurrency_limit', { queue: 'destroy' })).toBe(16);
    // No slot time yet: the ratios are undefined, so not exported.
    expect(f.get('scaler_score_ratio')!.samples).toEqual([]);
    expect(f.get('scaler_shard_restarts_total')!.samples.map((s) => s.labels.shard)).toEqual(['0', '1', '2']);
  });
});

describe('GET /metrics on a running scaler under load', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      shards: 2,
      platform: { createLatencyMs: 5, initDurationMs: () => 30 },
      args: ['--policy', 'fixed', '--keep-alive', '60s', '--metrics-top-functions', '3'],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('shows the series, in a format Prometheus accepts, agreeing with the load and the platform', { timeout: 30_000 }, async () => {
    const port = h.scaler.statsPort;
    const client = new RawH2Client({ target: h.scaler.address, idleResult: { statusCode: 200, durationInMs: 2 } });
    await client.connect();
    const keys = 12;
    const load = runLoad({
      client, population: new KeyPopulation({ distribution: 'uniform', keys }), mode: 'closed', concurrency: 8, durationMs: 1_500, holdMs: 2,
    });
    // Refused before reaching a shard: an outcome other than OK.
    const bad = await h.assign(assignReq('', 'no-request-id'));
    expect(bad.err?.code).toBe(grpc.status.INVALID_ARGUMENT);

    const scrapes: ReturnType<typeof parseExposition>[] = [];
    await sleep(400);
    for (let i = 0; i < 2; i++) {
      const r = await getText(port, '/metrics');
      expect(r.status).toBe(200);
      expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
      scrapes.push(checkFormat(r.body));
      await sleep(400);
    }
    const result = await load;
    client.close();
    expect(result.errorCount).toBe(0);
    expect(result.pairsOk).toBeGreaterThan(20);
    const [first, second] = scrapes as [ReturnType<typeof parseExposition>, ReturnType<typeof parseExposition>];
    // Under load: the Assign count grows between scrapes.
    const okAssigns = (f: typeof first): number => sumOf(f, 'grpc_server_handled_total', { grpc_method: 'Assign', grpc_code: 'OK' });
    expect(okAssigns(first)).toBeGreaterThan(0);
    expect(okAssigns(second)).toBeGreaterThan(okAssigns(first));

    // Settled (the shards refresh their platform counters every 250 ms): exact agreement.
    const settledBy = Date.now() + 5_000;
    let f = checkFormat((await getText(port, '/metrics')).body);
    while (
      Date.now() < settledBy &&
      (sumOf(f, 'scaler_platform_calls_total', { method: 'Init', code: 'ok' }) !== (h.platform.callCounts.Init.Ok ?? 0) ||
        sumOf(f, 'scaler_platform_calls_total', { method: 'CreateSlot', code: 'ok' }) !== (h.platform.callCounts.CreateSlot.Ok ?? 0) ||
        sumOf(f, 'scaler_live_slots') !== h.platform.liveSlotCount)
    ) {
      await sleep(100);
      f = checkFormat((await getText(port, '/metrics')).body);
    }
    const assignsOk = okAssigns(f);
    expect(assignsOk).toBe(result.pairsOk);
    expect(sumOf(f, 'grpc_server_handled_total', { grpc_method: 'Idle', grpc_code: 'OK' })).toBe(result.pairsOk);
    expect(sumOf(f, 'grpc_server_handled_total', { grpc_method: 'Assign', grpc_code: 'INVALID_ARGUMENT' })).toBe(1);
    expect(sumOf(f, 'grpc_server_handling_seconds_count', { grpc_method: 'Assign', grpc_code: 'OK' })).toBe(assignsOk);
    expect(sumOf(f, 'grpc_server_handling_seconds_bucket', { grpc_method: 'Idle', grpc_code: 'OK', le: '+Inf' })).toBe(result.pairsOk);
    expect(sumOf(f, 'grpc_server_handling_seconds_sum', { grpc_method: 'Assign', grpc_code: 'OK' })).toBeGreaterThan(0);

    const calls = h.platform.callCounts;
    const created = calls.CreateSlot.Ok ?? 0;
    expect(created).toBeGreaterThanOrEqual(keys);
    expect(sumOf(f, 'scaler_platform_calls_total', { method: 'CreateSlot', code: 'ok' })).toBe(created);
    expect(sumOf(f, 'scaler_platform_calls_total', { method: 'Init', code: 'ok' })).toBe(calls.Init.Ok ?? 0);
    expect(sumOf(f, 'scaler_platform_calls_total', { code: 'transient' })).toBe(0);
    expect(sumOf(f, 'scaler_cold_starts_total')).toBe(created);
    expect(sumOf(f, 'scaler_cold_starts_total', { reason: 'on_demand' })).toBe(created);
    expect(sumOf(f, 'scaler_live_slots')).toBe(h.platform.liveSlotCount);
    expect(sumOf(f, 'scaler_live_slot_memory_bytes')).toBe(h.platform.liveSlotCount * 128 * 1024 * 1024);
    expect(sumOf(f, 'scaler_instances', { state: 'idle' })).toBe(h.platform.liveSlotCount);
    expect(sumOf(f, 'scaler_instances', { state: 'busy' })).toBe(0);
    expect(sumOf(f, 'scaler_shard_restarts_total')).toBe(0);
    expect(f.get('scaler_shard_restarts_total')!.samples).toHaveLength(2);
    expect(sumOf(f, 'scaler_platform_concurrency_limit', { queue: 'cold_start' })).toBe(DEFAULT_MAX_COLD_STARTS_PER_SHARD);
    expect(sumOf(f, 'scaler_platform_concurrency_limit', { queue: 'destroy' })).toBe(DEFAULT_MAX_DESTROYS_PER_SHARD);
    expect(sumOf(f, 'scaler_platform_queued')).toBe(0);
    // The score's halves: the load held each instance 2 ms and reported that as its duration.
    const resource = sumOf(f, 'scaler_score_ratio', { half: 'resource' });
    const latency = sumOf(f, 'scaler_score_ratio', { half: 'latency' });
    expect(resource).toBeGreaterThan(0);
    expect(resource).toBeLessThan(1);
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThanOrEqual(1);
    expect(sumOf(f, 'scaler_slot_memory_byte_seconds_total')).toBeGreaterThan(sumOf(f, 'scaler_exec_memory_byte_seconds_total'));
    // Opt-in top 3: three functions with their live slots; no function label elsewhere.
    const top = f.get('scaler_function_live_slots')!.samples;
    expect(top).toHaveLength(3);
    for (const s of top) expect(s.labels.function).toMatch(/^load-fn-\d+$/);
    for (const fam of f.values()) {
      if (fam.name.startsWith('scaler_function_')) continue;
      for (const s of fam.samples) expect(Object.keys(s.labels)).not.toContain('function');
    }
    expect(sumOf(f, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  });
});
