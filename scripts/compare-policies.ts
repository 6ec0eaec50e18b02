/**
 * Compares scaling policies in the virtual engine: every (dataset, policy) pair is one piscina
 * task (scripts/compare-worker.ts), spread over the cores; one table comes out.
 *
 *   node dist/scripts/compare-policies.js [--policies a,b] [--data DIR]... [--families a,b]
 *                                          [--threads N] [--json | --markdown]
 *
 * Default datasets: the bundled smoke test plus every generated workload family, generated once
 * and cached under `.bench/families/<name>` (regenerated when the family's options change).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import { policyNames, policySpecProblem, splitPolicySpecs } from '../src/core/policies/policy-registry.js';
import { generateDataset, WORKLOAD_FAMILIES, workloadFamily, writeDataset, type WorkloadFamily } from '../src/sim/generator/workload-generator.js';
import { HINDSIGHT_TASK, type CompareResult, type CompareTask } from './compare-worker.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';
import { DEFAULT_CALL_OVERHEAD, parseCallOverhead, type CallOverhead } from '../src/sim/virtual/call-overhead.js';

export const DEFAULT_SMOKE_DIR = 'datasets/function_smoke_test';
export const DEFAULT_CACHE_DIR = '.bench/families';
/** Options of a cached family are stored next to it; a mismatch regenerates it. */
const FAMILY_STAMP = 'family.json';

const HELP = `Usage: compare-policies [options]

  --policies a,b      policies to compare (default: all registered: ${policyNames().join(', ')});
                      adaptive with switches is an ablation: adaptive(prewarm=off,growth=off)
  --data DIR          a dataset folder (metas + requests); repeatable. When given, families are
                      only run if --families is given too
  --families a,b      generated workload families (default, or "all": ${WORKLOAD_FAMILIES.map((f) => f.name).join(', ')});
                      "none" for none
  --cache DIR         where generated families are cached (default ${DEFAULT_CACHE_DIR})
  --threads N         worker threads (default: available cores)
  --call-overhead MS  the per-call floor charged to every Assign and Idle of every policy, or
                      ASSIGN_MS,IDLE_MS (default ${DEFAULT_CALL_OVERHEAD.assignMs},${DEFAULT_CALL_OVERHEAD.idleMs}: measured on our live path; 0 disables)
  --no-hindsight      skip each dataset's hindsight reference (the best fixed keep-alive per
                      function, ten fixed-policy replays)
  --json              machine-readable output (one JSON document)
  --markdown          a README-ready markdown table
  --help              this text
`;

interface DatasetEntry {
  readonly name: string;
  readonly dir: string;
  /** A generated workload family (counted in the per-policy means). */
  readonly family: boolean;
}

export interface PolicySummary {
  readonly policy: string;
  /** Means over the workload families (over every dataset when no family was run). */
  readonly meanScore: number;
  readonly meanBoundFraction: number;
  /** Datasets where this policy scored best. */
  readonly wins: number;
  readonly minSuccessRate: number;
}

export interface Comparison {
  readonly policies: string[];
  readonly datasets: {
    name: string;
    dir: string;
    family: boolean;
    boundScore: number;
    /** The best fixed keep-alive per function in hindsight (src/sim/scoring/hindsight-keep-alive.ts). */
    hindsight: { score: number; resourceHalf: number; latencyHalf: number } | undefined;
    requests: number;
    best: string;
  }[];
  readonly results: CompareResult[];
  readonly summary: PolicySummary[];
  /** What the means in `summary` are over. */
  readonly meanOver: 'families' | 'datasets';
  readonly threads: number;
  readonly wallMs: number;
  /** The per-call floor every run paid. */
  readonly callOverhead: CallOverhead;
}

