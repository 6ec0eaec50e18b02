/**
 * Shared by the platform client tests (grpc-js and raw HTTP/2): a grpc-js Platform server whose
 * answers a test sets, and the error-mapping cases both clients must agree on (the core's retry
 * decisions depend on them). A case added here is checked against both clients.
 */
import * as grpc from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import { PlatformErrorKind, type Platform, type PlatformError } from '../src/core/platform.js';
import { loadProto, Status, type PlatformHandlers } from '../src/wire/proto.js';
import type { CreateSlotReply } from '../src/wire/generated/serverless/simulator/CreateSlotReply.js';
import type { CreateSlotRequest__Output } from '../src/wire/generated/serverless/simulator/CreateSlotRequest.js';
import type { DestroySlotRequest__Output } from '../src/wire/generated/serverless/simulator/DestroySlotRequest.js';
import type { InitRequest__Output } from '../src/wire/generated/serverless/simulator/InitRequest.js';

/** A reply with this contest status, a gRPC error with this code, or no answer at all. */
export type StubAnswer = { status: number; errorMessage?: string } | { grpcCode: grpc.status } | 'hang';

export interface PlatformStub {
  target: string;
  port: number;
  /** What the next calls of each method answer (Ok when unset). */
  answers: { CreateSlot?: StubAnswer; Init?: StubAnswer; DestroySlot?: StubAnswer };
  creates: CreateSlotRequest__Output[];
  inits: InitRequest__Output[];
  destroys: DestroySlotRequest__Output[];
  close(): void;
}

let started: PlatformStub[] = [];

/** Starts a stub Platform on `port` (0: ephemeral). Ok answers: slot `slot-1`, init 42 ms. */
export async function startPlatformStub(port = 0): Promise<PlatformStub> {
  const server = new grpc.Server();
  const stub: PlatformStub = { target: '', port: 0, answers: {}, creates: [], inits: [], destroys: [], close: () => server.forceShutdown() };
  const answer = <T>(a: StubAnswer | undefined, ok: T, cb: grpc.sendUnaryData<T>): void => {
    if (a === undefined) cb(null, ok);
    else if (a === 'hang') return;
    else if ('grpcCode' in a) cb({ code: a.grpcCode, details: `stub ${grpc.status[a.grpcCode]}` });
    else cb(null, { status: a.status, errorMessage: a.errorMessage } as T);
  };
  const handlers: PlatformHandlers = {
    CreateSlot: (call, cb) => {
      stub.creates.push(call.request);
      const mem = call.request.resourceConfig?.memoryInMegabytes ?? 0;
      const ok: CreateSlotReply = { status: Status.Ok, slot: { id: 'slot-1', resourceConfig: { memoryInMegabytes: mem }, createTime: 1234, createDurationInMs: 100 } };
      answer(stub.answers.CreateSlot, ok, cb);
    },
    Init: (call, cb) => {
      stub.inits.push(call.request);
      answer(stub.answers.Init, { status: Status.Ok, createTime: 1, initDurationInMs: 42 }, cb);
    },
    DestroySlot: (call, cb) => {
      stub.destroys.push(call.request);
      answer(stub.answers.DestroySlot, { status: Status.Ok }, cb);
    },
  };
  server.addService(loadProto().serverless.simulator.Platform.service, handlers);
  stub.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  stub.target = `127.0.0.1:${stub.port}`;
  started.push(stub);
  return stub;
}

/** Shuts down every stub started so far (for `afterEach`). */
export function closePlatformStubs(): void {
  for (const s of started) s.close();
  started = [];
}

export interface ErrorMappingCase<Code> {
  /** The status's or code's name, for test titles. */
  readonly name: string;
  readonly code: Code;
  readonly kind: PlatformErrorKind;
}

/** A non-Ok contest `Status` in a reply → the error kind the core retries on. */
export const CONTEST_STATUS_CASES: ReadonlyArray<ErrorMappingCase<number>> = [
  { name: 'Throttle', code: Status.Throttle, kind: PlatformErrorKind.Throttle },
  { name: 'InternalError', code: Status.InternalError, kind: PlatformErrorKind.Transient },
  { name: 'NotFound', code: Status.NotFound, kind: PlatformErrorKind.Permanent },
  { name: 'InvalidArgument', code: Status.InvalidArgument, kind: PlatformErrorKind.Permanent },
  { name: 'InvalidAssigment', code: Status.InvalidAssigment, kind: PlatformErrorKind.Permanent },
];

