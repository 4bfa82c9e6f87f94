/**
 * The REST shim for backend modules (v2) and legacy callers (v1), over a real redis-server.
 */
import { seedSession } from '../support/sessions';
import { generateSessionId, sessionDigest } from '../../src/session/ids';
import type { RedisSessionStore } from '../../src/store/redis';
import { gatewayOverRedis, SERVICE, snapshot, waitUntil } from '../support/gateway';

const fx = gatewayOverRedis();

const USER = { id: 42, name: '김민수', roles: ['member'] };
const keyOf = (id: string): string => (fx.gateway.store as RedisSessionStore).keyOf(sessionDigest(id));

async function sessionWithUser(): Promise<string> {
  const response = await fx.gateway.gql('mutation($u: JSON) { issueSession(input: { principal: "42", attributes: { user: $u } }) { id } }', { u: USER }, SERVICE);
  return response.body.data?.issueSession.id as string;
}

async function sessionCount(): Promise<number> {
  // Sessions only: not the principals' indexes, nor the key their tags are made with.
  return Object.keys(await snapshot(fx.redis, fx.gateway.config.sessionNamespace)).filter((key) => !key.endsWith(':index') && !key.endsWith(':tag-key')).length;
}

describe('GET /api/v2/session', () => {
  test('answers the user attribute of the session in X-Session-ID, and echoes the ID', async () => {
    const id = await sessionWithUser();
    const response = await fx.gateway.http.get('/api/v2/session').set('X-Session-ID', id);
    expect(response.status).toBe(200);
    expect(response.headers['x-session-id']).toBe(id);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.body).toEqual(USER);
  });

  test('a session without the attribute answers 200 with an empty body', async () => {
    const issued = await fx.gateway.gql('mutation { issueSession { id } }', {}, SERVICE);
    const id = issued.body.data?.issueSession.id as string;
    const response = await fx.gateway.http.get('/api/v2/session').set('X-Session-ID', id);
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
    const call = fx.gateway.http.get('/api/v2/session');
    const response = presented === undefined ? await call : await call.set('X-Session-ID', presented);
    expect(response.status).toBe(200);
    expect(response.text).toBe('');
    const issued = response.headers['x-session-id'] as string;
    expect(issued).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(issued).not.toBe(presented);
    expect(await fx.redis.exists(keyOf(issued))).toBe(1);
    expect(await sessionCount()).toBe(before + 1);
    // The issued ID works from now on.
    const again = await fx.gateway.http.get('/api/v2/session').set('X-Session-ID', issued);
    expect(again.headers['x-session-id']).toBe(issued);
    expect(await sessionCount()).toBe(before + 1);
  });

  test('an expired session is replaced by a new one, and stays expired', async () => {
    const id = await sessionWithUser();
    // A real expiry: Redis drops the key itself when its TTL runs out.
    await fx.redis.pexpire(keyOf(id), 1);
    await waitUntil(async () => (await fx.redis.exists(keyOf(id))) === 0);
    const before = await sessionCount();
    const response = await fx.gateway.http.get('/api/v2/session').set('X-Session-ID', id);
    expect(response.status).toBe(200);
    const issued = response.headers['x-session-id'] as string;
    expect(issued).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(issued).not.toBe(id);
    expect(response.text).toBe('');
    expect(await fx.redis.exists(keyOf(id))).toBe(0);
    expect(await fx.redis.exists(keyOf(issued))).toBe(1);
    expect(await sessionCount()).toBe(before + 1);
  });

  test('the attribute goes out as the bytes Redis holds, byte for byte, through both doors', async () => {
    // Valid JSON that any parse and re-serialisation would change: spacing, key order, escapes,
    // a number past double precision, a -0.
    const json = '{ "z":1,"a" : [ 12345678901234567890 , -0, 1E3 ],\t"\u00e9":"\ud55c\uae00", "s":"x\/y" }';
    expect(JSON.stringify(JSON.parse(json))).not.toBe(json);
    const id = generateSessionId();
    await seedSession(fx.gateway.store, sessionDigest(id), { principal: null, attributes: [['user', json]], maxInactiveSeconds: 600 });
    const stored = (await fx.redis.getBuffer(keyOf(id))) as Buffer;
    const bytes = Buffer.from(json, 'utf8');
    expect(stored.includes(bytes)).toBe(true);

    const raw = (request: ReturnType<typeof fx.gateway.http.get>) =>
      request.buffer(true).parse((response, done) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => done(null, Buffer.concat(chunks)));
      });
    for (const response of [
      await raw(fx.gateway.http.get('/api/v2/session').set('X-Session-ID', id)), // direct lane
      await raw(fx.gateway.http.get('/api/v2/session').set('X-Session-ID', id).set('Origin', 'https://m.example.com')), // Fastify
      await raw(fx.gateway.http.get(`/api/v1/session?JSESSIONID=${id}`)), // Fastify, legacy
    ]) {
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(Buffer.compare(response.body as Buffer, bytes)).toBe(0);
    }
  });
});

