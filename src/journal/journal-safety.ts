/**
 * The journal's files are the scaler's own: a local user must not be able to make it write
 * through a symlink (overwriting any file the scaler may write), feed it slots to take over or
 * destroy, or hang its start with a FIFO or `/dev/zero` where a journal file should be. Hence:
 * the directory is created 0700 and checked at start (owner, mode, not a symlink, and every
 * ancestor owned by us or root and not writable by others unless sticky, like /tmp); files are
 * opened with O_NOFOLLOW (and O_NONBLOCK, so a FIFO cannot block the open), checked to be regular
 * files, and their size checked before they are read. See docs/limits.md.
 */
import { chmodSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { JournalError, JournalErrorCode } from './journal-error.js';

/** Mode of every directory the journal creates. */
export const JOURNAL_DIR_MODE = 0o700;
/** Mode of journal files. */
export const JOURNAL_FILE_MODE = 0o600;
/**
 * Largest journal file read: compaction keeps a file to a few times its snapshot (~100 bytes per
 * live slot), so even a million live slots stay far below it. A bigger file is not ours.
 */
export const JOURNAL_MAX_FILE_BYTES = 512 * 1024 * 1024;
/** Largest lock file read (it holds one line of JSON). */
export const JOURNAL_MAX_LOCK_BYTES = 4096;

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
/** The sticky bit (only an entry's owner may remove or rename it, as in /tmp). */
const S_ISVTX = 0o1000;

/** Our uid (-1 where the platform has none, e.g. Windows: ownership is not checked there). */
export function processUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

/**
 * The root under which default journal directories live, outside world-writable directories
 * where one exists: `$XDG_STATE_HOME/scaler`, else `$HOME/.local/state/scaler` when $HOME is an
 * existing directory, else a per-user `scaler-UID` directory under the temporary directory (checked
 * at start like the journal directory itself, so another user cannot own it first).
 */
export function defaultJournalRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'scaler');
  const home = env.HOME;
  if (home !== undefined && isAbsolute(home) && home !== '/') {
    try {
      if (statSync(home).isDirectory()) return join(home, '.local', 'state', 'scaler');
    } catch {
      // no such home: fall through
    }
  }
  const uid = processUid();
  return join(tmpdir(), `scaler-${uid >= 0 ? uid : 'user'}`);
}

function describeMode(st: Stats): string {
  return `0${(st.mode & 0o7777).toString(8)}`;
}

/**
 * Creates `dir` (mode 0700, parents too) if missing, then checks that it is safe to keep slots in:
 * a real directory (not a symlink), owned by `uid`, writable by nobody else; a directory we own
 * with looser read bits is tightened to 0700. Every ancestor must be owned by `uid` or root, and
 * not writable by others unless sticky (/tmp); group write is tolerated there. Throws `JournalError` `JOURNAL_UNSAFE` otherwise.
 */
export function ensureSafeDirectory(dir: string, uid = processUid()): void {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { recursive: true, mode: JOURNAL_DIR_MODE });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new JournalError(JournalErrorCode.Unwritable, abs, `cannot create the journal directory: ${(e as Error).message}`);
    }
  }
  const unsafe = (why: string): JournalError =>
    new JournalError(JournalErrorCode.Unsafe, abs, `${why}; refusing to keep slots there (fix it, choose another --journal DIR, or --journal off)`);
  const st = lstatSync(abs);
  if (st.isSymbolicLink()) throw unsafe('the journal directory is a symbolic link');
  if (!st.isDirectory()) throw unsafe('the journal directory is not a directory');
  if (uid >= 0 && st.uid !== uid) throw unsafe(`the journal directory belongs to uid ${st.uid}, not to this process (uid ${uid})`);
  if ((st.mode & 0o022) !== 0) throw unsafe(`the journal directory is writable by group or others (mode ${describeMode(st)})`);
  if ((st.mode & 0o777) !== JOURNAL_DIR_MODE) {
    try {
      chmodSync(abs, JOURNAL_DIR_MODE);
    } catch (e) {
      throw unsafe(`cannot set the journal directory to mode 0700: ${(e as Error).message}`);
    }
  }
  for (let p = dirname(abs); ; p = dirname(p)) {
    let a: Stats;
    try {
      a = statSync(p);
    } catch (e) {
      throw unsafe(`cannot inspect ${p}: ${(e as Error).message}`);
    }
    if (uid >= 0 && a.uid !== uid && a.uid !== 0) throw unsafe(`${p} belongs to uid ${a.uid} (neither this process nor root)`);
    // Group write on an ancestor is tolerated (user-private groups with umask 002 make it common).
    if ((a.mode & 0o002) !== 0 && (a.mode & S_ISVTX) === 0) throw unsafe(`${p} is writable by others without the sticky bit (mode ${describeMode(a)})`);
    if (p === dirname(p)) break;
  }
}

/**
 * Reads a whole file the journal owns, never following a symlink, never blocking on a FIFO,
 * never reading more than `maxBytes`: null when it does not exist; `JournalError`
 * `JOURNAL_NOT_A_FILE` for a symlink or anything but a regular file, `JOURNAL_UNREADABLE` for
 * one too large or unreadable.
 */
export function readOwnFile(path: string, maxBytes: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return null;
    if (err.code === 'ELOOP' || err.code === 'EMLINK') throw new JournalError(JournalErrorCode.NotAFile, path, 'is a symbolic link, not a journal file');
    throw new JournalError(JournalErrorCode.Unreadable, path, `cannot open: ${err.message}`);
  }
  try {
    const st = fstatSync(fd);
    // A directory is left alone (unreadable, as before); a FIFO, device or socket is not a file we may keep.
    if (st.isDirectory()) throw new JournalError(JournalErrorCode.Unreadable, path, 'is a directory, not a journal file');
    if (!st.isFile()) throw new JournalError(JournalErrorCode.NotAFile, path, `is not a regular file (${kindOf(st)})`);
    if (st.size > maxBytes) throw new JournalError(JournalErrorCode.Unreadable, path, `is ${st.size} bytes, above the ${maxBytes} a journal file may have`);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } catch (e) {
    if (e instanceof JournalError) throw e;
    throw new JournalError(JournalErrorCode.Unreadable, path, `cannot read: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

/** Opens `path` for writing as a new file (O_EXCL and O_NOFOLLOW: never through a link, never someone else's file). */
export function createOwnFile(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, JOURNAL_FILE_MODE);
}
