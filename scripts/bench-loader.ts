/**
 * Loader throughput on a generated 1M-request dataset (cached under .bench/).
 *
 *   node dist/scripts/bench-loader.js [--requests N] [--max-time DURATION] [--dir DIR]
 *
 * Each measured pass stops early once --max-time (default 20s) is spent, so the run stays bounded.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { forEachRequestSync, loadMetasSync, streamRequests } from '../src/sim/datasets/dataset-loader.js';
import { generateDataset, writeDataset } from '../src/sim/generator/workload-generator.js';
import { durationArg } from '../src/load/bench-harness.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

export const DEFAULT_MAX_TIME_MS = 20_000;

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000000' },
    'max-time': { type: 'string' },
    dir: { type: 'string' },
  },
});
const target = Number(values.requests);
const maxMs = durationArg('bench-loader', '--max-time', values['max-time'], DEFAULT_MAX_TIME_MS);
const dir = values.dir ?? join('.bench', `loader-${target}`);

class Stop extends Error {}

async function main(): Promise<void> {
  if (!existsSync(join(dir, 'requests'))) {
    // A poisson mix scaled so the request count lands near the target in 10 minutes.
    const t0 = Date.now();
    const probe = generateDataset({ pattern: 'poisson', functions: 200, durationSec: 600, seed: 7 });
    const rate = target / Math.max(1, probe.requests.length);
    const ds = generateDataset({ pattern: 'poisson', functions: 200, durationSec: 600, seed: 7, rate });
    writeDataset(dir, ds);
    process.stdout.write(`generated ${ds.requests.length} requests into ${dir} in ${Date.now() - t0} ms\n`);
  }
  const metas = loadMetasSync(dir);

  for (let pass = 0; pass < 2; pass++) {
    const t0 = performance.now();
    let n = 0;
    let sum = 0;
    try {
      forEachRequestSync(dir, metas, (r) => {
        n++;
        sum += r.durationsInMs;
        if ((n & 0xffff) === 0 && performance.now() - t0 > maxMs) throw new Stop();
      });
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
    }
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(`forEachRequestSync pass ${pass + 1}: ${n} requests in ${s.toFixed(3)} s = ${Math.round(n / s)} req/s (checksum ${sum})\n`);
  }

  // Baseline: whole file + JSON.parse per line, no validation (what the hand parser replaces).
  {
    const t0 = performance.now();
    const text = readFileSync(join(dir, 'requests'), 'utf8');
    let n = 0;
    let pos = 0;
    while (pos < text.length && performance.now() - t0 < maxMs) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = text.length;
      const o = JSON.parse(text.slice(pos, nl)) as { durationsInMs: number };
      if (o.durationsInMs >= 0) n++;
      pos = nl + 1;
    }
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(`baseline readFileSync + JSON.parse: ${n} requests in ${s.toFixed(3)} s = ${Math.round(n / s)} req/s\n`);
  }

  const t1 = performance.now();
  let m = 0;
  for await (const r of streamRequests(dir, metas)) {
    m += r.statusCode > 0 ? 1 : 0;
    if ((m & 0xffff) === 0 && performance.now() - t1 > maxMs) break;
  }
  const s1 = (performance.now() - t1) / 1000;
  process.stdout.write(`streamRequests (readline): ${m} requests in ${s1.toFixed(3)} s = ${Math.round(m / s1)} req/s\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench-loader: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
