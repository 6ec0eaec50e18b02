/**
 * Benchmark-only knob (README "Performance", benchmark 2): `SCALER_BENCH_SHARD_WORK_US=N` makes
 * every shard worker busy-spin N microseconds per request it handles, to simulate heavier shard
 * work and show that adding shards then adds throughput. Off (0) unless set. The worker reads it
 * once at startup into a constant, so when unset the hot path pays one comparison.
 */
export const BENCH_SHARD_WORK_ENV = 'SCALER_BENCH_SHARD_WORK_US';
/** Upper bound, so a typo cannot wedge a worker for seconds per request. */
export const MAX_BENCH_SHARD_WORK_US = 100_000;

/** The knob's value in µs (0 when unset or invalid). */
export function readBenchShardWorkUs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[BENCH_SHARD_WORK_ENV];
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? Math.min(n, MAX_BENCH_SHARD_WORK_US) : 0;
}

/** Burn `us` microseconds of CPU on this thread. */
export function spinMicros(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end) {
    // spin
  }
}
