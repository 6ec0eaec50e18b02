/**
 * What to do with a function's last instance when the function goes idle, chosen on its recent
 * idle gaps as observed exactly. A gap runs from the last request's arrival to the next arrival
 * (arrival to arrival: a timer's period is exact, while the time from a release to the next
 * arrival moves with execution times, and with our own lateness). The plan, in times after that
 * last arrival:
 *
 *   keep the instance until `keepMs`; if no request came, release it; start a new one at
 *   `prewarmAtMs` (ready a cold start later), and hold that one until `holdMs`.
 *
 * A plain keep-alive is the plan with no pre-warm. The plan is the one of least expected cost
 * over the sample, in GB-ms: idle and initialising slot time weighs the instance's memory, a
 * millisecond of waiting weighs `latencyGB` (the exchange rate of the score: GB-s of slot time
 * per second of scheduling latency). It covers what a single keep-alive window cannot: a
 * function whose gaps are bimodal (requests in clusters a second apart, a timer's tick after a
 * burst) keeps its instance through the short gaps and releases it for the long ones, then
 * pre-warms for the next cluster.
 */

export interface IdlePlan {
  /** Keep the idle instance until this long after the last arrival (ms; 0 releases it at once). */
  readonly keepMs: number;
  /** Pre-warm this long after the last arrival (Infinity: no pre-warm). */
  readonly prewarmAtMs: number;
  /** A pre-warmed instance not used by this time after the last arrival is released. */
  readonly holdMs: number;
  /** Expected cost per idle period, GB-ms (lower is better). */
  readonly cost: number;
}

/** A pre-warm is planned to be ready this much before the gap it is for (fraction of the cold start, plus a constant). */
export const PREWARM_MARGIN_FRACTION = 0.1;
export const PREWARM_MARGIN_MS = 20;
/** Slack past the longest gap a plan catches, so a little jitter does not waste the pre-warm. */
export const PREWARM_HOLD_SLACK = 0.1;
/** Gaps a pre-warm must catch (in the sample) before it is planned at all: one lucky gap is noise. */
export const MIN_PREWARM_HITS = 3;

export function prewarmMarginMs(coldMs: number): number {
  return coldMs * PREWARM_MARGIN_FRACTION + PREWARM_MARGIN_MS;
}

/**
 * Scratch prefix sums (plans are computed one at a time on one thread). Sized for the largest
 * sample a caller passes.
 */
let prefix = new Float64Array(65);

