/**
 * The no-op Scaler: answers Assign with Ok and a fixed instance id, Idle with Ok, nothing else.
 * Run it next to the real scaler to measure the gRPC stack's ceiling on this machine.
 *
 *   node dist/scripts/noop-scaler.js --port 9101
 */
import { parseArgs } from 'node:util';
import { startNoopScaler } from '../src/load/noop-scaler-server.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

const USAGE = `usage: noop-scaler [--port P] [--host H] [--instance-id ID]
  --port P          port to listen on (default 9101; 0 = ephemeral, printed on start)
  --host H          address to bind (default 0.0.0.0)
  --instance-id ID  instance id every Assign returns (default noop-instance)
  --stats-port P    also serve GET /stats (calls, event-loop use) on 127.0.0.1:P`;

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9101' },
    host: { type: 'string', default: '0.0.0.0' },
    'instance-id': { type: 'string' },
    'stats-port': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port ${values.port}\n${USAGE}`);
  process.exit(2);
}

const server = await startNoopScaler({
  port,
  host: values.host,
  ...(values['instance-id'] !== undefined ? { instanceId: values['instance-id'] } : {}),
  ...(values['stats-port'] !== undefined ? { statsPort: Number(values['stats-port']) } : {}),
});
console.log(`noop-scaler listening on ${values.host}:${server.port} (pid ${process.pid})`);
const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
