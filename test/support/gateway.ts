/**
 * Builds a real gateway (the same `buildApp` main.ts uses) for supertest, over a real Redis or
 * the memory store, and small helpers to speak GraphQL to it and look into Redis.
 */
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Cluster, default as Redis } from 'ioredis';
import type { Logger } from 'pino';
import request from 'supertest';
import { buildApp } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { Metrics } from '../../src/metrics';
import { openStore } from '../../src/store/connect';
import { startTracing, type Tracing } from '../../src/tracing';
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
  /** The app's tracing, when its config turns it on (OTEL_EXPORTER_OTLP_ENDPOINT…); null otherwise. */
  readonly tracing: Tracing | null;
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
  const tracing = config.tracing === null ? null : startTracing(config.tracing);
  // The store as main.ts builds it: the one factory, from the same config.
  const store = openStore(config, { onCommand: metrics.observeStoreCommand, ...(tracing === null ? {} : { tracer: tracing.store }) });
  await waitUntil(() => store.ping().then(() => true, () => false));
  const app = await buildApp({ config, store, logger: options.logger ?? createLogger('silent'), metrics, tracing });
  options.beforeReady?.(app);
  await app.ready();
  const http = request(app.server);
  return {
    app,
    store,
    config,
    metrics,
    tracing,
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
 * suite's tests and stopped after them; with `{ perTest: true }`, a fresh pair for every test,
 * so no test depends on what an earlier one left (a stopped Redis, a counter, a reconnect).
 * Read the fields inside tests (they are set by then).
 */
export function gatewayOverRedis(env: Record<string, string> = {}, options: { perTest?: boolean } = {}): RedisGateway {
  const fixture = {} as { server: RedisServer; redis: Redis; gateway: Gateway };
  const setUp = async (): Promise<void> => {
    fixture.server = await startRedis();
    fixture.redis = fixture.server.client();
    fixture.gateway = await startGateway({ redisUrl: fixture.server.url, env });
  };
  const tearDown = async (): Promise<void> => {
    await fixture.gateway.close();
    await fixture.server.destroy();
  };
  if (options.perTest) {
    beforeEach(setUp);
    afterEach(tearDown);
  } else {
    beforeAll(setUp);
    afterAll(tearDown);
  }
  return fixture;
}

/**
 * Two gateway instances on one Redis and one namespace, as a deployment runs them, each
 * listening on a loopback port; resolves to them and their base URLs (`http://127.0.0.1:<port>`).
 */
export async function startGatewayPair(redis: string | Record<string, string>): Promise<{ a: Gateway; b: Gateway; baseA: string; baseB: string }> {
  // A single node's URL, or the variables of another topology (REDIS_CLUSTER_NODES, REDIS_SENTINELS…).
  const env = { SESSION_NAMESPACE: uniqueNamespace(), ...(typeof redis === 'string' ? {} : redis) };
  const redisUrl = typeof redis === 'string' ? redis : undefined;
  const a = await startGateway({ ...(redisUrl === undefined ? {} : { redisUrl }), env });
  const b = await startGateway({ ...(redisUrl === undefined ? {} : { redisUrl }), env });
  const listen = (gateway: Gateway): Promise<string> => gateway.app.listen({ port: 0, host: '127.0.0.1' });
  return { a, b, baseA: await listen(a), baseB: await listen(b) };
}

/** How many of `ids` the gateway no longer finds (sessions(ids:), 100 at a time, as a service). */
export async function missingSessions(gateway: Gateway, ids: readonly string[]): Promise<number> {
  let lost = 0;
  for (let start = 0; start < ids.length; start += 100) {
    const response = await gateway.gql('query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: ids.slice(start, start + 100) }, SERVICE);
    if (response.body.errors !== undefined) throw new Error(`reading back failed: ${JSON.stringify(response.body.errors)}`);
    lost += (response.body.data?.sessions as Array<unknown>).filter((session) => session === null).length;
  }
  return lost;
}

/** Polls an async condition (no fixed sleeps); fails after `timeoutMs`. */
export async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Under this key a snapshot also holds each key's exact bytes and expiry (`PEXPIRETIME`). */
export const STORED = Symbol('stored bytes and PEXPIRETIME');

/**
 * Every key of a namespace and its value: what "Redis is unchanged" is checked against. Besides
 * the values (as text, one per key), the snapshot holds under `STORED` each key's exact bytes
 * (base64) and absolute expiry in ms (`PEXPIRETIME`, -1 for none): `toEqual` compares those too,
 * so a write that only slides an expiry, or changes bytes that decode to the same text, shows.
 */
export async function snapshot(redis: Redis, namespace: string): Promise<Record<string, string | null> & { readonly [STORED]: Record<string, { bytes: string | null; pexpiretime: number }> }> {
  const keys = await redis.keys(`${namespace}:*`);
  keys.sort();
  const transaction = redis.multi();
  // A session is a string (its text, as is); an index is a sorted set (its members and scores).
  for (const key of keys) transaction.type(key).getBuffer(key).zrange(key, 0, -1, 'WITHSCORES').pexpiretime(key);
  const replies = ((await transaction.exec()) ?? []).map(([error, value]) => {
    // GET of a sorted set and ZRANGE of a string are WRONGTYPE: the one that fits the key's type is read below.
    if (error !== null && !/^WRONGTYPE/.test(error.message)) throw error;
    return error === null ? value : null;
  });
  const out: Record<string, string | null> = {};
  const stored: Record<string, { bytes: string | null; pexpiretime: number }> = {};
  keys.forEach((key, index) => {
    const [type, value, members, expiry] = replies.slice(4 * index, 4 * index + 4) as [string, Buffer | null, string[] | null, number];
    const bytes = type === 'zset' ? Buffer.from(JSON.stringify(members)) : value;
    out[key] = bytes === null ? null : bytes.toString('utf8');
    stored[key] = { bytes: bytes === null ? null : bytes.toString('base64'), pexpiretime: Number(expiry) };
  });
  // Enumerable, so jest's toEqual compares it; a symbol, so Object.keys() still counts keys only.
  Object.defineProperty(out, STORED, { value: stored, enumerable: true });
  return out as Record<string, string | null> & { readonly [STORED]: typeof stored };
}

/**
 * The commands one Redis connection (e.g. a store's `client`) sent while `action` ran, each as
 * `[name in lower case, ...args]`, read from MONITOR. Not "until the first one shows": after the
 * action, a sentinel `ECHO` goes out on that same connection, and the commands are those before
 * it, so one the action caused but sent late is there too. The sentinel itself is left out.
 *
 * MONITOR is read on a plain socket, not an ioredis client: ioredis enters monitor mode only once
 * it has parsed MONITOR's `+OK`, and a line that arrives in the same read as the `+OK` (likelier
 * the busier the server: every store's observer sends INFO each second) was taken for the reply
 * to no command ("Command queue state error"), failing the test and leaving its connection open.
 */
export async function commandsOf(server: RedisServer, client: Redis | Cluster, action: () => Promise<unknown>): Promise<string[][]> {
  if (client.isCluster) throw new Error('commandsOf watches one node: give it a single-node connection');
  const connection = client as Redis;
  const address = /\baddr=(\S+)/.exec(String(await connection.client('INFO')))?.[1];
  if (address === undefined) throw new Error('CLIENT INFO named no address');
  const sentinel = `sentinel-${randomUUID()}`;
  const seen: string[][] = [];
  const monitor = await monitorSocket(server.port, (source, command) => {
    if (source === address) seen.push(command);
  });
  try {
    await action();
    await connection.echo(sentinel);
    await waitUntil(async () => seen.some((command) => command[0] === 'echo' && command[1] === sentinel));
  } finally {
    monitor.destroy();
  }
  return seen.slice(0, seen.findIndex((command) => command[0] === 'echo' && command[1] === sentinel));
}

/** A socket in MONITOR mode on a redis-server at `port`; resolves once Redis answered `+OK`. */
function monitorSocket(port: number, onCommand: (source: string, command: string[]) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffered = '';
    let monitoring = false;
    socket.setEncoding('latin1');
    socket.on('error', (error) => (monitoring ? undefined : reject(error)));
    socket.on('connect', () => socket.write('MONITOR\r\n'));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (!monitoring) {
          if (line !== '+OK') return reject(new Error(`MONITOR answered ${line}`));
          monitoring = true;
          resolve(socket);
          continue;
        }
        // +<time> [<db> <source>] "<command>" "<arg>"…
        const header = /^\+\d+\.\d+ \[\d+ (\S+)\] /.exec(line);
        if (header === null) continue;
        const words = [...line.slice(header[0].length).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => unquote(match[1] as string));
        if (words.length > 0) onCommand(header[1] as string, [(words[0] as string).toLowerCase(), ...words.slice(1)]);
      }
    });
  });
}

/** A MONITOR argument's text: Redis quotes it with \\ \" \n \r \t \a \b and \xHH escapes. */
function unquote(quoted: string): string {
  const named: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '"': '"', '\\': '\\' };
  return Buffer.from(
    quoted.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, escape: string) => (escape.length === 3 ? String.fromCharCode(parseInt(escape.slice(1), 16)) : (named[escape] ?? escape))),
    'latin1',
  ).toString('utf8');
}

/**
 * The HTTP status a GraphQL response over POST has as `gql` sends it (`Content-Type:
 * application/json`, no Accept, so JSON is answered): 200 for every well-formed request,
 * whatever its errors say (GraphQL over HTTP, application/json). The one place the tests may
 * state that policy; tests assert `extensions.code` exactly, everywhere.
 */
export function graphqlStatusOf(_code: string | undefined): number {
  return 200;
}

export function errorCode(response: GraphQLResponse): string | undefined {
  return response.body.errors?.[0]?.extensions?.code;
}

export const SESSION_FIELDS = 'id principal attributes createdAt lastAccessedAt expiresAt maxInactiveInterval version';
