/**
 * Session tokens against the real thing: one Redis, two gateway instances (A and B) on one
 * namespace, and jose's own `createRemoteJWKSet` + `jwtVerify` as the independent verifier (what
 * a module's framework does). Tokens signed by one instance verify against the other's JWKS;
 * what a token says; what is refused; both doors (GraphQL, REST) keep one set of rules.
 */
import { createHmac } from 'node:crypto';
import type Redis from 'ioredis';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import request from 'supertest';
import { sessionDigest } from '../../src/session/ids';
import { SERVICE, startGateway, startGatewayPair, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
let redis: Redis;
let a: Gateway;
let b: Gateway;
let baseA: string;
let baseB: string;
let jwksOfB: JWTVerifyGetKey;

const ISSUE = 'mutation($input: IssueSessionInput) { issueSession(input: $input) { id digest expiresAt } }';
const TOKEN = 'query($id: ID, $audience: String) { sessionToken(id: $id, audience: $audience) { token tokenType audience expiresAt } }';

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  ({ a, b, baseA, baseB } = await startGatewayPair(server.url));
  jwksOfB = createRemoteJWKSet(new URL(`${baseB}/.well-known/jwks.json`));
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  redis?.disconnect();
  await server?.destroy();
});

async function issued(gateway: Gateway, input: Record<string, unknown> = {}): Promise<{ id: string; digest: string; expiresAt: string }> {
  const response = await gateway.gql(ISSUE, { input }, SERVICE);
  return response.body.data?.issueSession as { id: string; digest: string; expiresAt: string };
}

async function tokenFor(gateway: Gateway, id: string, audience?: string): Promise<string> {
  const response = await gateway.gql(TOKEN, { id, audience }, SERVICE);
  if (response.body.errors !== undefined) throw new Error(JSON.stringify(response.body.errors));
  return (response.body.data?.sessionToken as { token: string }).token;
}

const verifyIndependently = (token: string, options: { audience?: string; issuer?: string; currentDate?: Date } = {}) =>
  jwtVerify(token, jwksOfB, { issuer: options.issuer ?? 'session-gateway', audience: options.audience ?? 'session-gateway', ...(options.currentDate === undefined ? {} : { currentDate: options.currentDate }) });

test('a token signed by one instance verifies with jose against the other instance\'s JWKS, and says sid, sub, iat, exp, aud, iss, kid', async () => {
  const session = await issued(a, { principal: 'member-7', attributes: { role: 'admin' } });
  const token = await tokenFor(a, session.id);
  const { payload, protectedHeader } = await verifyIndependently(token);
  expect(protectedHeader).toEqual({ alg: 'ES256', kid: expect.any(String), typ: 'JWT' });
  expect(payload).toEqual({ iss: 'session-gateway', aud: 'session-gateway', sid: session.digest, sub: 'member-7', iat: expect.any(Number), exp: expect.any(Number) });
  expect((payload.exp as number) - (payload.iat as number)).toBeLessThanOrEqual(300);
  // The token names the session by its handle only: the ID is nowhere in it.
  expect(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).not.toContain(session.id);
  expect(sessionDigest(session.id)).toBe(payload.sid);
});

test('REST POST /api/v2/session/token answers a token for the session in X-Session-ID; an anonymous session\'s has no sub', async () => {
  const anonymous = (await request(baseB).get('/api/v2/session')).headers['x-session-id'] as string;
  const response = await request(baseB).post('/api/v2/session/token').set('X-Session-ID', anonymous);
  expect(response.status).toBe(200);
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.body).toEqual({ token: expect.any(String), tokenType: 'Bearer', audience: 'session-gateway', expiresAt: expect.any(String) });
  const { payload } = await verifyIndependently(response.body.token as string);
  expect(payload.sub).toBeUndefined();
  expect(payload.sid).toBe(sessionDigest(anonymous));
  expect(new Date(response.body.expiresAt as string).getTime()).toBe((payload.exp as number) * 1000);
});

test('a token never outlives its session: exp is at most the session\'s idle deadline', async () => {
  const session = await issued(a, { maxInactiveInterval: 20 });
  const { payload } = await verifyIndependently(await tokenFor(b, session.id));
  expect((payload.exp as number) * 1000).toBeLessThanOrEqual(Date.parse(session.expiresAt) + 1000);
  expect((payload.exp as number) - (payload.iat as number)).toBeLessThanOrEqual(20);
});

