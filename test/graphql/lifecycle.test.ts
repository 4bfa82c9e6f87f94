/**
 * The session lifecycle through GraphQL and the REST shim, as a frontend and a module use it:
 * sign-in by rotation, "where am I signed in", signing other devices out, a service's revoke-all,
 * the grace of a rotated ID, and the reason every revoke is announced with. Over a real
 * redis-server; the rules themselves are held on every store by test/store/lifecycle.contract.ts.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { sessionDigest } from '../../src/session/ids';
import { watchGraphQLDoors, watchRestDoors, type DoorWatch, type GraphQLDoor, type RestDoor } from '../support/doors';
import { errorCode, gatewayOverRedis, SERVICE, startGateway, type Gateway } from '../support/gateway';

const fx = gatewayOverRedis({ ROTATION_GRACE_SECONDS: '0', MAX_SESSIONS_PER_PRINCIPAL: '0' });

let graphqlDoors: DoorWatch<GraphQLDoor>;
let restDoors: DoorWatch<RestDoor>;
beforeAll(() => {
  graphqlDoors = watchGraphQLDoors();
  restDoors = watchRestDoors();
});
afterAll(() => {
  graphqlDoors.restore();
  restDoors.restore();
});

/** The same query as a POST (the compiled path takes it) and as a GET (Apollo does): each response, by the door that gave it. */
async function throughBothDoors(gateway: Gateway, query: string, headers: Record<string, string>): Promise<Map<GraphQLDoor, Awaited<ReturnType<Gateway['gql']>>>> {
  const answers = new Map<GraphQLDoor, Awaited<ReturnType<Gateway['gql']>>>();
  await graphqlDoors.take();
  answers.set('compiled', await gateway.gql(query, {}, headers));
  expect(await graphqlDoors.take()).toEqual(['compiled']);
  const get = await gateway.http.get(`/graphql?${new URLSearchParams({ query })}`).set(headers).set('Apollo-Require-Preflight', 'true');
  expect(await graphqlDoors.take()).toEqual(['apollo']);
  answers.set('apollo', { status: get.status, headers: get.headers as Record<string, string>, body: get.body });
  return answers;
}

const ISSUE = 'mutation Issue($input: IssueSessionInput) { issueSession(input: $input) { id digest principal authenticatedAt absoluteExpiresAt expiresAt device { userAgent clientAddress } } }';
const ROTATE = 'mutation Rotate($id: ID, $input: RotateSessionInput) { rotateSession(id: $id, input: $input) { id digest principal version authenticatedAt attributes } }';
const MINE = '{ mySessions { handle current createdAt lastAccessedAt expiresAt authenticatedAt device { userAgent clientAddress } } }';
const OF = 'query Of($principal: String!) { sessionsOf(principal: $principal) { handle current } }';

let principals = 0;
const newPrincipal = (): string => `member-${process.pid}-${++principals}`;

async function issue(gateway: Gateway, input: Record<string, unknown>): Promise<{ id: string; digest: string }> {
  const response = await gateway.gql(ISSUE, { input }, SERVICE);
  expect(response.body.errors).toBeUndefined();
  return response.body.data?.issueSession;
}

