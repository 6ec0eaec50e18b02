import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AssignReply as _serverless_simulator_AssignReply, AssignReply__Output as _serverless_simulator_AssignReply__Output } from './serverless/simulator/AssignReply.js';
import type { AssignRequest as _serverless_simulator_AssignRequest, AssignRequest__Output as _serverless_simulator_AssignRequest__Output } from './serverless/simulator/AssignRequest.js';
import type { Assignment as _serverless_simulator_Assignment, Assignment__Output as _serverless_simulator_Assignment__Output } from './serverless/simulator/Assignment.js';
import type { CreateSlotReply as _serverless_simulator_CreateSlotReply, CreateSlotReply__Output as _serverless_simulator_CreateSlotReply__Output } from './serverless/simulator/CreateSlotReply.js';
import type { CreateSlotRequest as _serverless_simulator_CreateSlotRequest, CreateSlotRequest__Output as _serverless_simulator_CreateSlotRequest__Output } from './serverless/simulator/CreateSlotRequest.js';
import type { DestroySlotReply as _serverless_simulator_DestroySlotReply, DestroySlotReply__Output as _serverless_simulator_DestroySlotReply__Output } from './serverless/simulator/DestroySlotReply.js';
import type { DestroySlotRequest as _serverless_simulator_DestroySlotRequest, DestroySlotRequest__Output as _serverless_simulator_DestroySlotRequest__Output } from './serverless/simulator/DestroySlotRequest.js';
import type { IdleReply as _serverless_simulator_IdleReply, IdleReply__Output as _serverless_simulator_IdleReply__Output } from './serverless/simulator/IdleReply.js';
import type { IdleRequest as _serverless_simulator_IdleRequest, IdleRequest__Output as _serverless_simulator_IdleRequest__Output } from './serverless/simulator/IdleRequest.js';
import type { InitReply as _serverless_simulator_InitReply, InitReply__Output as _serverless_simulator_InitReply__Output } from './serverless/simulator/InitReply.js';
import type { InitRequest as _serverless_simulator_InitRequest, InitRequest__Output as _serverless_simulator_InitRequest__Output } from './serverless/simulator/InitRequest.js';
import type { Meta as _serverless_simulator_Meta, Meta__Output as _serverless_simulator_Meta__Output } from './serverless/simulator/Meta.js';
import type { PlatformClient as _serverless_simulator_PlatformClient, PlatformDefinition as _serverless_simulator_PlatformDefinition } from './serverless/simulator/Platform.js';
import type { ResourceConfig as _serverless_simulator_ResourceConfig, ResourceConfig__Output as _serverless_simulator_ResourceConfig__Output } from './serverless/simulator/ResourceConfig.js';
import type { Result as _serverless_simulator_Result, Result__Output as _serverless_simulator_Result__Output } from './serverless/simulator/Result.js';
import type { ScalerClient as _serverless_simulator_ScalerClient, ScalerDefinition as _serverless_simulator_ScalerDefinition } from './serverless/simulator/Scaler.js';
import type { Slot as _serverless_simulator_Slot, Slot__Output as _serverless_simulator_Slot__Output } from './serverless/simulator/Slot.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  serverless: {
    simulator: {
      AssignReply: MessageTypeDefinition<_serverless_simulator_AssignReply, _serverless_simulator_AssignReply__Output>
      AssignRequest: MessageTypeDefinition<_serverless_simulator_AssignRequest, _serverless_simulator_AssignRequest__Output>
      Assignment: MessageTypeDefinition<_serverless_simulator_Assignment, _serverless_simulator_Assignment__Output>
      CreateSlotReply: MessageTypeDefinition<_serverless_simulator_CreateSlotReply, _serverless_simulator_CreateSlotReply__Output>
      CreateSlotRequest: MessageTypeDefinition<_serverless_simulator_CreateSlotRequest, _serverless_simulator_CreateSlotRequest__Output>
      DestroySlotReply: MessageTypeDefinition<_serverless_simulator_DestroySlotReply, _serverless_simulator_DestroySlotReply__Output>
      DestroySlotRequest: MessageTypeDefinition<_serverless_simulator_DestroySlotRequest, _serverless_simulator_DestroySlotRequest__Output>
      IdleReply: MessageTypeDefinition<_serverless_simulator_IdleReply, _serverless_simulator_IdleReply__Output>
      IdleRequest: MessageTypeDefinition<_serverless_simulator_IdleRequest, _serverless_simulator_IdleRequest__Output>
      InitReply: MessageTypeDefinition<_serverless_simulator_InitReply, _serverless_simulator_InitReply__Output>
      InitRequest: MessageTypeDefinition<_serverless_simulator_InitRequest, _serverless_simulator_InitRequest__Output>
      Meta: MessageTypeDefinition<_serverless_simulator_Meta, _serverless_simulator_Meta__Output>
      Platform: SubtypeConstructor<typeof grpc.Client, _serverless_simulator_PlatformClient> & { service: _serverless_simulator_PlatformDefinition }
      ResourceConfig: MessageTypeDefinition<_serverless_simulator_ResourceConfig, _serverless_simulator_ResourceConfig__Output>
      Result: MessageTypeDefinition<_serverless_simulator_Result, _serverless_simulator_Result__Output>
      Scaler: SubtypeConstructor<typeof grpc.Client, _serverless_simulator_ScalerClient> & { service: _serverless_simulator_ScalerDefinition }
      Slot: MessageTypeDefinition<_serverless_simulator_Slot, _serverless_simulator_Slot__Output>
      Status: EnumTypeDefinition
    }
  }
}

