// Original file: proto/serverless-sim.proto

import type { Assignment as _serverless_simulator_Assignment, Assignment__Output as _serverless_simulator_Assignment__Output } from './Assignment.js';
import type { Result as _serverless_simulator_Result, Result__Output as _serverless_simulator_Result__Output } from './Result.js';

export interface IdleRequest {
  'assigment'?: (_serverless_simulator_Assignment | null);
  'result'?: (_serverless_simulator_Result | null);
}

export interface IdleRequest__Output {
  'assigment': (_serverless_simulator_Assignment__Output | null);
  'result': (_serverless_simulator_Result__Output | null);
}
