import { createServer, type Server } from 'node:http';
import type { ScalerRouter } from './scaler-service.js';
import type { SlotJournal } from './slot-journal.js';

export interface StatsEndpointOptions {
  host: string;
  port: number;
  router: ScalerRouter;
  journal: SlotJournal;
  policy: string;
}

/**
 * `GET /` (or `/stats`): the shared counters per shard and in total, read straight from the
 * SharedArrayBuffer: no message to any shard. `GET /slots`: the journal's live slot ids.
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
    if (req.method !== 'GET' || (path !== '/' && path !== '/stats')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found; try GET /stats or /slots"}');
      return;
    }
    const snap = opts.router.counters.snapshot();
    const body = JSON.stringify({
      policy: opts.policy,
      shards: opts.router.shards,
      uptimeSecs: (Date.now() - started) / 1000,
      journaledSlots: opts.journal.total,
      totals: snap.totals,
      perShard: snap.perShard,
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
