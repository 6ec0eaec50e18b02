/**
 * One self-contained HTML page for a run: inline CSS and SVG only (no scripts, fonts or images
 * from anywhere), so it can be archived next to results and opened offline.
 */
import type { ClairvoyantResult } from '../scoring/clairvoyant-bound.js';
import type { HindsightKeepAlive } from '../virtual/hindsight-keep-alive.js';
import type { FunctionStats, ScoreReport } from '../scoring/score-book.js';
import type { CostSplit } from '../scoring/cost-split.js';
import type { TimelinePoint } from '../scoring/run-timeline.js';
import { boundFraction } from './report-text.js';

export const HTML_TOP_FUNCTIONS = 25;
/** Functions drawn in the scatter (largest slot cost first); keeps the page light. */
export const HTML_SCATTER_MAX_POINTS = 1500;

export type HtmlBound = Pick<ClairvoyantResult, 'score' | 'resourceHalf' | 'latencyHalf'> & Partial<ClairvoyantResult>;

export interface HtmlReportOptions {
  readonly title: string;
  readonly bound?: HtmlBound;
  /** The best fixed keep-alive per function, in hindsight. */
  readonly hindsight?: Pick<HindsightKeepAlive, 'score' | 'resourceHalf' | 'latencyHalf'>;
  readonly policy?: string;
  readonly mode: 'live' | 'virtual';
}

const W = 880;
const H = 260;
const M = { l: 64, r: 16, t: 14, b: 34 };
const C_LIVE = '#3b6fd8';
const C_MAX = '#9db8ee';
const C_BUSY = '#e2873b';
const C_COLD = '#c84a5a';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function n(x: number, d = 2): string {
  return Number.isFinite(x) ? x.toFixed(d) : '-';
}

function msText(x: number): string {
  if (x >= 10_000) return `${(x / 1000).toFixed(1)} s`;
  if (x >= 100) return `${x.toFixed(0)} ms`;
  if (x >= 1) return `${x.toFixed(1)} ms`;
  return `${x.toFixed(3)} ms`;
}

function pct(x: number, d = 1): string {
  return `${(x * 100).toFixed(d)}%`;
}

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

function shortMs(v: number): string {
  if (v >= 1000) return `${Number((v / 1000).toPrecision(3))}s`;
  return `${Number(v.toPrecision(3))}ms`;
}

const TIME_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** Ticks on round seconds/minutes/hours covering [0, spanS]. */
function timeTicks(spanS: number, count = 8): number[] {
  const raw = spanS / count;
  const step = TIME_STEPS_S.find((x) => x >= raw) ?? Math.ceil(raw / 86400) * 86400;
  const out: number[] = [];
  for (let v = 0; v <= spanS + 1e-9; v += step) out.push(v);
  return out;
}

function timeLabel(sec: number): string {
  if (sec < 120) return `${Number(sec.toPrecision(3))}s`;
  if (sec < 7200) return `${Number((sec / 60).toPrecision(3))}m`;
  return `${Number((sec / 3600).toPrecision(3))}h`;
}

function frame(body: string, xTicks: string, yTicks: string, xLabel: string, yLabel: string): string {
  return (
    `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" class="chart">` +
    `<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" class="plot"/>` +
    yTicks +
    xTicks +
    body +
    `<text x="${(M.l + W - M.r) / 2}" y="${H - 4}" class="axis-label" text-anchor="middle">${esc(xLabel)}</text>` +
    `<text x="12" y="${(M.t + H - M.b) / 2}" class="axis-label" text-anchor="middle" transform="rotate(-90 12 ${(M.t + H - M.b) / 2})">${esc(yLabel)}</text>` +
    `</svg>`
  );
}

interface Scale {
  (v: number): number;
}

function linear(d0: number, d1: number, r0: number, r1: number): Scale {
  const k = d1 > d0 ? (r1 - r0) / (d1 - d0) : 0;
  return (v: number) => r0 + (v - d0) * k;
}

function yGrid(vals: number[], y: Scale, label: (v: number) => string = tickLabel): string {
  return vals
    .map(
      (v) =>
        `<line x1="${M.l}" x2="${W - M.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>` +
        `<text x="${M.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="tick">${label(v)}</text>`,
    )
    .join('');
}

function xAxis(vals: number[], x: Scale, label: (v: number) => string): string {
  return vals
    .map(
      (v) =>
        `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${H - M.b}" y2="${H - M.b + 4}" class="axis"/>` +
        `<text x="${x(v).toFixed(1)}" y="${H - M.b + 16}" text-anchor="middle" class="tick">${label(v)}</text>`,
    )
    .join('');
}

