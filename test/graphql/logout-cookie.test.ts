/**
 * Logout clears the session cookie (SESSION_COOKIE_SET=true): a frontend (no service token)
 * revoking its own session gets a Set-Cookie that removes the cookie, with the same Path and
 * Domain it was set with. A service's revoke answers a module, not the browser, and clears
 * nothing; nor does a revoke that fails, nor any response of a gateway with the option off.
 * `revokeSession` is a mutation, which the compiled path never takes: Apollo answers it, and the
 * doors are checked to say so.
 */
import { clearedSessionCookieHeader, type SessionCookie } from '../../src/session/transport';
import { watchGraphQLDoors, type DoorWatch, type GraphQLDoor } from '../support/doors';
import { errorCode, SERVICE, startGateway, type Gateway, type GraphQLResponse } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

const REVOKE = 'mutation { revokeSession }';

let server: RedisServer;
let off: Gateway;
let on: Gateway;
let cookie: SessionCookie;
let doors: DoorWatch<GraphQLDoor>;

beforeAll(async () => {
  server = await startRedis();
  off = await startGateway({ redisUrl: server.url });
  on = await startGateway({ redisUrl: server.url, env: { SESSION_COOKIE_SET: 'true', SESSION_COOKIE_DOMAIN: 'zum.com', SESSION_COOKIE_PATH: '/' } });
  cookie = on.config.sessionCookieSet as SessionCookie;
  doors = watchGraphQLDoors();
});
afterAll(async () => {
  doors.restore();
  await off.close();
  await on.close();
  await server.destroy();
});

/** A session as the REST shim hands one to a browser: its ID from the response. */
async function browserSession(target: Gateway): Promise<string> {
  const response = await target.http.get('/api/v2/session');
  return response.headers['x-session-id'] as string;
}

/** A GraphQL POST, and that Apollo (not the compiled path) answered it. */
async function viaApollo(target: Gateway, query: string, headers: Record<string, string>, variables?: Record<string, unknown>): Promise<GraphQLResponse> {
  await doors.take();
  const response = await target.gql(query, variables, headers);
  expect(await doors.take()).toEqual(['apollo']);
  return response;
}

