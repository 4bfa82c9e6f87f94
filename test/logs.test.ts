/**
 * The log: one JSON line per request with the request ID, method, route (or GraphQL operation),
 * status and duration; and never a session ID or a token, wherever the request carried them
 * (header, cookie, query string, path parameter, body, request-ID header), including the lines
 * written for internal errors and Redis outages.
 */
import { sessionDigest } from '../src/session/ids';
import type Redis from 'ioredis';
import { createLogger } from '../src/logger';
import type { RedisSessionStore } from '../src/store/redis';
import { SERVICE, SERVICE_TOKEN, startGateway, waitUntil, type Gateway } from './support/gateway';
import { startRedis, type RedisServer } from './support/redis-server';

let server: RedisServer;
let redis: Redis;
let gateway: Gateway;
const output: string[] = [];

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  const logger = createLogger('info', { write: (chunk: string) => void output.push(chunk) });
  gateway = await startGateway({ redisUrl: server.url, logger, env: { REDIS_COMMAND_TIMEOUT_MS: '500' } });
});
afterAll(async () => {
  await gateway.close();
  await server.destroy();
});
// Each test reads only the lines written while it ran.
beforeEach(() => {
  output.length = 0;
});

interface LogLine {
  level: number;
  msg: string;
  requestId?: string;
  method?: string;
  route?: string;
  operation?: string;
  operationName?: string;
  status?: number;
  errorCode?: string;
  durationMs?: number;
  [field: string]: unknown;
}

function logLines(): LogLine[] {
  return output.join('').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as LogLine);
}

const requestLines = (): LogLine[] => logLines().filter((line) => line.msg === 'request');

const ISSUE = 'mutation($u: JSON) { issueSession(input: { principal: "p-1", attributes: { user: $u } }) { id } }';

async function issue(): Promise<string> {
  const response = await gateway.gql(ISSUE, { u: { name: 'Kim' } }, SERVICE);
  return response.body.data?.issueSession.id as string;
}

