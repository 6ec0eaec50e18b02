import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DatasetError,
  forEachRequestSync,
  loadDataset,
  loadDatasetSync,
  loadMetas,
  loadMetasSync,
  streamRequests,
} from '../src/sim/datasets/dataset-loader.js';
import type { RequestRecord } from '../src/sim/contest/dataset-types.js';

const SMOKE = fileURLToPath(new URL('../datasets/function_smoke_test', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'sim-loader-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const META_A = '{"key": "a", "runtime": "python", "memoryInMb": 512, "timeoutInSecs": 60, "initDurationInMs": 300}';
const META_B = '{"key": "b", "runtime": "go", "memoryInMb": 128, "timeoutInSecs": 60, "initDurationInMs": 0}';
let n = 0;
function dataset(metas: string[], requests: string[], sep = '\n'): string {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'metas'), metas.join('\n'));
  writeFileSync(join(dir, 'requests'), requests.join(sep));
  return dir;
}
function req(t: number, key = 'a', d = 10, s = 200): string {
  return `{"startTime": ${t}, "metaKey": "${key}", "durationsInMs": ${d}, "statusCode": ${s}}`;
}

async function collectAsync(dir: string): Promise<RequestRecord[]> {
  const metas = await loadMetas(dir);
  const out: RequestRecord[] = [];
  for await (const r of streamRequests(dir, metas)) out.push(r);
  return out;
}
function collectSync(dir: string): RequestRecord[] {
  const metas = loadMetasSync(dir);
  const out: RequestRecord[] = [];
  forEachRequestSync(dir, metas, (r) => out.push(r));
  return out;
}

async function expectBoth(dir: string, line: number, reason: RegExp): Promise<void> {
  for (const run of [() => collectAsync(dir), async () => collectSync(dir)]) {
    const err = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatasetError);
    const de = err as DatasetError;
    expect(de.code).toBe('DATASET_MALFORMED');
    expect(de.file).toBe(join(dir, 'requests'));
    expect(de.line).toBe(line);
    expect(de.reason).toMatch(reason);
    expect(de.message).toBe(`${de.file}:${line}: ${de.reason}`);
  }
}

describe('dataset loader: bundled smoke set', () => {
  it('loads 129 metas and 980 sorted requests, 4 of them non-200', async () => {
    const ds = await loadDataset(SMOKE);
    expect(ds.name).toBe('function_smoke_test');
    expect(ds.metas.size).toBe(129);
    expect(ds.requests.length).toBe(980);
    expect(ds.requests.filter((r) => r.statusCode !== 200).map((r) => r.statusCode)).toEqual([408, 408, 408, 408]);
    expect(ds.requests[0]).toEqual({
      startTime: 1685063887670,
      metaKey: '36bf9a5965e2bc6eb21d749b35f69500071adef2',
      durationsInMs: 10246,
      statusCode: 200,
    });
    const sync = loadDatasetSync(SMOKE);
    expect(sync.requests).toEqual(ds.requests);
    expect([...sync.metas.values()]).toEqual([...ds.metas.values()]);
    expect(ds.metas.get('59604e0de19592edd848d362fe515f9d88458617')).toEqual({
      key: '59604e0de19592edd848d362fe515f9d88458617',
      runtime: 'custom',
      memoryInMb: 8192,
      timeoutInSecs: 60,
      initDurationInMs: 3085,
    });
  });
});

