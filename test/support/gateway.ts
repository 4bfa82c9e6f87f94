/**
 * Builds a real gateway (the same `buildApp` main.ts uses) for supertest, over a real Redis or
 * the memory store, and small helpers to speak GraphQL to it and look into Redis.
 */
import type { FastifyInstance } from 'fastify';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import request from 'supertest';
import { buildApp } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { Metrics } from '../../src/metrics';
import { MemorySessionStore } from '../../src/store/memory';
import { RedisSessionStore } from '../../src/store/redis';
import { startRedis, type RedisServer } from './redis-server';
import type { SessionStore } from '../../src/store/store';

export const SERVICE_TOKEN = 'test-service-token-0123456789';
export const SERVICE = { Authorization: `Bearer ${SERVICE_TOKEN}` };

let namespaceCounter = 0;
/** A namespace no other test uses, so tests clean up and look into Redis by prefix. */
export function uniqueNamespace(): string {
  namespaceCounter += 1;
  return `t${process.pid}n${namespaceCounter}`;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly store: SessionStore;
  readonly config: Config;
  readonly metrics: Metrics;
  readonly http: ReturnType<typeof request>;
  gql(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse>;
  close(): Promise<void>;
}

export interface GraphQLResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

export interface GatewayOptions {
  redisUrl?: string;
  env?: Record<string, string>;
  logger?: Logger;
  /** Runs on the built app before it is made ready: a test may add a hook to watch Fastify. */
  beforeReady?: (app: FastifyInstance) => void;
}

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const config = loadConfig({
    SERVICE_TOKENS: SERVICE_TOKEN,
    SESSION_NAMESPACE: uniqueNamespace(),
    LOG_LEVEL: 'silent',
    ...(options.redisUrl === undefined ? {} : { REDIS_URL: options.redisUrl }),
    ...options.env,
  });
  const metrics = new Metrics();
  const store: SessionStore =
    config.redisUrl === undefined
      ? new MemorySessionStore({ maxAttributeBytes: config.maxAttributeBytes, touchIntervalSeconds: config.touchIntervalSeconds })
      : new RedisSessionStore({
          url: config.redisUrl,
          namespace: config.sessionNamespace,
          maxAttributeBytes: config.maxAttributeBytes,
          touchIntervalSeconds: config.touchIntervalSeconds,
          commandTimeoutMs: config.redisCommandTimeoutMs,
          onCommand: metrics.observeStoreCommand,
        });
  await waitUntil(() => store.ping().then(() => true, () => false));
  const app = await buildApp({ config, store, logger: options.logger ?? createLogger('silent'), metrics });
  options.beforeReady?.(app);
  await app.ready();
  const http = request(app.server);
  return {
    app,
    store,
    config,
    metrics,
    http,
    async gql(query, variables, headers = {}) {
      const response = await request(app.server).post('/graphql').set(headers).send({ query, variables });
      return { status: response.status, headers: response.headers as Record<string, string>, body: response.body };
    },
    async close() {
      await app.close();
      await store.close();
    },
  };
}

export interface RedisGateway {
  readonly server: RedisServer;
  /** A plain client of the same Redis, for looking into it. */
  readonly redis: Redis;
  readonly gateway: Gateway;
}

/**
 * A suite's fixture: a redis-server of its own and one gateway over it, started before the
 * suite's tests and stopped after them. Read the fields inside tests (they are set by then).
 */
export function gatewayOverRedis(env: Record<string, string> = {}): RedisGateway {
  const fixture = {} as { server: RedisServer; redis: Redis; gateway: Gateway };
  beforeAll(async () => {
    fixture.server = await startRedis();
    fixture.redis = fixture.server.client();
    fixture.gateway = await startGateway({ redisUrl: fixture.server.url, env });
  });
  afterAll(async () => {
    await fixture.gateway.close();
    await fixture.server.destroy();
  });
  return fixture;
}

/**
 * Two gateway instances on one Redis and one namespace, as a deployment runs them, each
 * listening on a loopback port; resolves to them and their base URLs (`http://127.0.0.1:<port>`).
 */
export async function startGatewayPair(redisUrl: string): Promise<{ a: Gateway; b: Gateway; baseA: string; baseB: string }> {
  const env = { SESSION_NAMESPACE: uniqueNamespace() };
  const a = await startGateway({ redisUrl, env });
  const b = await startGateway({ redisUrl, env });
  const listen = (gateway: Gateway): Promise<string> => gateway.app.listen({ port: 0, host: '127.0.0.1' });
  return { a, b, baseA: await listen(a), baseB: await listen(b) };
}

/** Polls an async condition (no fixed sleeps); fails after `timeoutMs`. */
export async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every key of a namespace and its value: what "Redis is unchanged" is checked against. */
export async function snapshot(redis: Redis, namespace: string): Promise<Record<string, string | null>> {
  const keys = await redis.keys(`${namespace}:*`);
  keys.sort();
  const out: Record<string, string | null> = {};
  for (const key of keys) out[key] = await redis.get(key);
  return out;
}

export function errorCode(response: GraphQLResponse): string | undefined {
  return response.body.errors?.[0]?.extensions?.code;
}

export const SESSION_FIELDS = 'id principal attributes createdAt lastAccessedAt expiresAt maxInactiveInterval version';
