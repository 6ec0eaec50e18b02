/**
 * `BoundedPlatform` in front of the real raw HTTP/2 platform client and the simulator's
 * platform over loopback gRPC: the platform never sees more cold starts (CreateSlot + Init) or
 * destroys of this client at once than the bounds; every call still completes; permits come
 * back when a CreateSlot fails, when a slot is destroyed uninitialised, and queued cold starts
 * can be failed at shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PlatformErrorKind, type FunctionMetaRef, type PlatformError, type SlotInfo } from '../src/core/platform.js';
import { BoundedPlatform } from '../src/platform/bounded-platform.js';
import { RawH2PlatformClient } from '../src/platform/raw-h2-platform-client.js';
import { PlatformServer } from '../src/sim/live/platform-server.js';

const META: FunctionMetaRef = { key: 'fn', runtime: 'nodejs', timeoutInSecs: 60, memoryMb: 128 };

let platform: PlatformServer | undefined;
let client: BoundedPlatform | undefined;

afterEach(async () => {
  client?.close();
  await platform?.close();
  client = platform = undefined;
});

async function setup(maxColdStarts: number, maxDestroys: number, createMs = 20, initMs = 40): Promise<{ platform: PlatformServer; client: BoundedPlatform }> {
  platform = new PlatformServer({ address: '127.0.0.1:0', createLatencyMs: createMs, initDurationMs: () => initMs });
  await platform.start();
  client = new BoundedPlatform(new RawH2PlatformClient({ address: platform.target }), { maxColdStarts, maxDestroys });
  return { platform, client };
}

/** What the core does: CreateSlot, then Init on the new slot; resolves with the slot id. */
function coldStart(c: BoundedPlatform, n: number, memoryMb = 128): Promise<{ slotId: string } | { err: PlatformError }> {
  return new Promise((resolve) => {
    c.createSlot(`c${n}`, memoryMb, (err, slot?: SlotInfo) => {
      if (err !== null) return resolve({ err });
      c.init(`i${n}`, slot!.slotId, `inst-${n}`, META, (ierr) => resolve(ierr !== null ? { err: ierr } : { slotId: slot!.slotId }));
    });
  });
}

function destroy(c: BoundedPlatform, slotId: string): Promise<PlatformError | null> {
  return new Promise((resolve) => c.destroySlot(`d-${slotId}`, slotId, 'test', (err) => resolve(err)));
}

describe('BoundedPlatform', () => {
  it('keeps CreateSlot + Init and DestroySlot in flight within their bounds, and completes every call', { timeout: 15_000 }, async () => {
    const { platform: p, client: c } = await setup(3, 2);
    const starts = await Promise.all(Array.from({ length: 20 }, (_, i) => coldStart(c, i)));
    expect(starts.every((s) => 'slotId' in s)).toBe(true);
    expect(p.peakInFlight['CreateSlot+Init']).toBe(3);
    expect(c.coldStartsInFlight).toBe(0);
    expect(c.coldStartsQueued).toBe(0);
    const errs = await Promise.all(starts.map((s) => destroy(c, (s as { slotId: string }).slotId)));
    expect(errs.every((e) => e === null)).toBe(true);
    expect(p.peakInFlight.DestroySlot).toBeLessThanOrEqual(2);
    expect(p.liveSlotCount).toBe(0);
    expect(c.callCount('CreateSlot', 'ok')).toBe(20);
    expect(c.callCount('Init', 'ok')).toBe(20);
    expect(c.callCount('DestroySlot', 'ok')).toBe(20);
    expect(c.destroysInFlight).toBe(0);
  });

  it('unbounded (0) lets every cold start through at once', { timeout: 15_000 }, async () => {
    const { platform: p, client: c } = await setup(0, 0, 50, 100);
    const starts = await Promise.all(Array.from({ length: 12 }, (_, i) => coldStart(c, i)));
    expect(starts.every((s) => 'slotId' in s)).toBe(true);
    expect(p.peakInFlight['CreateSlot+Init']).toBe(12);
    expect(c.maxColdStarts).toBe(Infinity);
  });

  it('returns the permit of a failed CreateSlot and of a slot destroyed before its Init', { timeout: 15_000 }, async () => {
    const { platform: p, client: c } = await setup(1, 4);
    // Memory 0 is refused by the platform (InvalidArgument): a permanent failure.
    const failed = await coldStart(c, 0, 0);
    expect('err' in failed && failed.err.kind).toBe(PlatformErrorKind.Permanent);
    expect(c.callCount('CreateSlot', 'permanent')).toBe(1);
    // Created, never initialised (the core abandons it at shutdown): destroyed.
    const slotId = await new Promise<string>((resolve) => c.createSlot('c1', 128, (_e, s) => resolve(s!.slotId)));
    expect(c.coldStartsInFlight).toBe(1);
    expect(await destroy(c, slotId)).toBeNull();
    expect(c.coldStartsInFlight).toBe(0);
    // With the single permit back, a full cold start still gets through.
    expect('slotId' in (await coldStart(c, 2))).toBe(true);
    expect(p.peakInFlight['CreateSlot+Init']).toBe(1);
  });

  it('fails the queued cold starts at shutdown, not the ones under way', { timeout: 15_000 }, async () => {
    const { client: c } = await setup(2, 2, 20, 200);
    const all = Array.from({ length: 6 }, (_, i) => coldStart(c, i));
    expect(c.coldStartsQueued).toBe(4);
    c.abortQueuedColdStarts('scaler is shutting down');
    expect(c.coldStartsQueued).toBe(0);
    const out = await Promise.all(all);
    expect(out.filter((o) => 'slotId' in o)).toHaveLength(2);
    const aborted = out.filter((o): o is { err: PlatformError } => 'err' in o);
    expect(aborted).toHaveLength(4);
    for (const a of aborted) {
      expect(a.err.kind).toBe(PlatformErrorKind.Transient);
      expect(a.err.message).toMatch(/shutting down/);
    }
    expect(c.coldStartsInFlight).toBe(0);
  });
});
