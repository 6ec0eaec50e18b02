/**
 * `dist/scripts/evaluate.js` as users run it (needs `npm test`'s build): virtual JSON output,
 * argument errors, and one live run of our scaler on the smoke set on non-default ports.
 */
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/free-port.js';

const EVALUATE = fileURLToPath(new URL('../dist/scripts/evaluate.js', import.meta.url));
const SMOKE_DIR = fileURLToPath(new URL('../datasets/function_smoke_test', import.meta.url));

function evaluateSync(args: string[]): { status: number | null; stdout: string; stderr: string } {
  // From another cwd: the script must find the dataset and the scaler from its own location.
  const r = spawnSync(process.execPath, [EVALUATE, ...args], { cwd: '/', encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function evaluateAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [EVALUATE, ...args], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}


/** The cost split of a JSON line adds up to its totals (src/sim/scoring/cost-split.ts). */
function expectSplitAddsUp(line: Record<string, unknown>): { latency: Record<string, number>; resource: Record<string, number> } {
  const split = line.split as { latency: Record<string, number>; resource: Record<string, number> };
  const l = split.latency;
  const r = split.resource;
  expect(l.overheadSecs! + l.busyWaitSecs! + l.coldStartSecs! + l.failedSecs! + l.unclassifiedSecs!).toBeCloseTo(line.invocationScheduleTimeInSecs as number, 6);
  expect(l.hits! + l.busyWaits! + l.coldStarts! + l.failed! + l.unclassified!).toBe(line.totalRequestsCount);
  expect(r.usefulGBs! + r.idleKeepGBs! + r.keptAfterLastGBs! + r.coldStartGBs! + r.prewarmGBs! + r.hedgeGBs! + r.failedStartGBs!).toBeCloseTo(line.totalSlotTimeInGBs as number, 6);
  return split;
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('evaluate CLI', () => {
  it('--virtual --json prints one line for the smoke set and a summary', () => {
    const r = evaluateSync(['--virtual', '--json', '--tail', '5s', '--policy', 'fixed-5m']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [line, summary, ...rest] = jsonLines(r.stdout);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({
      dataset: 'function_smoke_test',
      mode: 'virtual',
      policy: 'fixed-5m',
      tailMs: 5000,
      comparable: false,
      totalRequestsCount: 980,
      failedRequestsCount: 0,
      successRate: 1,
      leakedSlots: 0,
      passesGate: true,
    });
    const score = line!.score as number;
    expect(score).toBeGreaterThan(0);
    expect(score).toBeCloseTo((line!.resourceHalf as number) + (line!.latencyHalf as number), 9);
    const bound = line!.bound as { score: number };
    expect(bound.score).toBeGreaterThan(score);
    expect(line!.boundFraction).toBeCloseTo(score / bound.score, 9);
    expect(summary).toMatchObject({ summary: true, datasets: 1, pass: true, mode: 'virtual' });
    expect(summary!.meanScore).toBeCloseTo(score, 9);
    const split = expectSplitAddsUp(line!);
    expect(split.latency.unclassified).toBe(0);
    // Every Idle costs the floor; a hit costs it too, plus the moments some wait for a release.
    const floor = line!.callOverhead as { assignMs: number; idleMs: number };
    expect(split.latency.idleCallMeanMs).toBeCloseTo(floor.idleMs, 9);
    expect(split.latency.hitAssignMeanMs).toBeGreaterThanOrEqual(floor.assignMs - 1e-9);
  }, 60_000);

  it('--call-overhead sets the virtual per-call floor (0 disables it) and is refused live', () => {
    const run = (floor: string): Record<string, unknown> => {
      const r = evaluateSync(['--virtual', '--json', '--tail', '5s', '--policy', 'fixed-5m', '--no-hindsight', '--call-overhead', floor]);
      expect(r.status, r.stderr).toBe(0);
      return jsonLines(r.stdout)[0]!;
    };
    const free = run('0');
    const dear = run('2,3');
    expect(free.callOverhead).toEqual({ assignMs: 0, idleMs: 0 });
    expect((free.split as { latency: { overheadSecs: number } }).latency.overheadSecs).toBe(0);
    const l = expectSplitAddsUp(dear).latency;
    expect(l.hitAssignMeanMs).toBeCloseTo(2, 9);
    expect(l.idleCallMeanMs).toBeCloseTo(3, 9);
    expect(dear.latencyHalf as number).toBeLessThan(free.latencyHalf as number);
    const live = evaluateSync(['--call-overhead', '1']);
    expect(live.status).toBe(2);
    expect(live.stderr).toMatch(/--call-overhead applies to virtual runs only/);
    const bad = evaluateSync(['--virtual', '--call-overhead', '1,x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--call-overhead expects/);
  }, 60_000);

  it('--from/--for replay only that window of the trace: the bound and the hindsight reference too', () => {
    const all = jsonLines(evaluateSync(['--virtual', '--json', '--tail', '1s', '--policy', 'fixed-5m']).stdout)[0]!;
    const r = evaluateSync(['--virtual', '--json', '--tail', '1s', '--policy', 'fixed-5m', '--from', '2s', '--for', '3s']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const line = jsonLines(r.stdout)[0]!;
    expect(line.window).toEqual({ fromMs: 2000, forMs: 3000 });
    const n = line.totalRequestsCount as number;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(all.totalRequestsCount as number);
    expect((line.bound as { score: number }).score).not.toBeCloseTo((all.bound as { score: number }).score, 3);
    // The reference is a keep-alive policy's best: never below a fixed keep-alive's score on the same window.
    const h = line.hindsight as { score: number; resourceHalf: number; latencyHalf: number };
    expect(h.score).toBeCloseTo(h.resourceHalf + h.latencyHalf, 9);
    expect(h.score).toBeGreaterThanOrEqual((line.score as number) - 1e-9);
  }, 60_000);

  it('--data twice scores each dataset and reports the mean', () => {
    const r = evaluateSync(['--virtual', '--json', '--tail', '1s', '--data', SMOKE_DIR, '--data', SMOKE_DIR]);
    expect(r.status).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines).toHaveLength(3);
    const mean = ((lines[0]!.score as number) + (lines[1]!.score as number)) / 2;
    expect(lines[2]!.meanScore).toBeCloseTo(mean, 9);
  }, 60_000);

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--virtual', '--scaler-cmd', 'true'], /cannot be combined with --virtual/],
    [['--virtual', '--speed', '2'], /live runs only/],
    [['--tail', 'soon'], /--tail "soon" is not a duration/],
    [['--tail', '30'], /--tail "30" has no unit/],
    [['--speed', '0'], /--speed expects a positive number/],
    [['--policy', 'nope'], /unknown policy "nope"/],
    [['--policy', 'adaptive(warp=on)'], /adaptive has no switch "warp"/],
    [['--from', '5'], /--from "5" has no unit/],
    [['--for', '0s'], /--for needs a positive duration/],
    [['--platform-address', 'localhost'], /--platform-address expects HOST:PORT/],
    [['--data', '/nonexistent-dataset'], /not a dataset folder/],
    [['stray'], /Unexpected argument 'stray'/],
  ])('rejects %j with exit 2', (args, message) => {
    const r = evaluateSync(args as string[]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  it('--help exits 0 with the options', () => {
    const r = evaluateSync(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--scaler-cmd CMD/);
    expect(r.stdout).toMatch(/--platform-address/);
  });

  it('live: our scaler on the smoke set serves every request and leaks no slot', async () => {
    const [scalerPort, statsPort] = [await freePort(), await freePort()];
    const r = await evaluateAsync([
      '--tail',
      '1s',
      '--json',
      '--scaler-address',
      `127.0.0.1:${scalerPort}`,
      '--platform-address',
      '127.0.0.1:0',
      '--stats-address',
      `127.0.0.1:${statsPort}`,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const [line, summary] = jsonLines(r.stdout);
    expect(line).toMatchObject({ dataset: 'function_smoke_test', mode: 'live', totalRequestsCount: 980, successRate: 1, leakedSlots: 0, failures: {} });
    expect(summary).toMatchObject({ summary: true, pass: true });
    // The live replayer classifies every request from the platform's ledger, and the parts add up.
    const split = expectSplitAddsUp(line!);
    expect(split.latency.unclassified).toBe(0);
    expect(split.latency.failed).toBe(0);
    expect(split.latency.coldStarts).toBeGreaterThan(0);
    expect(split.latency.hits).toBeGreaterThan(0);
    // Useful = executions inside slot lifetimes: a slot destroyed right after its last Idle can
    // end before that execution's nominal end (the replayer's timers fire up to ~1 ms early).
    const exec = line!.invocationExecutionTimeInGBs as number;
    expect(Math.abs(split.resource.usefulGBs - exec)).toBeLessThan(1e-3 * exec);
  }, 180_000);
});
