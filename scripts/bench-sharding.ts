/**
 * Micro-benchmark of the sharding layer: closed-loop round trips per second through a
 * ShardRouter (1 and 2 shards) versus an unbatched baseline (one postMessage per request and per
 * reply over a plain MessagePort), all measured in this one run.
 *
 *   npx tsc -p tsconfig.json && node dist/scripts/bench-sharding.js [--duration 1s] [--concurrency 256]
 *
 * This file is also its own worker script (router shard or baseline echo, chosen by workerData).
 */
import { MessageChannel, Worker, isMainThread, workerData, type MessagePort } from 'node:worker_threads';
import { ShardRouter, isShardBootstrap, serveShard, type BatchFlush } from '../src/sharding/index.js';
import { durationArg } from '../src/load/bench-harness.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

/** Measured window per scenario. */
export const BENCH_DEFAULT_MS = 800;
/** Un-timed warm-up before each window (JIT, worker start-up). */
export const BENCH_WARMUP_MS = 200;
/** Requests kept outstanding by the closed loop. */
export const BENCH_DEFAULT_CONCURRENCY = 256;

interface Body {
  readonly key: string;
  readonly n: number;
}

interface BaselineBoot {
  readonly baselinePort: MessagePort;
}

function argNum(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** Drive `issue` as a closed loop: every completion issues the next request. */
function closedLoop(
  issue: (i: number, done: () => void) => void,
  concurrency: number,
  warmupMs: number,
  ms: number,
): Promise<number> {
  return new Promise((resolve) => {
    let counting = false;
    let stopped = false;
    let completed = 0;
    let outstanding = 0;
    let seq = 0;
    let t0 = 0;
    const done = (): void => {
      outstanding--;
      if (counting) completed++;
      if (!stopped) {
        outstanding++;
        issue(seq++, done);
      } else if (outstanding === 0) {
        resolve(completed / ((performance.now() - t0) / 1000));
      }
    };
    for (let i = 0; i < concurrency; i++) {
      outstanding++;
      issue(seq++, done);
    }
    setTimeout(() => {
      counting = true;
      t0 = performance.now();
      setTimeout(() => {
        // Rate over the window; completions of the final in-flight tail are excluded by time.
        const rate = completed / ((performance.now() - t0) / 1000);
        stopped = true;
        counting = false;
        const finish = setInterval(() => {
          if (outstanding === 0) {
            clearInterval(finish);
            resolve(rate);
          }
        }, 5);
      }, ms);
    }, warmupMs);
  });
}

async function benchBaseline(concurrency: number, ms: number): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  const boot: BaselineBoot = { baselinePort: port2 };
  const worker = new Worker(new URL(import.meta.url), { workerData: boot, transferList: [port2] });
  await new Promise<void>((resolve) => port1.once('message', () => resolve()));
  const pending = new Map<number, () => void>();
  port1.on('message', (msg: [number, Body]) => {
    const cb = pending.get(msg[0]);
    pending.delete(msg[0]);
    cb?.();
  });
  let id = 0;
  const rate = await closedLoop(
    (i, done) => {
      const rid = ++id;
      pending.set(rid, done);
      port1.postMessage([rid, { key: `fn-${i & 1023}`, n: i }]);
    },
    concurrency,
    BENCH_WARMUP_MS,
    ms,
  );
  port1.close();
  await worker.terminate();
  return rate;
}

async function benchRouter(
  shards: number,
  batchFlush: BatchFlush,
  concurrency: number,
  ms: number,
): Promise<{ rate: number; perBatch: number }> {
  const router = await ShardRouter.start<Body, Body>({ workerScript: new URL(import.meta.url), shards, batchFlush });
  const rate = await closedLoop(
    (i, done) => {
      const key = `fn-${i & 1023}`;
      router.request(key, { key, n: i }, (err) => {
        if (err) throw err;
        done();
      });
    },
    concurrency,
    BENCH_WARMUP_MS,
    ms,
  );
  const perBatch = router.counters.total('routerRequests') / router.counters.total('routerBatchesSent');
  await router.close();
  return { rate, perBatch };
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--duration');
  const ms = durationArg('bench-sharding', '--duration', at >= 0 ? process.argv[at + 1] : undefined, BENCH_DEFAULT_MS);
  const concurrency = argNum('--concurrency', BENCH_DEFAULT_CONCURRENCY);
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(11);
  console.log(`sharding round trips, closed loop, concurrency ${concurrency}, ${ms} ms per scenario`);
  const base = await benchBaseline(concurrency, ms);
  console.log(`  ${'unbatched baseline, 1 worker'.padEnd(30)}${fmt(base)} msg/s`);
  for (const batchFlush of ['microtask', 'immediate'] as const) {
    for (const shards of [1, 2]) {
      const { rate, perBatch } = await benchRouter(shards, batchFlush, concurrency, ms);
      const label = `ShardRouter ${shards} shard${shards > 1 ? 's' : ''}, ${batchFlush}`.padEnd(30);
      console.log(
        `  ${label}${fmt(rate)} msg/s  x${(rate / base).toFixed(2)} vs baseline, ` +
          `${perBatch.toFixed(1)} requests/batch`,
      );
    }
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
} else if (isShardBootstrap(workerData)) {
  serveShard<Body, Body>((body, reply) => reply(body));
} else {
  const port = (workerData as BaselineBoot).baselinePort;
  port.on('message', (msg: [number, Body]) => port.postMessage(msg));
  port.postMessage('ready');
}
