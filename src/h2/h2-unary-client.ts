/**
 * The project's one raw HTTP/2 unary gRPC client: a few `H2Connection`s to one address, calls
 * spread round-robin, reconnecting with backoff. The shard workers' platform client
 * (`src/platform/raw-h2-platform-client.ts`) and the load generator (`src/load/raw-h2-client.ts`)
 * are thin layers over it that encode their messages and map its outcomes.
 *
 * A call's outcome arrives once through `done(call)`, never synchronously: `call.grpcStatus`
 * (-1 if none arrived), `grpcMessage`, `body`, `httpStatus`, `contentType`, and for calls that
 * ended without a status `failure` (text), `localCode` (a gRPC code this client assigned:
 * deadline, oversized reply) and `resetCode` (RST_STREAM / GOAWAY).
 */
import { H2Call, type H2CallDone, type H2Method } from './h2-call.js';
import { H2Connection, type H2ConnectionEvents } from './h2-connection.js';
import type { H2ConnectionLimits } from './h2-limits.js';

export const H2_DEFAULT_CONNECTIONS = 1;
/** Reconnect backoff after a failed connection attempt (as a grpc-js channel's defaults here). */
export const H2_INITIAL_BACKOFF_MS = 100;
export const H2_MAX_BACKOFF_MS = 1_000;
/** Replies above this are refused (RESOURCE_EXHAUSTED): a broken or hostile server. */
export const H2_DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024;
/** After `close()`, how long calls in flight may still finish before their connections are cut. */
export const H2_CLOSE_GRACE_MS = 2_000;

export interface H2UnaryClientOptions {
  /** `host:port`. */
  readonly address: string;
  readonly connections?: number;
  readonly maxReplyBytes?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** What a peer may make each connection hold, and who hears when a limit fires (src/h2/h2-limits.ts). */
  readonly limits?: H2ConnectionLimits;
}

export class H2UnaryClient implements H2ConnectionEvents {
  private readonly host: string;
  private readonly port: number;
  private readonly slots: (H2Connection | null)[];
  private next = 0;
  private readonly maxReplyBytes: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly limits: H2ConnectionLimits | undefined;
  private backoffMs = 0;
  /** No new connection attempt before this time (performance clock). */
  private retryAtMs = 0;
  private closed = false;
  private readonly connectWaiters: { resolve: () => void; reject: (e: Error) => void; conn: H2Connection }[] = [];
  /** Connections opened so far (reconnects included). */
  sessionsOpened = 0;
  lastSessionError: Error | null = null;

  constructor(opts: H2UnaryClientOptions) {
    const i = opts.address.lastIndexOf(':');
    if (i <= 0) throw new TypeError(`address must be host:port, got "${opts.address}"`);
    this.host = opts.address.slice(0, i).replace(/^\[|\]$/g, '');
    this.port = Number(opts.address.slice(i + 1));
    this.slots = new Array<H2Connection | null>(Math.max(1, Math.floor(opts.connections ?? H2_DEFAULT_CONNECTIONS))).fill(null);
    this.maxReplyBytes = opts.maxReplyBytes ?? H2_DEFAULT_MAX_REPLY_BYTES;
    this.initialBackoffMs = opts.initialBackoffMs ?? H2_INITIAL_BACKOFF_MS;
    this.maxBackoffMs = opts.maxBackoffMs ?? H2_MAX_BACKOFF_MS;
    this.authority = opts.address;
    this.limits = opts.limits;
  }

  private readonly authority: string;

  /** Opens every connection now; resolves once all are connected (calls also connect lazily). */
  connect(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (let i = 0; i < this.slots.length; i++) {
      const c = this.connectionAt(i, true);
      if (c === null || c.connected) continue;
      waits.push(new Promise((resolve, reject) => this.connectWaiters.push({ resolve, reject, conn: c })));
    }
    return Promise.all(waits).then(() => undefined);
  }

  /**
   * Starts a unary call of `method` with the complete gRPC frame `message`; `deadlineMs` > 0
   * ends it with `localCode` DEADLINE_EXCEEDED (and resets its stream) when it runs out.
   */
  call(method: H2Method, message: Buffer, deadlineMs: number, done: H2CallDone, user: unknown, aux = 0): void {
    const call = new H2Call(method, done, user, aux);
    if (this.closed) return failLater(call, 'client closed');
    const conn = this.pick();
    if (conn === null) return failLater(call, 'unreachable (reconnecting)');
    if (!conn.start(call, message, deadlineMs)) failLater(call, 'connection is closing');
  }

  /** Stops new calls (they fail); calls in flight get a short grace, then are cut. */
  close(graceMs = H2_CLOSE_GRACE_MS): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = 0; i < this.slots.length; i++) {
      const c = this.slots[i];
      this.slots[i] = null;
      c?.close(graceMs);
    }
  }

  private pick(): H2Connection | null {
    const i = this.next;
    this.next = i + 1 === this.slots.length ? 0 : i + 1;
    return this.connectionAt(i, false);
  }

  private connectionAt(i: number, ignoreBackoff: boolean): H2Connection | null {
    const existing = this.slots[i];
    if (existing !== null && existing !== undefined && !existing.draining) return existing;
    this.slots[i] = null;
    if (!ignoreBackoff && performance.now() < this.retryAtMs) return null;
    const c = new H2Connection(this.host, this.port, this.authority, this.maxReplyBytes, this, this.limits);
    this.sessionsOpened++;
    this.slots[i] = c;
    return c;
  }

  // ---- H2ConnectionEvents ------------------------------------------------------------------

  onConnect(conn: H2Connection): void {
    this.backoffMs = 0;
    this.retryAtMs = 0;
    for (let i = this.connectWaiters.length - 1; i >= 0; i--) {
      const w = this.connectWaiters[i]!;
      if (w.conn !== conn) continue;
      this.connectWaiters.splice(i, 1);
      w.resolve();
    }
  }

  onGoaway(conn: H2Connection): void {
    this.forget(conn);
  }

  onClose(conn: H2Connection, connected: boolean, err: Error | null): void {
    this.forget(conn);
    if (err !== null) this.lastSessionError = err;
    // Only a failed attempt backs off; a connection that worked and then dropped (a restart) is
    // retried by the next call at once, as a grpc-js channel does.
    if (!connected) {
      this.backoffMs = this.backoffMs === 0 ? this.initialBackoffMs : Math.min(this.maxBackoffMs, this.backoffMs * 2);
      this.retryAtMs = performance.now() + this.backoffMs;
    }
    for (let i = this.connectWaiters.length - 1; i >= 0; i--) {
      const w = this.connectWaiters[i]!;
      if (w.conn !== conn) continue;
      this.connectWaiters.splice(i, 1);
      w.reject(err ?? new Error('connection closed before it was established'));
    }
  }

  private forget(conn: H2Connection): void {
    for (let i = 0; i < this.slots.length; i++) if (this.slots[i] === conn) this.slots[i] = null;
  }
}

function failLater(call: H2Call, why: string): void {
  call.failure = why;
  call.settled = true;
  // Callers may start another call from their callback: never call them back re-entrantly.
  setImmediate(call.done, call);
}
