/**
 * Stable key → shard mapping.
 *
 * The hash must give the same answer in every process and every Node version (a restarted
 * worker, a replayed journal and a second router must all agree on who owns a key), so it is
 * defined purely by arithmetic on UTF-16 code units, never by engine-internal string hashes.
 *
 * FNV-1a alone has weak high bits for short keys that differ only in their last character
 * (`fn-1`, `fn-2`, ...), and the range reduction below reads exactly the high bits, so the FNV
 * state is passed through the MurmurHash3 32-bit finaliser before use.
 */

/** FNV-1a 32-bit offset basis. */
export const FNV1A_32_OFFSET_BASIS = 0x811c9dc5;
/** FNV-1a 32-bit prime. */
export const FNV1A_32_PRIME = 0x01000193;

/**
 * FNV-1a over the string's UTF-16 code units (one round per code unit). For ASCII keys this is
 * byte-for-byte the standard FNV-1a 32 of the UTF-8 encoding.
 */
export function fnv1a32(key: string): number {
  let h = FNV1A_32_OFFSET_BASIS;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, FNV1A_32_PRIME);
  }
  return h >>> 0;
}

/** MurmurHash3 `fmix32` finaliser: full avalanche of a 32-bit value. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The stable 32-bit hash of a key used for sharding: `mix32(fnv1a32(key))`, unsigned. */
export function hashKey(key: string): number {
  return mix32(fnv1a32(key));
}

const TWO_POW_32 = 4294967296;

/**
 * Lemire's multiply-shift range reduction of an unsigned 32-bit hash into `[0, n)`: uses the
 * hash's high bits and has at most 1/2^32 relative bias, unlike `%` on a small range.
 * `hash * n` stays below 2^53 for any `n` below 2^21, so the double arithmetic is exact.
 */
export function reduceHash(hash: number, n: number): number {
  return Math.floor((hash * n) / TWO_POW_32);
}

/** The shard in `[0, shards)` that owns `key`. */
export function shardForKey(key: string, shards: number): number {
  if (shards <= 1) return 0;
  return reduceHash(hashKey(key), shards);
}
