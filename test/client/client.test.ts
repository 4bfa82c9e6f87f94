/**
 * The client library against the real thing: one Redis, two gateway instances (A and B), and
 * for every test two fresh clients (1 on A, 2 on B), so no test leans on what an earlier one
 * cached or broke. What one client changes, the other stops serving from its cache within a
 * bound; its own writes it sees at once; a lost event stream means no cache until it is back.
 * Waits are generous (2 s) so they never flake; the benchmark measures the real bound. Costs are
 * counted in what they are (the gateway's own request counter, Redis's per-command counts of
 * the read commands), never in totals that heartbeats and other traffic also move.
 */
import type Redis from 'ioredis';
import { SessionClient, SessionGatewayError } from '../../src/client';
import { sessionDigest } from '../../src/session/ids';
import type { RedisSessionStore } from '../../src/store/redis';
import { SERVICE_TOKEN, startGateway, startGatewayPair, waitUntil, type Gateway } from '../support/gateway';
import { startGatewayProcess } from '../support/gateway-process';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
let redis: Redis;
let a: Gateway;
let b: Gateway;
let baseA: string;
let baseB: string;
let one: SessionClient;
let two: SessionClient;

const BOUND_MS = 2000;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  ({ a, b, baseA, baseB } = await startGatewayPair(server.url));
});
beforeEach(async () => {
  // A long minimum retry, so a lost stream stays lost long enough to watch the client bypass.
  one = new SessionClient({ url: baseA, token: SERVICE_TOKEN, minRetryMs: 600, maxRetryMs: 1200 });
  two = new SessionClient({ url: baseB, token: SERVICE_TOKEN });
  await waitUntil(async () => one.caching && two.caching, 10_000);
});
afterEach(async () => {
  await one.close();
  await two.close();
});
afterAll(async () => {
  await a.close();
  await b.close();
  await server.destroy();
});

/** Calls Redis has counted of these commands (INFO commandstats), whoever sent them. */
async function calls(commands: readonly string[]): Promise<number> {
  const info = await redis.info('commandstats');
  return commands.reduce((sum, command) => sum + Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0), 0);
}

/** GraphQL requests gateway A has answered (its own request metric, every operation and outcome). */
async function graphqlRequests(gateway: Gateway): Promise<number> {
  const text = (await gateway.http.get('/metrics')).text;
  let total = 0;
  for (const match of text.matchAll(/^gateway_http_request_duration_seconds_count\{route="\/graphql",[^}]*\} (\d+)$/gm)) total += Number(match[1]);
  return total;
}

/** Reads through client 1 until `done` holds for what it answers, for at most BOUND_MS. */
async function untilOne<T>(id: string, done: (session: Awaited<ReturnType<SessionClient['get']>>) => T): Promise<void> {
  await waitUntil(async () => Boolean(done(await one.get(id))), BOUND_MS);
}

test('a cached read costs the gateway nothing: no request to it, no read in Redis', async () => {
  const issued = await two.issue({ principal: 'u1', attributes: { user: { id: 1 } } });
  const first = await one.get(issued.id);
  expect(first?.attributes).toEqual({ user: { id: 1 } });
  const requests = one.stats.requests;
  const answered = await graphqlRequests(a);
  const reads = await calls(['get', 'mget', 'evalsha', 'eval']);
  for (let i = 0; i < 100; i++) expect((await one.get(issued.id))?.version).toBe(1);
  expect(one.stats.requests).toBe(requests);
  expect(one.stats.hits).toBe(100);
  expect(await graphqlRequests(a)).toBe(answered);
  expect(await calls(['get', 'mget', 'evalsha', 'eval'])).toBe(reads);
});

test('client 2 revokes through gateway B: client 1 stops returning the session', async () => {
  const { id } = await two.issue({ principal: 'u2' });
  expect((await one.get(id))?.principal).toBe('u2');
  const requests = one.stats.requests;
  expect((await one.get(id))?.id).toBe(id);
  expect(one.stats.requests).toBe(requests); // from the cache
  expect(await two.revoke(id)).toBe(true);
  await untilOne(id, (session) => session === null);
  expect(await redis.exists((a.store as RedisSessionStore).keyOf(sessionDigest(id)))).toBe(0);
});

test('client 2 signs a session in by rotation: client 1 drops the old ID (told why), and reads the new one', async () => {
  const anonymous = await two.issue({ attributes: { cart: [7] } });
  expect((await one.get(anonymous.id))?.attributes).toEqual({ cart: [7] });
  const reasons: Array<string | null> = [];
  one.on('change', (event: { digest: string; reason: string | null }) => {
    if (event.digest === anonymous.digest) reasons.push(event.reason);
  });
  const signedIn = await two.rotate(anonymous.id, { principal: 'member-7', device: { userAgent: 'Phone' } });
  expect(signedIn).toMatchObject({ principal: 'member-7', attributes: { cart: [7] }, version: 2 });
  expect(signedIn.authenticatedAt).not.toBeNull();
  expect(await two.get(anonymous.id)).toBeNull(); // its own write: at once
  await untilOne(anonymous.id, (session) => session === null);
  await waitUntil(async () => reasons.length > 0, BOUND_MS);
  expect(reasons).toEqual(['ROTATED']);
  expect((await one.get(signedIn.id))?.principal).toBe('member-7');
  expect((await one.sessionsOf('member-7')).map((s) => s.handle)).toEqual([signedIn.digest]);
});

