/**
 * SESSION_CACHE=on: each gateway keeps the sessions it read in memory, coherent through the
 * store's change feed. Two gateways on one real redis-server, as a deployment runs them; what
 * each sends to Redis is read from MONITOR, what it answers through HTTP (GraphQL's compiled path
 * and Apollo, REST's direct lane and Fastify).
 */
import type { RedisSessionStore } from '../src/store/redis';
import { watchGraphQLDoors, watchRestDoors, type DoorWatch, type GraphQLDoor, type RestDoor } from './support/doors';
import { commandsOf, SERVICE, startGateway, uniqueNamespace, waitUntil, type Gateway } from './support/gateway';
import { startRedis, type RedisServer } from './support/redis-server';

let server: RedisServer;
let graphqlDoors: DoorWatch<GraphQLDoor>;
let restDoors: DoorWatch<RestDoor>;

beforeAll(async () => {
  server = await startRedis();
  graphqlDoors = watchGraphQLDoors();
  restDoors = watchRestDoors();
});
afterAll(async () => {
  graphqlDoors.restore();
  restDoors.restore();
  await server.destroy();
});

/** Two gateways with the cache on, one namespace; closed after `run`. */
async function pair(env: Record<string, string>, run: (a: Gateway, b: Gateway) => Promise<void>): Promise<void> {
  const shared = { SESSION_CACHE: 'on', SESSION_NAMESPACE: uniqueNamespace(), ...env };
  const a = await startGateway({ redisUrl: server.url, env: shared });
  const b = await startGateway({ redisUrl: server.url, env: shared });
  try {
    await waitUntil(async () => (await scrape(a)).includes('gateway_session_cache_entries') && (await serving(a)) && (await serving(b)));
    await run(a, b);
  } finally {
    await a.close();
    await b.close();
  }
}

/** Whether the gateway's cache serves: a second read of a fresh session sends nothing to Redis. */
async function serving(gateway: Gateway): Promise<boolean> {
  const id = await issue(gateway, {});
  await readGraphQL(gateway, id);
  return (await sent(gateway, () => readGraphQL(gateway, id))).length === 0;
}

async function scrape(gateway: Gateway): Promise<string> {
  return (await gateway.http.get('/metrics')).text;
}

function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function issue(gateway: Gateway, input: Record<string, unknown>): Promise<string> {
  const response = await gateway.gql('mutation($input: IssueSessionInput) { issueSession(input: $input) { id } }', { input }, SERVICE);
  expect(response.body.errors).toBeUndefined();
  return response.body.data?.issueSession.id as string;
}

/** A frontend's read of its own session (the compiled path takes it); its version and attributes, or null. */
async function readGraphQL(gateway: Gateway, id: string): Promise<{ version: number; attributes: Record<string, unknown> } | null> {
  const response = await gateway.gql('{ session { version attributes } }', {}, { 'X-Session-ID': id });
  expect(response.body.errors).toBeUndefined();
  return response.body.data?.session ?? null;
}

/**
 * The commands the gateway's main Redis connection sent while `action` ran, but the change
 * feed's own heartbeat (a PUBLISH every second, whatever the reads do).
 */
async function sent(gateway: Gateway, action: () => Promise<unknown>): Promise<string[][]> {
  const commands = await commandsOf(server, (gateway.store as RedisSessionStore).client, action);
  return commands.filter((command) => !(command[0] === 'publish' && command[2]?.startsWith('HEARTBEAT|')));
}

test('a hit, through every door, sends nothing to Redis and answers what a miss answered', async () => {
  await pair({ TOUCH_INTERVAL: '600' }, async (a) => {
    const id = await issue(a, { attributes: { user: { id: 7 } } });
    const first = await sent(a, () => readGraphQL(a, id));
    expect(first.map((command) => command[0])).toEqual(['get']);
    await graphqlDoors.take();
    await restDoors.take();
    const answers = await sent(a, async () => {
      const compiled = await readGraphQL(a, id);
      const apollo = await a.http.get(`/graphql?${new URLSearchParams({ query: '{ session { version attributes } }' })}`).set({ 'X-Session-ID': id, 'Apollo-Require-Preflight': 'true' });
      const direct = await a.http.get('/api/v2/session').set('X-Session-ID', id);
      const fastify = await a.http.get('/api/v2/session').set({ 'X-Session-ID': id, Origin: 'https://app.example.com' });
      const legacy = await a.http.get(`/api/v1/session?JSESSIONID=${id}`);
      expect(compiled).toEqual({ version: 1, attributes: { user: { id: 7 } } });
      expect(apollo.body.data?.session).toEqual(compiled);
      for (const rest of [direct, fastify, legacy]) expect([rest.status, rest.headers['x-session-id'], rest.text]).toEqual([200, id, '{"id":7}']);
    }).then((commands) => commands);
    expect(answers).toEqual([]);
    expect(await graphqlDoors.take()).toEqual(['compiled', 'apollo']);
    // Every request reaches the direct lane first; what it leaves (GraphQL, a CORS request, the legacy URL) Fastify serves.
    expect(await restDoors.take()).toEqual(['fastify', 'fastify', 'direct lane', 'fastify', 'fastify']);
    const metrics = await scrape(a);
    expect(sample(metrics, 'gateway_session_cache_hits_total')).toBeGreaterThanOrEqual(5);
    expect(sample(metrics, 'gateway_session_cache_misses_total')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'gateway_session_cache_entries')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'gateway_session_cache_bytes')).toBeGreaterThan(0);
  });
});

