/**
 * With SESSION_CACHE=on, a revocation is final everywhere when it returns: no gateway's cache
 * serves the session to a read that starts after that. Two gateways on one real redis-server;
 * every connection of the second one goes through a proxy process that holds Redis's answers
 * back by a random delay per connection, so its change feed's messages arrive after replies Redis
 * sent later on other connections (the race a near cache loses without leases). Then a cache
 * whose connections freeze (the proxy SIGSTOPped), and a gateway killed while it holds a lease.
 * Beside the gateways' caches, two client libraries' near caches (one on each gateway) hold
 * leases too, and are raced the same way.
 */
import type { default as Redis } from 'ioredis';
import { SessionClient } from '../src/client';
import { SERVICE, SERVICE_TOKEN, startGateway, uniqueNamespace, waitUntil, type Gateway } from './support/gateway';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process';
import { startProxy, type ProxyProcess } from './support/proxy';
import { startRedis, type RedisServer } from './support/redis-server';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});

const CACHED = { SESSION_CACHE: 'on', TOUCH_INTERVAL: '600', ROTATION_GRACE_SECONDS: '0', MAX_SESSIONS_PER_PRINCIPAL: '2', SESSION_LIMIT_POLICY: 'evict' };

/** The leases the registry holds live now, by name. */
async function leases(namespace: string): Promise<string[]> {
  const [seconds, micros] = await redis.time();
  return (await redis.zrangebyscore(`${namespace}:caches`, `(${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)}`, '+inf')).sort();
}

interface Issued {
  readonly id: string;
  readonly digest: string;
}

/** Something that answers GraphQL: a gateway through supertest, or one listening, over a kept-alive connection (`over`). */
type Gql = Pick<Gateway, 'gql'>;

/** `base`'s GraphQL over fetch, whose connections are kept alive (the 1,000 trials send many requests). */
function over(base: string): Gql {
  return {
    async gql(query, variables, headers = {}) {
      const response = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
      return { status: response.status, headers: Object.fromEntries(response.headers), body: (await response.json()) as never };
    },
  };
}

async function issue(gateway: Gql, principal: string): Promise<Issued> {
  const response = await gateway.gql('mutation($input: IssueSessionInput) { issueSession(input: $input) { id digest } }', { input: { principal } }, SERVICE);
  expect(response.body.errors).toBeUndefined();
  return response.body.data?.issueSession as Issued;
}

type Door = 'GraphQL' | 'REST';

/** A frontend's read of `id` through `gateway`: whether it answered that session. */
async function served(gateway: Gateway, id: string, door: Door): Promise<boolean> {
  if (door === 'GraphQL') {
    const response = await gateway.gql('{ session { version } }', {}, { 'X-Session-ID': id });
    if (response.body.errors !== undefined) throw new Error(JSON.stringify(response.body.errors));
    return response.body.data?.session !== null;
  }
  const response = await gateway.http.get('/api/v2/session').set('X-Session-ID', id);
  if (response.status !== 200) throw new Error(`REST answered ${response.status}: ${response.text}`);
  return response.headers['x-session-id'] === id; // gone: the shim issues another
}

/** The same read over a kept-alive connection to a gateway listening at `base` (the 1,000 trials' many reads). */
async function servedAt(base: string, id: string, door: Door): Promise<boolean> {
  const response =
    door === 'GraphQL'
      ? await fetch(`${base}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Session-ID': id }, body: '{"query":"{ session { version } }"}' })
      : await fetch(`${base}/api/v2/session`, { headers: { 'X-Session-ID': id } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${door} answered ${response.status}: ${text}`);
  if (door === 'REST') return response.headers.get('x-session-id') === id; // gone: the shim issues another
  const body = JSON.parse(text) as { data?: { session: unknown }; errors?: unknown };
  if (body.errors !== undefined) throw new Error(text);
  return body.data?.session !== null;
}

const KINDS = ['logout', 'service', 'handle', 'others', 'principal', 'rotation', 'eviction'] as const;
type Kind = (typeof KINDS)[number];

