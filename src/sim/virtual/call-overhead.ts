/**
 * The per-call floor of Assign and Idle in virtual time: what every call costs over a real
 * gRPC path as the live simulator sees it (client send to reply, on a loaded replay), beyond
 * any wait for an instance. Virtual time charges it to every request of every policy alike.
 *
 * Defaults measured on our live path (docs/simulator-split.md, "The per-call floor"): the mean
 * Assign latency of hits and the mean Idle latency of a live replay of dataSet_1's densest
 * window. Re-measure when the scaler's per-call path changes.
 */

/** Mean Assign latency of a hit (an idle instance was there), ms. */
export const DEFAULT_ASSIGN_OVERHEAD_MS = 2.3;
/** Mean Idle latency, ms (answered on the main thread since issue 16). */
export const DEFAULT_IDLE_OVERHEAD_MS = 1.9;

export interface CallOverhead {
  /** Added to every Assign's latency; the execution starts this much after the scaler answers (half on each leg). */
  readonly assignMs: number;
  /** Every Idle's latency; the scaler learns of the release half of it after the execution ends. */
  readonly idleMs: number;
}

export const DEFAULT_CALL_OVERHEAD: CallOverhead = { assignMs: DEFAULT_ASSIGN_OVERHEAD_MS, idleMs: DEFAULT_IDLE_OVERHEAD_MS };
export const NO_CALL_OVERHEAD: CallOverhead = { assignMs: 0, idleMs: 0 };

export class CallOverheadError extends Error {
  readonly code = 'CALL_OVERHEAD_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'CallOverheadError';
  }
}

/** "MS" (both calls) or "ASSIGN_MS,IDLE_MS"; non-negative, finite. */
export function parseCallOverhead(raw: string): CallOverhead {
  const parts = raw.split(',').map((p) => p.trim());
  const nums = parts.map(Number);
  if (parts.length < 1 || parts.length > 2 || parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new CallOverheadError(`--call-overhead expects MS or ASSIGN_MS,IDLE_MS (non-negative milliseconds), got "${raw}"`);
  }
  return { assignMs: nums[0] as number, idleMs: (nums.length === 2 ? nums[1] : nums[0]) as number };
}

/** Per call, on average: what the clairvoyant bound charges each Assign and each Idle. */
export function meanCallOverheadMs(o: CallOverhead): number {
  return (o.assignMs + o.idleMs) / 2;
}
