/**
 * What the main thread measures of every `Assign` and `Idle` it answers, for `/metrics`: a
 * count per method and gRPC status, and, unless turned off, the handling latency in a histogram
 * by method and status. Both are typed-array writes per call (a `CountedHistogram`: a
 * prom-client Histogram counted in arrays), so the main thread pays tens of nanoseconds a call
 * rather than prom-client's ~1.5 us `observe` (README "Metrics", `npm run bench:rpc-metrics`).
 *
 * Names and labels follow go-grpc-prometheus (`grpc_server_handled_total`,
 * `grpc_server_handling_seconds`), which gRPC dashboards already know.
 */
import * as grpc from '@grpc/grpc-js';
import { Counter, type Registry } from 'prom-client';
import type { ScalerHandlers } from '../wire/proto.js';
import { CountedHistogram } from './counted-histogram.js';

/** From 0.5 ms (a warm Assign) to a minute (a cold start behind a long Init). */
export const RPC_LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
export const SCALER_GRPC_SERVICE = 'serverless.simulator.Scaler';

export const RpcMethod = { Assign: 0, Idle: 1 } as const;
export type RpcMethod = (typeof RpcMethod)[keyof typeof RpcMethod];
const METHOD_NAMES = ['Assign', 'Idle'] as const;
/** gRPC status codes 0 (OK) to 16 (UNAUTHENTICATED). */
const CODES = 17;
const CODE_NAMES: readonly string[] = Array.from({ length: CODES }, (_, c) => grpc.status[c] ?? String(c));

type RpcLabel = 'grpc_service' | 'grpc_method' | 'grpc_type' | 'grpc_code';

export interface RpcMetricsOptions {
  registry: Registry;
  /** Latency histograms (default true); the counts are kept either way. */
  histograms?: boolean;
}

export class RpcMetrics {
  /** Calls answered, `[method * 17 + code]`. */
  private readonly handled = new Float64Array(METHOD_NAMES.length * CODES);
  private readonly histogram: CountedHistogram<RpcLabel> | null;
  /** The label set of each (method, code), in the order of `handled`. */
  private readonly labels: Record<RpcLabel, string>[];

  constructor(opts: RpcMetricsOptions) {
    this.labels = [];
    for (const method of METHOD_NAMES) {
      for (const code of CODE_NAMES) {
        this.labels.push({ grpc_service: SCALER_GRPC_SERVICE, grpc_method: method, grpc_type: 'unary', grpc_code: code });
      }
    }
    this.histogram = opts.histograms === false
      ? null
      : new CountedHistogram<RpcLabel>({
        name: 'grpc_server_handling_seconds',
        help: 'Time from receiving an Assign or Idle to answering it, by method and gRPC status',
        labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
        buckets: RPC_LATENCY_BUCKETS_SECONDS,
        series: this.labels,
        registers: [opts.registry],
      });
    const handled = this.handled;
    const labels = this.labels;
    new Counter<RpcLabel>({
      name: 'grpc_server_handled_total',
      help: 'Assign and Idle calls answered, by method and gRPC status',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
      registers: [opts.registry],
      collect() {
        this.reset();
        for (let i = 0; i < handled.length; i++) {
          // OK always, so the series exist from the start; other codes once they happened.
          if (handled[i]! > 0 || i % CODES === 0) this.inc(labels[i]!, handled[i]!);
        }
      },
    });
  }

  /** Whether calls need their start time (`record`'s `startedMs`): only for the histograms. */
  get timed(): boolean {
    return this.histogram !== null;
  }

  /** One call of `method` answered with gRPC status `code`, begun at `startedMs` (performance.now(), if `timed`). */
  record(method: RpcMethod, code: number, startedMs: number): void {
    const i = method * CODES + (code >= 0 && code < CODES ? code : grpc.status.UNKNOWN);
    this.handled[i]!++;
    if (this.histogram !== null) this.histogram.observeAt(i, (performance.now() - startedMs) / 1000);
  }

  /** Calls answered so far (tests, /stats). */
  count(method: RpcMethod, code: number): number {
    return this.handled[method * CODES + code]!;
  }
}

/**
 * `handlers` with every answer recorded in `rpc`: one closure per call around the callback,
 * and no change to the handlers themselves.
 */
export function instrumentScalerHandlers(handlers: ScalerHandlers, rpc: RpcMetrics): ScalerHandlers {
  const assign = handlers.Assign.bind(handlers);
  const idle = handlers.Idle.bind(handlers);
  return {
    Assign(call, cb) {
      const started = rpc.timed ? performance.now() : 0;
      assign(call, (err, value, trailer, flags) => {
        rpc.record(RpcMethod.Assign, err === null || err === undefined ? grpc.status.OK : (err.code ?? grpc.status.UNKNOWN), started);
        cb(err, value, trailer, flags);
      });
    },
    Idle(call, cb) {
      const started = rpc.timed ? performance.now() : 0;
      idle(call, (err, value, trailer, flags) => {
        rpc.record(RpcMethod.Idle, err === null || err === undefined ? grpc.status.OK : (err.code ?? grpc.status.UNKNOWN), started);
        cb(err, value, trailer, flags);
      });
    },
  };
}
