/**
 * Issue 17, the host side: the journal directory must be the scaler's own. A directory another
 * user created first, or one open to others, or a symlink, makes the scaler refuse it with a
 * clear error (it runs without a journal only with `--journal off`), and nothing is written
 * through it; a symlinked `.tmp` file is replaced, not written through; a FIFO or a `/dev/zero`
 * symlink in place of a journal file neither hangs nor crashes the start (those run in a child
 * process with a deadline, since a blocking read cannot be interrupted in-process).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalDirectory, shardJournalFile } from '../src/journal/journal-directory.js';
import { JournalError, JournalErrorCode } from '../src/journal/journal-error.js';
import { JournalFile } from '../src/journal/journal-file.js';
import { defaultJournalRoot, ensureSafeDirectory } from '../src/journal/journal-safety.js';
import { DIST_DIR, SCALER_MAIN } from '../src/load/bench-harness.js';

const PLATFORM = '127.0.0.1:50051';
const uid = process.getuid!();
/** Compiled code the child-process cases load (another build can be checked with HOSTILE_DIST). */
const DIST = process.env.HOSTILE_DIST ?? DIST_DIR;
let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hostile-journal-'));
  dirs.push(d);
  return d;
}

function refusal(dir: string, ownerUid?: number): JournalError {
  try {
    JournalDirectory.open({ dir, shards: 1, platform: PLATFORM, ...(ownerUid !== undefined ? { ownerUid } : {}) }).close();
  } catch (e) {
    expect(e).toBeInstanceOf(JournalError);
    return e as JournalError;
  }
  throw new Error(`${dir} was accepted`);
}

