/**
 * A frozen Redis (SIGSTOP: the socket stays open, nothing answers) is the case where "nothing
 * was written" is not known: a command that was sent may still run when Redis resumes. Every
 * write answered during the freeze must say its outcome is UNKNOWN, never "nothing was written";
 * every request ends by the gateway's own deadline, including those queued behind a stuck
 * command; and once Redis resumes, what those writes did can be read back and retried safely.
 */
import { generateSessionId, sessionDigest } from '../src/session/ids';
import type { RedisSessionStore } from '../src/store/redis';
import { SERVICE, snapshot, startGateway, waitUntil, type Gateway } from './support/gateway';
import { startRedis, type RedisServer } from './support/redis-server';

let server: RedisServer;
let gateway: Gateway;
let redisPid: number;
const TIMEOUT_MS = 500;

beforeAll(async () => {
  server = await startRedis();
  gateway = await startGateway({ redisUrl: server.url, env: { REDIS_COMMAND_TIMEOUT_MS: String(TIMEOUT_MS) } });
  const probe = server.client();
  redisPid = Number(/process_id:(\d+)/.exec(await probe.info('server'))?.[1]);
  probe.disconnect();
});
afterAll(async () => {
  process.kill(redisPid, 'SIGCONT');
  await gateway.close();
  await server.destroy();
});

const UPDATE = 'mutation($id: ID, $v: Int) { updateSession(id: $id, patch: { set: { frozen: true }, expectedVersion: $v }) { version } }';

test('while Redis is frozen, writes answer STORE_UNAVAILABLE with outcome UNKNOWN; after it resumes they can be read back and retried by version', async () => {
  const issued = await gateway.gql('mutation { issueSession { id version } }', {}, SERVICE);
  const id = issued.body.data?.issueSession.id as string;
  const other = (await gateway.gql('mutation { issueSession { id } }', {}, SERVICE)).body.data?.issueSession.id as string;

  process.kill(redisPid, 'SIGSTOP');
  let resumed = false;
  try {
    // Staggered, so later requests queue behind earlier stuck ones (as auto-pipelining does).
    const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
    const updating = gateway.gql(UPDATE, { id, v: 1 }, SERVICE);
    const revoking = later(100).then(() => gateway.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: other }, SERVICE));
    const issuing = later(200).then(() => gateway.gql('mutation { issueSession { id } }', {}, SERVICE));
    const reading = later(300).then(() => gateway.gql('{ session { id } }', {}, { 'X-Session-ID': id }));
    const rest = later(150).then(() => gateway.http.get('/api/v2/session').set('X-Session-ID', id));
    const [update, revoke, issue, read] = [await updating, await revoking, await issuing, await reading];
    for (const write of [update, revoke, issue]) {
      expect(write.body.errors?.[0]?.extensions).toEqual({ code: 'STORE_UNAVAILABLE', outcome: 'UNKNOWN' });
      // The gateway's own deadline answered, not a second timeout behind the first.
      expect(write.body.errors?.[0]?.message).toBe(
        `the session store did not answer within ${TIMEOUT_MS} ms; the write may or may not be applied: read the session (or pass expectedVersion) before retrying`,
      );
      expect(write.body.errors?.[0]?.message).not.toMatch(/nothing was written/);
    }
    expect(issue.headers['x-session-id']).toBeUndefined();
    expect(read.body.errors?.[0]?.extensions).toEqual({ code: 'STORE_UNAVAILABLE' });
    const restAnswer = await rest;
    expect(restAnswer.status).toBe(503);
    expect(restAnswer.body.error.code).toBe('STORE_UNAVAILABLE');
    expect(restAnswer.headers['x-session-id']).toBeUndefined();

    process.kill(redisPid, 'SIGCONT');
    resumed = true;
    await waitUntil(() => gateway.store.ping().then(() => true, () => false), 10_000);
  } finally {
    if (!resumed) process.kill(redisPid, 'SIGCONT');
  }

  // The update was sent, so it may have run: it did (Redis ran it on resuming). Reading tells.
  const redis = server.client();
  const store = gateway.store as RedisSessionStore;
  await waitUntil(async () => (await redis.exists(store.keyOf(sessionDigest(other)))) === 0);
  const after = await gateway.gql('{ session { version frozen: attribute(name: "frozen") } }', {}, { 'X-Session-ID': id });
  expect(after.body.data?.session).toEqual({ version: 2, frozen: true });
  // A retry of the same write by version is refused, not applied twice.
  const retry = await gateway.gql(UPDATE, { id, v: 1 }, SERVICE);
  expect(retry.body.errors?.[0]?.extensions).toEqual({ code: 'VERSION_CONFLICT' });
  // A retried revoke is idempotent: false, the session is gone either way.
  const again = await gateway.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: other }, SERVICE);
  expect(again.body.data?.revokeSession).toBe(false);
  redis.disconnect();
});

test('a read for an unknown id during a freeze does not issue a session later', async () => {
  const redis = server.client();
  const before = await snapshot(redis, gateway.config.sessionNamespace);
  process.kill(redisPid, 'SIGSTOP');
  try {
    const response = await gateway.http.get('/api/v2/session').set('X-Session-ID', generateSessionId());
    expect(response.status).toBe(503);
    expect(response.body.error).toEqual({ code: 'STORE_UNAVAILABLE', message: `the session store did not answer within ${TIMEOUT_MS} ms` });
  } finally {
    process.kill(redisPid, 'SIGCONT');
  }
  await waitUntil(() => gateway.store.ping().then(() => true, () => false), 10_000);
  // Only the read was sent; the issue that would have followed a miss never was.
  expect(await snapshot(redis, gateway.config.sessionNamespace)).toEqual(before);
  redis.disconnect();
});