describe('dataset loader: validation', () => {
  it('reports bad JSON with file and line', async () => {
    await expectBoth(dataset([META_A], [req(1), '{"startTime": 2, "metaKey": "a",', req(3)]), 2, /invalid JSON/);
  });
  it('reports a non-object line', async () => {
    await expectBoth(dataset([META_A], [req(1), '[1,2]']), 2, /JSON object/);
  });
  it('reports a missing field', async () => {
    await expectBoth(dataset([META_A], [req(1), req(2), '{"startTime": 3, "metaKey": "a", "statusCode": 200}']), 3, /durationsInMs/);
  });
  it('reports an unknown metaKey', async () => {
    await expectBoth(dataset([META_A], [req(1), req(2, 'zzz')]), 2, /unknown metaKey "zzz"/);
  });
  it('reports a negative duration', async () => {
    await expectBoth(dataset([META_A], [req(1, 'a', -5)]), 1, /durationsInMs must be a non-negative/);
  });
  it('reports a non-integer status code and a string startTime', async () => {
    await expectBoth(dataset([META_A], [req(1), '{"startTime": 2, "metaKey": "a", "durationsInMs": 1, "statusCode": 200.5}']), 2, /statusCode/);
    await expectBoth(dataset([META_A], ['{"startTime": "5", "metaKey": "a", "durationsInMs": 1, "statusCode": 200}']), 1, /startTime/);
  });
  it('reports out-of-order startTime (requests must be sorted)', async () => {
    await expectBoth(dataset([META_A], [req(10), req(10), req(9)]), 3, /before the previous/);
  });
  it('rejects JSON that only looks like the fast shape (leading zeros)', async () => {
    await expectBoth(dataset([META_A], ['{"startTime": 01, "metaKey": "a", "durationsInMs": 1, "statusCode": 200}']), 1, /invalid JSON/);
  });
  it('accepts other spacing, key order, fractions, escapes, CRLF and blank lines', async () => {
    const dir = dataset(
      [META_A, '', META_B],
      [
        '',
        '{"metaKey":"a","startTime":1,"durationsInMs":2.5,"statusCode":200,"extra":[1]}',
        req(2, 'b', 0, 500),
        '   ',
        '{"startTime": 3, "metaKey": "\\u0062", "durationsInMs": 1e3, "statusCode": 408}',
        '',
      ],
      '\r\n',
    );
    const expected = [
      { startTime: 1, metaKey: 'a', durationsInMs: 2.5, statusCode: 200 },
      { startTime: 2, metaKey: 'b', durationsInMs: 0, statusCode: 500 },
      { startTime: 3, metaKey: 'b', durationsInMs: 1000, statusCode: 408 },
    ];
    expect(await collectAsync(dir)).toEqual(expected);
    expect(collectSync(dir)).toEqual(expected);
  });
  it('validates metas: duplicate key, bad memory, missing init', async () => {
    const cases: [string[], number, RegExp][] = [
      [[META_A, META_B, META_A], 3, /duplicate key "a"/],
      [[META_A.replace('512', '0')], 1, /memoryInMb/],
      [[META_A.replace('512', '1.5')], 1, /memoryInMb/],
      [[META_A.replace(', "initDurationInMs": 300', '')], 1, /initDurationInMs/],
      [['{"key": "", "runtime": "x", "memoryInMb": 1, "timeoutInSecs": 1, "initDurationInMs": 1}'], 1, /key/],
      [[META_A, 'nope'], 2, /invalid JSON/],
    ];
    for (const [metas, line, reason] of cases) {
      const dir = dataset(metas, []);
      const err = await loadMetas(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DatasetError);
      expect((err as DatasetError).line).toBe(line);
      expect((err as DatasetError).file).toBe(join(dir, 'metas'));
      expect((err as DatasetError).reason).toMatch(reason);
    }
  });
  it('reports missing files as DATASET_MISSING', async () => {
    const dir = join(root, 'empty');
    mkdirSync(dir);
    await expect(loadMetas(dir)).rejects.toMatchObject({ code: 'DATASET_MISSING', file: join(dir, 'metas') });
    writeFileSync(join(dir, 'metas'), META_A);
    expect(() => forEachRequestSync(dir, loadMetasSync(dir), () => {})).toThrow(/missing dataset file requests/);
  });
  it('sync reader handles lines spanning its chunk boundary', () => {
    // ~3 MB of requests so several 1 MB chunks split lines at arbitrary bytes (incl. multi-byte keys).
    const key = 'é'.repeat(30);
    const meta = `{"key": "${key}", "runtime": "x", "memoryInMb": 128, "timeoutInSecs": 60, "initDurationInMs": 1}`;
    const lines: string[] = [];
    for (let i = 0; i < 30_000; i++) lines.push(req(1000 + i, key, i % 97, i % 1000 === 0 ? 500 : 200));
    const dir = dataset([meta], lines);
    const out = collectSync(dir);
    expect(out.length).toBe(30_000);
    expect(out[29_999]).toEqual({ startTime: 30_999, metaKey: key, durationsInMs: 29_999 % 97, statusCode: 200 });
    expect(out.filter((r) => r.statusCode === 500).length).toBe(30);
  });
});
