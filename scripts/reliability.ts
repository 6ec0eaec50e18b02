/**
 * Reliability table: each platform fault at its rate (and all at once) on the smoke dataset and
 * a generated FaaS-mix workload, in virtual time (our core + simulated platform) and live (the
 * real scaler process + emulated platform + TCP proxy for outages) on the smoke set.
 *
 *   node dist/scripts/reliability.js [--rate 0.01] [--quick] [--live each|all|none] [--json]
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_POLICY } from '../src/config.js';
import { DURATION_UNITS_HELP, DurationError, formatDuration, parseDuration } from '../src/duration.js';
import { createPolicy } from '../src/core/policies/policy-registry.js';
import { loadMetas, streamRequests } from '../src/sim/datasets/dataset-loader.js';
import { DEFAULT_OUTAGE_MS, FAULT_KINDS, FaultPlan, virtualFaults, type FaultKind, type FaultRates } from '../src/sim/live/fault-plan.js';
import { runFaultLive } from '../src/sim/faults/fault-live-run.js';
import { LOST_WITH_PROCESS_MS, runCrashLive, type CrashLiveRunResult } from '../src/sim/faults/crash-live-run.js';
import type { MetaRecord, RequestRecord } from '../src/sim/contest/dataset-types.js';
import { busiestWindow } from '../src/sim/datasets/trace-window.js';
import { datasetSource, memorySource, runVirtual, type RequestSource } from '../src/sim/virtual/virtual-engine.js';
import { generateDataset, workloadFamily } from '../src/sim/generator/workload-generator.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

/** First unreachable window this far into every run, so even the 11 s smoke set sees one. */
export const FIRST_OUTAGE_AT_MS = 3_000;
/** Live smoke runs cap init durations (a x10 spike of a 15 s init would add minutes). */
export const DEFAULT_LIVE_MAX_INIT_MS = 2_000;
/** `--quick`: the generated workload is cut to this many seconds. */
export const QUICK_DURATION_SEC = 120;
/**
 * The process-level rows (scaler SIGKILL + restart, outages resetting established connections)
 * replay the busiest window of this dataset, as the measurement did; without it
 * (`../shared` not beside the clone), the generated FaaS mix.
 */
export const DEFAULT_PROCESS_DATA = '../../../shared/datasets/tune/contest-ds1-before-burst';
export const DEFAULT_PROCESS_WINDOW_MS = 120_000;
export const QUICK_PROCESS_WINDOW_MS = 30_000;
/** Outages of the outage-resets row: 1 s, about every 10 s, the first this far in. */
export const RESET_OUTAGE_MS = 1_000;
export const RESET_OUTAGE_EVERY_MS = 10_000;
export const RESET_FIRST_OUTAGE_AT_MS = 5_000;

const HELP = `Usage: reliability [options]

  --rate F            rate of each fault (default 0.01); outage = fraction of time unreachable,
                      in ${DEFAULT_OUTAGE_MS / 1000} s windows, the first at ${FIRST_OUTAGE_AT_MS / 1000} s
  --faults LIST       comma-separated faults (default: none,each fault,all); known: ${FAULT_KINDS.join(', ')}
  --quick             generated workload ${QUICK_DURATION_SEC} s instead of 10 min
  --live MODE         live smoke runs: each (default) | all (only the all-faults row) | none
  --live-max-init DURATION  cap of init durations in live runs (default ${formatDuration(DEFAULT_LIVE_MAX_INIT_MS)})
  --smoke DIR         smoke dataset (default datasets/function_smoke_test)
  --policy NAME       scaling policy (default ${DEFAULT_POLICY})
  --seed N            fault seed (default 1)
  --process-data DIR  dataset of the process-level rows (default ../shared/datasets/tune/
                      contest-ds1-before-burst beside the clone, else the generated workload)
  --process-window D  busiest window of it replayed (default ${formatDuration(DEFAULT_PROCESS_WINDOW_MS)}; --quick ${formatDuration(QUICK_PROCESS_WINDOW_MS)})
  --kill-at D         when the scaler is SIGKILLed in that window (default: half way)
  --crash-baseline    also kill a scaler running with --journal off (reported, not judged)
  --json              one JSON line per row instead of the table

Durations take a unit: ${DURATION_UNITS_HELP}; a bare number is refused.

Process-level rows (live, after the per-fault rows unless --live none):
  scaler-sigkill   the scaler process SIGKILLed and restarted at once on its journal; its
                   failures must all be calls that reached no live process, and no slot may be
                   alive after the restarted scaler stops
  outage-resets    1 s outages about every 10 s through the TCP proxy, resetting established
                   connections mid-call: no failure, no slot alive after the scaler stops
`;

