/**
 * Config → connection → store: the one place a store is built, for `main.ts` and the tests alike.
 *
 * With a Redis configured, the store is handed a connection built here (it never parses a URL
 * or knows the deployment): a single node, a Redis Cluster, or the primary Sentinel names. Each
 * fails fast: no offline queue and no per-request retries of our own (a client hears
 * STORE_UNAVAILABLE at once instead of waiting on a dead socket), a command timeout, reconnects
 * in the background with a capped backoff. What the deployment itself asks of a client is done:
 *
 * - Cluster: redirects (MOVED, ASK) are followed; TRYAGAIN and CLUSTERDOWN are retried every
 *   100 ms, which the store's per-call deadline (the command timeout) bounds; the slot map is
 *   refreshed when a redirect says it moved.
 * - Sentinel: the primary is asked of the sentinels on every connect, the sentinels' own
 *   failover announcements are followed at once (sentinel-connector.ts), and a READONLY reply
 *   (we are talking to a primary that was demoted) drops the connection so the next command
 *   reaches the new one.
 *
 * Without a Redis, the embedded store.
 */
import type { ConnectionOptions } from 'node:tls';
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Config, RedisConfig } from '../config';
import { MemorySessionStore } from './memory';
import { RedisSessionStore, type RedisConnection } from './redis';
import type { OpenNode } from './replica-acks';
import { FailoverFollowingSentinelConnector } from './sentinel-connector';
import type { CommandObserver, CommandTracer, GatewayStore } from './store';

export interface StoreParts {
  readonly logger?: { warn(details: object | string, message?: string): void };
  /** Times every store command (metrics). */
  readonly onCommand?: CommandObserver;
  /** Traces every store call (tracing.ts), when tracing is on. */
  readonly tracer?: CommandTracer;
}

type StoreConfig = Pick<Config, 'redis' | 'sessionNamespace' | 'maxAttributeBytes' | 'redisCommandTimeoutMs'> & Partial<Pick<Config, 'cacheLeaseMs'>>;

const MAX_RECONNECT_DELAY_MS = 1000;

/** Every reconnect, to a node, a sentinel or a Cluster: 100 ms more each attempt, at most a second. */
const reconnectDelay = (attempt: number): number => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS);

/**
 * A demoted primary answers writes with READONLY: reconnect (with Sentinel, asking the sentinels
 * anew), and fail this command as not applied (1: reconnect without resending it).
 */
const leaveDemotedPrimary = (error: Error): 1 | false => (/^READONLY\b/.test(error.message) ? 1 : false);
const CLUSTER_RETRY_DELAY_MS = 100;

export const EMBEDDED_STORE_WARNING =
  'REDIS_URL is not set (nor REDIS_CLUSTER_NODES, nor REDIS_SENTINELS): sessions are kept in this process only. ' +
  'They are NOT durable (lost on restart) and NOT shared with other gateway instances. Configure a Redis for anything but development.';

export function openStore(config: StoreConfig, parts: StoreParts = {}): GatewayStore {
  if (config.redis === undefined) {
    parts.logger?.warn(EMBEDDED_STORE_WARNING);
    return new MemorySessionStore({ maxAttributeBytes: config.maxAttributeBytes });
  }
  return new RedisSessionStore(redisConnection(config.redis, config.redisCommandTimeoutMs), {
    namespace: config.sessionNamespace,
    maxAttributeBytes: config.maxAttributeBytes,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    ackReplicas: config.redis.ackReplicas,
    ...(config.cacheLeaseMs === undefined ? {} : { cacheLeaseMs: config.cacheLeaseMs }),
    openNode: nodeOpener(config.redis, config.redisCommandTimeoutMs),
    ...(parts.logger === undefined ? {} : { logger: parts.logger }),
    ...(parts.onCommand === undefined ? {} : { onCommand: parts.onCommand }),
    ...(parts.tracer === undefined ? {} : { tracer: parts.tracer }),
  });
}

/** A single node's Redis settings, for a URL alone (tests, tools). */
export function singleNode(url: string): RedisConfig {
  return { topology: { kind: 'single', url }, username: undefined, password: undefined, sentinelPassword: undefined, tls: false, sentinelTls: false, ackReplicas: 0 };
}

/** What every connection to a Redis node shares: fail fast, reconnect in the background. */
function nodeOptions(redis: RedisConfig, commandTimeoutMs: number): RedisOptions {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    retryStrategy: reconnectDelay,
  };
  if (redis.username !== undefined) options.username = redis.username;
  if (redis.password !== undefined) options.password = redis.password;
  if (redis.tls) options.tls = {} satisfies ConnectionOptions;
  return options;
}

