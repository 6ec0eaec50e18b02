import { describe, expect, it } from 'vitest';
import { FixedKeepAlivePolicy } from '../src/core/policies/fixed-keep-alive.js';
import { PlatformErrorKind, type PlatformError } from '../src/core/platform.js';
import { BUSY_LEASE_GRACE_MS, BUSY_LEASE_SWEEP_MS, BUSY_LEASE_TIMEOUT_FACTOR, INIT_HEDGE_FACTOR, INIT_HEDGE_SWEEP_MS, ScalerCore } from '../src/core/scaler-core.js';
import { ScalerErrorCode, type FunctionMeta } from '../src/core/types.js';
import { VirtualClock } from '../src/core/virtual-clock.js';
import { VirtualPlatform, type VirtualFaults } from '../src/sim/virtual/virtual-platform.js';

const META: FunctionMeta = { key: 'fn-a', runtime: 'nodejs', timeoutInSecs: 60, memoryMb: 512 };
const INIT_MS = 1_000;
const CREATE_MS = 100;

function setup(opts: { keepAliveMs?: number; faults?: VirtualFaults } = {}) {
  const clock = new VirtualClock(0);
  const platform = new VirtualPlatform({ clock, initDurationMs: () => INIT_MS, createLatencyMs: CREATE_MS, rpcMs: 0, faults: opts.faults });
  const core = new ScalerCore({ clock, platform, policy: new FixedKeepAlivePolicy(opts.keepAliveMs ?? 10_000), instanceIdPrefix: 't-' });
  const assign = (requestId: string, meta: FunctionMeta = META) => {
    const out: { id?: string; err?: string; at?: number } = {};
    core.assign({ requestId, meta }, (err, id) => {
      out.at = clock.now();
      if (err) out.err = err.code;
      else out.id = id;
    });
    return out;
  };
  const idle = (requestId: string, instanceId: string, needDestroy = false, metaKey = META.key) =>
    core.idle({ requestId, instanceId, metaKey, needDestroy, durationMs: 50 });
  return { clock, platform, core, assign, idle };
}