/** Number of sorted gaps <= x. */
function countUpTo(gaps: Float64Array, x: number): number {
  let lo = 0;
  let hi = gaps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (gaps[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Expected cost of a plain keep-alive of `keepMs` over the sorted gaps, GB-ms per idle period:
 * a gap within the window costs its idle time; a longer one the window plus a cold start.
 */
export function keepCost(gaps: Float64Array, keepMs: number, prices: IdlePrices): number {
  const n = gaps.length;
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += gapKeepCost(gaps[i]!, keepMs, prices);
  return sum / n;
}

/** Idle slot time of an instance kept until `t` after the last arrival (it was busy for the first `releaseLagMs`). */
function keptMs(t: number, p: IdlePrices): number {
  return t > p.releaseLagMs ? t - p.releaseLagMs : 0;
}

/** What one idle gap of `g` ms costs under a plain keep-alive until `keepMs` after the last arrival, GB-ms. */
export function gapKeepCost(g: number, keepMs: number, p: IdlePrices): number {
  return g <= keepMs ? keptMs(g, p) * p.memGB : keptMs(keepMs, p) * p.memGB + missCost(p);
}

/** What one idle gap of `g` ms costs under `plan`, GB-ms (the same terms {@link bestIdlePlan} sums). */
export function gapPlanCost(g: number, plan: IdlePlan, p: IdlePrices): number {
  const w = plan.keepMs;
  if (g <= w) return keptMs(g, p) * p.memGB;
  const kept = keptMs(w, p) * p.memGB;
  const at = plan.prewarmAtMs;
  if (!(g > at)) return kept + missCost(p);
  const ready = at + p.coldMs;
  if (g <= ready) return kept + p.coldMs * p.memGB + (ready - g) * p.latencyGB * p.waitWeight;
  if (g <= plan.holdMs) return kept + (g - at) * p.memGB;
  return kept + (plan.holdMs - at) * p.memGB + missCost(p);
}

/** The exchange rates an idle plan is priced with. */
export interface IdlePrices {
  /** Create + init, ms. */
  readonly coldMs: number;
  /** GB-ms of slot time a millisecond of one request's waiting is worth (the score's exchange rate). */
  readonly latencyGB: number;
  /** The instance's memory, GB. */
  readonly memGB: number;
  /**
   * Requests that wait when the function has no ready instance, per request that found none:
   * 1 plus half the requests that arrive during a cold start from nothing (they queue behind it).
   */
  readonly waitWeight: number;
  /** Typical time from the last arrival to going idle (its execution): the kept instance idles only after it. */
  readonly releaseLagMs: number;
}

/** A request that finds no instance: the cold start's slot time plus its waiting, and that of the requests behind it. */
export function missCost(p: IdlePrices): number {
  return p.coldMs * (p.latencyGB * p.waitWeight + p.memGB);
}

/** A plain keep-alive covering a sample gap keeps this much longer: the next short gap may be a little longer than any seen. */
export const KEEP_SLACK = 0.25;

let keepBase = new Float64Array(65);
let keepAt = new Float64Array(65);

/**
 * The plan of least expected cost over `gaps` (ascending). `coldMs`: create + init; `latencyGB`:
 * GB-ms of slot time a millisecond of waiting is worth; `memGB`: the instance's memory.
 *
 * The cost separates: keep w, pre-warm at `at`, hold until H costs K(w) + J(at, H) with w <= at,
 * where K holds every term in w and J every term in (at, H); so the best w for each `at` is a
 * prefix minimum and the search is O(n^2 log n), not O(n^3).
 */
export function bestIdlePlan(
  gaps: Float64Array,
  prices: IdlePrices,
  /** Only plans that keep exactly this long (the instance is already gone: its keep is spent). */
  fixedKeepMs?: number,
): IdlePlan | null {
  const { coldMs, memGB, releaseLagMs: lag } = prices;
  const latencyGB = prices.latencyGB * prices.waitWeight;
  const n = gaps.length;
  if (n === 0) return null;
  if (prefix.length < n + 1) {
    prefix = new Float64Array(n + 1);
    keepBase = new Float64Array(n + 1);
    keepAt = new Float64Array(n + 1);
  }
  const pre = prefix;
  pre[0] = 0;
  for (let i = 0; i < n; i++) pre[i + 1] = pre[i]! + gaps[i]!;
  const cold = missCost(prices);
  const margin = prewarmMarginMs(coldMs);
  // K(w) = memGB * sum((g - lag)+, g <= w) + (w - lag)+ * memGB * #(g > w) - cold * #(g <= w),
  // at w = 0 and just past each gap; a plain keep w costs K(w) + cold * n. (A gap may be shorter
  // than the typical lag: that instance never idled.)
  const il = countUpTo(gaps, lag);
  let nk = 0;
  const addKeep = (w: number): void => {
    const iw = countUpTo(gaps, w);
    keepAt[nk] = w;
    keepBase[nk++] = w > lag ? memGB * (pre[iw]! - pre[il]! - lag * (iw - il)) + (w - lag) * memGB * (n - iw) - cold * iw : -cold * iw;
  };
  if (fixedKeepMs !== undefined) addKeep(fixedKeepMs);
  else {
    addKeep(0);
    for (let i = 0; i < n; i++) if (gaps[i]! > 0 && (i === 0 || gaps[i] !== gaps[i - 1])) addKeep(gaps[i]! * (1 + KEEP_SLACK));
  }
  let best: IdlePlan | null = null;
  for (let i = 0; i < nk; i++) {
    const cost = (keepBase[i]! + cold * n) / n;
    if (best === null || cost < best.cost) best = { keepMs: keepAt[i]!, prewarmAtMs: Infinity, holdMs: keepAt[i]!, cost };
  }
  // Keep candidates are ascending in w: walk them alongside ascending pre-warm times.
  let wi = -1;
  let bestK = Infinity;
  let bestKw = 0;
  for (let j = 0; j < n; j++) {
    if (j > 0 && gaps[j] === gaps[j - 1]) continue;
    const ready = gaps[j]! - margin;
    const at = ready - coldMs;
    while (wi + 1 < nk && keepAt[wi + 1]! <= at) {
      wi++;
      if (keepBase[wi]! < bestK) {
        bestK = keepBase[wi]!;
        bestKw = keepAt[wi]!;
      }
    }
    if (bestK === Infinity) continue;
    const ip = countUpTo(gaps, at);
    const ir = countUpTo(gaps, ready);
    // J(at, H): a cold start for gaps in (w, at] (with K's -cold * #(g <= w), cold * #(g <= at));
    // gaps in (at, ready] wait for the pre-warm; (ready, H] are caught; beyond H, wasted.
    const base = cold * ip + (ir - ip) * (coldMs * memGB + ready * latencyGB) - latencyGB * (pre[ir]! - pre[ip]!);
    for (let k = ir; k < n; k++) {
      if (k > ir && gaps[k] === gaps[k - 1]) continue;
      const hold = gaps[k]! * (1 + PREWARM_HOLD_SLACK);
      const ih = countUpTo(gaps, hold);
      if (ih - ir < MIN_PREWARM_HITS) continue;
      const j2 = base - (ih - ir) * at * memGB + memGB * (pre[ih]! - pre[ir]!) + (n - ih) * ((hold - at) * memGB + cold);
      const cost = (bestK + j2) / n;
      if (cost < best!.cost) best = { keepMs: bestKw, prewarmAtMs: at, holdMs: hold, cost };
    }
  }
  return best;
}
