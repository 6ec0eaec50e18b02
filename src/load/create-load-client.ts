/** Picks a {@link LoadClient} implementation by name (the loadgen's `--client`). */
import { GrpcJsClient } from './grpc-js-client.js';
import { RawH2Client } from './raw-h2-client.js';
import type { ResultFields } from '../wire/assign-idle-codec.js';
import type { LoadClient } from './load-client.js';

export type LoadClientKind = 'grpc-js' | 'raw';
export const LOAD_CLIENT_KINDS: readonly LoadClientKind[] = ['grpc-js', 'raw'];

export interface CreateLoadClientOptions {
  readonly kind: LoadClientKind;
  readonly target: string;
  /** HTTP/2 connections (raw: sessions; grpc-js: channels). */
  readonly connections?: number;
  readonly idleResult?: ResultFields;
}

export interface ConnectableLoadClient extends LoadClient {
  connect(): Promise<void>;
}

export function createLoadClient(o: CreateLoadClientOptions): ConnectableLoadClient {
  const common = { target: o.target, ...(o.idleResult !== undefined ? { idleResult: o.idleResult } : {}) };
  return o.kind === 'raw'
    ? new RawH2Client({ ...common, sessions: o.connections ?? 1 })
    : new GrpcJsClient({ ...common, channels: o.connections ?? 1 });
}
