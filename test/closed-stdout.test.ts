/**
 * CLIs end quietly when their reader closes the pipe (`... | head -1`): src/closed-stdout.ts,
 * installed by every script and src/main.ts. Runs compiled code (needs `npm test`'s build).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const HELPER = fileURLToPath(new URL('../dist/src/closed-stdout.js', import.meta.url));
const EVALUATE = fileURLToPath(new URL('../dist/scripts/evaluate.js', import.meta.url));
const SMOKE_DIR = fileURLToPath(new URL('../datasets/function_smoke_test', import.meta.url));

/** A writer that prints a line, waits (so the reader has closed), writes more, then exits 3. */
function writerScript(guarded: boolean): string {
  return `
    ${guarded ? `import { endQuietlyOnClosedOutput, outputClosed } from ${JSON.stringify(HELPER)}; endQuietlyOnClosedOutput();` : 'const outputClosed = () => false;'}
    process.stdout.write('first\\n');
    setTimeout(() => {
      for (let i = 0; i < 1000; i++) process.stdout.write('line ' + i + '\\n');
      setTimeout(() => { process.stderr.write('finished closed=' + outputClosed() + '\\n'); process.exitCode = 3; }, 100);
    }, 200);
  `;
}

/** Runs `node args`, reads its stdout up to the first newline, then closes the pipe (like `head -1`). */
function runAndCloseAfterFirstLine(args: string[]): Promise<{ status: number | null; first: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let first = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      first += c.toString();
      if (first.includes('\n')) child.stdout.destroy();
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => resolve({ status, first: first.split('\n')[0]!, stderr }));
  });
}

describe('closed stdout', () => {
  it('without the guard, a write to a closed pipe dies with an EPIPE trace (the failure it prevents)', async () => {
    const r = await runAndCloseAfterFirstLine(['--input-type=module', '-e', writerScript(false)]);
    expect(r.first).toBe('first');
    expect(r.stderr).toContain('EPIPE');
    expect(r.status).not.toBe(3);
  });

  it('with the guard, the writer finishes its work quietly with its own exit status', async () => {
    const r = await runAndCloseAfterFirstLine(['--input-type=module', '-e', writerScript(true)]);
    expect(r.first).toBe('first');
    expect(r.stderr).toBe('finished closed=true\n');
    expect(r.status).toBe(3);
  });

  it('evaluate --json closed after its first line exits 0 without a trace', async () => {
    // Two datasets: the second line comes a whole run after the first, so the pipe is closed by then.
    const r = await runAndCloseAfterFirstLine([EVALUATE, '--virtual', '--json', '--no-hindsight', '--tail', '5s', '--data', SMOKE_DIR, '--data', SMOKE_DIR]);
    expect(JSON.parse(r.first)).toMatchObject({ mode: 'virtual' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 60_000);
});
