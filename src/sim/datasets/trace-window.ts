/**
 * A window of a trace: the requests that start `fromMs` to `fromMs + forMs` after the trace's
 * first request (`npm run evaluate -- --from 4h --for 15m`), so that a 5-hour trace can be
 * replayed live in minutes. Offsets are from the first request of the whole file, so a window
 * names the same requests in every mode (live, virtual, bound, hindsight reference).
 */
import type { RequestRecord } from '../contest/dataset-types.js';

export interface TraceWindow {
  readonly fromMs: number;
  /** Infinity: to the end of the trace. */
  readonly forMs: number;
}

/** Feeds start times in file order; says which fall in the window and when none can any more. */
export class TraceWindowFilter {
  private first = NaN;
  /** Set once a start time at or past the window's end was seen (traces are sorted). */
  done = false;

  constructor(private readonly w: TraceWindow) {}

  accepts(startTime: number): boolean {
    if (this.first !== this.first) this.first = startTime;
    const rel = startTime - this.first;
    if (rel >= this.w.fromMs + this.w.forMs) {
      this.done = true;
      return false;
    }
    return rel >= this.w.fromMs;
  }
}

/** `[4h, 4h15m)` style label for reports. */
export function describeWindow(w: TraceWindow, format: (ms: number) => string): string {
  return `[${format(w.fromMs)}, ${w.forMs === Infinity ? 'end' : format(w.fromMs + w.forMs)})`;
}

/**
 * The `forMs` window of a trace with the most requests (sliding over start times), for live runs
 * that cannot replay hours: the issue-13 measurement used a dataset's busiest 2 minutes.
 * `requests` must be in start-time order, as datasets are; offsets as in {@link TraceWindow}.
 */
export function busiestWindow(requests: readonly RequestRecord[], forMs: number): { window: TraceWindow; requests: RequestRecord[] } {
  if (requests.length === 0) return { window: { fromMs: 0, forMs }, requests: [] };
  let best = 0;
  let bestCount = 0;
  let j = 0;
  for (let i = 0; i < requests.length; i++) {
    const end = requests[i]!.startTime + forMs;
    if (j < i) j = i;
    while (j < requests.length && requests[j]!.startTime < end) j++;
    if (j - i > bestCount) {
      bestCount = j - i;
      best = i;
    }
  }
  return {
    window: { fromMs: requests[best]!.startTime - requests[0]!.startTime, forMs },
    requests: requests.slice(best, best + bestCount),
  };
}
