// Needs dist/ (the worker runs compiled JS): `npx tsc -p tsconfig.json` first (`npm test` does it).
//
// The bootstrap of `sync-worker-bootstrap.ts` must turn every way a worker can end early into
// an error for the caller blocked in Atomics.wait. It is exercised here through its user, the
// request parser, with broken stand-ins for the worker module. Every run happens in a child
// started with --input-type=module: Node 20 passes that flag on to workers, where it kills a
// file entry point before any code runs, and a regression blocks the calling thread in
// Atomics.wait, where no vitest timeout can reach it; the child's timeout can.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClairvoyantBound, type ClairvoyantResult } from '../src/sim/scoring/clairvoyant-bound.js';
import { loadDatasetSync } from '../src/sim/datasets/dataset-loader.js';
import type { MetaRecord } from '../src/sim/contest/dataset-types.js';
import { REQUEST_PARSE_WORKER_SCRIPT } from '../src/sim/datasets/parallel-request-source.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DIST_SOURCE = join(REPO, 'dist/src/sim/datasets/parallel-request-source.js');
const DIST_PROTOCOL = join(REPO, 'dist/src/sim/datasets/request-parse-protocol.js');
const DIST_LOADER = join(REPO, 'dist/src/sim/datasets/dataset-loader.js');
const GENERATOR = join(REPO, 'dist/scripts/generate-dataset.js');
const BOUND_OPTS = { createMs: 100, rpcOverheadMs: 0.5 } as const;
/** A hang shows up as the child being killed by this timeout. */
const CHILD_TIMEOUT_MS = 10_000;

