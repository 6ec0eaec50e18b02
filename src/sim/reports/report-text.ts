/**
 * Terminal and machine renderings of a ScoreReport (optionally next to the clairvoyant bound).
 */
import type { ClairvoyantResult } from '../scoring/clairvoyant-bound.js';
import type { HindsightKeepAlive } from '../virtual/hindsight-keep-alive.js';
import type { ScoreReport } from '../scoring/score-book.js';
import type { CostSplit } from '../scoring/cost-split.js';

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
  lines.push(...splitLines(report.split));
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

/**
 * The cost split in two lines: seconds of the latency denominator and GB-s of slot time by
 * cause, each with the points it costs (cost-split.ts).
 */
export function splitLines(split: CostSplit): string[] {
  const l = split.latency;
  const r = split.resource;
  const lost = 50 * (l.scheduleSecs / (l.denominatorSecs || 1));
  const failed = l.failedSecs + l.unclassifiedSecs;
  const rLost = r.slotGBs > 0 ? 50 * (1 - r.usefulGBs / r.slotGBs) : 0;
  return [
    `latency split: schedule ${fmt(l.scheduleSecs, 2)} s (-${fmt(lost)} pts) = overhead ${fmt(l.overheadSecs, 2)} s (-${fmt(l.pointsLost.overhead)}; ` +
      `${l.hits} hits ${ms(l.hitAssignMeanMs)} + idle ${ms(l.idleCallMeanMs)} mean) + busy waits ${fmt(l.busyWaitSecs, 2)} s (${l.busyWaits} req, -${fmt(l.pointsLost.busyWait)}) + ` +
      `cold starts ${fmt(l.coldStartSecs, 2)} s (${l.coldStarts} req, -${fmt(l.pointsLost.coldStart)})` +
      (failed > 0 || l.failed + l.unclassified > 0 ? ` + failed ${fmt(failed, 2)} s (${l.failed + l.unclassified} req, -${fmt(l.pointsLost.failed)})` : ''),
    `resource split: slot ${fmt(r.slotGBs, 1)} GB-s (-${fmt(rLost)} pts) = useful ${fmt(r.usefulGBs, 1)} + idle keep ${fmt(r.idleKeepGBs, 1)} (-${fmt(r.pointsLost.idleKeep)}) + ` +
      `kept after last ${fmt(r.keptAfterLastGBs, 1)} (-${fmt(r.pointsLost.keptAfterLast)}) + cold starts ${fmt(r.coldStartGBs, 1)} (${r.slots.coldStart} slots, -${fmt(r.pointsLost.coldStart)}) + ` +
      `pre-warms ${fmt(r.prewarmGBs, 1)} (${r.slots.prewarm}, -${fmt(r.pointsLost.prewarm)}) + hedges ${fmt(r.hedgeGBs, 1)} (${r.slots.hedge}, -${fmt(r.pointsLost.hedge)})` +
      (r.failedStartGBs > 0 ? ` + failed starts ${fmt(r.failedStartGBs, 1)} (${r.slots.failedStart}, -${fmt(r.pointsLost.failedStart)})` : ''),
  ];
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