describe('ScalerCore', () => {
  it('cold-starts on a miss and answers when create + init are done', () => {
    const { clock, platform, assign } = setup();
    const a = assign('r1');
    expect(a.id).toBeUndefined();
    clock.runUntil(CREATE_MS + INIT_MS - 1);
    expect(a.id).toBeUndefined();
    clock.runUntil(CREATE_MS + INIT_MS);
    expect(a.id).toBeDefined();
    expect(a.at).toBe(CREATE_MS + INIT_MS);
    expect(platform.instances.get(a.id!)?.state).toBe(2);
  });

  it('reuses the most recently released idle instance first', () => {
    const { clock, core, assign, idle } = setup();
    const a = assign('r1');
    const b = assign('r2');
    clock.runUntil(2_000);
    expect(a.id).not.toBe(b.id);
    expect(idle('r1', a.id!)).toBeNull();
    clock.runUntil(2_100);
    expect(idle('r2', b.id!)).toBeNull();
    const c = assign('r3');
    expect(c.id).toBe(b.id);
    const d = assign('r4');
    expect(d.id).toBe(a.id);
    expect(core.metrics.coldStarts).toBe(2);
  });

  it('destroys an idle instance when its keep-alive expires, and not before', () => {
    const { clock, platform, core, assign, idle } = setup({ keepAliveMs: 5_000 });
    const a = assign('r1');
    clock.runUntil(1_100);
    idle('r1', a.id!);
    clock.runUntil(1_100 + 4_999);
    expect(platform.liveSlots).toBe(1);
    clock.runUntil(1_100 + 5_001);
    expect(platform.liveSlots).toBe(0);
    expect(core.metrics.liveSlots).toBe(0);
    expect(core.metrics.idleInstances).toBe(0);
  });

  it('extends the keep-alive when an instance is reused before it expires', () => {
    const { clock, platform, assign, idle } = setup({ keepAliveMs: 5_000 });
    const a = assign('r1');
    clock.runUntil(1_100);
    idle('r1', a.id!);
    clock.runUntil(5_000);
    const b = assign('r2');
    expect(b.id).toBe(a.id);
    idle('r2', b.id!);
    clock.runUntil(9_000);
    expect(platform.liveSlots).toBe(1);
    clock.runUntil(10_001);
    expect(platform.liveSlots).toBe(0);
  });

  it('never hands out an instance released with need_destroy, and destroys its slot', () => {
    const { clock, platform, assign, idle } = setup();
    const a = assign('r1');
    clock.runUntil(1_100);
    expect(idle('r1', a.id!, true)).toBeNull();
    const b = assign('r2');
    expect(b.id).toBeUndefined();
    clock.runUntil(3_000);
    expect(b.id).toBeDefined();
    expect(b.id).not.toBe(a.id);
    expect(platform.instances.has(a.id!)).toBe(false);
    expect(platform.liveSlots).toBe(1);
  });

  it('hands a waiting request the instance released before its cold start finishes', () => {
    const { clock, core, assign, idle } = setup();
    const a = assign('r1');
    clock.runUntil(1_100);
    const b = assign('r2');
    expect(core.metrics.startingInstances).toBe(1);
    clock.runUntil(1_300);
    idle('r1', a.id!);
    expect(b.id).toBe(a.id);
    expect(b.at).toBe(1_300);
    clock.runUntil(2_300);
    // The cold start it no longer needed lands idle, ready for the next request.
    expect(core.metrics.idleInstances).toBe(1);
    const c = assign('r3');
    expect(c.id).toBeDefined();
    expect(c.id).not.toBe(a.id);
  });

  it('treats a duplicate Idle as a no-op success', () => {
    const { clock, core, assign, idle } = setup();
    const a = assign('r1');
    clock.runUntil(1_100);
    expect(idle('r1', a.id!)).toBeNull();
    expect(idle('r1', a.id!)).toBeNull();
    expect(core.metrics.idleInstances).toBe(1);
    expect(core.metrics.idles).toBe(1);
    // Also after a need_destroy release removed the instance.
    const b = assign('r2');
    expect(idle('r2', b.id!, true)).toBeNull();
    expect(idle('r2', b.id!, true)).toBeNull();
  });

  it('answers NotFound for unknown instances and InvalidArgument for a mismatched function', () => {
    const { clock, assign, idle } = setup();
    expect(idle('r0', 'nope')?.code).toBe(ScalerErrorCode.NotFound);
    const a = assign('r1');
    clock.runUntil(1_100);
    expect(idle('r1', a.id!, false, 'other-fn')?.code).toBe(ScalerErrorCode.InvalidArgument);
    expect(idle('r9', a.id!)?.code).toBe(ScalerErrorCode.InvalidArgument);
    // The refused calls changed nothing: the right Idle still works.
    expect(idle('r1', a.id!)).toBeNull();
  });

  it('retries CreateSlot after Throttle with backoff', () => {
    let throttles = 2;
    const faults: VirtualFaults = {
      createSlot: (): PlatformError | null => (throttles-- > 0 ? { kind: PlatformErrorKind.Throttle, message: 'throttled' } : null),
    };
    const { clock, core, assign } = setup({ faults });
    const a = assign('r1');
    clock.runUntil(10_000);
    expect(a.id).toBeDefined();
    expect(core.metrics.platformRetries).toBe(2);
    expect(core.metrics.liveSlots).toBe(1);
  });

  it('never hands out an instance whose Init failed, destroys its slot and starts another', () => {
    let fails = 1;
    const faults: VirtualFaults = {
      init: (): PlatformError | null => (fails-- > 0 ? { kind: PlatformErrorKind.Transient, message: 'init exploded' } : null),
    };
    const { clock, platform, assign } = setup({ faults });
    const a = assign('r1');
    clock.runUntil(10_000);
    expect(a.id).toBeDefined();
    expect(platform.instances.get(a.id!)?.state).toBe(2);
    expect(platform.liveSlots).toBe(1);
  });

  it('fails a waiting assign after repeated cold-start failures instead of hanging', () => {
    const faults: VirtualFaults = { createSlot: () => ({ kind: PlatformErrorKind.Permanent, message: 'no capacity' }) };
    const { clock, assign } = setup({ faults });
    const a = assign('r1');
    clock.runUntil(60_000);
    expect(a.err).toBe(ScalerErrorCode.ColdStartFailed);
  });

  it('destroys every slot on shutdown: idle, busy and initialising ones', () => {
    const { clock, platform, core, assign, idle } = setup();
    const a = assign('r1');
    const b = assign('r2');
    clock.runUntil(1_100);
    idle('r2', b.id!);
    // A third request for another function is still in Init when shutdown comes.
    assign('r3', { ...META, key: 'fn-b' });
    clock.runUntil(1_300);
    expect(platform.liveSlots).toBe(3);
    let drained = false;
    core.shutdown(() => (drained = true));
    clock.runUntil(1_400);
    expect(drained).toBe(true);
    expect(platform.liveSlots).toBe(0);
    expect(core.metrics.liveSlots).toBe(0);
    expect(core.metrics.busyInstances).toBe(0);
    expect(core.metrics.startingInstances).toBe(0);
    // The busy request's late Idle is answered without effect.
    expect(idle('r1', a.id!)).toBeNull();
  });

  it('cancels a waiting assign without leaking the cold start it began', () => {
    const { clock, core, assign } = setup();
    const a = assign('r1');
    expect(core.cancelWaiting(META.key, 'r1')).toBe(true);
    expect(a.err).toBe(ScalerErrorCode.Cancelled);
    clock.runUntil(2_000);
    expect(core.metrics.idleInstances).toBe(1);
    expect(core.metrics.inflightAssigns).toBe(0);
  });

  describe('busy lease (an Idle that never comes)', () => {
    const leaseMs = BUSY_LEASE_TIMEOUT_FACTOR * META.timeoutInSecs * 1000 + BUSY_LEASE_GRACE_MS;

    it('destroys an instance busy past twice its timeout plus the grace, and a late Idle is still a success', () => {
      const { clock, platform, core, assign, idle } = setup();
      const a = assign('r1');
      clock.runUntil(CREATE_MS + INIT_MS);
      const busyFrom = CREATE_MS + INIT_MS;
      clock.runUntil(busyFrom + leaseMs - 1);
      expect(core.metrics.busyInstances).toBe(1);
      expect(platform.liveSlots).toBe(1);
      clock.runUntil(busyFrom + leaseMs + BUSY_LEASE_SWEEP_MS);
      expect(core.metrics.busyInstances).toBe(0);
      expect(core.metrics.leaseExpiries).toBe(1);
      expect(platform.liveSlots).toBe(0);
      expect(core.liveInstances.size).toBe(0);
      // The request did run: its Idle, however late, is accepted once; the id is free again.
      expect(idle('r1', a.id!)).toBeNull();
      const b = assign('r1');
      expect(b.err).toBeUndefined();
    });

    it('leaves alone instances within their lease and functions without a timeout', () => {
      const { clock, core, assign, idle } = setup();
      const noTimeout: FunctionMeta = { ...META, key: 'fn-no-timeout', timeoutInSecs: 0 };
      const a = assign('r1');
      const b = assign('r2', noTimeout);
      clock.runUntil(CREATE_MS + INIT_MS);
      // r1 is released and reassigned well within its lease, again and again.
      let holder = 'r1';
      for (let i = 2; i < 10; i++) {
        clock.runUntil(clock.now() + leaseMs / 4);
        expect(idle(holder, a.id!)).toBeNull();
        holder = `r1-${i}`;
        expect(assign(holder).id).toBe(a.id);
      }
      clock.runUntil(clock.now() + leaseMs / 4);
      expect(core.metrics.leaseExpiries).toBe(0);
      expect(core.metrics.busyInstances).toBe(2);
      expect(idle('r2', b.id!, false, noTimeout.key)).toBeNull();
      expect(idle(holder, a.id!)).toBeNull();
    });

    it('stops sweeping once nothing is busy (a virtual clock runs dry)', () => {
      const { clock, assign, idle } = setup({ keepAliveMs: 1_000 });
      const a = assign('r1');
      clock.runUntil(CREATE_MS + INIT_MS);
      expect(idle('r1', a.id!)).toBeNull();
      const ran = clock.runAll(1_000);
      expect(ran).toBeLessThan(10);
      expect(clock.pending).toBe(0);
    });
  });

  describe('Init hedging (an Init far slower than usual)', () => {
    /** Init number `which` (1-based) takes `factor` times as long; every other Init is normal. */
    function spikeInit(which: number, factor: number): VirtualFaults {
      let inits = 0;
      return { latencyFactor: (call) => (call === 'init' && ++inits === which ? factor : 1) };
    }

    it('starts one backup cold start for a waiting request, which the first ready instance serves', () => {
      const { clock, platform, core, assign, idle } = setup({ faults: spikeInit(2, 10) });
      const a = assign('r1');
      clock.runUntil(CREATE_MS + INIT_MS);
      expect(idle('r1', a.id!, true)).toBeNull(); // broken: the next request needs a new instance
      const sent = clock.now();
      const b = assign('r2');
      clock.runUntil(sent + CREATE_MS + 10 * INIT_MS + 1);
      expect(core.metrics.initHedges).toBe(1);
      // Hedged after INIT_HEDGE_FACTOR usual Inits (checked every sweep), ready one create + Init later.
      const latest = sent + CREATE_MS + INIT_HEDGE_FACTOR * INIT_MS + INIT_HEDGE_SWEEP_MS + CREATE_MS + 10 * INIT_MS;
      expect(b.id).toBeDefined();
      expect(b.at!).toBeLessThan(Math.min(latest, sent + CREATE_MS + 10 * INIT_MS));
      // The slow instance came up too and is idle; nothing was handed out twice.
      expect(core.metrics.busyInstances).toBe(1);
      expect(core.metrics.idleInstances).toBe(1);
      expect(platform.instances.get(b.id!)?.state).toBe(2);
      // The backup is never hedged itself: one backup only.
      expect(core.metrics.coldStarts).toBe(3);
    });

    it('does not hedge a function whose Init was never observed, nor ordinary Inits', () => {
      const first = setup({ faults: spikeInit(1, 10) });
      const a = first.assign('r1');
      first.clock.runUntil(CREATE_MS + 10 * INIT_MS);
      expect(a.id).toBeDefined();
      expect(first.core.metrics.initHedges).toBe(0);

      const plain = setup();
      for (let i = 0; i < 5; i++) {
        const r = plain.assign(`p${i}`);
        plain.clock.runUntil(plain.clock.now() + CREATE_MS + INIT_MS);
        expect(plain.idle(`p${i}`, r.id!, true)).toBeNull();
      }
      plain.clock.runAll(10_000);
      expect(plain.core.metrics.initHedges).toBe(0);
      expect(plain.clock.pending).toBe(0);
    });

    it('does not hedge when nobody waits any more', () => {
      const { clock, core, assign, idle } = setup({ faults: spikeInit(2, 10) });
      const a = assign('r1');
      const b = assign('r2');
      clock.runUntil(CREATE_MS + INIT_MS);
      // r1's instance came up normally; r2's Init (the second) is slow. r1 releases, r2 takes it.
      expect(a.id ?? b.id).toBeDefined();
      const served = a.id !== undefined ? 'r1' : 'r2';
      const inst = (a.id ?? b.id)!;
      expect(idle(served, inst)).toBeNull();
      expect(core.metrics.waitingAssigns).toBe(0);
      clock.runUntil(CREATE_MS + 10 * INIT_MS + 1);
      expect(core.metrics.initHedges).toBe(0);
    });
  });
});
