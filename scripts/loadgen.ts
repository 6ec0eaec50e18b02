/**
 * Load generator for a `Scaler` gRPC service: Assign -> (hold) -> Idle pairs, closed or open
 * loop, over a chosen key population; reports throughput, latency percentiles, errors by status
 * and, with --pid, the target's CPU and RSS.
 *
 *   node dist/scripts/loadgen.js --target 127.0.0.1:9001 --client raw --concurrency 64 --duration 10s
 */
import { parseArgs } from 'node:util';
import { createLoadClient, LOAD_CLIENT_KINDS, type LoadClientKind } from '../src/load/create-load-client.js';
import { KeyPopulation, type KeyDistribution } from '../src/load/key-population.js';
import { runLoad, DEFAULT_CLOSED_CONCURRENCY, DEFAULT_MEMORY_MB, type LoadMode } from '../src/load/load-runner.js';
import { formatLoadResult, loadResultJson } from '../src/load/load-report.js';
import { DURATION_UNITS_HELP, DurationError, formatDuration, parseDuration } from '../src/duration.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

export const DEFAULT_DURATION_MS = 10_000;

const USAGE = `usage: loadgen --target HOST:PORT [options]
  --target HOST:PORT    Scaler service address (required)
  --mode closed|open    closed: N concurrent callers; open: fixed arrival rate (default closed)
  --concurrency N       closed loop callers (default ${DEFAULT_CLOSED_CONCURRENCY})
  --rate R              open loop pair arrivals per second
  --duration DURATION   measured time (default ${formatDuration(DEFAULT_DURATION_MS)} unless --count is given)
  --count N             measured pairs to send
  --warmup DURATION     unmeasured time before the measurement (default 0s)
  --hold DURATION       between an Assign's reply and its Idle, also sent as its duration (default 0ms)
  --keys N              number of distinct function keys (default 1)
  --zipf S              Zipf(S) popularity over the keys instead of uniform
  --hot                 a single hot key (same as --keys 1)
  --seed N              key-choice PRNG seed (default 1)
  --memory MB           memory_in_mb of every function (default ${DEFAULT_MEMORY_MB})
  --client grpc-js|raw  grpc-js, or raw HTTP/2 with pre-encoded frames (default raw)
  --connections N       HTTP/2 connections to spread calls over (default 1)
  --pid PID             sample this process's CPU and RSS during the run
  --json                print one JSON line instead of the human report
  --help                this text

Durations take a unit: ${DURATION_UNITS_HELP}; a bare number is refused.

Exit status: 0 if every measured pair succeeded, 1 otherwise (errors are in the report).

Latency: assign/idle per call, pair = assign + idle (hold excluded). In open loop, Assign
latency counts from the intended send time, so queueing anywhere is included.`;

function fail(message: string): never {
  console.error(`loadgen: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function num(name: string, v: string | undefined, opts: { int?: boolean; min?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min)) {
    fail(`invalid --${name} ${v}`);
  }
  return n;
}

function dur(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseDuration(`--${name}`, v);
  } catch (e) {
    if (e instanceof DurationError) fail(e.message);
    throw e;
  }
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        target: { type: 'string' },
        mode: { type: 'string', default: 'closed' },
        concurrency: { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        count: { type: 'string' },
        warmup: { type: 'string' },
        hold: { type: 'string' },
        keys: { type: 'string' },
        zipf: { type: 'string' },
        hot: { type: 'boolean', default: false },
        seed: { type: 'string' },
        memory: { type: 'string' },
        client: { type: 'string', default: 'raw' },
        connections: { type: 'string' },
        pid: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    return fail((e as Error).message);
  }
})();

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (values.target === undefined) fail('--target is required');
if (!/^[^\s:]+:\d+$|^\[[^\]]+\]:\d+$/.test(values.target)) fail(`--target must be host:port, got ${values.target}`);
const mode = values.mode as LoadMode;
if (mode !== 'closed' && mode !== 'open') fail(`--mode must be closed or open, got ${values.mode}`);
const clientKind = values.client as LoadClientKind;
if (!LOAD_CLIENT_KINDS.includes(clientKind)) fail(`--client must be ${LOAD_CLIENT_KINDS.join(' or ')}`);

const concurrency = num('concurrency', values.concurrency, { int: true, min: 1 });
const rate = num('rate', values.rate, { min: 0 });
if (mode === 'open' && !(rate! > 0)) fail('--mode open needs --rate > 0');
const count = num('count', values.count, { int: true, min: 1 });
const durationMs = dur('duration', values.duration) ?? (count === undefined ? DEFAULT_DURATION_MS : undefined);
const warmupMs = dur('warmup', values.warmup) ?? 0;
const holdMs = dur('hold', values.hold) ?? 0;
const keys = num('keys', values.keys, { int: true, min: 1 }) ?? 1;
const zipf = num('zipf', values.zipf, { min: 0 });
if (zipf !== undefined && !(zipf > 0)) fail('--zipf must be > 0');
const seed = num('seed', values.seed, { int: true }) ?? 1;
const memoryMb = num('memory', values.memory, { int: true, min: 1 }) ?? DEFAULT_MEMORY_MB;
const connections = num('connections', values.connections, { int: true, min: 1 }) ?? 1;
const pid = num('pid', values.pid, { int: true, min: 1 });

const distribution: KeyDistribution = values.hot ? 'hot' : zipf !== undefined ? 'zipf' : 'uniform';
const population = new KeyPopulation({ distribution, keys, seed, ...(zipf !== undefined ? { zipfS: zipf } : {}) });

const client = createLoadClient({
  kind: clientKind,
  target: values.target,
  connections,
  idleResult: { statusCode: 200, durationInMs: holdMs },
});
try {
  await client.connect();
} catch (e) {
  console.error(`loadgen: cannot connect to ${values.target}: ${(e as Error).message}`);
  client.close();
  process.exit(1);
}

const result = await runLoad({
  client,
  population,
  mode,
  holdMs,
  memoryMb,
  warmupMs,
  ...(concurrency !== undefined ? { concurrency } : {}),
  ...(rate !== undefined ? { ratePerSec: rate } : {}),
  ...(durationMs !== undefined ? { durationMs } : {}),
  ...(count !== undefined ? { count } : {}),
  ...(pid !== undefined ? { pid } : {}),
});
client.close();

if (values.json) {
  console.log(loadResultJson(result, {
    address: values.target,
    client: clientKind,
    keys: population.keys.length,
    distribution,
    concurrency: mode === 'closed' ? (concurrency ?? DEFAULT_CLOSED_CONCURRENCY) : null,
    ratePerSec: mode === 'open' ? rate : null,
    holdMs,
  }));
} else {
  console.log(formatLoadResult(result, `${values.target} via ${clientKind}, ${population.keys.length} key(s) ${distribution}`));
}
process.exit(result.errorCount > 0 || result.pairsOk === 0 ? 1 : 0);