/** A session of a principal of its own, and the revocation of `kind` that ends it (checked to have done so). */
async function revocation(gateway: Gql, kind: Kind, principal: string): Promise<{ victim: Issued; revoke: () => Promise<void> }> {
  const victim = await issue(gateway, principal);
  const other = kind === 'handle' || kind === 'others' || kind === 'eviction' ? await issue(gateway, principal) : null;
  const run = async (query: string, variables: Record<string, unknown>, headers: Record<string, string>, expected: unknown): Promise<void> => {
    const response = await gateway.gql(query, variables, headers);
    expect(response.body.errors).toBeUndefined();
    expect(Object.values(response.body.data ?? {})[0]).toEqual(expected);
  };
  const revoke = {
    logout: () => run('mutation { revokeSession }', {}, { 'X-Session-ID': victim.id }, true),
    service: () => run('mutation($id: ID) { revokeSession(id: $id) }', { id: victim.id }, SERVICE, true),
    handle: () => run('mutation($h: String) { revokeSession(handle: $h) }', { h: victim.digest }, { 'X-Session-ID': other?.id as string }, true),
    others: () => run('mutation { revokeOtherSessions }', {}, { 'X-Session-ID': other?.id as string }, 1),
    principal: () => run('mutation($p: String!) { revokePrincipalSessions(principal: $p) }', { p: principal }, SERVICE, 1),
    rotation: () => run('mutation { rotateSession { principal } }', {}, { 'X-Session-ID': victim.id }, { principal }),
    // The principal's third session: the limit (2) evicts the least recently used, the victim.
    eviction: async () => void (await issue(gateway, principal)),
  }[kind];
  return { victim, revoke };
}

