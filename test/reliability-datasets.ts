/**
 * Short hand-made datasets for the live reliability tests: each function is placed so that the
 * case under test happens for certain (an instance held across a kill, an Init running when a
 * connection is reset), not by luck of the draw.
 */
import type { MetaRecord, RequestRecord } from '../src/sim/contest/dataset-types.js';

export interface SmallDataset {
  readonly metas: Map<string, MetaRecord>;
  readonly requests: RequestRecord[];
}

const BASE_MS = 1_700_000_000_000;

function build(metas: MetaRecord[], add: (push: (atMs: number, key: string, durationMs: number, statusCode?: number) => void) => void): SmallDataset {
  const requests: RequestRecord[] = [];
  add((atMs, metaKey, durationsInMs, statusCode = 200) => requests.push({ startTime: BASE_MS + atMs, metaKey, durationsInMs, statusCode }));
  requests.sort((a, b) => a.startTime - b.startTime);
  return { metas: new Map(metas.map((m) => [m.key, m])), requests };
}

function meta(key: string, memoryInMb: number, initDurationInMs: number, timeoutInSecs = 60): MetaRecord {
  return { key, runtime: 'go', memoryInMb, timeoutInSecs, initDurationInMs };
}

/**
 * 13 s around a kill at `killAtMs` (default 5 s): a steady short function (idle instances at the
 * kill, served warm after it), bursts, a 5 s request that starts 1.5 s before the kill (held at
 * the kill; its Idle reaches the new process), a function whose first Init runs across the kill
 * (its slot is reclaimed), and requests that break their instance (need_destroy).
 */
export function crashDataset(killAtMs = 5_000): SmallDataset {
  const end = killAtMs + 7_000;
  return build(
    [meta('c-short', 256, 50), meta('c-burst', 512, 30), meta('c-long', 1024, 200, 120), meta('c-slowinit', 2048, 3_000), meta('c-broken', 256, 20)],
    (push) => {
      for (let t = 0; t < end; t += 250) push(t, 'c-short', 100);
      for (let t = 500; t < end; t += 2_000) for (let i = 0; i < 5; i++) push(t + i * 30, 'c-burst', 60 + i * 20);
      for (const t of [1_000, killAtMs - 1_500, killAtMs + 3_000]) push(t, 'c-long', 5_000);
      push(killAtMs - 1_000, 'c-slowinit', 100);
      push(killAtMs + 5_000, 'c-slowinit', 100);
      for (let t = 700; t < end; t += 1_100) push(t, 'c-broken', 80, Math.round(t / 1_100) % 3 === 0 ? 500 : 200);
    },
  );
}

/** Where `outageDataset` expects the first of its 1 s outages (the next one 10 s later). */
export const OUTAGE_DATASET_FIRST_OUTAGE_MS = 1_500;

/**
 * 13.5 s with platform outages at 1.5 s and 11.5 s (1 s every 10 s): steady traffic, longer
 * requests that need several instances, and two functions first called 1 s before an outage with
 * a 2.5 s Init, so an Init is certainly in flight when the connections are reset.
 */
export function outageDataset(): SmallDataset {
  const first = OUTAGE_DATASET_FIRST_OUTAGE_MS;
  return build(
    [meta('o-steady', 256, 100), meta('o-mid', 512, 500), meta('o-new-1', 1024, 2_500), meta('o-new-2', 1024, 2_500)],
    (push) => {
      for (let t = 0; t < 13_000; t += 100) push(t, 'o-steady', 80);
      for (let t = 0; t < 12_000; t += 400) push(t, 'o-mid', 1_500);
      for (const t of [first - 1_000, first + 3_000, first + 7_000]) push(t, 'o-new-1', 300);
      for (const t of [first + 9_000, first + 11_500]) push(t, 'o-new-2', 300);
    },
  );
}
