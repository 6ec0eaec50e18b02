/**
 * The reference load-generator client: stock grpc-js with the proto-loader definitions, i.e.
 * what a typical caller (and the contest simulator's kind of client) pays per call.
 */
import * as grpc from '@grpc/grpc-js';
import { loadProto, type ScalerClient } from '../wire/proto.js';
import {
  LoadCallError,
  LoadCallErrorCode,
  GRPC_STATUS_UNAVAILABLE,
  type AssignCallback,
  type IdleCallback,
  type LoadClient,
} from './load-client.js';
import {
  DEFAULT_IDLE_RESULT,
  DEFAULT_META_RUNTIME,
  DEFAULT_META_TIMEOUT_SECS,
} from './raw-h2-client.js';
import type { ResultFields } from '../wire/assign-idle-codec.js';

export interface GrpcJsClientOptions {
  readonly target: string;
  /** Separate channels (TCP connections), round-robin. grpc-js shares one per target otherwise. */
  readonly channels?: number;
  readonly runtime?: string;
  readonly timeoutInSecs?: number;
  readonly idleResult?: ResultFields;
  readonly sendTimestamp?: boolean;
}

function toLoadError(err: grpc.ServiceError): LoadCallError {
  const status = typeof err.code === 'number' ? err.code : GRPC_STATUS_UNAVAILABLE;
  return new LoadCallError(LoadCallErrorCode.GrpcStatus, status, err.details || err.message);
}

export class GrpcJsClient implements LoadClient {
  private readonly clients: ScalerClient[] = [];
  private next = 0;
  private readonly runtime: string;
  private readonly timeoutInSecs: number;
  private readonly result: { statusCode: number; durationInMs: number; needDestroy?: boolean; reason?: string };
  private readonly sendTimestamp: boolean;

  constructor(options: GrpcJsClientOptions) {
    const { Scaler } = loadProto().serverless.simulator;
    const n = Math.max(1, options.channels ?? 1);
    for (let i = 0; i < n; i++) {
      // A distinct channel option keeps grpc-js from sharing one subchannel across clients.
      this.clients.push(new Scaler(options.target, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
        'loadgen.channel_index': i,
      }));
    }
    this.runtime = options.runtime ?? DEFAULT_META_RUNTIME;
    this.timeoutInSecs = options.timeoutInSecs ?? DEFAULT_META_TIMEOUT_SECS;
    this.result = { ...(options.idleResult ?? DEFAULT_IDLE_RESULT) };
    this.sendTimestamp = options.sendTimestamp ?? true;
  }

  private client(): ScalerClient {
    const c = this.clients[this.next]!;
    this.next = this.next + 1 === this.clients.length ? 0 : this.next + 1;
    return c;
  }

  /** Resolves once every channel is connected (optional; calls connect lazily). */
  connect(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return Promise.all(this.clients.map((c) => new Promise<void>((resolve, reject) => {
      c.waitForReady(deadline, (err) => (err ? reject(err) : resolve()));
    }))).then(() => undefined);
  }

  assign(key: string, requestId: string, memoryMb: number, cb: AssignCallback): void {
    this.client().Assign(
      {
        requestId,
        timestamp: this.sendTimestamp ? Date.now() : 0,
        metaData: { key, runtime: this.runtime, timeoutInSecs: this.timeoutInSecs, memoryInMb: memoryMb },
      },
      (err, reply) => {
        if (err) cb(toLoadError(err), null);
        else cb(null, { status: reply!.status, instanceId: reply!.assigment?.instanceId ?? '' });
      },
    );
  }

  idle(key: string, requestId: string, instanceId: string, cb: IdleCallback): void {
    this.client().Idle(
      { assigment: { requestId, metaKey: key, instanceId }, result: this.result },
      (err, reply) => {
        if (err) cb(toLoadError(err), -1);
        else cb(null, reply!.status);
      },
    );
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
