/**
 * Codec of the example echo shard for the shared-ring transport: every message as JSON text
 * (the example's values are arbitrary). A real embedder writes its fields one by one (see the
 * scaler's `src/shard-codec.ts`); JSON keeps the example short.
 */
import { strBytes, type ShardCodec, type WireReader, type WireWriter } from '../shard-wire.js';
import type { EchoEvent, EchoRequest } from './echo-protocol.js';

function json(v: unknown): string {
  return v === undefined ? '' : JSON.stringify(v);
}

function parse(s: string): unknown {
  return s === '' ? undefined : JSON.parse(s);
}

export const ECHO_CODEC: ShardCodec<EchoRequest, unknown, EchoEvent> = {
  requestBytes: (body) => strBytes(json(body)),
  writeRequest: (w: WireWriter, body) => w.str(json(body)),
  readRequest: (r: WireReader) => parse(r.str()) as EchoRequest,
  replyBytes: (res) => strBytes(json(res)),
  writeReply: (w, res) => w.str(json(res)),
  readReply: (r) => parse(r.str()),
  eventBytes: (ev) => strBytes(json(ev)),
  writeEvent: (w, ev) => w.str(json(ev)),
  readEvent: (r) => parse(r.str()) as EchoEvent,
};