test("another gateway's update and revoke reach this gateway's cache; its own are seen at once", async () => {
  await pair({ TOUCH_INTERVAL: '600' }, async (a, b) => {
    const id = await issue(a, {});
    expect((await readGraphQL(a, id))?.version).toBe(1); // cached on A
    const updated = await b.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { n: 1 } }) { version } }', { id }, SERVICE);
    expect(updated.body.data?.updateSession.version).toBe(2);
    await waitUntil(async () => (await readGraphQL(a, id))?.version === 2);
    expect((await readGraphQL(a, id))?.attributes).toEqual({ n: 1 });
    expect((await b.gql('mutation($id: ID) { revokeSession(id: $id) }', { id }, SERVICE)).body.data?.revokeSession).toBe(true);
    await waitUntil(async () => (await readGraphQL(a, id)) === null);
    // Its own writes: no waiting for the feed.
    const own = await issue(a, {});
    await readGraphQL(a, own);
    await a.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { n: 2 } }) { version } }', { id: own }, SERVICE);
    expect((await readGraphQL(a, own))?.version).toBe(2);
    await a.gql('mutation { revokeSession }', {}, { 'X-Session-ID': own });
    expect(await readGraphQL(a, own)).toBeNull();
    const rest = await a.http.get('/api/v2/session').set('X-Session-ID', own);
    expect(rest.headers['x-session-id']).not.toBe(own); // gone: the shim issues a new one
  });
});

test('a touch is sent at most once per TOUCH_INTERVAL: the hit it is due on sends it, the others send nothing', async () => {
  await pair({ TOUCH_INTERVAL: '1', SESSION_TIMEOUT: '60' }, async (a) => {
    const id = await issue(a, {});
    await readGraphQL(a, id); // cached
    // Due once a second has passed since it was last used: wait for the hit that sends it.
    let touched: string[][] = [];
    await waitUntil(async () => {
      touched = await sent(a, () => readGraphQL(a, id));
      return touched.length > 0;
    }, 5000);
    // One touch script (EVALSHA, or EVAL the first time this connection runs it).
    expect(touched.map((command) => command[0])).toEqual([expect.stringMatching(/^eval(sha)?$/)]);
    // The hits right after it send nothing (the cached entry took the touch's time).
    expect(await sent(a, () => Promise.all([readGraphQL(a, id), readGraphQL(a, id), a.http.get('/api/v2/session').set('X-Session-ID', id)]))).toEqual([]);
  });
});

test("a cached session is not served past its own idle deadline, with no event to say it expired", async () => {
  await pair({ TOUCH_INTERVAL: '600' }, async (a) => {
    const id = await issue(a, { maxInactiveInterval: 1 });
    const read = await a.gql('{ session { expiresAt } }', {}, { 'X-Session-ID': id });
    const expiresAtMs = Date.parse(read.body.data?.session.expiresAt as string);
    await waitUntil(async () => (await readGraphQL(a, id)) === null, 5000);
    expect((a.store as RedisSessionStore).now()).toBeGreaterThanOrEqual(expiresAtMs);
  });
});

test('the feed lost, the cache is dropped at once and reads go to Redis; it serves again once the feed is back', async () => {
  await pair({ TOUCH_INTERVAL: '600' }, async (a) => {
    const id = await issue(a, {});
    await readGraphQL(a, id);
    expect(await sent(a, () => readGraphQL(a, id))).toEqual([]);
    await server.client().client('KILL', 'TYPE', 'pubsub');
    await waitUntil(async () => (await sent(a, () => readGraphQL(a, id))).length > 0);
    await waitUntil(() => serving(a), 10_000);
  });
});

test('SESSION_CACHE_MAX_BYTES bounds the cache: the least recently used go first, counted as evictions', async () => {
  await pair({ TOUCH_INTERVAL: '600', SESSION_CACHE_MAX_BYTES: '20000' }, async (a) => {
    const big = 'x'.repeat(2000);
    const ids = await Promise.all(Array.from({ length: 30 }, () => issue(a, { attributes: { big } })));
    for (const id of ids) await readGraphQL(a, id);
    const metrics = await scrape(a);
    expect(sample(metrics, 'gateway_session_cache_bytes')).toBeLessThanOrEqual(20000);
    expect(sample(metrics, 'gateway_session_cache_evictions_total')).toBeGreaterThan(0);
    // The most recent is a hit; the first read has been evicted and goes to Redis.
    expect(await sent(a, () => readGraphQL(a, ids.at(-1) as string))).toEqual([]);
    expect((await sent(a, () => readGraphQL(a, ids[0] as string))).map((command) => command[0])).toEqual(['get']);
  });
});
