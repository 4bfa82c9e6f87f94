/**
 * The REST shim sets the session cookie when it issues a session (SESSION_COOKIE_SET=true): a
 * caller that presented no valid session gets the new ID in `X-Session-ID` and in a Set-Cookie
 * with every configured attribute and a Max-Age of the session's time to expiry; a caller that
 * presents a session, by header or by cookie alone, reads it and gets no cookie. Off (the
 * default), no response sets one. The direct lane and the Fastify route send the same header,
 * written by the same function (`sessionCookieHeader`), checked on every request.
 */
import type Redis from 'ioredis';
import { generateSessionId } from '../../src/session/ids';
import { sessionCookieHeader, type SessionCookie } from '../../src/session/transport';
import { watchRestDoors, type DoorWatch, type RestDoor } from '../support/doors';
import { SERVICE, startGateway, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

const TIMEOUT_SECONDS = 1800;
/** The seed company's Spring cookie, with SameSite added. */
const COOKIE_ENV = {
  SESSION_TIMEOUT: String(TIMEOUT_SECONDS),
  // No absolute lifetime: the cookie's Max-Age is then the issued session's idle time.
  SESSION_MAX_LIFETIME: '0',
  SESSION_COOKIE_SET: 'true',
  SESSION_COOKIE_DOMAIN: 'zum.com',
  SESSION_COOKIE_SAMESITE: 'Lax',
};
const PATHS = ['/api/v2/session', '/api/v1/session'];
const ID = /^[A-Za-z0-9_-]{43}$/;

let server: RedisServer;
let redis: Redis;
let off: Gateway;
let on: Gateway;
let cookie: SessionCookie;
let doors: DoorWatch<RestDoor>;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  off = await startGateway({ redisUrl: server.url });
  on = await startGateway({ redisUrl: server.url, env: COOKIE_ENV });
  cookie = on.config.sessionCookieSet as SessionCookie;
  doors = watchRestDoors();
});
afterAll(async () => {
  doors.restore();
  await off.close();
  await on.close();
  redis.disconnect();
  await server.destroy();
});

interface Seen {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  readonly body: string;
}

/**
 * One GET through the door asked for: as it is (the direct lane), or with an `Origin` (no CORS
 * origins are configured, so it changes nothing but the door: Fastify). Fails if another door answered.
 */
async function via(door: RestDoor, target: Gateway, path: string, headers: Record<string, string> = {}): Promise<Seen> {
  await doors.take();
  const sent = door === 'fastify' ? { ...headers, Origin: 'https://module.example.com' } : headers;
  const response = await target.http.get(path).set(sent);
  expect(await doors.take()).toEqual([door]);
  return { status: response.status, headers: response.headers as Record<string, string | string[]>, body: response.text };
}

async function sessionWith(attributes: Record<string, unknown>): Promise<string> {
  const response = await on.gql('mutation($a: JSONObject) { issueSession(input: { attributes: $a }) { id } }', { a: attributes }, SERVICE);
  return response.body.data?.issueSession.id as string;
}

describe('SESSION_COOKIE_SET off (the default)', () => {
  test.each(PATHS)('%s: no Set-Cookie from either door, issuing or reading', async (path) => {
    for (const door of ['direct lane', 'fastify'] as const) {
      const issued = await via(door, off, path);
      expect(issued.headers['x-session-id']).toMatch(ID);
      expect(issued.headers['set-cookie']).toBeUndefined();
      const read = await via(door, off, path, { Cookie: `JSESSIONID=${issued.headers['x-session-id']}` });
      expect(read.headers['x-session-id']).toBe(issued.headers['x-session-id']);
      expect(read.headers['set-cookie']).toBeUndefined();
    }
  });
});

