import { createServer, type Server } from 'node:http';
import type { ScalerMetrics } from './scaler-metrics.js';
import { performance } from 'node:perf_hooks';
import type { ScalerRouter } from './scaler-service.js';
import type { SlotJournal } from './slot-journal.js';

/** The slot journal as `/stats` shows it (recovery counts are in the counters). */
export interface JournalStatus {
  readonly dir: string | null;
  readonly enabled: boolean;
  readonly errors: Array<{ code: string; file: string; offset: number; message: string }>;
  readonly setAside: readonly string[];
  readonly redistributedFrom: number | null;
}

export interface StatsEndpointOptions {
  host: string;
  port: number;
  router: ScalerRouter;
  journal: SlotJournal;
  policy: string;
  /** Serves `GET /metrics` (Prometheus text format) when given. */
  metrics?: ScalerMetrics;
  journalStatus?: JournalStatus;
}

function mainEventLoop(): { idle: number; active: number } {
  const u = performance.eventLoopUtilization();
  return { idle: u.idle, active: u.active };
}

/**
 * `GET /` (or `/stats`): the shared counters per shard and in total, read straight from the
 * SharedArrayBuffer: no message to any shard. `GET /slots`: the journal's live slot ids.
 * `GET /metrics`: the same counters and more in the Prometheus text format (scaler-metrics.ts).
 */
export function startStatsEndpoint(opts: StatsEndpointOptions): Promise<Server> {
  const started = Date.now();
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/slots') {
      // Slot ids main's journal holds (live per the shards' events): for leak checks.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ slots: opts.journal.allSlotIds() }));
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method === 'GET' && path === '/metrics' && opts.metrics !== undefined) {
      opts.metrics.render().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
      return;
    }
    if (req.method !== 'GET' || (path !== '/' && path !== '/stats')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found; try GET /stats, /slots or /metrics"}');
      return;
    }
    const snap = opts.router.counters.snapshot();
    const body = JSON.stringify({
      policy: opts.policy,
      shards: opts.router.shards,
      uptimeSecs: (Date.now() - started) / 1000,
      journaledSlots: opts.journal.total,
      journal: opts.journalStatus ?? null,
      totals: snap.totals,
      perShard: snap.perShard,
      // Cumulative event-loop idle/active ms of the main thread and each shard worker: two
      // readings tell how busy each thread was in between (benchmarks use it to name the limit).
      eventLoop: {
        main: mainEventLoop(),
        shards: Array.from({ length: opts.router.shards }, (_, i) => opts.router.eventLoopUtilization(i)),
      },
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