test('session IDs and tokens never reach the log, however they travel; every request logs one line', async () => {
  const wrongToken = 'not-the-service-token-0123456789';
  const [a, b, internal] = [await issue(), await issue(), await issue()];
  const secrets = [a, b, internal, SERVICE_TOKEN, wrongToken];
  let requestCount = 3;
  const count = <T>(response: T): T => {
    requestCount += 1;
    return response;
  };

  // GraphQL: the ID in the header, in a cookie, in variables, inline in the query text.
  count(await gateway.gql('query Own { session { id attributes } }', {}, { 'X-Session-ID': a }));
  count(await gateway.gql('{ session { id } }', {}, { Cookie: `JSESSIONID=${a}; theme=dark` }));
  count(await gateway.gql('query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: [a, b] }, SERVICE));
  count(await gateway.gql(`mutation { updateSession(id: "${b}", patch: { set: { seen: true } }) { version } }`, {}, SERVICE));
  count(await gateway.gql('mutation { updateSession(patch: { set: { n: 1 } }) { version } }', {}, { ...SERVICE, 'X-Session-ID': a }));
  count(await gateway.gql('mutation { issueSession { id } }', {}, { Authorization: `Bearer ${wrongToken}` }));

  // REST: v2 header and cookie, v1 query string (any case) and servlet path parameter.
  count(await gateway.http.get('/api/v2/session').set('X-Session-ID', a));
  count(await gateway.http.get('/api/v2/session').set('Cookie', `JSESSIONID=${b}`));
  count(await gateway.http.get(`/api/v1/session?JSESSIONID=${a}`));
  count(await gateway.http.get(`/api/v1/session?x=1&jsessionid=${b}`));
  count(await gateway.http.get(`/api/v1/session;jsessionid=${a}`));
  const fresh = count(await gateway.http.get('/api/v2/session'));
  secrets.push(fresh.headers['x-session-id'] as string);
  count(await gateway.http.get(`/no/such/${a}`));

  // A client that sends its session ID as request ID does not get it logged (or echoed).
  const sneaky = count(await gateway.http.get('/api/v2/session').set('X-Session-ID', a).set('X-Request-ID', a));
  expect(sneaky.headers['x-request-id']).not.toBe(a);

  // An internal error (Redis holds a hash where a session should be): logged without the request.
  const internalKey = (gateway.store as RedisSessionStore).keyOf(sessionDigest(internal));
  await redis.del(internalKey);
  await redis.hset(internalKey, 'x', '1');
  const broken = count(await gateway.gql('{ session { id } }', {}, { 'X-Session-ID': internal }));
  expect(broken.body.errors?.[0]?.extensions?.code).toBe('INTERNAL');

  // A Redis outage: the warning names the failure, not the request.
  await server.stop();
  const unavailable = count(await gateway.http.get('/api/v2/session').set('X-Session-ID', a).set('Authorization', `Bearer ${SERVICE_TOKEN}`));
  expect(unavailable.status).toBe(503);
  await server.start();
  await waitUntil(() => gateway.store.ping().then(() => true, () => false), 10_000);

  // Logout.
  count(await gateway.gql('mutation { revokeSession }', {}, { 'X-Session-ID': a }));

  const text = output.join('');
  for (const secret of secrets) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/authorization|cookie|x-session-id|jsessionid|bearer/i);

  const lines = logLines();
  expect(lines.some((line) => line.msg === 'internal error' && line.level === 50)).toBe(true);
  expect(lines.some((line) => line.msg === 'store unavailable' && line.level === 40 && typeof line.reason === 'string')).toBe(true);
  expect(requestLines()).toHaveLength(requestCount);
});

test('a request line carries request ID, method, route or operation, status and duration', async () => {
  const id = await issue();
  const rest = await gateway.http.get(`/api/v1/session?JSESSIONID=${id}`).set('X-Request-ID', 'trace-abc-123');
  const gql = await gateway.gql('query Own { session { id } }', {}, { 'X-Session-ID': id });
  const missing = await gateway.http.get('/nowhere');

  const [issueLine, restLine, gqlLine, missingLine] = requestLines();
  expect(issueLine).toMatchObject({ method: 'POST', route: '/graphql', operation: 'issueSession', status: 200, level: 30 });
  expect(restLine).toMatchObject({ requestId: 'trace-abc-123', method: 'GET', route: '/api/v1/session', status: 200 });
  expect(restLine).not.toHaveProperty('operation');
  expect(rest.headers['x-request-id']).toBe('trace-abc-123');
  expect(gqlLine).toMatchObject({ method: 'POST', route: '/graphql', operation: 'session', operationName: 'Own', status: 200 });
  expect(gql.headers['x-request-id']).toBe(gqlLine?.requestId);
  expect(missingLine).toMatchObject({ method: 'GET', route: 'unmatched', status: 404, errorCode: 'NOT_FOUND' });
  for (const line of [issueLine, restLine, gqlLine, missingLine]) {
    expect(typeof line?.requestId).toBe('string');
    expect(typeof line?.durationMs).toBe('number');
    expect(line?.durationMs).toBeGreaterThanOrEqual(0);
  }
  expect(missing.headers['x-request-id']).toBe(missingLine?.requestId);
});

test('a missing or unusable X-Request-ID is replaced by a fresh UUID', async () => {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const none = await gateway.http.get('/healthz');
  const other = await gateway.http.get('/healthz');
  expect(none.headers['x-request-id']).toMatch(uuid);
  expect(other.headers['x-request-id']).toMatch(uuid);
  expect(other.headers['x-request-id']).not.toBe(none.headers['x-request-id']);
  for (const unusable of ['x'.repeat(129), 'has space', 'tab\there']) {
    const response = await gateway.http.get('/healthz').set('X-Request-ID', unusable);
    expect(response.headers['x-request-id']).toMatch(uuid);
  }
  const kept = await gateway.http.get('/healthz').set('X-Request-ID', 'x'.repeat(128));
  expect(kept.headers['x-request-id']).toBe('x'.repeat(128));
});
