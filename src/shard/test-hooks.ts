/**
 * Debug hooks for fault tests, off unless the scaler runs with `SCALER_TEST_HOOKS=1`.
 *
 * Crash hook: an `Idle` whose `assigment.instance_id` is {@link TEST_CRASH_INSTANCE_ID} makes the
 * shard owning `assigment.meta_key` exit at once (`process.exit` of its worker thread), as a
 * crash would: nothing is flushed or destroyed. Tests aim it at a shard by picking the key.
 * Idle (not Assign) carries it because the service never retries an Idle, so exactly one
 * worker dies per call.
 */
export const TEST_HOOKS_ENV = 'SCALER_TEST_HOOKS';
export const TEST_CRASH_INSTANCE_ID = '__scaler_test_crash__';
/** Exit code of a worker killed by the crash hook. */
export const TEST_CRASH_EXIT_CODE = 86;

export function testHooksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[TEST_HOOKS_ENV] === '1';
}
