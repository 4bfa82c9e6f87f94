/**
 * The REST shim's two doors give one answer. The plain read (GET, no query, no Origin) is served
 * by the direct lane in front of Fastify; everything else by the Fastify routes. Here the same
 * request goes through both: as it is (direct lane), and with an `Origin` header, which sends it
 * to Fastify and, with no CORS origins configured, changes nothing else. A hook counts what
 * Fastify saw, so each test knows which door answered. The responses must be the same: status,
 * body, every header name, and every header value but the ones that differ by nature (date,
 * request ID, a freshly issued session ID).
 */
import { generateSessionId } from '../../src/session/ids';
import { SERVICE, startGateway, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
let gateway: Gateway;
/** Requests Fastify itself saw (its onRequest hook); the direct lane bypasses it. */
let seenByFastify = 0;

beforeAll(async () => {
  server = await startRedis();
  gateway = await startGateway({
    redisUrl: server.url,
    beforeReady: (app) =>
      app.addHook('onRequest', (_request, _reply, done) => {
        seenByFastify++;
        done();
      }),
  });
});
afterAll(async () => {
  await gateway.close();
  await server.destroy();
});

const VARYING = new Set(['date', 'x-request-id', 'connection', 'keep-alive', 'transfer-encoding']);

interface Seen {
  status: number;
  body: string;
  headers: Record<string, string>;
}

async function get(target: Gateway, path: string, headers: Record<string, string>): Promise<Seen> {
  const response = await target.http.get(path).set(headers);
  return { status: response.status, body: response.text, headers: response.headers as Record<string, string> };
}

async function viaLane(target: Gateway, path: string, headers: Record<string, string>): Promise<Seen> {
  const before = seenByFastify;
  const seen = await get(target, path, headers);
  if (target === gateway) expect(seenByFastify).toBe(before); // it really took the direct lane
  return seen;
}

async function viaFastify(target: Gateway, path: string, headers: Record<string, string>): Promise<Seen> {
  const before = seenByFastify;
  const seen = await get(target, path, { ...headers, Origin: 'https://module.example.com' });
  if (target === gateway) expect(seenByFastify).toBe(before + 1);
  return seen;
}

function comparable(seen: Seen, issued: boolean): object {
  const headers = Object.fromEntries(
    Object.entries(seen.headers)
      .filter(([name]) => !VARYING.has(name))
      .map(([name, value]) => [name, issued && name === 'x-session-id' ? '<issued>' : String(value)]),
  );
  return { status: seen.status, body: seen.body, headers };
}

async function sessionWith(attributes: Record<string, unknown>): Promise<string> {
  const response = await gateway.gql('mutation($a: JSONObject) { issueSession(input: { attributes: $a }) { id } }', { a: attributes }, SERVICE);
  return response.body.data?.issueSession.id as string;
}

test('a found session: the same status, headers and stored JSON bytes from both doors', async () => {
  const id = await sessionWith({ user: { id: 7, name: '이영희', tags: ['a', 'b'] } });
  for (const path of ['/api/v2/session', '/api/v1/session']) {
    const lane = await viaLane(gateway, path, { 'X-Session-ID': id });
    const fastify = await viaFastify(gateway, path, { 'X-Session-ID': id });
    expect(comparable(lane, false)).toEqual(comparable(fastify, false));
    expect(lane.status).toBe(200);
    expect(JSON.parse(lane.body)).toEqual({ id: 7, name: '이영희', tags: ['a', 'b'] });
    expect(lane.headers['x-session-id']).toBe(id);
    expect(lane.headers['content-length']).toBe(String(Buffer.byteLength(lane.body)));
  }
});

test('a session without the attribute, and a session by cookie, answer alike', async () => {
  const id = await sessionWith({ cart: [1] });
  const bare = [await viaLane(gateway, '/api/v2/session', { 'X-Session-ID': id }), await viaFastify(gateway, '/api/v2/session', { 'X-Session-ID': id })];
  expect(comparable(bare[0] as Seen, false)).toEqual(comparable(bare[1] as Seen, false));
  expect(bare[0]?.body).toBe('');

  const cookie = { Cookie: `other=1; JSESSIONID=${id}` };
  expect(comparable(await viaLane(gateway, '/api/v2/session', cookie), false)).toEqual(comparable(await viaFastify(gateway, '/api/v2/session', cookie), false));
});

test.each([
  ['no ID', {}],
  ['a malformed ID', { 'X-Session-ID': 'made-up' }],
  ['an unknown ID', { 'X-Session-ID': generateSessionId() }],
])('%s: both doors issue a new session and answer alike', async (_name, headers: Record<string, string>) => {
  const lane = await viaLane(gateway, '/api/v2/session', headers);
  const fastify = await viaFastify(gateway, '/api/v2/session', headers);
  expect(comparable(lane, true)).toEqual(comparable(fastify, true));
  expect(lane.headers['x-session-id']).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(lane.headers['x-session-id']).not.toBe(fastify.headers['x-session-id']);
});

test('the request ID is echoed by the direct lane as by Fastify', async () => {
  const lane = await viaLane(gateway, '/api/v2/session', { 'X-Request-ID': 'trace-abc-123' });
  expect(lane.headers['x-request-id']).toBe('trace-abc-123');
});

test('what the lane leaves goes to Fastify: a query, an Origin, another method', async () => {
  const id = await sessionWith({ user: { id: 1 } });
  for (const request of [
    () => gateway.http.get(`/api/v1/session?JSESSIONID=${id}`),
    () => gateway.http.get('/api/v2/session').set('Origin', 'https://app.example.com').set('X-Session-ID', id),
    () => gateway.http.head('/api/v2/session').set('X-Session-ID', id),
  ]) {
    const before = seenByFastify;
    const response = await request();
    expect(response.status).toBe(200);
    expect(seenByFastify).toBe(before + 1);
  }
});

test('with the store down, both doors answer 503 STORE_UNAVAILABLE alike', async () => {
  const doomed = await startRedis();
  const target = await startGateway({ redisUrl: doomed.url, env: { REDIS_COMMAND_TIMEOUT_MS: '300' } });
  try {
    const id = generateSessionId();
    await doomed.stop();
    const lane = await viaLane(target, '/api/v2/session', { 'X-Session-ID': id });
    const fastify = await viaFastify(target, '/api/v2/session', { 'X-Session-ID': id });
    expect(comparable(lane, false)).toEqual(comparable(fastify, false));
    expect(lane.status).toBe(503);
    expect(JSON.parse(lane.body)).toEqual({ error: { code: 'STORE_UNAVAILABLE', message: expect.any(String) } });
    expect(lane.headers['x-session-id']).toBeUndefined();
  } finally {
    await target.close();
    await doomed.destroy();
  }
});
