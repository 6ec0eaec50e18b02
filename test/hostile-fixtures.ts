/**
 * Shared by the bad-peer suite (test/hostile-*.test.ts): HTTP/2 frames and HPACK bytes written
 * by hand (a hostile peer sends what no library would), a whole scaler in a child process with
 * its log and RSS, and its `/metrics` counters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { SCALER_MAIN, freePort, waitForPort } from '../src/load/bench-harness.js';

export const FRAME_HEADER_BYTES = 9;
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const F = { Data: 0, Headers: 1, RstStream: 3, Settings: 4, Ping: 6, Goaway: 7, WindowUpdate: 8, Continuation: 9 } as const;
export const FLAG = { EndStream: 0x1, Ack: 0x1, EndHeaders: 0x4, Padded: 0x8 } as const;
export const H2 = { NO_ERROR: 0, PROTOCOL_ERROR: 1, FLOW_CONTROL_ERROR: 3, FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 0xb } as const;

export function frame(type: number, flags: number, sid: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(sid, 5);
  payload.copy(b, FRAME_HEADER_BYTES);
  return b;
}

export function settings(pairs: ReadonlyArray<readonly [number, number]>, sid = 0): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(F.Settings, 0, sid, p);
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** HPACK literal without indexing, new name (plain strings under 127 bytes). */
export function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name, 'latin1'), Buffer.from([value.length]), Buffer.from(value, 'latin1')]);
}
/** `:status: 200` (static index 8) and `content-type: application/grpc`. */
export const GRPC_RESPONSE_HEADERS = Buffer.concat([Buffer.from([0x88]), literal('content-type', 'application/grpc')]);
export const GRPC_OK_TRAILERS = literal('grpc-status', '0');

/**
 * Incoming frames of a raw connection, parsed as they arrive (after an optional client preface):
 * the first HEADERS' stream id, and every GOAWAY's error code.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private prefaceLeft: number;
  readonly goaways: number[] = [];
  readonly frames: { type: number; flags: number; sid: number; payload: Buffer }[] = [];
  onFrame: ((type: number, flags: number, sid: number, payload: Buffer) => void) | null = null;

  constructor(expectPreface: boolean) {
    this.prefaceLeft = expectPreface ? PREFACE.length : 0;
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, this.buf.length);
      this.buf = this.buf.subarray(n);
      this.prefaceLeft -= n;
    }
    while (this.buf.length >= FRAME_HEADER_BYTES) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < FRAME_HEADER_BYTES + len) break;
      const type = this.buf[3]!;
      const flags = this.buf[4]!;
      const sid = this.buf.readUInt32BE(5) & 0x7fff_ffff;
      const payload = Buffer.from(this.buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + len));
      this.buf = this.buf.subarray(FRAME_HEADER_BYTES + len);
      if (type === F.Goaway && payload.length >= 8) this.goaways.push(payload.readUInt32BE(4));
      if (this.frames.length < 10_000) this.frames.push({ type, flags, sid, payload });
      this.onFrame?.(type, flags, sid, payload);
    }
  }
}

/** Resident set size of a process (all its threads), in bytes. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? NaN : Number(m[1]) * 1024;
}

/** Samples a process's RSS every `everyMs` until stopped; `peak` is the largest seen. */
export class RssSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number, everyMs = 20) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  sample(): void {
    try {
      this.peak = Math.max(this.peak, rssOf(this.pid));
    } catch {
      // exited
    }
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

export interface SpawnedScaler {
  readonly child: ChildProcess;
  readonly port: number;
  readonly statsPort: number;
  readonly pid: number;
  /** Everything it logged (stdout + stderr) so far. */
  log(): string;
  stop(): Promise<void>;
}

/** `dist/src/main.js` on ephemeral ports, its log captured (level `warn` unless `args` says otherwise). */
export async function spawnScaler(args: string[]): Promise<SpawnedScaler> {
  const port = await freePort();
  const statsPort = await freePort();
  const child = spawn(process.execPath, [SCALER_MAIN, '--address', `127.0.0.1:${port}`, '--stats-port', String(statsPort), '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-200_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  await waitForPort(port, child, 'scaler');
  await waitForPort(statsPort, child, 'scaler stats');
  return {
    child,
    port,
    statsPort,
    pid: child.pid!,
    log: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 8_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      })
      .once('error', reject);
  });
}

/** Sum of `scaler_peer_limits_total` series matching `side` and `limit`. */
export async function peerLimitCount(statsPort: number, side: string, limit: string): Promise<number> {
  const text = await httpGet(statsPort, '/metrics');
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('scaler_peer_limits_total{')) continue;
    if (!line.includes(`side="${side}"`) || !line.includes(`limit="${limit}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export const MiB = 1024 * 1024;