/** Writes a family's dataset under `cacheDir` unless an identical one is there already. */
export function ensureFamily(family: WorkloadFamily, cacheDir: string): string {
  const dir = resolve(cacheDir, family.name);
  const stamp = JSON.stringify(family.options);
  const stampFile = join(dir, FAMILY_STAMP);
  if (existsSync(stampFile) && existsSync(join(dir, 'requests')) && readFileSync(stampFile, 'utf8') === stamp) return dir;
  mkdirSync(dir, { recursive: true });
  writeDataset(dir, generateDataset(family.options));
  writeFileSync(stampFile, stamp);
  return dir;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Best policy of a dataset: highest score (ties: fewer idle GB-s). */
function bestOf(rows: readonly CompareResult[]): string {
  let best: CompareResult | undefined;
  for (const r of rows) {
    if (best === undefined || r.score > best.score + 1e-9 || (Math.abs(r.score - best.score) <= 1e-9 && r.idleGBs < best.idleGBs)) best = r;
  }
  return best?.policy ?? '';
}

export async function comparePolicies(
  datasets: readonly DatasetEntry[],
  policies: readonly string[],
  threads: number,
  hindsight = true,
  callOverhead: CallOverhead = DEFAULT_CALL_OVERHEAD,
): Promise<Comparison> {
  const started = Date.now();
  const pool = new Piscina<CompareTask, CompareResult>({
    filename: new URL('./compare-worker.js', import.meta.url).href,
    minThreads: Math.min(threads, datasets.length * policies.length),
    maxThreads: threads,
  });
  // Largest traces first, so the last tasks to finish are short ones.
  const sized = datasets.map((d) => ({ d, bytes: statSync(join(d.dir, 'requests')).size }));
  sized.sort((a, b) => b.bytes - a.bytes);
  const tasks: Promise<CompareResult>[] = [];
  for (const { d } of sized) for (const policy of policies) tasks.push(pool.run({ dir: d.dir, dataset: d.name, policy, callOverhead }));
  const references: Promise<CompareResult>[] = hindsight ? sized.map(({ d }) => pool.run({ dir: d.dir, dataset: d.name, policy: HINDSIGHT_TASK, callOverhead })) : [];
  let results: CompareResult[];
  let hindsightRows: CompareResult[];
  try {
    results = await Promise.all(tasks);
    hindsightRows = await Promise.all(references);
  } finally {
    await pool.destroy();
  }
  const order = new Map(datasets.map((d, i) => [d.name, i]));
  const porder = new Map(policies.map((p, i) => [p, i]));
  results.sort((a, b) => order.get(a.dataset)! - order.get(b.dataset)! || porder.get(a.policy)! - porder.get(b.policy)!);
  const dsOut = datasets.map((d) => {
    const rows = results.filter((r) => r.dataset === d.name);
    const h = hindsightRows.find((r) => r.dataset === d.name);
    return {
      name: d.name,
      dir: d.dir,
      family: d.family,
      boundScore: rows[0]?.boundScore ?? NaN,
      hindsight: h === undefined ? undefined : { score: h.score, resourceHalf: h.resourceHalf, latencyHalf: h.latencyHalf },
      requests: rows[0]?.requests ?? 0,
      best: bestOf(rows),
    };
  });
  const families = new Set(datasets.filter((d) => d.family).map((d) => d.name));
  const meanOver = families.size > 0 ? 'families' : 'datasets';
  const summary = policies.map((policy) => {
    const mine = results.filter((r) => r.policy === policy);
    const counted = meanOver === 'families' ? mine.filter((r) => families.has(r.dataset)) : mine;
    return {
      policy,
      meanScore: mean(counted.map((r) => r.score)),
      meanBoundFraction: mean(counted.map((r) => r.boundFraction)),
      wins: dsOut.filter((d) => d.best === policy).length,
      minSuccessRate: Math.min(...mine.map((r) => r.successRate)),
    };
  });
  return { policies: [...policies], datasets: dsOut, results, summary, meanOver, threads, wallMs: Date.now() - started, callOverhead };
}

// ---- output ---------------------------------------------------------------------------------

const COLUMNS = ['dataset', 'policy', 'resource', 'latency', 'score', 'of bound', 'cold starts', 'slots', 'idle GB-s', 'success', ''] as const;
const NOTE =
  'resource/latency: the two score halves (50 each); of bound: score / clairvoyant bound; cold starts: requests whose ' +
  'Assign waited (for a new instance or a busy one); slots: slots created; idle GB-s: slot GB-s not spent executing.';

function pct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}

function rowCells(c: Comparison, r: CompareResult): string[] {
  const best = c.datasets.find((d) => d.name === r.dataset)?.best === r.policy;
  return [
    r.dataset,
    r.policy,
    r.resourceHalf.toFixed(2),
    r.latencyHalf.toFixed(2),
    r.score.toFixed(2),
    pct(r.boundFraction),
    String(r.coldStarts),
    String(r.slotsCreated),
    r.idleGBs.toFixed(1),
    pct(r.successRate, 2),
    best ? '*best' : '',
  ];
}

