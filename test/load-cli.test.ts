// Runs the compiled scripts (build first: `npm test` does it via pretest).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const dist = fileURLToPath(new URL('../dist/scripts/', import.meta.url));
const LOADGEN = `${dist}loadgen.js`;
const NOOP = `${dist}noop-scaler.js`;

describe('loadgen and noop-scaler scripts', () => {
  let noop: ChildProcess;
  let port = 0;
  beforeAll(async () => {
    noop = spawn(process.execPath, [NOOP, '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      noop.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on [^:]+:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      noop.once('exit', (code) => reject(new Error(`noop-scaler exited ${code}`)));
    });
  }, 20_000);
  afterAll(() => {
    if (noop.exitCode === null) noop.kill('SIGTERM');
  });

  it('--json prints one machine-readable line with the run', { timeout: 30_000 }, async () => {
    for (const client of ['raw', 'grpc-js']) {
      const { stdout } = await run(process.execPath, [
        LOADGEN, '--target', `127.0.0.1:${port}`, '--client', client, '--count', '300', '--concurrency', '8',
        '--keys', '50', '--zipf', '1.1', '--pid', String(noop.pid), '--json',
      ]);
      const lines = stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const r = JSON.parse(lines[0]!) as Record<string, unknown> & { pair: { count: number }; target: { pid: number } };
      expect(r).toMatchObject({ client, mode: 'closed', pairsOk: 300, pairsStarted: 300, errorCount: 0, keys: 50, distribution: 'zipf' });
      expect(r.pair.count).toBe(300);
      expect(r.target.pid).toBe(noop.pid);
    }
  });

  it('prints a human report for an open-loop run', { timeout: 30_000 }, async () => {
    const { stdout } = await run(process.execPath, [
      LOADGEN, '--target', `127.0.0.1:${port}`, '--mode', 'open', '--rate', '200', '--duration', '500ms', '--hot',
    ]);
    expect(stdout).toMatch(/open loop, 100\/100 pairs ok/);
    expect(stdout).toMatch(/pair\s+n=100\s+p50 [\d.]+\s+p90 [\d.]+\s+p99 [\d.]+\s+max [\d.]+ ms/);
    expect(stdout).toMatch(/errors\s+0/);
  });

  it('exits 1 when the target is down, 2 on bad usage, 0 on --help', { timeout: 30_000 }, async () => {
    await expect(run(process.execPath, [LOADGEN, '--target', '127.0.0.1:1', '--count', '5'])).rejects.toMatchObject({ code: 1 });
    await expect(run(process.execPath, [LOADGEN, '--mode', 'open'])).rejects.toMatchObject({ code: 2 });
    await expect(run(process.execPath, [LOADGEN, '--target', 'x:1', '--mode', 'open'])).rejects.toMatchObject({ code: 2 });
    // A duration without its unit is refused, saying which units are accepted.
    await expect(run(process.execPath, [LOADGEN, '--target', `127.0.0.1:${port}`, '--duration', '10'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--duration "10" has no unit; write it with one of ms, s, m, h or d/),
    });
    const { stdout } = await run(process.execPath, [LOADGEN, '--help']);
    expect(stdout).toMatch(/--client grpc-js\|raw/);
  });
});
