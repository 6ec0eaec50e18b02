/**
 * Starting a worker whose caller waits for it synchronously (`Atomics.wait` on a shared word):
 * such a caller cannot see the thread's 'error' or 'exit' events, so a worker that dies without
 * touching the word would block it forever. The virtual engine's synchronous hand-off, the
 * trace-parsing worker of `parallel-request-source.ts`, is started here.
 *
 * The worker does not run its module as the entry point but `SYNC_WORKER_BOOTSTRAP`, a few
 * lines of eval'd code that import it. A file entry point can die before running any of our
 * code: a parent started with `--input-type=module` passes that flag on to its workers and
 * Node 20 then refuses every file entry point (`ERR_INPUT_TYPE_NOT_ALLOWED`). The bootstrap is
 * valid both as a script and as a module (the parent's flags decide which), and until the
 * module's entry function settles it turns every way of ending into a report: it posts a
 * `SyncWorkerFailure` on the port and then stores `failedValue` in the caller's word and
 * notifies it. Covered: the module fails to load or lacks the entry, the entry throws or
 * rejects, an uncaught exception or unhandled rejection anywhere in the thread, `process.exit`
 * (or the event loop running dry) before the entry settled, and an entry that settles without
 * having written the word (the contract: by the time the entry settles, it has signalled).
 *
 * Not covered (no JavaScript runs in the thread any more, and the caller's event loop, which
 * would see the 'exit' event, is blocked): the isolate being killed for running out of heap
 * (`ERR_WORKER_OUT_OF_MEMORY`), and an entry that never settles (an endless loop, or a wait
 * that nothing will end). A crash of the whole process needs no report. If the module closed
 * the port itself before dying, the word is still set but the details are lost.
 *
 * After the entry settled the module owns the protocol: the bootstrap reports nothing more
 * (a normal exit then must not be read as a failure by a caller still draining results).
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type MessagePort, type Transferable } from 'node:worker_threads';

/** How the worker ended before its entry settled. */
export type SyncWorkerFailureKind = 'load' | 'crash' | 'exit';

/** Posted on the boot port just before `failedValue` is stored. */
export interface SyncWorkerFailure {
  readonly kind: SyncWorkerFailureKind;
  readonly message: string;
  /** The error's string `code` (e.g. `ERR_MODULE_NOT_FOUND`), or the exit code for 'exit'. */
  readonly code: string | undefined;
}

/** What the bootstrap needs; travels in `workerData.boot`. */
export interface SyncWorkerBoot {
  /** file: URL of the worker module. */
  readonly script: string;
  /** Name of the function the module exports; called with `workerData.data`, may return a promise. */
  readonly entry: string;
  readonly port: MessagePort;
  /** The word the caller waits on: Int32 `signalIndex` of `signal`. */
  readonly signal: SharedArrayBuffer;
  readonly signalIndex: number;
  readonly failedValue: number;
}

export interface SyncWorkerData<T> {
  readonly boot: SyncWorkerBoot;
  readonly data: T;
}

export interface SyncWorkerOptions<T> {
  /** Path of the compiled worker module. */
  readonly script: string;
  /** Exported function of `script` the worker runs (with `data`). */
  readonly entry: string;
  /** Passed to the entry; must be cloneable, with `port` and anything in `transferList` in it. */
  readonly data: T;
  /** The worker's end of a channel whose other end the caller reads with `receiveMessageOnPort`. */
  readonly port: MessagePort;
  readonly signal: SharedArrayBuffer;
  readonly signalIndex: number;
  /** Stored in the word on failure; must differ from every value the caller keeps waiting on. */
  readonly failedValue: number;
  /** Transferred besides `port`. */
  readonly transferList?: readonly Transferable[];
}

/**
 * The worker's entry, run with `eval: true`. `fail` reports once, and only while the module's
 * entry has not settled; after an uncaught exception the thread is ended, as it would have been
 * without the handler.
 */
