/**
 * SIGTERM after the platform has gone away must still end the scaler process within a few
 * seconds, on its own (exit 0, not the hard-limit backstop): reported as a scaler that stayed up
 * for minutes. Runs the real scaler (`dist/src/main.js`, 2 shard workers) against an in-test
 * platform stand-in, gives it idle, busy and initialising instances, closes the platform, then
 * sends SIGTERM and times the exit.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SlotPhase } from '../src/journal/journal-format.js';
import { readJournalFile } from '../src/journal/journal-reader.js';
import { JournalState } from '../src/journal/journal-state.js';
import { PlatformServer } from '../src/sim/live/platform-server.js';
import { RawH2Client } from '../src/load/raw-h2-client.js';
import { ChildSet, startScaler, type ScalerChild } from '../src/load/bench-harness.js';

/** Budgets of close(): 5 s gRPC grace + 5 s router close (see src/main.ts SHUTDOWN_HARD_LIMIT_MS). */
const CLOSE_BUDGET_MS = 10_000;
/** Slack for a loaded 2-core CI machine. */
const EXIT_SLACK_MS = 1_500;

let children: ChildSet | undefined;
let platform: PlatformServer | undefined;
let client: RawH2Client | undefined;
let journalDir: string | undefined;

afterEach(async () => {
  client?.close();
  await children?.stopAll();
  await platform?.close();
  client = undefined;
  children = undefined;
  platform = undefined;
  if (journalDir !== undefined) rmSync(journalDir, { recursive: true, force: true });
  journalDir = undefined;
});

/** The slots the scaler's journal still holds, per phase (after it stopped). */
function journaled(dir: string): Map<number, number> {
  const st = new JournalState();
  for (const name of readdirSync(dir)) if (name.endsWith('.journal')) readJournalFile(join(dir, name), st);
  const byPhase = new Map<number, number>();
  for (const s of st.slots.values()) byPhase.set(s.phase, (byPhase.get(s.phase) ?? 0) + 1);
  return byPhase;
}

function assign(c: RawH2Client, key: string, rid: string): Promise<string> {
  return new Promise((resolve, reject) => {
    c.assign(key, rid, 128, (err, out) => (err !== null || out === null || out.status !== 0 ? reject(err ?? new Error(`status ${out?.status}`)) : resolve(out.instanceId)));
  });
}

function idle(c: RawH2Client, key: string, rid: string, iid: string): Promise<void> {
  return new Promise((resolve, reject) => {
    c.idle(key, rid, iid, (err, status) => (err !== null || status !== 0 ? reject(err ?? new Error(`status ${status}`)) : resolve()));
  });
}

/** SIGTERM and wait for the exit (SIGKILL after 60 s so a hang fails the test, not the run). */
function terminate(s: ScalerChild): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const kill = setTimeout(() => s.child.kill('SIGKILL'), 60_000);
    s.child.once('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, ms: Date.now() - t0 });
    });
    s.child.kill('SIGTERM');
  });
}

async function setup(initMs: number): Promise<ScalerChild> {
  platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: 5, initDurationMs: (m) => (m.key.startsWith('slow-') ? initMs : 0) });
  const port = await platform.start();
  children = new ChildSet();
  journalDir = mkdtempSync(join(tmpdir(), 'shutdown-bounded-'));
  const s = await startScaler(children, 'scaler', { platformAddress: `127.0.0.1:${port}`, shards: 2, extraArgs: ['--journal', journalDir] });
  client = new RawH2Client({ target: `127.0.0.1:${s.port}` });
  await client.connect();
  return s;
}

describe('scaler shutdown with the platform gone', () => {
  it('idle and busy instances: exits 0 within the close budget', { timeout: 40_000 }, async () => {
    const s = await setup(0);
    const c = client!;
    for (let i = 0; i < 20; i++) {
      const iid = await assign(c, `fn-${i}`, `r-${i}`);
      if (i % 2 === 0) await idle(c, `fn-${i}`, `r-${i}`, iid); // odd ones stay busy
    }
    expect(platform!.liveSlotCount).toBeGreaterThanOrEqual(10); // the policy may already have released some
    const alive = platform!.liveSlotCount;
    await platform!.close();
    const { code, ms } = await terminate(s);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(CLOSE_BUDGET_MS + EXIT_SLACK_MS);
    // The slots it could not destroy stay in its journal, retired, for the next start to destroy.
    expect(journaled(journalDir!)).toEqual(new Map([[SlotPhase.Retired, alive]]));
  });

  it('Assigns waiting on Inits that will never answer: exits 0 within the close budget', { timeout: 40_000 }, async () => {
    const s = await setup(120_000);
    const c = client!;
    const waiting: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) waiting.push(assign(c, `slow-${i}`, `w-${i}`).catch((e: unknown) => e));
    // Let the cold starts reach Init on the platform.
    const deadline = Date.now() + 5_000;
    while (platform!.instances.size < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(platform!.instances.size).toBe(50);
    await platform!.close();
    const { code, ms } = await terminate(s);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(CLOSE_BUDGET_MS + EXIT_SLACK_MS);
    // Every waiting call ended (with an error status): none is left hanging on the client.
    const outcomes = await Promise.all(waiting);
    expect(outcomes.every((o) => o instanceof Error)).toBe(true);
  });
});
