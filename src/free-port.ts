import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

/** Ports are drawn at random from [FREE_PORT_LOW, the kernel's ephemeral range). */
export const FREE_PORT_LOW = 10_000;
/** Random draws before falling back to a kernel-chosen (ephemeral) port. */
export const FREE_PORT_ATTEMPTS = 20;
/** Linux's default ephemeral range starts here; used when /proc does not say. */
const DEFAULT_EPHEMERAL_LOW = 32_768;
/** Ports handed out lately are not handed out again (callers bind them a little later). */
const RECENT_PORTS = 64;
const recent: number[] = [];

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : DEFAULT_EPHEMERAL_LOW;
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
}

function tryListen(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, host, () => {
      const bound = (s.address() as AddressInfo).port;
      s.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port that was free a moment ago on `host`. Another process may take it before the
 * caller binds it: fine for tests and benchmarks, not for servers that can bind port 0
 * themselves. Drawn below the kernel's ephemeral range, because a port the kernel picked (port 0)
 * is also what it hands out as the local end of outgoing connections, which then took it back
 * between our check and the caller's bind.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const high = ephemeralLow();
  if (high - FREE_PORT_LOW > 1_000) {
    for (let i = 0; i < FREE_PORT_ATTEMPTS; i++) {
      const candidate = FREE_PORT_LOW + Math.floor(Math.random() * (high - FREE_PORT_LOW));
      if (recent.includes(candidate)) continue;
      const port = await tryListen(candidate, host);
      if (port !== undefined) return remember(port);
    }
  }
  const port = await tryListen(0, host);
  if (port === undefined) throw new Error(`no free TCP port on ${host}`);
  return remember(port);
}

function remember(port: number): number {
  recent.push(port);
  if (recent.length > RECENT_PORTS) recent.shift();
  return port;
}