function polyline(pts: TimelinePoint[], x: Scale, y: Scale, val: (p: TimelinePoint) => number, color: string, cls = 'line'): string {
  if (pts.length === 0) return '';
  const d = pts.map((p) => `${x(p.tMs).toFixed(1)},${y(val(p)).toFixed(1)}`).join(' ');
  return `<polyline points="${d}" fill="none" stroke="${color}" class="${cls}"/>`;
}

function legend(items: [string, string][]): string {
  return `<div class="legend">${items.map(([c, t]) => `<span><i style="background:${c}"></i>${esc(t)}</span>`).join('')}</div>`;
}

function slotsChart(report: ScoreReport): string {
  const tl = report.timeline;
  const pts = tl.points;
  if (pts.length === 0) return '<p class="empty">No timeline data.</p>';
  const t0 = tl.originMs;
  const t1 = Math.max(t0 + tl.bucketMs, pts[pts.length - 1].tMs + tl.bucketMs);
  const x = linear(t0, t1, M.l, W - M.r);
  let ymax = 1;
  for (const p of pts) ymax = Math.max(ymax, p.maxLiveSlots, p.liveSlots, p.busyInstances);
  const yt = ticks(0, ymax * 1.05);
  const y = linear(0, yt[yt.length - 1] > ymax ? yt[yt.length - 1] : ymax * 1.05, H - M.b, M.t);
  const xt = timeTicks((t1 - t0) / 1000);
  const body =
    polyline(pts, x, y, (p) => p.maxLiveSlots, C_MAX, 'line thin') +
    polyline(pts, x, y, (p) => p.liveSlots, C_LIVE) +
    polyline(pts, x, y, (p) => p.busyInstances, C_BUSY);
  return (
    frame(body, xAxis(xt, (s) => x(t0 + s * 1000), timeLabel), yGrid(yt, y), `time (bucket ${timeLabel(tl.bucketMs / 1000)})`, 'instances') +
    legend([
      [C_LIVE, 'live slots (mean)'],
      [C_MAX, 'live slots (max)'],
      [C_BUSY, 'busy instances (mean)'],
    ])
  );
}

function coldChart(report: ScoreReport): string {
  const tl = report.timeline;
  const pts = tl.points;
  if (pts.length === 0) return '<p class="empty">No timeline data.</p>';
  const t0 = tl.originMs;
  const t1 = Math.max(t0 + tl.bucketMs, pts[pts.length - 1].tMs + tl.bucketMs);
  const x = linear(t0, t1, M.l, W - M.r);
  let ymax = 1;
  for (const p of pts) ymax = Math.max(ymax, p.coldStarts);
  const yt = ticks(0, ymax);
  const y = linear(0, Math.max(ymax, yt[yt.length - 1]), H - M.b, M.t);
  const bw = Math.max(0.6, x(t0 + tl.bucketMs) - x(t0) - 0.4);
  const bars = pts
    .filter((p) => p.coldStarts > 0)
    .map((p) => `<rect x="${x(p.tMs).toFixed(1)}" y="${y(p.coldStarts).toFixed(1)}" width="${bw.toFixed(2)}" height="${(H - M.b - y(p.coldStarts)).toFixed(1)}" fill="${C_COLD}"><title>${p.coldStarts} at ${timeLabel((p.tMs - t0) / 1000)}</title></rect>`)
    .join('');
  const xt = timeTicks((t1 - t0) / 1000);
  return frame(bars, xAxis(xt, (s) => x(t0 + s * 1000), timeLabel), yGrid(yt, y), `time (bucket ${timeLabel(tl.bucketMs / 1000)})`, 'cold starts');
}

