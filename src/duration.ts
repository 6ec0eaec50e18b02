/**
 * Durations as humans write them in flags and environment variables: `1500ms`, `30s`, `5m`,
 * `4h`, `1d`, or a sum of them (`1h30m`, `2m30s`). A bare number is refused: `--tail 30` meant
 * 30 milliseconds to the code and 30 seconds to the person who typed it.
 */

/** Milliseconds per accepted unit, longest unit names first so `ms` is not read as `m` + `s`. */
const UNIT_MS: ReadonlyMap<string, number> = new Map([
  ['ms', 1],
  ['s', 1_000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
]);

export const DURATION_UNITS_HELP = 'ms, s, m, h or d (e.g. 1500ms, 30s, 5m, 1h30m)';

const TERM = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

export class DurationError extends Error {
  readonly code = 'DURATION_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

/**
 * Parses `raw` into whole milliseconds (rounded). `name` says where it came from, for the
 * message: `--tail`, `SCALER_KEEP_ALIVE`, ...
 */
export function parseDuration(name: string, raw: string): number {
  const text = raw.trim();
  if (text === '') throw new DurationError(`${name} needs a duration with a unit: ${DURATION_UNITS_HELP}`);
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    throw new DurationError(`${name} "${raw}" has no unit; write it with one of ${DURATION_UNITS_HELP}`);
  }
  let ms = 0;
  let at = 0;
  TERM.lastIndex = 0;
  while (at < text.length) {
    TERM.lastIndex = at;
    const m = TERM.exec(text);
    if (m === null) throw new DurationError(`${name} "${raw}" is not a duration; use ${DURATION_UNITS_HELP}`);
    ms += Number(m[1]) * UNIT_MS.get(m[2]!)!;
    at = TERM.lastIndex;
  }
  if (!Number.isFinite(ms)) throw new DurationError(`${name} "${raw}" is too long`);
  return Math.round(ms);
}

/** `90000` -> `1m30s`, `1500` -> `1.5s`, `250` -> `250ms`: the inverse of {@link parseDuration}, for help and reports. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1_000).toFixed(3)}s`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1_000);
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}
