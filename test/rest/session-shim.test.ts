/**
 * The REST shim for backend modules (v2) and legacy callers (v1), over a real redis-server.
 */
import type Redis from 'ioredis';
import { generateSessionId } from '../../src/session/ids';
import type { RedisSessionStore } from '../../src/store/redis';
import { SERVICE, snapshot, startGateway, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
let redis: Redis;
let gateway: Gateway;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  gateway = await startGateway({ redisUrl: server.url });
});
afterAll(async () => {
  await gateway.close();
  await server.destroy();
});

const USER = { id: 42, name: '김민수', roles: ['member'] };
const keyOf = (id: string): string => (gateway.store as RedisSessionStore).keyOf(id);

async function sessionWithUser(): Promise<string> {
  const response = await gateway.gql('mutation($u: JSON) { issueSession(input: { principal: "42", attributes: { user: $u } }) { id } }', { u: USER }, SERVICE);
  return response.body.data?.issueSession.id as string;
}

async function sessionCount(): Promise<number> {
  return Object.keys(await snapshot(redis, gateway.config.sessionNamespace)).length;
}

describe('GET /api/v2/session', () => {
  test('answers the user attribute of the session in X-Session-ID, and echoes the ID', async () => {
    const id = await sessionWithUser();
    const response = await gateway.http.get('/api/v2/session').set('X-Session-ID', id);
    expect(response.status).toBe(200);
    expect(response.headers['x-session-id']).toBe(id);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.body).toEqual(USER);
  });

  test('a session without the attribute answers 200 with an empty body', async () => {
    const issued = await gateway.gql('mutation { issueSession { id } }', {}, SERVICE);
    const id = issued.body.data?.issueSession.id as string;
    const response = await gateway.http.get('/api/v2/session').set('X-Session-ID', id);
    expect(response.status).toBe(200);
    expect(response.text).toBe('');
    expect(response.headers['x-session-id']).toBe(id);
  });

  test.each([
    ['no ID', undefined],
    ['a malformed ID', 'made-up-by-the-client'],
    ['an unknown ID', generateSessionId()],
  ])('%s: a new session is issued with a fresh ID, never the presented one', async (_name, presented) => {
    const before = await sessionCount();
    const call = gateway.http.get('/api/v2/session');
    const response = presented === undefined ? await call : await call.set('X-Session-ID', presented);
    expect(response.status).toBe(200);
    expect(response.text).toBe('');
    const issued = response.headers['x-session-id'] as string;
    expect(issued).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(issued).not.toBe(presented);
    expect(await redis.exists(keyOf(issued))).toBe(1);
    expect(await sessionCount()).toBe(before + 1);
    // The issued ID works from now on.
    const again = await gateway.http.get('/api/v2/session').set('X-Session-ID', issued);
    expect(again.headers['x-session-id']).toBe(issued);
    expect(await sessionCount()).toBe(before + 1);
  });

  test('an expired session is replaced by a new one', async () => {
    const id = await sessionWithUser();
    await redis.del(keyOf(id));
    const response = await gateway.http.get('/api/v2/session').set('X-Session-ID', id);
    expect(response.headers['x-session-id']).not.toBe(id);
    expect(response.text).toBe('');
  });
});

describe('GET /api/v1/session (legacy)', () => {
  test('takes the ID from the JSESSIONID query parameter', async () => {
    const id = await sessionWithUser();
    const response = await gateway.http.get(`/api/v1/session?JSESSIONID=${id}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(USER);
    expect(response.headers['x-session-id']).toBe(id);
  });

  test('the parameter name is case-insensitive and may come anywhere in the query', async () => {
    const id = await sessionWithUser();
    const response = await gateway.http.get(`/api/v1/session?foo=1&jsessionid=${id}&bar=2`);
    expect(response.body).toEqual(USER);
    expect(response.headers['x-session-id']).toBe(id);
  });

  test('takes a servlet-style ;jsessionid= path parameter', async () => {
    const id = await sessionWithUser();
    const response = await gateway.http.get(`/api/v1/session;jsessionid=${id}`);
    expect(response.body).toEqual(USER);
    expect(response.headers['x-session-id']).toBe(id);
  });

  test('falls back to the X-Session-ID header (what nginx sends)', async () => {
    const id = await sessionWithUser();
    const response = await gateway.http.get('/api/v1/session').set('X-Session-ID', id);
    expect(response.body).toEqual(USER);
    expect(response.headers['x-session-id']).toBe(id);
  });

  test('an unknown JSESSIONID gets a new session', async () => {
    const unknown = generateSessionId();
    const response = await gateway.http.get(`/api/v1/session?JSESSIONID=${unknown}`);
    expect(response.status).toBe(200);
    expect(response.headers['x-session-id']).not.toBe(unknown);
    expect(await redis.exists(keyOf(response.headers['x-session-id'] as string))).toBe(1);
  });
});

describe('errors on the REST side', () => {
  test('an unknown route is a coded 404 that changes nothing', async () => {
    const before = await snapshot(redis, gateway.config.sessionNamespace);
    const response = await gateway.http.get('/api/v3/session');
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
    expect(await snapshot(redis, gateway.config.sessionNamespace)).toEqual(before);
  });
});
