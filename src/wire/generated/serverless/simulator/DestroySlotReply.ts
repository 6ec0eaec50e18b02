// Original file: proto/serverless-sim.proto

import type { Status as _serverless_simulator_Status, Status__Output as _serverless_simulator_Status__Output } from './Status.js';

export interface DestroySlotReply {
  'status'?: (_serverless_simulator_Status);
  'errorMessage'?: (string);
  '_errorMessage'?: "errorMessage";
}

export interface DestroySlotReply__Output {
  'status': (_serverless_simulator_Status__Output);
  'errorMessage'?: (string);
  '_errorMessage'?: "errorMessage";
}
