/**
 * A window of a trace: the requests that start `fromMs` to `fromMs + forMs` after the trace's
 * first request (`npm run evaluate -- --from 4h --for 15m`), so that a 5-hour trace can be
 * replayed live in minutes. Offsets are from the first request of the whole file, so a window
 * names the same requests in every mode (live, virtual, bound, hindsight reference).
 */
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
