import type { InstanceView, PoolView, PrewarmPlan, ScalingPolicy } from '../policy.js';

/** The contest's reference scaler keeps idle instances 5 minutes; AWS Lambda/OpenWhisk about 10. */
export const REFERENCE_KEEP_ALIVE_MS = 5 * 60_000;

/** Keep every idle instance a fixed time after its last use; never pre-warm, never wait. */
export class FixedKeepAlivePolicy implements ScalingPolicy {
  readonly name: string;

  constructor(readonly keepAliveMsValue: number = REFERENCE_KEEP_ALIVE_MS) {
    this.name = `fixed-${Math.round(keepAliveMsValue / 1000)}s`;
  }

  onArrival(_pool: PoolView, _now: number): void {}

  onExecDone(_pool: PoolView, _durationMs: number, _now: number): void {}

  keepAliveMs(_pool: PoolView, _inst: InstanceView, _now: number): number {
    return this.keepAliveMsValue;
  }

  prewarmPlan(_pool: PoolView, _now: number): PrewarmPlan | null {
    return null;
  }
}
