/**
 * `subscription { sessionChanges }` over a real WebSocket, two gateway instances on one real
 * Redis: every change made through either instance reaches a subscriber of either, as the
 * session's digest, kind and version; reads do not; only services may subscribe; a gateway that
 * loses its subscription to Redis ends its subscribers' streams with STORE_UNAVAILABLE.
 */
import type Redis from 'ioredis';
import { sessionDigest } from '../../src/session/ids';
import { describe as codeOf, subscribeChanges, type Subscription } from '../support/changes';
import { SERVICE, SERVICE_TOKEN, startGateway, startGatewayPair, waitUntil, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
let redis: Redis;
let a: Gateway;
let b: Gateway;
let urlA: string;
const open: Subscription[] = [];

async function listening(gateway: Gateway): Promise<string> {
  const address = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  return `${address.replace('http', 'ws')}/graphql`;
}

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  const pair = await startGatewayPair(server.url);
  ({ a, b } = pair);
  urlA = `${pair.baseA.replace('http', 'ws')}/graphql`;
});
afterEach(() => {
  for (const subscription of open.splice(0)) subscription.dispose();
});
afterAll(async () => {
  await a.close();
  await b.close();
  await server.destroy();
});

function subscribe(url: string, connection: Parameters<typeof subscribeChanges>[1]): Subscription {
  const subscription = subscribeChanges(url, connection);
  open.push(subscription);
  return subscription;
}

const BEARER = `Bearer ${SERVICE_TOKEN}`;

test('changes through either instance reach a subscriber of instance A: digest, kind, version; reads do not', async () => {
  const changes = subscribe(urlA, { authorization: BEARER });
  await changes.ready();
  expect(changes.events).toEqual([{ digest: '', kind: 'SUBSCRIBED', version: 0 }]);

  const issued = await b.gql('mutation { issueSession(input: { attributes: { user: { id: 1 } } }) { id digest } }', {}, SERVICE);
  const { id, digest } = issued.body.data?.issueSession as { id: string; digest: string };
  expect(digest).toBe(sessionDigest(id));
  await b.http.get('/api/v2/session').set('X-Session-ID', id);
  await a.gql('{ session { id } }', {}, { 'X-Session-ID': id });
  await a.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { cart: [1] } }) { version } }', { id }, SERVICE);
  await b.gql('mutation($id: ID) { revokeSession(id: $id) }', { id }, SERVICE);
  await b.gql('mutation($id: ID) { revokeSession(id: $id) }', { id }, SERVICE); // nothing left to revoke

  await waitUntil(async () => changes.events.length >= 4);
  // A sentinel change: anything announced in between would arrive before it.
  const sentinel = await a.gql('mutation { issueSession { digest } }', {}, SERVICE);
  await waitUntil(async () => changes.events.length >= 5);
  expect(changes.events.slice(1)).toEqual([
    { digest, kind: 'ISSUED', version: 1 },
    { digest, kind: 'UPDATED', version: 2 },
    { digest, kind: 'REVOKED', version: 3 },
    { digest: sentinel.body.data?.issueSession.digest, kind: 'ISSUED', version: 1 },
  ]);
  expect(JSON.stringify(changes.events)).not.toContain(id);

  // What an operator sees of it on instance A.
  const metrics = (await a.http.get('/metrics')).text;
  expect(Number(/^gateway_websocket_connections (\d+)$/m.exec(metrics)?.[1])).toBe(1);
  expect(Number(/^gateway_change_events_delivered_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(5);
});

test('the token may come as the upgrade request header instead of connectionParams', async () => {
  const changes = subscribe(urlA, { headers: { Authorization: BEARER } });
  await changes.ready();
});

test.each([
  ['no token', {}],
  ['a wrong token', { authorization: 'Bearer not-the-token-0123456789' }],
  ['a session ID instead of a token', { headers: { 'X-Session-ID': 'x'.repeat(43) } }],
])('%s: the connection is refused with 4403', async (_name, connection) => {
  const changes = subscribe(urlA, connection);
  await waitUntil(async () => changes.error !== undefined);
  expect(codeOf(changes.error)).toBe('close 4403');
  expect(changes.events).toEqual([]);
});

test('queries and mutations are refused over WebSocket (they belong on HTTP)', async () => {
  const { createClient } = await import('graphql-ws');
  const WebSocket = (await import('ws')).default;
  const client = createClient({ url: urlA, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: BEARER } });
  const before = await redis.dbsize();
  const result = await new Promise<unknown>((resolve) => {
    client.subscribe({ query: 'mutation { issueSession { id } }' }, { next: resolve, error: resolve, complete: () => undefined });
  });
  await client.dispose();
  expect(result).toEqual({ errors: [expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT' } })] });
  expect(await redis.dbsize()).toBe(before);
});

test('a gateway that loses its Redis subscription ends its streams with STORE_UNAVAILABLE; a new one works', async () => {
  const changes = subscribe(urlA, { authorization: BEARER });
  await changes.ready();
  await redis.client('KILL', 'TYPE', 'pubsub');
  await waitUntil(async () => changes.error !== undefined);
  expect(codeOf(changes.error)).toBe('STORE_UNAVAILABLE');

  const again = subscribe(urlA, { authorization: BEARER });
  await again.ready();
  await b.gql('mutation { issueSession { id } }', {}, SERVICE);
  await waitUntil(async () => again.events.some((event) => event.kind === 'ISSUED'));
});

test('a closing gateway closes its subscribers with 1001 (going away)', async () => {
  const c = await startGateway({ redisUrl: server.url });
  const changes = subscribe(await listening(c), { authorization: BEARER });
  await changes.ready();
  await c.close();
  await waitUntil(async () => changes.error !== undefined || changes.completed);
  expect(codeOf(changes.error)).toBe('close 1001');
});