describe('GET /api/v1/session (legacy)', () => {
  test('takes the ID from the JSESSIONID query parameter', async () => {
    const id = await sessionWithUser();
    const response = await fx.gateway.http.get(`/api/v1/session?JSESSIONID=${id}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(USER);
    expect(response.headers['x-session-id']).toBe(id);
  });

  test('the parameter name is case-insensitive and may come anywhere in the query', async () => {
    const id = await sessionWithUser();
    const response = await fx.gateway.http.get(`/api/v1/session?foo=1&jsessionid=${id}&bar=2`);
    expect(response.body).toEqual(USER);
    expect(response.headers['x-session-id']).toBe(id);
  });

  test('takes a servlet-style ;jsessionid= path parameter', async () => {
    const id = await sessionWithUser();
    const response = await fx.gateway.http.get(`/api/v1/session;jsessionid=${id}`);
    expect(response.body).toEqual(USER);
    expect(response.headers['x-session-id']).toBe(id);
  });

  test('falls back to the X-Session-ID header (what nginx sends)', async () => {
    const id = await sessionWithUser();
    const response = await fx.gateway.http.get('/api/v1/session').set('X-Session-ID', id);
    expect(response.body).toEqual(USER);
    expect(response.headers['x-session-id']).toBe(id);
  });

  test('an unknown JSESSIONID gets a new session', async () => {
    const unknown = generateSessionId();
    const response = await fx.gateway.http.get(`/api/v1/session?JSESSIONID=${unknown}`);
    expect(response.status).toBe(200);
    expect(response.headers['x-session-id']).not.toBe(unknown);
    expect(await fx.redis.exists(keyOf(response.headers['x-session-id'] as string))).toBe(1);
  });
});

describe('errors on the REST side', () => {
  test('an unknown route is a coded 404 that changes nothing', async () => {
    const before = await snapshot(fx.redis, fx.gateway.config.sessionNamespace);
    const response = await fx.gateway.http.get('/api/v3/session');
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
    expect(await snapshot(fx.redis, fx.gateway.config.sessionNamespace)).toEqual(before);
  });
});

describe('touches do not write on every read', () => {
  const WRITES = ['set', 'setrange', 'pexpireat', 'pexpire', 'expire', 'del', 'evalsha', 'eval'];
  const callsOf = async (commands: readonly string[]): Promise<number> => {
    const info = await fx.redis.info('commandstats');
    return commands.reduce((sum, command) => sum + Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0), 0);
  };
  const writeCalls = (): Promise<number> => callsOf(WRITES);

  test('1,000 reads of one session within the touch interval write nothing to Redis', async () => {
    const id = await sessionWithUser();
    const before = await writeCalls();
    for (let batch = 0; batch < 10; batch++) {
      const responses = await Promise.all(Array.from({ length: 100 }, () => fx.gateway.http.get('/api/v2/session').set('X-Session-ID', id)));
      expect(responses.every((r) => r.status === 200 && r.headers['x-session-id'] === id)).toBe(true);
    }
    // Just issued, so no touch is due: not one write.
    expect((await writeCalls()) - before).toBe(0);
  });

  test('a read after the touch interval slides the expiry once, and lastAccessedAt never moves back', async () => {
    const id = await sessionWithUser();
    const key = keyOf(id);
    // Age the session by 2 minutes (past the 60 s interval), as if it had been idle.
    const value = (await fx.redis.get(key)) as string;
    const lastAccessedAtMs = Number(value.slice(2, 15)) - 120_000;
    await fx.redis.setrange(key, 2, String(lastAccessedAtMs));
    await fx.redis.pexpireat(key, lastAccessedAtMs + 3600_000);
    const agedExpiry = await fx.redis.pexpiretime(key);

    const before = await callsOf(['setrange', 'pexpireat']);
    await Promise.all(Array.from({ length: 20 }, () => fx.gateway.http.get('/api/v2/session').set('X-Session-ID', id)));
    const touchedExpiry = await fx.redis.pexpiretime(key);
    // Slid to exactly one timeout past the new last access, which is the read's own moment.
    const touchedLastAccessMs = Number(((await fx.redis.get(key)) as string).slice(2, 15));
    expect(touchedExpiry).toBe(touchedLastAccessMs + 3600_000);
    expect(touchedLastAccessMs - lastAccessedAtMs).toBeGreaterThanOrEqual(120_000);
    expect(touchedExpiry).toBeGreaterThan(agedExpiry);
    // However many reads raced for it, one touch wrote: one SETRANGE and one PEXPIREAT of the
    // session, and one PEXPIREAT of its principal's index (which expires with its last session).
    expect((await callsOf(['setrange', 'pexpireat'])) - before).toBe(3);
    const own = await fx.gateway.gql('{ session { lastAccessedAt expiresAt } }', {}, { 'X-Session-ID': id });
    expect(Date.parse(own.body.data?.session.lastAccessedAt)).toBeGreaterThan(lastAccessedAtMs);
    expect(Date.parse(own.body.data?.session.expiresAt)).toBe(touchedExpiry);
  });
});
