/**
 * The gateway on Redis Cluster and on Sentinel, from configuration alone: every face (GraphQL,
 * the REST shim and its legacy URL), the change feed and the client library's near cache, with
 * two gateway instances on each, as a deployment runs them. And the batch read on Cluster: 100
 * sessions spread over the slots cost one round trip per node, counted by the nodes themselves.
 */
import { SessionClient } from '../src/client';
import { SERVICE, SERVICE_TOKEN, startGatewayPair, waitUntil, type Gateway } from './support/gateway';
import { command, startCluster, type RedisCluster } from './support/redis-cluster';
import { startSentinelGroup, type SentinelGroup } from './support/redis-sentinel';

let cluster: RedisCluster;
let sentinel: SentinelGroup;

beforeAll(async () => {
  [cluster, sentinel] = await Promise.all([startCluster(), startSentinelGroup()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([cluster.destroy(), sentinel.destroy()]);
});

const ISSUE = 'mutation($u: JSON) { issueSession(input: { principal: "p", attributes: { user: $u } }) { id digest version } }';

describe.each([
  ['Redis Cluster', () => ({ REDIS_CLUSTER_NODES: cluster.seeds })],
  ['Sentinel', () => ({ REDIS_SENTINELS: sentinel.sentinelList, REDIS_SENTINEL_NAME: sentinel.name })],
])('two gateways on %s', (_name, envOf) => {
  let a: Gateway;
  let b: Gateway;
  let baseA: string;
  let baseB: string;

  beforeAll(async () => {
    ({ a, b, baseA, baseB } = await startGatewayPair(envOf()));
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  test('issue on A; read on B over GraphQL, REST v2 and the legacy URL; update on B; revoke on A', async () => {
    const issued = await a.gql(ISSUE, { u: { id: 7, name: '김민수' } }, SERVICE);
    const { id, version } = issued.body.data?.issueSession as { id: string; version: number };
    expect(version).toBe(1);
    expect((await b.gql('{ session { principal attribute(name: "user") } }', {}, { 'X-Session-ID': id })).body.data?.session).toEqual({
      principal: 'p',
      attribute: { id: 7, name: '김민수' },
    });
    const v2 = await b.http.get('/api/v2/session').set('X-Session-ID', id);
    expect([v2.status, v2.headers['x-session-id'], v2.text]).toEqual([200, id, '{"id":7,"name":"김민수"}']);
    const v1 = await b.http.get(`/api/v1/session?JSESSIONID=${id}`);
    expect([v1.status, v1.headers['x-session-id'], v1.text]).toEqual([200, id, '{"id":7,"name":"김민수"}']);
    const updated = await b.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { cart: [1] }, expectedVersion: 1 }) { version attributes } }', { id }, SERVICE);
    expect(updated.body.data?.updateSession).toEqual({ version: 2, attributes: { user: { id: 7, name: '김민수' }, cart: [1] } });
    expect((await a.gql('mutation($id: ID) { revokeSession(id: $id) }', { id }, SERVICE)).body.data).toEqual({ revokeSession: true });
    expect((await b.gql('{ session { id } }', {}, { 'X-Session-ID': id })).body.data).toEqual({ session: null });
    // The REST shim issues a new session for an ID that is gone.
    const reissued = await b.http.get('/api/v2/session').set('X-Session-ID', id);
    expect(reissued.status).toBe(200);
    expect(reissued.headers['x-session-id']).not.toBe(id);
  });

  test('the lifecycle across gateways: sign in by rotation on A, list and sign out on B, revoke all on A; nothing of it readable anywhere after', async () => {
    const principal = `member-${Date.now()}`;
    const anonymous = (await a.http.get('/api/v2/session')).headers['x-session-id'] as string;
    const signedIn = await a.gql('mutation($id: ID, $p: String) { rotateSession(id: $id, input: { principal: $p }) { id digest } }', { id: anonymous, p: principal }, SERVICE);
    const { id, digest } = signedIn.body.data?.rotateSession as { id: string; digest: string };
    expect((await b.gql('{ session { id } }', {}, { 'X-Session-ID': anonymous })).body.data).toEqual({ session: null });
    const other = (await b.gql('mutation($p: String) { issueSession(input: { principal: $p }) { id digest } }', { p: principal }, SERVICE)).body.data?.issueSession as { id: string; digest: string };
    expect(other.id.slice(0, 4)).toBe(id.slice(0, 4)); // one principal, one tag, one slot, whichever gateway issued
    const mine = await b.gql('{ mySessions { handle current } }', {}, { 'X-Session-ID': id });
    expect(mine.body.data?.mySessions).toEqual(expect.arrayContaining([{ handle: digest, current: true }, { handle: other.digest, current: false }]));
    expect((await b.gql('mutation($h: String) { revokeSession(handle: $h) }', { h: other.digest }, { 'X-Session-ID': id })).body.data).toEqual({ revokeSession: true });
    expect((await a.gql('{ session { id } }', {}, { 'X-Session-ID': other.id })).body.data).toEqual({ session: null });
    const third = (await b.gql('mutation($p: String) { issueSession(input: { principal: $p }) { id } }', { p: principal }, SERVICE)).body.data?.issueSession.id as string;
    expect((await a.gql('mutation($p: String!) { revokePrincipalSessions(principal: $p) }', { p: principal }, SERVICE)).body.data).toEqual({ revokePrincipalSessions: 2 });
    for (const gone of [id, third]) {
      for (const gateway of [a, b]) expect((await gateway.gql('{ session { id } }', {}, { 'X-Session-ID': gone })).body.data).toEqual({ session: null });
    }
    expect((await b.gql('query($p: String!) { sessionsOf(principal: $p) { handle } }', { p: principal }, SERVICE)).body.data).toEqual({ sessionsOf: [] });
  });

  test('sessions(ids:) of 100 sessions, in order, with nulls where missing', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push((await a.gql(ISSUE, { u: i }, SERVICE)).body.data?.issueSession.id as string);
    const asked = [...ids.slice(0, 50), 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', ...ids.slice(50, 99)];
    const response = await b.gql('query($ids: [ID!]!) { sessions(ids: $ids) { attribute(name: "user") } }', { ids: asked }, SERVICE);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data?.sessions).toEqual(asked.map((_, i) => (i === 50 ? null : { attribute: i < 50 ? i : i - 1 })));
  });

  test('the change feed: a near cache on A stops serving what is revoked and updated through B', async () => {
    const one = new SessionClient({ url: baseA, token: SERVICE_TOKEN });
    const two = new SessionClient({ url: baseB, token: SERVICE_TOKEN });
    try {
      await waitUntil(async () => one.caching && two.caching, 10_000);
      const revoked = await two.issue({ principal: 'r' });
      const updated = await two.issue({ principal: 'u' });
      expect((await one.get(revoked.id))?.principal).toBe('r');
      expect((await one.get(updated.id))?.version).toBe(1);
      await two.revoke(revoked.id);
      await two.update(updated.id, { set: { seen: true } });
      await waitUntil(async () => (await one.get(revoked.id)) === null && (await one.get(updated.id))?.version === 2, 2000);
    } finally {
      await one.close();
      await two.close();
    }
  });
});

