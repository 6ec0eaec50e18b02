import type * as grpc from '@grpc/grpc-js';

/** gRPC server limits, set deliberately (see README "Reliability"). */
export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  // An Assign or Idle is < 1 KiB (ids and keys are capped at 1 KiB each by validation): 64 KiB
  // leaves room and stops a client from making us buffer megabytes (RESOURCE_EXHAUSTED).
  'grpc.max_receive_message_length': 64 * 1024,
  'grpc.max_send_message_length': 64 * 1024,
  // The simulator multiplexes thousands of concurrent calls (cold starts wait seconds) on one
  // connection; the per-shard Assign bound, not HTTP/2, is what sheds load.
  'grpc.max_concurrent_streams': 100_000,
  // Detect a dead client within ~80 s so its calls are cancelled and their instances freed.
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.keepalive_permit_without_calls': 1,
  // Accept client pings down to every 5 s rather than answering GOAWAY (too_many_pings).
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
};
