/**
 * Public entry of the `scaler` package: the policy core (pools and policies behind a clock and
 * platform interface), the simulator's engines and scoring, and the generic sharding layer
 * (also importable alone as `scaler/sharding`).
 */
export * as sharding from './sharding/index.js';
export type { Clock, TimerHandle } from './core/clock.js';
export { RealClock } from './core/real-clock.js';
export { VirtualClock } from './core/virtual-clock.js';
export { PlatformErrorKind, type Platform, type PlatformError, type SlotInfo, type InitResult, type FunctionMetaRef } from './core/platform.js';
export type { ScalingPolicy, PoolView, InstanceView, PrewarmPlan, PolicyEnv } from './core/policy.js';
export { ScalerCore, type ScalerCoreOptions, type SlotObserver, type CoreLogger } from './core/scaler-core.js';
export { ScalerError, ScalerErrorCode, type AssignInput, type IdleInput, type FunctionMeta } from './core/types.js';
export { scorePrices, type ScorePrices, type ScoreTotals } from './core/score-prices.js';
export { createPolicy, policyNames, describePolicies, UnknownPolicyError } from './core/policies/policy-registry.js';
export { AdaptivePolicy, type AdaptivePolicyOptions } from './core/policies/adaptive/adaptive-policy.js';
export { FixedKeepAlivePolicy } from './core/policies/fixed-keep-alive.js';
export { HybridHistogramPolicy } from './core/policies/hybrid-histogram.js';
export { runVirtual, datasetSource, memorySource, type VirtualRunOptions, type VirtualRunResult } from './sim/virtual/virtual-engine.js';
export { VirtualPlatform } from './sim/virtual/virtual-platform.js';
export { ScoreBook, officialScore, type ScoreReport } from './sim/scoring/score-book.js';
export { ClairvoyantBound, clairvoyantBound } from './sim/scoring/clairvoyant-bound.js';
export { loadMetas, streamRequests, loadDataset, DatasetError } from './sim/datasets/dataset-loader.js';
export { generateDataset, WORKLOAD_FAMILIES } from './sim/generator/workload-generator.js';
export type { MetaRecord, RequestRecord } from './sim/contest/dataset-types.js';
