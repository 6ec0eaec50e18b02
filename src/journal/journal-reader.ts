import { crc32 } from 'node:zlib';
import { JournalError, JournalErrorCode } from './journal-error.js';
import { JOURNAL_MAX_FILE_BYTES, readOwnFile } from './journal-safety.js';
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES, MalformedRecordError, decodeHeader, decodePayload, type JournalHeader, type JournalVisitor } from './journal-format.js';

export interface JournalReadResult {
  /** False when the file does not exist (an empty journal). */
  readonly exists: boolean;
  /** null: no complete header frame (missing, empty, or torn while being created). */
  readonly header: JournalHeader | null;
  readonly bytes: number;
  /** Frames applied (the header's included). */
  readonly frames: number;
  /** End of the last good frame: what is kept. */
  readonly validBytes: number;
  /** Bytes of a torn last frame, dropped (0 when the file ends cleanly). */
  readonly tornBytes: number;
  /** Set when a frame with data after it is bad: everything before `corrupt.offset` was applied. */
  readonly corrupt: JournalError | null;
}

function isAllZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Replays a journal file into `visitor`, frame by frame (layout: journal-format.ts). A torn
 * tail is dropped and reported in `tornBytes`; corruption stops the replay at the bad frame and
 * is returned (not thrown), so the caller keeps what was read before it. Only a file that exists
 * and cannot be read throws: `JOURNAL_UNREADABLE`, or `JOURNAL_NOT_A_FILE` for a symlink, FIFO or
 * device (opened without following links or blocking, see journal-safety.ts).
 */
export function readJournalFile(path: string, visitor: JournalVisitor | null): JournalReadResult {
  const buf = readOwnFile(path, JOURNAL_MAX_FILE_BYTES);
  if (buf === null) return { exists: false, header: null, bytes: 0, frames: 0, validBytes: 0, tornBytes: 0, corrupt: null };
  let off = 0;
  let frames = 0;
  let header: JournalHeader | null = null;
  const result = (tornBytes: number, corrupt: JournalError | null): JournalReadResult => ({
    exists: true,
    header,
    bytes: buf.length,
    frames,
    validBytes: off,
    tornBytes,
    corrupt,
  });
  // Files are created whole (a temporary file renamed into place), so a file without a complete
  // header frame was not written by a journal: corruption, not a torn write.
  const torn = (left: number): JournalReadResult =>
    header === null
      ? result(0, new JournalError(JournalErrorCode.Corrupt, path, 'no complete journal header: not a slot journal', 0))
      : result(left, null);
  while (off < buf.length) {
    const left = buf.length - off;
    // A process killed mid-write leaves a frame shorter than its length says.
    if (left < FRAME_HEADER_BYTES) return torn(left);
    const len = buf.readUInt32LE(off);
    const sum = buf.readUInt32LE(off + 4);
    if (len === 0 || len > MAX_FRAME_BYTES) {
      // Zeros to the end are a file extended but never written (a torn tail); anything else is not ours.
      if (isAllZero(buf, off)) return torn(left);
      return result(0, new JournalError(JournalErrorCode.Corrupt, path, `frame length ${len} is not a journal frame`, off));
    }
    const end = off + FRAME_HEADER_BYTES + len;
    if (end > buf.length) return torn(left);
    const start = off + FRAME_HEADER_BYTES;
    if (crc32(buf.subarray(start, end)) !== sum) {
      if (end === buf.length) return torn(left);
      return result(0, new JournalError(JournalErrorCode.Corrupt, path, 'frame checksum mismatch with more frames after it', off));
    }
    try {
      if (header === null) header = decodeHeader(buf, start, end);
      else if (visitor !== null) decodePayload(buf, start, end, visitor);
    } catch (e) {
      if (!(e instanceof MalformedRecordError)) throw e;
      return result(0, new JournalError(JournalErrorCode.Corrupt, path, `frame does not decode: ${e.message}`, off));
    }
    frames++;
    off = end;
    // Only the header is needed: stop after it.
    if (visitor === null) return result(0, null);
  }
  return result(0, null);
}
