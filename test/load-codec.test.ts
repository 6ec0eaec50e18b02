import { describe, expect, it } from 'vitest';
import * as fc from 'fast-check';
import { loadProto, Status } from '../src/wire/proto.js';
import {
  decodeAssignReply,
  decodeIdleReplyStatus,
  encodeAssignFrame,
  encodeAssignRequest,
  encodeIdleFrame,
  encodeIdleRequest,
  encodeMetaField,
  encodeResultField,
  grpcMessageEnd,
  GRPC_FRAME_HEADER_BYTES,
  CodecError,
} from '../src/wire/assign-idle-codec.js';

const service = loadProto().serverless.simulator.Scaler.service;

describe('assign-idle codec', () => {
  it('AssignRequest decodes with protobufjs to the same fields', () => {
    const bytes = encodeAssignRequest({
      requestId: 'req-1',
      timestamp: 1_700_000_000_123,
      meta: { key: 'fn-αβ', runtime: 'python3', timeoutInSecs: 60, memoryInMb: 2048 },
    });
    expect(service.Assign.requestDeserialize(bytes)).toEqual({
      requestId: 'req-1',
      timestamp: 1_700_000_000_123,
      metaData: { key: 'fn-αβ', runtime: 'python3', timeoutInSecs: 60, memoryInMb: 2048 },
    });
  });

  it('round-trips arbitrary fields through protobufjs, byte-identical when no field is a default', () => {
    fc.assert(
      fc.property(
        fc.string(), fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.string(), fc.string(),
        fc.nat({ max: 0xffffffff }), fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        (requestId, timestamp, key, runtime, timeoutInSecs, memoryInMb) => {
          const ours = encodeAssignRequest({ requestId, timestamp, meta: { key, runtime, timeoutInSecs, memoryInMb } });
          const decoded = service.Assign.requestDeserialize(ours);
          expect(decoded).toEqual({ requestId, timestamp, metaData: { key, runtime, timeoutInSecs, memoryInMb } });
          // protobufjs also writes explicitly set defaults, so bytes match only without them.
          if (!requestId || !timestamp || !key || !runtime || !timeoutInSecs || !memoryInMb) return;
          const theirs = service.Assign.requestSerialize({ requestId, timestamp, metaData: { key, runtime, timeoutInSecs, memoryInMb } });
          expect(Buffer.compare(ours, theirs)).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('IdleRequest decodes with protobufjs, including optional and negative fields', () => {
    const bytes = encodeIdleRequest({
      requestId: 'r', metaKey: 'k', instanceId: 'inst-9',
      result: { statusCode: 408, durationInMs: 1234, needDestroy: true, reason: 'timeout' },
    });
    expect(service.Idle.requestDeserialize(bytes)).toMatchObject({
      assigment: { requestId: 'r', metaKey: 'k', instanceId: 'inst-9' },
      result: { statusCode: 408, durationInMs: 1234, needDestroy: true, reason: 'timeout' },
    });
    const neg = encodeIdleRequest({ requestId: 'r', metaKey: 'k', instanceId: 'i', result: { statusCode: -5, durationInMs: 0 } });
    expect(service.Idle.requestDeserialize(neg)).toMatchObject({ result: { statusCode: -5, durationInMs: 0 } });
  });

  it('frames carry the gRPC 5-byte prefix and the message', () => {
    const meta = encodeMetaField({ key: 'k', memoryInMb: 128 });
    const frame = encodeAssignFrame('id-1', 0, meta);
    expect(frame[0]).toBe(0);
    expect(frame.readUInt32BE(1)).toBe(frame.length - GRPC_FRAME_HEADER_BYTES);
    expect(grpcMessageEnd(frame)).toBe(frame.length);
    expect(service.Assign.requestDeserialize(frame.subarray(GRPC_FRAME_HEADER_BYTES))).toMatchObject({
      requestId: 'id-1', timestamp: 0, metaData: { key: 'k', memoryInMb: 128 },
    });
    const idle = encodeIdleFrame('id-1', 'k', 'inst', encodeResultField({ statusCode: 200, durationInMs: 5 }));
    expect(idle.readUInt32BE(1)).toBe(idle.length - GRPC_FRAME_HEADER_BYTES);
    expect(service.Idle.requestDeserialize(idle.subarray(GRPC_FRAME_HEADER_BYTES))).toMatchObject({
      assigment: { requestId: 'id-1', metaKey: 'k', instanceId: 'inst' }, result: { statusCode: 200, durationInMs: 5 },
    });
  });

  it('decodes AssignReply and IdleReply produced by protobufjs', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.values(Status)), fc.string(), fc.string(), fc.option(fc.string(), { nil: undefined }),
        (status, requestId, instanceId, errorMessage) => {
          const reply = service.Assign.responseSerialize({
            status, assigment: { requestId, metaKey: 'some-key', instanceId },
            ...(errorMessage !== undefined ? { errorMessage } : {}),
          });
          expect(decodeAssignReply(reply)).toEqual({ status, instanceId });
          const idle = service.Idle.responseSerialize({ status, ...(errorMessage !== undefined ? { errorMessage } : {}) });
          expect(decodeIdleReplyStatus(idle)).toBe(status);
        }),
      { numRuns: 200 },
    );
    // An empty reply is all defaults.
    expect(decodeAssignReply(Buffer.alloc(0))).toEqual({ status: 0, instanceId: '' });
  });

  it('rejects truncated and compressed input', () => {
    const reply = service.Assign.responseSerialize({ status: 0, assigment: { requestId: 'r', metaKey: 'k', instanceId: 'abc' } });
    expect(() => decodeAssignReply(reply.subarray(0, reply.length - 1))).toThrow(CodecError);
    expect(() => grpcMessageEnd(Buffer.from([1, 0, 0, 0, 0]))).toThrow(/compressed/);
    expect(() => grpcMessageEnd(Buffer.from([0, 0, 0, 0, 9, 1]))).toThrow(/truncated/);
  });
});