function summaryCells(c: Comparison, s: PolicySummary): string[] {
  return [`mean (${c.meanOver})`, s.policy, '', '', s.meanScore.toFixed(2), pct(s.meanBoundFraction), '', '', '', pct(s.minSuccessRate, 2), `${s.wins} best`];
}

function boundCells(d: Comparison['datasets'][number]): string[] {
  return [d.name, '(clairvoyant bound)', '', '', d.boundScore.toFixed(2), '100.0%', '', '', '', '', `${d.requests} requests`];
}

function hindsightCells(d: Comparison['datasets'][number]): string[] | null {
  const h = d.hindsight;
  if (h === undefined) return null;
  return [d.name, '(best fixed keep-alive, hindsight)', h.resourceHalf.toFixed(2), h.latencyHalf.toFixed(2), h.score.toFixed(2), pct(h.score / d.boundScore), '', '', '', '', ''];
}

const SPLIT_COLUMNS = ['dataset', 'policy', 'overhead', 'busy waits', 'cold starts', 'idle keep', 'kept after last', 'cold-start slots', 'pre-warms', 'hedges'] as const;
const SPLIT_NOTE =
  'Points lost (cost split, src/sim/scoring/cost-split.ts): latency half to per-call overhead (hits\' Assign + every Idle), ' +
  'waits behind busy or starting instances, cold starts; resource half to idle keep between requests, keep after the last ' +
  'request (and the tail), startup of cold-started instances, pre-warms and hedges.';

function splitCells(r: CompareResult): string[] | null {
  const s = r.split;
  if (s === null) return null;
  const l = s.latency.pointsLost;
  const q = s.resource.pointsLost;
  return [r.dataset, r.policy, ...[l.overhead, l.busyWait, l.coldStart, q.idleKeep, q.keptAfterLast, q.coldStart, q.prewarm, q.hedge].map((x) => x.toFixed(2))];
}

function floorNote(c: Comparison): string {
  return `Every run paid a per-call floor of ${c.callOverhead.assignMs} ms per Assign and ${c.callOverhead.idleMs} ms per Idle.`;
}

