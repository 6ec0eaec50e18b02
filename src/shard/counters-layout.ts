import { defineCounterLayout } from '../sharding/index.js';
import type { PlatformCallCode, PlatformMethod } from '../platform/bounded-platform.js';
import type { H2ClientLimit } from '../h2/h2-limits.js';

/**
 * The scaler's shared counters: one row per shard in the `SharedArrayBuffer` of the sharding
 * layer (byte layout in `src/sharding/shared-counters.ts`). Every field of row s is written
 * only by shard s's worker; main and the other shards only read. Totals across rows give the
 * global view: load for the stats endpoint, and the running sums the score is made of, which
 * every shard's policy reads to price memory against latency.
 */
export const SCALER_COUNTER_LAYOUT = defineCounterLayout([
  /** Assigns received and not yet answered (waiting for an instance). */
  'inflightAssigns',
  'waitingAssigns',
  'liveSlots',
  'liveSlotMb',
  'idleInstances',
  'busyInstances',
  'startingInstances',
  'coldStarts',
  'prewarms',
  'assigns',
  'idles',
  'failedAssigns',
  'platformRetries',
  'platformFailures',
  /** Busy instances destroyed because their Idle never came. */
  'leaseExpiries',
  /** Backup cold starts begun for Inits overrunning their usual time. */
  'initHedges',
  'functions',
  /** CreateSlot calls sent whose answer never came: slots that may exist and cannot be destroyed. */
  'lostCreateReplies',
  /**
   * Recovery: what this shard's worker found at start that its predecessor (a killed process,
   * through the slot journal; or a crashed worker of this process) left, and what it did with it.
   */
  'recoveredSlots',
  /** Initialised instances taken over idle, and held by a request (its Idle then succeeds). */
  'adoptedIdle',
  'adoptedBusy',
  /** Recovered slots destroyed because nothing would use them (never initialised, or retired). */
  'reclaimedSlots',
  /** ... of those, destroys still unanswered. */
  'reclaimPending',
  /** CreateSlot calls the predecessor sent (or queued for a permit) and never saw answered (slots possibly lost with it). */
  'lostCreatesAtCrash',
  /** Slot journal file (src/journal): bytes of a torn last frame dropped on reading it. */
  'journalTornBytes',
  /** Journal problems met (corrupt, unreadable, unwritable, foreign file): see /stats `journal.errors`. */
  'journalErrors',
  'journalBytesWritten',
  'journalWrites',
  'journalCompactions',
  /** Score sums (see src/core/score-prices.ts): useful GB-s, slot GB-s, exec s, schedule s. */
  'execGBs',
  'slotGBs',
  'execSecs',
  'scheduleSecs',
  /** Platform calls answered, by method and outcome (src/platform/bounded-platform.ts). */
  'platformCreateSlotOk',
  'platformCreateSlotThrottle',
  'platformCreateSlotTransient',
  'platformCreateSlotPermanent',
  'platformInitOk',
  'platformInitThrottle',
  'platformInitTransient',
  'platformInitPermanent',
  'platformDestroySlotOk',
  'platformDestroySlotThrottle',
  'platformDestroySlotTransient',
  'platformDestroySlotPermanent',
  /** Cold starts holding a permit of the shard's bound, and CreateSlots waiting for one. */
  'coldStartsInFlight',
  'coldStartsQueued',
  /** DestroySlot calls in flight, and waiting for the shard's bound. */
  'destroysInFlight',
  'destroysQueued',
  /**
   * Limits of the raw HTTP/2 platform client that fired (src/h2/h2-limits.ts, docs/limits.md):
   * a platform connection or stream closed for what the peer sent.
   */
  'h2LimitHeaderBlock',
  'h2LimitHeaderList',
  'h2LimitReplyBody',
  'h2LimitPendingReplyBytes',
  'h2LimitUnsentOutput',
  'h2LimitEmptyFrames',
  'h2LimitProtocolViolation',
  'h2LimitNoStreams',
] as const);

export type ScalerCounterField = (typeof SCALER_COUNTER_LAYOUT)[number];

type PlatformCallField = `platform${PlatformMethod}${Capitalize<PlatformCallCode>}`;

/**
 * The counter of platform calls answered for `method` with outcome `code`. (It compiles only
 * while the layout has a field for every method and outcome.)
 */
export function platformCallField(method: PlatformMethod, code: PlatformCallCode): ScalerCounterField {
  return `platform${method}${code[0]!.toUpperCase()}${code.slice(1)}` as PlatformCallField;
}

type H2LimitField = `h2Limit${string}`;

/** The counter of the raw platform client's `limit` (snake_case name to its camelCase field). */
export function h2ClientLimitField(limit: H2ClientLimit): ScalerCounterField {
  const camel = limit.replace(/(^|_)([a-z])/g, (_m, _u: string, c: string) => c.toUpperCase());
  return `h2Limit${camel}` as H2LimitField as ScalerCounterField;
}
