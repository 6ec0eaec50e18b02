// Original file: proto/serverless-sim.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateSlotReply as _serverless_simulator_CreateSlotReply, CreateSlotReply__Output as _serverless_simulator_CreateSlotReply__Output } from './CreateSlotReply.js';
import type { CreateSlotRequest as _serverless_simulator_CreateSlotRequest, CreateSlotRequest__Output as _serverless_simulator_CreateSlotRequest__Output } from './CreateSlotRequest.js';
import type { DestroySlotReply as _serverless_simulator_DestroySlotReply, DestroySlotReply__Output as _serverless_simulator_DestroySlotReply__Output } from './DestroySlotReply.js';
import type { DestroySlotRequest as _serverless_simulator_DestroySlotRequest, DestroySlotRequest__Output as _serverless_simulator_DestroySlotRequest__Output } from './DestroySlotRequest.js';
import type { InitReply as _serverless_simulator_InitReply, InitReply__Output as _serverless_simulator_InitReply__Output } from './InitReply.js';
import type { InitRequest as _serverless_simulator_InitRequest, InitRequest__Output as _serverless_simulator_InitRequest__Output } from './InitRequest.js';

export interface PlatformClient extends grpc.Client {
  CreateSlot(argument: _serverless_simulator_CreateSlotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_CreateSlotReply__Output>): grpc.ClientUnaryCall;
  CreateSlot(argument: _serverless_simulator_CreateSlotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_serverless_simulator_CreateSlotReply__Output>): grpc.ClientUnaryCall;
  CreateSlot(argument: _serverless_simulator_CreateSlotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_CreateSlotReply__Output>): grpc.ClientUnaryCall;
  CreateSlot(argument: _serverless_simulator_CreateSlotRequest, callback: grpc.requestCallback<_serverless_simulator_CreateSlotReply__Output>): grpc.ClientUnaryCall;
  createSlot(argument: _serverless_simulator_CreateSlotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_CreateSlotReply__Output>): grpc.ClientUnaryCall;
  createSlot(argument: _serverless_simulator_CreateSlotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_serverless_simulator_CreateSlotReply__Output>): grpc.ClientUnaryCall;
  createSlot(argument: _serverless_simulator_CreateSlotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_CreateSlotReply__Output>): grpc.ClientUnaryCall;
  createSlot(argument: _serverless_simulator_CreateSlotRequest, callback: grpc.requestCallback<_serverless_simulator_CreateSlotReply__Output>): grpc.ClientUnaryCall;
  
  DestroySlot(argument: _serverless_simulator_DestroySlotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_DestroySlotReply__Output>): grpc.ClientUnaryCall;
  DestroySlot(argument: _serverless_simulator_DestroySlotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_serverless_simulator_DestroySlotReply__Output>): grpc.ClientUnaryCall;
  DestroySlot(argument: _serverless_simulator_DestroySlotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_DestroySlotReply__Output>): grpc.ClientUnaryCall;
  DestroySlot(argument: _serverless_simulator_DestroySlotRequest, callback: grpc.requestCallback<_serverless_simulator_DestroySlotReply__Output>): grpc.ClientUnaryCall;
  destroySlot(argument: _serverless_simulator_DestroySlotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_DestroySlotReply__Output>): grpc.ClientUnaryCall;
  destroySlot(argument: _serverless_simulator_DestroySlotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_serverless_simulator_DestroySlotReply__Output>): grpc.ClientUnaryCall;
  destroySlot(argument: _serverless_simulator_DestroySlotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_DestroySlotReply__Output>): grpc.ClientUnaryCall;
  destroySlot(argument: _serverless_simulator_DestroySlotRequest, callback: grpc.requestCallback<_serverless_simulator_DestroySlotReply__Output>): grpc.ClientUnaryCall;
  
  Init(argument: _serverless_simulator_InitRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_InitReply__Output>): grpc.ClientUnaryCall;
  Init(argument: _serverless_simulator_InitRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_serverless_simulator_InitReply__Output>): grpc.ClientUnaryCall;
  Init(argument: _serverless_simulator_InitRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_InitReply__Output>): grpc.ClientUnaryCall;
  Init(argument: _serverless_simulator_InitRequest, callback: grpc.requestCallback<_serverless_simulator_InitReply__Output>): grpc.ClientUnaryCall;
  init(argument: _serverless_simulator_InitRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_InitReply__Output>): grpc.ClientUnaryCall;
  init(argument: _serverless_simulator_InitRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_serverless_simulator_InitReply__Output>): grpc.ClientUnaryCall;
  init(argument: _serverless_simulator_InitRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_serverless_simulator_InitReply__Output>): grpc.ClientUnaryCall;
  init(argument: _serverless_simulator_InitRequest, callback: grpc.requestCallback<_serverless_simulator_InitReply__Output>): grpc.ClientUnaryCall;
  
}

export interface PlatformHandlers extends grpc.UntypedServiceImplementation {
  CreateSlot: grpc.handleUnaryCall<_serverless_simulator_CreateSlotRequest__Output, _serverless_simulator_CreateSlotReply>;
  
  DestroySlot: grpc.handleUnaryCall<_serverless_simulator_DestroySlotRequest__Output, _serverless_simulator_DestroySlotReply>;
  
  Init: grpc.handleUnaryCall<_serverless_simulator_InitRequest__Output, _serverless_simulator_InitReply>;
  
}

export interface PlatformDefinition extends grpc.ServiceDefinition {
  CreateSlot: MethodDefinition<_serverless_simulator_CreateSlotRequest, _serverless_simulator_CreateSlotReply, _serverless_simulator_CreateSlotRequest__Output, _serverless_simulator_CreateSlotReply__Output>
  DestroySlot: MethodDefinition<_serverless_simulator_DestroySlotRequest, _serverless_simulator_DestroySlotReply, _serverless_simulator_DestroySlotRequest__Output, _serverless_simulator_DestroySlotReply__Output>
  Init: MethodDefinition<_serverless_simulator_InitRequest, _serverless_simulator_InitReply, _serverless_simulator_InitRequest__Output, _serverless_simulator_InitReply__Output>
}
