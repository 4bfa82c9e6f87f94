/**
 * Nothing secret in a span: a run of the traffic a gateway serves (issue, read, update, rotate,
 * revoke, a principal's sessions; through GraphQL on both doors, REST on both lanes and the legacy
 * URL; the ID in the header, the cookie, the query, a path parameter, variables and inline in a
 * document; errors too), every span exported for it, and not one of them holds a session ID, a
 * digest, the service token, an attribute's value or a principal, anywhere (names, attributes,
 * resource, events, status).
 */
import { sessionDigest, TAG_LENGTH } from '../src/session/ids';
import { startGateway, SERVICE, SERVICE_TOKEN, type Gateway } from './support/gateway';
import { startOtlpReceiver, type OtlpReceiver } from './support/otlp-receiver';
import { startRedis, type RedisServer } from './support/redis-server';

const PRINCIPAL = 'principal-scan-8c1f37';
const SIGNED_IN = 'principal-scan-signed-in-5e02';
const ATTRIBUTE_VALUE = 'attribute-value-scan-49d1a7';
const PATCHED_VALUE = 'patched-value-scan-b7e3';

let receiver: OtlpReceiver;
let redis: RedisServer;
let gateway: Gateway;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  redis = await startRedis();
  gateway = await startGateway({
    redisUrl: redis.url,
    // The cookie set and cleared too, and a rotation's grace (the old ID answers reads for a while).
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, SESSION_COOKIE_SET: 'true', SESSION_COOKIE_SECURE: 'false', ROTATION_GRACE_SECONDS: '30' },
  });
});

afterAll(async () => {
  await gateway?.close();
  await redis?.destroy();
  await receiver?.close();
});

