// Original file: proto/serverless-sim.proto

import type { Meta as _serverless_simulator_Meta, Meta__Output as _serverless_simulator_Meta__Output } from './Meta.js';
import type { Long } from '@grpc/proto-loader';

export interface AssignRequest {
  'requestId'?: (string);
  'timestamp'?: (number | string | Long);
  'metaData'?: (_serverless_simulator_Meta | null);
}

export interface AssignRequest__Output {
  'requestId': (string);
  'timestamp': (number);
  'metaData': (_serverless_simulator_Meta__Output | null);
}
