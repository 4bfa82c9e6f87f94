/**
 * The client library against the real thing: one Redis, two gateway instances (A and B), two
 * clients (1 on A, 2 on B). What one client changes, the other stops serving from its cache
 * within a bound; its own writes it sees at once; a lost event stream means no cache until it
 * is back. Waits are generous (2 s) so they never flake; the benchmark measures the real bound.
 */
import type Redis from 'ioredis';
import { SessionClient, SessionGatewayError } from '../../src/client';
import { sessionDigest } from '../../src/session/ids';
import { SERVICE_TOKEN, startGatewayPair, waitUntil, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
let redis: Redis;
let a: Gateway;
let b: Gateway;
let baseA: string;
let one: SessionClient;
let two: SessionClient;

const BOUND_MS = 2000;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  const pair = await startGatewayPair(server.url);
  ({ a, b, baseA } = pair);
  // A long minimum retry, so a lost stream stays lost long enough to watch the client bypass.
  one = new SessionClient({ url: pair.baseA, token: SERVICE_TOKEN, minRetryMs: 600, maxRetryMs: 1200 });
  two = new SessionClient({ url: pair.baseB, token: SERVICE_TOKEN });
  await waitUntil(async () => one.caching && two.caching);
});
afterAll(async () => {
  await one.close();
  await two.close();
  await a.close();
  await b.close();
  await server.destroy();
});

/** Reads through client 1 until `done` holds for what it answers, for at most BOUND_MS. */
async function untilOne<T>(id: string, done: (session: Awaited<ReturnType<SessionClient['get']>>) => T): Promise<void> {
  await waitUntil(async () => Boolean(done(await one.get(id))), BOUND_MS);
}

test('a cached read costs the gateway nothing', async () => {
  const issued = await two.issue({ principal: 'u1', attributes: { user: { id: 1 } } });
  const first = await one.get(issued.id);
  expect(first?.attributes).toEqual({ user: { id: 1 } });
  const requests = one.stats.requests;
  const commands = Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1]);
  for (let i = 0; i < 100; i++) expect((await one.get(issued.id))?.version).toBe(1);
  expect(one.stats.requests).toBe(requests);
  // INFO itself is the one command Redis saw meanwhile.
  expect(Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1])).toBe(commands + 1);
});

test('client 2 revokes through gateway B: client 1 stops returning the session', async () => {
  const { id } = await two.issue({ principal: 'u2' });
  expect((await one.get(id))?.principal).toBe('u2');
  expect(await one.get(id)).not.toBeNull(); // from the cache
  expect(await two.revoke(id)).toBe(true);
  await untilOne(id, (session) => session === null);
  expect(await redis.exists(`${a.config.sessionNamespace}:{${sessionDigest(id)}}`)).toBe(0);
});

test('client 2 updates an attribute: client 1 sees the new version', async () => {
  const { id } = await two.issue({ attributes: { cart: [] } });
  expect((await one.get(id))?.version).toBe(1);
  await two.update(id, { set: { cart: [42] } });
  await untilOne(id, (session) => session?.version === 2);
  expect((await one.get(id))?.attributes).toEqual({ cart: [42] });
});

test("a client's own writes are read back at once, without asking the gateway", async () => {
  const { id } = await one.issue();
  await one.get(id);
  const updated = await one.update(id, { set: { theme: 'dark' } });
  const requests = one.stats.requests;
  expect(await one.get(id)).toEqual(updated);
  expect(one.stats.requests).toBe(requests);
  expect(await one.revoke(id)).toBe(true);
  expect(await one.get(id)).toBeNull();
});

test('concurrent misses for one session are one gateway call; getMany asks once for all its misses', async () => {
  const ids = await Promise.all([1, 2, 3, 4, 5].map(async () => (await two.issue()).id));
  let requests = one.stats.requests;
  const answers = await Promise.all(Array.from({ length: 20 }, () => one.get(ids[0] as string)));
  expect(new Set(answers.map((session) => session?.id))).toEqual(new Set([ids[0]]));
  expect(one.stats.requests).toBe(requests + 1);

  await one.get(ids[1] as string);
  requests = one.stats.requests;
  const many = await one.getMany([...ids, 'not-an-id', ids[2] as string]);
  expect(many.map((session) => session?.id ?? null)).toEqual([...ids, null, ids[2]]);
  expect(one.stats.requests).toBe(requests + 1);
});

test('gateway errors come back as coded errors, and change nothing', async () => {
  const { id } = await two.issue();
  await expect(one.update(id, { set: { a: 1 }, expectedVersion: 7 })).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
  await expect(one.update(id, { set: { a: 1 }, expectedVersion: 7 })).rejects.toBeInstanceOf(SessionGatewayError);
  expect((await one.get(id))?.version).toBe(1);
});

test('the event stream is lost: client 1 bypasses its cache until it is back, then caches again', async () => {
  const { id } = await two.issue({ attributes: { n: 0 } });
  await one.get(id);
  const down = new Promise((resolve) => one.once('stream', resolve));
  await redis.client('KILL', 'TYPE', 'pubsub'); // both gateways lose their change channel
  await down;
  expect(one.caching).toBe(false);

  // While it is down, a change client 1 would not hear of: it must read it from the gateway.
  await two.update(id, { set: { n: 1 } });
  const bypassed = one.stats.bypassed;
  expect((await one.get(id))?.attributes).toEqual({ n: 1 });
  expect(one.stats.bypassed).toBe(bypassed + 1);

  await waitUntil(async () => one.caching, 10_000);
  await one.get(id);
  const requests = one.stats.requests;
  await one.get(id);
  expect(one.stats.requests).toBe(requests); // cached again
});

test('a dropped socket (network failure) also stops the cache at once', async () => {
  const { id } = await two.issue();
  await one.get(id);
  one.dropEventStream();
  expect(one.caching).toBe(false);
  const requests = one.stats.requests;
  expect(await one.get(id)).not.toBeNull();
  expect(one.stats.requests).toBe(requests + 1);
  await waitUntil(async () => one.caching, 10_000);
});

test('an entry lives at most maxTtlMs, and never past the session\'s own expiry', async () => {
  const short = new SessionClient({ url: baseA, token: SERVICE_TOKEN, cache: { maxTtlMs: 300 } });
  try {
    await waitUntil(async () => short.caching);
    const { id } = await two.issue();
    await short.get(id);
    let requests = short.stats.requests;
    await short.get(id);
    expect(short.stats.requests).toBe(requests); // cached
    await new Promise((resolve) => setTimeout(resolve, 400));
    await short.get(id);
    expect(short.stats.requests).toBe(requests + 1); // past maxTtlMs: asked again

    // A session with 2 s to live is not served from the cache after it has expired.
    const brief = await two.issue({ maxInactiveInterval: 2 });
    const long = new SessionClient({ url: baseA, token: SERVICE_TOKEN });
    try {
      await waitUntil(async () => long.caching);
      expect(await long.get(brief.id)).not.toBeNull();
      requests = long.stats.requests;
      await waitUntil(async () => (await long.get(brief.id)) === null, 5000);
      expect(long.stats.requests).toBeGreaterThan(requests); // the gateway said so, not the cache
    } finally {
      await long.close();
    }
  } finally {
    await short.close();
  }
});
