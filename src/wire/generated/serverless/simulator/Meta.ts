// Original file: proto/serverless-sim.proto

import type { Long } from '@grpc/proto-loader';

export interface Meta {
  'key'?: (string);
  'runtime'?: (string);
  'timeoutInSecs'?: (number);
  'memoryInMb'?: (number | string | Long);
}

export interface Meta__Output {
  'key': (string);
  'runtime': (string);
  'timeoutInSecs': (number);
  'memoryInMb': (number);
}
