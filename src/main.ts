#!/usr/bin/env node
import { ConfigError, helpText, parseConfig } from './config.js';
import { describePolicies, policySpecProblem } from './core/policies/policy-registry.js';
import { createLogger } from './logger.js';
import { ScalerServer, SHUTDOWN_GRACE_MS } from './server/scaler-server.js';
import { DEFAULT_CLOSE_TIMEOUT_MS } from './sharding/index.js';
import { endQuietlyOnClosedOutput } from './closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

/**
 * After SIGTERM/SIGINT the process exits within this long, whatever is still pending: above the
 * sum of close()'s own budgets (5 s gRPC grace + 5 s router close), so it only fires when one of
 * those steps hangs.
 */
export const SHUTDOWN_HARD_LIMIT_MS = SHUTDOWN_GRACE_MS + DEFAULT_CLOSE_TIMEOUT_MS + 2_000;

async function main(): Promise<number> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`scaler: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (config === null) {
    process.stdout.write(`${helpText()}\n\nPolicies:\n${describePolicies()}\n`);
    return 0;
  }
  const policyProblem = policySpecProblem(config.policy);
  if (policyProblem !== null) {
    process.stderr.write(`scaler: ${policyProblem}\n`);
    return 2;
  }
  const log = createLogger(config.logLevel);
  // Listen for signals before starting anything, so a stop during start-up still cleans up.
  let stopRequested: NodeJS.Signals | null = null;
  let wake: (() => void) | null = null;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopRequested !== null) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopRequested = signal;
    log.info({ signal }, 'stopping');
    wake?.();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const server = await ScalerServer.start(config, log);
  if (stopRequested === null) await new Promise<void>((resolve) => (wake = resolve));
  // Every step of close() has its own budget (gRPC grace, router drain and worker shutdown);
  // this is the backstop if one of them does not return (e.g. a handle that never closes).
  const hard = setTimeout(() => {
    log.error({ limitMs: SHUTDOWN_HARD_LIMIT_MS }, 'shutdown did not finish in time; exiting');
    process.exit(1);
  }, SHUTDOWN_HARD_LIMIT_MS);
  hard.unref();
  await server.close();
  clearTimeout(hard);
  return 0;
}

main().then(
  (code) => {
    // Exit even if a library left a handle open: the container's run.sh waits for us.
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`scaler: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
