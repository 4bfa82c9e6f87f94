/**
 * The REST shim's two doors give one answer. The plain read (GET, no query, no Origin) is served
 * by the direct lane in front of Fastify; everything else by the Fastify routes. Here the same
 * request goes through both: as it is (direct lane), and with an `Origin` header, which sends it
 * to Fastify and, with no CORS origins configured, changes nothing else. Every request checks
 * the door it went through, on every gateway of the file (the one whose store is down too): the
 * lane said it served it (test/support/doors.ts) and Fastify's own onRequest hook did not run,
 * or the other way round. The responses must be the same: status, body, every header name, and
 * every header value but the ones that differ by nature (date, request ID, a freshly issued
 * session ID).
 */
import { generateSessionId } from '../../src/session/ids';
import { watchRestDoors, type DoorWatch, type RestDoor } from '../support/doors';
import { SERVICE, startGateway, waitUntil, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
let gateway: Gateway;
let doors: DoorWatch<RestDoor>;
/** Requests each gateway's Fastify saw (its onRequest hook); the direct lane bypasses it. */
const seenByFastify = new Map<Gateway, () => number>();

/** A gateway whose Fastify counts the requests it sees. */
async function watchedGateway(redisUrl: string, env: Record<string, string> = {}): Promise<Gateway> {
  let seen = 0;
  const started = await startGateway({
    redisUrl,
    env,
    beforeReady: (app) =>
      app.addHook('onRequest', (_request, _reply, done) => {
        seen++;
        done();
      }),
  });
  seenByFastify.set(started, () => seen);
  return started;
}

beforeAll(async () => {
  server = await startRedis();
  gateway = await watchedGateway(server.url);
  doors = watchRestDoors();
});
afterAll(async () => {
  doors.restore();
  await gateway.close();
  await server.destroy();
});

const VARYING = new Set(['date', 'x-request-id', 'connection', 'keep-alive', 'transfer-encoding']);

interface Seen {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** One GET, and the door it went through, seen from both sides (the lane's answer, Fastify's hook). */
async function through(target: Gateway, path: string, headers: Record<string, string>): Promise<{ seen: Seen; door: RestDoor | 'both' | 'neither' }> {
  const fastify = seenByFastify.get(target);
  if (fastify === undefined) throw new Error('not a watched gateway');
  await doors.take();
  const before = fastify();
  const response = await target.http.get(path).set(headers);
  const lane = await doors.take();
  const byFastify = fastify() - before;
  const door = lane.length === 1 && lane[0] === 'direct lane' && byFastify === 0 ? 'direct lane' : lane.length === 1 && lane[0] === 'fastify' && byFastify === 1 ? 'fastify' : lane.length === 0 && byFastify === 0 ? 'neither' : 'both';
  return { seen: { status: response.status, body: response.text, headers: response.headers as Record<string, string> }, door };
}

async function viaLane(target: Gateway, path: string, headers: Record<string, string>): Promise<Seen> {
  const { seen, door } = await through(target, path, headers);
  expect(door).toBe('direct lane');
  return seen;
}

async function viaFastify(target: Gateway, path: string, headers: Record<string, string>): Promise<Seen> {
  const { seen, door } = await through(target, path, { ...headers, Origin: 'https://module.example.com' });
  expect(door).toBe('fastify');
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

describe.each(['/api/v2/session', '/api/v1/session'])('%s', (path) => {
  test.each([
    ['no ID', {}],
    ['a malformed ID', { 'X-Session-ID': 'made-up' }],
    ['an unknown ID', { 'X-Session-ID': generateSessionId() }],
  ])('%s: both doors issue a new session and answer alike', async (_name, headers: Record<string, string>) => {
    const lane = await viaLane(gateway, path, headers);
    const fastify = await viaFastify(gateway, path, headers);
    expect(comparable(lane, true)).toEqual(comparable(fastify, true));
    expect(lane.status).toBe(200);
    expect(lane.body).toBe('');
    expect(lane.headers['x-session-id']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(lane.headers['x-session-id']).not.toBe(fastify.headers['x-session-id']);
  });

  test('the request ID is echoed by the direct lane as by Fastify', async () => {
    const lane = await viaLane(gateway, path, { 'X-Request-ID': 'trace-abc-123' });
    const fastify = await viaFastify(gateway, path, { 'X-Request-ID': 'trace-abc-123' });
    expect(lane.headers['x-request-id']).toBe('trace-abc-123');
    expect(fastify.headers['x-request-id']).toBe('trace-abc-123');
  });
});

test('what the lane leaves goes to Fastify: a query, an Origin, another method', async () => {
  const id = await sessionWith({ user: { id: 1 } });
  const fastify = seenByFastify.get(gateway) as () => number;
  for (const request of [
    () => gateway.http.get(`/api/v1/session?JSESSIONID=${id}`),
    () => gateway.http.get('/api/v2/session').set('Origin', 'https://app.example.com').set('X-Session-ID', id),
    () => gateway.http.head('/api/v2/session').set('X-Session-ID', id),
  ]) {
    await doors.take();
    const before = fastify();
    const response = await request();
    expect(response.status).toBe(200);
    expect(await doors.take()).toEqual(['fastify']);
    expect(fastify()).toBe(before + 1);
  }
});

test('with the store down, both doors answer 503 STORE_UNAVAILABLE alike, with an ID or without one', async () => {
  const doomed = await startRedis();
  const target = await watchedGateway(doomed.url, { REDIS_COMMAND_TIMEOUT_MS: '300' });
  try {
    await doomed.stop();
    for (const path of ['/api/v2/session', '/api/v1/session']) {
      for (const headers of [{ 'X-Session-ID': generateSessionId() }, {}] as Array<Record<string, string>>) {
        const lane = await viaLane(target, path, headers);
        const fastify = await viaFastify(target, path, headers);
        expect(comparable(lane, false)).toEqual(comparable(fastify, false));
        expect(lane.status).toBe(503);
        // Without an ID the answer was to be a new session, a write: it says that none was made.
        const outcome = 'X-Session-ID' in headers ? {} : { outcome: 'NOT_APPLIED' };
        expect(JSON.parse(lane.body)).toEqual({ error: { code: 'STORE_UNAVAILABLE', message: expect.any(String), ...outcome } });
        expect(lane.headers['x-session-id']).toBeUndefined();
      }
    }
  } finally {
    // Closed with its Redis back: an ioredis client closed while reconnecting leaves a 2 s timer
    // behind (on a socket that will never emit 'close' again), which keeps jest from exiting.
    await doomed.start();
    await waitUntil(() => target.store.ping().then(() => true, () => false), 10_000);
    await target.close();
    await doomed.destroy();
  }
});