test('no span of a full run of traffic holds a session ID, digest, token, attribute value or principal', async () => {
  const ids = new Set<string>();
  const seen = (id: unknown): string => {
    if (typeof id !== 'string' || id.length !== 43) throw new Error(`expected a session ID, got ${JSON.stringify(id)}`);
    ids.add(id);
    return id;
  };
  const gql = async (query: string, variables: Record<string, unknown>, headers: Record<string, string>) => {
    const response = await gateway.gql(query, variables, headers);
    if (response.status !== 200) throw new Error(`${response.status}: ${JSON.stringify(response.body)}`);
    return response;
  };

  // Issue: GraphQL (a service), REST v2 and the legacy URL (anonymous).
  const issued = await gql(
    'mutation Issue($p: String, $a: JSONObject) { issueSession(input: { principal: $p, attributes: $a }) { id } }',
    { p: PRINCIPAL, a: { user: { secret: ATTRIBUTE_VALUE } } },
    SERVICE,
  );
  const member = seen(issued.body.data?.issueSession.id);
  const second = seen((await gql(`mutation { issueSession(input: { principal: "${PRINCIPAL}", attributes: { user: "${ATTRIBUTE_VALUE}" } }) { id } }`, {}, SERVICE)).body.data?.issueSession.id);
  const anonymous = seen((await gateway.http.get('/api/v2/session')).headers['x-session-id']);
  const legacy = seen((await gateway.http.get('/api/v1/session')).headers['x-session-id']);

  // Read: GraphQL on both doors, the ID every way it can come.
  await gql('query Own { session { id principal attributes } }', {}, { 'X-Session-ID': member });
  await gql('{ session { id attributes } }', {}, { Cookie: `JSESSIONID=${second}` });
  await gql('query Batch($ids: [ID!]!) { sessions(ids: $ids) { id principal user: attribute(name: "user") } }', { ids: [member, second, anonymous] }, SERVICE);
  await gql(`{ sessions(ids: ["${member}", "${legacy}"]) { id } }`, {}, SERVICE);
  const params = new URLSearchParams({ query: `{ sessions(ids: ["${member}"]) { id attributes } }` });
  expect((await gateway.http.get(`/graphql?${params}`).set({ ...SERVICE, 'Apollo-Require-Preflight': 'true', Accept: 'application/json' })).status).toBe(200);
  await gql('query Of($p: String!) { sessionsOf(principal: $p) { handle current } }', { p: PRINCIPAL }, { ...SERVICE, 'X-Session-ID': member });
  await gql('{ mySessions { handle current } }', {}, { 'X-Session-ID': member });
  // REST: the direct lane, Fastify's routes, the legacy query and path parameter, a cookie.
  for (const request of [
    gateway.http.get('/api/v2/session').set('X-Session-ID', member),
    gateway.http.get('/api/v2/session?lane=fastify').set('X-Session-ID', second),
    gateway.http.get(`/api/v1/session?JSESSIONID=${member}`),
    gateway.http.get(`/api/v1/session;jsessionid=${second}`),
    gateway.http.get('/api/v2/session').set('Cookie', `JSESSIONID=${anonymous}`),
  ]) {
    expect((await request).status).toBe(200);
  }

  // Update: inline and by variables, by header; an error with the ID in it.
  await gql(`mutation { updateSession(id: "${member}", patch: { set: { cart: "${PATCHED_VALUE}" } }) { version } }`, {}, SERVICE);
  await gql('mutation Patch($id: ID, $v: JSON!) { updateSession(id: $id, patch: { set: { note: $v }, unset: ["cart"] }) { version } }', { id: second, v: PATCHED_VALUE }, SERVICE);
  await gql('mutation { updateSession(patch: { set: { seen: true } }) { version } }', {}, { ...SERVICE, 'X-Session-ID': anonymous });
  const refused = await gql(`mutation { updateSession(id: "${member}", patch: { expectedVersion: 99, set: { a: 1 } }) { version } }`, {}, SERVICE);
  expect(refused.body.errors?.[0]?.extensions?.code).toBe('VERSION_CONFLICT');
  const wrongToken = await gateway.gql('{ sessions(ids: []) { id } }', {}, { Authorization: `Bearer ${SERVICE_TOKEN}-wrong` });
  expect(wrongToken.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

  // Rotate: a sign-in (a new principal) and a frontend's own rotation; the old ID read in its grace.
  const signedIn = seen((await gql('mutation SignIn($id: ID!, $p: String) { rotateSession(id: $id, input: { principal: $p }) { id } }', { id: anonymous, p: SIGNED_IN }, SERVICE)).body.data?.rotateSession.id);
  const own = seen((await gql('mutation { rotateSession { id } }', {}, { 'X-Session-ID': second })).body.data?.rotateSession.id);
  expect((await gateway.http.get('/api/v2/session').set('X-Session-ID', anonymous)).headers['x-session-id']).toBe(signedIn);
  await gql('{ session { id } }', {}, { 'X-Session-ID': second });

  // Revoke: a service by ID, a frontend's logout, one device by its handle, all of a principal's.
  await gql('mutation Revoke($id: ID) { revokeSession(id: $id) }', { id: legacy }, SERVICE);
  await gql('mutation { revokeSession }', {}, { 'X-Session-ID': own });
  const handles = await gql('{ mySessions { handle current } }', {}, { 'X-Session-ID': signedIn });
  expect(handles.body.data?.mySessions).toHaveLength(1);
  await gql(`mutation { revokeSession(handle: "${sessionDigest(signedIn)}") }`, {}, { 'X-Session-ID': signedIn });
  await gql('mutation All($p: String!) { revokePrincipalSessions(principal: $p) }', { p: PRINCIPAL }, SERVICE);

  await gateway.tracing?.flush();
  const spans = receiver.spans();
  const exported = receiver.bodies().join('\n');

  // Not vacuous: every door and every kind of span is there.
  const names = new Set(spans.map((span) => span.name));
  for (const name of [
    'POST /graphql',
    'GET /graphql',
    'GET /api/v2/session',
    'GET /api/v1/session',
    'mutation Issue',
    'query Own',
    'query Batch',
    'query',
    'mutation',
    'mutation SignIn',
    'mutation All',
    'GET',
    'MGET',
    'EVALSHA createSession',
    'EVALSHA updateSession',
    'EVALSHA destroySession',
    'EVALSHA revokePrincipal',
    'ZRANGEBYSCORE',
  ]) {
    expect(names).toContain(name);
  }
  expect(spans.length).toBeGreaterThan(60);

  const secrets = new Map<string, string>([
    ['the service token', SERVICE_TOKEN],
    ['a principal', PRINCIPAL],
    ['the signed-in principal', SIGNED_IN],
    ['an attribute value', ATTRIBUTE_VALUE],
    ['a patched attribute value', PATCHED_VALUE],
  ]);
  expect(ids.size).toBe(6);
  for (const id of ids) {
    secrets.set(`session ID ${id}`, id);
    secrets.set(`the digest of ${id}`, sessionDigest(id));
    secrets.set(`the SHA-256 part of the digest of ${id}`, sessionDigest(id).slice(TAG_LENGTH));
    // Half an ID is no less a leak (a truncating attribute, a URL cut short).
    secrets.set(`the second half of ${id}`, id.slice(21));
  }
  const found = [...secrets].filter(([, secret]) => exported.includes(secret)).map(([what]) => what);
  expect(found).toEqual([]);
});
