/**
 * Key rotation under load, with a lifetime and a rotation period of 2 s: two gateway instances on
 * one Redis issue tokens as fast as they can for 8 s (four rotations), and every token verifies
 * with jose against the other instance's JWKS (cached as its Cache-Control allows), once at
 * once and once again with a fresh JWKS shortly before it expires. Nothing valid is refused;
 * the set served stays small; both instances sign with the same key.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import request from 'supertest';
import { SERVICE, startGatewayPair, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
let a: Gateway;
let b: Gateway;
let baseA: string;
let baseB: string;

beforeAll(async () => {
  server = await startRedis();
  ({ a, b, baseA, baseB } = await startGatewayPair({ REDIS_URL: server.url, SESSION_TOKEN_TTL: '2', SESSION_TOKEN_KEY_ROTATION: '2' }));
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await server?.destroy();
});

const LOAD_MS = 8000;

test('a rotation under load refuses no valid token, on either instance, at issue or just before expiry', async () => {
  const issue = await a.gql('mutation { issueSession(input: { principal: "member-r" }) { id } }', {}, SERVICE);
  const id = issue.body.data?.issueSession.id as string;
  const verifierOf = (base: string): JWTVerifyGetKey => createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`), { cacheMaxAge: 2000, cooldownDuration: 100 });
  const verifiers = { [baseA]: verifierOf(baseA), [baseB]: verifierOf(baseB) };
  const refused: string[] = [];
  const later: Array<Promise<void>> = [];
  const kids = new Set<string>();
  let issued = 0;
  let mostKeysServed = 0;
  const startedAt = Date.now();
  const worker = async (signer: string, checker: string): Promise<void> => {
    while (Date.now() - startedAt < LOAD_MS) {
      const response = await request(signer).post('/api/v2/session/token').set('X-Session-ID', id);
      const token = response.body.token as string;
      issued++;
      kids.add(decodeProtectedHeader(token).kid as string);
      await jwtVerify(token, verifiers[checker] as JWTVerifyGetKey, { issuer: 'session-gateway', audience: 'session-gateway' }).catch((error: Error) => void refused.push(`at issue: ${error.message}`));
      if (issued % 25 === 0) {
        // Again with a JWKS fetched now, 300 ms before the token expires.
        const { exp } = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { exp: number };
        later.push(
          new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now() - 300))).then(async () => {
            const jwks = (await request(checker).get('/.well-known/jwks.json')).body as { keys: unknown[] };
            mostKeysServed = Math.max(mostKeysServed, jwks.keys.length);
            await jwtVerify(token, createRemoteJWKSet(new URL(`${checker}/.well-known/jwks.json`)), { issuer: 'session-gateway', audience: 'session-gateway' }).catch((error: Error) => void refused.push(`before expiry: ${error.message}`));
          }),
        );
      }
    }
  };
  await Promise.all([worker(baseA, baseB), worker(baseB, baseA), worker(baseA, baseB), worker(baseB, baseA)]);
  await Promise.all(later);
  expect(refused).toEqual([]);
  expect(issued).toBeGreaterThan(100);
  expect(kids.size).toBeGreaterThanOrEqual(3); // it did rotate, more than once
  // The one signing, the next, and the last few whose tokens may live (2 s + 5 s margin): few.
  expect(mostKeysServed).toBeLessThanOrEqual(7);
}, 30_000);
