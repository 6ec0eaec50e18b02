import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { DURATION_UNITS_HELP, DurationError, parseDuration } from './duration.js';
import { DEFAULT_MAX_COLD_STARTS_PER_SHARD, DEFAULT_MAX_DESTROYS_PER_SHARD } from './platform/bounded-platform.js';
import { defaultJournalRoot } from './journal/journal-safety.js';

/** The contest's fixed addresses; the stats port must avoid 9000 and 50051 (the simulator's). */
export const DEFAULT_SCALER_ADDRESS = '0.0.0.0:9001';
export const DEFAULT_PLATFORM_ADDRESS = '127.0.0.1:50051';
export const DEFAULT_STATS_PORT = 9091;
export const RESERVED_PORTS: readonly number[] = [9000, 50051];
export const DEFAULT_POLICY = 'adaptive';
export const DEFAULT_MAX_INFLIGHT_PER_SHARD = 50_000;
/** Longest keep-alive `--keep-alive` accepts. */
export const MAX_KEEP_ALIVE_MS = 86_400_000;
/** Largest `--metrics-top-functions`: per-function series are opt-in and must stay few. */
export const MAX_METRICS_TOP_FUNCTIONS = 1_000;

/** How the default shard count follows the machine (see {@link defaultShardCount}). */
export const DEFAULT_SHARDS_RULE = 'CPU cores - 1, at least 1';
/**
 * Shard workers when `--shards` is not given: one core stays for the main thread, whose gRPC
 * work is the warm path's limit. Measured on 2 cores (README "Performance"): 1 shard served 33%
 * more warm pairs/s than 2 at 0.76x the CPU per pair, and the same CPU per cold start in a storm.
 */
