/**
 * The Cluster and Sentinel fixtures themselves, with plain ioredis (no gateway): they start, the
 * clients the gateway would use work through them, and each kind of failover ends with a new
 * primary those clients reach again. Also what the fixtures make visible for the gateway's own
 * tests: which acknowledged writes a failover keeps, and which it silently drops.
 */
import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import { command, sleep, startCluster, type RedisCluster } from './support/redis-cluster';
import { startSentinelGroup, type SentinelGroup } from './support/redis-sentinel';

/** Retries `attempt` until it resolves (at most `ms`); the last error if it never does. */
async function eventually<T>(attempt: () => Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

/** Writes `prefix:i` = i one after another until stopped; which writes were acknowledged. */
function keepWriting(client: Redis | Cluster, prefix: string) {
  const acked: string[] = [];
  const errors = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      try {
        await client.set(`${prefix}:${i}`, String(i));
        acked.push(`${prefix}:${i}`);
      } catch (error) {
        errors.add((error as Error).message);
      }
      await sleep(20);
    }
  })();
  return {
    acked,
    errors,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** The acknowledged keys `client` cannot read back (with their values). */
async function lostOf(client: Redis | Cluster, acked: string[]): Promise<string[]> {
  const lost: string[] = [];
  for (const key of acked) if ((await client.get(key)) !== key.slice(key.lastIndexOf(':') + 1)) lost.push(key);
  return lost;
}

let cluster: RedisCluster;
let group: SentinelGroup;
let secured: SentinelGroup;

/** Resolves to what `starting` does, logging how long it took. */
async function timed<T>(what: string, starting: Promise<T>): Promise<T> {
  const began = Date.now();
  const started = await starting;
  console.log(`${what} up in ${(Date.now() - began) / 1000} s`);
  return started;
}

beforeAll(async () => {
  // All at once: a start is mostly waiting (for the cluster handshake, the sentinels' hellos).
  const [a, b, c] = await Promise.allSettled([
    timed('cluster of 6 nodes', startCluster()),
    timed('sentinel group', startSentinelGroup()),
    timed('sentinel group with a password', startSentinelGroup({ password: 'pa ss"word', name: 'secured' })),
  ]);
  if (a.status === 'fulfilled') cluster = a.value;
  if (b.status === 'fulfilled') group = b.value;
  if (c.status === 'fulfilled') secured = c.value;
  for (const result of [a, b, c]) if (result.status === 'rejected') throw result.reason;
});
afterAll(async () => {
  await Promise.all([cluster?.destroy(), group?.destroy(), secured?.destroy()]);
});

describe('Redis Cluster fixture', () => {
  let client: Cluster;

  beforeAll(() => {
    client = cluster.client();
  });

  test('three primaries with a replica each; seeds name every node', () => {
    const roles = cluster.nodes.map((node) => node.role);
    expect(roles.filter((role) => role === 'primary')).toHaveLength(3);
    expect(roles.filter((role) => role === 'replica')).toHaveLength(3);
    expect(new Set(cluster.nodes.map((node) => node.id)).size).toBe(6);
    expect(cluster.nodes.every((node) => /^[0-9a-f]{40}$/.test(node.id) && node.running)).toBe(true);
    expect(cluster.seeds).toBe(cluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(','));
    expect(cluster.seedNodes).toEqual(cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
  });

  test('SET/GET in many slots through the Cluster client; primaryFor agrees with the client and the node', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `spread:${i}`);
    for (const key of keys) await client.set(key, `value of ${key}`);
    for (const key of keys) expect(await client.get(key)).toBe(`value of ${key}`);

    const primaries = new Set<number>();
    for (const key of keys.slice(0, 30)) {
      const owner = await cluster.primaryFor(key);
      primaries.add(owner.port);
      expect(cluster.nodes.find((node) => node.port === owner.port)?.role).toBe('primary');
      expect(client.slots[owner.slot]?.[0]).toBe(`127.0.0.1:${owner.port}`); // the client's slot map
      const direct = cluster.nodeClient(owner.port);
      expect(await direct.get(key)).toBe(`value of ${key}`); // no MOVED: that node serves it
      await direct.quit();
    }
    expect(primaries.size).toBe(3);
  });

  test('graceful failover: the replica takes over, the client follows, no acknowledged write is lost', async () => {
    await client.set('graceful:{a}', 'before');
    const { port: old } = await cluster.primaryFor('graceful:{a}');
    const replicas = cluster.nodes.filter((node) => node.role === 'replica').map((node) => node.port);

    const writer = keepWriting(client, 'graceful-writes');
    await sleep(200);
    const { newPrimaryPort, seconds } = await cluster.failover(old, 'graceful');
    console.log(`cluster graceful failover (CLUSTER FAILOVER) settled in ${seconds} s`);
    expect(replicas).toContain(newPrimaryPort);
    expect((await cluster.primaryFor('graceful:{a}')).port).toBe(newPrimaryPort);
    expect(cluster.nodes.find((node) => node.port === old)?.role).toBe('replica');

    await eventually(() => client.set('graceful:{a}:after', 'after'));
    await sleep(200);
    await writer.stop();
    expect(await client.get('graceful:{a}')).toBe('before');
    expect(writer.acked.length).toBeGreaterThan(10);
    // A manual failover waits for the replica to catch up with the paused primary first.
    expect(await lostOf(client, writer.acked)).toEqual([]);
  });

  test('kill failover: a replica is promoted, writes work again, a replicated write survives; the old primary rejoins as a replica', async () => {
    const { port: old } = await cluster.primaryFor('kill:{b}');
    const direct = cluster.nodeClient(old);
    await direct.set('kill:{b}', 'replicated');
    expect(await direct.wait(1, 2000)).toBe(1); // on its replica too before the kill
    await direct.quit();
    const replicas = cluster.nodes.filter((node) => node.role === 'replica').map((node) => node.port);

    const writer = keepWriting(client, 'kill-writes');
    await sleep(200);
    const { newPrimaryPort, seconds } = await cluster.failover(old, 'kill');
    console.log(`cluster kill failover (SIGKILL) settled in ${seconds} s`);
    expect(replicas).toContain(newPrimaryPort);
    expect(cluster.nodes.find((node) => node.port === old)?.running).toBe(false);
    expect((await cluster.primaryFor('kill:{b}')).port).toBe(newPrimaryPort);

    await eventually(() => client.set('kill:{b}:after', 'after'));
    await writer.stop();
    expect(await client.get('kill:{b}')).toBe('replicated');
    // Replication is asynchronous: an acknowledged write not yet on the replica at the kill is
    // gone, and the fixture does not hide that (only reported here; WAIT above is the guard).
    console.log(`cluster kill: ${writer.acked.length} writes acknowledged, ${(await lostOf(client, writer.acked)).length} lost; errors: ${[...writer.errors].join(' | ')}`);

    await cluster.restart(old);
    const back = cluster.nodes.find((node) => node.port === old);
    expect(back).toMatchObject({ running: true, role: 'replica' });
    const replica = cluster.nodeClient(old);
    await replica.readonly();
    expect(await replica.get('kill:{b}')).toBe('replicated'); // resynced from the new primary
    await replica.quit();
  });
});

