/**
 * OpenTelemetry tracing, against an OTLP/HTTP receiver the test runs (support/otlp-receiver.ts)
 * and a real redis-server: the spans each door exports, their names and parent/child links, the
 * trace continued from the caller's `traceparent`, the two GraphQL doors tracing alike, a store
 * outage as an error span, the node of a store call on a Redis Cluster, and, with no endpoint
 * configured, no SDK loaded at all.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestTag, generateSessionId, sessionDigest } from '../src/session/ids';
import { startGateway, SERVICE, waitUntil, type Gateway } from './support/gateway';
import { viaGet, viaPost } from './support/doors';
import { gatewayEnv, spawnGateway } from './support/gateway-process';
import { childOf, shapeOf, startOtlpReceiver, traceOf, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver';
import { freePort } from './support/ports';
import type { Cluster } from 'ioredis';
import type { RedisSessionStore } from '../src/store/redis';
import { startCluster, type RedisCluster } from './support/redis-cluster';
import { startRedis, type RedisServer } from './support/redis-server';

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;
const ERROR = 2;

/** A W3C traceparent the caller sends, and what it names. */
function callerContext(sampled = true): { traceId: string; parentId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-${sampled ? '01' : '00'}` };
}

let receiver: OtlpReceiver;
let redis: RedisServer;
let gateway: Gateway;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  redis = await startRedis();
  gateway = await startGateway({ redisUrl: redis.url, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SERVICE_NAME: 'gateway-under-test' } });
});

afterAll(async () => {
  await gateway?.close();
  await redis?.destroy();
  await receiver?.close();
});

/** Every span exported so far, once the gateway has sent all it ended. */
async function exported(): Promise<ReceivedSpan[]> {
  await gateway.tracing?.flush();
  return receiver.spans();
}

/** The request span of the trace the caller started (its parent is the caller's span). */
function requestSpanOf(spans: readonly ReceivedSpan[], caller: { traceId: string; parentId: string }): ReceivedSpan {
  const found = spans.filter((span) => span.traceId === caller.traceId && span.parentSpanId === caller.parentId);
  expect(found).toHaveLength(1);
  return found[0] as ReceivedSpan;
}

async function issue(principal = 'member-7'): Promise<string> {
  const response = await gateway.gql('mutation($p: String) { issueSession(input: { principal: $p, attributes: { user: { id: 7 } } }) { id } }', { p: principal }, SERVICE);
  return response.body.data?.issueSession.id as string;
}

test('a REST read is a server span continuing the caller\'s traceparent, with the store\'s GET under it, on both REST doors', async () => {
  const id = await issue();
  for (const path of ['/api/v2/session', '/api/v2/session?via=fastify']) {
    const caller = callerContext();
    const response = await gateway.http.get(path).set({ 'X-Session-ID': id, traceparent: caller.traceparent, tracestate: 'vendor=opaque' });
    expect(response.status).toBe(200);
    const spans = await exported();
    const request = requestSpanOf(spans, caller);
    expect(request).toMatchObject({ name: 'GET /api/v2/session', kind: SERVER, traceState: 'vendor=opaque', statusCode: 0 });
    expect(request.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/api/v2/session', 'http.response.status_code': 200, 'session_gateway.outcome': '2xx' });
    expect(request.resource['service.name']).toBe('gateway-under-test');
    const get = childOf(spans, request, 'GET');
    expect(get.kind).toBe(CLIENT);
    expect(get.attributes).toEqual({
      'db.system.name': 'redis',
      'db.operation.name': 'GET',
      'session_gateway.store.operation': 'readAttribute',
      'session_gateway.store.round_trips': 1,
      'session_gateway.store.nodes': [`127.0.0.1:${redis.port}`],
      'server.address': '127.0.0.1',
      'server.port': redis.port,
    });
    expect(traceOf(spans, caller.traceId)).toHaveLength(2);
  }
});

test('the legacy URL and a REST issue are traced alike: the issue is the createSession script', async () => {
  const caller = callerContext();
  const response = await gateway.http.get('/api/v1/session?JSESSIONID=nothing-like-an-id').set({ traceparent: caller.traceparent });
  expect(response.status).toBe(200);
  const spans = await exported();
  const request = requestSpanOf(spans, caller);
  expect(request.name).toBe('GET /api/v1/session');
  const create = childOf(spans, request, 'EVALSHA createSession');
  expect(create.attributes).toMatchObject({ 'db.operation.name': 'EVALSHA', 'db.stored_procedure.name': 'createSession', 'session_gateway.store.operation': 'create', 'session_gateway.store.round_trips': 1 });
});

test('a GraphQL query is request → operation → store, the same on the compiled path and on Apollo, with the batch size on the operation', async () => {
  const [a, b, c] = [await issue('p-a'), await issue('p-b'), await issue('p-c')];
  const query = 'query Many($ids: [ID!]!) { sessions(ids: $ids) { id } }';
  const operations: ReceivedSpan[] = [];
  const shapes: object[] = [];
  for (const door of [viaPost, viaGet]) {
    const caller = callerContext();
    const response = await door(gateway, query, { ids: [a, b, c, a] }, { ...SERVICE, traceparent: caller.traceparent });
    expect(response.body.data?.sessions).toHaveLength(4);
    expect(response.compiled).toBe(door === viaPost); // each door really was the one taken
    const spans = await exported();
    const request = requestSpanOf(spans, caller);
    expect(request.name).toBe(`${door === viaPost ? 'POST' : 'GET'} /graphql`);
    const operation = childOf(spans, request, 'query Many');
    const mget = childOf(spans, operation, 'MGET');
    expect(mget.attributes).toMatchObject({ 'session_gateway.store.operation': 'getMany', 'session_gateway.store.round_trips': 1 });
    operations.push(operation);
    shapes.push(shapeOf(spans, operation));
  }
  expect(operations.map((operation) => [operation.kind, operation.attributes])).toEqual([
    [INTERNAL, { 'graphql.operation.type': 'query', 'graphql.operation.name': 'Many', 'session_gateway.graphql.root_field': 'sessions', 'session_gateway.outcome': 'ok', 'session_gateway.dataloader.batches': 1, 'session_gateway.dataloader.batch_size': 3 }],
    [INTERNAL, { 'graphql.operation.type': 'query', 'graphql.operation.name': 'Many', 'session_gateway.graphql.root_field': 'sessions', 'session_gateway.outcome': 'ok', 'session_gateway.dataloader.batches': 1, 'session_gateway.dataloader.batch_size': 3 }],
  ]);
  expect(shapes[0]).toEqual(shapes[1]);
});

test('a mutation\'s operation span is named by its type and name and holds its scripts; an error code is its outcome', async () => {
  const caller = callerContext();
  const response = await gateway.gql('mutation Sign($id: ID!) { updateSession(id: $id, patch: { set: { a: 1 } }) { version } }', { id: generateSessionId() }, { ...SERVICE, traceparent: caller.traceparent });
  expect(response.body.errors?.[0]?.extensions?.code).toBe('SESSION_NOT_FOUND');
  const spans = await exported();
  const request = requestSpanOf(spans, caller);
  expect(request.attributes['session_gateway.outcome']).toBe('SESSION_NOT_FOUND');
  expect(request.statusCode).toBe(0); // a client's error is not the server's
  const operation = childOf(spans, request, 'mutation Sign');
  expect(operation.attributes).toMatchObject({ 'graphql.operation.type': 'mutation', 'session_gateway.graphql.root_field': 'updateSession', 'session_gateway.outcome': 'SESSION_NOT_FOUND', 'error.type': 'SESSION_NOT_FOUND' });
  expect(childOf(spans, operation, 'EVALSHA updateSession').attributes['session_gateway.store.operation']).toBe('update');
});

test('a caller\'s decision not to sample is followed: no span of that trace is exported', async () => {
  const id = await issue();
  const unsampled = callerContext(false);
  const sampled = callerContext(true);
  await gateway.http.get('/api/v2/session').set({ 'X-Session-ID': id, traceparent: unsampled.traceparent });
  await gateway.gql('{ session { id } }', {}, { 'X-Session-ID': id, traceparent: unsampled.traceparent });
  await gateway.http.get('/api/v2/session').set({ 'X-Session-ID': id, traceparent: sampled.traceparent });
  const spans = await exported();
  expect(traceOf(spans, unsampled.traceId)).toEqual([]);
  expect(traceOf(spans, sampled.traceId)).toHaveLength(2);
});

test('a request without traceparent starts a trace of its own', async () => {
  receiver.clear();
  const response = await gateway.http.get('/healthz');
  expect(response.status).toBe(200);
  const spans = await exported();
  const health = spans.filter((span) => span.name === 'GET /healthz');
  expect(health).toHaveLength(1);
  expect(health[0]?.parentSpanId).toBe('');
  expect(health[0]?.traceId).toMatch(/^[0-9a-f]{32}$/);
});

describe('a store outage', () => {
  let down: RedisServer;
  let outage: Gateway;

  beforeAll(async () => {
    down = await startRedis();
    outage = await startGateway({ redisUrl: down.url, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } });
  });

  afterAll(async () => {
    await outage?.close();
    await down?.destroy();
  });

  test('is an error span on the store call, the operation and the request, coded STORE_UNAVAILABLE', async () => {
    const id = (await outage.gql('mutation { issueSession { id } }', {}, SERVICE)).body.data?.issueSession.id as string;
    await down.stop(); // SIGKILL by its PID
    await waitUntil(async () => (outage.store as { client?: { status: string } }).client?.status !== 'ready');

    const rest = callerContext();
    expect((await outage.http.get('/api/v2/session').set({ 'X-Session-ID': id, traceparent: rest.traceparent })).status).toBe(503);
    const graphql = callerContext();
    const answered = await outage.gql('mutation Touch { updateSession(patch: { set: { a: 1 } }) { version } }', {}, { ...SERVICE, 'X-Session-ID': id, traceparent: graphql.traceparent });
    expect(answered.body.errors?.[0]?.extensions?.code).toBe('STORE_UNAVAILABLE');
    await outage.tracing?.flush();
    const spans = receiver.spans();

    const restRequest = requestSpanOf(spans, rest);
    expect(restRequest).toMatchObject({ statusCode: ERROR, attributes: expect.objectContaining({ 'http.response.status_code': 503, 'error.type': 'STORE_UNAVAILABLE', 'session_gateway.outcome': 'STORE_UNAVAILABLE' }) });
    const failedGet = childOf(spans, restRequest, 'GET');
    expect(failedGet.statusCode).toBe(ERROR);
    // Not connected: the command was never sent. A read has no outcome to tell (a write's is below).
    expect(failedGet.attributes).toMatchObject({ 'error.type': 'STORE_UNAVAILABLE', 'session_gateway.store.round_trips': 0 });
    expect(failedGet.attributes['session_gateway.store.outcome']).toBeUndefined();

    const graphqlRequest = requestSpanOf(spans, graphql);
    expect(graphqlRequest.statusCode).toBe(ERROR); // answered 200 (application/json), and still the server's failure
    const operation = childOf(spans, graphqlRequest, 'mutation Touch');
    expect(operation).toMatchObject({ statusCode: ERROR, attributes: expect.objectContaining({ 'error.type': 'STORE_UNAVAILABLE' }) });
    const failedUpdate = childOf(spans, operation, 'EVALSHA updateSession');
    expect(failedUpdate).toMatchObject({ statusCode: ERROR, attributes: expect.objectContaining({ 'error.type': 'STORE_UNAVAILABLE', 'session_gateway.store.outcome': 'NOT_APPLIED' }) });
  });
});

describe('on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let clustered: Gateway;

  beforeAll(async () => {
    cluster = await startCluster({ primaries: 3, replicasPerPrimary: 0 });
    clustered = await startGateway({ env: { REDIS_CLUSTER_NODES: cluster.seeds, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } });
  }, 60000);

  afterAll(async () => {
    await clustered?.close();
    await cluster?.destroy();
  });

  test('a store span names the node it went to; a batch read, every node it reached, one round trip each', async () => {
    // Anonymous sessions: random tags, so spread over the slots and the three primaries.
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await clustered.http.get('/api/v2/session')).headers['x-session-id'] as string);
    // A node whose connection is not open yet (the Cluster client opens them as it uses them)
    // is read one command per slot (store/redis.ts): a first batch opens them, so that the one
    // traced below finds every primary's connection ready, as it is once traffic flows.
    await clustered.gql('query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids }, SERVICE);
    const connection = (clustered.store as RedisSessionStore).client as Cluster;
    await waitUntil(async () => connection.nodes('master').length === 3 && connection.nodes('master').every((node) => node.status === 'ready'), 10000);
    const one = callerContext();
    expect((await clustered.http.get('/api/v2/session').set({ 'X-Session-ID': ids[0] as string, traceparent: one.traceparent })).headers['x-session-id']).toBe(ids[0]);
    const batch = callerContext();
    const read = await clustered.gql('query All($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids }, { ...SERVICE, traceparent: batch.traceparent });
    expect(read.body.data?.sessions.map((session: { id: string }) => session.id)).toEqual(ids);
    await clustered.tracing?.flush();
    const spans = receiver.spans();

    const digest = sessionDigest(ids[0] as string);
    const primary = await cluster.primaryFor(`${clustered.config.sessionNamespace}:{${digestTag(digest)}}:${digest}`);
    const get = childOf(spans, requestSpanOf(spans, one), 'GET');
    expect(get.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': primary.port, 'session_gateway.store.round_trips': 1 });

    const mget = childOf(spans, childOf(spans, requestSpanOf(spans, batch), 'query All'), 'MGET');
    const primaries = cluster.nodes.filter((node) => node.role === 'primary').map((node) => `127.0.0.1:${node.port}`);
    expect([...(mget.attributes['session_gateway.store.nodes'] as string[])].sort()).toEqual(primaries.sort());
    expect(mget.attributes['session_gateway.store.round_trips']).toBe(3);
    expect(mget.attributes['server.address']).toBeUndefined(); // more than one node
  });
});

describe('with no endpoint configured', () => {
  /**
   * How many files of the OpenTelemetry SDK (every @opentelemetry package but the API, which
   * prom-client loads for its exemplars) `node dist/main.js` loaded once it listens.
   */
  async function openTelemetryModulesLoaded(env: Record<string, string>): Promise<number> {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-probe-'));
    const probe = join(dir, 'probe.js');
    // Preloaded into the gateway: once its server listens, counts the OpenTelemetry files required.
    writeFileSync(
      probe,
      `const http = require('node:http');
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (...args) {
  this.once('listening', () => process.stderr.write('OTEL_MODULES ' + Object.keys(require.cache).filter((file) => file.includes('/@opentelemetry/') && !file.includes('/@opentelemetry/api/')).length + '\\n'));
  return listen.apply(this, args);
};`,
    );
    const port = await freePort();
    const spawned = spawnGateway({ ...gatewayEnv(port, {}), NODE_OPTIONS: `--require ${probe}`, ...env });
    try {
      await waitUntil(async () => /OTEL_MODULES \d+/.test(spawned.output()) || spawned.child.exitCode !== null, 15000);
      const count = /OTEL_MODULES (\d+)/.exec(spawned.output());
      if (count === null) throw new Error(`the gateway did not listen: ${spawned.output()}`);
      return Number(count[1]);
    } finally {
      spawned.child.kill('SIGKILL');
      await spawned.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('the gateway loads no module of the OpenTelemetry SDK; with an endpoint, it does', async () => {
    expect(await openTelemetryModulesLoaded({ OTEL_SERVICE_NAME: 'set-fleet-wide', OTEL_TRACES_SAMPLER: 'always_on' })).toBe(0);
    expect(await openTelemetryModulesLoaded({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint })).toBeGreaterThan(10);
  });

  test('a gateway built without it exports nothing and has no tracing', async () => {
    const plain = await startGateway({ redisUrl: redis.url });
    try {
      expect(plain.tracing).toBeNull();
      receiver.clear();
      const caller = callerContext();
      expect((await plain.http.get('/api/v2/session').set({ traceparent: caller.traceparent })).status).toBe(200);
      await gateway.tracing?.flush();
      expect(traceOf(receiver.spans(), caller.traceId)).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});