describe('the batch read on Cluster', () => {
  let spread: RedisCluster;
  let a: Gateway;
  let b: Gateway;

  beforeAll(async () => {
    // Primaries only: replicas acknowledge replication every second, which would count as reads.
    spread = await startCluster({ primaries: 3, replicasPerPrimary: 0 });
    ({ a, b } = await startGatewayPair({ REDIS_CLUSTER_NODES: spread.seeds }));
  }, 60_000);
  afterAll(async () => {
    await a.close();
    await b.close();
    await spread.destroy();
  });

  /** Read events each node processed (INFO stats): one per request batch that arrives, whatever it holds. */
  async function readsByNode(): Promise<number[]> {
    const ports = spread.nodes.filter((node) => node.role === 'primary').map((node) => node.port);
    return Promise.all(ports.map(async (port) => Number(/total_reads_processed:(\d+)/.exec(String(await command(port, ['INFO', 'stats'])))?.[1])));
  }

  test('100 sessions over every primary: answered in order, one round trip per node', async () => {
    const ids: string[] = [];
    // One principal's sessions share its slot: 100 principals, so the sessions spread over the slots.
    const spreadIssue = 'mutation($u: JSON, $p: String) { issueSession(input: { principal: $p, attributes: { user: $u } }) { id } }';
    for (let i = 0; i < 100; i++) ids.push((await a.gql(spreadIssue, { u: i, p: `p${i}` }, SERVICE)).body.data?.issueSession.id as string);
    const owners = new Set(await Promise.all(ids.map(async (id) => (await spread.primaryFor(`x:{${id.slice(0, 4)}}`)).port)));
    expect(owners.size).toBe(3); // the 100 keys are spread over all three primaries
    const query = 'query($ids: [ID!]!) { sessions(ids: $ids) { attribute(name: "user") } }';
    await a.gql(query, { ids }, SERVICE); // connections to every node open

    // A stray read (a slot refresh) could land in one window; the fewest over three tries counts.
    const trips = [Infinity, Infinity, Infinity];
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = await readsByNode();
      const response = await a.gql(query, { ids }, SERVICE);
      const after = await readsByNode();
      expect(response.body.data?.sessions).toEqual(ids.map((_, i) => ({ attribute: i })));
      // Less two read events of the test's own: the INFO that read `after`, and the close of the
      // connection that read `before` (a closed connection is read once more, for its end).
      after.forEach((reads, node) => (trips[node] = Math.min(trips[node] as number, reads - (before[node] as number) - 2)));
    }
    expect(trips).toEqual([1, 1, 1]);
  });
});
