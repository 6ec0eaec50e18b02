/**
 * The one small interface both load-generator client modes implement, so the runner measures
 * the scaler and not the choice of client. Callback-style: a promise per call would add
 * allocation and a microtask hop to every measurement.
 */

/** What an Assign returned when the call itself succeeded (the scaler may still refuse). */
export interface AssignOutcome {
  /** The contest's `Status` enum value (0 = Ok). */
  readonly status: number;
  /** Empty when the scaler did not assign an instance. */
  readonly instanceId: string;
}

export type AssignCallback = (err: LoadCallError | null, outcome: AssignOutcome | null) => void;
/** `status` is the scaler's `Status` value when `err` is null. */
export type IdleCallback = (err: LoadCallError | null, status: number) => void;

export interface LoadClient {
  assign(key: string, requestId: string, memoryMb: number, cb: AssignCallback): void;
  idle(key: string, requestId: string, instanceId: string, cb: IdleCallback): void;
  close(): void;
}

export const LoadCallErrorCode = {
  /** The call completed with a non-zero `grpc-status`; see `grpcStatus`. */
  GrpcStatus: 'LOAD_GRPC_STATUS',
  /** The stream or session failed before a status arrived. */
  Transport: 'LOAD_TRANSPORT',
  /** A reply arrived but could not be parsed. */
  Protocol: 'LOAD_PROTOCOL',
} as const;
export type LoadCallErrorCode = (typeof LoadCallErrorCode)[keyof typeof LoadCallErrorCode];

/** gRPC status names, for reports (`grpc-status` numbers are not memorable). */
export const GRPC_STATUS_NAMES: readonly string[] = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED',
  'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/** The transport-level status used when a call failed without any `grpc-status`. */
export const GRPC_STATUS_UNAVAILABLE = 14;
export const GRPC_STATUS_INTERNAL = 13;

export class LoadCallError extends Error {
  readonly code: LoadCallErrorCode;
  /** The gRPC status of the failed call (synthesised as UNAVAILABLE/INTERNAL when absent). */
  readonly grpcStatus: number;

  constructor(code: LoadCallErrorCode, grpcStatus: number, message: string) {
    super(message);
    this.name = 'LoadCallError';
    this.code = code;
    this.grpcStatus = grpcStatus;
  }
}

export function grpcStatusName(status: number): string {
  return GRPC_STATUS_NAMES[status] ?? `STATUS_${status}`;
}
