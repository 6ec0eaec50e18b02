/**
 * One seeded description of platform faults, shared by the live emulator (`FaultInjector` +
 * `FaultProxy` for unreachable windows) and the virtual engine (`VirtualFaults`), so that the
 * same plan can be replayed both ways and reported in one table.
 *
 * Per-call faults are independent draws at their rate. Unreachable windows are a schedule in
 * plan time (ms since the run started): `outage` is the fraction of time the platform is
 * unreachable, in windows of `outageMs`, the first one at `firstOutageAtMs`.
 */
import type { Clock } from '../../core/clock.js';
import { PlatformErrorKind, type PlatformError } from '../../core/platform.js';
import { Status } from '../../wire/proto.js';
import type { FaultDecision, FaultInjector } from '../live/platform-server.js';
import type { VirtualFaults } from '../virtual/virtual-platform.js';

export const FAULT_KINDS = [
  'create-throttle',
  'create-error',
  'create-spike',
  'init-spike',
  'init-failure',
  'destroy-failure',
  'outage',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Latency multiplier of a spike. */
export const DEFAULT_SPIKE_FACTOR = 10;
/** Length of one unreachable window. */
export const DEFAULT_OUTAGE_MS = 3_000;
export const DEFAULT_FAULT_SEED = 1;

export type FaultRates = Partial<Record<FaultKind, number>>;

export interface FaultPlanOptions {
  readonly rates: FaultRates;
  readonly seed?: number;
  readonly spikeFactor?: number;
  readonly outageMs?: number;
  /** Start of the first window (plan time); default: a seeded point in the first period. */
  readonly firstOutageAtMs?: number;
}

export type CallFault = 'ok' | 'throttle' | 'error' | 'unreachable';

export interface CallDecision {
  readonly fault: CallFault;
  /** Latency multiplier (1 = normal). */
  readonly factor: number;
}

const OK: CallDecision = { fault: 'ok', factor: 1 };

/** mulberry32: tiny, seedable, good enough to place faults. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parses `kind=rate,kind=rate` (or `all=rate`) as used by the reliability CLI. */
export function parseFaultRates(text: string): FaultRates {
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const [k, v] = part.split('=');
    const rate = Number(v);
    if (k === undefined || !(rate >= 0 && rate <= 1)) throw new Error(`bad fault rate "${part}" (want kind=0..1)`);
    if (k === 'all') for (const f of FAULT_KINDS) out[f] = rate;
    else if ((FAULT_KINDS as readonly string[]).includes(k)) out[k] = rate;
    else throw new Error(`unknown fault "${k}" (known: ${FAULT_KINDS.join(', ')}, all)`);
  }
  return out;
}

export class FaultPlan {
  readonly rates: Readonly<Record<FaultKind, number>>;
  readonly spikeFactor: number;
  readonly outageMs: number;
  /** Faults injected so far, by kind (outage: calls refused or failed inside a window). */
  readonly injected: Record<FaultKind, number>;
  private readonly rand: () => number;
  private readonly outagePeriodMs: number;
  private readonly firstOutageAtMs: number;

  constructor(opts: FaultPlanOptions) {
    const rates = {} as Record<FaultKind, number>;
    for (const k of FAULT_KINDS) rates[k] = Math.max(0, Math.min(1, opts.rates[k] ?? 0));
    this.rates = rates;
    this.injected = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    this.spikeFactor = opts.spikeFactor ?? DEFAULT_SPIKE_FACTOR;
    this.outageMs = opts.outageMs ?? DEFAULT_OUTAGE_MS;
    this.rand = rng(opts.seed ?? DEFAULT_FAULT_SEED);
    this.outagePeriodMs = rates.outage > 0 ? this.outageMs / rates.outage : Infinity;
    this.firstOutageAtMs =
      opts.firstOutageAtMs ?? (Number.isFinite(this.outagePeriodMs) ? rng((opts.seed ?? DEFAULT_FAULT_SEED) ^ 0x5bd1e995)() * this.outagePeriodMs : Infinity);
  }

  /** True while plan time `t` is inside an unreachable window. */
  isUnreachable(t: number): boolean {
    if (!Number.isFinite(this.outagePeriodMs) || t < this.firstOutageAtMs) return false;
    const into = (t - this.firstOutageAtMs) % this.outagePeriodMs;
    return into < this.outageMs;
  }

  /** Windows [start, end) overlapping [0, horizonMs), for reports and the live proxy. */
  outageWindows(horizonMs: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    if (!Number.isFinite(this.outagePeriodMs)) return out;
    for (let s = this.firstOutageAtMs; s < horizonMs; s += this.outagePeriodMs) out.push([s, s + this.outageMs]);
    return out;
  }

