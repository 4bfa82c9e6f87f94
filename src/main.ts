/**
 * Process entry: read the config, open the store, serve, and drain on SIGTERM/SIGINT.
 *
 * Drain: stop accepting connections, let in-flight requests finish (each response then closes
 * its connection), close the store, exit 0. If that takes longer than SHUTDOWN_TIMEOUT_MS, the
 * remaining connections are cut and the process exits 1, so an orchestrator never waits on a
 * stuck client or a stuck Redis.
 */
import { buildApp } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './logger';
import { Metrics } from './metrics';
import { openStore } from './store/connect';
import type { SessionStore } from './store/store';
import type { Tracing } from './tracing';

/** How long start-up waits for the store before serving anyway (with STORE_UNAVAILABLE). */
const STARTUP_WAIT_MS = 5000;

async function answersWithin(store: SessionStore, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await store.ping();
      return true;
    } catch {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`session-gateway: configuration error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const metrics = new Metrics();
  // Loaded only when tracing is configured: without an endpoint not even the SDK's modules load.
  const tracing: Tracing | null = config.tracing === null ? null : (require('./tracing') as typeof import('./tracing')).startTracing(config.tracing);
  const store = openStore(config, { logger, onCommand: metrics.observeStoreCommand, ...(tracing === null ? {} : { tracer: tracing.store }) });
  if (!(await answersWithin(store, STARTUP_WAIT_MS))) {
    logger.error('the session store does not answer yet; serving STORE_UNAVAILABLE until it does');
  }
  const app = await buildApp({ config, store, logger, metrics, tracing });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'draining');
    setTimeout(() => {
      logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'drain timed out; closing the remaining connections');
      app.server.closeAllConnections();
      process.exit(1);
    }, config.shutdownTimeoutMs);
    try {
      await app.close();
      await store.close();
      logger.info('drained');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error while draining');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
  logger.info({ store: store.kind, port: config.port, host: config.host }, 'session gateway listening');
}

void main().catch((error: unknown) => {
  process.stderr.write(`session-gateway: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
