/** Main-thread validation of Assign and Idle, on messages as grpc-js decodes them. */
import { describe, expect, it } from 'vitest';
import { loadProto, type AssignRequestMsg, type IdleRequestMsg } from '../src/wire/proto.js';
import type { AssignRequest } from '../src/wire/generated/serverless/simulator/AssignRequest.js';
import type { IdleRequest } from '../src/wire/generated/serverless/simulator/IdleRequest.js';
import {
  MAX_KEY_LENGTH,
  MAX_MEMORY_MB,
  MAX_REQUEST_ID_LENGTH,
  validateAssign,
  validateIdle,
} from '../src/server/request-validation.js';

/** Encodes and decodes through the service definition: defaults and nulls exactly as the server sees them. */
function decodeAssign(req: AssignRequest): AssignRequestMsg {
  const m = loadProto().serverless.simulator.Scaler.service.Assign;
  return m.requestDeserialize(m.requestSerialize(req)) as AssignRequestMsg;
}

function decodeIdle(req: IdleRequest): IdleRequestMsg {
  const m = loadProto().serverless.simulator.Scaler.service.Idle;
  return m.requestDeserialize(m.requestSerialize(req)) as IdleRequestMsg;
}

const META = { key: 'fn', runtime: 'go', timeoutInSecs: 60, memoryInMb: 512 };

describe('validateAssign', () => {
  it('accepts a well-formed request', () => {
    expect(validateAssign(decodeAssign({ requestId: 'r1', timestamp: 1, metaData: META }))).toBeNull();
    expect(validateAssign(decodeAssign({ requestId: 'r'.repeat(MAX_REQUEST_ID_LENGTH), metaData: { ...META, memoryInMb: MAX_MEMORY_MB } }))).toBeNull();
  });

  it.each<[string, AssignRequest, RegExp]>([
    ['missing meta', { requestId: 'r1' }, /meta_data is missing/],
    ['empty key', { requestId: 'r1', metaData: { ...META, key: '' } }, /meta_data\.key is empty/],
    ['zero memory', { requestId: 'r1', metaData: { ...META, memoryInMb: 0 } }, /memory_in_mb must be greater than 0/],
    ['absent memory', { requestId: 'r1', metaData: { key: 'fn' } }, /memory_in_mb must be greater than 0/],
    ['absurd memory', { requestId: 'r1', metaData: { ...META, memoryInMb: MAX_MEMORY_MB + 1 } }, /exceeds/],
    ['empty request id', { metaData: META }, /request_id is empty/],
    ['long request id', { requestId: 'r'.repeat(MAX_REQUEST_ID_LENGTH + 1), metaData: META }, /request_id is longer/],
    ['long key', { requestId: 'r1', metaData: { ...META, key: 'k'.repeat(MAX_KEY_LENGTH + 1) } }, /key is longer/],
  ])('rejects %s with a message', (_name, req, message) => {
    expect(validateAssign(decodeAssign(req))).toMatch(message);
  });
});

describe('validateIdle', () => {
  const A = { requestId: 'r1', metaKey: 'fn', instanceId: 'i-1' };

  it('accepts a well-formed request, with or without a result', () => {
    expect(validateIdle(decodeIdle({ assigment: A, result: { statusCode: 200, durationInMs: 5, needDestroy: true } }))).toBeNull();
    expect(validateIdle(decodeIdle({ assigment: A }))).toBeNull();
  });

  it.each<[string, IdleRequest, RegExp]>([
    ['missing assignment', { result: { statusCode: 200 } }, /assigment is missing/],
    ['empty instance id', { assigment: { ...A, instanceId: '' } }, /instance_id is empty/],
    ['empty meta key', { assigment: { ...A, metaKey: '' } }, /meta_key is empty/],
    ['long request id', { assigment: { ...A, requestId: 'r'.repeat(MAX_REQUEST_ID_LENGTH + 1) } }, /request_id is longer/],
  ])('rejects %s with a message', (_name, req, message) => {
    expect(validateIdle(decodeIdle(req))).toMatch(message);
  });
});
