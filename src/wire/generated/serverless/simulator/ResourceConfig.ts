// Original file: proto/serverless-sim.proto

import type { Long } from '@grpc/proto-loader';

export interface ResourceConfig {
  'memoryInMegabytes'?: (number | string | Long);
}

export interface ResourceConfig__Output {
  'memoryInMegabytes': (number);
}