test('both instances serve the same JWKS, cacheable for one token lifetime, public members only; the keys are in Redis under <ns>:token-keys', async () => {
  const fromA = await request(baseA).get('/.well-known/jwks.json');
  const fromB = await request(baseB).get('/.well-known/jwks.json');
  expect(fromA.status).toBe(200);
  expect(fromA.headers['content-type']).toMatch(/^application\/jwk-set\+json/);
  expect(fromA.headers['cache-control']).toBe('public, max-age=300');
  const keys = JSON.parse(fromA.text).keys as Array<Record<string, string>>;
  expect(JSON.parse(fromB.text)).toEqual({ keys });
  expect(keys.length).toBeGreaterThanOrEqual(1);
  for (const key of keys) expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  const stored = await redis.hget(`${a.config.sessionNamespace}:token-keys`, 'keys');
  expect((JSON.parse(stored as string) as Array<{ kid: string }>).map((key) => key.kid)).toEqual(keys.map((key) => key.kid));
});

test('on the embedded store (no Redis), with SESSION_TOKEN_ALG=EdDSA: an Ed25519 token that jose verifies against the JWKS', async () => {
  const memory = await startGateway({ env: { SESSION_TOKEN_ALG: 'EdDSA' } });
  try {
    const base = await memory.app.listen({ port: 0, host: '127.0.0.1' });
    const session = await issued(memory, { principal: 'member-e' });
    const token = await tokenFor(memory, session.id);
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`)), { issuer: 'session-gateway', audience: 'session-gateway' });
    expect(protectedHeader.alg).toBe('EdDSA');
    expect(payload.sid).toBe(session.digest);
    const keys = JSON.parse((await request(base).get('/.well-known/jwks.json')).text).keys as Array<Record<string, string>>;
    expect(keys.map((key) => [key.kty, key.crv, Object.keys(key).sort().join(',')])).toEqual([['OKP', 'Ed25519', 'alg,crv,kid,kty,use,x']]);
  } finally {
    await memory.close();
  }
});

describe('what a verifier refuses', () => {
  let token: string;
  beforeAll(async () => {
    token = await tokenFor(a, (await issued(a, { principal: 'member-8' })).id);
  });
  const encoded = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

  async function refused(forged: string, options: Parameters<typeof verifyIndependently>[1] = {}): Promise<void> {
    await expect(verifyIndependently(forged, options)).rejects.toThrow();
    const introspected = await request(baseA).post('/api/v2/introspect').set(SERVICE).type('form').send({ token: forged });
    expect(introspected.status).toBe(200);
    expect(introspected.body).toEqual({ active: false });
  }

  test('the genuine token passes (the control)', async () => {
    await expect(verifyIndependently(token)).resolves.toBeDefined();
  });
  test('a tampered payload', async () => {
    const parts = token.split('.');
    const claims = decodeJwt(token);
    await refused([parts[0], encoded({ ...claims, sub: 'member-9' }), parts[2]].join('.'));
  });
  test('a tampered signature', async () => {
    const parts = token.split('.');
    const bytes = Buffer.from(parts[2] as string, 'base64url');
    bytes[5] = (bytes[5] as number) ^ 1;
    await refused([parts[0], parts[1], bytes.toString('base64url')].join('.'));
  });
  test('an expired token', async () => {
    const { exp } = decodeJwt(token);
    await expect(verifyIndependently(token, { currentDate: new Date(((exp as number) + 1) * 1000) })).rejects.toThrow(/exp/);
  });
  test('the wrong audience and the wrong issuer', async () => {
    await expect(verifyIndependently(token, { audience: 'payments' })).rejects.toThrow(/aud/);
    await expect(verifyIndependently(token, { issuer: 'someone-else' })).rejects.toThrow(/iss/);
  });
  test('alg: none', async () => {
    const parts = token.split('.');
    await refused([encoded({ alg: 'none', typ: 'JWT' }), parts[1], ''].join('.'));
    await refused([encoded({ ...decodeProtectedHeader(token), alg: 'none' }), parts[1], ''].join('.'));
  });
  test('an HS256 token whose secret is the public key (the key-confusion attack)', async () => {
    const { kid } = decodeProtectedHeader(token);
    const jwks = JSON.parse((await request(baseA).get('/.well-known/jwks.json')).text) as { keys: Array<Record<string, string>> };
    const publicKey = jwks.keys.find((key) => key.kid === kid) as Record<string, string>;
    const forgedHeader = encoded({ alg: 'HS256', kid, typ: 'JWT' });
    const forgedPayload = encoded({ ...decodeJwt(token), sub: 'admin' });
    for (const secret of [JSON.stringify(publicKey), publicKey.x as string]) {
      const mac = createHmac('sha256', secret).update(`${forgedHeader}.${forgedPayload}`).digest('base64url');
      await refused(`${forgedHeader}.${forgedPayload}.${mac}`);
    }
  });
});

describe('every door keeps every rule', () => {
  test('an audience not in SESSION_TOKEN_AUDIENCES: BAD_USER_INPUT with one message on both doors, and nothing in Redis changes', async () => {
    const session = await issued(a);
    const key = `${a.config.sessionNamespace}:{${session.digest.slice(0, 4)}}:${session.digest}`;
    const before = await redis.get(key);
    const keysBefore = (await redis.keys(`${a.config.sessionNamespace}:*`)).sort();
    const graphql = await a.gql(TOKEN, { id: session.id, audience: 'payments' }, SERVICE);
    const rest = await request(baseA).post('/api/v2/session/token').set(SERVICE).set('X-Session-ID', session.id).send({ audience: 'payments' });
    expect(graphql.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(rest.status).toBe(400);
    expect(rest.body.error.code).toBe('BAD_USER_INPUT');
    expect(rest.body.error.message).toBe(graphql.body.errors?.[0]?.message);
    expect(rest.body.error.message).toMatch(/SESSION_TOKEN_AUDIENCES/);
    expect(await redis.get(key)).toBe(before);
    expect((await redis.keys(`${a.config.sessionNamespace}:*`)).sort()).toEqual(keysBefore);
  });

  test('the same session and audience: the same claims and header from both doors (but the times)', async () => {
    const session = await issued(a, { principal: 'member-p', attributes: { role: 'x' } });
    const viaGraphql = (await a.gql(TOKEN, { audience: 'session-gateway' }, { 'X-Session-ID': session.id })).body.data?.sessionToken.token as string;
    const viaRest = (await request(baseA).post('/api/v2/session/token').set('X-Session-ID', session.id).type('form').send({ audience: 'session-gateway' })).body.token as string;
    const claims = (token: string): Record<string, unknown> => {
      const { iat: _iat, exp: _exp, ...rest } = decodeJwt(token);
      return rest;
    };
    expect(claims(viaRest)).toEqual(claims(viaGraphql));
    expect(decodeProtectedHeader(viaRest)).toEqual(decodeProtectedHeader(viaGraphql));
  });

  test('no session: UNAUTHENTICATED on both doors; a revoked session: SESSION_NOT_FOUND (REST 404)', async () => {
    const graphql = await a.gql(TOKEN, {});
    const rest = await request(baseA).post('/api/v2/session/token');
    expect(graphql.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(rest.status).toBe(401);
    expect(rest.body.error.message).toBe(graphql.body.errors?.[0]?.message);
    const unknown = (await issued(a)).id;
    await a.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: unknown }, SERVICE);
    const graphqlUnknown = await a.gql(TOKEN, {}, { 'X-Session-ID': unknown });
    const restUnknown = await request(baseA).post('/api/v2/session/token').set('X-Session-ID', unknown);
    expect(graphqlUnknown.body.errors?.[0]?.extensions?.code).toBe('SESSION_NOT_FOUND');
    expect(restUnknown.status).toBe(404);
    expect(restUnknown.body.error.message).toBe(graphqlUnknown.body.errors?.[0]?.message);
  });

  test('a frontend gets a token for its own session only; a service for any', async () => {
    const mine = await issued(a);
    const other = await issued(a);
    const own = await a.gql(TOKEN, {}, { 'X-Session-ID': mine.id });
    expect((await verifyIndependently(own.body.data?.sessionToken.token as string)).payload.sid).toBe(mine.digest);
    const foreign = await a.gql(TOKEN, { id: other.id }, { 'X-Session-ID': mine.id });
    expect(foreign.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const asService = await a.gql(TOKEN, { id: other.id, audience: 'session-gateway' }, SERVICE);
    expect(asService.body.data?.sessionToken.audience).toBe('session-gateway');
  });

  test('a body that is neither a form nor a JSON object, or an audience that is not a string: BAD_USER_INPUT', async () => {
    const session = await issued(a);
    const wrongType = await request(baseA).post('/api/v2/session/token').set('X-Session-ID', session.id).send({ audience: 7 });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error.message).toBe('audience must be a string, got number');
  });
});
