/** Policy specs (names with adaptive's switches, for ablations) and their errors. */
import { describe, expect, it } from 'vitest';
import { AdaptivePolicy } from '../src/core/policies/adaptive/adaptive-policy.js';
import { createPolicy, parsePolicySpec, policySpecProblem, splitPolicySpecs } from '../src/core/policies/policy-registry.js';

describe('policy specs', () => {
  it('reads a name, or adaptive with switches', () => {
    expect(parsePolicySpec('fixed-5m')).toEqual({ name: 'fixed-5m', options: {} });
    expect(parsePolicySpec('adaptive(prewarm=off, growth=on, exchangeRate=3, pricing=dynamic)')).toEqual({
      name: 'adaptive',
      options: { adaptive: { prewarm: false, growth: true, exchangeRate: 3, pricing: 'dynamic' } },
    });
    expect(createPolicy('adaptive(prewarm=off)')).toBeInstanceOf(AdaptivePolicy);
  });

  it.each([
    ['nope', /unknown policy "nope"/],
    ['fixed(prewarm=off)', /takes no switches/],
    ['adaptive(warp=on)', /no switch "warp".*prewarm/],
    ['adaptive(prewarm=maybe)', /takes on or off/],
    ['adaptive(exchangeRate=-1)', /non-negative number/],
    ['adaptive(prewarm)', /not key=value/],
  ])('refuses %j with a message', (spec, msg) => {
    expect(policySpecProblem(spec)).toMatch(msg);
    expect(() => createPolicy(spec)).toThrow(msg);
  });

  it('splits a list on the commas between specs, not inside them', () => {
    expect(splitPolicySpecs('adaptive, adaptive(prewarm=off,growth=off),fixed-5m')).toEqual(['adaptive', 'adaptive(prewarm=off,growth=off)', 'fixed-5m']);
  });
});