export function formatText(c: Comparison): string {
  const rows: string[][] = [];
  const seps: number[] = [];
  for (const d of c.datasets) {
    rows.push(boundCells(d));
    const h = hindsightCells(d);
    if (h !== null) rows.push(h);
    for (const r of c.results) if (r.dataset === d.name) rows.push(rowCells(c, r));
    seps.push(rows.length);
  }
  for (const s of c.summary) rows.push(summaryCells(c, s));
  const header = [...COLUMNS] as string[];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const numeric = (i: number): boolean => i >= 2 && i <= 9;
  const fmt = (cells: string[]): string =>
    cells
      .map((cell, i) => (numeric(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [fmt(header), rule];
  rows.forEach((r, i) => {
    out.push(fmt(r));
    if (seps.includes(i + 1)) out.push(rule);
  });
  out.push(`*best: highest score on the dataset. ${NOTE}`);
  const split = c.results.map(splitCells).filter((x): x is string[] => x !== null);
  if (split.length > 0) {
    const sh = [...SPLIT_COLUMNS] as string[];
    const sw = sh.map((h, i) => Math.max(h.length, ...split.map((r) => r[i]!.length)));
    const line = (cells: string[]): string => cells.map((cell, i) => (i >= 2 ? cell.padStart(sw[i]!) : cell.padEnd(sw[i]!))).join('  ').trimEnd();
    out.push('', line(sh), sw.map((w) => '-'.repeat(w)).join('  '), ...split.map(line), SPLIT_NOTE);
  }
  out.push(floorNote(c));
  out.push(`${c.results.length} runs on ${c.threads} threads in ${(c.wallMs / 1000).toFixed(1)} s`);
  return out.join('\n') + '\n';
}

export function formatMarkdown(c: Comparison): string {
  const head = ['dataset', 'policy', 'resource half', 'latency half', 'score', 'of bound', 'cold starts', 'slots', 'idle GB-s', 'success'];
  const out: string[] = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const d of c.datasets) {
    out.push(`| ${d.name} | *clairvoyant bound* |  |  | ${d.boundScore.toFixed(2)} | 100% |  |  |  |  |`);
    const h = d.hindsight;
    if (h !== undefined) {
      out.push(`| ${d.name} | *best fixed keep-alive, hindsight* | ${h.resourceHalf.toFixed(2)} | ${h.latencyHalf.toFixed(2)} | ${h.score.toFixed(2)} | ${pct(h.score / d.boundScore)} |  |  |  |  |`);
    }
    for (const r of c.results) {
      if (r.dataset !== d.name) continue;
      const cells = rowCells(c, r).slice(0, head.length);
      if (d.best === r.policy) {
        cells[1] = `**${cells[1]}**`;
        cells[4] = `**${cells[4]}**`;
      }
      out.push(`| ${cells.join(' | ')} |`);
    }
  }
  out.push('');
  out.push(`| policy | mean score (${c.meanOver}) | mean fraction of bound | datasets won | worst success rate |`);
  out.push('| --- | ---: | ---: | ---: | ---: |');
  for (const s of c.summary) out.push(`| ${s.policy} | ${s.meanScore.toFixed(2)} | ${pct(s.meanBoundFraction)} | ${s.wins} | ${pct(s.minSuccessRate, 2)} |`);
  out.push('');
  out.push(`Bold: best score on the dataset. ${NOTE}`);
  const split = c.results.map(splitCells).filter((x): x is string[] => x !== null);
  if (split.length > 0) {
    out.push('', `| ${SPLIT_COLUMNS.join(' | ')} |`, `|${SPLIT_COLUMNS.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
    for (const r of split) out.push(`| ${r.join(' | ')} |`);
    out.push('', SPLIT_NOTE);
  }
  out.push('', floorNote(c));
  return out.join('\n') + '\n';
}

// ---- command line ---------------------------------------------------------------------------

function splitList(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      policies: { type: 'string' },
      data: { type: 'string', multiple: true },
      families: { type: 'string' },
      cache: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean' },
      markdown: { type: 'boolean' },
      'no-hindsight': { type: 'boolean' },
      'call-overhead': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const known = policyNames();
  const policies = values.policies === undefined ? known : splitPolicySpecs(values.policies);
  for (const p of policies) {
    const problem = policySpecProblem(p);
    if (problem !== null) throw new Error(problem);
  }
  const dataDirs = values.data ?? [];
  const famArg = splitList(values.families);
  const allFamilies = WORKLOAD_FAMILIES.map((f) => f.name);
  const famNames = famArg?.includes('none') === true ? [] : famArg?.includes('all') === true ? allFamilies : famArg ?? (dataDirs.length > 0 ? [] : allFamilies);
  const datasets: DatasetEntry[] = [];
  const dirs = dataDirs.length > 0 || famArg !== undefined ? dataDirs : [DEFAULT_SMOKE_DIR];
  for (const dir of dirs) {
    const abs = resolve(dir);
    if (!existsSync(join(abs, 'requests')) || !existsSync(join(abs, 'metas'))) throw new Error(`${dir}: not a dataset folder (needs metas and requests)`);
    datasets.push({ name: abs.replace(/\/+$/, '').split('/').pop() ?? dir, dir: abs, family: false });
  }
  const cache = values.cache ?? DEFAULT_CACHE_DIR;
  for (const name of famNames) datasets.push({ name, dir: ensureFamily(workloadFamily(name), cache), family: true });
  if (datasets.length === 0) throw new Error('no datasets: give --data DIR or --families');
  const names = new Set<string>();
  for (const d of datasets) {
    if (names.has(d.name)) throw new Error(`two datasets are named "${d.name}"`);
    names.add(d.name);
  }
  const threads = values.threads !== undefined ? Number(values.threads) : availableParallelism();
  if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`--threads expects a positive integer, got ${values.threads}`);
  // A malformed floor throws CallOverheadError: printed by main's caller like any bad argument.
  const callOverhead = values['call-overhead'] === undefined ? DEFAULT_CALL_OVERHEAD : parseCallOverhead(values['call-overhead']);
  const c = await comparePolicies(datasets, policies, threads, values['no-hindsight'] !== true, callOverhead);
  if (values.json === true) process.stdout.write(JSON.stringify(c, null, 2) + '\n');
  else if (values.markdown === true) process.stdout.write(formatMarkdown(c));
  else process.stdout.write(formatText(c));
  const leaks = c.results.filter((r) => r.leakedSlots > 0);
  for (const r of leaks) process.stderr.write(`warning: ${r.policy} on ${r.dataset} leaked ${r.leakedSlots} slots\n`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  endQuietlyOnClosedOutput();
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`compare-policies: ${(e as Error).message}\n`);
      process.exitCode = 2;
    },
  );
}
