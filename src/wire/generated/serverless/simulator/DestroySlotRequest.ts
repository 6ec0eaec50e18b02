// Original file: proto/serverless-sim.proto


export interface DestroySlotRequest {
  'requestId'?: (string);
  'id'?: (string);
  'reason'?: (string);
  '_reason'?: "reason";
}

export interface DestroySlotRequest__Output {
  'requestId': (string);
  'id': (string);
  'reason'?: (string);
  '_reason'?: "reason";
}
