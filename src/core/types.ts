/** Inputs and outputs of the policy core, free of gRPC and thread types. */
import type { FunctionMetaRef } from './platform.js';

export type FunctionMeta = FunctionMetaRef;

export interface AssignInput {
  readonly requestId: string;
  readonly meta: FunctionMeta;
}

export interface IdleInput {
  readonly requestId: string;
  readonly metaKey: string;
  readonly instanceId: string;
  readonly needDestroy: boolean;
  /** Execution time the platform reports for the request (0 when unknown). */
  readonly durationMs: number;
}

export const ScalerErrorCode = {
  NotFound: 'NOT_FOUND',
  InvalidArgument: 'INVALID_ARGUMENT',
  ColdStartFailed: 'COLD_START_FAILED',
  Cancelled: 'CANCELLED',
  ShuttingDown: 'SHUTTING_DOWN',
  /** An Assign whose request id is already waiting or being served. */
  AlreadyExists: 'ALREADY_EXISTS',
} as const;
export type ScalerErrorCode = (typeof ScalerErrorCode)[keyof typeof ScalerErrorCode];

export class ScalerError extends Error {
  constructor(
    readonly code: ScalerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ScalerError';
  }
}

export type AssignCallback = (err: ScalerError | null, instanceId?: string) => void;

/** `null` = accepted; otherwise why the `Idle` was refused (no state changed). */
export type IdleOutcome = ScalerError | null;
