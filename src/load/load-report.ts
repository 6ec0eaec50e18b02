/** Human-readable and one-line JSON renderings of a {@link LoadRunResult}. */
import type { LatencySummary } from '../latency-histogram.js';
import type { LoadRunResult } from './load-runner.js';

function fmtMs(v: number): string {
  return v < 10 ? v.toFixed(3) : v < 1000 ? v.toFixed(1) : v.toFixed(0);
}

function latencyLine(name: string, s: LatencySummary): string {
  return `  ${name.padEnd(8)} n=${String(s.count).padEnd(9)} p50 ${fmtMs(s.p50Ms)}  p90 ${fmtMs(s.p90Ms)}  p99 ${fmtMs(s.p99Ms)}  max ${fmtMs(s.maxMs)} ms`;
}

export function formatLoadResult(r: LoadRunResult, label = ''): string {
  const lines: string[] = [];
  const head = label ? `${label}: ` : '';
  lines.push(
    `${head}${r.mode} loop, ${r.pairsOk}/${r.pairsStarted} pairs ok in ${(r.elapsedMs / 1000).toFixed(2)} s -> ${r.pairsPerSec.toFixed(0)} pairs/s (${(r.pairsPerSec * 2).toFixed(0)} calls/s)`,
  );
  lines.push(latencyLine('assign', r.assign));
  lines.push(latencyLine('idle', r.idle));
  lines.push(latencyLine('pair', r.pair));
  if (r.mode === 'open') lines.push(latencyLine('send-lag', r.sendLag));
  if (r.errorCount > 0) {
    const parts = Object.entries(r.errors).map(([k, v]) => `${k}=${v}`);
    lines.push(`  errors   ${r.errorCount}: ${parts.join(', ')}`);
  } else {
    lines.push('  errors   0');
  }
  if (r.dropped > 0) lines.push(`  dropped  ${r.dropped} (max in flight reached)`);
  if (r.unfinished > 0) lines.push(`  unfinished ${r.unfinished} (no reply before drain timeout)`);
  lines.push(`  loadgen  cpu ${r.loadgenCpuPercent.toFixed(0)}%, ${r.loadgenCpuUsPerPair.toFixed(1)} us/pair`);
  if (r.target) {
    const t = r.target;
    lines.push(
      `  target   pid ${t.pid} cpu ${t.cpuPercent.toFixed(0)}% (max ${t.maxCpuPercent.toFixed(0)}%), rss ${t.lastRssMb.toFixed(0)} MiB (max ${t.maxRssMb.toFixed(0)} MiB), ${(r.targetCpuUsPerPair ?? 0).toFixed(1)} us/pair`,
    );
  }
  return lines.join('\n');
}

export function loadResultJson(r: LoadRunResult, extra: Readonly<Record<string, unknown>> = {}): string {
  return JSON.stringify({ ...extra, ...r });
}
