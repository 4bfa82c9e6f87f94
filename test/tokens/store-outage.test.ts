/**
 * The session tokens while Redis is down (a 2 s lifetime, so the key set is read every 500 ms):
 * a gateway that has not reached the store for half a lifetime refuses to sign
 * (STORE_UNAVAILABLE, 503), rather than sign with a key the other instances may have retired; the
 * JWKS goes on serving the public keys it read last; both recover when Redis is back.
 */
import request from 'supertest';
import { startGateway, waitUntil, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
let gateway: Gateway;
let base: string;

beforeAll(async () => {
  server = await startRedis();
  gateway = await startGateway({ redisUrl: server.url, env: { SESSION_TOKEN_TTL: '2', SESSION_TOKEN_KEY_ROTATION: '3600', REDIS_COMMAND_TIMEOUT_MS: '300' } });
  base = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await gateway?.close();
  await server?.destroy();
});

test('Redis down: tokens are refused with STORE_UNAVAILABLE, the JWKS still answers the keys it read; Redis back: tokens again', async () => {
  const id = (await request(base).get('/api/v2/session')).headers['x-session-id'] as string;
  expect((await request(base).post('/api/v2/session/token').set('X-Session-ID', id)).status).toBe(200);
  const keys = JSON.parse((await request(base).get('/.well-known/jwks.json')).text) as unknown;
  await server.stop();
  try {
    await waitUntil(async () => (await request(base).post('/api/v2/session/token').set('X-Session-ID', id)).status === 503, 10_000);
    const refused = await request(base).post('/api/v2/session/token').set('X-Session-ID', id);
    expect(refused.body.error.code).toBe('STORE_UNAVAILABLE');
    const jwks = await request(base).get('/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(JSON.parse(jwks.text)).toEqual(keys);
  } finally {
    await server.start();
  }
  // (The test's Redis keeps nothing across a restart: a new session, and with it a new key set.)
  await waitUntil(async () => {
    const fresh = (await request(base).get('/api/v2/session')).headers['x-session-id'] as string | undefined;
    return fresh !== undefined && (await request(base).post('/api/v2/session/token').set('X-Session-ID', fresh)).status === 200;
  }, 10_000);
});
