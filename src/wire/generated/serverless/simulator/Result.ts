// Original file: proto/serverless-sim.proto

import type { Long } from '@grpc/proto-loader';

export interface Result {
  'statusCode'?: (number);
  'durationInMs'?: (number | string | Long);
  'needDestroy'?: (boolean);
  'reason'?: (string);
  '_needDestroy'?: "needDestroy";
  '_reason'?: "reason";
}

export interface Result__Output {
  'statusCode': (number);
  'durationInMs': (number);
  'needDestroy'?: (boolean);
  'reason'?: (string);
  '_needDestroy'?: "needDestroy";
  '_reason'?: "reason";
}
