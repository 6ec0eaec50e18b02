/**
 * A CreateSlot whose reply is lost after the platform acted leaves a slot nobody can learn the id
 * of. The core counts and logs it, and retries under the same request id, so a platform that
 * deduplicates requests answers with that slot instead of making another; after a definite
 * answer (Throttle) the retry gets a fresh id, so the platform does not replay that answer.
 */
import { describe, expect, it } from 'vitest';
import { PlatformErrorKind, type Platform, type PlatformCallback, type SlotInfo } from '../src/core/platform.js';
import { FixedKeepAlivePolicy } from '../src/core/policies/fixed-keep-alive.js';
import { ScalerCore, type CoreLogger } from '../src/core/scaler-core.js';
import type { FunctionMeta } from '../src/core/types.js';
import { VirtualClock } from '../src/core/virtual-clock.js';
import { VirtualPlatform } from '../src/sim/virtual/virtual-platform.js';

const META: FunctionMeta = { key: 'fn', runtime: 'go', timeoutInSecs: 60, memoryMb: 256 };

/**
 * The virtual platform behind a link that loses the first `lose` CreateSlot replies after the
 * platform made the slot; with `dedup`, a request id seen before gets the slot made for it.
 */
class LossyLink implements Platform {
  readonly createIds: string[] = [];
  private readonly byRequest = new Map<string, SlotInfo>();
  constructor(
    private readonly inner: VirtualPlatform,
    private lose: number,
    private readonly dedup: boolean,
    private throttleFirst = false,
  ) {}

  createSlot(requestId: string, memoryMb: number, cb: PlatformCallback<SlotInfo>): void {
    this.createIds.push(requestId);
    if (this.throttleFirst) {
      this.throttleFirst = false;
      cb({ kind: PlatformErrorKind.Throttle, message: 'CreateSlot: throttled' });
      return;
    }
    const known = this.dedup ? this.byRequest.get(requestId) : undefined;
    if (known !== undefined) {
      cb(null, known);
      return;
    }
    this.inner.createSlot(requestId, memoryMb, (err, slot) => {
      if (err === null && slot !== undefined) this.byRequest.set(requestId, slot);
      if (err === null && this.lose > 0) {
        this.lose--;
        cb({ kind: PlatformErrorKind.Transient, message: 'CreateSlot: stream reset (HTTP/2 code 2)', unknownOutcome: true });
        return;
      }
      cb(err, slot);
    });
  }

  init: Platform['init'] = (...args) => this.inner.init(...args);
  destroySlot: Platform['destroySlot'] = (...args) => this.inner.destroySlot(...args);
}

function run(link: (vp: VirtualPlatform) => LossyLink) {
  const clock = new VirtualClock(0);
  const vp = new VirtualPlatform({ clock, initDurationMs: () => 100, createLatencyMs: 100, rpcMs: 1 });
  const l = link(vp);
  const warnings: string[] = [];
  const logger: CoreLogger = { warn: (_f, msg) => void warnings.push(msg), debug() {} };
  const core = new ScalerCore({ clock, platform: l, policy: new FixedKeepAlivePolicy(60_000), logger });
  let iid: string | undefined;
  core.assign({ requestId: 'r1', meta: META }, (err, id) => (iid = err === null ? id : undefined));
  clock.runUntil(5_000);
  expect(iid).toBeDefined();
  expect(core.idle({ requestId: 'r1', metaKey: META.key, instanceId: iid!, needDestroy: false, durationMs: 10 })).toBeNull();
  core.shutdown(() => {});
  clock.runUntil(10_000);
  return { vp, link: l, core, warnings };
}

describe('a lost CreateSlot reply', () => {
  it('is counted and logged, and retried under the same request id', () => {
    const { link, core, warnings } = run((vp) => new LossyLink(vp, 1, false));
    expect(core.metrics.lostCreateReplies).toBe(1);
    expect(warnings.some((w) => /CreateSlot reply lost/.test(w))).toBe(true);
    expect(link.createIds.length).toBe(2);
    expect(link.createIds[1]).toBe(link.createIds[0]);
  });

  it('leaves one slot the scaler cannot destroy when the platform does not deduplicate', () => {
    const { vp, core } = run((vp) => new LossyLink(vp, 1, false));
    expect(core.metrics.liveSlots).toBe(0);
    expect(vp.liveSlots).toBe(1);
  });

  it('leaves none when the platform deduplicates request ids', () => {
    const { vp, core } = run((vp) => new LossyLink(vp, 1, true));
    expect(core.metrics.lostCreateReplies).toBe(1);
    expect(vp.liveSlots).toBe(0);
  });

  it('after a definite answer (Throttle), retries under a fresh request id, and counts nothing lost', () => {
    const { link, core, vp } = run((vp) => new LossyLink(vp, 0, true, true));
    expect(link.createIds.length).toBe(2);
    expect(link.createIds[1]).not.toBe(link.createIds[0]);
    expect(core.metrics.lostCreateReplies).toBe(0);
    expect(vp.liveSlots).toBe(0);
  });
});