describe('Sentinel fixture', () => {
  let client: Redis;

  beforeAll(() => {
    client = group.client();
  });

  test('a primary, a replica, three sentinels agreeing; writes through the sentinel client reach the replica', async () => {
    expect(group.name).toBe('gateway');
    expect(group.replicas).toHaveLength(1);
    expect(group.sentinels).toHaveLength(3);
    expect(group.sentinelList).toBe(group.sentinels.map((port) => `127.0.0.1:${port}`).join(','));
    expect(await group.currentPrimary()).toBe(group.primary.port);

    await client.set('sentinel:a', '1');
    expect(await client.get('sentinel:a')).toBe('1');
    const replica = group.nodeClient((group.replicas[0] as { port: number }).port);
    await eventually(async () => expect(await replica.get('sentinel:a')).toBe('1'));
    await replica.quit();
  });

  test('SENTINEL FAILOVER: the replica is promoted, the old primary demoted, the client follows', async () => {
    const old = group.primary.port;
    const writer = keepWriting(client, 'sentinel-graceful');
    // ioredis' failoverDetector (a subscription to +switch-master) narrows the window; measured only.
    const detecting = keepWriting(group.client({ failoverDetector: true }), 'sentinel-graceful-detector');
    await sleep(200);
    const { newPrimaryPort, seconds } = await group.failover('graceful');
    console.log(`sentinel graceful failover (SENTINEL FAILOVER) settled in ${seconds} s`);
    expect(newPrimaryPort).not.toBe(old);
    expect(await group.currentPrimary()).toBe(newPrimaryPort);
    expect(group.replicas.map((node) => node.port)).toEqual([old]);

    await eventually(() => client.set('sentinel:graceful', 'after'));
    await Promise.all([writer.stop(), detecting.stop()]);
    const direct = group.nodeClient(newPrimaryPort);
    expect(await direct.get('sentinel:graceful')).toBe('after'); // on the new primary
    expect(await direct.get('sentinel:a')).toBe('1');
    // What the gateway must guard against: a default ioredis sentinel client keeps writing to
    // the old primary (which still answers as a master) until the sentinels demote it and kill
    // its clients, ~10 s later; those acknowledged writes are then dropped by its resync.
    const lost = await lostOf(direct, writer.acked);
    const lostByDetector = await lostOf(direct, detecting.acked);
    console.log(
      `sentinel graceful: ${writer.acked.length} writes acknowledged by a default client, ${lost.length} lost; ` +
        `with failoverDetector ${detecting.acked.length} acknowledged, ${lostByDetector.length} lost`,
    );
    expect(lost.length).toBeGreaterThan(0);
    await direct.quit();
  }, 60_000);

  test('kill: the sentinels promote the replica, the client writes again; the old primary comes back as a replica', async () => {
    const old = group.primary.port;
    const direct = group.nodeClient(old);
    await direct.set('sentinel:kill', 'replicated');
    expect(await direct.wait(1, 2000)).toBe(1);
    await direct.quit();

    const { newPrimaryPort, seconds } = await group.failover('kill');
    console.log(`sentinel kill failover (SIGKILL) settled in ${seconds} s`);
    expect(newPrimaryPort).not.toBe(old);
    expect(await group.currentPrimary()).toBe(newPrimaryPort);
    expect(group.replicas).toEqual([{ port: old, running: false }]);

    await eventually(() => client.set('sentinel:kill:after', 'after'));
    expect(await client.get('sentinel:kill')).toBe('replicated');
    const primary = group.nodeClient(newPrimaryPort);
    expect(await primary.get('sentinel:kill:after')).toBe('after');
    await primary.quit();

    const began = Date.now();
    await group.restart(old);
    console.log(`sentinel restart of the killed primary settled (demoted to replica) in ${(Date.now() - began) / 1000} s`);
    expect(group.primary.port).toBe(newPrimaryPort);
    expect(group.replicas).toEqual([{ port: old, running: true }]);
    const back = group.nodeClient(old);
    expect(await back.get('sentinel:kill:after')).toBe('after');
    await back.quit();
  }, 60_000);
});

describe('Sentinel fixture with a password', () => {
  test('the nodes and the sentinels refuse without it; the sentinel client with it writes, also after a kill failover', async () => {
    await expect(command(secured.primary.port, ['GET', 'x'])).rejects.toThrow(/NOAUTH/);
    await expect(command(secured.sentinels[0] as number, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'secured'])).rejects.toThrow(/NOAUTH/);
    const sentinel = secured.nodeClient(secured.sentinels[0] as number);
    expect(await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'secured')).toEqual(['127.0.0.1', String(secured.primary.port)]);

    const client = secured.client();
    await client.set('secured:a', '1');
    const { newPrimaryPort } = await secured.failover('kill');
    await eventually(() => client.set('secured:b', '2'));
    const primary = secured.nodeClient(newPrimaryPort);
    expect(await primary.get('secured:b')).toBe('2');
    await primary.quit();
  });
});
