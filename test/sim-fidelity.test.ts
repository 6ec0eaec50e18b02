/**
 * Fidelity of virtual time: the same policy scored live (our scaler process over gRPC, real
 * time) and in the virtual engine agrees within FIDELITY_POINTS on the smoke dataset and on a
 * short generated FaaS-like workload. Live runs need the compiled scaler (`npm test` builds it).
 *
 * Live latencies include this machine's scheduling noise: on a loaded 2-core machine the live
 * replayer and the scaler compete for the CPU, which shows up as dispatch lag and slow Idles.
 * The test reports both scores so a failure says which side moved.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicy } from '../src/core/policies/policy-registry.js';
import { runLive } from '../src/sim/live/live-run.js';
import { datasetSource, runVirtual } from '../src/sim/virtual/virtual-engine.js';
import { generateDataset, writeDataset, type GenerateOptions } from '../src/sim/generator/workload-generator.js';
import { freePort } from '../src/free-port.js';

const FIDELITY_POINTS = 1.5;
const POLICY = 'adaptive';
/** Short tails keep the live runs quick; both sides use the same one. */
const TAIL_MS = 2_000;
const SMOKE_DIR = fileURLToPath(new URL('../datasets/function_smoke_test', import.meta.url));
const MAIN_JS = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));
/**
 * A 60 s FaaS-like mix (~1,900 requests, 30 functions; seeded so that its longest execution
 * ends about 76 s in, which bounds the live run's length).
 */
const GENERATED: GenerateOptions = { pattern: ['poisson', 'periodic', 'bursty', 'correlated', 'sparse'], functions: 30, durationSec: 60, seed: 5, rate: 2 };


async function liveScore(dir: string): Promise<{ score: number; successRate: number; leaked: number; assignP50: number; idleP50: number }> {
  const port = await freePort();
  const r = await runLive({
    dataDir: dir,
    scalerCmd: `exec "${process.execPath}" "${MAIN_JS}" --address "$SCALER_ADDRESS" --platform "$PLATFORM_ADDRESS" --stats-port 0 --log-level error --policy ${POLICY}`,
    scalerAddress: `127.0.0.1:${port}`,
    platformAddress: '127.0.0.1:0',
    statsAddress: null,
    tailMs: TAIL_MS,
    output: null,
    scalerLog: null,
  });
  return {
    score: r.report.score,
    successRate: r.report.successRate,
    leaked: r.leakedSlots,
    assignP50: r.report.assignLatencyMs.p50,
    idleP50: r.report.idleLatencyMs.p50,
  };
}

function virtualScore(dir: string): number {
  return runVirtual({ source: datasetSource(dir), policy: createPolicy(POLICY), tailMs: TAIL_MS }).report.score;
}

describe('live and virtual scores agree', () => {
  let genDir = '';

  beforeAll(() => {
    genDir = mkdtempSync(join(tmpdir(), 'sim-fidelity-'));
    const ds = generateDataset({ ...GENERATED });
    writeDataset(genDir, ds);
  });

  afterAll(() => {
    if (genDir !== '') rmSync(genDir, { recursive: true, force: true });
  });

  it.each([
    ['smoke dataset', () => SMOKE_DIR],
    ['generated FaaS-like mix', () => genDir],
  ])(
    `%s: |live - virtual| <= ${FIDELITY_POINTS} points`,
    async (_name, dir) => {
      const virtual = virtualScore(dir());
      const live = await liveScore(dir());
      const diff = Math.abs(live.score - virtual);
      // Printed so that CI logs carry the numbers even when the test passes.
      console.log(`${_name}: live ${live.score.toFixed(3)} (assign p50 ${live.assignP50.toFixed(1)} ms, idle p50 ${live.idleP50.toFixed(1)} ms) virtual ${virtual.toFixed(3)} diff ${diff.toFixed(3)}`);
      expect(live.successRate).toBe(1);
      expect(live.leaked).toBe(0);
      expect(diff).toBeLessThanOrEqual(FIDELITY_POINTS);
    },
    180_000,
  );
});
