/**
 * Platform outages of 1 s about every 10 s, live, through the TCP proxy between the scaler process
 * and the platform: each outage resets every established connection (calls in flight are cut
 * mid-call: an Init certainly is, by the dataset's design) and refuses new ones. The replay sees
 * no failure, and no slot is alive after the scaler stops.
 */
import { describe, expect, it } from 'vitest';
import { runFaultLive } from '../src/sim/faults/fault-live-run.js';
import { MAIN_JS } from './reliability-fixtures.js';
import { OUTAGE_DATASET_FIRST_OUTAGE_MS, outageDataset } from './reliability-datasets.js';

describe('live: outages with established connections reset', () => {
  it('1 s outages every 10 s: 0 failed requests, 0 slots left', async () => {
    const ds = outageDataset();
    const r = await runFaultLive({
      mainJs: MAIN_JS,
      metas: ds.metas,
      requests: ds.requests,
      plan: { rates: { outage: 0.1 }, outageMs: 1_000, firstOutageAtMs: OUTAGE_DATASET_FIRST_OUTAGE_MS },
      maxInitMs: 3_000,
      shards: 2,
    });
    const summary = JSON.stringify(r);
    expect(r.requests).toBe(ds.requests.length);
    expect(r.failureReasons, summary).toEqual({});
    expect(r.leakedDetail, summary).toEqual([]);
    expect(r.proxyOutages, summary).toBeGreaterThanOrEqual(2);
    // Calls really were cut mid-call (not only refused): the Inits running at each outage start.
    expect(r.cutCalls.Init, summary).toBeGreaterThanOrEqual(2);
    // No slot left once the scaler stopped. The only kind that could be is a CreateSlot the
    // platform answered just as its connection was reset: unreclaimable, and then counted.
    expect(r.liveSlotsAfterStop, summary).toBeLessThanOrEqual(r.lostCreateReplies);
    expect(r.liveSlotsAfterStop, summary).toBe(0);
  }, 60_000);
});
