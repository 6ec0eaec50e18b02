/**
 * The simulator's HTTP statistics port (:9000 in the contest). Besides serving the live numbers,
 * its lifetime is a signal: the contest's entry script waits for it to appear before the run and
 * stops the scaler when it disappears, so it is opened at the start of a run and closed at the end.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const DEFAULT_STATS_ADDRESS = '127.0.0.1:9000';

export interface StatsServerOptions {
  /** `host:port`; port 0 binds an ephemeral port. */
  readonly address?: string;
  /** Produces the JSON body (the contest's field names) at request time. */
  readonly stats: () => object;
}

export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  if (i < 0) throw new Error(`address must be host:port (got ${JSON.stringify(address)})`);
  let host = address.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in ${JSON.stringify(address)}`);
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export class StatsServer {
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly stats: () => object;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;

  constructor(opts: StatsServerOptions) {
    const { host, port } = splitAddress(opts.address ?? DEFAULT_STATS_ADDRESS);
    this.host = host;
    this.requestedPort = port;
    this.stats = opts.stats;
  }

  get port(): number {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<number> {
    if (this.server !== undefined) throw new Error('StatsServer already started');
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(new Error(`StatsServer cannot listen on ${this.host}:${this.requestedPort}: ${e.message}`));
      server.once('error', onError);
      server.listen(this.requestedPort, this.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const addr = server.address();
    this.boundPort = addr !== null && typeof addr === 'object' ? addr.port : this.requestedPort;
    this.server = server;
    return this.boundPort;
  }

  /** Closes the port at once (keep-alive connections included): the port vanishing is the signal. */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path !== '/' && path !== '/stats') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    let body: string;
    try {
      body = JSON.stringify(this.stats());
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`stats unavailable: ${String(e)}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
