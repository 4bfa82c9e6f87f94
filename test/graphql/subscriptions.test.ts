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
/** The number of open WebSockets a gateway reports (its gauge). */
async function sockets(gateway: Gateway): Promise<number> {
  return Number(/^gateway_websocket_connections (\d+)$/m.exec((await gateway.http.get('/metrics')).text)?.[1]);
}

async function delivered(gateway: Gateway): Promise<number> {
  return Number(/^gateway_change_events_delivered_total (\d+)$/m.exec((await gateway.http.get('/metrics')).text)?.[1]);
}

// Every test starts with no subscriber on either instance, whatever the one before it left.
afterEach(async () => {
  for (const subscription of open.splice(0)) subscription.dispose();
  await waitUntil(async () => (await sockets(a)) === 0 && (await sockets(b)) === 0);
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
  const deliveredBefore = await delivered(a);
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

  // A sentinel change: the feed is ordered, so anything announced in between arrives before it.
  const sentinel = await a.gql('mutation { issueSession { digest } }', {}, SERVICE);
  const sentinelDigest = sentinel.body.data?.issueSession.digest as string;
  await waitUntil(async () => changes.events.some((event) => event.digest === sentinelDigest));
  expect(changes.events.slice(1)).toEqual([
    { digest, kind: 'ISSUED', version: 1 },
    { digest, kind: 'UPDATED', version: 2 },
    { digest, kind: 'REVOKED', version: 3 },
    { digest: sentinelDigest, kind: 'ISSUED', version: 1 },
  ]);
  expect(JSON.stringify(changes.events)).not.toContain(id);

  // What an operator sees of it on instance A.
  const metrics = (await a.http.get('/metrics')).text;
  expect(Number(/^gateway_websocket_connections (\d+)$/m.exec(metrics)?.[1])).toBe(1);
  // SUBSCRIBED and the four changes: five events delivered to this one subscriber.
  expect(Number(/^gateway_change_events_delivered_total (\d+)$/m.exec(metrics)?.[1]) - deliveredBefore).toBe(5);
});

test('the token may come as the upgrade request header instead of connectionParams', async () => {
  const changes = subscribe(urlA, { headers: { Authorization: BEARER } });
  await changes.ready();
  expect(changes.events).toEqual([{ digest: '', kind: 'SUBSCRIBED', version: 0 }]);
  expect(changes.error).toBeUndefined();
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
  expect(changes.error).toEqual([expect.objectContaining({ message: expect.stringMatching(/^changes may have been missed: /), extensions: { code: 'STORE_UNAVAILABLE' } })]);

  const again = subscribe(urlA, { authorization: BEARER });
  await again.ready();
  await b.gql('mutation { issueSession { id } }', {}, SERVICE);
  await waitUntil(async () => again.events.some((event) => event.kind === 'ISSUED'));
  expect(again.events.map((event) => event.kind)).toEqual(['SUBSCRIBED', 'ISSUED']);
});

test('a closing gateway closes its subscribers with 1001 (going away)', async () => {
  const c = await startGateway({ redisUrl: server.url });
  const changes = subscribe(await listening(c), { authorization: BEARER });
  await changes.ready();
  await c.close();
  await waitUntil(async () => changes.error !== undefined || changes.completed);
  expect(codeOf(changes.error)).toBe('close 1001');
  expect(changes.completed).toBe(false);
});

/**
 * A subscriber that stops reading: a raw graphql-transport-ws client whose socket is paused once
 * subscribed. The gateway can then send only as much as the kernel buffers hold; behind that its
 * queue for this subscriber grows, and past 10,000 events the stream must end rather than drop
 * events silently.
 */
test('a subscriber more than 10,000 events behind is ended with STORE_UNAVAILABLE; what it got is a gapless prefix', async () => {
  const WebSocket = (await import('ws')).default;
  const ws = new WebSocket(urlA, 'graphql-transport-ws');
  const received: Array<{ id?: string; type: string; payload?: unknown }> = [];
  ws.on('message', (data: Buffer) => received.push(JSON.parse(data.toString())));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: BEARER } }));
  await waitUntil(async () => received.some((message) => message.type === 'connection_ack'));
  ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { sessionChanges { kind version } }' } }));
  await waitUntil(async () => received.some((message) => message.type === 'next'));
  const deliveredBefore = await delivered(a);
  // What the gateway's own change feed hears, through a listener of the test's beside the stream's.
  let heard = 0;
  const stopListening = await a.store.changes.listen({ change: () => void heard++, lost: () => undefined });
  try {
    ws.pause();
    // Published straight on the namespace's change channel, as the store's scripts announce
    // changes, in rounds until the gateway has heard more than 10,000 beyond what the stream took
    // from its queue (the kernel buffers hold an unknown number before the stream stalls).
    const channel = `${a.config.sessionNamespace}:changes`;
    const digest = 'D'.repeat(43);
    let published = 0;
    let behind = 0;
    for (let round = 0; round < 60 && behind <= 10_000; round++) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 10_000; i++) pipeline.publish(channel, `UPDATED|${++published}|${digest}`);
      await pipeline.exec();
      await waitUntil(async () => heard === published, 30_000);
      // Taken by the stream: the events it delivered, less SUBSCRIBED. The rest were queued or dropped.
      behind = published - ((await delivered(a)) - deliveredBefore - 1);
    }
    expect(behind).toBeGreaterThan(10_000);
    ws.resume();
    await waitUntil(async () => received.some((message) => message.type === 'error' || message.type === 'complete'), 60_000);

    const end = received.find((message) => message.type === 'error' || message.type === 'complete');
    expect(end).toEqual({ id: '1', type: 'error', payload: [{ message: 'the subscriber fell too far behind; changes were dropped', extensions: { code: 'STORE_UNAVAILABLE' } }] });
    const versions = received.filter((message) => message.type === 'next').map((message) => (message.payload as { data: { sessionChanges: { version: number } } }).data.sessionChanges.version);
    expect(versions[0]).toBe(0); // SUBSCRIBED
    const changes = versions.slice(1);
    // Dropped, so ended: fewer than published arrived, at least the 10,000 it may queue, and they
    // are versions 1, 2, 3, ... with none missing before the end.
    expect(changes.length).toBeLessThan(published);
    expect(changes.length).toBeGreaterThan(10_000);
    expect(changes.every((version, index) => version === index + 1)).toBe(true);
  } finally {
    stopListening();
    ws.terminate();
  }
}, 120_000);
