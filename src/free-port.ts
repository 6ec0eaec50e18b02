import { createServer, type AddressInfo } from 'node:net';

/**
 * A TCP port that was free a moment ago on `host` (listen on 0, read it back, close). Another
 * process may take it before the caller binds it: fine for tests and benchmarks, not for servers
 * that can bind port 0 themselves.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
