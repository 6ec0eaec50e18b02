/**
 * The scaler's main <-> shard messages survive a real MessageChannel (structured clone) intact,
 * inside the sharding layer's batch envelopes, with their discriminants and types preserved.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ShardOp,
  type AssignMessage,
  type CancelMessage,
  type IdleMessage,
  type ShardEvent,
  type ShardRequest,
  type ShardResponse,
  type ShardWorkerData,
} from '../src/shard-messages.js';
import { OutKind, type OutBatchMessage, type RequestBatchMessage } from '../src/sharding/index.js';

let ports: MessagePort[] = [];
afterEach(() => {
  for (const p of ports) p.close();
  ports = [];
});

/** Posts `msg` from one end of a fresh channel and resolves with what the other end received. */
function roundTrip<T>(msg: T): Promise<T> {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  return new Promise((resolve) => {
    port2.once('message', (m: T) => resolve(m));
    port1.postMessage(msg);
  });
}

describe('shard messages over a MessageChannel', () => {
  it('carries every request kind in one batch, in order, unchanged', async () => {
    const assign: AssignMessage = { op: ShardOp.Assign, rid: 'req-1', key: 'fn-α/β', mem: 2048, rt: 'python3.10', to: 900 };
    const idle: IdleMessage = { op: ShardOp.Idle, rid: 'req-1', key: 'fn-α/β', iid: 'ab12-0.3-1z', nd: true, dur: 123_456_789 };
    const cancel: CancelMessage = { op: ShardOp.Cancel, rid: 'req-2', key: '' };
    const batch: RequestBatchMessage<ShardRequest> = { type: 'requests', items: [[1, assign], [2, idle], [3, cancel]] };
    const got = await roundTrip(batch);
    expect(got).toEqual(batch);
    expect(got).not.toBe(batch);
    const kinds = got.items.map(([, body]) => body.op);
    expect(kinds).toEqual([ShardOp.Assign, ShardOp.Idle, ShardOp.Cancel]);
    const gotIdle = got.items[1]![1] as IdleMessage;
    expect(typeof gotIdle.nd).toBe('boolean');
    expect(typeof gotIdle.dur).toBe('number');
    // The ops are distinct small integers (cheap to clone and to switch on).
    expect(new Set(Object.values(ShardOp)).size).toBe(3);
  });

  it('carries replies, error replies and slot events in production order', async () => {
    const created: ShardEvent = { t: 'slot-created', slotId: 'slot-7', mem: 512, iid: 'x-0.0-a', key: 'fn' };
    const destroyed: ShardEvent = { t: 'slot-destroyed', slotId: 'slot-7' };
    const out: OutBatchMessage<ShardResponse, ShardEvent> = {
      type: 'out',
      items: [
        [OutKind.Event, created],
        [OutKind.Reply, 1, 'x-0.0-a'],
        [OutKind.Reply, 2, ''],
        [OutKind.Error, 3, 'NOT_FOUND', 'unknown instance "zz"'],
        [OutKind.Event, destroyed],
      ],
    };
    expect(await roundTrip(out)).toEqual(out);
  });

  it('carries the worker bootstrap data, orphan slots included', async () => {
    const wd: ShardWorkerData = {
      platformAddress: '127.0.0.1:50051',
      policy: 'fixed',
      keepAliveMs: undefined,
      logLevel: 'warn',
      instancePrefix: 'a1b2c3-1.2-',
      orphanSlots: [
        ['slot-1', 128],
        ['slot-2', 30_720],
      ],
      journalPath: '/tmp/scaler-journal-9001/shard-1.journal',
    };
    const got = await roundTrip(wd);
    expect(got).toEqual(wd);
    expect('keepAliveMs' in got).toBe(true);
  });
});
