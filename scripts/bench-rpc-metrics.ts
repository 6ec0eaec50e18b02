/**
 * What `/metrics` costs the main thread per Assign+Idle pair: the Scaler handlers wrapped by
 * `instrumentScalerHandlers` (src/server/rpc-metrics.ts) against the same handlers bare, with the
 * latency histograms on and off, in one process, alternating. The handlers answer at once, so
 * the difference is the instrumentation alone (a closure and a count; with histograms two
 * clocks and a bucket increment), against prom-client's own `observe` per call; the end-to-end A/B is
 * `npm run bench:warm-path -- --compare-latency-histograms`, whose noise on a shared machine is
 * far larger than this cost.
 *
 *   node dist/scripts/bench-rpc-metrics.js [--pairs N] [--rounds N] [--json]
 */
import { parseArgs } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import { Histogram, Registry } from 'prom-client';
import type { ScalerHandlers } from '../src/wire/proto.js';
import { RPC_LATENCY_BUCKETS_SECONDS, RpcMetrics, instrumentScalerHandlers } from '../src/server/rpc-metrics.js';
import { medianOf } from '../src/load/bench-harness.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

export const DEFAULT_PAIRS = 500_000;
export const DEFAULT_ROUNDS = 7;

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: String(DEFAULT_PAIRS) },
    rounds: { type: 'string', default: String(DEFAULT_ROUNDS) },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const USAGE = 'usage: bench-rpc-metrics [--pairs N] [--rounds N] [--json]';
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const pairs = Number(values.pairs);
const rounds = Number(values.rounds);
if (!(Number.isInteger(pairs) && pairs >= 1000) || !(Number.isInteger(rounds) && rounds >= 1)) {
  console.error(USAGE);
  process.exit(2);
}

// Handlers that answer at once, as cheaply as possible: what is left is the wrapper's cost.
const reply = { status: 0 };
const bare = {
  Assign(_call: unknown, cb: grpc.sendUnaryData<typeof reply>) {
    cb(null, reply);
  },
  Idle(_call: unknown, cb: grpc.sendUnaryData<typeof reply>) {
    cb(null, reply);
  },
} as unknown as ScalerHandlers;

/**
 * The reference the design is measured against: prom-client's own `Histogram.observe` (what
 * a histogram recorded per call the usual way costs), with the same labels and buckets.
 */
function promClientObserve(h: ScalerHandlers): ScalerHandlers {
  const hist = new Histogram({
    name: 'reference_seconds', help: 'reference', labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
    buckets: [...RPC_LATENCY_BUCKETS_SECONDS], registers: [],
  });
  const labels = (m: string) => ({ grpc_service: 'serverless.simulator.Scaler', grpc_method: m, grpc_type: 'unary', grpc_code: 'OK' });
  const a = labels('Assign');
  const i = labels('Idle');
  return {
    Assign(call, cb) {
      const t = performance.now();
      h.Assign(call, (err, v) => {
        hist.observe(a, (performance.now() - t) / 1000);
        cb(err, v);
      });
    },
    Idle(call, cb) {
      const t = performance.now();
      h.Idle(call, (err, v) => {
        hist.observe(i, (performance.now() - t) / 1000);
        cb(err, v);
      });
    },
  };
}

type Variant = 'bare' | 'counts only' | 'counts + histograms' | 'prom-client observe';
const variants: Record<Variant, ScalerHandlers> = {
  bare,
  'counts only': instrumentScalerHandlers(bare, new RpcMetrics({ registry: new Registry(), histograms: false })),
  'counts + histograms': instrumentScalerHandlers(bare, new RpcMetrics({ registry: new Registry(), histograms: true })),
  'prom-client observe': promClientObserve(bare),
};

let sink = 0;
const done = (): void => {
  sink++;
};
const call = {} as never;

function runPairs(h: ScalerHandlers, n: number): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    h.Assign(call, done);
    h.Idle(call, done);
  }
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / n; // ns per pair
}

const perVariant: Record<Variant, number[]> = { bare: [], 'counts only': [], 'counts + histograms': [], 'prom-client observe': [] };
const names = Object.keys(variants) as Variant[];
for (const v of names) runPairs(variants[v], Math.min(pairs, 50_000)); // JIT warm-up
for (let r = 0; r < rounds; r++) {
  // Rotate the order each round so that no variant always runs first.
  for (let k = 0; k < names.length; k++) {
    const v = names[(k + r) % names.length]!;
    perVariant[v].push(runPairs(variants[v], pairs));
  }
}
const med = Object.fromEntries(names.map((v) => [v, medianOf(perVariant[v])])) as Record<Variant, number>;
const result = {
  bench: 'rpc-metrics',
  pairs,
  rounds,
  nsPerPair: med,
  countsCostNsPerPair: med['counts only'] - med.bare,
  histogramsCostNsPerPair: med['counts + histograms'] - med['counts only'],
  /** What prom-client's observe would cost instead, timing included (vs bare). */
  promClientObserveCostNsPerPair: med['prom-client observe'] - med.bare,
  calls: sink,
};
if (values.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`main-thread CPU per Assign+Idle pair of the /metrics instrumentation (medians of ${rounds} x ${pairs} pairs):`);
  for (const v of names) console.log(`  ${v.padEnd(20)} ${med[v].toFixed(0).padStart(6)} ns`);
  console.log(`  counts cost ${result.countsCostNsPerPair.toFixed(0)} ns/pair; histograms add ${result.histogramsCostNsPerPair.toFixed(0)} ns/pair ` +
    `(prom-client's observe per call instead: ${result.promClientObserveCostNsPerPair.toFixed(0)} ns/pair)`);
}
