import { describe, expect, it } from 'vitest';
import { clairvoyantBound } from '../src/sim/scoring/clairvoyant-bound.js';
import { renderHtmlReport } from '../src/sim/reports/report-html.js';
import { renderTextReport, toJsonLine } from '../src/sim/reports/report-text.js';
import { ScoreBook, type ScoreReport } from '../src/sim/scoring/score-book.js';
import { generateDataset } from '../src/sim/generator/workload-generator.js';

/** A crude keep-alive replay, enough to fill every part of a report. */
function sampleReport(): { report: ScoreReport; bound: ReturnType<typeof clairvoyantBound> } {
  const ds = generateDataset({ pattern: 'mix', seed: 21, durationSec: 180, functions: 30 });
  const metas = new Map(ds.metas.map((m) => [m.key, m]));
  const book = new ScoreBook();
  const free = new Map<string, { id: string; at: number }[]>();
  let next = 0;
  let last = 0;
  for (const r of ds.requests) {
    const m = metas.get(r.metaKey)!;
    const pool = free.get(r.metaKey) ?? [];
    free.set(r.metaKey, pool);
    const i = pool.findIndex((s) => s.at <= r.startTime);
    let id: string;
    let lat = 0.4;
    if (i >= 0) id = pool.splice(i, 1)[0].id;
    else {
      id = `s${next++}`;
      book.onSlotCreated(id, m.memoryInMb, r.startTime, r.metaKey);
      lat = 100 + m.initDurationInMs;
    }
    const requestClass = book.onExecutionStart(id, r.metaKey, r.startTime, r.startTime + lat, r.durationsInMs);
    book.onRequest({ metaKey: r.metaKey, memoryMb: m.memoryInMb, durationMs: r.durationsInMs, assignLatencyMs: lat, idleLatencyMs: 0.2, failed: false, coldStart: i < 0, atMs: r.startTime + lat, slotId: id, requestClass });
    pool.push({ id, at: r.startTime + lat + r.durationsInMs });
    last = r.startTime;
  }
  return { report: book.finish(last + 60_000), bound: clairvoyantBound(ds.requests, metas) };
}

describe('reports', () => {
  const { report, bound } = sampleReport();

  it('HTML is self-contained with the charts and tables', () => {
    const html = renderHtmlReport(report, { title: 'Run <1> & "mix"', bound, policy: 'keep-alive', mode: 'virtual' });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect((html.match(/<svg /g) ?? []).length).toBe(3);
    expect(html).toContain('<polyline');
    expect(html).toContain('<circle');
    expect(html).toContain('Top functions by slot cost');
    expect(html).toContain('Bound fraction');
    expect(html).toContain('Run &#60;1&#62; &#38; &#34;mix&#34;');
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    expect(html).toContain(report.score.toFixed(2));
    expect(html).toContain('Where the points went');
    expect(html).toContain('waits behind busy or starting instances');
    expect(html).toContain('pre-warms');
    expect(html).toContain('hedges');
  });

  it('HTML renders an empty run without NaN', () => {
    const empty = new ScoreBook().finish(0);
    const html = renderHtmlReport(empty, { title: 'empty', mode: 'live' });
    expect(html).not.toMatch(/NaN|Infinity/);
    expect(html).toContain('No functions.');
  });

  it('HTML charts carry no NaN coordinates', () => {
    const html = renderHtmlReport(report, { title: 't', mode: 'live' });
    expect(html).not.toMatch(/NaN|Infinity/);
  });

  it('text report and JSON line summarise the run and the bound', () => {
    const text = renderTextReport(report, bound);
    expect(text).toMatch(/^score \d+\.\d\d {2}= resource \d+\.\d\d \+ latency \d+\.\d\d {3}bound/);
    expect(text).toContain('% of bound');
    expect(text).toContain('assign p50');
    expect(text).toMatch(/latency split: schedule \d+\.\d\d s \(-\d+\.\d\d pts\) = overhead /);
    expect(text).toMatch(/resource split: slot \d+\.\d GB-s \(-\d+\.\d\d pts\) = useful .* pre-warms .* hedges /);
    const line = toJsonLine(report, bound);
    expect(line).not.toContain('\n');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.score).toBe(report.score);
    expect(parsed.totalSlotTimeInGBs).toBe(report.totalSlotTimeInGBs);
    expect(parsed.boundFraction).toBeCloseTo(report.score / bound.score, 12);
    expect(parsed.functions).toBeUndefined();
    expect(parsed.split).toEqual(report.split);
    expect(report.split.latency.hits + report.split.latency.coldStarts + report.split.latency.busyWaits).toBe(report.totalRequestsCount);
    expect((JSON.parse(toJsonLine(report, undefined, { full: true })) as { functions: unknown[] }).functions.length).toBe(report.functions.length);
    expect(bound.score).toBeGreaterThan(report.score);
  });
});
