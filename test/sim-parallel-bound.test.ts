// Needs dist/ (the worker runs compiled JS): `npx tsc -p tsconfig.json` first (`npm test` does it).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClairvoyantBound, type ClairvoyantResult } from '../src/sim/clairvoyant-bound.js';
import { loadDatasetSync } from '../src/sim/dataset-loader.js';
import type { MetaRecord } from '../src/sim/dataset-types.js';
import { BOUND_WORKER_SCRIPT, BoundWorkerError, ParallelBound, PARALLEL_BOUND_MIN_BYTES } from '../src/sim/parallel-bound.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DIST_BOUND = join(REPO, 'dist/src/sim/parallel-bound.js');
const DIST_PROTOCOL = join(REPO, 'dist/src/sim/request-parse-protocol.js');
const DIST_SOURCE = join(REPO, 'dist/src/sim/parallel-request-source.js');
const DIST_LOADER = join(REPO, 'dist/src/sim/dataset-loader.js');
const GENERATOR = join(REPO, 'dist/scripts/generate-dataset.js');
const OPTS = { createMs: 100, rpcOverheadMs: 0.5 } as const;
/** Forces the worker whatever the trace size. */
const FORCE = { ...OPTS, minBytes: 0 } as const;

const root = mkdtempSync(join(tmpdir(), 'sim-parallel-bound-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let generated: string;
let expected: ClairvoyantResult;

beforeAll(() => {
  expect(statSync(BOUND_WORKER_SCRIPT).isFile()).toBe(true); // build dist/ first
  generated = join(root, 'faas-mix');
  execFileSync(process.execPath, [GENERATOR, '--family', 'faas-mix', '--out', generated], { timeout: 20_000, stdio: 'ignore' });
  // The oracle: the in-process bound over the fully loaded dataset (a different loading path).
  const ds = loadDatasetSync(generated);
  const b = new ClairvoyantBound(OPTS);
  for (const r of ds.requests) b.add(r, ds.metas.get(r.metaKey) as MetaRecord);
  expected = b.finish();
}, 30_000);

let scripts = 0;
function workerScript(source: string): string {
  const file = join(root, `worker-${scripts++}.mjs`);
  writeFileSync(file, source);
  return file;
}

interface ChildError {
  readonly instance: boolean;
  readonly name: string;
  readonly code: string;
  readonly message: string;
}

/**
 * Runs `body` (ESM, with `pb`, `BoundWorkerError`, `forEachRequestFieldsParallel`,
 * `RequestParseWorkerError`, `loadMetasSync` in scope) in a child started with
 * --input-type=module and returns what it threw. A child, because a regression here blocks the
 * thread in Atomics.wait, where no test timeout can reach it; the child's timeout can.
 */
function childError(body: string): ChildError {
  const code = `
    import { ParallelBound, BoundWorkerError } from ${JSON.stringify(DIST_BOUND)};
    import { forEachRequestFieldsParallel, RequestParseWorkerError } from ${JSON.stringify(DIST_SOURCE)};
    import { loadMetasSync } from ${JSON.stringify(DIST_LOADER)};
    const Err = { BoundWorkerError, RequestParseWorkerError };
    try {
      ${body}
      console.log(JSON.stringify(null));
    } catch (e) {
      console.log(JSON.stringify({ instance: e instanceof Err[e.name], name: e.name, code: e.code, message: e.message }));
    }
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 10_000 });
  expect(r.signal).toBeNull(); // killed by the timeout would mean a hang
  expect(r.status).toBe(0);
  const e = JSON.parse(r.stdout.trim()) as ChildError | null;
  expect(e).not.toBeNull();
  return e!;
}

function failure(run: () => unknown): unknown {
  try {
    run();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('ParallelBound', () => {
  it('equals the in-process ClairvoyantBound on a generated trace', () => {
    expect(expected.requests).toBeGreaterThan(10_000);
    const pb = ParallelBound.start(generated, FORCE);
    expect(pb).toBeInstanceOf(ParallelBound);
    expect(pb!.result()).toEqual(expected);
  }, 20_000);

  it('stays in process below minBytes (16 MiB by default) or without a worker script', () => {
    expect(PARALLEL_BOUND_MIN_BYTES).toBe(16 * 1024 * 1024);
    const size = statSync(join(generated, 'requests')).size;
    expect(ParallelBound.start(generated, OPTS)).toBeUndefined();
    expect(ParallelBound.start(generated, { ...OPTS, minBytes: size + 1 })).toBeUndefined();
    expect(ParallelBound.start(generated, { ...FORCE, workerScript: join(root, 'missing.mjs') })).toBeUndefined();
    expect(ParallelBound.start(join(root, 'no-such-dir'), FORCE)).toBeUndefined();
    const at = ParallelBound.start(generated, { ...OPTS, minBytes: size });
    expect(at).toBeInstanceOf(ParallelBound);
    at!.stop();
  }, 10_000);

  it('reports a failing computation (unreadable trace) as BoundWorkerError', () => {
    const dir = join(root, 'requests-is-a-dir');
    mkdirSync(dir);
    writeFileSync(join(dir, 'metas'), '{"key": "a", "runtime": "go", "memoryInMb": 128, "timeoutInSecs": 60, "initDurationInMs": 0}');
    mkdirSync(join(dir, 'requests')); // passes the size check; reading it fails in the worker
    const e = failure(() => ParallelBound.start(dir, FORCE)!.result());
    expect(e).toBeInstanceOf(BoundWorkerError);
    expect(e).toMatchObject({ code: 'BOUND_WORKER_FAILED', name: 'BoundWorkerError' });
    expect((e as Error).message).toMatch(/^bound worker failed: /);
  }, 10_000);

  it('answers in a process started with --input-type=module, which then exits on its own', () => {
    // Node 20 passes --input-type=module on to workers, where it kills a file entry point
    // before any code runs: this used to block result() forever.
    const code = `
      import { ParallelBound } from ${JSON.stringify(DIST_BOUND)};
      const pb = ParallelBound.start(${JSON.stringify(generated)}, { createMs: 100, rpcOverheadMs: 0.5, minBytes: 0 });
      console.log(pb === undefined ? 'no worker' : JSON.stringify(pb.result().score));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 10_000 });
    expect(r.signal).toBeNull(); // killed by the timeout would mean a hang
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toBe(expected.score);
  }, 15_000);

  it.each([
    ['throws while loading', 'throw new Error("broken module");', /^bound worker could not start: broken module$/],
    ['does not parse', 'export function (', /^bound worker could not start: /],
    ['imports a missing module', 'import "./no-such-module.mjs";', /^bound worker could not start: ERR_MODULE_NOT_FOUND: /],
    ['lacks the entry point', 'export const nothing = 1;', /^bound worker could not start: .*does not export runBoundWorker$/],
    ['throws in its entry', 'export function runBoundWorker() { throw new Error("entry broke"); }', /^bound worker crashed: entry broke$/],
    ['rejects in its entry', 'export async function runBoundWorker() { throw new Error("async broke"); }', /^bound worker crashed: async broke$/],
    [
      'throws later, outside the entry',
      'export function runBoundWorker() { setTimeout(() => { throw new Error("late"); }, 20); return new Promise(() => {}); }',
      /^bound worker crashed: late$/,
    ],
    [
      'leaves a rejection unhandled',
      'export function runBoundWorker() { Promise.reject(new Error("dropped")); return new Promise(() => {}); }',
      /^bound worker crashed: dropped$/,
    ],
    ['calls process.exit', 'export function runBoundWorker() { process.exit(3); }', /^bound worker exited with code 3 before finishing$/],
    [
      'lets its event loop run dry',
      'export function runBoundWorker(d) { d.port.close(); return new Promise(() => {}); }',
      /^bound worker died before answering \(no details\)$/, // its own port closed, the report is lost
    ],
    ['returns without answering', 'export function runBoundWorker() {}', /^bound worker crashed: runBoundWorker returned without signalling$/],
  ])('a worker module that %s makes result() throw BoundWorkerError instead of hanging', (_name, source, message) => {
    const opts = { ...FORCE, workerScript: workerScript(source) };
    const e = childError(`ParallelBound.start(${JSON.stringify(generated)}, ${JSON.stringify(opts)}).result();`);
    expect(e).toMatchObject({ instance: true, name: 'BoundWorkerError', code: 'BOUND_WORKER_FAILED' });
    expect(e.message).toMatch(message);
  }, 15_000);
});

