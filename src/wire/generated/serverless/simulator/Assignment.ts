// Original file: proto/serverless-sim.proto


export interface Assignment {
  'requestId'?: (string);
  'metaKey'?: (string);
  'instanceId'?: (string);
}

export interface Assignment__Output {
  'requestId': (string);
  'metaKey': (string);
  'instanceId': (string);
}
