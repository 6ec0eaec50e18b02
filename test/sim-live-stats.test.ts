/**
 * The :9000 statistics server: routes, JSON body computed per request, and the port vanishing
 * (keep-alive connections included) on close, which is the end-of-run signal.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { StatsServer, splitAddress } from '../src/sim/live/stats-server.js';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('StatsServer', () => {
  it('serves fresh JSON on / and /stats, 404 elsewhere, and disappears on close', async () => {
    let n = 0;
    const server = new StatsServer({ address: '127.0.0.1:0', stats: () => ({ totalRequestsCount: ++n, score: 1.5 }) });
    const port = await server.start();
    expect(port).toBeGreaterThan(0);
    const a = await fetch(`http://127.0.0.1:${port}/`);
    expect(a.headers.get('content-type')).toBe('application/json');
    expect(await a.json()).toEqual({ totalRequestsCount: 1, score: 1.5 });
    expect(await (await fetch(`http://127.0.0.1:${port}/stats`)).json()).toEqual({ totalRequestsCount: 2, score: 1.5 });
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/`, { method: 'POST' })).status).toBe(405);
    // fetch keeps connections alive; close must not wait for them.
    const t0 = performance.now();
    await server.close();
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(await refused(port)).toBe(true);
    expect(server.listening).toBe(false);
  });

  it('parses host:port addresses', () => {
    expect(splitAddress('127.0.0.1:9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(splitAddress(':9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(splitAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => splitAddress('9000')).toThrow(/host:port/);
  });
});
