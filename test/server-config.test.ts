/** `parseConfig`: flags beat environment beat defaults; `--help`; bad values are ConfigErrors. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_MAX_INFLIGHT_PER_SHARD,
  DEFAULT_PLATFORM_ADDRESS,
  DEFAULT_POLICY,
  DEFAULT_SCALER_ADDRESS,
  DEFAULT_STATS_PORT,
  JOURNAL_OFF,
  OPTION_SPECS,
  helpText,
  defaultShardCount,
  parseConfig,
  type ScalerConfig,
} from '../src/config.js';
import { defaultJournalRoot } from '../src/journal/journal-safety.js';
import { DEFAULT_MAX_COLD_STARTS_PER_SHARD, DEFAULT_MAX_DESTROYS_PER_SHARD } from '../src/platform/bounded-platform.js';

function parse(argv: string[], env: Record<string, string> = {}): ScalerConfig {
  const c = parseConfig(argv, env);
  if (c === null) throw new Error('unexpected --help');
  return c;
}

function configError(argv: string[], env: Record<string, string> = {}): ConfigError {
  try {
    parseConfig(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('CONFIG_INVALID');
    return e as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(argv)} ${JSON.stringify(env)}`);
}

describe('parseConfig', () => {
  it('defaults to the contest addresses, cores - 1 shards (at least 1) and the default policy', () => {
    expect(parse([])).toEqual({
      address: DEFAULT_SCALER_ADDRESS,
      platformAddress: DEFAULT_PLATFORM_ADDRESS,
      shards: Math.max(1, availableParallelism() - 1),
      grpcServer: 'grpc-js',
      shardTransport: 'rings',
      statsPort: DEFAULT_STATS_PORT,
      statsHost: '127.0.0.1',
      logLevel: 'info',
      policy: DEFAULT_POLICY,
      keepAliveMs: undefined,
      maxInFlightPerShard: DEFAULT_MAX_INFLIGHT_PER_SHARD,
      maxColdStartsPerShard: DEFAULT_MAX_COLD_STARTS_PER_SHARD,
      maxDestroysPerShard: DEFAULT_MAX_DESTROYS_PER_SHARD,
      metricsTopFunctions: 0,
      latencyHistograms: true,
      batchFlush: undefined,
      platformClient: undefined,
      journalDir: join(defaultJournalRoot({}), 'journal-9001'),
    });
    expect(DEFAULT_SCALER_ADDRESS).toBe('0.0.0.0:9001');
    expect(DEFAULT_PLATFORM_ADDRESS).toBe('127.0.0.1:50051');
    expect([1, 2, 4, 16].map((n) => defaultShardCount(n))).toEqual([1, 1, 3, 15]);
  });

  it('selects the gRPC server and the shard transport, and names the choices on a bad one', () => {
    expect(parse(['--grpc-server', 'http2']).grpcServer).toBe('http2');
    expect(parse([], { SCALER_GRPC_SERVER: 'http2' }).grpcServer).toBe('http2');
    expect(parse(['--shard-transport', 'port']).shardTransport).toBe('port');
    expect(configError(['--grpc-server', 'h3']).message).toMatch(/grpc-js, http2/);
    expect(configError(['--shard-transport', 'pipe']).message).toMatch(/rings, port/);
  });

  it('takes the environment over defaults and flags over the environment', () => {
    const env = {
      SCALER_ADDRESS: '127.0.0.1:7001',
      PLATFORM_ADDRESS: '10.0.0.1:6000',
      SCALER_SHARDS: '3',
      SCALER_STATS_PORT: '9100',
      LOG_LEVEL: 'warn',
      SCALER_POLICY: 'fixed',
      SCALER_KEEP_ALIVE: '1s',
      SCALER_MAX_INFLIGHT: '77',
      SCALER_MAX_COLD_STARTS: '64',
      SCALER_MAX_DESTROYS: '0',
      SCALER_METRICS_TOP_FUNCTIONS: '5',
      SCALER_LATENCY_HISTOGRAMS: 'off',
    };
    const fromEnv = parse([], env);
    expect(fromEnv).toMatchObject({
      address: '127.0.0.1:7001',
      platformAddress: '10.0.0.1:6000',
      shards: 3,
      statsPort: 9100,
      logLevel: 'warn',
      policy: 'fixed',
      keepAliveMs: 1000,
      maxInFlightPerShard: 77,
      maxColdStartsPerShard: 64,
      maxDestroysPerShard: 0,
      metricsTopFunctions: 5,
      latencyHistograms: false,
    });
    const fromFlags = parse(
      ['--address', '127.0.0.1:7002', '--platform=10.0.0.2:6001', '--shards', '5', '--stats-port=0', '--log-level', 'error', '--policy', 'fixed-5m', '--keep-alive', '0s', '--max-inflight', '8',
        '--max-cold-starts', '3', '--max-destroys=2', '--metrics-top-functions', '0', '--latency-histograms', 'on'],
      env,
    );
    expect(fromFlags).toMatchObject({
      address: '127.0.0.1:7002',
      platformAddress: '10.0.0.2:6001',
      shards: 5,
      statsPort: 0,
      logLevel: 'error',
      policy: 'fixed-5m',
      keepAliveMs: 0,
      maxInFlightPerShard: 8,
      maxColdStartsPerShard: 3,
      maxDestroysPerShard: 2,
      metricsTopFunctions: 0,
      latencyHistograms: true,
    });
  });

  it('puts the slot journal in a per-port directory by default, none on port 0, and takes a directory or "off"', () => {
    expect(parse(['--port', '9101']).journalDir).toBe(join(tmpdir(), `scaler-${process.getuid!()}`, 'journal-9101'));
    expect(parse(['--port', '9101'], { XDG_STATE_HOME: '/state' }).journalDir).toBe('/state/scaler/journal-9101');
    expect(parse(['--address', '127.0.0.1:0']).journalDir).toBeNull();
    expect(parse(['--journal', JOURNAL_OFF]).journalDir).toBeNull();
    expect(parse(['--journal', 'rel/dir']).journalDir).toBe(resolve('rel/dir'));
    expect(parse([], { SCALER_JOURNAL: '/var/lib/scaler' }).journalDir).toBe('/var/lib/scaler');
    expect(parse(['--journal', '/a'], { SCALER_JOURNAL: '/b' }).journalDir).toBe('/a');
    // An explicit directory applies on port 0 too.
    expect(parse(['--address', '127.0.0.1:0', '--journal', '/j']).journalDir).toBe('/j');
    expect(configError(['--journal', ' ']).message).toMatch(/--journal needs a directory or "off"/);
  });

  it('ignores empty environment variables', () => {
    expect(parse([], { SCALER_SHARDS: '', SCALER_ADDRESS: '' }).address).toBe(DEFAULT_SCALER_ADDRESS);
  });

  it('accepts --port as a shorthand, with --address winning when both are given', () => {
    expect(parse(['--port', '9101']).address).toBe('0.0.0.0:9101');
    expect(parse(['--port', '9101', '--address', '127.0.0.1:9102']).address).toBe('127.0.0.1:9102');
    expect(parse([], { SCALER_PORT: '9103' }).address).toBe('0.0.0.0:9103');
  });

  it('returns null for --help and -h, whatever else is on the line', () => {
    expect(parseConfig(['--help'], {})).toBeNull();
    expect(parseConfig(['--shards', '2', '-h'], {})).toBeNull();
  });

  it('lists every flag and its environment variable in the help text', () => {
    const help = helpText();
    for (const o of OPTION_SPECS) {
      expect(help).toContain(o.flag);
      expect(help).toContain(o.env);
    }
    expect(help).toContain('--help');
    expect(help).toContain('--keep-alive DURATION');
    expect(help).toMatch(/Durations are written with a unit: ms, s, m, h or d .*a bare number is refused/);
  });



  it.each([
    [['--shards', '0'], /--shards must be between 1 and 256, got 0/],
    [['--shards', 'two'], /--shards must be an integer, got "two"/],
    [['--shards', '-1'], /--shards must be an integer/],
    [['--shards', '1.5'], /--shards must be an integer/],
    [['--port', '70000'], /--port must be between 0 and 65535/],
    [['--address', 'localhost'], /--address must be HOST:PORT, got "localhost"/],
    [['--address', 'h:99999'], /--address port must be between 0 and 65535/],
    [['--platform', ':x'], /--platform must be HOST:PORT/],
    [['--log-level', 'loud'], /--log-level must be one of .*got "loud"/],
    [['--keep-alive', '30'], /--keep-alive "30" has no unit; write it with one of ms, s, m, h or d/],
    [['--keep-alive', '-5s'], /--keep-alive "-5s" is not a duration/],
    [['--keep-alive', '2d'], /--keep-alive must be at most 24 h, got "2d"/],
    [['--keep-alive-ms', '500'], /--keep-alive-ms was replaced by --keep-alive DURATION \(ms, s, m/],
    [['--max-cold-starts', '-1'], /--max-cold-starts must be an integer/],
    [['--max-destroys', 'many'], /--max-destroys must be an integer/],
    [['--metrics-top-functions', '5000'], /--metrics-top-functions must be between 0 and 1000/],
    [['--latency-histograms', 'yes'], /--latency-histograms must be on or off, got "yes"/],
    [['--max-inflight', '0'], /--max-inflight must be between 1/],
    [['--frobnicate'], /unknown option "--frobnicate"/],
    [['--shards'], /--shards needs a value/],
  ])('rejects %j', (argv, message) => {
    expect(configError(argv).message).toMatch(message);
  });

  it('rejects bad values from the environment too, naming the variable for durations', () => {
    expect(configError([], { SCALER_SHARDS: 'many' }).message).toMatch(/--shards must be an integer/);
    expect(configError([], { SCALER_KEEP_ALIVE: '90' }).message).toMatch(/^SCALER_KEEP_ALIVE "90" has no unit; write it with one of ms, s/);
    expect(configError([], { SCALER_KEEP_ALIVE_MS: '90000' }).message).toMatch(/SCALER_KEEP_ALIVE_MS was replaced by SCALER_KEEP_ALIVE/);
    expect(parse(['--keep-alive', '1m30s'], { SCALER_KEEP_ALIVE: '5' }).keepAliveMs).toBe(90_000);
  });

  it.each([9000, 50051])('rejects stats port %i (the simulator owns it), by flag or environment', (port) => {
    expect(configError(['--stats-port', String(port)]).message).toMatch(new RegExp(`--stats-port ${port} belongs to the simulator`));
    expect(configError([], { SCALER_STATS_PORT: String(port) }).message).toMatch(/belongs to the simulator/);
  });
});

const MAIN_JS = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));

describe('parseConfig precedence and conflicts', () => {
  it('lets any address flag beat any address environment variable', () => {
    const c = parseConfig(['--port', '9101'], { SCALER_ADDRESS: '127.0.0.1:7001' });
    expect(c?.address).toBe('0.0.0.0:9101');
    const d = parseConfig([], { SCALER_ADDRESS: '127.0.0.1:7001', SCALER_PORT: '9101' });
    expect(d?.address).toBe('127.0.0.1:7001');
  });

  it('rejects a stats port equal to the Scaler gRPC port', () => {
    expect(() => parseConfig(['--port', '9101', '--stats-port', '9101'], {})).toThrow(ConfigError);
  });
});

describe.runIf(existsSync(MAIN_JS))('main.js command line', () => {
  it('prints the help and exits 0', () => {
    const r = spawnSync(process.execPath, [MAIN_JS, '--help'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--stats-port');
    expect(r.stdout).toContain('Policies:');
  });

  it('exits 2 with the ConfigError message on a bad value', () => {
    const r = spawnSync(process.execPath, [MAIN_JS, '--stats-port', '9000'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('scaler: --stats-port 9000 belongs to the simulator');
  });
});
