/**
 * The session limit and the rotation grace through GraphQL, as a module and a browser use them,
 * on the embedded store, one redis-server and a Redis Cluster:
 *
 * - at MAX_SESSIONS_PER_PRINCIPAL, rotating any of the principal's sessions (the oldest, one in
 *   the middle, the newest) replaces it and adds none: every other session stays alive and the
 *   rotated one is readable by its new ID, whether the policy is `evict` or `refuse`;
 * - rotations racing issues at the limit: an issue evicts one of the least recently used, a
 *   rotation never evicts and is never evicted for the limit;
 * - a logout presenting a rotated-away ID in its grace ends the session it forwards to, and
 *   clears the cookie; any other write of the old ID stays refused.
 *
 * Mutations are Apollo's (the compiled path takes queries only); what is left alive is read
 * through both GraphQL doors, the compiled POST and Apollo's GET.
 */
import { clearedSessionCookieHeader, type SessionCookie } from '../../src/session/transport';
import { watchGraphQLDoors, type DoorWatch, type GraphQLDoor } from '../support/doors';
import { errorCode, SERVICE, startGateway, type Gateway, type GraphQLResponse } from '../support/gateway';
import { startCluster, type RedisCluster } from '../support/redis-cluster';
import { startRedis, type RedisServer } from '../support/redis-server';

const ISSUE = 'mutation($principal: String!) { issueSession(input: { principal: $principal }) { id digest } }';
const ROTATE = 'mutation($id: ID, $input: RotateSessionInput) { rotateSession(id: $id, input: $input) { id digest principal } }';
const READ = 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }';

let doors: DoorWatch<GraphQLDoor>;
let server: RedisServer;
let cluster: RedisCluster;

beforeAll(async () => {
  doors = watchGraphQLDoors();
  [server, cluster] = await Promise.all([startRedis(), startCluster({ replicasPerPrimary: 0 })]);
}, 60_000);
afterAll(async () => {
  doors.restore();
  await Promise.all([server.destroy(), cluster.destroy()]);
});

let principals = 0;
const newPrincipal = (): string => `limit-${process.pid}-${++principals}`;

interface Issued {
  readonly id: string;
  readonly digest: string;
}

async function issue(gateway: Gateway, principal: string): Promise<Issued> {
  const response = await gateway.gql(ISSUE, { principal }, SERVICE);
  expect(response.body.errors).toBeUndefined();
  return response.body.data?.issueSession as Issued;
}

/**
 * Which of `ids` can be read, as a service, through both doors: the compiled path (a POST) and
 * Apollo (a GET); the two must agree. The ID each answered, or null.
 */
async function readable(gateway: Gateway, ids: readonly string[]): Promise<Array<string | null>> {
  const answers: Array<Array<string | null>> = [];
  for (let start = 0; start < ids.length; start += 100) {
    const batch = ids.slice(start, start + 100);
    await doors.take();
    const post = await gateway.gql(READ, { ids: batch }, SERVICE);
    const get = await gateway.http.get(`/graphql?${new URLSearchParams({ query: READ, variables: JSON.stringify({ ids: batch }) })}`).set(SERVICE).set('Apollo-Require-Preflight', 'true');
    expect(await doors.take()).toEqual(['compiled', 'apollo']);
    const [a, b] = [post.body, get.body].map((body: GraphQLResponse['body']) => {
      expect(body.errors).toBeUndefined();
      return (body.data?.sessions as Array<{ id: string } | null>).map((session) => session?.id ?? null);
    });
    expect(b).toEqual(a);
    answers.push(a as Array<string | null>);
  }
  return answers.flat();
}

const topologies: Array<[string, () => Record<string, string> | { redisUrl: string }]> = [
  ['the embedded store', () => ({})],
  ['one redis-server', () => ({ redisUrl: server.url })],
  ['a Redis Cluster', () => ({ REDIS_CLUSTER_NODES: cluster.seeds })],
];

