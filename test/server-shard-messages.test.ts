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
} from '../src/shard/shard-messages.js';
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

describe('the scaler shard codec (shared-ring transport)', () => {
  it('round-trips every request, reply and event through one ring, keys interned', async () => {
    const { SCALER_SHARD_CODEC: codec } = await import('../src/shard/shard-codec.js');
    const { RingConsumer, RingProducer, WireReader, WireWriter, createRingBuffer } = await import('../src/sharding/index.js');
    const sab = createRingBuffer(1 << 16);
    const quiet = { records: (): void => {}, room: (): void => {} };
    const tx = new RingProducer(sab, quiet);
    const rx = new RingConsumer(sab, quiet);
    const w = new WireWriter(tx.buf);
    const r = new WireReader(rx.buf);
    const reqs: ShardRequest[] = [
      { op: ShardOp.Assign, rid: 'r-1', key: 'fn-ü', mem: 2 ** 40, rt: 'python3', to: 900 },
      { op: ShardOp.Idle, rid: 'r-1', key: 'fn-ü', iid: 'inst-1', nd: true, dur: 12.5 },
      { op: ShardOp.Cancel, rid: 'r-2', key: 'fn-ü' },
      { op: ShardOp.Assign, rid: '', key: 'k2', mem: 128, rt: 'python3', to: 0 },
    ];
    const events: ShardEvent[] = [
      { t: 'slot-created', slotId: 's-1', mem: 128, iid: 'inst-1', key: 'fn-ü' },
      { t: 'slot-destroyed', slotId: 's-1' },
      { t: 'journal-error', code: 'JOURNAL_CORRUPT', file: '/tmp/j/shard-0.journal', offset: 2 ** 33 + 5, message: 'bad CRC at frame 3' },
      // What a recovered slot's announcement carries: no key, no instance.
      { t: 'slot-created', slotId: 's-2', mem: 256, iid: '', key: '' },
    ];
    const sizes: number[] = [];
    for (const m of reqs) {
      const at = tx.reserve(codec.requestBytes(m));
      w.pos = at;
      codec.writeRequest(w, m);
      sizes.push(w.pos - at);
      tx.commit(w.pos);
    }
    for (const e of events) {
      w.pos = tx.reserve(codec.eventBytes(e));
      codec.writeEvent(w, e);
      tx.commit(w.pos);
    }
    w.pos = tx.reserve(codec.replyBytes('inst-9'));
    codec.writeReply(w, 'inst-9');
    tx.commit(w.pos);
    tx.publish();
    rx.begin();
    const got: unknown[] = [];
    for (let i = 0; i < reqs.length + events.length + 1; i++) {
      r.pos = rx.next();
      if (i < reqs.length) got.push(codec.readRequest(r));
      else if (i < reqs.length + events.length) got.push(codec.readEvent(r));
      else got.push(codec.readReply(r));
      expect(r.pos).toBe(rx.recordEnd);
    }
    expect(got).toEqual([...reqs, ...events, 'inst-9']);
    // The second message of a key carries 4 bytes for it, not the key.
    expect(sizes[1]! - sizes[0]!).toBeLessThan(0);
  });
});
