// Needs dist/ (the worker runs compiled JS): `npx tsc -p tsconfig.json` first (`npm test` does it).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, forEachRequestFieldsSync, loadMetasSync } from '../src/sim/datasets/dataset-loader.js';
import type { MetaRecord } from '../src/sim/contest/dataset-types.js';
import { ClairvoyantBound, type ClairvoyantResult } from '../src/sim/scoring/clairvoyant-bound.js';
import {
  forEachRequestFieldsParallel,
  forEachRequestFieldsWithBound,
  PARALLEL_PARSE_MIN_BYTES,
  REQUEST_PARSE_WORKER_SCRIPT,
  RequestParseWorkerError,
  type ParallelParseOptions,
} from '../src/sim/datasets/parallel-request-source.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DIST_SOURCE = join(REPO, 'dist/src/sim/datasets/parallel-request-source.js');
const DIST_PROTOCOL = join(REPO, 'dist/src/sim/datasets/request-parse-protocol.js');
const GENERATOR = join(REPO, 'dist/scripts/generate-dataset.js');

const root = mkdtempSync(join(tmpdir(), 'sim-parallel-parse-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Forces the worker whatever the file size. */
const FORCE: ParallelParseOptions = { minBytes: 0 };
/** A ring much smaller than the trace, so slots are reused many times and the producer blocks. */
const TINY: ParallelParseOptions = { minBytes: 0, chunks: 3, chunkRecords: 97 };

interface Visit {
  readonly startTime: number;
  readonly meta: MetaRecord;
  readonly durationsInMs: number;
  readonly statusCode: number;
  readonly line: number;
}

interface Outcome {
  readonly visits: Visit[];
  readonly count: number | undefined;
  readonly error: unknown;
}

function collect(run: (fn: (t: number, m: MetaRecord, d: number, s: number, l: number) => void) => number): Outcome {
  const visits: Visit[] = [];
  let count: number | undefined;
  let error: unknown;
  try {
    count = run((startTime, meta, durationsInMs, statusCode, line) => visits.push({ startTime, meta, durationsInMs, statusCode, line }));
  } catch (e) {
    error = e;
  }
  return { visits, count, error };
}

/** Same records in the same order with the same numbers (Object.is: -0 and NaN count) and meta objects. */
function expectSameVisits(actual: Visit[], expected: Visit[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (
      a.meta !== e.meta ||
      !Object.is(a.startTime, e.startTime) ||
      !Object.is(a.durationsInMs, e.durationsInMs) ||
      !Object.is(a.statusCode, e.statusCode) ||
      !Object.is(a.line, e.line)
    ) {
      expect({ index: i, ...a }).toEqual({ index: i, ...e }); // fails with a readable diff
      expect(a.meta).toBe(e.meta);
    }
  }
}

let n = 0;
const META_A = '{"key": "a", "runtime": "python", "memoryInMb": 512, "timeoutInSecs": 60, "initDurationInMs": 300}';
const META_B = '{"key": "b", "runtime": "go", "memoryInMb": 128, "timeoutInSecs": 60, "initDurationInMs": 0}';
function dataset(requests: string[], metas: string[] = [META_A, META_B]): string {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'metas'), metas.join('\n'));
  writeFileSync(join(dir, 'requests'), requests.join('\n'));
  return dir;
}
function req(t: number, key = 'a', d = 10, s = 200): string {
  return `{"startTime": ${t}, "metaKey": "${key}", "durationsInMs": ${d}, "statusCode": ${s}}`;
}
function lines(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => req(1_000 + from + i, (from + i) % 3 === 0 ? 'b' : 'a', (from + i) % 1000, (from + i) % 50 === 0 ? 500 : 200));
}

