/**
 * Config → connection → store: the one place a store is built, for `main.ts` and the tests alike.
 *
 * With `REDIS_URL` the store is handed an ioredis connection built here, and never parses a URL
 * itself. The connection fails fast: no offline queue and no per-request retries (a client hears
 * STORE_UNAVAILABLE at once instead of waiting on a dead socket), a command timeout, and
 * reconnects in the background with a capped backoff. Without `REDIS_URL`, the embedded store.
 */
import Redis from 'ioredis';
import type { Config } from '../config';
import { MemorySessionStore } from './memory';
import { RedisSessionStore } from './redis';
import type { CommandObserver, SessionStore } from './store';

export interface StoreParts {
  readonly logger?: { warn(details: object | string, message?: string): void };
  /** Times every store command (metrics). */
  readonly onCommand?: CommandObserver;
}

type StoreConfig = Pick<Config, 'redisUrl' | 'sessionNamespace' | 'maxAttributeBytes' | 'redisCommandTimeoutMs'>;

const MAX_RECONNECT_DELAY_MS = 1000;

export const EMBEDDED_STORE_WARNING =
  'REDIS_URL is not set: sessions are kept in this process only. They are NOT durable (lost on restart) ' +
  'and NOT shared with other gateway instances. Set REDIS_URL for anything but development.';

export function openStore(config: StoreConfig, parts: StoreParts = {}): SessionStore {
  if (config.redisUrl === undefined) {
    parts.logger?.warn(EMBEDDED_STORE_WARNING);
    return new MemorySessionStore({ maxAttributeBytes: config.maxAttributeBytes });
  }
  return new RedisSessionStore(redisConnection(config.redisUrl, config.redisCommandTimeoutMs), {
    namespace: config.sessionNamespace,
    maxAttributeBytes: config.maxAttributeBytes,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    ...(parts.logger === undefined ? {} : { logger: parts.logger }),
    ...(parts.onCommand === undefined ? {} : { onCommand: parts.onCommand }),
  });
}

/** A single-node connection with the fail-fast settings above. */
export function redisConnection(url: string, commandTimeoutMs: number): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  });
}