interface Row {
  readonly mode: 'virtual' | 'live';
  readonly dataset: string;
  readonly fault: string;
  readonly rate: string;
  readonly requests: number;
  readonly failures: number;
  /** Of `failures`, those no scaler could avoid (calls that reached no live process). */
  readonly atCrash?: number;
  readonly leakedSlots: number;
  readonly injected: number;
  readonly slots: number;
  /** Of `leakedSlots`, CreateSlot replies that died unread with a killed process (no protocol can reclaim them). */
  readonly lostWithProcess?: number;
  /** A baseline shown for comparison, not judged (the exit status ignores it). */
  readonly baseline?: boolean;
}

function ratesFor(fault: string, rate: number): FaultRates {
  if (fault === 'none') return {};
  if (fault === 'all') return Object.fromEntries(FAULT_KINDS.map((k) => [k, rate]));
  return { [fault]: rate };
}

function sumInjected(inj: Record<string, number>): number {
  let n = 0;
  for (const v of Object.values(inj)) n += v;
  return n;
}

function rateLabel(fault: string, rate: number): string {
  if (fault === 'none') return '-';
  const pct = `${+(rate * 100).toFixed(3)}%`;
  return fault === 'outage' ? `${pct} of time` : fault === 'all' ? `${pct} each` : pct;
}

function virtualRow(source: () => RequestSource, fault: string, rate: number, seed: number, policy: string): Row {
  let plan: FaultPlan | undefined;
  const src = source();
  const r = runVirtual({
    source: src,
    policy: createPolicy(policy),
    bound: false,
    faultsFor: (clock) => {
      plan = new FaultPlan({ rates: ratesFor(fault, rate), seed, firstOutageAtMs: FIRST_OUTAGE_AT_MS });
      return virtualFaults(plan, clock);
    },
  });
  let failures = 0;
  for (const v of Object.values(r.failures)) failures += v;
  return {
    mode: 'virtual',
    dataset: src.name,
    fault,
    rate: rateLabel(fault, rate),
    requests: r.requests,
    failures,
    leakedSlots: r.leakedSlots,
    injected: plan === undefined ? 0 : sumInjected(plan.injected),
    slots: r.report.slotsCreated,
  };
}

async function liveRow(dir: string, fault: string, rate: number, seed: number, maxInitMs: number, policy: string): Promise<Row> {
  const metas = await loadMetas(dir);
  const mainJs = fileURLToPath(new URL('../src/main.js', import.meta.url));
  const r = await runFaultLive({
    mainJs,
    metas,
    requests: streamRequests(dir, metas),
    plan: { rates: ratesFor(fault, rate), seed, firstOutageAtMs: FIRST_OUTAGE_AT_MS },
    maxInitMs,
    scalerArgs: ['--policy', policy],
  });
  return {
    mode: 'live',
    dataset: dir.replace(/\/+$/, '').split('/').pop() ?? dir,
    fault,
    rate: rateLabel(fault, rate),
    requests: r.requests,
    failures: r.failures,
    leakedSlots: r.leakedSlots,
    injected: sumInjected(r.injected),
    slots: r.slotsCreated,
  };
}

function table(rows: readonly Row[]): string {
  const head = ['mode', 'dataset', 'fault', 'rate', 'requests', 'failures', 'leaked slots', 'faults injected', 'slots created'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const failures = r.atCrash === undefined ? `${r.failures}` : `${r.failures} (${r.atCrash} reached no live process)`;
    lines.push(`| ${[r.mode, r.dataset, r.fault, r.rate, r.requests, failures, r.leakedSlots, r.injected, r.slots].join(' | ')} |`);
  }
  return lines.join('\n');
}

interface ProcessTrace {
  readonly name: string;
  readonly metas: ReadonlyMap<string, MetaRecord>;
  readonly requests: RequestRecord[];
}

