import type { ScalingPolicy } from '../policy.js';
import type { RateTunerFactory } from './adaptive/rate-tuner.js';
import { ADAPTIVE_DEFAULTS, AdaptivePolicy, type AdaptivePolicyOptions } from './adaptive/adaptive-policy.js';
import { FixedKeepAlivePolicy } from './fixed-keep-alive.js';
import { HybridHistogramPolicy } from './hybrid-histogram.js';

/** Keep-alive of the plain `fixed` policy when none is given. */
export const DEFAULT_KEEP_ALIVE_MS = 60_000;

export interface PolicyOptions {
  /** Keep-alive of `fixed` (ignored by the others). */
  keepAliveMs?: number;
  /** `adaptive`'s switches (ablations), from a spec like `adaptive(prewarm=off,growth=off)`. */
  adaptive?: AdaptivePolicyOptions;
  /** What runs `adaptive`'s exchange-rate tuner (default: in the policy's thread; see rate-tuner.ts). */
  rateTuner?: RateTunerFactory<Required<AdaptivePolicyOptions>>;
}

type PolicyFactory = (opts: PolicyOptions) => ScalingPolicy;

const FACTORIES: Record<string, { describe: string; create: PolicyFactory }> = {
  adaptive: {
    describe: 'score-priced: exchange rate by counterfactual runs, idle plans, stream-aware queue model (default); switches: adaptive(prewarm=off,...)',
    create: (o) => new AdaptivePolicy(o.adaptive, o.rateTuner),
  },
  fixed: {
    describe: `fixed keep-alive, --keep-alive DURATION (default ${DEFAULT_KEEP_ALIVE_MS / 1000}s)`,
    create: (o) => new FixedKeepAlivePolicy(o.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS),
  },
  'fixed-5m': { describe: "the contest reference scaler's 5-minute keep-alive", create: () => new FixedKeepAlivePolicy(5 * 60_000) },
  'fixed-10m': { describe: 'AWS Lambda / OpenWhisk 10-minute keep-alive', create: () => new FixedKeepAlivePolicy(10 * 60_000) },
  'hybrid-histogram': {
    describe: 'Serverless in the Wild (ATC 2020): per-function idle-time histogram, pre-warm and keep-alive windows',
    create: () => new HybridHistogramPolicy(),
  },
};

export class UnknownPolicyError extends Error {
  readonly code = 'POLICY_UNKNOWN';
  constructor(name: string) {
    super(`unknown policy "${name}"; known: ${policyNames().join(', ')}`);
    this.name = 'UnknownPolicyError';
  }
}

export function policyNames(): string[] {
  return Object.keys(FACTORIES);
}

export class PolicySpecError extends Error {
  readonly code = 'POLICY_SPEC_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'PolicySpecError';
  }
}

/**
 * A policy name, or `adaptive(key=value,...)` with `adaptive`'s switches for ablations: `on` /
 * `off` for the boolean ones, a number for `exchangeRate`, a word for `pricing`
 * (e.g. `adaptive(prewarm=off)`, `adaptive(exchangeRate=3)`, `adaptive(pricing=dynamic)`).
 */
export function parsePolicySpec(spec: string): { name: string; options: PolicyOptions } {
  const m = /^([a-z0-9-]+)(?:\((.*)\))?$/.exec(spec.trim());
  if (m === null) throw new PolicySpecError(`policy "${spec}" is not NAME or NAME(key=value,...)`);
  const name = m[1]!;
  if (!(name in FACTORIES)) throw new UnknownPolicyError(name);
  if (m[2] === undefined) return { name, options: {} };
  if (name !== 'adaptive') throw new PolicySpecError(`policy "${name}" takes no switches (only adaptive does)`);
  const adaptive: Record<string, boolean | number | string> = {};
  for (const part of m[2].split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const kv = /^([A-Za-z]+)=(.+)$/.exec(part);
    if (kv === null) throw new PolicySpecError(`switch "${part}" of ${spec} is not key=value`);
    const [key, raw] = [kv[1]!, kv[2]!];
    if (!(key in ADAPTIVE_DEFAULTS)) throw new PolicySpecError(`adaptive has no switch "${key}"; known: ${Object.keys(ADAPTIVE_DEFAULTS).join(', ')}`);
    const def = ADAPTIVE_DEFAULTS[key as keyof typeof ADAPTIVE_DEFAULTS];
    if (typeof def === 'boolean') {
      if (!['on', 'off', 'true', 'false'].includes(raw)) throw new PolicySpecError(`switch ${key} takes on or off, got "${raw}"`);
      adaptive[key] = raw === 'on' || raw === 'true';
    } else if (typeof def === 'number') {
      const x = Number(raw);
      if (!Number.isFinite(x) || x < 0) throw new PolicySpecError(`switch ${key} takes a non-negative number, got "${raw}"`);
      adaptive[key] = x;
    } else adaptive[key] = raw;
  }
  return { name, options: { adaptive: adaptive as AdaptivePolicyOptions } };
}

export function describePolicies(): string {
  return Object.entries(FACTORIES)
    .map(([name, f]) => `  ${name.padEnd(18)} ${f.describe}`)
    .join('\n');
}

/** The problem with a policy name or spec, or null when it is valid. */
export function policySpecProblem(spec: string): string | null {
  try {
    parsePolicySpec(spec);
    return null;
  } catch (e) {
    if (e instanceof PolicySpecError || e instanceof UnknownPolicyError) return e.message;
    throw e;
  }
}

/** Splits a comma-separated list of policy specs (commas inside parentheses belong to a spec). */
export function splitPolicySpecs(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i <= list.length; i++) {
    const c = list[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if ((c === ',' && depth === 0) || i === list.length) {
      const part = list.slice(from, i).trim();
      if (part !== '') out.push(part);
      from = i + 1;
    }
  }
  return out;
}

/** A fresh policy instance from a name or spec (see `parsePolicySpec`): policies hold per-function state, so never share one between cores. */
export function createPolicy(spec: string, opts: PolicyOptions = {}): ScalingPolicy {
  const parsed = parsePolicySpec(spec);
  return FACTORIES[parsed.name]!.create({ ...opts, ...parsed.options });
}
