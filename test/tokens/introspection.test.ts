/**
 * RFC 7662 introspection (`POST /api/v2/introspect`) over one Redis and two gateway instances:
 * authenticated by a service token (Bearer, or Basic as OAuth clients send it), it answers
 * `{"active": true, ...}` for a live session's token or ID and `{"active": false}` for anything
 * else, never an error; a revoke on one instance makes the token inactive on the other at once.
 * And the private keys appear in no log line, metric or answer.
 */
import type Redis from 'ioredis';
import request from 'supertest';
import { createLogger } from '../../src/logger';
import { SERVICE, SERVICE_TOKEN, startGateway, uniqueNamespace, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
let redis: Redis;
let a: Gateway;
let b: Gateway;
let baseA: string;
let baseB: string;
const logged: string[] = [];

const ISSUE = 'mutation($input: IssueSessionInput) { issueSession(input: $input) { id digest expiresAt createdAt } }';
const TOKEN = 'query($id: ID) { sessionToken(id: $id) { token } }';

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  const env = { SESSION_NAMESPACE: uniqueNamespace(), SESSION_TOKEN_CLAIMS: 'role' };
  const logger = createLogger('trace', { write: (chunk: string) => void logged.push(chunk) });
  a = await startGateway({ redisUrl: server.url, env, logger });
  b = await startGateway({ redisUrl: server.url, env, logger });
  baseA = await a.app.listen({ port: 0, host: '127.0.0.1' });
  baseB = await b.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  redis?.disconnect();
  await server?.destroy();
});

async function issued(input: Record<string, unknown> = {}): Promise<{ id: string; digest: string; expiresAt: string; createdAt: string }> {
  return (await a.gql(ISSUE, { input }, SERVICE)).body.data?.issueSession as { id: string; digest: string; expiresAt: string; createdAt: string };
}
async function tokenOf(id: string): Promise<string> {
  return ((await a.gql(TOKEN, { id }, SERVICE)).body.data?.sessionToken as { token: string }).token;
}
const introspect = (base: string, token: string, auth: Record<string, string> = SERVICE) => request(base).post('/api/v2/introspect').set(auth).type('form').send({ token });

test('a live session\'s token: active, with sub, sid, exp, iat, aud, iss, token_type and the claims SESSION_TOKEN_CLAIMS names', async () => {
  const session = await issued({ principal: 'member-1', attributes: { role: 'editor', secret: 'not-in-tokens' } });
  const response = await introspect(baseB, await tokenOf(session.id));
  expect(response.status).toBe(200);
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.body).toEqual({
    active: true,
    token_type: 'session_token',
    sub: 'member-1',
    sid: session.digest,
    iss: 'session-gateway',
    aud: 'session-gateway',
    iat: expect.any(Number),
    exp: expect.any(Number),
    role: 'editor',
  });
});

test('a session ID: active, by its handle and the session\'s own deadline; a token type says which', async () => {
  const session = await issued({ principal: 'member-2' });
  const response = await introspect(baseB, session.id);
  expect(response.body).toEqual({
    active: true,
    token_type: 'session_id',
    sub: 'member-2',
    sid: session.digest,
    iss: 'session-gateway',
    iat: Math.floor(Date.parse(session.createdAt) / 1000),
    exp: Math.floor(Date.parse(session.expiresAt) / 1000),
  });
});

test('revoked on one instance, its token and its ID are inactive on the other at once', async () => {
  const session = await issued({ principal: 'member-3' });
  const token = await tokenOf(session.id);
  expect((await introspect(baseB, token)).body.active).toBe(true);
  await a.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: session.id }, SERVICE);
  expect((await introspect(baseB, token)).body).toEqual({ active: false });
  expect((await introspect(baseB, session.id)).body).toEqual({ active: false });
});

