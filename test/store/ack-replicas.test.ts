/**
 * REDIS_ACK_REPLICAS: a write is acknowledged only once that many replicas have it (WAIT in the
 * same pipeline as the write). Over a real primary and replica; the replica is taken away to
 * show what a caller hears when the replicas cannot confirm in time.
 */
import { SERVICE, startGateway, waitUntil, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';
import { sessionDigest } from '../../src/session/ids';
import type { RedisSessionStore } from '../../src/store/redis';

let primary: RedisServer;
let replica: RedisServer;
let gateway: Gateway;

beforeAll(async () => {
  primary = await startRedis();
  replica = await startRedis({ replicaOf: primary.port });
  const probe = primary.client();
  await waitUntil(async () => /slave0:.*state=online/.test(await probe.info('replication')), 10_000);
  // The replica answers acknowledgements (it may still be loading what it was sent at first).
  await probe.set('warm-up', '1');
  expect(await probe.wait(1, 10_000)).toBe(1);
  gateway = await startGateway({ redisUrl: primary.url, env: { REDIS_ACK_REPLICAS: '1', REDIS_COMMAND_TIMEOUT_MS: '500' } });
});
afterAll(async () => {
  await gateway.close();
  await replica.destroy();
  await primary.destroy();
});

const ISSUE = 'mutation { issueSession(input: { principal: "acked" }) { id version } }';

test('with the replica up, writes are acknowledged once it has them: the replica holds every acknowledged session', async () => {
  const fromReplica = replica.client();
  for (let i = 0; i < 20; i++) {
    const issued = await gateway.gql(ISSUE, {}, SERVICE);
    expect(issued.body.errors).toBeUndefined();
    const id = issued.body.data?.issueSession.id as string;
    // Acknowledged means on the replica already: read there at once, no waiting.
    expect(await fromReplica.exists((gateway.store as RedisSessionStore).keyOf(sessionDigest(id)))).toBe(1);
    const updated = await gateway.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { n: 1 } }) { version } }', { id }, SERVICE);
    expect(updated.body.data?.updateSession.version).toBe(2);
  }
});

test('with the replica gone, a write answers STORE_UNAVAILABLE with outcome UNKNOWN (it is on the primary, not confirmed); reads still work', async () => {
  const before = await gateway.gql(ISSUE, {}, SERVICE);
  const kept = before.body.data?.issueSession.id as string;
  await replica.stop();
  const probe = primary.client();
  await waitUntil(async () => /connected_slaves:0/.test(await probe.info('replication')), 10_000);

  const issued = await gateway.gql(ISSUE, {}, SERVICE);
  expect(issued.body.errors?.[0]?.extensions).toEqual({ code: 'STORE_UNAVAILABLE', outcome: 'UNKNOWN' });
  expect(issued.body.errors?.[0]?.message).toMatch(/0 of the 1 replicas asked for confirmed it/);
  const updated = await gateway.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { n: 2 } }) { version } }', { id: kept }, SERVICE);
  expect(updated.body.errors?.[0]?.extensions).toEqual({ code: 'STORE_UNAVAILABLE', outcome: 'UNKNOWN' });
  // What the caller was told holds: the write is on the primary (it may be lost on a failover).
  const read = await gateway.gql('query { session { version attributes } }', {}, { 'X-Session-ID': kept });
  expect(read.body.data?.session).toEqual({ version: 2, attributes: { n: 2 } });
  // A write that changes nothing answers as it would (no replica needed to confirm nothing).
  const missing = await gateway.gql('mutation { revokeSession(id: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") }', {}, SERVICE);
  expect(missing.body).toEqual({ data: { revokeSession: false } });

  await replica.start();
  await waitUntil(async () => /slave0:.*state=online/.test(await probe.info('replication')), 10_000);
  await waitUntil(async () => (await gateway.gql(ISSUE, {}, SERVICE)).body.errors === undefined, 10_000);
});
