// Original file: proto/serverless-sim.proto

import type { ResourceConfig as _serverless_simulator_ResourceConfig, ResourceConfig__Output as _serverless_simulator_ResourceConfig__Output } from './ResourceConfig.js';

export interface CreateSlotRequest {
  'requestId'?: (string);
  'resourceConfig'?: (_serverless_simulator_ResourceConfig | null);
}

export interface CreateSlotRequest__Output {
  'requestId': (string);
  'resourceConfig': (_serverless_simulator_ResourceConfig__Output | null);
}