/** Blue (never cold) to red (always cold). */
function coldColor(frac: number): string {
  const f = Math.min(1, Math.max(0, frac));
  const mix = (a: number, b: number): number => Math.round(a + (b - a) * f);
  return `rgb(${mix(59, 200)},${mix(111, 74)},${mix(216, 90)})`;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

/** Smallest values drawn on the log axes; zeros are pinned there. */
const SCATTER_MIN_GBS = 0.01;
const SCATTER_MIN_MS = 0.01;

function scatter(fns: FunctionStats[]): string {
  const pts = fns.filter((f) => f.requests > 0 || f.slotGBs > 0).slice(0, HTML_SCATTER_MAX_POINTS);
  if (pts.length === 0) return '<p class="empty">No functions.</p>';
  const xs = pts.map((f) => Math.max(SCATTER_MIN_GBS, f.slotGBs));
  const ys = pts.map((f) => Math.max(SCATTER_MIN_MS, f.meanAssignMs));
  const xt = logTicks(Math.min(...xs), Math.max(...xs) * 1.0001);
  const yt = logTicks(Math.min(...ys), Math.max(...ys) * 1.0001);
  const lx0 = Math.log10(xt[0]);
  const lx1 = Math.log10(xt[xt.length - 1]);
  const ly0 = Math.log10(yt[0]);
  const ly1 = Math.log10(yt[yt.length - 1]);
  const x = (v: number): number => linear(lx0, lx1 === lx0 ? lx0 + 1 : lx1, M.l + 8, W - M.r - 8)(Math.log10(v));
  const y = (v: number): number => linear(ly0, ly1 === ly0 ? ly0 + 1 : ly1, H - M.b - 8, M.t + 8)(Math.log10(v));
  const maxReq = Math.max(1, ...pts.map((f) => f.requests));
  const dots = pts
    .map((f, i) => {
      const r = 2.5 + 12 * Math.sqrt(f.requests / maxReq);
      const hue = coldColor(f.requests > 0 ? f.coldStarts / f.requests : 0);
      return (
        `<circle cx="${x(xs[i]).toFixed(1)}" cy="${y(ys[i]).toFixed(1)}" r="${r.toFixed(1)}" fill="${hue}" class="dot">` +
        `<title>${esc(f.metaKey)} | ${f.memoryMb} MB | ${f.requests} req | ${f.coldStarts} cold | ${n(f.slotGBs)} GB-s | ${msText(f.meanAssignMs)}</title></circle>`
      );
    })
    .join('');
  const xAx = xt
    .map(
      (v) =>
        `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${M.t}" y2="${H - M.b}" class="grid"/>` +
        `<text x="${x(v).toFixed(1)}" y="${H - M.b + 16}" text-anchor="middle" class="tick">${tickLabel(v)}</text>`,
    )
    .join('');
  const yAx = yGrid(yt, y, shortMs);
  return (
    frame(dots, xAx, yAx, 'slot cost (GB-s, log)', 'mean assign latency (log)') +
    legend([
      [coldColor(0), 'no cold starts'],
      [coldColor(0.5), 'half cold'],
      [coldColor(1), 'every request cold'],
    ]) +
    `<p class="note">Point area grows with request count; colour is the share of cold starts. Zero values are drawn at the axis minimum.</p>`
  );
}

function card(label: string, value: string, sub = ''): string {
  return `<div class="card"><div class="label">${esc(label)}</div><div class="value">${value}</div>${sub ? `<div class="sub">${sub}</div>` : ''}</div>`;
}

function summary(report: ScoreReport, opts: HtmlReportOptions): string {
  const b = opts.bound;
  const frac = boundFraction(report, b);
  const gated = report.successRate + 1e-12 < 0.9995;
  const a = report.assignLatencyMs;
  const cards = [
    card('Score', n(report.score), gated ? '<span class="bad">gated: success &lt; 99.95%</span>' : `of 100`),
    card('Resource half', n(report.resourceHalf), `50 &times; exec GB-s / slot GB-s`),
    card('Latency half', n(report.latencyHalf), `50 &times; exec s / (exec + schedule)`),
    card('Bound fraction', frac !== undefined ? pct(frac) : '-', b !== undefined ? `clairvoyant ${n(b.score)} (${n(b.resourceHalf)} + ${n(b.latencyHalf)})` : 'no bound given'),
    ...(opts.hindsight !== undefined
      ? [card('Best fixed keep-alive', n(opts.hindsight.score), `per function, in hindsight (${n(opts.hindsight.resourceHalf)} + ${n(opts.hindsight.latencyHalf)})`)]
      : []),
    card('Success rate', pct(report.successRate, 3), `${report.failedRequestsCount} failed of ${report.totalRequestsCount}`),
    card('Cold starts', String(report.coldStarts), `${report.slotsCreated} slots created`),
    card('Peak live slots', String(report.peakLiveSlots), `${report.totalLiveSlotCount} alive at end`),
    card('Assign latency', `${msText(a.p50)} <small>p50</small>`, `p99 ${msText(a.p99)} &middot; max ${msText(a.max)}`),
  ].join('');
  const rows: [string, string][] = [
    ['Execution time', `${n(report.invocationExecutionTimeInSecs, 1)} s`],
    ['Execution GB-s', n(report.invocationExecutionTimeInGBs, 1)],
    ['Slot GB-s', n(report.totalSlotTimeInGBs, 1)],
    ['Idle slot time', `${n(report.invocationIdleTimeInSecs, 1)} s`],
    ['Schedule time', `${n(report.invocationScheduleTimeInSecs, 2)} s`],
    ['Assign latency p50 / p90 / p99 / max', `${msText(a.p50)} / ${msText(a.p90)} / ${msText(a.p99)} / ${msText(a.max)}`],
    ['Idle latency p50 / p99 / max', `${msText(report.idleLatencyMs.p50)} / ${msText(report.idleLatencyMs.p99)} / ${msText(report.idleLatencyMs.max)}`],
    ['Run span', `${n((report.endMs - report.startMs) / 1000, 1)} s`],
    ['Functions', String(report.functions.length)],
  ];
  if (b?.slotGBs !== undefined) rows.push(['Clairvoyant slot GB-s / chains', `${n(b.slotGBs, 1)} / ${b.chains ?? '-'}`]);
  return (
    `<div class="cards">${cards}</div>` +
    `<table class="kv"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</tbody></table>`
  );
}

/** Where each half's denominator went, with the points each part costs (cost-split.ts). */
function splitTables(split: CostSplit): string {
  const l = split.latency;
  const r = split.resource;
  const row = (k: string, v: string, share: number, pts: string, note = ''): string =>
    `<tr><td class="key">${esc(k)}</td><td>${v}</td><td><div class="bar"><i style="width:${(100 * Math.min(1, Math.max(0, share))).toFixed(1)}%"></i></div>${pct(share)}</td><td>${pts}</td><td>${esc(note)}</td></tr>`;
  const head = (unit: string): string => `<thead><tr><th>part</th><th>${unit}</th><th>share</th><th>points lost</th><th>count</th></tr></thead>`;
  const d = l.denominatorSecs || 1;
  const failed = l.failedSecs + l.unclassifiedSecs;
  const lat = [
    row('execution', `${n(l.execSecs, 2)} s`, l.execSecs / d, '', ''),
    row('per-call overhead', `${n(l.overheadSecs, 2)} s`, l.overheadSecs / d, n(l.pointsLost.overhead), `${l.hits} hits (${msText(l.hitAssignMeanMs)} mean), ${l.idleCalls} Idles (${msText(l.idleCallMeanMs)} mean)`),
    row('waits behind busy or starting instances', `${n(l.busyWaitSecs, 2)} s`, l.busyWaitSecs / d, n(l.pointsLost.busyWait), `${l.busyWaits} requests`),
    row('cold starts', `${n(l.coldStartSecs, 2)} s`, l.coldStartSecs / d, n(l.pointsLost.coldStart), `${l.coldStarts} requests`),
    ...(failed > 0 || l.failed + l.unclassified > 0 ? [row('failed or unclassified', `${n(failed, 2)} s`, failed / d, n(l.pointsLost.failed), `${l.failed + l.unclassified} requests`)] : []),
  ].join('');
  const g = r.slotGBs || 1;
  const res = [
    row('useful execution', n(r.usefulGBs, 1), r.usefulGBs / g, '', ''),
    row('idle keep (between two requests)', n(r.idleKeepGBs, 1), r.idleKeepGBs / g, n(r.pointsLost.idleKeep), ''),
    row('kept after last request', n(r.keptAfterLastGBs, 1), r.keptAfterLastGBs / g, n(r.pointsLost.keptAfterLast), ''),
    row('cold-start startup', n(r.coldStartGBs, 1), r.coldStartGBs / g, n(r.pointsLost.coldStart), `${r.slots.coldStart} slots`),
    row('pre-warms', n(r.prewarmGBs, 1), r.prewarmGBs / g, n(r.pointsLost.prewarm), `${r.slots.prewarm} slots`),
    row('hedges', n(r.hedgeGBs, 1), r.hedgeGBs / g, n(r.pointsLost.hedge), `${r.slots.hedge} slots`),
    ...(r.failedStartGBs > 0 ? [row('failed starts', n(r.failedStartGBs, 1), r.failedStartGBs / g, n(r.pointsLost.failedStart), `${r.slots.failedStart} slots`)] : []),
  ].join('');
  return (
    `<h3>Latency half: execution + scheduling = ${n(l.denominatorSecs, 2)} s</h3>` +
    `<table class="grid-table split">${head('seconds')}<tbody>${lat}</tbody></table>` +
    `<h3>Resource half: slot time = ${n(r.slotGBs, 1)} GB-s</h3>` +
    `<table class="grid-table split">${head('GB-s')}<tbody>${res}</tbody></table>` +
    `<p class="note">Points lost: each part's share of its half's denominator times 50. A request is a hit when an idle instance was there when its Assign was sent, a cold start when its instance was started after that, a wait otherwise. Slot time before an instance's first request is charged by why it was started: for a waiting request (cold start), for a wait another instance served (hedge), or ahead of demand (pre-warm).</p>`
  );
}

function topTable(fns: FunctionStats[]): string {
  const top = fns.slice(0, HTML_TOP_FUNCTIONS);
  if (top.length === 0) return '<p class="empty">No functions.</p>';
  const totalSlot = fns.reduce((s, f) => s + f.slotGBs, 0) || 1;
  const head = ['function', 'MB', 'requests', 'cold', 'slots', 'slot GB-s', 'share', 'idle GB-s', 'wait s', 'mean assign'];
  const body = top
    .map(
      (f) =>
        `<tr><td class="key" title="${esc(f.metaKey)}">${esc(f.metaKey.length > 16 ? f.metaKey.slice(0, 16) + '…' : f.metaKey)}</td>` +
        `<td>${f.memoryMb}</td><td>${f.requests}</td><td>${f.coldStarts}</td><td>${f.slots}</td><td>${n(f.slotGBs, 1)}</td>` +
        `<td><div class="bar"><i style="width:${((100 * f.slotGBs) / totalSlot).toFixed(1)}%"></i></div>${pct(f.slotGBs / totalSlot)}</td>` +
        `<td>${n(f.idleGBs, 1)}</td><td>${n(f.waitSecs, 2)}</td><td>${msText(f.meanAssignMs)}</td></tr>`,
    )
    .join('');
  return `<table class="grid-table"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${body}</tbody></table>` +
    (fns.length > top.length ? `<p class="note">Top ${top.length} of ${fns.length} functions by slot cost.</p>` : '');
}

const CSS = `
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f7f8fa;--card:#fff;--accent:${C_LIVE}}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:960px;margin:0 auto;padding:28px 20px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:32px 0 10px}
.meta{color:var(--muted);margin-bottom:18px}.meta b{color:var(--fg);font-weight:600}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:10px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:24px;font-weight:650;margin:2px 0}.card .value small{font-size:12px;color:var(--muted);font-weight:400}
.card .sub{color:var(--muted);font-size:12px}.bad{color:${C_COLD};font-weight:600}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden}
.kv{margin-top:12px}.kv th{text-align:left;font-weight:500;color:var(--muted);width:45%}
th,td{padding:6px 10px;border-bottom:1px solid var(--line)}tr:last-child td,tr:last-child th{border-bottom:0}
.grid-table th{text-align:right;font-size:12px;color:var(--muted);font-weight:600;background:#fafbfc}
.grid-table td{text-align:right;font-variant-numeric:tabular-nums}.grid-table td.key,.grid-table th:first-child{text-align:left;font-family:ui-monospace,Menlo,monospace}
.bar{display:inline-block;width:60px;height:8px;background:var(--line);border-radius:4px;margin-right:6px;vertical-align:middle;overflow:hidden}.bar i{display:block;height:100%;background:var(--accent)}
.chart{background:var(--card);border:1px solid var(--line);border-radius:10px;display:block}
.plot{fill:#fff}.grid{stroke:var(--line);stroke-width:1}.axis{stroke:#98a2b3}
.tick{font-size:11px;fill:var(--muted)}.axis-label{font-size:12px;fill:var(--muted)}
.line{stroke-width:1.8;stroke-linejoin:round}.line.thin{stroke-width:1;stroke-dasharray:3 2}
.dot{fill-opacity:.55;stroke:#fff;stroke-width:.8}
.legend{display:flex;gap:16px;color:var(--muted);font-size:12px;margin:6px 2px}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
h3{font-size:14px;margin:16px 0 8px}.split td:last-child{text-align:left;color:var(--muted);font-size:12px}
.note,.empty{color:var(--muted);font-size:12px}
@media (max-width:720px){.cards{grid-template-columns:repeat(2,1fr)}}
`;

export function renderHtmlReport(report: ScoreReport, opts: HtmlReportOptions): string {
  const meta = [`mode <b>${esc(opts.mode)}</b>`];
  if (opts.policy !== undefined) meta.push(`policy <b>${esc(opts.policy)}</b>`);
  meta.push(`${report.totalRequestsCount} requests`, `${report.functions.length} functions`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(opts.title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${esc(opts.title)}</h1>
<div class="meta">${meta.join(' &middot; ')}</div>
${summary(report, opts)}
<h2>Where the points went</h2>
${splitTables(report.split)}
<h2>Live slots and busy instances</h2>
${slotsChart(report)}
<h2>Cold starts over time</h2>
${coldChart(report)}
<h2>Per-function cost and latency</h2>
${scatter(report.functions)}
<h2>Top functions by slot cost</h2>
${topTable(report.functions)}
</main></body></html>
`;
}
