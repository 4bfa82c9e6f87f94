import { MAX_INACTIVE_SECONDS, MAX_LIFETIME_SECONDS } from '../../src/config';
import type { Socket } from 'node:net';
import type Redis from 'ioredis';
import { generateSessionId, sessionDigest } from '../../src/session/ids';
import type { Caller } from '../../src/session/caller';
import { SessionService } from '../../src/sessions/service';
import { redisConnection, singleNode } from '../../src/store/connect';
import { decodeSession, LAST_ACCESS_OFFSET } from '../../src/store/redis-codec';
import { RedisSessionStore } from '../../src/store/redis';
import { changeChannel } from '../../src/store/redis-scripts';
import { commandsOf, uniqueNamespace, waitUntil } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';
import { redisHarness } from './redis-harness';
import { describeLifecycle } from './lifecycle.contract';
import { describeSessionStore } from './store.contract';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => server.destroy());

function openStore(overrides: { maxAttributeBytes?: number; changeHeartbeatMs?: number } = {}): RedisSessionStore {
  return new RedisSessionStore(redisConnection(singleNode(server.url), 2000), {
    namespace: uniqueNamespace(),
    maxAttributeBytes: overrides.maxAttributeBytes ?? 65536,
    commandTimeoutMs: 2000,
    ...(overrides.changeHeartbeatMs === undefined ? {} : { changeHeartbeatMs: overrides.changeHeartbeatMs }),
  });
}

const SERVICE: Caller = { service: true, sessionId: null };

/** The session service on a store, as the gateway builds it. */
function serviceOn(store: RedisSessionStore, touchIntervalSeconds = 60): SessionService {
  const events = { sessionIssued: () => undefined, sessionUpdated: () => undefined, sessionRevoked: () => undefined };
  return new SessionService(store, { limits: { maxAttributeBytes: 65536, defaultInactiveSeconds: 300, mostInactiveSeconds: MAX_INACTIVE_SECONDS, mostLifetimeSeconds: MAX_LIFETIME_SECONDS }, touchIntervalSeconds, events });
}

async function ready(store: RedisSessionStore): Promise<RedisSessionStore> {
  await waitUntil(() => store.ping().then(() => true, () => false));
  return store;
}

describeSessionStore('redis', async (options) => redisHarness(await ready(openStore(options)), redis));
describeLifecycle('redis', async (options) => redisHarness(await ready(openStore(options)), redis));

describe('redis store layout', () => {
  test('keys are the tag-hash-tagged digest of the ID beside the tag\'s index; neither keys nor values hold the ID', async () => {
    const store = await ready(openStore());
    const { id } = await serviceOn(store).issue(SERVICE, { principal: 'u1', attributes: { user: { id: 1 } }, maxInactiveInterval: 300 });
    const namespace = store.keyOf(sessionDigest(id)).split(':')[0];
    const tag = id.slice(0, 4);
    const keys = (await redis.keys(`${namespace}:*`)).sort();
    expect(keys).toEqual([`${namespace}:tag-key`, `${namespace}:{${tag}}:${sessionDigest(id)}`, `${namespace}:{${tag}}:index`].sort());
    const sessionKey = `${namespace}:{${tag}}:${sessionDigest(id)}`;
    const value = await redis.get(sessionKey);
    expect(value).not.toContain(id);
    for (const key of keys) expect(key).not.toContain(id);
    const ttl = await redis.pttl(sessionKey);
    expect(ttl).toBeGreaterThan(290_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
    // The index lists the session under its principal, and expires with it.
    const members = await redis.zrange(`${namespace}:{${tag}}:index`, 0, -1, 'WITHSCORES');
    expect(members).toHaveLength(2);
    expect(members[0]).toMatch(new RegExp(`^[0-9a-f]{16}:${sessionDigest(id)}$`));
    expect(Math.abs(Number(members[1]) - (Date.now() + ttl))).toBeLessThan(1000);
    expect(Math.abs((await redis.pttl(`${namespace}:{${tag}}:index`)) - ttl)).toBeLessThan(1000);
    await store.close();
  });

  test('reading 10 sessions is one Redis command (MGET), and reads within the touch interval write nothing', async () => {
    const store = await ready(openStore());
    const service = serviceOn(store);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await service.issue(SERVICE, { attributes: { user: 1 }, maxInactiveInterval: 300 })).id);
    await service.getMany(ids); // loads the script, so the count below is steady state

    // Only what the store's own connection sends counts; the script's inner calls show as "lua".
    const before = await redis.info('commandstats');
    let records: Awaited<ReturnType<typeof service.getMany>> = [];
    const commands = await commandsOf(server, store.client, async () => {
      records = await service.getMany(ids);
    });
    const after = await redis.info('commandstats');

    expect(records.every((r) => r !== null)).toBe(true);
    expect(records).toHaveLength(10);
    expect(commands.map((command) => command[0])).toEqual(['mget']);
    for (const write of WRITES) expect(calls(after, write)).toBe(calls(before, write));
    await store.close();
  });

  test("the key's TTL always matches the lastAccessedAt and maxInactiveInterval in the value", async () => {
    const store = await ready(openStore());
    const service = serviceOn(store, 0);
    const { id } = await service.issue(SERVICE, { maxInactiveInterval: 300 });
    const key = store.keyOf(sessionDigest(id));
    const check = async (): Promise<void> => {
      const stored = decodeSession((await redis.getBuffer(key)) as Buffer);
      expect(await redis.pexpiretime(key)).toBe(stored.lastAccessedAtMs + stored.maxInactiveSeconds * 1000);
    };
    await check();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const [read] = await service.getMany([id]); // interval 0: every read touches
    expect(read?.lastAccessedAtMs).toBeGreaterThan(read?.createdAtMs ?? Infinity);
    await check();
    await service.update(SERVICE, id, { maxInactiveInterval: 60 });
    await check();
    await service.update(SERVICE, id, { set: { a: 1 } }); // the idle time (60) is not the default (300)
    await check();
    await store.close();
  });

  test('a touch never brings back a session that is gone', async () => {
    const store = await ready(openStore());
    const service = serviceOn(store, 0);
    const { id } = await service.issue(SERVICE, {});
    await service.revoke(SERVICE, id);
    expect(await service.getMany([id])).toEqual([null]);
    expect(await redis.exists(store.keyOf(sessionDigest(id)))).toBe(0);
    await store.close();
  });
});