async function exists(target: Gateway, id: string): Promise<boolean> {
  const read = await target.gql('query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: [id] }, SERVICE);
  return read.body.data?.sessions[0] !== null;
}

describe('SESSION_COOKIE_SET=true', () => {
  test('a browser logging out with only its cookie: the session is revoked and the cookie cleared, no-store', async () => {
    const id = await browserSession(on);
    const response = await viaApollo(on, REVOKE, { Cookie: `JSESSIONID=${id}` });
    expect(response.body).toEqual({ data: { revokeSession: true } });
    expect(response.headers['set-cookie']).toEqual([clearedSessionCookieHeader(cookie)]);
    expect(response.headers['set-cookie']).toEqual(['JSESSIONID=; Max-Age=0; Path=/; Domain=zum.com; Secure; HttpOnly; SameSite=Lax']);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(await exists(on, id)).toBe(false);
  });

  test('a frontend logging out by the session header clears the cookie too', async () => {
    const id = await browserSession(on);
    const response = await viaApollo(on, REVOKE, { 'X-Session-ID': id });
    expect(response.body.data?.revokeSession).toBe(true);
    expect(response.headers['set-cookie']).toEqual([clearedSessionCookieHeader(cookie)]);
  });

  test('logging out of a session already gone answers false and still clears the cookie', async () => {
    const id = await browserSession(on);
    await viaApollo(on, REVOKE, { Cookie: `JSESSIONID=${id}` });
    const again = await viaApollo(on, REVOKE, { Cookie: `JSESSIONID=${id}` });
    expect(again.body).toEqual({ data: { revokeSession: false } });
    expect(again.headers['set-cookie']).toEqual([clearedSessionCookieHeader(cookie)]);
  });

  test('a revoke that fails clears nothing: another session (FORBIDDEN), or no session at all (UNAUTHENTICATED)', async () => {
    const mine = await browserSession(on);
    const theirs = await browserSession(on);
    const forbidden = await viaApollo(on, 'mutation($id: ID) { revokeSession(id: $id) }', { Cookie: `JSESSIONID=${mine}` }, { id: theirs });
    expect(errorCode(forbidden)).toBe('FORBIDDEN');
    expect(forbidden.headers['set-cookie']).toBeUndefined();
    const anonymous = await viaApollo(on, REVOKE, {});
    expect(errorCode(anonymous)).toBe('UNAUTHENTICATED');
    expect(anonymous.headers['set-cookie']).toBeUndefined();
    expect(await exists(on, mine)).toBe(true);
    expect(await exists(on, theirs)).toBe(true);
  });

  test('a service revoking a session clears no cookie: its answer goes to a module, not the browser', async () => {
    const id = await browserSession(on);
    const response = await viaApollo(on, 'mutation($id: ID) { revokeSession(id: $id) }', SERVICE, { id });
    expect(response.body.data?.revokeSession).toBe(true);
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  test('a service issuing a session over GraphQL sets no cookie (the module hands the ID on)', async () => {
    const response = await viaApollo(on, 'mutation { issueSession { id } }', SERVICE);
    expect(response.headers['x-session-id']).toBe(response.body.data?.issueSession.id);
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  test('a mutation over GET is refused (405) before anything runs, and clears nothing', async () => {
    const id = await browserSession(on);
    const response = await on.http.get(`/graphql?query=${encodeURIComponent(REVOKE)}`).set({ 'X-Session-ID': id, Accept: 'application/json' });
    expect(response.status).toBe(405);
    expect(response.headers['set-cookie']).toBeUndefined();
    expect(await exists(on, id)).toBe(true);
  });

  test('reads set no cookie, on either door', async () => {
    const id = await browserSession(on);
    await doors.take();
    const compiled = await on.gql('{ session { id } }', undefined, { Cookie: `JSESSIONID=${id}` });
    expect(await doors.take()).toEqual(['compiled']);
    expect(compiled.body.data?.session).toEqual({ id });
    expect(compiled.headers['set-cookie']).toBeUndefined();
    const apollo = await on.http.get(`/graphql?query=${encodeURIComponent('{ session { id } }')}`).set({ 'X-Session-ID': id, Accept: 'application/json' });
    expect(apollo.body.data?.session).toEqual({ id });
    expect(apollo.headers['set-cookie']).toBeUndefined();
  });
});

describe('CSRF: what another site can make a browser send, with only its cookie, is refused before anything runs', () => {
  test('a GET query with only the cookie: 400, nothing read', async () => {
    const id = await browserSession(on);
    const response = await on.http.get(`/graphql?query=${encodeURIComponent('{ session { id } }')}`).set({ Cookie: `JSESSIONID=${id}`, Accept: 'application/json' });
    expect(response.status).toBe(400);
    expect(response.body.errors[0].message).toContain('Cross-Site Request Forgery');
    expect(response.body.data).toBeUndefined();
    expect(JSON.stringify(response.body)).not.toContain(id);
  });

  test('a text/plain POST (a form or a no-cors fetch) of the logout with only the cookie: 400, the session stays', async () => {
    const id = await browserSession(on);
    const response = await on.http
      .post('/graphql')
      .set({ Cookie: `JSESSIONID=${id}`, 'Content-Type': 'text/plain', Accept: 'application/json' })
      .send(JSON.stringify({ query: REVOKE }));
    expect(response.status).toBe(400);
    expect(response.body.errors[0].message).toContain('Cross-Site Request Forgery');
    expect(response.headers['set-cookie']).toBeUndefined();
    expect(await exists(on, id)).toBe(true);
  });
});

test('SESSION_COOKIE_SET off: a logout revokes the session and sets no cookie', async () => {
  const id = await browserSession(off);
  const response = await viaApollo(off, REVOKE, { Cookie: `JSESSIONID=${id}` });
  expect(response.body.data?.revokeSession).toBe(true);
  expect(response.headers['set-cookie']).toBeUndefined();
});

describe('the cookie follows a rotation (SESSION_COOKIE_SET=true)', () => {
  test('a browser rotating its own session gets the new ID in its cookie, Max-Age to the absolute deadline; the old cookie is worthless', async () => {
    const id = await browserSession(on);
    const issued = await on.http.get('/api/v2/session');
    // The REST shim's cookie lasts the session's lifetime (SESSION_MAX_LIFETIME, 24 h by default).
    expect(issued.headers['set-cookie']).toEqual([expect.stringMatching(/; Max-Age=86400;/)]);
    const response = await viaApollo(on, 'mutation { rotateSession { id absoluteExpiresAt lastAccessedAt } }', { Cookie: `JSESSIONID=${id}` });
    const rotated = response.body.data?.rotateSession as { id: string; absoluteExpiresAt: string; lastAccessedAt: string };
    const maxAge = Math.floor((Date.parse(rotated.absoluteExpiresAt) - Date.parse(rotated.lastAccessedAt)) / 1000);
    expect(response.headers['set-cookie']).toEqual([`JSESSIONID=${rotated.id}; Max-Age=${maxAge}; Path=/; Domain=zum.com; Secure; HttpOnly; SameSite=Lax`]);
    expect(await exists(on, id)).toBe(false);
    expect(await exists(on, rotated.id)).toBe(true);
  });

  test("a service's rotation (a sign-in) answers the module and sets no cookie: the module hands the new ID on", async () => {
    const id = await browserSession(on);
    const response = await viaApollo(on, 'mutation R($id: ID) { rotateSession(id: $id, input: { principal: "member-1" }) { id } }', SERVICE, { id });
    expect(response.body.data?.rotateSession.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(response.headers['set-cookie']).toBeUndefined();
  });
});
