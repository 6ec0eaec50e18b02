// Original file: proto/serverless-sim.proto

import type { Status as _serverless_simulator_Status, Status__Output as _serverless_simulator_Status__Output } from './Status.js';
import type { Assignment as _serverless_simulator_Assignment, Assignment__Output as _serverless_simulator_Assignment__Output } from './Assignment.js';

export interface AssignReply {
  'status'?: (_serverless_simulator_Status);
  'assigment'?: (_serverless_simulator_Assignment | null);
  'errorMessage'?: (string);
  '_errorMessage'?: "errorMessage";
}

export interface AssignReply__Output {
  'status': (_serverless_simulator_Status__Output);
  'assigment': (_serverless_simulator_Assignment__Output | null);
  'errorMessage'?: (string);
  '_errorMessage'?: "errorMessage";
}
