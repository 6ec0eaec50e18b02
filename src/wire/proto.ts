/**
 * Loads the contest protocol once, with the options the checked-in generated types assume
 * (`src/generated`, produced by `npm run gen:proto`): camelCase fields, 64-bit integers as
 * numbers, enums as numbers, defaults filled in, oneof virtual fields.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/serverless-sim.js';

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
};

/** `proto/serverless-sim.proto`, found from `src/wire/` (tests) and `dist/src/wire/` (built) alike. */
export const PROTO_PATH = [
  new URL('../../proto/serverless-sim.proto', import.meta.url),
  new URL('../../../proto/serverless-sim.proto', import.meta.url),
]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) ?? 'proto/serverless-sim.proto';

let cached: ProtoGrpcType | undefined;

export function loadProto(): ProtoGrpcType {
  if (cached === undefined) {
    const definition = protoLoader.loadSync(PROTO_PATH, PROTO_LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cached;
}

export { Status } from './generated/serverless/simulator/Status.js';
export type { AssignRequest__Output as AssignRequestMsg } from './generated/serverless/simulator/AssignRequest.js';
export type { AssignReply } from './generated/serverless/simulator/AssignReply.js';
export type { IdleRequest__Output as IdleRequestMsg } from './generated/serverless/simulator/IdleRequest.js';
export type { IdleReply } from './generated/serverless/simulator/IdleReply.js';
export type { ScalerHandlers } from './generated/serverless/simulator/Scaler.js';
export type { PlatformHandlers, PlatformClient } from './generated/serverless/simulator/Platform.js';
export type { ScalerClient } from './generated/serverless/simulator/Scaler.js';
export type { Meta__Output as MetaMsg } from './generated/serverless/simulator/Meta.js';
