// Original file: proto/serverless-sim.proto

import type { Status as _serverless_simulator_Status, Status__Output as _serverless_simulator_Status__Output } from './Status.js';
import type { Slot as _serverless_simulator_Slot, Slot__Output as _serverless_simulator_Slot__Output } from './Slot.js';

export interface CreateSlotReply {
  'status'?: (_serverless_simulator_Status);
  'slot'?: (_serverless_simulator_Slot | null);
  'errorMessage'?: (string);
  '_slot'?: "slot";
  '_errorMessage'?: "errorMessage";
}

export interface CreateSlotReply__Output {
  'status': (_serverless_simulator_Status__Output);
  'slot'?: (_serverless_simulator_Slot__Output | null);
  'errorMessage'?: (string);
  '_slot'?: "slot";
  '_errorMessage'?: "errorMessage";
}