describe('forEachRequestFieldsParallel', () => {
  let generated: string;

  beforeAll(() => {
    expect(statSync(REQUEST_PARSE_WORKER_SCRIPT).isFile()).toBe(true); // build dist/ first
    generated = join(root, 'faas-mix');
    execFileSync(process.execPath, [GENERATOR, '--family', 'faas-mix', '--out', generated], { timeout: 20_000, stdio: 'ignore' });
  }, 30_000);

  it('yields exactly what the synchronous loader yields on a generated trace', () => {
    const metas = loadMetasSync(generated);
    const sync = collect((fn) => forEachRequestFieldsSync(generated, metas, fn));
    expect(sync.error).toBeUndefined();
    expect(sync.count).toBeGreaterThan(10_000);
    expect(sync.count).toBe(sync.visits.length);
    for (const opts of [FORCE, TINY, { minBytes: 0, chunks: 1, chunkRecords: 1 }]) {
      const par = collect((fn) => forEachRequestFieldsParallel(generated, metas, fn, opts));
      expect(par.error).toBeUndefined();
      expect(par.count).toBe(sync.count);
      expectSameVisits(par.visits, sync.visits);
    }
  }, 20_000);

  it('computes the clairvoyant bound on the way, equal to the in-process bound, worker or not', () => {
    const metas = loadMetasSync(generated);
    const opts = { createMs: 100, rpcOverheadMs: 0.5 };
    const reference = new ClairvoyantBound(opts);
    const sync = collect((fn) => forEachRequestFieldsSync(generated, metas, fn));
    for (const v of sync.visits) reference.addFields(reference.functionHandle(v.meta), v.startTime, v.durationsInMs, v.statusCode);
    const expected = reference.finish();
    expect(expected.score).toBeGreaterThan(0);
    for (const parseOpts of [FORCE, TINY, { minBytes: Number.MAX_SAFE_INTEGER }]) {
      let bound: ClairvoyantResult | undefined;
      const par = collect((fn) => {
        const r = forEachRequestFieldsWithBound(generated, metas, fn, opts, parseOpts);
        bound = r.bound;
        return r.count;
      });
      expect(par.error).toBeUndefined();
      expectSameVisits(par.visits, sync.visits);
      expect(bound).toEqual(expected);
    }
  }, 20_000);

  it('keeps values exact off the fast path (spacing, fractions, big and negative numbers, CRLF, blanks)', () => {
    const dir = dataset([
      req(1),
      '',
      '{"startTime":2,"metaKey":"b","durationsInMs":0.5,"statusCode":-1}\r',
      '  {"metaKey": "a", "startTime": 2.25, "statusCode": 999999999999999, "durationsInMs": 1e3}  ',
      req(3, 'b', 123456789012345, 2147483648),
      '{"startTime": 4, "metaKey": "\\u0061", "durationsInMs": 7, "statusCode": -0}',
      req(4),
      '',
    ]);
    const metas = loadMetasSync(dir);
    const sync = collect((fn) => forEachRequestFieldsSync(dir, metas, fn));
    expect(sync.error).toBeUndefined();
    expect(sync.count).toBe(6);
    const par = collect((fn) => forEachRequestFieldsParallel(dir, metas, fn, { minBytes: 0, chunkRecords: 2, chunks: 2 }));
    expect(par.error).toBeUndefined();
    expect(par.count).toBe(6);
    expectSameVisits(par.visits, sync.visits);
    expect(Object.is(par.visits[4]!.statusCode, -0)).toBe(true);
  }, 10_000);

  it('validates against the caller\'s map, not the metas file', () => {
    const dir = dataset([req(1, 'a'), req(2, 'x')]);
    const fileMetas = loadMetasSync(dir);
    const x: MetaRecord = { key: 'x', runtime: 'node', memoryInMb: 64, timeoutInSecs: 1, initDurationInMs: 5 };
    const metas = new Map([['x', x], ['a', fileMetas.get('a')!]]);
    const par = collect((fn) => forEachRequestFieldsParallel(dir, metas, fn, FORCE));
    expect(par.error).toBeUndefined();
    expect(par.visits.map((v) => v.meta)).toEqual([fileMetas.get('a'), x]);
    expect(par.visits[1]!.meta).toBe(x);
  }, 10_000);

  it.each([
    ['invalid JSON', '{"startTime": 5, "metaKey": '],
    ['unknown metaKey', req(1_500, 'zzz')],
    ['out of order', req(10)],
    ['bad status', '{"startTime": 5000, "metaKey": "a", "durationsInMs": 1, "statusCode": 1.5}'],
  ])('a malformed line (%s) throws the same DatasetError after the records before it', (_name, bad) => {
    const dir = dataset([...lines(500), bad, ...lines(500, 600)]);
    const metas = loadMetasSync(dir);
    const sync = collect((fn) => forEachRequestFieldsSync(dir, metas, fn));
    expect(sync.error).toBeInstanceOf(DatasetError);
    expect(sync.visits.length).toBe(500);
    for (const opts of [FORCE, TINY]) {
      const par = collect((fn) => forEachRequestFieldsParallel(dir, metas, fn, opts));
      expect(par.count).toBeUndefined();
      expect(par.error).toBeInstanceOf(DatasetError);
      const e = par.error as DatasetError;
      const s = sync.error as DatasetError;
      expect(e.name).toBe('DatasetError');
      expect({ code: e.code, file: e.file, line: e.line, reason: e.reason, message: e.message }).toEqual({
        code: s.code,
        file: s.file,
        line: 501,
        reason: s.reason,
        message: s.message,
      });
      expectSameVisits(par.visits, sync.visits);
    }
  }, 20_000);

  it('reports a missing requests file like the synchronous loader', () => {
    const dir = join(root, 'no-requests');
    mkdirSync(dir);
    writeFileSync(join(dir, 'metas'), META_A);
    mkdirSync(join(dir, 'requests')); // a directory, so the size check passes and the worker reports it
    const metas = loadMetasSync(dir);
    const sync = collect((fn) => forEachRequestFieldsSync(dir, metas, fn));
    const par = collect((fn) => forEachRequestFieldsParallel(dir, metas, fn, FORCE));
    expect(par.error).toBeInstanceOf(DatasetError);
    expect((par.error as DatasetError).code).toBe('DATASET_MISSING');
    expect((par.error as DatasetError).message).toBe((sync.error as DatasetError).message);
  }, 10_000);

  it('rethrows the visitor\'s own error and stops the worker', () => {
    const metas = loadMetasSync(generated);
    const stop = new Error('enough');
    let seen = 0;
    const par = collect(() =>
      forEachRequestFieldsParallel(
        generated,
        metas,
        () => {
          if (++seen === 1_000) throw stop;
        },
        TINY,
      ),
    );
    expect(par.error).toBe(stop);
    expect(seen).toBe(1_000);
    // The thread can run another pass right away (nothing shared is left behind).
    const again = collect((fn) => forEachRequestFieldsParallel(generated, metas, fn, TINY));
    expect(again.error).toBeUndefined();
  }, 10_000);

  it('a process whose visitor throws mid-trace exits on its own (no worker left running)', () => {
    // The ring is tiny, so the worker is blocked on a full ring when the visitor throws. The
    // parent runs with --input-type=module, which Node 20 passes on to workers and which makes
    // a file entry point fail before any of our code runs: the bootstrap must cope with it.
    const code = `
      import { loadMetasSync } from ${JSON.stringify(join(REPO, 'dist/src/sim/datasets/dataset-loader.js'))};
      import { forEachRequestFieldsParallel } from ${JSON.stringify(DIST_SOURCE)};
      const dir = ${JSON.stringify(generated)};
      let seen = 0;
      try {
        forEachRequestFieldsParallel(dir, loadMetasSync(dir), () => { if (++seen === 500) throw new Error('stop'); }, { minBytes: 0, chunks: 2, chunkRecords: 64 });
      } catch (e) {
        console.log('caught', e.message, seen);
      }
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 10_000 });
    expect(r.signal).toBeNull(); // killed by the timeout would mean a hang
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('caught stop 500');
  }, 15_000);

  it.each([
    ['throws while loading', 'throw new Error("broken module");', /could not start: broken module/],
    ['lacks the entry point', 'export const nothing = 1;', /could not start: .*does not export runRequestParseWorker/],
    ['does not parse', 'export function (', /could not start: /],
  ])('a worker module that %s fails with RequestParseWorkerError instead of hanging', (name, source, message) => {
    const script = join(root, `bad-${name.replace(/\W/g, '-')}.mjs`);
    writeFileSync(script, source);
    const metas = loadMetasSync(generated);
    const par = collect((fn) => forEachRequestFieldsParallel(generated, metas, fn, { ...FORCE, workerScript: script }));
    expect(par.error).toBeInstanceOf(RequestParseWorkerError);
    expect((par.error as RequestParseWorkerError).code).toBe('REQUEST_PARSE_WORKER_FAILED');
    expect((par.error as Error).message).toMatch(message);
    expect(par.visits).toEqual([]);
  }, 10_000);

  describe('size threshold', () => {
    // A stand-in worker that follows the protocol but only ever reports a failure: seeing its
    // error proves the worker path was taken, seeing correct records proves it was not.
    let fakeWorker: string;
    beforeAll(() => {
      fakeWorker = join(root, 'fake-worker.mjs');
      writeFileSync(
        fakeWorker,
        `
        import { ringViews, CONTROL_PRODUCED, END_ERROR } from ${JSON.stringify(DIST_PROTOCOL)};
        export async function runRequestParseWorker(d) {
          const v = ringViews(d.ring, d.chunks, d.chunkRecords);
          d.port.postMessage({ kind: 'other', name: 'FakeError', message: 'fake worker ran', code: 'EFAKE' });
          v.count[0] = 0;
          v.end[0] = END_ERROR;
          Atomics.store(v.control, CONTROL_PRODUCED, 1);
          Atomics.notify(v.control, CONTROL_PRODUCED);
          d.port.close();
        }
        `,
      );
    });

    it('defaults to 16 MiB', () => {
      expect(PARALLEL_PARSE_MIN_BYTES).toBe(16 * 1024 * 1024);
    });

    it('parses synchronously, bound included, when the worker script is missing', () => {
      const dir = dataset(lines(50));
      const metas = loadMetasSync(dir);
      const sync = collect((fn) => forEachRequestFieldsSync(dir, metas, fn));
      const missing: ParallelParseOptions = { minBytes: 0, workerScript: join(root, 'no-such-worker.mjs') };
      const par = collect((fn) => forEachRequestFieldsParallel(dir, metas, fn, missing));
      expect(par.error).toBeUndefined();
      expectSameVisits(par.visits, sync.visits);
      const opts = { createMs: 100, rpcOverheadMs: 0.5 };
      const reference = new ClairvoyantBound(opts);
      for (const v of sync.visits) reference.addFields(reference.functionHandle(v.meta), v.startTime, v.durationsInMs, v.statusCode);
      const r = forEachRequestFieldsWithBound(dir, metas, () => {}, opts, missing);
      expect(r.count).toBe(50);
      expect(r.bound).toEqual(reference.finish());
    }, 10_000);

    it('a worker that ends without the bound it was asked for fails forEachRequestFieldsWithBound', () => {
      const noBound = join(root, 'no-bound-worker.mjs');
      writeFileSync(
        noBound,
        `
        import { ringViews, CONTROL_PRODUCED, END_OK } from ${JSON.stringify(DIST_PROTOCOL)};
        export async function runRequestParseWorker(d) {
          const v = ringViews(d.ring, d.chunks, d.chunkRecords);
          v.count[0] = 0;
          v.end[0] = END_OK;
          Atomics.store(v.control, CONTROL_PRODUCED, 1);
          Atomics.notify(v.control, CONTROL_PRODUCED);
          d.port.close();
        }
        `,
      );
      const dir = dataset(lines(5));
      const metas = loadMetasSync(dir);
      const opts = { minBytes: 0, workerScript: noBound };
      // Without a bound asked for, the same worker is a valid (empty) pass.
      expect(forEachRequestFieldsParallel(dir, metas, () => {}, opts)).toBe(0);
      let error: unknown;
      try {
        forEachRequestFieldsWithBound(dir, metas, () => {}, { createMs: 100, rpcOverheadMs: 0.5 }, opts);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RequestParseWorkerError);
      expect((error as Error).message).toBe('request parse worker finished without the bound it was asked for');
    }, 10_000);

    it('files below minBytes are parsed synchronously; at minBytes the worker is used', () => {
      const dir = dataset(lines(50));
      const size = statSync(join(dir, 'requests')).size;
      const metas = loadMetasSync(dir);
      const sync = collect((fn) => forEachRequestFieldsSync(dir, metas, fn));
      const below = collect((fn) => forEachRequestFieldsParallel(dir, metas, fn, { minBytes: size + 1, workerScript: fakeWorker }));
      expect(below.error).toBeUndefined();
      expect(below.count).toBe(50);
      expectSameVisits(below.visits, sync.visits);
      // The default threshold too: this file is far below it.
      const byDefault = collect((fn) => forEachRequestFieldsParallel(dir, metas, fn, { workerScript: fakeWorker }));
      expect(byDefault.error).toBeUndefined();
      expect(byDefault.count).toBe(50);

      const at = collect((fn) => forEachRequestFieldsParallel(dir, metas, fn, { minBytes: size, workerScript: fakeWorker }));
      expect(at.error).toBeInstanceOf(Error);
      expect(at.error).toMatchObject({ name: 'FakeError', message: 'fake worker ran', code: 'EFAKE' });
      expect(at.visits).toEqual([]);
    }, 10_000);
  });
});