describe('the shared bootstrap under the request parser', () => {
  it('a parse worker dying mid-trace fails with RequestParseWorkerError instead of hanging', () => {
    // Publishes one chunk, then the thread exits while the caller waits for the next one.
    const script = workerScript(`
      import { ringViews, CONTROL_PRODUCED, CHUNK_MORE } from ${JSON.stringify(DIST_PROTOCOL)};
      export async function runRequestParseWorker(d) {
        const v = ringViews(d.ring, d.chunks, d.chunkRecords);
        v.count[0] = 0;
        v.end[0] = CHUNK_MORE;
        Atomics.store(v.control, CONTROL_PRODUCED, 1);
        Atomics.notify(v.control, CONTROL_PRODUCED);
        setTimeout(() => process.exit(7), 20);
        return new Promise(() => {});
      }
    `);
    const dir = JSON.stringify(generated);
    const e = childError(`
      let seen = 0;
      try {
        forEachRequestFieldsParallel(${dir}, loadMetasSync(${dir}), () => seen++, { minBytes: 0, workerScript: ${JSON.stringify(script)} });
      } finally {
        if (seen !== 0) throw new Error('visited ' + seen);
      }
    `);
    expect(e).toEqual({
      instance: true,
      name: 'RequestParseWorkerError',
      code: 'REQUEST_PARSE_WORKER_FAILED',
      message: 'request parse worker exited with code 7 before finishing',
    });
  }, 15_000);
});
