import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { ProcessSampler, readProcessCpuMs, readProcessRssMb } from '../src/load/process-sampler.js';

async function sampleChild(script: string, ms: number): Promise<ReturnType<ProcessSampler['stop']>> {
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  // Let node boot before the window starts, so start-up CPU is not counted.
  await new Promise((r) => setTimeout(r, 300));
  const sampler = new ProcessSampler(child.pid!, 50);
  sampler.start();
  await new Promise((r) => setTimeout(r, ms));
  const usage = sampler.stop();
  child.kill('SIGKILL');
  return usage;
}

describe('process sampler', () => {
  it('sees a busy process use about a core and an idle one use little', { timeout: 20_000 }, async () => {
    const busy = await sampleChild('const end = Date.now() + 5000; while (Date.now() < end);', 800);
    // Loose bound: on a shared 2-core box the busy child may get only part of a core.
    expect(busy!.cpuPercent).toBeGreaterThan(15);
    expect(busy!.cpuPercent).toBeLessThan(150);
    expect(busy!.maxRssMb).toBeGreaterThan(5);
    expect(busy!.samples).toBeGreaterThan(5);
    expect(busy!.maxCpuPercent).toBeLessThanOrEqual(250);
    const idle = await sampleChild('setTimeout(() => {}, 5000);', 800);
    expect(idle!.cpuPercent).toBeLessThan(8);
  });

  it('returns undefined for a process that does not exist', () => {
    expect(readProcessCpuMs(2 ** 22 + 12345)).toBeUndefined();
    expect(readProcessRssMb(2 ** 22 + 12345)).toBeUndefined();
    const s = new ProcessSampler(2 ** 22 + 12345);
    s.start();
    expect(s.stop()).toBeUndefined();
  });

  it('reads this process', () => {
    expect(readProcessCpuMs(process.pid)).toBeGreaterThan(0);
    expect(readProcessRssMb(process.pid)).toBeGreaterThan(5);
  });
});
