import type { TimerHandle } from './clock.js';
import type { InstanceView } from './policy.js';
import type { FunctionPool } from './function-pool.js';

export const InstanceState = {
  /** Slot being created or application being initialised. */
  Starting: 0,
  Idle: 1,
  Busy: 2,
  /** Destroy requested; the instance is no longer usable. */
  Destroyed: 3,
} as const;
export type InstanceState = (typeof InstanceState)[keyof typeof InstanceState];

/** One application instance in one slot. Also a node of its pool's intrusive idle list. */
export class Instance implements InstanceView {
  state: InstanceState = InstanceState.Starting;
  slotId = '';
  uses = 0;
  readyAt = NaN;
  /** When its Init was sent (NaN while the slot is being created). */
  initStartedAt = NaN;
  /** A backup cold start was begun for its slow Init, or it is such a backup: never hedged (again). */
  hedged = false;
  idleSince = NaN;
  /** When the current idle period should end; the pending timer may be earlier (see core). */
  expireAt = Infinity;
  timer: TimerHandle | null = null;
  /** The core's expiry callback for this instance, made once. */
  onExpiry: (() => void) | null = null;
  busyRequestId = '';
  /** When its current request was handed the instance. */
  busySince = NaN;
  /** The core's serial of its current request's Assign (see `ScalingPolicy.onArrival`). */
  busyArrival = -1;
  lastRequestId = '';
  prev: Instance | null = null;
  next: Instance | null = null;
  /** Its pool's busy list, in the order instances became busy (oldest first). */
  busyPrev: Instance | null = null;
  busyNext: Instance | null = null;

  constructor(
    readonly id: string,
    /** The core's serial number of the instance (its id is the core's prefix + this in base 36). */
    readonly number: number,
    readonly pool: FunctionPool,
    readonly prewarmed: boolean,
  ) {}
}
