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
/**
 * Crash-on-release hooks (the Idle answered on the main thread, see src/server/scaler-service.ts):
 * when the shard handles the release of a request with this id, before the core or the journal
 * sees it, its worker thread exits ({@link TEST_CRASH_EXIT_CODE}). The Idle was answered OK by
 * then (main answers a matching Idle before the release reaches the shard), so the test sees the
 * crash land between the reply and the release record.
 */
export const TEST_CRASH_ON_RELEASE_REQUEST_ID = '__scaler_test_crash_on_release__';
/**
 * The same, for the whole process: the shard drops the release and SIGKILLs the process
 * {@link TEST_KILL_DELAY_MS} later (so main's OK has left its socket), as a host crash would.
 */
export const TEST_KILL_ON_RELEASE_REQUEST_ID = '__scaler_test_kill_on_release__';
export const TEST_KILL_DELAY_MS = 200;
export const TEST_CRASH_INSTANCE_ID = '__scaler_test_crash__';
/** Exit code of a worker killed by the crash hook. */
export const TEST_CRASH_EXIT_CODE = 86;

export function testHooksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[TEST_HOOKS_ENV] === '1';
}
