/**
 * The lean load-generator client: the project's raw HTTP/2 unary client (`src/h2`) with
 * pre-encoded gRPC frames. Per call it allocates one frame buffer and the client's call object;
 * the completion functions are per method, so no closures are created per call.
 *
 * A call succeeds only when `grpc-status: 0` arrives (in trailers, or in a trailers-only
 * response); anything else is a {@link LoadCallError} carrying the status.
 */
import { H2Method, type H2Call } from '../h2/h2-call.js';
import { H2UnaryClient } from '../h2/h2-unary-client.js';
import {
  encodeAssignFrame,
  encodeIdleFrame,
  encodeMetaField,
  encodeResultField,
  decodeAssignReply,
  decodeIdleReplyStatus,
  grpcMessageEnd,
  GRPC_FRAME_HEADER_BYTES,
  SCALER_ASSIGN_PATH,
  SCALER_IDLE_PATH,
  type ResultFields,
} from '../wire/assign-idle-codec.js';
import {
  LoadCallError,
  LoadCallErrorCode,
  GRPC_STATUS_INTERNAL,
  GRPC_STATUS_UNAVAILABLE,
  type AssignCallback,
  type IdleCallback,
  type LoadClient,
} from './load-client.js';

export const RAW_H2_DEFAULT_SESSIONS = 1;
export const DEFAULT_META_RUNTIME = 'nodejs';
export const DEFAULT_META_TIMEOUT_SECS = 60;
export const DEFAULT_IDLE_RESULT: ResultFields = { statusCode: 200, durationInMs: 0 };

export interface RawH2ClientOptions {
  /** `host:port` of the Scaler service. */
  readonly target: string;
  /** HTTP/2 connections to spread calls over, round-robin. */
  readonly sessions?: number;
  readonly runtime?: string;
  readonly timeoutInSecs?: number;
  /** The `Result` every Idle carries (the trace's status code and duration). */
  readonly idleResult?: ResultFields;
  /** Whether Assign carries `timestamp = Date.now()` (the simulator sends one). */
  readonly sendTimestamp?: boolean;
}

const ASSIGN_METHOD = new H2Method(SCALER_ASSIGN_PATH);
const IDLE_METHOD = new H2Method(SCALER_IDLE_PATH);

/** The call's failure, or null when it returned gRPC OK with a complete message. */
function callError(call: H2Call): LoadCallError | null {
  if (call.grpcStatus === -1) {
    let why = call.failure;
    if (why === '' && call.httpStatus !== 0 && call.httpStatus !== 200) why = `HTTP status ${call.httpStatus}`;
    return new LoadCallError(LoadCallErrorCode.Transport, GRPC_STATUS_UNAVAILABLE, why || 'stream closed without grpc-status');
  }
  if (call.grpcStatus !== 0) {
    return new LoadCallError(LoadCallErrorCode.GrpcStatus, call.grpcStatus, call.grpcMessage || `grpc-status ${call.grpcStatus}`);
  }
  return null;
}

function protocolError(e: unknown): LoadCallError {
  return new LoadCallError(LoadCallErrorCode.Protocol, GRPC_STATUS_INTERNAL, (e as Error).message);
}

function onAssignDone(call: H2Call): void {
  const cb = call.user as AssignCallback;
  const err = callError(call);
  if (err !== null) return cb(err, null);
  let outcome;
  try {
    const body = call.body;
    if (body === null) throw new Error('OK status without a message');
    outcome = decodeAssignReply(body, GRPC_FRAME_HEADER_BYTES, grpcMessageEnd(body));
  } catch (e) {
    return cb(protocolError(e), null);
  }
  cb(null, outcome);
}

function onIdleDone(call: H2Call): void {
  const cb = call.user as IdleCallback;
  const err = callError(call);
  if (err !== null) return cb(err, -1);
  let status;
  try {
    const body = call.body;
    if (body === null) throw new Error('OK status without a message');
    status = decodeIdleReplyStatus(body, GRPC_FRAME_HEADER_BYTES, grpcMessageEnd(body));
  } catch (e) {
    return cb(protocolError(e), -1);
  }
  cb(null, status);
}

export class RawH2Client implements LoadClient {
  private readonly client: H2UnaryClient;
  private readonly metaFields = new Map<string, Buffer>();
  private readonly metaMemory = new Map<string, number>();
  private readonly resultField: Buffer;
  private readonly runtime: string;
  private readonly timeoutInSecs: number;
  private readonly sendTimestamp: boolean;

  constructor(options: RawH2ClientOptions) {
    this.client = new H2UnaryClient({ address: options.target, connections: Math.max(1, options.sessions ?? RAW_H2_DEFAULT_SESSIONS) });
    this.runtime = options.runtime ?? DEFAULT_META_RUNTIME;
    this.timeoutInSecs = options.timeoutInSecs ?? DEFAULT_META_TIMEOUT_SECS;
    this.resultField = encodeResultField(options.idleResult ?? DEFAULT_IDLE_RESULT);
    this.sendTimestamp = options.sendTimestamp ?? true;
  }

  /** Last connection-level error, for diagnostics. */
  get lastSessionError(): Error | null {
    return this.client.lastSessionError;
  }

  /** Opens the connections now and resolves once all are connected (optional; calls connect lazily). */
  connect(): Promise<void> {
    return this.client.connect();
  }

  private metaField(key: string, memoryMb: number): Buffer {
    let field = this.metaFields.get(key);
    if (field === undefined || this.metaMemory.get(key) !== memoryMb) {
      field = encodeMetaField({ key, runtime: this.runtime, timeoutInSecs: this.timeoutInSecs, memoryInMb: memoryMb });
      this.metaFields.set(key, field);
      this.metaMemory.set(key, memoryMb);
    }
    return field;
  }

  assign(key: string, requestId: string, memoryMb: number, cb: AssignCallback): void {
    const frame = encodeAssignFrame(requestId, this.sendTimestamp ? Date.now() : 0, this.metaField(key, memoryMb));
    this.client.call(ASSIGN_METHOD, frame, 0, onAssignDone, cb);
  }

  idle(key: string, requestId: string, instanceId: string, cb: IdleCallback): void {
    const frame = encodeIdleFrame(requestId, key, instanceId, this.resultField);
    this.client.call(IDLE_METHOD, frame, 0, onIdleDone, cb);
  }

  close(): void {
    this.client.close();
  }
}
