/**
 * How a Sentinel-backed gateway connects and follows a failover, on a real Sentinel group.
 *
 * - It follows a failover whatever its connection is doing when the sentinels announce it. Found
 *   in CI: with ioredis's own failover detector, a `+switch-master` heard while the connection
 *   was asking a sentinel for the primary (reconnecting after the primary was killed) ended the
 *   connection for good, and every request failed from then on. Slow sentinel answers (a loaded
 *   machine) make that window wide; here every sentinel answers through a proxy that holds each
 *   reply back, so the announcement almost always comes during such a question.
 * - With passwords on the nodes and on the sentinels, it hears the announcement of a forced
 *   failover and moves to the new primary at once, not when the old one is demoted seconds later.
 * - REDIS_TLS and REDIS_SENTINEL_TLS each mean TLS to their side: told so, it never speaks plain
 *   text to a node or a sentinel (these serve plain text, so it never gets an answer).
 */
import { loadConfig } from '../src/config';
import { openStore } from '../src/store/connect';
import { missingSessions, SERVICE, SERVICE_TOKEN, startGateway, uniqueNamespace } from './support/gateway';
import { startDelayingProxy, type DelayingProxy } from './support/delaying-proxy';
import { startSentinelGroup, type SentinelGroup } from './support/redis-sentinel';

const SENTINEL_DELAY_MS = 1500;
const ISSUE = 'mutation { issueSession(input: { principal: "slow-sentinels" }) { id } }';

let group: SentinelGroup;
let proxies: DelayingProxy[] = [];
beforeAll(async () => {
  group = await startSentinelGroup({ replicas: 1 });
  proxies = await Promise.all(group.sentinels.map((port) => startDelayingProxy(port, SENTINEL_DELAY_MS)));
}, 60_000);
afterAll(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await group.destroy();
});

test('slow sentinels: the primary killed, requests fail with STORE_UNAVAILABLE until the new primary is found, then succeed again', async () => {
  const gateway = await startGateway({
    env: {
      REDIS_SENTINELS: proxies.map((proxy) => `127.0.0.1:${proxy.port}`).join(','),
      REDIS_SENTINEL_NAME: group.name,
      REDIS_COMMAND_TIMEOUT_MS: '1000',
    },
  });
  try {
    const issue = async (): Promise<{ id: string | null; code: string | null }> => {
      const response = await gateway.gql(ISSUE, {}, SERVICE);
      return { id: response.body.data?.issueSession?.id ?? null, code: response.body.errors?.[0]?.extensions?.code ?? null };
    };
    const before = await issue();
    expect(before.code).toBeNull();

    const old = group.primary.port;
    const { seconds } = await group.failover('kill');
    const codes = new Set<string>();
    let after = await issue();
    // Election, then the gateway's reconnect: each question to a sentinel takes 2 delayed
    // replies, retried up to once a second. 40 s is far past what a working connection needs.
    const deadline = Date.now() + 40_000;
    while (after.id === null && Date.now() < deadline) {
      codes.add(after.code ?? 'none');
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = await issue();
    }
    expect([...codes].filter((code) => code !== 'STORE_UNAVAILABLE')).toEqual([]);
    expect({ electedAfterS: seconds, recovered: after.id !== null }).toEqual({ electedAfterS: seconds, recovered: true });
    // Both sessions are there, on the new primary.
    const read = await gateway.gql('query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: [before.id, after.id] }, SERVICE);
    expect(read.body.data?.sessions).toEqual([{ id: before.id }, { id: after.id }]);
    expect(await group.currentPrimary()).not.toBe(old); // (the old one stays down: the tests below need a primary only)
  } finally {
    await gateway.close();
  }
}, 120_000);

describe('TLS is asked for each side on its own', () => {
  const pings = async (env: Record<string, string>): Promise<{ answered: number; failed: number }> => {
    const config = loadConfig({ SERVICE_TOKENS: SERVICE_TOKEN, SESSION_NAMESPACE: uniqueNamespace(), LOG_LEVEL: 'silent', REDIS_SENTINELS: group.sentinelList, REDIS_SENTINEL_NAME: group.name, ...env });
    const store = openStore(config);
    const tally = { answered: 0, failed: 0 };
    try {
      for (const until = Date.now() + 3000; Date.now() < until; ) {
        await store.ping().then(() => tally.answered++, () => tally.failed++);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await store.close();
    }
    return tally;
  };

  test.each([
    ['REDIS_TLS', { REDIS_TLS: 'true' }],
    ['REDIS_SENTINEL_TLS', { REDIS_SENTINEL_TLS: 'true' }],
  ])('%s against plain-text servers: never an answer', async (_name, env) => {
    expect((await pings(env)).answered).toBe(0);
  }, 30_000);

  test('neither: answered (the same servers, so the cases above fail for TLS alone)', async () => {
    expect((await pings({})).answered).toBeGreaterThan(0);
  }, 30_000);
});

describe('passwords on the nodes and the sentinels', () => {
  let secured: SentinelGroup;
  beforeAll(async () => {
    secured = await startSentinelGroup({ replicas: 1, password: 'sentinel-connection-secret', name: 'secured' });
  }, 60_000);
  afterAll(async () => secured.destroy());

  test('a forced failover (SENTINEL FAILOVER): the gateway hears the announcement and writes to the new primary at once, so writes begun 2 s after it are never lost', async () => {
    const gateway = await startGateway({
      env: {
        REDIS_SENTINELS: secured.sentinelList,
        REDIS_SENTINEL_NAME: secured.name,
        REDIS_PASSWORD: 'sentinel-connection-secret',
        REDIS_SENTINEL_PASSWORD: 'sentinel-connection-secret',
        REDIS_COMMAND_TIMEOUT_MS: '1000',
      },
    });
    // The announcement, as the test hears it from a sentinel.
    let switchedAt = 0;
    const listener = secured.nodeClient(secured.sentinels[0] as number);
    listener.on('message', () => (switchedAt ||= Date.now()));
    await listener.subscribe('+switch-master');
    const outcomes: Array<{ startedAt: number; id: string | null }> = [];
    let running = true;
    const writers = Array.from({ length: 4 }, async () => {
      while (running) {
        const startedAt = Date.now();
        const response = await gateway.gql(ISSUE, {}, SERVICE);
        outcomes.push({ startedAt, id: response.body.data?.issueSession?.id ?? null });
      }
    });
    try {
      await secured.failover('graceful'); // resolves once the old primary was demoted (about 10 s)
      running = false;
      await Promise.all(writers);
      expect(switchedAt).toBeGreaterThan(0);
      const late = outcomes.filter((o) => o.startedAt >= switchedAt + 2000 && o.id !== null).map((o) => o.id as string);
      expect(late.length).toBeGreaterThan(50);
      expect(await missingSessions(gateway, late)).toBe(0);
    } finally {
      running = false;
      await Promise.all(writers);
      await gateway.close();
    }
  }, 90_000);
});
