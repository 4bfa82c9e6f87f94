/**
 * Redis goes away mid-test: GraphQL answers STORE_UNAVAILABLE, REST answers 503, nothing is
 * reported written, the process stays up; when the same Redis comes back, the same requests
 * succeed without a restart of the gateway.
 */
import type { RedisSessionStore } from '../src/store/redis';
import { errorCode, SERVICE, startGateway, waitUntil, type Gateway } from './support/gateway';
import { startRedis, type RedisServer } from './support/redis-server';

let server: RedisServer;
let gateway: Gateway;

beforeAll(async () => {
  server = await startRedis({ persist: true });
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
  expect(id).toBeDefined();

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

  const read = await gateway.gql('{ session { id } }', {}, { 'X-Session-ID': id });
  expect(errorCode(read)).toBe('STORE_UNAVAILABLE');

  const rest = await gateway.http.get('/api/v2/session').set('X-Session-ID', id);
  expect(rest.status).toBe(503);
  expect(rest.body.error.code).toBe('STORE_UNAVAILABLE');
  expect(rest.body.error.outcome).toBeUndefined(); // a read: nothing to say about writes
  expect(rest.headers['x-session-id']).toBeUndefined();

  const fresh = await gateway.http.get('/api/v2/session');
  expect(fresh.status).toBe(503);
  expect(fresh.headers['x-session-id']).toBeUndefined();

  await server.start();
  await waitUntil(() => gateway.store.ping().then(() => true, () => false), 10_000);

  // The session written before the outage is still there, and nothing from the outage is.
  const redis = server.client();
  const keys = await redis.keys(`${gateway.config.sessionNamespace}:*`);
  expect(keys).toEqual([(gateway.store as RedisSessionStore).keyOf(id)]);

  const updated = await gateway.gql(UPDATE, { id }, SERVICE);
  expect(updated.body.data?.updateSession).toEqual({ version: 2 });
  const again = await gateway.http.get('/api/v2/session').set('X-Session-ID', id);
  expect(again.status).toBe(200);
  expect(again.body).toEqual({ id: 7 });
  const issued = await gateway.gql(ISSUE, {}, SERVICE);
  expect(issued.status).toBe(200);
  expect(issued.headers['x-session-id']).toBe(issued.body.data?.issueSession.id);
});
