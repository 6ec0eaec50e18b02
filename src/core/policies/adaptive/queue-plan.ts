/**
 * Wait or cold-start: given when each busy or starting instance is expected to be free, how
 * many new cold starts the waiting requests are worth. The waiters are served first come first
 * served by whichever instance frees first (each then busy for a mean execution); a waiter
 * whose turn would come later than a new instance could be ready gets one when its extra wait
 * is worth more than the new instance's initialising slot time:
 *
 *   (turn - (now + cold)) x latencyGB > cold x memGB
 *
 * Greedy in queue order, so a new instance also takes later waiters' turns earlier. This is the
 * lone waiter behind a short request (wait), the AI request whose busy instance will run for
 * another minute (cold-start if the model loads faster), and the queue that a burst builds
 * (cold-start as many as the queue needs). What the new instance costs after the queue is the
 * keep-alive's concern; what queueing costs the stream is the policy's growth rule.
 */

/** Queue positions simulated one by one; beyond, they drain at the pool's full rate. */
export const MAX_SIMULATED_WAITERS = 64;

let heap = new Float64Array(64);

function push(n: number, v: number): number {
  if (n === heap.length) {
    const bigger = new Float64Array(n * 2);
    bigger.set(heap);
    heap = bigger;
  }
  let i = n;
  heap[i] = v;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (heap[p]! <= v) break;
    heap[i] = heap[p]!;
    i = p;
  }
  heap[i] = v;
  return n + 1;
}

/** Replaces the minimum with `v` (size unchanged). */
function replaceTop(n: number, v: number): void {
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && heap[r]! < heap[l]! ? r : l;
    if (heap[c]! >= v) break;
    heap[i] = heap[c]!;
    i = c;
  }
  heap[i] = v;
}

export interface QueueState {
  /** When each busy or starting instance is expected to be free, ms from now (any order). */
  readonly freeInMs: Float64Array;
  readonly servers: number;
  readonly waiting: number;
  readonly execMs: number;
  readonly coldMs: number;
  readonly latencyGB: number;
  readonly memGB: number;
  /** Requests expected to arrive after the waiters, one every `gapMs` from now. */
  readonly expected: number;
  readonly gapMs: number;
}

/** Cold starts considered at once (a burst's worth; the miss is re-asked as it unfolds). */
export const MAX_NEW_INSTANCES = 64;

/** Costs by number of new instances, for one decision. */
const costs = new Float64Array(MAX_NEW_INSTANCES + 2);
/** The earliest free times, ascending (a sorted array is a min-heap: copied in, no pushes). */
let earliest = new Float64Array(MAX_SIMULATED_WAITERS);

/**
 * Waiting of the stream (the waiters at 0, then `expected` arrivals `gapMs` apart), first come
 * first served on the `m` earliest-free current instances plus `added` new ones free at
 * `coldMs`; also the new ones' idle time up to the stream's last start (their slot time not
 * spent serving). With `total` arrivals no instance later than the `total` earliest can serve.
 */
/** What `simulate` found (module scratch: one decision at a time, nothing allocated). */
let simWaitMs = 0;
let simNewIdleMs = 0;

function simulate(q: QueueState, m: number, total: number, added: number): void {
  if (heap.length < m + added) heap = new Float64Array(2 * (m + added));
  heap.set(earliest.subarray(0, m));
  let n = m;
  // New instances are kept apart, as a count of those not yet used and their busy time.
  let fresh = added;
  let newBusyMs = 0;
  let waitMs = 0;
  let lastStart = 0;
  for (let p = 0; p < total; p++) {
    const at = p < q.waiting ? 0 : (p - q.waiting + 1) * q.gapMs;
    const free = n > 0 ? heap[0]! : Infinity;
    if (fresh > 0 && q.coldMs < free) {
      // A new instance is the first free: it joins the pool once used.
      fresh--;
      const start = q.coldMs > at ? q.coldMs : at;
      waitMs += start - at;
      newBusyMs += q.execMs;
      n = push(n, start + q.execMs);
      lastStart = start;
      continue;
    }
    const start = free > at ? free : at;
    waitMs += start - at;
    replaceTop(n, start + q.execMs);
    lastStart = start;
  }
  const span = Math.max(0, lastStart + q.execMs - q.coldMs);
  simWaitMs = waitMs;
  simNewIdleMs = Math.max(0, added * span - newBusyMs);
}