/** Runs `code` (an ES module body) in a child node with a deadline; returns its exit and output. */
function inChild(code: string, timeoutMs: number): { status: number | null; signal: string | null; out: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { timeout: timeoutMs, encoding: 'utf8', killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}`, ms: Date.now() - t0 };
}

describe('the journal directory is the scaler’s own', () => {
  it('creates it (and missing parents) with mode 0700', () => {
    const dir = join(tempDir(), 'a', 'journal-9001');
    const d = JournalDirectory.open({ dir, shards: 1, platform: PLATFORM });
    try {
      expect(d.report.enabled).toBe(true);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, '..')).mode & 0o777).toBe(0o700);
    } finally {
      d.close();
    }
  });

  it('refuses a directory pre-created writable by others, and writes nothing into it', () => {
    const dir = join(tempDir(), 'journal');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const e = refusal(dir);
    expect(e.code).toBe(JournalErrorCode.Unsafe);
    expect(e.message).toMatch(/writable by group or others \(mode 0777\).*refusing/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a directory another user owns (planted before the scaler started)', () => {
    const dir = join(tempDir(), 'journal');
    mkdirSync(dir, { mode: 0o700 });
    // As root the directory really is given away; otherwise the check is asked for another owner.
    let owner: number | undefined;
    if (uid === 0) chownSync(dir, 65534, 65534);
    else owner = uid + 1;
    const e = refusal(dir, owner);
    expect(e.code).toBe(JournalErrorCode.Unsafe);
    expect(e.message).toMatch(/belongs to uid \d+, not to this process/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a symlink in place of the directory, and never writes to its target', () => {
    const root = tempDir();
    const target = join(root, 'elsewhere');
    mkdirSync(target, { mode: 0o700 });
    const dir = join(root, 'journal');
    symlinkSync(target, dir);
    const e = refusal(dir);
    expect(e.code).toBe(JournalErrorCode.Unsafe);
    expect(e.message).toMatch(/symbolic link/);
    expect(readdirSync(target)).toEqual([]);
  });

  it('refuses a directory under a parent others may write to without the sticky bit', () => {
    const parent = join(tempDir(), 'shared');
    mkdirSync(parent);
    chmodSync(parent, 0o777);
    const e = refusal(join(parent, 'journal'));
    expect(e.code).toBe(JournalErrorCode.Unsafe);
    expect(e.message).toMatch(/writable by others without the sticky bit/);
  });

  it('tightens a directory of ours that others may read to 0700', () => {
    const dir = join(tempDir(), 'journal');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    ensureSafeDirectory(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('defaults outside world-writable directories: $XDG_STATE_HOME, then ~/.local/state, else a per-user directory', () => {
    const home = tempDir();
    expect(defaultJournalRoot({ XDG_STATE_HOME: '/state' })).toBe('/state/scaler');
    expect(defaultJournalRoot({ HOME: home })).toBe(join(home, '.local', 'state', 'scaler'));
    expect(defaultJournalRoot({ HOME: join(home, 'missing') })).toBe(join(tmpdir(), `scaler-${uid}`));
    expect(defaultJournalRoot({})).toBe(join(tmpdir(), `scaler-${uid}`));
  });

  it('the scaler refuses to start on an unsafe directory with a clear error, and starts with --journal off', async () => {
    const dir = join(tempDir(), 'journal');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const run = (args: string[]): Promise<{ code: number | null; out: string; listening: boolean }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [process.env.HOSTILE_SCALER_MAIN ?? SCALER_MAIN, '--address', '127.0.0.1:0', '--stats-port', '0', '--shards', '1', '--platform', '127.0.0.1:1', ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const t = setTimeout(() => child.kill('SIGTERM'), 8_000);
        child.on('exit', (code) => {
          clearTimeout(t);
          resolve({ code, out, listening: /shard ready|listening/i.test(out) });
        });
        // Up and serving: stop it.
        child.stdout.on('data', () => {
          if (/shard ready|listening/i.test(out)) child.kill('SIGTERM');
        });
      });
    const refused = await run(['--journal', dir, '--log-level', 'info']);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/JOURNAL_UNSAFE|refusing to keep slots there/);
    expect(readdirSync(dir)).toEqual([]);
    const off = await run(['--journal', 'off', '--log-level', 'info']);
    expect(off.out).not.toMatch(/JOURNAL_UNSAFE/);
    expect(off.listening).toBe(true);
  }, 30_000);
});

describe('journal files are opened without following links or blocking', () => {
  it('a symlinked .tmp file is replaced, never written through', () => {
    const dir = tempDir();
    const victim = join(tempDir(), 'victim.txt');
    writeFileSync(victim, 'precious');
    const path = shardJournalFile(dir, 0);
    symlinkSync(victim, `${path}.tmp`);
    const { file, report } = JournalFile.open({ path, shard: 0, shards: 1, platform: PLATFORM });
    expect(report.error).toBeNull();
    file!.creating('r1');
    file!.close(false);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(path).isFile()).toBe(true);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  it('a symlinked journal file is set aside (the link, not its target), and the shard journals afresh', () => {
    const dir = join(tempDir(), 'journal');
    const victim = join(tempDir(), 'victim.journal');
    writeFileSync(victim, 'not a journal');
    mkdirSync(dir, { mode: 0o700 });
    symlinkSync(victim, shardJournalFile(dir, 0));
    const d = JournalDirectory.open({ dir, shards: 1, platform: PLATFORM });
    try {
      expect(d.report.errors.map((e) => e.code)).toContain(JournalErrorCode.NotAFile);
      expect(existsSync(shardJournalFile(dir, 0))).toBe(false);
      const { file, report } = JournalFile.open({ path: d.fileOf(0)!, shard: 0, shards: 1, platform: PLATFORM });
      expect(report.error).toBeNull();
      file!.close(false);
      expect(readFileSync(victim, 'utf8')).toBe('not a journal');
    } finally {
      d.close();
    }
  });

  it.each([
    ['a FIFO', (path: string) => execFileSync('mkfifo', [path])],
    ['a /dev/zero symlink', (path: string) => symlinkSync('/dev/zero', path)],
  ])('%s in place of a journal file neither hangs nor crashes the start', (_name, plant) => {
    const dir = join(tempDir(), 'journal');
    mkdirSync(dir, { mode: 0o700 });
    plant(shardJournalFile(dir, 0));
    const code = `
      const { JournalDirectory } = await import(${JSON.stringify(join(DIST, 'src/journal/journal-directory.js'))});
      const { JournalFile } = await import(${JSON.stringify(join(DIST, 'src/journal/journal-file.js'))});
      const path = ${JSON.stringify(shardJournalFile(dir, 0))};
      const direct = JournalFile.open({ path, shard: 0, shards: 1, platform: 'p' });
      console.log('direct', direct.file === null ? 'no-file' : 'file', direct.report.error?.code ?? 'none');
      direct.file?.close(false);
      const d = JournalDirectory.open({ dir: ${JSON.stringify(dir)}, shards: 1, platform: 'p' });
      console.log('dir', d.report.enabled, d.report.errors.map((e) => e.code).join(','));
      const opened = JournalFile.open({ path: d.fileOf(0), shard: 0, shards: 1, platform: 'p' });
      console.log('after', opened.file === null ? 'no-file' : 'file', opened.report.error?.code ?? 'none');
      opened.file?.close(false);
      d.close();
    `;
    const r = inChild(code, 10_000);
    expect(r.signal, `hung (killed after ${r.ms} ms): ${r.out}`).toBeNull();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('direct no-file JOURNAL_NOT_A_FILE');
    expect(r.out).toMatch(/dir true .*JOURNAL_NOT_A_FILE/);
    expect(r.out).toContain('after file none');
    expect(r.ms).toBeLessThan(8_000);
  }, 20_000);
});
