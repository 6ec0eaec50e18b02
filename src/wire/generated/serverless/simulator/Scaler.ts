// Original file: proto/serverless-sim.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AssignReply as _serverless_simulator_AssignReply, AssignReply__Output as _serverless_simulator_AssignReply__Output } from './AssignReply.js';
import type { AssignRequest as _serverless_simulator_AssignRequest, AssignRequest__Output as _serverless_simulator_AssignRequest__Output } from './AssignRequest.js';
import type { IdleReply as _serverless_simulator_IdleReply, IdleReply__Output as _serverless_simulator_IdleReply__Output } from './IdleReply.js';
import type { IdleRequest as _serverless_simulator_IdleRequest, IdleRequest__Output as _serverless_simulator_IdleRequest__Output } from './IdleRequest.js';

export interface ScalerClient extends grpc.Client {
  Assign(argument: _serverless_simulator_AssignRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_AssignReply__Output>): grpc.ClientUnaryCall;
  Assign(argument: _serverless_simulator_AssignRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_serverless_simulator_AssignReply__Output>): grpc.ClientUnaryCall;
  Assign(argument: _serverless_simulator_AssignRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_AssignReply__Output>): grpc.ClientUnaryCall;
  Assign(argument: _serverless_simulator_AssignRequest, callback: grpc.requestCallback<_serverless_simulator_AssignReply__Output>): grpc.ClientUnaryCall;
  assign(argument: _serverless_simulator_AssignRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_AssignReply__Output>): grpc.ClientUnaryCall;
  assign(argument: _serverless_simulator_AssignRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_serverless_simulator_AssignReply__Output>): grpc.ClientUnaryCall;
  assign(argument: _serverless_simulator_AssignRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_AssignReply__Output>): grpc.ClientUnaryCall;
  assign(argument: _serverless_simulator_AssignRequest, callback: grpc.requestCallback<_serverless_simulator_AssignReply__Output>): grpc.ClientUnaryCall;
  
  Idle(argument: _serverless_simulator_IdleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_IdleReply__Output>): grpc.ClientUnaryCall;
  Idle(argument: _serverless_simulator_IdleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_serverless_simulator_IdleReply__Output>): grpc.ClientUnaryCall;
  Idle(argument: _serverless_simulator_IdleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_IdleReply__Output>): grpc.ClientUnaryCall;
  Idle(argument: _serverless_simulator_IdleRequest, callback: grpc.requestCallback<_serverless_simulator_IdleReply__Output>): grpc.ClientUnaryCall;
  idle(argument: _serverless_simulator_IdleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_IdleReply__Output>): grpc.ClientUnaryCall;
  idle(argument: _serverless_simulator_IdleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_serverless_simulator_IdleReply__Output>): grpc.ClientUnaryCall;
  idle(argument: _serverless_simulator_IdleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_IdleReply__Output>): grpc.ClientUnaryCall;
  idle(argument: _serverless_simulator_IdleRequest, callback: grpc.requestCallback<_serverless_simulator_IdleReply__Output>): grpc.ClientUnaryCall;
  
}

export interface ScalerHandlers extends grpc.UntypedServiceImplementation {
  Assign: grpc.handleUnaryCall<_serverless_simulator_AssignRequest__Output, _serverless_simulator_AssignReply>;
  
  Idle: grpc.handleUnaryCall<_serverless_simulator_IdleRequest__Output, _serverless_simulator_IdleReply>;
  
}

export interface ScalerDefinition extends grpc.ServiceDefinition {
  Assign: MethodDefinition<_serverless_simulator_AssignRequest, _serverless_simulator_AssignReply, _serverless_simulator_AssignRequest__Output, _serverless_simulator_AssignReply__Output>
  Idle: MethodDefinition<_serverless_simulator_IdleRequest, _serverless_simulator_IdleReply, _serverless_simulator_IdleRequest__Output, _serverless_simulator_IdleReply__Output>
}
