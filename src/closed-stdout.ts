/**
 * Command-line tools end quietly when their reader goes away (`npm run evaluate -- --json | head -1`):
 * without this, the next write to the closed pipe raises an unhandled EPIPE 'error' event and Node
 * prints a stack trace. Writes after the pipe closed are dropped and the command finishes its
 * work, its cleanup (child processes, sockets) and its exit status as usual; any other stream
 * error is still thrown.
 */

/** Errors that mean "the reader closed its end", not a failure of ours. */
const CLOSED_PIPE_CODES: ReadonlySet<string> = new Set(['EPIPE', 'ERR_STREAM_DESTROYED']);

/** Minimal stream surface, so a test can hand in its own emitter. */
export interface ErrorEmitter {
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** True once a closed-pipe error was seen on one of the guarded streams. */
let closed = false;

export function outputClosed(): boolean {
  return closed;
}

/**
 * Installs the guard on `streams` (default: stdout and stderr). Call once, first thing in a CLI's
 * entry; installing it twice on a stream is harmless.
 */
export function endQuietlyOnClosedOutput(streams: readonly ErrorEmitter[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (err: Error) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== undefined && CLOSED_PIPE_CODES.has(code)) {
        closed = true;
        return;
      }
      throw err;
    });
  }
}
