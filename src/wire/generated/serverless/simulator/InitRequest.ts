// Original file: proto/serverless-sim.proto

import type { Meta as _serverless_simulator_Meta, Meta__Output as _serverless_simulator_Meta__Output } from './Meta.js';

export interface InitRequest {
  'requestId'?: (string);
  'slotId'?: (string);
  'instanceId'?: (string);
  'metaData'?: (_serverless_simulator_Meta | null);
}

export interface InitRequest__Output {
  'requestId': (string);
  'slotId': (string);
  'instanceId': (string);
  'metaData': (_serverless_simulator_Meta__Output | null);
}
