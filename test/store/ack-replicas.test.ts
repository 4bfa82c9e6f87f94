/**
 * REDIS_ACK_REPLICAS: which replicas a write must reach before it is acknowledged (WAIT in the
 * same pipeline as the write). By default every replica the primary has (store/replica-acks.ts);
 * with a number, exactly that many. Over a real primary and replica; the replica is stopped,
 * frozen and promoted to show what a caller hears in each case.
 */
import { commandsOf, SERVICE, startGateway, waitUntil, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';
import { sessionDigest } from '../../src/session/ids';
import type { RedisSessionStore } from '../../src/store/redis';

let primary: RedisServer;
let replica: RedisServer;

const online = async (): Promise<boolean> => /slave0:.*state=online/.test(await primary.client().info('replication'));

beforeAll(async () => {
  primary = await startRedis();
  replica = await startRedis({ replicaOf: primary.port });
  await waitUntil(online, 10_000);
  // The replica answers acknowledgements (it may still be loading what it was sent at first).
  const probe = primary.client();
  await probe.set('warm-up', '1');
  expect(await probe.wait(1, 10_000)).toBe(1);
});
afterAll(async () => {
  await replica.destroy();
  await primary.destroy();
});

const ISSUE = 'mutation { issueSession(input: { principal: "acked" }) { id version } }';

const issue = async (gateway: Gateway): Promise<{ id: string | undefined; error: { message: string; extensions?: Record<string, unknown> } | undefined }> => {
  const response = await gateway.gql(ISSUE, {}, SERVICE);
  return { id: response.body.data?.issueSession?.id as string | undefined, error: response.body.errors?.[0] };
};

const keyOf = (gateway: Gateway, id: string): string => (gateway.store as RedisSessionStore).keyOf(sessionDigest(id));

describe('by default (no REDIS_ACK_REPLICAS): every replica the primary has', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway({ redisUrl: primary.url, env: { REDIS_COMMAND_TIMEOUT_MS: '500' } });
  });
  afterAll(async () => gateway.close());

  test('acknowledged writes are on the replica already', async () => {
    const fromReplica = replica.client();
    for (let i = 0; i < 20; i++) {
      const issued = await issue(gateway);
      expect(issued.error).toBeUndefined();
      // Acknowledged means on the replica already: read there at once, no waiting.
      expect(await fromReplica.exists(keyOf(gateway, issued.id as string))).toBe(1);
      const updated = await gateway.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { n: 1 } }) { version } }', { id: issued.id }, SERVICE);
      expect(updated.body.data?.updateSession.version).toBe(2);
      expect(await fromReplica.get(keyOf(gateway, issued.id as string))).toEqual(await primary.client().get(keyOf(gateway, issued.id as string)));
    }
  });

  test('a replica stopped: writes still succeed (the writes in flight after one WAIT timeout); started again, it is waited for again', async () => {
    await replica.stop();
    // As many writes at once as there are writer connections: none fails, each waits at most one WAIT.
    const during = await Promise.all(Array.from({ length: 4 }, () => issue(gateway)));
    expect(during.map((issued) => issued.error)).toEqual([undefined, undefined, undefined, undefined]);
    const fromPrimary = primary.client();
    for (const issued of during) expect(await fromPrimary.exists(keyOf(gateway, issued.id as string))).toBe(1);
    const after = await issue(gateway);
    expect(after.error).toBeUndefined();

    await replica.start();
    await waitUntil(online, 10_000);
    // Writes reach it again: a session acknowledged now is on the replica at once.
    const fromReplica = replica.client();
    await waitUntil(async () => {
      const issued = await issue(gateway);
      return issued.error === undefined && (await fromReplica.exists(keyOf(gateway, issued.id as string))) === 1;
    }, 10_000);
    // And it is required again, not merely fast: frozen, it makes a write unconfirmed.
    const pid = Number(/process_id:(\d+)/.exec(await fromReplica.info('server'))?.[1]);
    process.kill(pid, 'SIGSTOP');
    let unconfirmed: Awaited<ReturnType<typeof issue>> | undefined;
    try {
      await waitUntil(async () => {
        const issued = await issue(gateway);
        if (issued.error !== undefined) unconfirmed = issued;
        return issued.error !== undefined;
      }, 10_000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(unconfirmed?.error?.extensions).toEqual({ code: 'STORE_UNAVAILABLE', outcome: 'UNKNOWN' });
    expect(unconfirmed?.error?.message).toMatch(/wrote it on the primary, but 0 of the 1 replicas it must reach confirmed it within 350 ms \(127\.0\.0\.1:\d+ did not answer within \d+ ms\)/);
    await waitUntil(async () => (await issue(gateway)).error === undefined, 10_000);
  });

  test('the replica promoted (a failover under way): a write is unconfirmed (UNKNOWN), not acknowledged on the old primary alone', async () => {
    const promoted = replica.client();
    await promoted.replicaof('NO', 'ONE');
    try {
      const issued = await issue(gateway);
      expect(issued.error?.extensions).toEqual({ code: 'STORE_UNAVAILABLE', outcome: 'UNKNOWN' });
      expect(issued.error?.message).toMatch(/0 of the 1 replicas it must reach confirmed it .*answers as a primary: a failover is under way.*read the session \(or pass expectedVersion\) before retrying/);
      // What the caller was told holds: the write is on the primary, not on the promoted replica.
      const [kind] = (await promoted.call('ROLE')) as [string];
      expect(kind).toBe('master');
    } finally {
      await promoted.replicaof('127.0.0.1', String(primary.port));
    }
    await waitUntil(online, 10_000);
    await waitUntil(async () => (await issue(gateway)).error === undefined, 10_000);
  });
});

