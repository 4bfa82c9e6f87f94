/**
 * The gateway as `npm start` runs it with no REDIS_URL: the embedded store behind the same
 * faces. (The store itself passes the conformance suite in test/store.)
 */
import { SERVICE, startGateway, type Gateway } from '../support/gateway';

let gateway: Gateway;
beforeAll(async () => {
  gateway = await startGateway({ env: { CORS_ORIGINS: 'https://app.example.com' } });
});
afterAll(async () => gateway.close());

test('the embedded store serves the whole lifecycle', async () => {
  expect(gateway.store.kind).toBe('memory');
  const issued = await gateway.gql('mutation { issueSession(input: { attributes: { user: { id: 1 } } }) { id } }', {}, SERVICE);
  const id = issued.headers['x-session-id'] as string;
  expect(issued.body.data?.issueSession.id).toBe(id);
  const rest = await gateway.http.get('/api/v2/session').set('X-Session-ID', id);
  expect(rest.body).toEqual({ id: 1 });
  const revoked = await gateway.gql('mutation { revokeSession }', {}, { 'X-Session-ID': id });
  expect(revoked.body.data?.revokeSession).toBe(true);
  expect((await gateway.gql('{ session { id } }', {}, { 'X-Session-ID': id })).body.data?.session).toBeNull();
});

test('the embedded store serves sign-in by rotation, mySessions, signing out elsewhere and revoke-all, with reasons', async () => {
  const anonymous = (await gateway.http.get('/api/v2/session')).headers['x-session-id'] as string;
  const rotated = await gateway.gql('mutation($id: ID) { rotateSession(id: $id, input: { principal: "m-1" }) { id digest principal } }', { id: anonymous }, SERVICE);
  const signedIn = rotated.body.data?.rotateSession as { id: string; digest: string; principal: string };
  expect(signedIn.principal).toBe('m-1');
  expect((await gateway.gql('{ session { id } }', {}, { 'X-Session-ID': anonymous })).body.data?.session).toBeNull();
  const phone = (await gateway.gql('mutation { issueSession(input: { principal: "m-1" }) { id digest } }', {}, SERVICE)).body.data?.issueSession as { id: string; digest: string };
  const mine = await gateway.gql('{ mySessions { handle current } }', {}, { 'X-Session-ID': signedIn.id });
  expect(mine.body.data?.mySessions).toEqual(expect.arrayContaining([{ handle: signedIn.digest, current: true }, { handle: phone.digest, current: false }]));
  expect((await gateway.gql('mutation { revokeOtherSessions }', {}, { 'X-Session-ID': signedIn.id })).body.data?.revokeOtherSessions).toBe(1);
  expect((await gateway.gql('{ session { id } }', {}, { 'X-Session-ID': phone.id })).body.data?.session).toBeNull();
  expect((await gateway.gql('mutation { revokePrincipalSessions(principal: "m-1") }', {}, SERVICE)).body.data?.revokePrincipalSessions).toBe(1);
  expect((await gateway.gql('{ sessionsOf(principal: "m-1") { handle } }', {}, SERVICE)).body.data?.sessionsOf).toEqual([]);
});

describe('CORS for browser frontends', () => {
  test('an allowed origin may send the session header and read the issued ID', async () => {
    const preflight = await gateway.http
      .options('/graphql')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,x-session-id');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(preflight.headers['access-control-allow-headers']?.toLowerCase()).toContain('x-session-id');

    const response = await gateway.http.get('/api/v2/session').set('Origin', 'https://app.example.com');
    expect(response.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(response.headers['access-control-expose-headers']?.toLowerCase()).toContain('x-session-id');

    // A query the fast path answers (sent twice: the second is compiled) keeps its CORS grant.
    const issued = await gateway.gql('mutation { issueSession { id } }', {}, SERVICE);
    const id = issued.body.data?.issueSession.id as string;
    for (let i = 0; i < 2; i++) {
      const query = await gateway.http.post('/graphql').set({ Origin: 'https://app.example.com', 'X-Session-ID': id }).send({ query: '{ session { id } }' });
      expect(query.body).toEqual({ data: { session: { id } } });
      expect(query.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(query.headers['access-control-expose-headers']?.toLowerCase()).toContain('x-session-id');
      expect(query.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(query.headers['cache-control']).toBe('no-store');
    }
  });

  test('another origin gets no CORS grant', async () => {
    const response = await gateway.http.get('/api/v2/session').set('Origin', 'https://evil.example.net');
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });
});