/** A gRPC status code (transport level) → the error kind; the stub's details name the code. */
export const GRPC_CODE_CASES: ReadonlyArray<ErrorMappingCase<grpc.status>> = [
  { name: 'UNAVAILABLE', code: grpc.status.UNAVAILABLE, kind: PlatformErrorKind.Transient },
  { name: 'DEADLINE_EXCEEDED', code: grpc.status.DEADLINE_EXCEEDED, kind: PlatformErrorKind.Transient },
  { name: 'RESOURCE_EXHAUSTED', code: grpc.status.RESOURCE_EXHAUSTED, kind: PlatformErrorKind.Transient },
  { name: 'INTERNAL', code: grpc.status.INTERNAL, kind: PlatformErrorKind.Transient },
  { name: 'UNKNOWN', code: grpc.status.UNKNOWN, kind: PlatformErrorKind.Transient },
  { name: 'ABORTED', code: grpc.status.ABORTED, kind: PlatformErrorKind.Transient },
  { name: 'NOT_FOUND', code: grpc.status.NOT_FOUND, kind: PlatformErrorKind.Permanent },
  { name: 'INVALID_ARGUMENT', code: grpc.status.INVALID_ARGUMENT, kind: PlatformErrorKind.Permanent },
  { name: 'PERMISSION_DENIED', code: grpc.status.PERMISSION_DENIED, kind: PlatformErrorKind.Permanent },
  { name: 'UNIMPLEMENTED', code: grpc.status.UNIMPLEMENTED, kind: PlatformErrorKind.Permanent },
];

/** One call of each method against a client; each call's error, and the slot CreateSlot returned. */
export async function callEveryMethod(c: Platform): Promise<{ create: PlatformError | null; slot: unknown; init: PlatformError | null; destroy: PlatformError | null }> {
  const cs = await new Promise<{ err: PlatformError | null; slot: unknown }>((resolve) => c.createSlot('req', 256, (err, slot) => resolve({ err, slot })));
  const init = await new Promise<PlatformError | null>((resolve) =>
    c.init('req-i', 'slot-1', 'inst-1', { key: 'fn', runtime: 'go', timeoutInSecs: 60, memoryMb: 256 }, (err) => resolve(err)),
  );
  const destroy = await new Promise<PlatformError | null>((resolve) => c.destroySlot('req-d', 'slot-1', 'test', (err) => resolve(err)));
  return { create: cs.err, slot: cs.slot, init, destroy };
}

/**
 * The error-mapping tests every platform client must pass, registered in the caller's
 * `describe`: a contest status in a reply and a gRPC code on the transport, on every call.
 */
export function itMapsPlatformErrors(client: (target: string) => Platform): void {
  it.each(CONTEST_STATUS_CASES)('maps Status.$name to a $kind error on every call, keeping the message', async ({ code: status, kind }) => {
    const stub = await startPlatformStub();
    stub.answers = { CreateSlot: { status, errorMessage: 'nope' }, Init: { status, errorMessage: 'nope' }, DestroySlot: { status, errorMessage: 'nope' } };
    const got = await callEveryMethod(client(stub.target));
    expect(got).toEqual({
      create: { kind, message: 'CreateSlot: nope' },
      slot: undefined,
      init: { kind, message: 'Init: nope' },
      destroy: { kind, message: 'DestroySlot: nope' },
    });
  });

  it.each(GRPC_CODE_CASES)('maps a gRPC $name error (code $code) to $kind on every call', async ({ name, code, kind }) => {
    const stub = await startPlatformStub();
    stub.answers = { CreateSlot: { grpcCode: code }, Init: { grpcCode: code }, DestroySlot: { grpcCode: code } };
    const got = await callEveryMethod(client(stub.target));
    expect(got).toEqual({
      create: { kind, message: `CreateSlot: stub ${name}` },
      slot: undefined,
      init: { kind, message: `Init: stub ${name}` },
      destroy: { kind, message: `DestroySlot: stub ${name}` },
    });
  });
}