describe('signing in: an anonymous session from the REST shim becomes the user\'s by rotation', () => {
  test('the module rotates with the principal; the old ID is dead at once, the new one is in X-Session-ID and listed', async () => {
    const first = await fx.gateway.http.get('/api/v2/session');
    const anonymous = first.headers['x-session-id'] as string;
    const principal = newPrincipal();
    const rotated = await fx.gateway.gql(ROTATE, { id: anonymous, input: { principal, device: { userAgent: 'Mozilla/5.0', clientAddress: '198.51.100.23' } } }, SERVICE);
    expect(rotated.body.errors).toBeUndefined();
    const session = rotated.body.data?.rotateSession;
    expect(rotated.headers['x-session-id']).toBe(session.id);
    expect(session).toMatchObject({ principal, version: 2, digest: sessionDigest(session.id) });
    expect(session.authenticatedAt).not.toBeNull();
    // The old ID: no session through either face (the shim issues a new anonymous one).
    expect((await fx.gateway.gql('{ session { id } }', {}, { 'X-Session-ID': anonymous })).body.data?.session).toBeNull();
    const again = await fx.gateway.http.get('/api/v2/session').set('X-Session-ID', anonymous);
    expect(again.headers['x-session-id']).not.toBe(anonymous);
    expect(again.headers['x-session-id']).not.toBe(session.id);

    const mine = await fx.gateway.gql(MINE, {}, { 'X-Session-ID': session.id });
    expect(mine.body.data?.mySessions).toEqual([
      expect.objectContaining({ handle: session.digest, current: true, device: { userAgent: 'Mozilla/5.0', clientAddress: '198.51.100.0' } }),
    ]);
    expect(JSON.stringify(mine.body)).not.toContain(session.id);
  });

  test('changing the principal with updateSession is refused as session fixation, and writes nothing', async () => {
    const { id } = await issue(fx.gateway, {});
    const response = await fx.gateway.gql('mutation { updateSession(patch: { principal: "someone", set: { a: 1 } }) { id } }', {}, { ...SERVICE, 'X-Session-ID': id });
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.body.errors?.[0]?.message).toMatch(/rotateSession/);
    expect((await fx.gateway.gql('{ session { principal attributes version } }', {}, { 'X-Session-ID': id })).body.data?.session).toEqual({ principal: null, attributes: {}, version: 1 });
  });

  test('a frontend rotates its own session (its device from the request); it may not sign itself in', async () => {
    const { id } = await issue(fx.gateway, { principal: newPrincipal() });
    const refused = await fx.gateway.gql(ROTATE, { input: { principal: 'admin' } }, { 'X-Session-ID': id });
    expect(errorCode(refused)).toBe('FORBIDDEN');
    const own = await fx.gateway.gql(ROTATE, {}, { 'X-Session-ID': id, 'User-Agent': 'Firefox/140', 'X-Forwarded-For': '192.0.2.200' });
    expect(own.body.errors).toBeUndefined();
    const next = own.body.data?.rotateSession.id as string;
    const mine = await fx.gateway.gql(MINE, {}, { 'X-Session-ID': next });
    expect(mine.body.data?.mySessions[0]).toMatchObject({ current: true, device: { userAgent: 'Firefox/140', clientAddress: '192.0.2.0' } });
  });
});

