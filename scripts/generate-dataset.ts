/**
 * Writes a generated contest-format dataset (DIR/metas, DIR/requests).
 *
 *   node dist/scripts/generate-dataset.js --pattern mix --seed 1 --duration 10m --out DIR [--functions N] [--rate X]
 *   node dist/scripts/generate-dataset.js --family faas-mix --out DIR
 */
import { parseArgs } from 'node:util';
import { DURATION_UNITS_HELP, formatDuration, parseDuration } from '../src/duration.js';
import {
  DEFAULT_DURATION_SEC,
  DEFAULT_FUNCTIONS,
  PATTERNS,
  WORKLOAD_FAMILIES,
  generateDataset,
  workloadFamily,
  writeDataset,
  type GenerateOptions,
  type PatternName,
} from '../src/sim/generator/workload-generator.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

const HELP = `Usage: generate-dataset --out DIR [options]

  --pattern P[,P...]  ${PATTERNS.join(' | ')} (default mix); several are assigned round-robin
  --family NAME       a named 10-minute preset: ${WORKLOAD_FAMILIES.map((f) => f.name).join(', ')}
                      (explicit options override the preset's)
  --seed N            PRNG seed (default 1)
  --duration DURATION trace length, e.g. 60s or 10m (default ${formatDuration(DEFAULT_DURATION_SEC * 1000)})
  --functions N       number of functions (default ${DEFAULT_FUNCTIONS})
  --rate X            arrival-rate multiplier (default 1)
  --error-rate F      fraction of requests with status 408/500 (default 0.004)
  --out DIR           output folder (created); writes DIR/metas and DIR/requests
  --help              this text

Durations take a unit: ${DURATION_UNITS_HELP}; a bare number is refused.
`;

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} expects a number, got ${v}`);
  return n;
}

function main(): number {
  const { values } = parseArgs({
    options: {
      pattern: { type: 'string' },
      family: { type: 'string' },
      seed: { type: 'string' },
      duration: { type: 'string' },
      functions: { type: 'string' },
      rate: { type: 'string' },
      'error-rate': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.out === undefined) {
    process.stderr.write(`--out is required\n\n${HELP}`);
    return 2;
  }
  const preset: GenerateOptions = values.family !== undefined ? workloadFamily(values.family).options : {};
  let pattern: PatternName | PatternName[] | undefined;
  if (values.pattern !== undefined) {
    const list = values.pattern.split(',').map((s) => s.trim());
    for (const p of list) if (!(PATTERNS as readonly string[]).includes(p)) throw new Error(`unknown pattern ${p}`);
    pattern = list as PatternName[];
  }
  const opts: GenerateOptions = {
    ...preset,
    ...(pattern !== undefined ? { pattern } : {}),
    ...(values.seed !== undefined ? { seed: num('seed', values.seed) } : {}),
    // DurationError's message says which units are accepted; main's catch prints it (exit 2).
    ...(values.duration !== undefined ? { durationSec: parseDuration('--duration', values.duration) / 1000 } : {}),
    ...(values.functions !== undefined ? { functions: num('functions', values.functions) } : {}),
    ...(values.rate !== undefined ? { rate: num('rate', values.rate) } : {}),
    ...(values['error-rate'] !== undefined ? { errorRate: num('error-rate', values['error-rate']) } : {}),
  };
  const t0 = Date.now();
  const ds = generateDataset(opts);
  writeDataset(values.out, ds);
  const span = ds.requests.length > 0 ? (ds.requests[ds.requests.length - 1].startTime - ds.requests[0].startTime) / 1000 : 0;
  process.stdout.write(
    `wrote ${values.out}: ${ds.metas.length} functions, ${ds.requests.length} requests over ${span.toFixed(1)} s (${Date.now() - t0} ms)\n`,
  );
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  process.stderr.write(`generate-dataset: ${(e as Error).message}\n`);
  process.exitCode = 2;
}