async function processTrace(dir: string | undefined, windowMs: number, fallback: { metas: MetaRecord[]; requests: RequestRecord[]; name: string }): Promise<ProcessTrace> {
  let metas: ReadonlyMap<string, MetaRecord>;
  let all: RequestRecord[];
  let name: string;
  if (dir !== undefined) {
    const m = await loadMetas(dir);
    all = [];
    for await (const r of streamRequests(dir, m)) all.push(r);
    metas = m;
    name = basename(dir.replace(/\/+$/, ''));
  } else {
    metas = new Map(fallback.metas.map((m) => [m.key, m]));
    all = fallback.requests;
    name = fallback.name;
  }
  const w = busiestWindow(all, windowMs);
  return { name: `${name}, busiest ${formatDuration(windowMs)}`, metas, requests: w.requests };
}

function crashNote(r: CrashLiveRunResult, journal: boolean): string {
  const rec = r.recovery;
  return (
    `scaler SIGKILL at ${formatDuration(Math.round(r.killAtMs))}${journal ? '' : ' (--journal off)'}: listening again ${formatDuration(Math.round(r.listeningAtMs - r.killAtMs))} later ` +
    `(its process accepted calls ${r.acceptingMs} ms after it started, served them from ${r.startupMs} ms); ${r.failures} of ${r.requests} requests failed, ${r.failuresAtCrash} of them calls that reached no live process; ` +
    `recovered ${rec.recoveredSlots} slots (${rec.adoptedIdle} idle and ${rec.adoptedBusy} held instances taken over, ${rec.reclaimedSlots} destroyed), ` +
    `${rec.lostCreatesAtCrash} CreateSlot calls in flight at the kill; ${r.liveSlotsAfterStop} slots alive after the restarted scaler stopped` +
    (r.lostWithProcess > 0 ? ` (${r.lostWithProcess} created in the last ${LOST_WITH_PROCESS_MS} ms before the kill: its reply died unread with the process)` : '')
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string' },
      faults: { type: 'string' },
      quick: { type: 'boolean' },
      live: { type: 'string' },
      'live-max-init': { type: 'string' },
      smoke: { type: 'string' },
      policy: { type: 'string' },
      seed: { type: 'string' },
      'process-data': { type: 'string' },
      'process-window': { type: 'string' },
      'kill-at': { type: 'string' },
      'crash-baseline': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const rate = values.rate === undefined ? 0.01 : Number(values.rate);
  if (!(rate >= 0 && rate <= 1)) throw new Error(`--rate must be in [0, 1], got ${values.rate}`);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  const policy = values.policy ?? DEFAULT_POLICY;
  const live = values.live ?? 'each';
  if (!['each', 'all', 'none'].includes(live)) throw new Error(`--live must be each, all or none`);
  const maxInitMs = values['live-max-init'] === undefined ? DEFAULT_LIVE_MAX_INIT_MS : parseDuration('--live-max-init', values['live-max-init']);
  const faults = values.faults?.split(',') ?? ['none', ...FAULT_KINDS, 'all'];
  for (const f of faults) {
    if (f !== 'none' && f !== 'all' && !(FAULT_KINDS as readonly string[]).includes(f)) throw new Error(`unknown fault ${f}`);
  }
  const smokeDir = values.smoke ?? fileURLToPath(new URL('../../datasets/function_smoke_test', import.meta.url));
  if (!existsSync(smokeDir)) throw new Error(`smoke dataset not found at ${smokeDir} (use --smoke DIR)`);

  const fam = workloadFamily('faas-mix');
  const genOpts = values.quick === true ? { ...fam.options, durationSec: QUICK_DURATION_SEC } : fam.options;
  const gen = generateDataset(genOpts);
  const genName = `faas-mix-${genOpts.durationSec ?? 600}s`;
  const sources: Array<() => RequestSource> = [() => datasetSource(smokeDir), () => memorySource(genName, gen.metas, gen.requests)];

  const rows: Row[] = [];
  const emit = (r: Row): void => {
    rows.push(r);
    if (values.json === true) process.stdout.write(JSON.stringify(r) + '\n');
    else process.stderr.write(`  ${r.mode} ${r.dataset} ${r.fault}: ${r.requests} requests, ${r.failures} failures, ${r.leakedSlots} leaked\n`);
  };
  for (const fault of faults) {
    for (const src of sources) emit(virtualRow(src, fault, rate, seed, policy));
    if (live === 'each' || (live === 'all' && fault === 'all')) emit(await liveRow(smokeDir, fault, rate, seed, maxInitMs, policy));
  }

  const notes: string[] = [];
  if (live !== 'none') {
    const windowMs =
      values['process-window'] !== undefined ? parseDuration('--process-window', values['process-window']) : values.quick === true ? QUICK_PROCESS_WINDOW_MS : DEFAULT_PROCESS_WINDOW_MS;
    const defaultData = fileURLToPath(new URL(DEFAULT_PROCESS_DATA, import.meta.url));
    const dataDir = values['process-data'] ?? (existsSync(defaultData) ? defaultData : undefined);
    const trace = await processTrace(dataDir, windowMs, { metas: gen.metas, requests: gen.requests, name: genName });
    const killAtMs = values['kill-at'] !== undefined ? parseDuration('--kill-at', values['kill-at']) : Math.round(windowMs / 2);
    const mainJs = fileURLToPath(new URL('../src/main.js', import.meta.url));
    const crash = async (journal: boolean): Promise<void> => {
      const r = await runCrashLive({ mainJs, metas: trace.metas, requests: trace.requests, killAtMs, maxInitMs, journal, scalerArgs: ['--policy', policy] });
      emit({
        mode: 'live',
        dataset: trace.name,
        fault: journal ? 'scaler-sigkill' : 'scaler-sigkill, --journal off',
        rate: `once at ${formatDuration(killAtMs)}`,
        requests: r.requests,
        failures: r.failures,
        atCrash: r.failuresAtCrash,
        // Alive after the restarted scaler stopped.
        leakedSlots: r.liveSlotsAfterStop,
        lostWithProcess: r.lostWithProcess,
        injected: 1,
        slots: r.slotsCreated,
        baseline: !journal,
      });
      notes.push(crashNote(r, journal));
    };
    await crash(true);
    if (values['crash-baseline'] === true) await crash(false);
    const period = RESET_OUTAGE_EVERY_MS;
    const o = await runFaultLive({
      mainJs,
      metas: new Map(trace.metas),
      requests: trace.requests,
      plan: { rates: { outage: RESET_OUTAGE_MS / period }, outageMs: RESET_OUTAGE_MS, firstOutageAtMs: RESET_FIRST_OUTAGE_AT_MS },
      maxInitMs,
      scalerArgs: ['--policy', policy],
    });
    emit({
      mode: 'live',
      dataset: trace.name,
      fault: 'outage-resets',
      rate: `${formatDuration(RESET_OUTAGE_MS)} every ${formatDuration(period)}`,
      requests: o.requests,
      failures: o.failures,
      // Alive after the scaler stopped, or (while it ran) alive and not tracked by it.
      leakedSlots: Math.max(o.liveSlotsAfterStop, o.leakedSlots),
      injected: o.proxyOutages,
      slots: o.slotsCreated,
    });
    notes.push(
      `outage-resets: ${o.proxyOutages} outages of ${formatDuration(RESET_OUTAGE_MS)}, every established connection reset (${o.injected.outage} connections reset or refused); ` +
        `calls cut mid-call: ${o.cutCalls.Init ?? 0} Init, ${o.cutCalls.CreateSlot ?? 0} CreateSlot; CreateSlot replies the scaler counted as lost: ${o.lostCreateReplies}; ` +
        `${o.liveSlotsAfterStop} slots alive after the scaler stopped`,
    );
  }
  if (values.json !== true) {
    process.stdout.write(table(rows) + '\n');
    process.stdout.write(
      `\nrate: per platform call, except outage (fraction of time unreachable in ${DEFAULT_OUTAGE_MS / 1000} s windows, first at ${FIRST_OUTAGE_AT_MS / 1000} s; ` +
        `live: TCP connections reset/refused, virtual: calls fail). spikes: latency x10. live inits capped at ${maxInitMs} ms.\n`,
    );
    for (const n of notes) process.stdout.write(`${n}\n`);
  } else {
    for (const n of notes) process.stdout.write(`${JSON.stringify({ note: n })}\n`);
  }
  const bad = rows.filter((r) => r.baseline !== true && (r.failures - (r.atCrash ?? 0) > 0 || r.leakedSlots - (r.lostWithProcess ?? 0) > 0)).length;
  return bad === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A bad duration is a usage error: its message says which units are accepted.
    const text = err instanceof DurationError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`reliability: ${text}\n`);
    process.exit(2);
  },
);

export type { FaultKind };