describe('a primary with no replica, by default', () => {
  test('writes take the main connection with no WAIT: nothing to wait for', async () => {
    const alone = await startRedis();
    const gateway = await startGateway({ redisUrl: alone.url });
    try {
      expect((await issue(gateway)).error).toBeUndefined(); // the replicas (none) learned
      const seen: string[] = [];
      const monitor = await alone.client().monitor();
      monitor.on('monitor', (_time: string, args: string[]) => seen.push(String(args[0]).toLowerCase()));
      const commands = await commandsOf(alone, (gateway.store as RedisSessionStore).client, async () => {
        expect((await issue(gateway)).error).toBeUndefined();
      });
      monitor.disconnect();
      expect(commands.map((command) => command[0])).toEqual(['evalsha']);
      expect(seen).not.toContain('wait');
    } finally {
      await gateway.close();
      await alone.destroy();
    }
  });
});

describe('REDIS_ACK_REPLICAS=1: exactly one replica, whatever the primary has', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway({ redisUrl: primary.url, env: { REDIS_ACK_REPLICAS: '1', REDIS_COMMAND_TIMEOUT_MS: '500' } });
  });
  afterAll(async () => gateway.close());

  test('with the replica up, the replica holds every acknowledged session', async () => {
    const fromReplica = replica.client();
    for (let i = 0; i < 5; i++) {
      const issued = await issue(gateway);
      expect(issued.error).toBeUndefined();
      expect(await fromReplica.exists(keyOf(gateway, issued.id as string))).toBe(1);
    }
  });

  test('with the replica gone, a write answers STORE_UNAVAILABLE with outcome UNKNOWN (it is on the primary, not confirmed); reads still work', async () => {
    const before = await issue(gateway);
    const kept = before.id as string;
    await replica.stop();
    const probe = primary.client();
    await waitUntil(async () => /connected_slaves:0/.test(await probe.info('replication')), 10_000);

    const issued = await issue(gateway);
    expect(issued.error?.extensions).toEqual({ code: 'STORE_UNAVAILABLE', outcome: 'UNKNOWN' });
    expect(issued.error?.message).toMatch(/0 of the 1 replicas asked for confirmed it/);
    const updated = await gateway.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { n: 2 } }) { version } }', { id: kept }, SERVICE);
    expect(updated.body.errors?.[0]?.extensions).toEqual({ code: 'STORE_UNAVAILABLE', outcome: 'UNKNOWN' });
    // What the caller was told holds: the write is on the primary (it may be lost on a failover).
    const read = await gateway.gql('query { session { version attributes } }', {}, { 'X-Session-ID': kept });
    expect(read.body.data?.session).toEqual({ version: 2, attributes: { n: 2 } });
    // A write that changes nothing answers as it would (no replica needed to confirm nothing).
    const missing = await gateway.gql('mutation { revokeSession(id: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") }', {}, SERVICE);
    expect(missing.body).toEqual({ data: { revokeSession: false } });

    await replica.start();
    await waitUntil(online, 10_000);
    await waitUntil(async () => (await issue(gateway)).error === undefined, 10_000);
  });
});
