/**
 * A grpc-js `Scaler` that answers Assign with Ok and a fixed instance id and Idle with Ok, doing
 * nothing else: the ceiling of the gRPC stack a real scaler is compared against. Optional hooks
 * (a delay, a serial queue, a forced status) make the same server a test double.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { loadProto, Status, type ScalerHandlers } from '../wire/proto.js';
import { GRPC_SERVER_OPTIONS } from '../server/grpc-server-options.js';

export const NOOP_INSTANCE_ID = 'noop-instance';

export interface NoopScalerOptions {
  /** 0 picks an ephemeral port. */
  readonly port?: number;
  readonly host?: string;
  readonly instanceId?: string;
  /** Answer every Assign after this many ms (concurrently). */
  readonly assignDelayMs?: number;
  /** With `assignDelayMs`: serve Assigns one at a time, so capacity is 1000/assignDelayMs per s. */
  readonly serialAssign?: boolean;
  /** Reply to Assign with this scaler `Status` instead of Ok. */
  readonly assignStatus?: number;
  /** Fail every Assign with this gRPC status code instead of replying. */
  readonly assignGrpcError?: grpc.status;
  /** Fail every Idle with this gRPC status code instead of replying. */
  readonly idleGrpcError?: grpc.status;
  /**
   * Also serve `GET /stats` on this port (127.0.0.1) with the calls answered and the event
   * loop's cumulative idle/active ms, in the shape of the scaler's (`eventLoop.main`).
   */
  readonly statsPort?: number;
}

export interface NoopScalerServer {
  readonly port: number;
  /** Calls answered so far. */
  readonly counts: { assign: number; idle: number };
  close(): Promise<void>;
}

export async function startNoopScaler(options: NoopScalerOptions = {}): Promise<NoopScalerServer> {
  const { Scaler } = loadProto().serverless.simulator;
  const counts = { assign: 0, idle: 0 };
  const instanceId = options.instanceId ?? NOOP_INSTANCE_ID;
  const assignStatus = (options.assignStatus ?? Status.Ok) as (typeof Status)[keyof typeof Status];
  const delay = options.assignDelayMs ?? 0;
  const okIdle = { status: Status.Ok };

  // Serial mode: a FIFO of pending replies, one served every `delay` ms.
  const queue: (() => void)[] = [];
  let busy = false;
  const pump = (): void => {
    const next = queue.shift();
    if (next === undefined) {
      busy = false;
      return;
    }
    busy = true;
    setTimeout(() => {
      next();
      pump();
    }, delay);
  };

  const handlers: ScalerHandlers = {
    Assign(call, callback) {
      const answer = (): void => {
        counts.assign++;
        if (options.assignGrpcError !== undefined) {
          callback({ code: options.assignGrpcError, details: 'noop scaler: forced error' });
          return;
        }
        callback(null, {
          status: assignStatus,
          assigment: { requestId: call.request.requestId, metaKey: call.request.metaData?.key ?? '', instanceId },
        });
      };
      if (delay <= 0) answer();
      else if (options.serialAssign) {
        queue.push(answer);
        if (!busy) pump();
      } else setTimeout(answer, delay);
    },
    Idle(_call, callback) {
      counts.idle++;
      if (options.idleGrpcError !== undefined) {
        callback({ code: options.idleGrpcError, details: 'noop scaler: forced error' });
        return;
      }
      callback(null, okIdle);
    },
  };

  // The scaler's own server options: the ceiling is the same grpc-js server, doing nothing.
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  server.addService(Scaler.service, handlers);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host ?? '0.0.0.0'}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  let stats: HttpServer | null = null;
  if (options.statsPort !== undefined) {
    stats = createServer((_req, res) => {
      const u = performance.eventLoopUtilization();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ counts, eventLoop: { main: { idle: u.idle, active: u.active }, shards: [] } }));
    });
    await new Promise<void>((resolve) => stats!.listen(options.statsPort, '127.0.0.1', resolve));
  }
  return {
    port,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        stats?.close();
        server.tryShutdown(() => resolve());
        // Streams left open by a client must not hold the shutdown forever.
        setTimeout(() => server.forceShutdown(), 1000).unref();
      }),
  };
}
