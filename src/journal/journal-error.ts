/** Why the slot journal could not be used as it is (see README "Reliability", process crash). */
export const JournalErrorCode = {
  /** A frame in the middle of a file fails its checksum, or a checksummed frame does not decode. */
  Corrupt: 'JOURNAL_CORRUPT',
  /** The file or directory exists but cannot be read (permissions, not a file). */
  Unreadable: 'JOURNAL_UNREADABLE',
  /** Appending, compacting or creating the file failed (disk full, read-only, permissions). */
  Unwritable: 'JOURNAL_UNWRITABLE',
  /** Another live scaler process holds the journal directory. */
  Locked: 'JOURNAL_LOCKED',
  /** The journal was written against another platform address: its slots are not ours to touch. */
  Foreign: 'JOURNAL_FOREIGN',
  /**
   * Its writer stopped showing signs of life long before this start (see JOURNAL_STALE_AFTER_MS):
   * a journal of an earlier run, whose platform (and slot ids) may be another one now.
   */
  Stale: 'JOURNAL_STALE',
  /**
   * The journal directory is not safely ours (a symlink, another user's, writable by others, or
   * under such a directory): the scaler refuses to start rather than write through it or replay
   * slots someone else may have planted (`--journal off` runs without a journal).
   */
  Unsafe: 'JOURNAL_UNSAFE',
  /** A symlink, FIFO, device or socket where a journal file should be: set aside, never opened through. */
  NotAFile: 'JOURNAL_NOT_A_FILE',
} as const;
export type JournalErrorCode = (typeof JournalErrorCode)[keyof typeof JournalErrorCode];

/**
 * A journal problem, with the file and (for corruption) the byte offset of the bad frame. The
 * scaler never exits on one (a container runtime would restart it into the same error): it logs
 * it, shows it on `/stats`, sets the file aside when it is corrupt or foreign, and serves.
 */
export class JournalError extends Error {
  override readonly name = 'JournalError';
  constructor(
    readonly code: JournalErrorCode,
    readonly file: string,
    message: string,
    /** Byte offset of the frame that failed, for `JOURNAL_CORRUPT`; -1 otherwise. */
    readonly offset = -1,
  ) {
    super(offset >= 0 ? `${file}: ${message} (offset ${offset})` : `${file}: ${message}`);
  }

  /** What `/stats` shows. */
  toJSON(): { code: JournalErrorCode; file: string; offset: number; message: string } {
    return { code: this.code, file: this.file, offset: this.offset, message: this.message };
  }
}