test('with the gateways\' own cache on (SESSION_CACHE=on, its leases): revoked on one instance, inactive on the other at once', async () => {
  const env = { SESSION_NAMESPACE: uniqueNamespace(), SESSION_CACHE: 'on' };
  const cachedA = await startGateway({ redisUrl: server.url, env });
  const cachedB = await startGateway({ redisUrl: server.url, env });
  try {
    for (let trial = 0; trial < 20; trial++) {
      const session = (await cachedA.gql(ISSUE, { input: { principal: `member-c${trial}` } }, SERVICE)).body.data?.issueSession as { id: string };
      const token = ((await cachedA.gql(TOKEN, { id: session.id }, SERVICE)).body.data?.sessionToken as { token: string }).token;
      const introspectB = () => cachedB.http.post('/api/v2/introspect').set(SERVICE).type('form').send({ token });
      expect((await introspectB()).body.active).toBe(true); // now in B's cache
      expect((await introspectB()).body.active).toBe(true);
      await cachedA.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: session.id }, SERVICE);
      expect((await introspectB()).body).toEqual({ active: false });
    }
  } finally {
    await cachedA.close();
    await cachedB.close();
  }
});

test('anything else is inactive, 200, never an error: garbage, an empty or missing token, a JWT of someone else, a handle', async () => {
  const session = await issued();
  const foreign = `${Buffer.from('{"alg":"ES256","kid":"x"}').toString('base64url')}.${Buffer.from('{"sid":"x"}').toString('base64url')}.AAAA`;
  for (const token of ['garbage', '', 'a.b.c', foreign, session.digest, 'x'.repeat(10_000)]) {
    const response = await introspect(baseA, token);
    expect([response.status, response.body]).toEqual([200, { active: false }]);
  }
  const missing = await request(baseA).post('/api/v2/introspect').set(SERVICE).type('form').send('other=1');
  expect([missing.status, missing.body]).toEqual([200, { active: false }]);
});

test('the caller must be a service: 401 with a challenge without credentials, with a wrong token, or with a session only', async () => {
  const session = await issued();
  const callers: Array<Record<string, string>> = [{}, { Authorization: 'Bearer wrong-token-0123456789' }, { Authorization: `Basic ${Buffer.from('module:wrong-token-0123').toString('base64')}` }, { 'X-Session-ID': session.id }];
  for (const headers of callers) {
    const response = await introspect(baseA, session.id, headers);
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/Basic realm="session-gateway"/);
    expect(response.body.error.code).toBe('UNAUTHENTICATED');
  }
});

test('HTTP Basic with the service token as password (client_secret_basic, as Spring\'s introspector sends it) is a service', async () => {
  const session = await issued();
  const basic = { Authorization: `Basic ${Buffer.from(`any-module:${encodeURIComponent(SERVICE_TOKEN)}`).toString('base64')}` };
  expect((await introspect(baseA, session.id, basic)).body.active).toBe(true);
});

test('no private key is in a log line, a metric, the JWKS or any answer; no token is in a log line', async () => {
  const session = await issued({ principal: 'member-4' });
  const answers: string[] = [];
  answers.push((await a.gql(TOKEN, { id: session.id }, SERVICE)).body.data?.sessionToken.token as string);
  answers.push((await request(baseB).post('/api/v2/session/token').set('X-Session-ID', session.id)).text);
  answers.push((await introspect(baseA, answers[0] as string)).text);
  answers.push((await request(baseA).get('/.well-known/jwks.json')).text, (await request(baseB).get('/.well-known/jwks.json')).text);
  answers.push((await request(baseA).post('/api/v2/session/token').set(SERVICE).send({ audience: 'nope' })).text);
  answers.push((await request(baseA).get('/metrics')).text, (await request(baseB).get('/metrics')).text);
  const stored = JSON.parse((await redis.hget(`${a.config.sessionNamespace}:token-keys`, 'keys')) as string) as Array<{ privateJwk: { d: string } }>;
  expect(stored.length).toBeGreaterThan(0);
  const everything = [...logged, ...answers].join('\n');
  expect(logged.length).toBeGreaterThan(0);
  for (const key of stored) {
    expect(key.privateJwk.d).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(everything).not.toContain(key.privateJwk.d);
  }
  expect(everything).not.toMatch(/"d":/);
  // Nor, like session IDs, is a session token in the logs.
  expect(logged.join('\n')).not.toContain((answers[0] as string).split('.')[2]);
});