test('revokePrincipalSessions: every session of the principal is gone for this client at once, and for the other within the bound', async () => {
  const sessions = await Promise.all([1, 2, 3].map(() => two.issue({ principal: 'member-8' })));
  for (const s of sessions) {
    expect((await one.get(s.id))?.principal).toBe('member-8');
    expect((await two.get(s.id))?.principal).toBe('member-8');
  }
  expect(await two.revokePrincipalSessions('member-8')).toBe(3);
  for (const s of sessions) expect(await two.get(s.id)).toBeNull();
  for (const s of sessions) await untilOne(s.id, (session) => session === null);
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
  expect((await one.get(id))?.id).toBe(id);
  expect(one.stats.requests).toBe(requests + 1);
  await waitUntil(async () => one.caching, 10_000);
});

test('an entry lives at most maxTtlMs', async () => {
  // Wide margins: the entry must still be cached right after it was stored (1.5 s to get there),
  // and must be asked for again once maxTtlMs has passed (time passing is the point here).
  const MAX_TTL_MS = 1500;
  const short = new SessionClient({ url: baseA, token: SERVICE_TOKEN, cache: { maxTtlMs: MAX_TTL_MS } });
  try {
    await waitUntil(async () => short.caching, 10_000);
    const { id } = await two.issue();
    await short.get(id);
    const requests = short.stats.requests;
    await short.get(id);
    expect(short.stats.requests).toBe(requests); // cached
    await new Promise((resolve) => setTimeout(resolve, MAX_TTL_MS + 100));
    await short.get(id);
    expect(short.stats.requests).toBe(requests + 1); // past maxTtlMs: asked again
  } finally {
    await short.close();
  }
});

test("an entry never outlives the session's own expiry", async () => {
  // A session with 5 s to live, read through a client whose maxTtlMs (60 s) is far longer: the
  // client must stop serving it by the session's expiry, and it is the gateway that says so.
  const brief = await two.issue({ maxInactiveInterval: 5 });
  expect((await one.get(brief.id))?.id).toBe(brief.id);
  const requests = one.stats.requests;
  await waitUntil(async () => (await one.get(brief.id)) === null, 15_000);
  expect(one.stats.requests).toBeGreaterThan(requests); // the gateway said so, not the cache
  expect(await redis.exists(`${a.config.sessionNamespace}:{${sessionDigest(brief.id)}}`)).toBe(0);
});

test('a gateway that stops answering pings (its process frozen) is given up after pongTimeoutMs; thawed, the client caches again', async () => {
  const frozen = await startGatewayProcess({ redisUrl: server.url, namespace: a.config.sessionNamespace });
  const client = new SessionClient({ url: `http://${frozen.address}`, token: SERVICE_TOKEN, keepAliveMs: 200, pongTimeoutMs: 400, minRetryMs: 50, maxRetryMs: 100 });
  const downs: string[] = [];
  client.on('stream', (state: string, reason?: string) => {
    if (state === 'down') downs.push(reason ?? '');
  });
  try {
    await waitUntil(async () => client.caching, 10_000);
    frozen.signal('SIGSTOP'); // the socket stays open; nothing answers on it
    await waitUntil(async () => !client.caching, 10_000);
    expect(downs).toEqual(['no pong from the gateway in time']);
    frozen.signal('SIGCONT');
    await waitUntil(async () => client.caching, 15_000);
  } finally {
    frozen.signal('SIGCONT');
    await client.close();
    await frozen.kill();
  }
});

test('with a rotation grace, a read of the old ID answers the new session but is never cached: after the grace it is null', async () => {
  const graced = await startGateway({ redisUrl: server.url, env: { SESSION_NAMESPACE: a.config.sessionNamespace, ROTATION_GRACE_SECONDS: '1' } });
  const base = await graced.app.listen({ port: 0, host: '127.0.0.1' });
  const client = new SessionClient({ url: base, token: SERVICE_TOKEN });
  try {
    await waitUntil(async () => client.caching, 10_000);
    const old = await client.issue({ principal: 'member-9', attributes: { n: 1 } });
    const rotated = await client.rotate(old.id);
    const during = await client.get(old.id);
    expect(during?.id).toBe(rotated.id);
    const requests = client.stats.requests;
    await client.get(old.id);
    expect(client.stats.requests).toBe(requests + 1); // asked again: not served from the cache
    await waitUntil(async () => (await client.get(old.id)) === null, 5000);
    expect((await client.get(rotated.id))?.attributes).toEqual({ n: 1 });
  } finally {
    await client.close();
    await graced.close();
  }
});
