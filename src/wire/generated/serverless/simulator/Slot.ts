// Original file: proto/serverless-sim.proto

import type { ResourceConfig as _serverless_simulator_ResourceConfig, ResourceConfig__Output as _serverless_simulator_ResourceConfig__Output } from './ResourceConfig.js';
import type { Long } from '@grpc/proto-loader';

export interface Slot {
  'id'?: (string);
  'resourceConfig'?: (_serverless_simulator_ResourceConfig | null);
  'createTime'?: (number | string | Long);
  'createDurationInMs'?: (number | string | Long);
}

export interface Slot__Output {
  'id': (string);
  'resourceConfig': (_serverless_simulator_ResourceConfig__Output | null);
  'createTime': (number);
  'createDurationInMs': (number);
}
