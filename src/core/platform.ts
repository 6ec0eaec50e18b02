/**
 * The platform as the policy core sees it: the three calls of the contest's `Platform` service,
 * callback-style so that a discrete-event simulator can answer them without promises or
 * microtasks. Adapters: the gRPC client (workers) and the simulated platform (virtual engine).
 */

/** Why a platform call failed, as the contest's `Status` enum says (plus transport failures). */
export const PlatformErrorKind = {
  /** `Status.Throttle`: try again later. */
  Throttle: 'throttle',
  /** Transport failure or `InternalError`: may succeed if retried. */
  Transient: 'transient',
  /** `NotFound` / `InvalidArgument`: retrying the same call cannot help. */
  Permanent: 'permanent',
} as const;
export type PlatformErrorKind = (typeof PlatformErrorKind)[keyof typeof PlatformErrorKind];

export interface PlatformError {
  readonly kind: PlatformErrorKind;
  readonly message: string;
  /**
   * The request was sent and no answer came back (the connection was reset mid-call, or the
   * deadline passed): the platform may have acted. A CreateSlot in this state may have made a
   * slot whose id nobody will learn; the protocol has no way to find or destroy it.
   */
  readonly unknownOutcome?: boolean;
}

export interface SlotInfo {
  readonly slotId: string;
  readonly memoryMb: number;
  /** Platform-reported creation time (ms epoch) or 0 when unknown. */
  readonly createTime: number;
}

export interface InitResult {
  /** The platform's measured init duration, 0 when it did not say. */
  readonly initDurationMs: number;
}

export interface FunctionMetaRef {
  readonly key: string;
  readonly runtime: string;
  readonly timeoutInSecs: number;
  readonly memoryMb: number;
}

export type PlatformCallback<T> = (err: PlatformError | null, value?: T) => void;

export interface Platform {
  createSlot(requestId: string, memoryMb: number, cb: PlatformCallback<SlotInfo>): void;
  init(requestId: string, slotId: string, instanceId: string, meta: FunctionMetaRef, cb: PlatformCallback<InitResult>): void;
  destroySlot(requestId: string, slotId: string, reason: string, cb: PlatformCallback<void>): void;
}