export const SYNC_WORKER_BOOTSTRAP = `
import('node:worker_threads').then(({ workerData: w }) => {
  const b = w.boot;
  const word = new Int32Array(b.signal, 0, b.signalIndex + 1);
  let settled = false;
  let loaded = false;
  const fail = (kind, e, code) => {
    if (settled) return;
    settled = true;
    const message = String(e && e.message !== undefined ? e.message : e);
    if (code === undefined && e && typeof e.code === 'string') code = e.code;
    try {
      b.port.postMessage({ kind, message, code });
      b.port.close();
    } catch {}
    Atomics.store(word, b.signalIndex, b.failedValue);
    Atomics.notify(word, b.signalIndex);
  };
  process.on('uncaughtException', (e) => {
    fail('crash', e);
    process.exit(1);
  });
  process.on('exit', (c) => fail('exit', 'worker exited with code ' + c + ' before finishing', String(c)));
  let before;
  return import(b.script)
    .then((m) => {
      if (typeof m[b.entry] !== 'function') throw new Error(b.script + ' does not export ' + b.entry);
      loaded = true;
      before = Atomics.load(word, b.signalIndex);
      return m[b.entry](w.data);
    })
    .then(
      () => {
        if (Atomics.load(word, b.signalIndex) === before) fail('crash', b.entry + ' returned without signalling');
        settled = true;
      },
      (e) => fail(loaded ? 'crash' : 'load', e),
    );
});
`;

/**
 * Starts `opts.entry` of `opts.script` in a worker through the bootstrap. The worker is
 * unref'd (the caller reads synchronously; nothing here may keep the process alive) and its
 * 'error' events are swallowed (failures arrive through the signal; an 'error' event without
 * a listener would crash the calling thread instead). The caller ends it with `terminate()`.
 */
export function startSyncWorker<T>(opts: SyncWorkerOptions<T>): Worker {
  const boot: SyncWorkerBoot = {
    script: pathToFileURL(opts.script).href,
    entry: opts.entry,
    port: opts.port,
    signal: opts.signal,
    signalIndex: opts.signalIndex,
    failedValue: opts.failedValue,
  };
  const workerData: SyncWorkerData<T> = { boot, data: opts.data };
  const worker = new Worker(SYNC_WORKER_BOOTSTRAP, {
    eval: true,
    workerData,
    transferList: [opts.port, ...(opts.transferList ?? [])],
  });
  worker.unref();
  worker.on('error', () => {});
  return worker;
}

export function isSyncWorkerFailure(m: unknown): m is SyncWorkerFailure {
  if (typeof m !== 'object' || m === null) return false;
  const { kind, message } = m as { kind?: unknown; message?: unknown };
  return (kind === 'load' || kind === 'crash' || kind === 'exit') && typeof message === 'string';
}

/** `"<what> could not start: CODE: message"`, `"<what> crashed: message"`, `"<what> exited ..."`. */
export function describeSyncWorkerFailure(what: string, f: SyncWorkerFailure): string {
  switch (f.kind) {
    case 'load':
      return `${what} could not start: ${f.code === undefined ? '' : `${f.code}: `}${f.message}`;
    case 'crash':
      return `${what} crashed: ${f.message}`;
    case 'exit':
      return `${what} ${f.message.replace(/^worker /, '')}`;
  }
}

/**
 * Compiled path of a worker module living next to this file: beside it when running from
 * `dist/src/sim/datasets/`, else (a test importing the TypeScript source) under `<repo>/dist/`.
 */
export function compiledSimScript(file: string): string {
  const here = fileURLToPath(new URL('./', import.meta.url));
  return /[\\/]dist[\\/]src[\\/]sim[\\/]datasets[\\/]$/.test(here) ? `${here}${file}` : fileURLToPath(new URL(`../../../dist/src/sim/datasets/${file}`, import.meta.url));
}