describe('1,000 revocations racing reads through another gateway whose connections reorder, and two client caches', () => {
  let proxy: ProxyProcess;
  let a: Gateway;
  let b: Gateway;
  let clients: SessionClient[];
  let baseB: string;
  let overA: Gql;
  let namespace: string;

  beforeAll(async () => {
    proxy = await startProxy(server.port, 4);
    namespace = uniqueNamespace();
    a = await startGateway({ redisUrl: server.url, env: { ...CACHED, SESSION_NAMESPACE: namespace } });
    b = await startGateway({ redisUrl: proxy.url, env: { ...CACHED, SESSION_NAMESPACE: namespace } });
    const bases = [await a.app.listen({ port: 0, host: '127.0.0.1' }), await b.app.listen({ port: 0, host: '127.0.0.1' })];
    baseB = bases[1] as string;
    overA = over(bases[0] as string);
    clients = bases.map((url) => new SessionClient({ url, token: SERVICE_TOKEN }));
    await waitUntil(async () => clients.every((client) => client.caching) && (await leases(namespace)).length === 4, 10_000);
  });
  afterAll(async () => {
    for (const client of clients ?? []) await client.close();
    await a?.close();
    await b?.close();
    await proxy?.stop();
  });

  test('no read that starts after the revocation returned answers the session, for every kind of revocation', async () => {
    const TRIALS = 1000;
    const CONCURRENT = 8;
    const late: string[] = [];
    let racedReads = 0;
    let next = 0;
    const trial = async (n: number): Promise<void> => {
      const kind = KINDS[n % KINDS.length] as Kind;
      const door: Door = n % 2 === 0 ? 'GraphQL' : 'REST';
      const { victim, revoke } = await revocation(overA, kind, `final-${n}`);
      // Cached on B and in both clients: each second read is a hit.
      const readers: Array<[string, () => Promise<boolean>]> = [
        [`gateway B (${door})`, () => servedAt(baseB, victim.id, door)],
        ...clients.map((client, at): [string, () => Promise<boolean>] => [`client ${at}`, async () => (await client.get(victim.id)) !== null]),
      ];
      for (const [, read] of readers) {
        expect(await read()).toBe(true);
        expect(await read()).toBe(true);
      }
      let returnedAt = Number.POSITIVE_INFINITY;
      let racing = true;
      const reads: Array<{ reader: string; startedAt: number; served: boolean }> = [];
      const racers = readers.map(async ([reader, read]) => {
        while (racing) {
          const startedAt = performance.now();
          reads.push({ reader, startedAt, served: await read() });
          // A client's hit answers from memory with no I/O: let the event loop turn between reads.
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
      await revoke();
      returnedAt = performance.now();
      for (const [reader, read] of readers) {
        const startedAt = performance.now();
        reads.push({ reader, startedAt, served: await read() });
      }
      racing = false;
      await Promise.all(racers);
      racedReads += reads.length;
      for (const read of reads) if (read.startedAt > returnedAt && read.served) late.push(`${kind}: ${read.reader}, trial ${n}`);
    };
    await Promise.all(
      Array.from({ length: CONCURRENT }, async () => {
        while (next < TRIALS) await trial(next++);
      }),
    );
    expect(late).toEqual([]);
    expect(racedReads).toBeGreaterThan(TRIALS * 9);
    // Every lease is still held: no cache was cut (each confirmed in time).
    expect((await leases(namespace)).length).toBe(4);
    expect(clients.every((client) => client.caching)).toBe(true);
  }, 180_000);
});

test('a cache whose connections freeze stops serving within its lease, and a revocation waits its lease out', async () => {
  const proxy = await startProxy(server.port, 0);
  const namespace = uniqueNamespace();
  const env = { ...CACHED, SESSION_NAMESPACE: namespace, SESSION_CACHE_LEASE_MS: '1500', REDIS_COMMAND_TIMEOUT_MS: '300' };
  const a = await startGateway({ redisUrl: server.url, env });
  const b = await startGateway({ redisUrl: proxy.url, env });
  try {
    await waitUntil(async () => (await leases(namespace)).length === 2, 10_000);
    const kept = await issue(a, 'frozen-1');
    const revoked = await issue(a, 'frozen-2');
    for (const id of [kept.id, revoked.id]) {
      expect(await served(b, id, 'GraphQL')).toBe(true);
      expect(await served(b, id, 'GraphQL')).toBe(true); // a hit
    }
    proxy.freeze();
    const frozenAt = performance.now();
    // Revoked through A meanwhile: it returns only once B's lease has ended.
    const answer = await a.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: revoked.id }, SERVICE);
    expect(answer.body.data?.revokeSession).toBe(true);
    const revokedAt = performance.now();
    // B cannot answer from its cache any more, nor reach Redis: an honest error, never the session.
    const read = await b.gql('{ session { version } }', {}, { 'X-Session-ID': revoked.id });
    expect(read.body.errors?.[0]?.extensions?.code).toBe('STORE_UNAVAILABLE');
    // Its lease ran out by its own clock, with no one to tell it: the session not revoked is not served either.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, frozenAt + 1500 - performance.now())));
    const other = await b.gql('{ session { version } }', {}, { 'X-Session-ID': kept.id });
    expect(other.body.errors?.[0]?.extensions?.code).toBe('STORE_UNAVAILABLE');
    // The revocation cut B's lease: gone from the registry (A's is there).
    expect(await leases(namespace)).toHaveLength(1);
    proxy.thaw();
    // Thawed, B takes a new lease and serves again, without the revoked session.
    await waitUntil(async () => (await leases(namespace)).length === 2, 10_000);
    expect(await served(b, revoked.id, 'GraphQL')).toBe(false);
    expect(await served(b, kept.id, 'GraphQL')).toBe(true);
    expect(revokedAt).toBeGreaterThan(frozenAt);
  } finally {
    proxy.thaw();
    await a.close();
    await b.close();
    await proxy.stop();
  }
}, 60_000);

test('a gateway killed while it holds a lease: the next revocation waits that lease out once, cuts it, and the ones after wait for nobody', async () => {
  const namespace = uniqueNamespace();
  const env = { SESSION_CACHE: 'on', SESSION_CACHE_LEASE_MS: '1500', TOUCH_INTERVAL: '600' };
  const killed: GatewayProcess = await startGatewayProcess({ redisUrl: server.url, namespace, env });
  const a = await startGateway({ redisUrl: server.url, env: { ...env, SESSION_NAMESPACE: namespace } });
  try {
    await waitUntil(async () => (await leases(namespace)).length === 2, 10_000);
    const before = await leases(namespace);
    const first = await issue(a, 'killed-1');
    const second = await issue(a, 'killed-2');
    // Cached in the process about to die.
    for (let i = 0; i < 2; i++) {
      const read = await fetch(`http://${killed.address}/api/v2/session`, { headers: { 'X-Session-ID': first.id } });
      expect(read.headers.get('x-session-id')).toBe(first.id);
    }
    await killed.kill();
    expect(await leases(namespace)).toEqual(before); // dead, but its lease still runs
    const answer = await a.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: first.id }, SERVICE);
    expect(answer.body.data?.revokeSession).toBe(true);
    // Cut: only A's own lease is left, so the next revocation has no one to wait for.
    const left = await leases(namespace);
    expect(left).toHaveLength(1);
    expect(before).toContain(left[0]);
    const again = await a.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: second.id }, SERVICE);
    expect(again.body.data?.revokeSession).toBe(true);
    expect(await leases(namespace)).toEqual(left);
  } finally {
    await a.close();
    await killed.kill();
  }
}, 60_000);

test('a gateway that closes gives its lease up before it is closed: no revocation waits for it', async () => {
  const namespace = uniqueNamespace();
  const env = { ...CACHED, SESSION_NAMESPACE: namespace };
  const a = await startGateway({ redisUrl: server.url, env });
  const b = await startGateway({ redisUrl: server.url, env });
  try {
    await waitUntil(async () => (await leases(namespace)).length === 2, 10_000);
    await b.close();
    expect(await leases(namespace)).toHaveLength(1);
  } finally {
    await a.close();
  }
  expect(await leases(namespace)).toEqual([]);
});
