/**
 * How the scaler's shard messages (`shard-messages.ts`) cross the sharding layer's shared rings:
 * field by field, function keys and runtimes interned (sent in full once per worker generation,
 * then as a 4-byte id), request and instance ids as plain UTF-8.
 */
import { internedBytes, strBytes, type ShardCodec, type WireReader, type WireWriter } from '../sharding/index.js';
import { ShardOp, type ShardEvent, type ShardRequest, type ShardResponse } from './shard-messages.js';

const EVENT_SLOT_CREATED = 0;
const EVENT_SLOT_DESTROYED = 1;
const EVENT_JOURNAL_ERROR = 2;

export const SCALER_SHARD_CODEC: ShardCodec<ShardRequest, ShardResponse, ShardEvent> = {
  requestBytes(m: ShardRequest): number {
    const common = 1 + strBytes(m.rid) + internedBytes(m.key);
    switch (m.op) {
      case ShardOp.Assign:
        return common + 16 + internedBytes(m.rt);
      case ShardOp.Idle:
        return common + strBytes(m.iid) + 9;
      default:
        return common;
    }
  },
  writeRequest(w: WireWriter, m: ShardRequest): void {
    w.u8(m.op);
    w.str(m.rid);
    w.interned(m.key);
    if (m.op === ShardOp.Assign) {
      w.f64(m.mem);
      w.interned(m.rt);
      w.f64(m.to);
    } else if (m.op === ShardOp.Idle) {
      w.str(m.iid);
      w.bool(m.nd);
      w.f64(m.dur);
    }
  },
  readRequest(r: WireReader): ShardRequest {
    const op = r.u8();
    const rid = r.str();
    const key = r.interned();
    if (op === ShardOp.Assign) {
      const mem = r.f64();
      const rt = r.interned();
      return { op, rid, key, mem, rt, to: r.f64() };
    }
    if (op === ShardOp.Idle) {
      const iid = r.str();
      const nd = r.bool();
      return { op, rid, key, iid, nd, dur: r.f64() };
    }
    if (op === ShardOp.Cancel) return { op, rid, key };
    throw new RangeError(`unknown shard op ${op}`);
  },
  replyBytes: (res: ShardResponse) => strBytes(res),
  writeReply: (w: WireWriter, res: ShardResponse) => w.str(res),
  readReply: (r: WireReader) => r.str(),
  eventBytes(ev: ShardEvent): number {
    switch (ev.t) {
      case 'slot-created':
        return 1 + strBytes(ev.slotId) + 8 + strBytes(ev.iid) + internedBytes(ev.key);
      case 'slot-destroyed':
        return 1 + strBytes(ev.slotId);
      case 'journal-error':
        return 1 + strBytes(ev.code) + strBytes(ev.file) + 8 + strBytes(ev.message);
    }
  },
  writeEvent(w: WireWriter, ev: ShardEvent): void {
    switch (ev.t) {
      case 'slot-created':
        w.u8(EVENT_SLOT_CREATED);
        w.str(ev.slotId);
        w.f64(ev.mem);
        w.str(ev.iid);
        w.interned(ev.key);
        return;
      case 'slot-destroyed':
        w.u8(EVENT_SLOT_DESTROYED);
        w.str(ev.slotId);
        return;
      case 'journal-error':
        // Rare (a journal that could not be used as it was): plain strings, nothing interned.
        w.u8(EVENT_JOURNAL_ERROR);
        w.str(ev.code);
        w.str(ev.file);
        w.f64(ev.offset);
        w.str(ev.message);
    }
  },
  readEvent(r: WireReader): ShardEvent {
    const t = r.u8();
    if (t === EVENT_JOURNAL_ERROR) {
      const code = r.str();
      const file = r.str();
      const offset = r.f64();
      return { t: 'journal-error', code, file, offset, message: r.str() };
    }
    const slotId = r.str();
    if (t === EVENT_SLOT_DESTROYED) return { t: 'slot-destroyed', slotId };
    if (t !== EVENT_SLOT_CREATED) throw new RangeError(`unknown shard event ${t}`);
    const mem = r.f64();
    const iid = r.str();
    return { t: 'slot-created', slotId, mem, iid, key: r.interned() };
  },
};
