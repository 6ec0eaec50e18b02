/**
 * Terminal and machine renderings of a ScoreReport (optionally next to the clairvoyant bound).
 */
import type { ClairvoyantResult } from '../scoring/clairvoyant-bound.js';
import type { HindsightKeepAlive } from '../virtual/hindsight-keep-alive.js';
import type { ScoreReport } from '../scoring/score-book.js';

/** Rows of the top-functions table in the text report. */
export const TEXT_TOP_FUNCTIONS = 8;

function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return String(x);
  return x.toFixed(digits);
}

function ms(x: number): string {
  if (x >= 10_000) return `${(x / 1000).toFixed(1)}s`;
  if (x >= 100) return `${x.toFixed(0)}ms`;
  if (x >= 1) return `${x.toFixed(1)}ms`;
  return `${x.toFixed(3)}ms`;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** Fraction of the clairvoyant score reached, or undefined without a usable bound. */
export function boundFraction(report: ScoreReport, bound?: Pick<ClairvoyantResult, 'score'>): number | undefined {
  if (bound === undefined || !(bound.score > 0)) return undefined;
  return report.score / bound.score;
}

export function renderTextReport(report: ScoreReport, bound?: ClairvoyantResult, hindsight?: HindsightKeepAlive): string {
  const frac = boundFraction(report, bound);
  const spanS = (report.endMs - report.startMs) / 1000;
  const lines: string[] = [];
  lines.push(
    `score ${fmt(report.score)}  = resource ${fmt(report.resourceHalf)} + latency ${fmt(report.latencyHalf)}` +
      (bound !== undefined ? `   bound ${fmt(bound.score)} (${fmt(bound.resourceHalf)} + ${fmt(bound.latencyHalf)})` : '') +
      (frac !== undefined ? `   ${fmt(frac * 100, 1)}% of bound` : ''),
  );
  if (hindsight !== undefined) {
    lines.push(
      `best fixed keep-alive per function, in hindsight: ${fmt(hindsight.score)} (${fmt(hindsight.resourceHalf)} + ${fmt(hindsight.latencyHalf)})` +
        `   this run ${report.score >= hindsight.score ? '+' : ''}${fmt(report.score - hindsight.score)}` +
        (bound !== undefined ? `; prediction and bursts leave ${fmt(bound.score - hindsight.score)} to the bound` : ''),
    );
  }
  lines.push(
    `requests ${report.totalRequestsCount}  failed ${report.failedRequestsCount}  success ${fmt(report.successRate * 100, 3)}%` +
      `  cold starts ${report.coldStarts}  slots ${report.slotsCreated} (peak ${report.peakLiveSlots}, live at end ${report.totalLiveSlotCount})`,
  );
  lines.push(
    `exec ${fmt(report.invocationExecutionTimeInSecs, 1)} s / ${fmt(report.invocationExecutionTimeInGBs, 1)} GB-s  ` +
      `slot ${fmt(report.totalSlotTimeInGBs, 1)} GB-s  idle ${fmt(report.invocationIdleTimeInSecs, 1)} slot-s  ` +
      `schedule ${fmt(report.invocationScheduleTimeInSecs, 2)} s  span ${fmt(spanS, 1)} s`,
  );
  const a = report.assignLatencyMs;
  const i = report.idleLatencyMs;
  lines.push(`assign p50 ${ms(a.p50)} p99 ${ms(a.p99)} max ${ms(a.max)} mean ${ms(a.mean)}   idle p50 ${ms(i.p50)} p99 ${ms(i.p99)} max ${ms(i.max)}`);
  const top = report.functions.slice(0, TEXT_TOP_FUNCTIONS);
  if (top.length > 0) {
    lines.push('');
    lines.push(
      `${pad('function', 14)}${pad('MB', 6, true)}${pad('reqs', 8, true)}${pad('cold', 6, true)}${pad('slot GB-s', 11, true)}` +
        `${pad('idle GB-s', 11, true)}${pad('wait s', 9, true)}${pad('assign', 9, true)}`,
    );
    for (const f of top) {
      lines.push(
        `${pad(f.metaKey.slice(0, 12), 14)}${pad(String(f.memoryMb), 6, true)}${pad(String(f.requests), 8, true)}` +
          `${pad(String(f.coldStarts), 6, true)}${pad(fmt(f.slotGBs, 1), 11, true)}${pad(fmt(f.idleGBs, 1), 11, true)}` +
          `${pad(fmt(f.waitSecs, 2), 9, true)}${pad(ms(f.meanAssignMs), 9, true)}`,
      );
    }
    if (report.functions.length > top.length) lines.push(`(${report.functions.length - top.length} more functions)`);
  }
  return lines.join('\n') + '\n';
}

export interface JsonLineOptions {
  /** Include the per-function breakdown and the time series (large). */
  readonly full?: boolean;
}

/** One line of JSON: the summary (and bound), suitable for appending to a results log. */
export function toJsonLine(report: ScoreReport, bound?: ClairvoyantResult, opts: JsonLineOptions = {}, hindsight?: HindsightKeepAlive): string {
  const { functions, timeline, ...summary } = report;
  const frac = boundFraction(report, bound);
  const out: Record<string, unknown> = { ...summary, functionCount: functions.length };
  if (bound !== undefined) out.bound = bound;
  if (hindsight !== undefined) out.hindsight = hindsight;
  if (frac !== undefined) out.boundFraction = frac;
  if (opts.full === true) {
    out.functions = functions;
    out.timeline = timeline;
  }
  return JSON.stringify(out);
}
