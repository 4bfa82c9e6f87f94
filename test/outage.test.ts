/**
 * Redis goes away mid-test: GraphQL answers STORE_UNAVAILABLE, REST answers 503, nothing is
 * reported written, the process stays up; when the same Redis comes back, the same requests
 * succeed without a restart of the gateway.
 */
import { sessionDigest } from '../src/session/ids';
import type { RedisSessionStore } from '../src/store/redis';
import type Redis from 'ioredis';
import { errorCode, SERVICE, snapshot, startGateway, waitUntil, type Gateway } from './support/gateway';
import { startRedis, type RedisServer } from './support/redis-server';

let server: RedisServer;
let gateway: Gateway;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis({ persist: true });
  redis = server.client();
  gateway = await startGateway({ redisUrl: server.url, env: { REDIS_COMMAND_TIMEOUT_MS: '500' } });
});
afterAll(async () => {
  await gateway.close();
  await server.destroy();
});

const ISSUE = 'mutation { issueSession(input: { principal: "u", attributes: { user: { id: 7 } } }) { id } }';
const UPDATE = 'mutation($id: ID) { updateSession(id: $id, patch: { set: { seen: true } }) { version } }';

test('Redis stopped: STORE_UNAVAILABLE / 503, nothing acknowledged; Redis back: the same requests succeed', async () => {
  const before = await gateway.gql(ISSUE, {}, SERVICE);
  const id = before.body.data?.issueSession.id as string;
  expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
  const stored = await snapshot(redis, gateway.config.sessionNamespace);

  await server.stop();

  const issue = await gateway.gql(ISSUE, {}, SERVICE);
  expect(issue.status).toBe(200); // GraphQL over application/json: the code says it
  expect(errorCode(issue)).toBe('STORE_UNAVAILABLE');
  // Connection refused: the write never left, so the gateway can say nothing was written.
  expect(issue.body.errors?.[0]?.extensions).toEqual({ code: 'STORE_UNAVAILABLE', outcome: 'NOT_APPLIED' });
  expect(issue.headers['x-session-id']).toBeUndefined();
  expect(issue.body.data).toBeNull();

  const update = await gateway.gql(UPDATE, { id }, SERVICE);
  expect(update.body.errors?.[0]?.extensions).toEqual({ code: 'STORE_UNAVAILABLE', outcome: 'NOT_APPLIED' });
  expect(update.body.data).toBeNull();

  const read = await gateway.gql('{ session { id } }', {}, { 'X-Session-ID': id });
  expect(errorCode(read)).toBe('STORE_UNAVAILABLE');
  expect(read.body.data).toEqual({ session: null }); // the field is nullable; the error says why
  expect(read.body.errors).toHaveLength(1);

  const rest = await gateway.http.get('/api/v2/session').set('X-Session-ID', id);
  expect(rest.status).toBe(503);
  // A read: nothing to say about writes (no outcome).
  expect(rest.body).toEqual({ error: { code: 'STORE_UNAVAILABLE', message: expect.any(String) } });
  expect(rest.headers['x-session-id']).toBeUndefined();

  const fresh = await gateway.http.get('/api/v2/session');
  expect(fresh.status).toBe(503);
  // No ID: the answer was to be a new session, a write, and it says none was made.
  expect(fresh.body).toEqual({ error: { code: 'STORE_UNAVAILABLE', message: expect.any(String), outcome: 'NOT_APPLIED' } });
  expect(fresh.headers['x-session-id']).toBeUndefined();

  await server.start();
  await waitUntil(() => gateway.store.ping().then(() => true, () => false), 10_000);

  // The session written before the outage is still there, and nothing from the outage is.
  // Byte for byte and expiry for expiry: the outage wrote nothing, not even a touch.
  expect(await snapshot(redis, gateway.config.sessionNamespace)).toEqual(stored);
  const store = gateway.store as RedisSessionStore;
  expect(Object.keys(stored).sort()).toEqual([store.keyOf(sessionDigest(id)), store.indexOf(id.slice(0, 4)), `${gateway.config.sessionNamespace}:tag-key`].sort());

  const updated = await gateway.gql(UPDATE, { id }, SERVICE);
  expect(updated.body.data?.updateSession).toEqual({ version: 2 });
  const again = await gateway.http.get('/api/v2/session').set('X-Session-ID', id);
  expect(again.status).toBe(200);
  expect(again.body).toEqual({ id: 7 });
  const issued = await gateway.gql(ISSUE, {}, SERVICE);
  expect(issued.status).toBe(200);
  expect(issued.body.errors).toBeUndefined();
  expect(issued.headers['x-session-id']).toBe(issued.body.data?.issueSession.id);
});