describe.each(topologies)('on %s', (_name, where) => {
  /** A gateway on this topology with `env`; closed after the test. */
  async function gatewayWith(env: Record<string, string>, run: (gateway: Gateway) => Promise<void>): Promise<void> {
    const target = where();
    const gateway = 'redisUrl' in target ? await startGateway({ redisUrl: target.redisUrl as string, env }) : await startGateway({ env: { ...target, ...env } });
    try {
      await run(gateway);
    } finally {
      await gateway.close();
    }
  }

  test.each(['evict', 'refuse'])('SESSION_LIMIT_POLICY=%s: at the limit, rotating the oldest, one in the middle or the newest leaves every other session alive', async (policy) => {
    await gatewayWith({ MAX_SESSIONS_PER_PRINCIPAL: '5', SESSION_LIMIT_POLICY: policy }, async (gateway) => {
      const principal = newPrincipal();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await issue(gateway, principal)).id);
        await new Promise((resolve) => setTimeout(resolve, 3)); // a strict least-recently-used order
      }
      // The oldest by the frontend itself (its header), one in the middle by a module, the newest by the frontend.
      for (const [at, byService] of [[0, false], [2, true], [4, false]] as const) {
        const old = ids[at] as string;
        const rotated = byService ? await gateway.gql(ROTATE, { id: old, input: { authenticated: true } }, SERVICE) : await gateway.gql(ROTATE, {}, { 'X-Session-ID': old });
        expect(rotated.body.errors).toBeUndefined();
        expect(rotated.body.data?.rotateSession.principal).toBe(principal);
        ids[at] = rotated.body.data?.rotateSession.id as string;
        expect(await readable(gateway, [old, ...ids])).toEqual([null, ...ids]);
      }
      const mine = await gateway.gql('{ mySessions { handle } }', {}, { 'X-Session-ID': ids[0] as string });
      expect(mine.body.data?.mySessions).toHaveLength(5);
      // A new session still meets the limit.
      const sixth = await gateway.gql(ISSUE, { principal }, SERVICE);
      if (policy === 'refuse') expect(errorCode(sixth)).toBe('SESSION_LIMIT_REACHED');
      else expect((await readable(gateway, ids)).filter((id) => id === null)).toHaveLength(1);
    });
  });

  test('evict: 50 rotations at the limit evict no one; 50 more racing 50 issues: each issue evicts one of the least recently used, no rotation evicts', async () => {
    await gatewayWith({ MAX_SESSIONS_PER_PRINCIPAL: '150' }, async (gateway) => {
      const principal = newPrincipal();
      // 100 idle devices, then 50 more recent ones that rotate while 50 new sign-ins arrive.
      const idle = await Promise.all(Array.from({ length: 100 }, () => issue(gateway, principal)));
      await new Promise((resolve) => setTimeout(resolve, 5));
      let active = await Promise.all(Array.from({ length: 50 }, () => issue(gateway, principal)));
      // First the rotations alone, all at once: the principal is full, and stays full, with no one evicted.
      const alone = await Promise.all(active.map((session) => gateway.gql(ROTATE, {}, { 'X-Session-ID': session.id })));
      expect(alone.filter((response) => response.body.errors !== undefined)).toEqual([]);
      active = alone.map((response) => response.body.data?.rotateSession as Issued);
      expect((await readable(gateway, [...idle, ...active].map((s) => s.id))).filter((id) => id === null)).toEqual([]);
      // Then again, racing the sign-ins.
      const [rotations, issues] = await Promise.all([
        Promise.all(active.map((session, i) => (i % 2 === 0 ? gateway.gql(ROTATE, {}, { 'X-Session-ID': session.id }) : gateway.gql(ROTATE, { id: session.id }, SERVICE)))),
        Promise.all(Array.from({ length: 50 }, () => gateway.gql(ISSUE, { principal }, SERVICE))),
      ]);
      expect([...rotations, ...issues].filter((response) => response.body.errors !== undefined).map((response) => response.body.errors)).toEqual([]);
      const live = [...rotations.map((r) => r.body.data?.rotateSession.id as string), ...issues.map((r) => r.body.data?.issueSession.id as string)];
      expect(await readable(gateway, live)).toEqual(live);
      expect(await readable(gateway, active.map((s) => s.id))).toEqual(active.map(() => null));
      // 50 issues, so 50 idle devices signed out to make room; the other 50 are still signed in.
      expect((await readable(gateway, idle.map((s) => s.id))).filter((id) => id !== null)).toHaveLength(50);
      const mine = await gateway.gql('{ mySessions { handle } }', {}, { 'X-Session-ID': live[0] as string });
      expect(mine.body.data?.mySessions).toHaveLength(150);
    });
  }, 60_000);

  test('refuse: 5 rotations racing 95 issues at the limit: every rotation succeeds, every issue is refused, the principal still holds 5', async () => {
    await gatewayWith({ MAX_SESSIONS_PER_PRINCIPAL: '5', SESSION_LIMIT_POLICY: 'refuse' }, async (gateway) => {
      const principal = newPrincipal();
      const held = await Promise.all(Array.from({ length: 5 }, () => issue(gateway, principal)));
      const [rotations, issues] = await Promise.all([
        Promise.all(held.map((session) => gateway.gql(ROTATE, {}, { 'X-Session-ID': session.id }))),
        Promise.all(Array.from({ length: 95 }, () => gateway.gql(ISSUE, { principal }, SERVICE))),
      ]);
      expect(rotations.map((response) => response.body.errors)).toEqual(held.map(() => undefined));
      expect(issues.map(errorCode)).toEqual(issues.map(() => 'SESSION_LIMIT_REACHED'));
      const live = rotations.map((r) => r.body.data?.rotateSession.id as string);
      expect(await readable(gateway, [...held.map((s) => s.id), ...live])).toEqual([...held.map(() => null), ...live]);
    });
  }, 60_000);

  test('a logout presenting a rotated-away ID in its grace revokes the session it forwards to and clears the cookie; other writes stay refused', async () => {
    await gatewayWith({ ROTATION_GRACE_SECONDS: '30', SESSION_COOKIE_SET: 'true' }, async (gateway) => {
      const cookie = gateway.config.sessionCookieSet as SessionCookie;
      // A signed-in session (rotated within its slot) and a browser's anonymous one (across slots).
      const anonymous = (await gateway.http.get('/api/v2/session')).headers['x-session-id'] as string;
      for (const old of [(await issue(gateway, newPrincipal())).id, anonymous]) {
        const rotated = await gateway.gql(ROTATE, {}, { 'X-Session-ID': old });
        const next = rotated.body.data?.rotateSession.id as string;
        expect(await readable(gateway, [old, next])).toEqual([next, next]); // in its grace
        const write = await gateway.gql('mutation { updateSession(patch: { set: { a: 1 } }) { id } }', {}, { ...SERVICE, 'X-Session-ID': old });
        expect(errorCode(write)).toBe('SESSION_NOT_FOUND');
        expect(errorCode(await gateway.gql(ROTATE, {}, { 'X-Session-ID': old }))).toBe('SESSION_NOT_FOUND');
        expect(await readable(gateway, [next])).toEqual([next]);
        // The tab that still held the old ID logs out, with its cookie.
        const logout = await gateway.gql('mutation { revokeSession }', {}, { Cookie: `JSESSIONID=${old}` });
        expect(logout.body).toEqual({ data: { revokeSession: true } });
        expect(logout.headers['set-cookie']).toEqual([clearedSessionCookieHeader(cookie)]);
        expect(await readable(gateway, [old, next])).toEqual([null, null]);
      }
    });
  });
});
