// Original file: proto/serverless-sim.proto

export const Status = {
  Ok: 0,
  Throttle: 1,
  InternalError: 2,
  NotFound: 3,
  InvalidArgument: 4,
  InvalidAssigment: 5,
} as const;

export type Status =
  | 'Ok'
  | 0
  | 'Throttle'
  | 1
  | 'InternalError'
  | 2
  | 'NotFound'
  | 3
  | 'InvalidArgument'
  | 4
  | 'InvalidAssigment'
  | 5

export type Status__Output = typeof Status[keyof typeof Status]
