/**
 * A TCP proxy in front of the live platform that makes it unreachable on demand: while "down",
 * every open connection is reset and new ones are closed at once, so the scaler's gRPC channel
 * sees exactly what a dead platform looks like (UNAVAILABLE, reconnect backoff).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { FaultPlan } from '../live/fault-plan.js';

/** How often the proxy re-reads the plan's outage schedule. */
export const PROXY_TICK_MS = 20;

export interface FaultProxyOptions {
  /** `host:port` of the real platform. */
  readonly upstream: string;
  /** Listen host (port is ephemeral). */
  readonly host?: string;
}

export class FaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly upHost: string;
  private readonly upPort: number;
  private readonly host: string;
  private isDown = false;
  private ticker: NodeJS.Timeout | undefined;
  private boundPort = 0;
  /** Connections refused or reset while down. */
  refused = 0;
  /** Number of down transitions. */
  outages = 0;

  constructor(opts: FaultProxyOptions) {
    const i = opts.upstream.lastIndexOf(':');
    this.upHost = opts.upstream.slice(0, i);
    this.upPort = Number(opts.upstream.slice(i + 1));
    this.host = opts.host ?? '127.0.0.1';
  }

  get target(): string {
    return `${this.host}:${this.boundPort}`;
  }

  get down(): boolean {
    return this.isDown;
  }

  async start(): Promise<number> {
    const server = createServer((client) => this.onClient(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('FaultProxy: no port');
    this.boundPort = addr.port;
    this.server = server;
    return this.boundPort;
  }

  setDown(down: boolean): void {
    if (down === this.isDown) return;
    this.isDown = down;
    if (!down) return;
    this.outages++;
    for (const s of this.sockets) {
      this.refused++;
      s.resetAndDestroy();
    }
  }

  /** Follows `plan`'s unreachable windows, plan time = `now()`. */
  follow(plan: FaultPlan, now: () => number): void {
    this.stopFollowing();
    this.ticker = setInterval(() => this.setDown(plan.isUnreachable(now())), PROXY_TICK_MS);
    this.ticker.unref();
  }

  stopFollowing(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  async close(): Promise<void> {
    this.stopFollowing();
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((r) => server.close(() => r()));
  }

  private onClient(client: Socket): void {
    if (this.isDown) {
      this.refused++;
      client.resetAndDestroy();
      return;
    }
    const up = createConnection({ host: this.upHost, port: this.upPort });
    client.setNoDelay(true);
    up.setNoDelay(true);
    this.sockets.add(client);
    this.sockets.add(up);
    const drop = (): void => {
      this.sockets.delete(client);
      this.sockets.delete(up);
      client.destroy();
      up.destroy();
    };
    client.on('error', drop);
    up.on('error', drop);
    client.on('close', drop);
    up.on('close', drop);
    client.pipe(up);
    up.pipe(client);
  }
}