describe("a principal's sessions", () => {
  test('mySessions lists every device, marks the current one; revokeSession(handle:) and revokeOtherSessions sign the others out', async () => {
    const principal = newPrincipal();
    const phone = await issue(fx.gateway, { principal, device: { userAgent: 'Phone' } });
    const laptop = await issue(fx.gateway, { principal, device: { userAgent: 'Laptop' } });
    const tablet = await issue(fx.gateway, { principal, device: { userAgent: 'Tablet' } });
    const stranger = await issue(fx.gateway, { principal: newPrincipal() });

    // Both doors answer the same list.
    const byDoor = await throughBothDoors(fx.gateway, MINE, { 'X-Session-ID': laptop.id });
    expect(byDoor.get('compiled')?.body).toEqual(byDoor.get('apollo')?.body);
    const listed = byDoor.get('compiled') as Awaited<ReturnType<Gateway['gql']>>;
    expect(listed.body.data?.mySessions.map((s: { handle: string }) => s.handle).sort()).toEqual([phone.digest, laptop.digest, tablet.digest].sort());
    expect(listed.body.data?.mySessions.filter((s: { current: boolean }) => s.current)).toHaveLength(1);

    const notMine = await fx.gateway.gql('mutation R($h: String) { revokeSession(handle: $h) }', { h: stranger.digest }, { 'X-Session-ID': laptop.id });
    expect(notMine.body.data?.revokeSession).toBe(false);
    const signedOut = await fx.gateway.gql('mutation R($h: String) { revokeSession(handle: $h) }', { h: phone.digest }, { 'X-Session-ID': laptop.id });
    expect(signedOut.body.data?.revokeSession).toBe(true);
    expect((await fx.gateway.gql('{ session { id } }', {}, { 'X-Session-ID': phone.id })).body.data?.session).toBeNull();

    const others = await fx.gateway.gql('mutation { revokeOtherSessions }', {}, { 'X-Session-ID': laptop.id });
    expect(others.body.data?.revokeOtherSessions).toBe(1);
    const left = await fx.gateway.gql(OF, { principal }, SERVICE);
    expect(left.body.data?.sessionsOf).toEqual([{ handle: laptop.digest, current: false }]);
    expect((await fx.gateway.gql('{ session { id } }', {}, { 'X-Session-ID': stranger.id })).body.data?.session).toEqual({ id: stranger.id });
  });

  test('sessionsOf and revokePrincipalSessions are for services; a frontend is FORBIDDEN and nothing changes', async () => {
    const principal = newPrincipal();
    const own = await issue(fx.gateway, { principal });
    for (const query of [OF, 'mutation R($principal: String!) { revokePrincipalSessions(principal: $principal) }']) {
      const response = await fx.gateway.gql(query, { principal }, { 'X-Session-ID': own.id });
      expect(errorCode(response)).toBe('FORBIDDEN');
    }
    expect((await fx.gateway.gql('{ session { id } }', {}, { 'X-Session-ID': own.id })).body.data?.session).toEqual({ id: own.id });
  });

  test('"revoke all" through one gateway: no session of the principal can be read through another, and each is announced with its reason', async () => {
    const other = await startGateway({ redisUrl: fx.server.url, env: { SESSION_NAMESPACE: fx.gateway.config.sessionNamespace } });
    const address = await fx.gateway.app.listen({ port: 0, host: '127.0.0.1' });
    const events: Array<{ digest: string; kind: string; reason: string | null }> = [];
    const client = createClient({ url: `${address.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: SERVICE.Authorization }, retryAttempts: 0 });
    try {
      const subscribed = new Promise<void>((resolve, reject) => {
        client.subscribe<{ sessionChanges: { digest: string; kind: string; reason: string | null } }>(
          { query: 'subscription { sessionChanges { digest kind reason } }' },
          { next: (message) => (message.data?.sessionChanges.kind === 'SUBSCRIBED' ? resolve() : events.push(message.data?.sessionChanges as never)), error: reject, complete: () => undefined },
        );
      });
      await subscribed;
      const principal = newPrincipal();
      const sessions = await Promise.all([1, 2, 3].map(() => issue(fx.gateway, { principal })));
      const revoked = await fx.gateway.gql('mutation R($principal: String!) { revokePrincipalSessions(principal: $principal) }', { principal }, SERVICE);
      expect(revoked.body.data?.revokePrincipalSessions).toBe(3);
      for (const s of sessions) expect((await other.gql('{ session { id } }', {}, { 'X-Session-ID': s.id })).body.data?.session).toBeNull();
      const deadline = Date.now() + 5000;
      while (events.filter((event) => event.kind === 'REVOKED').length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events.filter((event) => event.kind === 'REVOKED')).toEqual(expect.arrayContaining(sessions.map((s) => ({ digest: s.digest, kind: 'REVOKED', reason: 'PRINCIPAL_REVOKED' }))));
      expect(events.filter((event) => event.kind === 'ISSUED').every((event) => event.reason === null)).toBe(true);
    } finally {
      await client.dispose();
      await other.close();
    }
  });
});

describe('a rotation with a grace (ROTATION_GRACE_SECONDS)', () => {
  test('the old ID reads the new session and is told the new ID in X-Session-ID, through both GraphQL doors and both REST doors; writes are refused', async () => {
    const graced = await startGateway({ redisUrl: fx.server.url, env: { ROTATION_GRACE_SECONDS: '30' } });
    try {
      const old = await issue(graced, { principal: newPrincipal(), attributes: { user: { id: 5 } } });
      const rotated = await graced.gql(ROTATE, { id: old.id }, SERVICE);
      const next = rotated.body.data?.rotateSession.id as string;
      for (const read of (await throughBothDoors(graced, '{ session { id attributes } }', { 'X-Session-ID': old.id })).values()) {
        expect(read.body.data?.session).toEqual({ id: next, attributes: { user: { id: 5 } } });
        expect(read.headers['x-session-id']).toBe(next);
      }
      // The direct lane takes a plain GET; an Origin sends it through Fastify (CORS).
      for (const [door, headers] of [['direct lane', {}], ['fastify', { Origin: 'https://app.example.com' }]] as const) {
        await restDoors.take();
        const rest = await graced.http.get('/api/v2/session').set({ 'X-Session-ID': old.id, ...headers });
        expect(await restDoors.take()).toEqual([door]);
        expect(rest.headers['x-session-id']).toBe(next);
        expect(rest.body).toEqual({ id: 5 });
      }
      const write = await graced.gql('mutation { updateSession(patch: { set: { a: 1 } }) { id } }', {}, { ...SERVICE, 'X-Session-ID': old.id });
      expect(errorCode(write)).toBe('SESSION_NOT_FOUND');
      expect((await graced.gql('{ session { attributes } }', {}, { 'X-Session-ID': next })).body.data?.session).toEqual({ attributes: { user: { id: 5 } } });
    } finally {
      await graced.close();
    }
  });
});