describe('redis change feed', () => {
  /** Counts the heartbeats published on a store's change channel, from a connection of the test's. */
  async function heartbeatsOf(store: RedisSessionStore): Promise<{ count(): number; settled(): Promise<void>; stop(): void }> {
    const channel = changeChannel(store.keyOf('x').split(':')[0] as string);
    const watcher = server.client();
    let count = 0;
    let sentinels = 0;
    watcher.on('message', (_channel: string, message: string) => {
      if (message.startsWith('HEARTBEAT|')) count++;
      if (message === 'test-sentinel') sentinels++;
    });
    await watcher.subscribe(channel);
    return {
      count: () => count,
      // Everything published before this call has reached the watcher: a sentinel after it has.
      async settled() {
        const expected = sentinels + 1;
        await redis.publish(channel, 'test-sentinel');
        await waitUntil(async () => sentinels === expected);
      },
      stop: () => watcher.disconnect(),
    };
  }

  test('a subscription that silently stops delivering is given up within two heartbeats of silence; the next one works', async () => {
    const store = await ready(openStore({ changeHeartbeatMs: 100 }));
    const heartbeats = await heartbeatsOf(store);
    let lost = '';
    await store.changes.listen({ change: () => undefined, lost: (reason) => (lost = reason) });
    // The feed publishes heartbeats and hears them back.
    await waitUntil(async () => heartbeats.count() >= 3, 10_000);
    expect(lost).toBe('');

    // A half-open connection: no error, no close, simply nothing more arrives. Pausing the
    // subscriber's socket is the nearest a test gets to it.
    (store.changes as unknown as { subscriber: { stream: Socket } }).subscriber.stream.pause();
    await heartbeats.settled();
    const atPause = heartbeats.count();
    await waitUntil(async () => lost !== '', 10_000);
    await heartbeats.settled();
    expect(lost).toBe('the change channel stopped delivering');
    // Time is counted in the feed's own intervals (one heartbeat each), not by the wall clock:
    // it gave up at the first check after two intervals without hearing one back, so at most two
    // went unanswered.
    expect(heartbeats.count() - atPause).toBeLessThanOrEqual(2);

    const seen: string[] = [];
    await store.changes.listen({ change: (change) => seen.push(change.kind), lost: () => undefined });
    await serviceOn(store).issueAnonymous();
    await waitUntil(async () => seen.length === 1);
    expect(seen).toEqual(['ISSUED']);
    heartbeats.stop();
    await store.close();
  });

  test('heartbeats never reach listeners', async () => {
    const store = await ready(openStore({ changeHeartbeatMs: 20 }));
    const heartbeats = await heartbeatsOf(store);
    const seen: string[] = [];
    await store.changes.listen({ change: (change) => seen.push(change.kind), lost: () => undefined });
    await waitUntil(async () => heartbeats.count() >= 5);
    // A real change after them: the channel is ordered, so the listener has had the heartbeats
    // by the time it hears this.
    await serviceOn(store).issueAnonymous();
    await waitUntil(async () => seen.length > 0);
    expect(seen).toEqual(['ISSUED']);
    heartbeats.stop();
    await store.close();
  });
});

/** Every command the store can write with. */
const WRITES = ['set', 'setrange', 'pexpireat', 'pexpire', 'del', 'evalsha', 'eval'];

function calls(info: string, command: string): number {
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}
