import type { ScalingPolicy } from '../policy.js';
import { AdaptivePolicy } from './adaptive-policy.js';
import { FixedKeepAlivePolicy } from './fixed-keep-alive.js';
import { HybridHistogramPolicy } from './hybrid-histogram.js';

/** Keep-alive of the plain `fixed` policy when none is given. */
export const DEFAULT_KEEP_ALIVE_MS = 60_000;

export interface PolicyOptions {
  /** Keep-alive of `fixed` (ignored by the others). */
  keepAliveMs?: number;
}

type PolicyFactory = (opts: PolicyOptions) => ScalingPolicy;

const FACTORIES: Record<string, { describe: string; create: PolicyFactory }> = {
  adaptive: {
    describe: 'score-priced: what-if keep-alive shadows, release-and-pre-warm, queue model (default)',
    create: () => new AdaptivePolicy(),
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

export function describePolicies(): string {
  return Object.entries(FACTORIES)
    .map(([name, f]) => `  ${name.padEnd(18)} ${f.describe}`)
    .join('\n');
}

/** A fresh policy instance: policies hold per-function state, so never share one between cores. */
export function createPolicy(name: string, opts: PolicyOptions = {}): ScalingPolicy {
  const f = FACTORIES[name];
  if (f === undefined) throw new UnknownPolicyError(name);
  return f.create(opts);
}
