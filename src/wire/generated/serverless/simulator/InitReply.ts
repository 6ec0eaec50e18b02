// Original file: proto/serverless-sim.proto

import type { Status as _serverless_simulator_Status, Status__Output as _serverless_simulator_Status__Output } from './Status.js';
import type { Long } from '@grpc/proto-loader';

export interface InitReply {
  'status'?: (_serverless_simulator_Status);
  'createTime'?: (number | string | Long);
  'initDurationInMs'?: (number | string | Long);
  'errorMessage'?: (string);
  '_errorMessage'?: "errorMessage";
}

export interface InitReply__Output {
  'status': (_serverless_simulator_Status__Output);
  'createTime': (number);
  'initDurationInMs': (number);
  'errorMessage'?: (string);
  '_errorMessage'?: "errorMessage";
}
