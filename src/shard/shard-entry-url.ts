/**
 * Where the shard worker's entry module is, for `new Worker(...)`: beside this module in both the
 * compiled tree (`dist/src/shard/`) and the source tree. Kept apart from `shard-entry.ts` so that
 * importing the location does not run the entry.
 */
export const SHARD_ENTRY_URL = new URL('./shard-entry.js', import.meta.url);
