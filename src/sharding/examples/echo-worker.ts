/**
 * Example shard worker: echo, async replies, events, errors, crash simulation and a keyed
 * counter whose state lives only in this shard. Started by a ShardRouter (tests, benchmark).
 */
import { serveShard, type ShardContext } from '../index.js';
import { ECHO_CODEC } from './echo-codec.js';
import {
  ECHO_COUNTER_LAYOUT,
  bootMarkOf,
  type EchoCounterField,
  type EchoEvent,
  type EchoInfo,
  type EchoRequest,
  type EchoWorkerOptions,
} from './echo-protocol.js';

const totals = new Map<string, number>();
let shard: ShardContext<EchoEvent, EchoCounterField> | null = null;
let flushSpinMs = 0;

serveShard<EchoRequest, unknown, EchoEvent, (typeof ECHO_COUNTER_LAYOUT)[number]>(
  (req, reply, ctx) => {
    ctx.counters.add(ctx.shard, 'handled', 1);
    switch (req.op) {
      case 'echo':
        reply(req.value);
        return;
      case 'delay':
        setTimeout(() => reply(req.value), req.ms);
        return;
      case 'emit':
        ctx.emit({ shard: ctx.shard, value: req.value });
        reply(req.value);
        return;
      case 'fail':
        reply.error(req.code, req.message);
        return;
      case 'throw':
        throw new Error(req.message);
      case 'add': {
        const t = (totals.get(req.key) ?? 0) + req.n;
        totals.set(req.key, t);
        ctx.counters.set(ctx.shard, 'keys', totals.size);
        reply(t);
        return;
      }
      case 'info': {
        const info: EchoInfo = {
          shard: ctx.shard,
          generation: ctx.generation,
          workerData: ctx.workerData,
          batchesReceived: ctx.stats.batchesReceived,
          requestsReceived: ctx.stats.requestsReceived,
          batchesSent: ctx.stats.batchesSent,
        };
        reply(info);
        return;
      }
      case 'crash':
        process.exit(req.code);
    }
  },
  {
    counterLayout: ECHO_COUNTER_LAYOUT,
    // Used only when the router was started with the same codec (shared rings).
    codec: ECHO_CODEC,
    // Written before the worker reports ready, so main can read it right after start().
    init: (c) => {
      shard = c;
      c.counters.set(c.shard, 'bootMark', bootMarkOf(c.shard, c.generation));
      c.counters.set(c.shard, 'keys', 0);
      const o = (c.workerData ?? {}) as EchoWorkerOptions;
      flushSpinMs = o.flushSpinMs ?? 0;
      if (o.bootEvent !== undefined) c.emit({ shard: c.shard, value: o.bootEvent });
    },
    // Where a write-ahead log would be written; here it says how many answers it covered.
    beforeFlush: () => {
      if (flushSpinMs === 0 || shard === null) return;
      const until = performance.now() + flushSpinMs;
      while (performance.now() < until);
      shard.counters.set(shard.shard, 'flushedAnswers', shard.stats.requestsReceived - shard.stats.pending);
    },
    onShutdown: (c) => {
      c.counters.set(c.shard, 'shutdownMark', 1);
    },
  },
);