describe('SESSION_COOKIE_SET=true', () => {
  describe.each(PATHS)('%s', (path) => {
    test.each([
      ['no ID', {}],
      ['a malformed ID', { 'X-Session-ID': 'made-up' }],
      ['an unknown ID', { 'X-Session-ID': generateSessionId() }],
      ['an unknown ID in the cookie', { Cookie: `JSESSIONID=${generateSessionId()}` }],
      ['a malformed cookie', { Cookie: 'JSESSIONID=made-up' }],
    ])('%s: the new session comes in a cookie with every attribute, no-store, the same from both doors', async (_what, headers: Record<string, string>) => {
      const lane = await via('direct lane', on, path, headers);
      const fastify = await via('fastify', on, path, headers);
      for (const seen of [lane, fastify]) {
        const id = seen.headers['x-session-id'] as string;
        expect(id).toMatch(ID);
        expect(seen.headers['set-cookie']).toEqual([sessionCookieHeader(cookie, id, TIMEOUT_SECONDS)]);
        expect(seen.headers['set-cookie']).toEqual([`JSESSIONID=${id}; Max-Age=${TIMEOUT_SECONDS}; Path=/; Domain=zum.com; Secure; HttpOnly; SameSite=Lax`]);
        expect(seen.headers['cache-control']).toBe('no-store');
      }
      // Parity: the same header set by both doors, but for the ID each issued.
      const shape = (seen: Seen): string => String(seen.headers['set-cookie']).replace(seen.headers['x-session-id'] as string, '<id>');
      expect(shape(lane)).toBe(shape(fastify));
      expect(lane.headers['x-session-id']).not.toBe(fastify.headers['x-session-id']);
    });

    test('a browser presenting only the cookie reads the same session, and is not handed a cookie again', async () => {
      const issued = await via('direct lane', on, path);
      const id = issued.headers['x-session-id'] as string;
      for (const door of ['direct lane', 'fastify'] as const) {
        const read = await via(door, on, path, { Cookie: `theme=dark; JSESSIONID=${id}` });
        expect(read.status).toBe(200);
        expect(read.headers['x-session-id']).toBe(id);
        expect(read.headers['set-cookie']).toBeUndefined();
      }
      // GraphQL reads the same session from the cookie alone (the compiled path; POST, JSON).
      const mine = await on.gql('{ session { id } }', undefined, { Cookie: `JSESSIONID=${id}` });
      expect(mine.body.data?.session).toEqual({ id });
      expect(mine.headers['set-cookie']).toBeUndefined();
    });
  });

  test('a session found by header sets no cookie, and its attribute is answered as ever', async () => {
    const id = await sessionWith({ user: { id: 7 } });
    for (const door of ['direct lane', 'fastify'] as const) {
      const read = await via(door, on, '/api/v2/session', { 'X-Session-ID': id });
      expect(JSON.parse(read.body)).toEqual({ id: 7 });
      expect(read.headers['set-cookie']).toBeUndefined();
    }
  });

  test('the legacy JSESSIONID parameter of a found session sets no cookie; of an unknown one, the new session\'s', async () => {
    const id = await sessionWith({ user: { id: 8 } });
    const found = await via('fastify', on, `/api/v1/session?JSESSIONID=${id}`);
    expect(found.headers['x-session-id']).toBe(id);
    expect(found.headers['set-cookie']).toBeUndefined();
    const unknown = await via('fastify', on, `/api/v1/session;jsessionid=${generateSessionId()}`);
    expect(unknown.headers['set-cookie']).toEqual([sessionCookieHeader(cookie, unknown.headers['x-session-id'] as string, TIMEOUT_SECONDS)]);
  });

  test('Max-Age is the issued session\'s time to expiry: its expiresAt less the time it was issued', async () => {
    const issued = await via('direct lane', on, '/api/v2/session');
    const id = issued.headers['x-session-id'] as string;
    const maxAge = Number(/Max-Age=(\d+)/.exec(String(issued.headers['set-cookie']))?.[1]);
    const read = await on.gql('query($ids: [ID!]!) { sessions(ids: $ids) { createdAt expiresAt maxInactiveInterval } }', { ids: [id] }, SERVICE);
    const session = read.body.data?.sessions[0] as { createdAt: string; expiresAt: string; maxInactiveInterval: number };
    expect(maxAge).toBe(session.maxInactiveInterval);
    expect(Date.parse(session.expiresAt) - Date.parse(session.createdAt)).toBe(maxAge * 1000);
  });
});