/**
 * Connections to one node of the deployment by its address, with its credentials and TLS: the
 * store's acknowledged writes observe each primary's replicas and probe a replica that did not
 * confirm (replica-acks.ts). A single node's credentials and TLS come from its URL.
 */
export function nodeOpener(redis: RedisConfig, commandTimeoutMs: number): OpenNode {
  const { username, password, tls } = nodeOptions(redis, commandTimeoutMs);
  const credentials: RedisOptions = { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }), ...(tls === undefined ? {} : { tls }) };
  if (redis.topology.kind === 'single') {
    const url = new URL(redis.topology.url);
    if (url.username !== '') credentials.username = decodeURIComponent(url.username);
    if (url.password !== '') credentials.password = decodeURIComponent(url.password);
    if (url.protocol === 'rediss:') credentials.tls = {} satisfies ConnectionOptions;
  }
  return ({ host, port }, { connectTimeoutMs, reconnect }) =>
    new Redis({
      ...credentials,
      host,
      port,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: connectTimeoutMs,
      commandTimeout: reconnect ? commandTimeoutMs : connectTimeoutMs,
      // A lasting connection reconnects as every other; a probe makes one attempt, when asked.
      retryStrategy: reconnect ? reconnectDelay : () => null,
      lazyConnect: !reconnect,
      enableReadyCheck: reconnect,
      // A probe of a dead node must not leave ioredis's 2 s close timer behind.
      disconnectTimeout: 50,
    });
}

/** The connection for a configured Redis, by its topology. */
export function redisConnection(redis: RedisConfig, commandTimeoutMs: number): RedisConnection {
  const options = nodeOptions(redis, commandTimeoutMs);
  const topology = redis.topology;
  switch (topology.kind) {
    case 'single':
      return new Redis(topology.url, options);
    case 'sentinel':
      return new Redis({
        ...options,
        sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
        name: topology.primaryName,
        role: 'master',
        ...(redis.sentinelPassword === undefined ? {} : { sentinelPassword: redis.sentinelPassword }),
        // TLS to the primary (REDIS_TLS) and to the sentinels (REDIS_SENTINEL_TLS) are separate:
        // in Sentinel mode ioredis uses `tls` for the primary only with enableTLSForSentinelMode,
        // and `sentinelTLS` for the sentinels whatever that flag says.
        ...(redis.tls ? { enableTLSForSentinelMode: true } : {}),
        ...(redis.sentinelTls ? { sentinelTLS: {} } : {}),
        // Follow the sentinels' +switch-master at once rather than on the next error, without
        // ioredis's own detector, which can end the connection for good (sentinel-connector.ts).
        Connector: FailoverFollowingSentinelConnector,
        sentinelRetryStrategy: reconnectDelay,
        // The failover watch's own connections to the sentinels.
        sentinelReconnectStrategy: reconnectDelay,
        reconnectOnError: leaveDemotedPrimary,
      });
    case 'cluster': {
      const { enableOfflineQueue: _queue, retryStrategy: _retry, ...perNode } = options;
      const clusterOptions: ClusterOptions = {
        enableOfflineQueue: false,
        // Not on a Cluster: ioredis's auto-pipelines handle MOVED per pipeline, and during a
        // failover a command whose slot moved fails with the redirect instead of following it
        // (redis/ioredis#2075, seen here in the failover tests). The batch read pipelines per
        // node itself (store/redis.ts).
        enableAutoPipelining: false,
        // Every read and write goes to the primary of the key's slot: replicas lag.
        scaleReads: 'master',
        // Enough retries to ride out a failover for as long as the deadline allows (ioredis's
        // default 16 gives up after 1.6 s, before a replica is elected); the store's per-call
        // deadline ends the call first.
        maxRedirections: 16 + Math.ceil(commandTimeoutMs / CLUSTER_RETRY_DELAY_MS),
        retryDelayOnMoved: 0,
        retryDelayOnFailover: CLUSTER_RETRY_DELAY_MS,
        retryDelayOnTryAgain: CLUSTER_RETRY_DELAY_MS,
        retryDelayOnClusterDown: CLUSTER_RETRY_DELAY_MS,
        slotsRefreshTimeout: Math.max(commandTimeoutMs, 1000),
        // A connection that only reads may see no redirect after a failover; refresh the slot
        // map anyway, so batch reads (pipelined per node as it says) find the new primaries.
        slotsRefreshInterval: 5000,
        clusterRetryStrategy: reconnectDelay,
        redisOptions: {
          ...perNode,
          enableAutoPipelining: false,
          reconnectOnError: leaveDemotedPrimary,
        },
      };
      return new Cluster(
        topology.nodes.map(({ host, port }) => ({ host, port })),
        clusterOptions,
      );
    }
  }
}
