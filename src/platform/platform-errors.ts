import { PlatformErrorKind, type PlatformError } from '../core/platform.js';
import { Status } from '../wire/generated/serverless/simulator/Status.js';

/**
 * How both platform clients (grpc-js and raw HTTP/2) classify a failed call, in one place so
 * they cannot drift apart: the retry decisions of the core depend on it.
 */

/** A non-Ok contest `Status` in a reply: Throttle and InternalError may pass if retried. */
export function fromPlatformStatus(status: number, message: string | undefined, what: string): PlatformError {
  const text = `${what}: ${message ?? `status ${status}`}`;
  if (status === Status.Throttle) return { kind: PlatformErrorKind.Throttle, message: text };
  if (status === Status.InternalError) return { kind: PlatformErrorKind.Transient, message: text };
  return { kind: PlatformErrorKind.Permanent, message: text };
}

/** gRPC status codes (transport level) that may succeed if retried: grpc-js's own rule. */
const TRANSIENT_GRPC_CODES: ReadonlySet<number> = new Set([
  2, // UNKNOWN
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
  13, // INTERNAL
  14, // UNAVAILABLE
]);

export function isTransientGrpcCode(code: number): boolean {
  return TRANSIENT_GRPC_CODES.has(code);
}