export function defaultShardCount(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/** Router/worker batch flush mode (see `BatchFlush` in src/sharding/types.ts). */
export type ScalerBatchFlush = 'microtask' | 'immediate';
const BATCH_FLUSH_MODES: readonly ScalerBatchFlush[] = ['microtask', 'immediate'];

/** How main and the shard workers exchange messages: shared rings (default) or MessagePorts (A/B). */
export type ShardTransportKind = 'rings' | 'port';
export const SHARD_TRANSPORT_KINDS: readonly ShardTransportKind[] = ['rings', 'port'];

/** Which gRPC server terminates the Scaler service on the main thread. */
export type GrpcServerKind = 'grpc-js' | 'http2';
export const GRPC_SERVER_KINDS: readonly GrpcServerKind[] = ['grpc-js', 'http2'];
export const DEFAULT_GRPC_SERVER: GrpcServerKind = 'grpc-js';

/** How shard workers talk to the Platform service: grpc-js, or the lean raw HTTP/2 client. */
export type PlatformClientKind = 'grpc-js' | 'raw';
export const PLATFORM_CLIENT_KINDS: readonly PlatformClientKind[] = ['grpc-js', 'raw'];
export const DEFAULT_PLATFORM_CLIENT: PlatformClientKind = 'raw';

/** `--journal off`: no slot journal (a killed process then leaks what it created). */
export const JOURNAL_OFF = 'off';

/**
 * Where the slot journal lives by default: per listen port, since the port is what a restarted
 * scaler shares with the one it replaces (and two live scalers cannot share it), under a root
 * outside world-writable directories where one exists (`$XDG_STATE_HOME/scaler`,
 * `$HOME/.local/state/scaler`, else a per-user directory in the temporary directory; see
 * src/journal/journal-safety.ts). A scaler on port 0 has no such identity (nobody could find it
 * again after a restart): no journal.
 */
export function defaultJournalDir(address: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return port > 0 ? join(defaultJournalRoot(env), `journal-${port}`) : null;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface ScalerConfig {
  /** host:port the Scaler gRPC service binds. */
  address: string;
  /** host:port of the contest Platform service. */
  platformAddress: string;
  shards: number;
  /** 0 disables the HTTP stats endpoint. */
  statsPort: number;
  statsHost: string;
  logLevel: LogLevel;
  /** Scaling policy name (see `npm start -- --help`). */
  policy: string;
  /** Keep-alive of the fixed policies, ms (`--keep-alive 60s`). */
  keepAliveMs: number | undefined;
  /** Cold starts (CreateSlot + Init) in flight per shard; 0 means unbounded. */
  maxColdStartsPerShard: number;
  /** DestroySlot calls in flight per shard; 0 means unbounded. */
  maxDestroysPerShard: number;
  /** Functions with their own series on `/metrics` (the N with most live slot memory); 0: none. */
  metricsTopFunctions: number;
  /** Assign/Idle latency histograms on `/metrics` (a prom-client observe per call). */
  latencyHistograms: boolean;
  /** Assigns in flight per shard beyond which new ones answer RESOURCE_EXHAUSTED. */
  maxInFlightPerShard: number;
  /** Batch flush mode of the shard router; undefined means the server's default. */
  batchFlush: ScalerBatchFlush | undefined;
  /** Platform client of the shard workers; undefined means {@link DEFAULT_PLATFORM_CLIENT}. */
  platformClient: PlatformClientKind | undefined;
  /** Directory of the crash-safe slot journal (src/journal); null = off. */
  journalDir: string | null;
  /** The Scaler service's gRPC server. */
  grpcServer: GrpcServerKind;
  /** Main <-> shard transport. */
  shardTransport: ShardTransportKind;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface OptionSpec {
  flag: string;
  env: string;
  arg: string;
  help: string;
}

export const OPTION_SPECS: readonly OptionSpec[] = [
  { flag: '--address', env: 'SCALER_ADDRESS', arg: 'HOST:PORT', help: `Scaler gRPC listen address (default ${DEFAULT_SCALER_ADDRESS})` },
  { flag: '--port', env: 'SCALER_PORT', arg: 'PORT', help: 'Scaler gRPC port on 0.0.0.0 (shorthand for --address)' },
  { flag: '--platform', env: 'PLATFORM_ADDRESS', arg: 'HOST:PORT', help: `Platform gRPC address (default ${DEFAULT_PLATFORM_ADDRESS})` },
  { flag: '--shards', env: 'SCALER_SHARDS', arg: 'N', help: `Shard worker threads (default: ${DEFAULT_SHARDS_RULE})` },
  { flag: '--stats-port', env: 'SCALER_STATS_PORT', arg: 'PORT', help: `HTTP stats port, 0 to disable (default ${DEFAULT_STATS_PORT})` },
  { flag: '--stats-host', env: 'SCALER_STATS_HOST', arg: 'HOST', help: 'HTTP stats bind host (default 127.0.0.1)' },
  { flag: '--log-level', env: 'LOG_LEVEL', arg: 'LEVEL', help: `Log level: ${LOG_LEVELS.join('|')} (default info)` },
  { flag: '--policy', env: 'SCALER_POLICY', arg: 'NAME', help: `Scaling policy (default ${DEFAULT_POLICY})` },
  { flag: '--keep-alive', env: 'SCALER_KEEP_ALIVE', arg: 'DURATION', help: 'Keep-alive of the fixed keep-alive policy, e.g. 90s or 5m (default 60s)' },
  { flag: '--batch-flush', env: 'SCALER_BATCH_FLUSH', arg: 'MODE', help: 'Shard message batching: immediate|microtask (default immediate)' },
  { flag: '--platform-client', env: 'SCALER_PLATFORM_CLIENT', arg: 'KIND', help: `Platform client: ${PLATFORM_CLIENT_KINDS.join('|')} (default ${DEFAULT_PLATFORM_CLIENT})` },
  { flag: '--grpc-server', env: 'SCALER_GRPC_SERVER', arg: 'KIND', help: `Scaler gRPC server: ${GRPC_SERVER_KINDS.join('|')} (default ${DEFAULT_GRPC_SERVER})` },
  { flag: '--shard-transport', env: 'SCALER_SHARD_TRANSPORT', arg: 'KIND', help: 'Main <-> shard messages: rings (shared memory)|port (MessagePort) (default rings)' },
  { flag: '--max-inflight', env: 'SCALER_MAX_INFLIGHT', arg: 'N', help: `Assigns in flight per shard before RESOURCE_EXHAUSTED (default ${DEFAULT_MAX_INFLIGHT_PER_SHARD})` },
  { flag: '--max-cold-starts', env: 'SCALER_MAX_COLD_STARTS', arg: 'N', help: `Cold starts (CreateSlot+Init) in flight per shard, more queue; 0: unbounded (default ${DEFAULT_MAX_COLD_STARTS_PER_SHARD})` },
  { flag: '--max-destroys', env: 'SCALER_MAX_DESTROYS', arg: 'N', help: `DestroySlot calls in flight per shard, more queue; 0: unbounded (default ${DEFAULT_MAX_DESTROYS_PER_SHARD})` },
  { flag: '--metrics-top-functions', env: 'SCALER_METRICS_TOP_FUNCTIONS', arg: 'N', help: 'Per-function series on /metrics for the N functions with most live slot memory (default 0: none)' },
  { flag: '--latency-histograms', env: 'SCALER_LATENCY_HISTOGRAMS', arg: 'on|off', help: 'Assign/Idle latency histograms on /metrics (default on)' },
  {
    flag: '--journal',
    env: 'SCALER_JOURNAL',
    arg: 'DIR|off',
    help: `Crash-safe slot journal directory, created 0700 and refused unless safely ours (default ${join(defaultJournalRoot(), 'journal-PORT')}; off with port 0)`,
  },
];

/** Options that were renamed: giving the old name says what to write instead. */
const RENAMED: ReadonlyMap<string, string> = new Map([
  ['--keep-alive-ms', `--keep-alive-ms was replaced by --keep-alive DURATION (${DURATION_UNITS_HELP})`],
  ['SCALER_KEEP_ALIVE_MS', `SCALER_KEEP_ALIVE_MS was replaced by SCALER_KEEP_ALIVE (a duration: ${DURATION_UNITS_HELP})`],
]);

export function helpText(): string {
  const lines = ['Usage: npm start -- [options]   (or: node dist/src/main.js [options])', '', 'Options (flag, then environment variable):'];
  const flagWidth = Math.max(...OPTION_SPECS.map((o) => o.flag.length + 1 + o.arg.length));
  const envWidth = Math.max(...OPTION_SPECS.map((o) => o.env.length));
  for (const o of OPTION_SPECS) lines.push(`  ${`${o.flag} ${o.arg}`.padEnd(flagWidth)}  ${o.env.padEnd(envWidth)}  ${o.help}`);
  lines.push(`  ${'--help'.padEnd(flagWidth)}  ${''.padEnd(envWidth)}  Show this help`);
  lines.push('', `Durations are written with a unit: ${DURATION_UNITS_HELP}; a bare number is refused.`);
  return lines.join('\n');
}

function parseIntStrict(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function parseAddress(name: string, raw: string): string {
  const m = /^(.+):(\d+)$/.exec(raw);
  if (m === null) throw new ConfigError(`${name} must be HOST:PORT, got "${raw}"`);
  parseIntStrict(`${name} port`, m[2]!, 0, 65535);
  return raw;
}

/** Flags win over environment variables, which win over defaults. `null` means `--help`. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ScalerConfig | null {
  const values = new Map<string, string>();
  /** Options given as flags (they beat any environment variable, even of a sibling option). */
  const flagged = new Set<string>();
  for (const o of OPTION_SPECS) {
    const v = env[o.env];
    if (v !== undefined && v !== '') values.set(o.flag, v);
  }
  for (const [name, message] of RENAMED) {
    if (!name.startsWith('--') && env[name] !== undefined && env[name] !== '') throw new ConfigError(message);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return null;
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const spec = OPTION_SPECS.find((o) => o.flag === flag);
    if (spec === undefined) throw new ConfigError(RENAMED.get(flag) ?? `unknown option "${a}" (see --help)`);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`${flag} needs a value`);
    values.set(flag, value);
    flagged.add(flag);
  }
  // --address beats --port; any flag beats SCALER_ADDRESS/SCALER_PORT from the environment.
  let address = DEFAULT_SCALER_ADDRESS;
  const addressFrom = (opt: '--address' | '--port'): string =>
    opt === '--address' ? parseAddress('--address', values.get('--address')!) : `0.0.0.0:${parseIntStrict('--port', values.get('--port')!, 0, 65535)}`;
  const order: ('--address' | '--port')[] = ['--address', '--port'];
  const chosen = order.find((o) => flagged.has(o)) ?? order.find((o) => values.has(o));
  if (chosen !== undefined) address = addressFrom(chosen);
  const statsPort = values.has('--stats-port') ? parseIntStrict('--stats-port', values.get('--stats-port')!, 0, 65535) : DEFAULT_STATS_PORT;
  if (statsPort !== 0 && statsPort === Number(address.slice(address.lastIndexOf(':') + 1))) {
    throw new ConfigError(`--stats-port ${statsPort} is the Scaler gRPC port; pick another`);
  }
  if (RESERVED_PORTS.includes(statsPort)) throw new ConfigError(`--stats-port ${statsPort} belongs to the simulator; pick another`);
  const batchFlush = values.get('--batch-flush') as ScalerBatchFlush | undefined;
  if (batchFlush !== undefined && !BATCH_FLUSH_MODES.includes(batchFlush)) {
    throw new ConfigError(`--batch-flush must be one of ${BATCH_FLUSH_MODES.join(', ')}, got "${batchFlush}"`);
  }
  const platformClient = values.get('--platform-client') as PlatformClientKind | undefined;
  if (platformClient !== undefined && !PLATFORM_CLIENT_KINDS.includes(platformClient)) {
    throw new ConfigError(`--platform-client must be one of ${PLATFORM_CLIENT_KINDS.join(', ')}, got "${platformClient}"`);
  }
  /** Where an option's value came from, for messages: the flag, or its environment variable. */
  const source = (flag: string): string => (flagged.has(flag) ? flag : (OPTION_SPECS.find((o) => o.flag === flag)?.env ?? flag));
  const duration = (flag: string, max: number): number | undefined => {
    const raw = values.get(flag);
    if (raw === undefined) return undefined;
    let ms: number;
    try {
      ms = parseDuration(source(flag), raw);
    } catch (err) {
      if (err instanceof DurationError) throw new ConfigError(err.message);
      throw err;
    }
    if (ms > max) throw new ConfigError(`${source(flag)} must be at most ${max / 3_600_000} h, got "${raw}"`);
    return ms;
  };
  const intOr = (flag: string, dflt: number, min: number, max: number): number =>
    values.has(flag) ? parseIntStrict(source(flag), values.get(flag)!, min, max) : dflt;
  const histograms = values.get('--latency-histograms') ?? 'on';
  if (histograms !== 'on' && histograms !== 'off') throw new ConfigError(`${source('--latency-histograms')} must be on or off, got "${histograms}"`);
  const grpcServer = (values.get('--grpc-server') ?? DEFAULT_GRPC_SERVER) as GrpcServerKind;
  if (!GRPC_SERVER_KINDS.includes(grpcServer)) {
    throw new ConfigError(`--grpc-server must be one of ${GRPC_SERVER_KINDS.join(', ')}, got "${grpcServer}"`);
  }
  const shardTransport = (values.get('--shard-transport') ?? 'rings') as ShardTransportKind;
  if (!SHARD_TRANSPORT_KINDS.includes(shardTransport)) {
    throw new ConfigError(`--shard-transport must be one of ${SHARD_TRANSPORT_KINDS.join(', ')}, got "${shardTransport}"`);
  }
  const logLevel = (values.get('--log-level') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const journalRaw = values.get('--journal');
  let journalDir: string | null;
  if (journalRaw === undefined) journalDir = defaultJournalDir(address, env);
  else if (journalRaw === JOURNAL_OFF) journalDir = null;
  else if (journalRaw.trim() === '') throw new ConfigError(`--journal needs a directory or "${JOURNAL_OFF}"`);
  else journalDir = resolve(journalRaw);
  return {
    address,
    platformAddress: values.has('--platform') ? parseAddress('--platform', values.get('--platform')!) : DEFAULT_PLATFORM_ADDRESS,
    shards: values.has('--shards') ? parseIntStrict('--shards', values.get('--shards')!, 1, 256) : defaultShardCount(),
    statsPort,
    statsHost: values.get('--stats-host') ?? '127.0.0.1',
    logLevel,
    policy: values.get('--policy') ?? DEFAULT_POLICY,
    keepAliveMs: duration('--keep-alive', MAX_KEEP_ALIVE_MS),
    maxInFlightPerShard: intOr('--max-inflight', DEFAULT_MAX_INFLIGHT_PER_SHARD, 1, 10_000_000),
    maxColdStartsPerShard: intOr('--max-cold-starts', DEFAULT_MAX_COLD_STARTS_PER_SHARD, 0, 10_000_000),
    maxDestroysPerShard: intOr('--max-destroys', DEFAULT_MAX_DESTROYS_PER_SHARD, 0, 10_000_000),
    metricsTopFunctions: intOr('--metrics-top-functions', 0, 0, MAX_METRICS_TOP_FUNCTIONS),
    latencyHistograms: histograms === 'on',
    batchFlush,
    platformClient,
    journalDir,
    grpcServer,
    shardTransport,
  };
}
