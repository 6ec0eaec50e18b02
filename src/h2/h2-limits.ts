/**
 * What a peer of the raw HTTP/2 client may make it hold or do, and what happens past it
 * (docs/limits.md). Every limit is a named tunable with its default; when one fires the offending
 * stream or connection is closed (never the process) and `onLimit` is told, once per event, so
 * the shard can count it (`scaler_peer_limits_total{side="platform_client",limit=...}`) and log.
 */

/** Largest header block (HEADERS + CONTINUATION payloads, plus 9 bytes per frame so that empty CONTINUATIONs count) accepted. */
export const H2_MAX_HEADER_BLOCK_BYTES = 16 * 1024;
/**
 * SETTINGS_MAX_HEADER_LIST_SIZE we advertise and enforce on decoded headers (RFC 7541 size: name +
 * value + 32 per field), as grpc-js' default `grpc.max_metadata_size` (8 KiB) with room.
 */
export const H2_MAX_HEADER_LIST_BYTES = 16 * 1024;
/**
 * Our bytes the peer has not read yet (socket buffer + queued frames) past which a control reply
 * (SETTINGS ACK, PING ACK) is not queued and the connection is closed: a peer that sends PINGs and
 * never reads the ACKs would otherwise grow our memory at its own pace. A cold-start storm of
 * 20,000 calls queues about 4 MB of requests, well below it.
 */
export const H2_MAX_UNSENT_BYTES = 16 * 1024 * 1024;
/**
 * Bytes one connection may hold in replies still arriving (each reply is bounded by the client's
 * `maxReplyBytes`, but a peer could start thousands and finish none): past it the connection is
 * closed. Platform replies are a few dozen bytes each, so this is never reached by a real one.
 */
export const H2_MAX_PENDING_REPLY_BYTES = 64 * 1024 * 1024;
/** DATA frames in a row without payload or END_STREAM (CPU for nothing; nghttp2 limits them too). */
export const H2_MAX_EMPTY_FRAMES = 1_000;

/** The limits, as `onLimit` names them (and the metric's `limit` label). */
export const H2_CLIENT_LIMITS = [
  'header_block',
  'header_list',
  'reply_body',
  'pending_reply_bytes',
  'unsent_output',
  'empty_frames',
  'protocol_violation',
  'no_streams',
] as const;
export type H2ClientLimit = (typeof H2_CLIENT_LIMITS)[number];

/** Told when a limit fires: what fired, and a sentence for the log. */
export type H2LimitListener = (limit: H2ClientLimit, detail: string) => void;

export interface H2ConnectionLimits {
  readonly maxHeaderBlockBytes?: number;
  readonly maxHeaderListBytes?: number;
  readonly maxUnsentBytes?: number;
  readonly maxEmptyFrames?: number;
  readonly maxPendingReplyBytes?: number;
  readonly onLimit?: H2LimitListener;
}

/** The limits with every default filled in. */
export interface ResolvedH2Limits {
  readonly maxHeaderBlockBytes: number;
  readonly maxHeaderListBytes: number;
  readonly maxUnsentBytes: number;
  readonly maxEmptyFrames: number;
  readonly maxPendingReplyBytes: number;
  readonly onLimit: H2LimitListener | null;
}

export function resolveH2Limits(l: H2ConnectionLimits | undefined): ResolvedH2Limits {
  return {
    maxHeaderBlockBytes: l?.maxHeaderBlockBytes ?? H2_MAX_HEADER_BLOCK_BYTES,
    maxHeaderListBytes: l?.maxHeaderListBytes ?? H2_MAX_HEADER_LIST_BYTES,
    maxUnsentBytes: l?.maxUnsentBytes ?? H2_MAX_UNSENT_BYTES,
    maxEmptyFrames: l?.maxEmptyFrames ?? H2_MAX_EMPTY_FRAMES,
    maxPendingReplyBytes: l?.maxPendingReplyBytes ?? H2_MAX_PENDING_REPLY_BYTES,
    onLimit: l?.onLimit ?? null,
  };
}

/** At most one log line per limit this often, so a flood costs a counter increment, not a log line. */
export const LIMIT_LOG_INTERVAL_MS = 1_000;

/**
 * Counts every hit and logs the first of each limit per {@link LIMIT_LOG_INTERVAL_MS} (with how
 * many were not logged since), keeping logging off a flood's path.
 */
export class LimitReporter<L extends string> {
  private readonly lastLogAt = new Map<L, number>();
  private readonly quiet = new Map<L, number>();

  constructor(
    private readonly count: (limit: L) => void,
    private readonly log: (limit: L, detail: string, suppressed: number) => void,
    private readonly intervalMs = LIMIT_LOG_INTERVAL_MS,
  ) {}

  readonly hit = (limit: L, detail: string): void => {
    this.count(limit);
    const now = performance.now();
    const last = this.lastLogAt.get(limit);
    if (last !== undefined && now - last < this.intervalMs) {
      this.quiet.set(limit, (this.quiet.get(limit) ?? 0) + 1);
      return;
    }
    this.lastLogAt.set(limit, now);
    const suppressed = this.quiet.get(limit) ?? 0;
    this.quiet.set(limit, 0);
    this.log(limit, detail, suppressed);
  };
}