/**
 * New cold starts worth beginning now: the number of new instances (ready a cold start from
 * now) that minimises the stream's waiting at `latencyGB` plus their slot time (initialising,
 * and idle within the stream) at their memory. The waiters and the arrivals expected behind
 * them count alike: a cold start begun now serves the rest of a burst, not only the waiter at
 * hand; a lone waiter behind a short request waits.
 */
export function coldStartsWorthIt(q: QueueState): number {
  const total = Math.min(MAX_SIMULATED_WAITERS, q.waiting + q.expected);
  if (total === 0) return 0;
  // The `total` earliest free instances, ascending.
  const all = q.freeInMs.subarray(0, q.servers);
  let m = all.length;
  if (earliest.length < m) earliest = new Float64Array(2 * m);
  earliest.set(all);
  const sorted = earliest.subarray(0, m).sort();
  if (m > total) m = total;
  // Every arrival finds an instance free no later than a new one could be: nothing to gain.
  if (q.expected === 0 && q.waiting <= m && sorted[q.waiting - 1]! <= q.coldMs) return 0;
  // The cost (waiting at latencyGB plus the new instances' slot time) is convex in the number
  // of new instances: probe 1, 2, 4, ... while it falls, then bisect for where it turns.
  const limit = Math.min(MAX_NEW_INSTANCES, total);
  costs.fill(NaN, 0, limit + 2);
  const cost = (k: number): number => {
    let c = costs[k]!;
    if (c !== c) {
      simulate(q, m, total, k);
      c = costs[k] = q.latencyGB * simWaitMs + q.memGB * (k * q.coldMs + simNewIdleMs);
    }
    return c;
  };
  if (!(cost(1) < cost(0))) return 0;
  let hi = 1;
  while (hi < limit && cost(Math.min(limit, hi * 2)) < cost(hi)) hi = Math.min(limit, hi * 2);
  if (hi === limit) return limit;
  // The least cost is at some k in [hi, min(limit, 2 hi)): the first where the next costs no less.
  let a = hi;
  let b = Math.min(limit, hi * 2);
  while (a < b) {
    const mid = (a + b) >> 1;
    if (cost(mid + 1) >= cost(mid)) b = mid;
    else a = mid + 1;
  }
  return a;
}

/** Instances past which capacity sizing stops looking. */
export const MAX_SIZED_INSTANCES = 4_096;

/**
 * Instances worth having for a sustained stream of `ratePerMs` arrivals of `execMs` each: the
 * k > rate x exec (a queue that drains) minimising memory (k x memGB) plus waiting (the rate
 * times the Erlang C mean wait with k instances, at `latencyGB`), per ms.
 */
export function sizedCapacity(ratePerMs: number, execMs: number, memGB: number, latencyGB: number): number {
  const a = ratePerMs * execMs;
  if (!(a > 0)) return 0;
  const first = Math.floor(a) + 1;
  // Erlang B by recursion up to `first`, then on while the cost falls.
  let b = 1;
  for (let i = 1; i <= first; i++) b = (a * b) / (i + a * b);
  let bestK = first;
  let bestCost = Infinity;
  for (let k = first; k <= MAX_SIZED_INSTANCES; k++) {
    if (k > first) b = (a * b) / (k + a * b);
    const erlangC = b / (1 - (a / k) * (1 - b));
    const cost = k * memGB + latencyGB * ratePerMs * ((erlangC * execMs) / (k - a));
    if (!(cost < bestCost)) break;
    bestCost = cost;
    bestK = k;
  }
  return bestK;
}