const root = mkdtempSync(join(tmpdir(), 'sim-sync-worker-bootstrap-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let generated: string;
let expected: ClairvoyantResult;

beforeAll(() => {
  expect(statSync(REQUEST_PARSE_WORKER_SCRIPT).isFile()).toBe(true); // build dist/ first
  generated = join(root, 'faas-mix');
  execFileSync(process.execPath, [GENERATOR, '--family', 'faas-mix', '--out', generated], { timeout: 20_000, stdio: 'ignore' });
  // The oracle: the in-process bound over the fully loaded dataset (a different loading path).
  const ds = loadDatasetSync(generated);
  const b = new ClairvoyantBound(BOUND_OPTS);
  for (const r of ds.requests) b.add(r, ds.metas.get(r.metaKey) as MetaRecord);
  expected = b.finish();
}, 30_000);

let scripts = 0;
function workerScript(source: string): string {
  const file = join(root, `worker-${scripts++}.mjs`);
  writeFileSync(file, source);
  return file;
}

interface ChildRun {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `code` as an ES module in a child started with --input-type=module, which must exit 0 on its own. */
function runChild(code: string): ChildRun {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
  expect(r.signal, 'child killed by its timeout: the caller hung').toBeNull();
  expect(r.status, r.stderr).toBe(0);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** What one entry point did in the child: threw (with what), or returned. */
type Outcome =
  | { readonly threw: true; readonly instance: boolean; readonly name: string; readonly code: string; readonly message: string; readonly seen: number }
  | { readonly threw: false; readonly seen: number };

/** Both entry points of the parser, run in one child over the generated trace with `workerScript` forced. */
function parseWith(script: string): { readonly parallel: Outcome; readonly withBound: Outcome } {
  const dir = JSON.stringify(generated);
  const opts = JSON.stringify({ minBytes: 0, workerScript: script });
  const { stdout } = runChild(`
    import { forEachRequestFieldsParallel, forEachRequestFieldsWithBound, RequestParseWorkerError } from ${JSON.stringify(DIST_SOURCE)};
    import { loadMetasSync } from ${JSON.stringify(DIST_LOADER)};
    const metas = loadMetasSync(${dir});
    const runs = {
      parallel: (fn) => forEachRequestFieldsParallel(${dir}, metas, fn, ${opts}),
      withBound: (fn) => forEachRequestFieldsWithBound(${dir}, metas, fn, ${JSON.stringify(BOUND_OPTS)}, ${opts}),
    };
    const out = {};
    for (const [name, run] of Object.entries(runs)) {
      let seen = 0;
      try {
        run(() => seen++);
        out[name] = { threw: false, seen };
      } catch (e) {
        out[name] = { threw: true, instance: e instanceof RequestParseWorkerError, name: e.name, code: e.code, message: e.message, seen };
      }
    }
    console.log(JSON.stringify(out));
  `);
  return JSON.parse(stdout.trim()) as { parallel: Outcome; withBound: Outcome };
}

function expectParseWorkerError(o: Outcome, message: RegExp | string): void {
  expect(o).toMatchObject({ threw: true, instance: true, name: 'RequestParseWorkerError', code: 'REQUEST_PARSE_WORKER_FAILED' });
  if (o.threw) {
    if (typeof message === 'string') expect(o.message).toBe(message);
    else expect(o.message).toMatch(message);
  }
}

describe('sync worker bootstrap (through the request parser, parent run with --input-type=module)', () => {
  it('forEachRequestFieldsWithBound returns the in-process bound and the process exits on its own', () => {
    // This used to block the caller forever: the flag killed the worker's file entry point.
    const dir = JSON.stringify(generated);
    const { stdout, stderr } = runChild(`
      import { forEachRequestFieldsWithBound } from ${JSON.stringify(DIST_SOURCE)};
      import { loadMetasSync } from ${JSON.stringify(DIST_LOADER)};
      let seen = 0;
      const r = forEachRequestFieldsWithBound(${dir}, loadMetasSync(${dir}), () => seen++, ${JSON.stringify(BOUND_OPTS)}, { minBytes: 0 });
      console.log(JSON.stringify({ count: r.count, seen, bound: r.bound }));
    `);
    expect(stderr).toBe('');
    const r = JSON.parse(stdout.trim()) as { count: number; seen: number; bound: ClairvoyantResult };
    expect(expected.requests).toBeGreaterThan(10_000);
    expect(r.count).toBe(expected.requests);
    expect(r.seen).toBe(expected.requests);
    expect(r.bound).toEqual(expected);
  }, 15_000);

  it.each([
    ['throws while loading', 'throw new Error("broken module");', /^request parse worker could not start: broken module$/],
    ['does not parse', 'export function (', /^request parse worker could not start: /],
    ['imports a missing module', 'import "./no-such-module.mjs";', /^request parse worker could not start: ERR_MODULE_NOT_FOUND: /],
    ['lacks the entry point', 'export const nothing = 1;', /^request parse worker could not start: .*does not export runRequestParseWorker$/],
    ['throws in its entry', 'export function runRequestParseWorker() { throw new Error("entry broke"); }', 'request parse worker crashed: entry broke'],
    ['rejects in its entry', 'export async function runRequestParseWorker() { throw new Error("async broke"); }', 'request parse worker crashed: async broke'],
    [
      'throws later, outside the entry',
      'export function runRequestParseWorker() { setTimeout(() => { throw new Error("late"); }, 20); return new Promise(() => {}); }',
      'request parse worker crashed: late',
    ],
    [
      'leaves a rejection unhandled',
      'export function runRequestParseWorker() { Promise.reject(new Error("dropped")); return new Promise(() => {}); }',
      'request parse worker crashed: dropped',
    ],
    ['calls process.exit', 'export function runRequestParseWorker() { process.exit(3); }', 'request parse worker exited with code 3 before finishing'],
    [
      'lets its event loop run dry',
      // Its own port closed, the bootstrap's report is lost: only the dead flag arrives.
      'export function runRequestParseWorker(d) { d.port.close(); return new Promise(() => {}); }',
      'request parse worker failed without details',
    ],
    [
      'returns without signalling',
      'export function runRequestParseWorker() {}',
      'request parse worker crashed: runRequestParseWorker returned without signalling',
    ],
  ])('a worker module that %s makes both parser entry points throw RequestParseWorkerError, not hang', (_name, source, message) => {
    const { parallel, withBound } = parseWith(workerScript(source));
    expectParseWorkerError(parallel, message);
    expectParseWorkerError(withBound, message);
    expect(parallel.seen).toBe(0);
    expect(withBound.seen).toBe(0);
  }, 15_000);

  it('a worker dying mid-trace fails the caller waiting for the next chunk', () => {
    // Publishes one (empty) chunk, then the thread exits while the caller waits for the next one.
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
    const { parallel, withBound } = parseWith(script);
    for (const o of [parallel, withBound]) {
      expectParseWorkerError(o, 'request parse worker exited with code 7 before finishing');
      expect(o.seen).toBe(0);
    }
  }, 15_000);
});
