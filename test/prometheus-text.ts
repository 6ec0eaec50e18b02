/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it
 * throws, with the line number, on anything Prometheus' own parser rejects, and on the
 * family-level rules its linter and ingestion enforce:
 *
 * - metric and label names match the format's character sets; label values are quoted with
 *   only `\\`, `\"` and `\n` escapes; values are Go floats (`NaN`, `+Inf`, `-Inf` included);
 * - `# TYPE` at most once per family, before its samples; `# HELP` at most once;
 * - a family's samples are contiguous; no series (name + label set) appears twice; no label
 *   name twice in a sample;
 * - counters are not negative; a histogram has `_bucket` samples with `le`, cumulative and
 *   non-decreasing, ending with `le="+Inf"` equal to its `_count`, and a `_sum`.
 *
 * With `promtool` installed the tests run it as well (see `promtoolCheck`).
 */
import { spawnSync } from 'node:child_process';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  type: MetricType;
  help: string | undefined;
  readonly samples: Sample[];
}

export class ExpositionError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'ExpositionError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])$/;

function parseFloatStrict(raw: string, line: number): number {
  if (!FLOAT.test(raw)) throw new ExpositionError(line, `"${raw}" is not a float`);
  const lower = raw.toLowerCase().replace(/^\+/, '');
  if (lower === 'nan') return NaN;
  if (lower === 'inf' || lower === 'infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  return Number(raw);
}

/** The family a sample name belongs to: `x_bucket`, `x_sum`, `x_count` belong to histogram (or summary) `x`. */
function familyOf(sampleName: string, families: Map<string, MetricFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      const f = families.get(base);
      if (f !== undefined && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return base;
    }
  }
  return sampleName;
}

function parseLabels(text: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const nameStart = i;
    while (i < text.length && /[a-zA-Z0-9_]/.test(text[i]!)) i++;
    const name = text.slice(nameStart, i);
    if (!LABEL_NAME.test(name)) throw new ExpositionError(line, `bad label name "${name}"`);
    if (name in labels) throw new ExpositionError(line, `label "${name}" given twice`);
    while (text[i] === ' ') i++;
    if (text[i] !== '=') throw new ExpositionError(line, `expected = after label "${name}"`);
    i++;
    while (text[i] === ' ') i++;
    if (text[i] !== '"') throw new ExpositionError(line, `label "${name}" value is not quoted`);
    i++;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new ExpositionError(line, `unterminated value of label "${name}"`);
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new ExpositionError(line, `bad escape \\${e ?? ''} in label "${name}"`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    i++; // closing quote
    while (text[i] === ' ') i++;
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] !== '}') throw new ExpositionError(line, `expected , or } after label "${name}"`);
  }
}

function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  return `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seenSeries = new Set<string>();
  /** Families whose samples have ended (another family's samples came after). */
  const closed = new Set<string>();
  let current: string | undefined;
  if (text.length > 0 && !text.endsWith('\n')) throw new ExpositionError(text.split('\n').length, 'the last line has no newline');
  const lines = text.split('\n');
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (f === undefined) {
      f = { name, type: 'untyped', help: undefined, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const typed = new Set<string>();
  for (let n = 0; n < lines.length; n++) {
    const ln = n + 1;
    const raw = lines[n]!;
    if (n === lines.length - 1 && raw === '') break;
    if (raw.trim() === '') continue;
    if (raw.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(raw);
      if (m === null) continue; // a plain comment
      const [, kind, name, rest] = m;
      if (!METRIC_NAME.test(name!)) throw new ExpositionError(ln, `bad metric name "${name}"`);
      const f = family(name!);
      if (kind === 'TYPE') {
        const type = (rest ?? '').trim();
        if (!TYPES.has(type)) throw new ExpositionError(ln, `unknown type "${type}" for ${name}`);
        if (typed.has(name!)) throw new ExpositionError(ln, `second TYPE for ${name}`);
        if (f.samples.length > 0) throw new ExpositionError(ln, `TYPE for ${name} after its samples`);
        typed.add(name!);
        f.type = type as MetricType;
      } else {
        if (f.help !== undefined) throw new ExpositionError(ln, `second HELP for ${name}`);
        const help = rest ?? '';
        if (/\\(?![\\n])/.test(help)) throw new ExpositionError(ln, `bad escape in HELP of ${name}`);
        f.help = help.replace(/\\(\\|n)/g, (_s, e: string) => (e === 'n' ? '\n' : '\\'));
      }
      continue;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (nameMatch === null) throw new ExpositionError(ln, `bad sample line "${raw}"`);
    const name = nameMatch[0];
    let rest = raw.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, ln));
    const parts = rest.trim().split(/\s+/);
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2 || parts[0] === '') {
      throw new ExpositionError(ln, `expected " value [timestamp]" after ${name}, got "${rest}"`);
    }
    const value = parseFloatStrict(parts[0]!, ln);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) throw new ExpositionError(ln, `bad timestamp "${parts[1]}"`);
    const fname = familyOf(name, families);
    if (current !== fname) {
      if (closed.has(fname)) throw new ExpositionError(ln, `samples of ${fname} are not contiguous`);
      if (current !== undefined) closed.add(current);
      current = fname;
    }
    const key = seriesKey(name, labels);
    if (seenSeries.has(key)) throw new ExpositionError(ln, `series ${key} given twice`);
    seenSeries.add(key);
    const f = family(fname);
    if (f.type === 'counter' && !(value >= 0)) throw new ExpositionError(ln, `counter ${name} is ${value}`);
    if (f.type === 'histogram' && name === `${fname}_bucket` && labels.le === undefined) {
      throw new ExpositionError(ln, `bucket of ${fname} without le`);
    }
    if (f.type === 'histogram' && name === fname) throw new ExpositionError(ln, `histogram ${fname} has a bare sample`);
    f.samples.push({ name, labels, value });
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: MetricFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = seriesKey('', rest);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { buckets: [] }));
    if (s.name.endsWith('_bucket')) g.buckets.push([parseFloatStrict(le!, 0), s.value]);
    else if (s.name.endsWith('_count')) g.count = s.value;
    else g.sum = s.value;
  }
  for (const [key, g] of groups) {
    const where = `histogram ${f.name}${key}`;
    if (g.count === undefined || g.sum === undefined) throw new ExpositionError(0, `${where} lacks _count or _sum`);
    let prevLe = -Infinity;
    let prev = 0;
    for (const [le, v] of g.buckets) {
      if (!(le > prevLe)) throw new ExpositionError(0, `${where}: le ${le} not increasing`);
      if (v < prev) throw new ExpositionError(0, `${where}: bucket le=${le} (${v}) below the previous (${prev})`);
      prevLe = le;
      prev = v;
    }
    if (prevLe !== Infinity) throw new ExpositionError(0, `${where} has no le="+Inf" bucket`);
    if (prev !== g.count) throw new ExpositionError(0, `${where}: +Inf bucket ${prev} != _count ${g.count}`);
  }
}

/** Sum of a family's sample values whose labels include `match`. */
export function sumOf(families: Map<string, MetricFamily>, sampleName: string, match: Readonly<Record<string, string>> = {}): number {
  const f = families.get(familyOf(sampleName, families));
  if (f === undefined) throw new Error(`no metric ${sampleName}`);
  let sum = 0;
  for (const s of f.samples) {
    if (s.name !== sampleName) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Whether `promtool` is on the PATH (Debian's `prometheus` package installs it). */
export function hasPromtool(): boolean {
  return spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** `promtool check metrics` on `text`: its exit status and what it printed (lint problems, parse errors). */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}