  private hit(kind: FaultKind): boolean {
    // Always draw, so one fault's rate does not shift where the others land.
    const r = this.rand();
    if (r < this.rates[kind]) {
      this.injected[kind]++;
      return true;
    }
    return false;
  }

  private unreachable(t: number): boolean {
    if (!this.isUnreachable(t)) return false;
    this.injected.outage++;
    return true;
  }

  createSlot(t: number): CallDecision {
    const throttle = this.hit('create-throttle');
    const error = this.hit('create-error');
    const spike = this.hit('create-spike');
    if (this.unreachable(t)) return { fault: 'unreachable', factor: 1 };
    if (throttle) return { fault: 'throttle', factor: 1 };
    if (error) return { fault: 'error', factor: 1 };
    return spike ? { fault: 'ok', factor: this.spikeFactor } : OK;
  }

  init(t: number): CallDecision {
    const failure = this.hit('init-failure');
    const spike = this.hit('init-spike');
    if (this.unreachable(t)) return { fault: 'unreachable', factor: 1 };
    if (failure) return { fault: 'error', factor: 1 };
    return spike ? { fault: 'ok', factor: this.spikeFactor } : OK;
  }

  destroySlot(t: number): CallDecision {
    const failure = this.hit('destroy-failure');
    if (this.unreachable(t)) return { fault: 'unreachable', factor: 1 };
    return failure ? { fault: 'error', factor: 1 } : OK;
  }
}

// ---------------------------------------------------------------------------------------------
// Adapters

function transient(message: string): PlatformError {
  return { kind: PlatformErrorKind.Transient, message };
}

/**
 * The plan for `VirtualPlatform`. Unreachable windows fail every call inside them as a
 * transport error would (transient); latency spikes multiply the modelled latency.
 */
export function virtualFaults(plan: FaultPlan, clock: Clock): VirtualFaults {
  // VirtualPlatform asks for the latency factor right after the fault check of the same call.
  let createFactor = 1;
  let initFactor = 1;
  const asError = (d: CallDecision, what: string): PlatformError | null => {
    switch (d.fault) {
      case 'ok':
        return null;
      case 'throttle':
        return { kind: PlatformErrorKind.Throttle, message: `${what}: Throttle (injected)` };
      case 'unreachable':
        return transient(`${what}: UNAVAILABLE (injected outage)`);
      default:
        return transient(`${what}: InternalError (injected)`);
    }
  };
  return {
    createSlot: () => {
      const d = plan.createSlot(clock.now());
      createFactor = d.factor;
      return asError(d, 'CreateSlot');
    },
    init: () => {
      const d = plan.init(clock.now());
      initFactor = d.factor;
      return asError(d, 'Init');
    },
    destroySlot: () => asError(plan.destroySlot(clock.now()), 'DestroySlot'),
    latencyFactor: (call) => (call === 'createSlot' ? createFactor : initFactor),
  };
}

export interface LiveFaultOptions {
  /** Plan time now (ms since the run started). */
  readonly now: () => number;
  /** Normal CreateSlot latency of the platform (a spike adds (factor - 1) x this). */
  readonly createLatencyMs: number;
  /** Init duration of a function (a spike adds (factor - 1) x this). */
  readonly initDurationMs: (key: string) => number;
  /**
   * How unreachable windows show when no `FaultProxy` cuts the connection: answered as
   * `InternalError` ('status'), or ignored ('none', the proxy's job).
   */
  readonly outageAs?: 'status' | 'none';
}

/** The plan for the live `PlatformServer`: non-Ok statuses, extra latency for spikes. */
export function liveFaultInjector(plan: FaultPlan, opts: LiveFaultOptions): FaultInjector {
  const outageAs = opts.outageAs ?? 'none';
  const decide = (d: CallDecision, baseMs: number, what: string): FaultDecision | undefined => {
    switch (d.fault) {
      case 'ok':
        return d.factor > 1 ? { extraDelayMs: (d.factor - 1) * baseMs } : undefined;
      case 'throttle':
        return { status: Status.Throttle, errorMessage: `${what}: throttled (injected)` };
      case 'unreachable':
        return outageAs === 'status' ? { status: Status.InternalError, errorMessage: `${what}: platform unreachable (injected)` } : undefined;
      default:
        return { status: Status.InternalError, errorMessage: `${what}: internal error (injected)` };
    }
  };
  return {
    createSlot: () => decide(plan.createSlot(opts.now()), opts.createLatencyMs, 'CreateSlot'),
    init: (req) => decide(plan.init(opts.now()), opts.initDurationMs(req.metaData?.key ?? ''), 'Init'),
    destroySlot: () => decide(plan.destroySlot(opts.now()), 0, 'DestroySlot'),
  };
}
