/**
 * The GraphQL face end to end: HTTP in (supertest against the real app), responses and Redis
 * state out, over a real redis-server.
 */
import { generateSessionId, sessionDigest } from '../../src/session/ids';
import { RedisSessionStore } from '../../src/store/redis';
import { commandsOf, errorCode, gatewayOverRedis, SERVICE, SESSION_FIELDS, snapshot, waitUntil } from '../support/gateway';

const fx = gatewayOverRedis();

const ISSUE = `mutation Issue($input: IssueSessionInput) { issueSession(input: $input) { ${SESSION_FIELDS} } }`;
const OWN = `{ session { ${SESSION_FIELDS} } }`;
const UPDATE = `mutation Update($id: ID, $patch: SessionPatch!) { updateSession(id: $id, patch: $patch) { ${SESSION_FIELDS} } }`;
const REVOKE = `mutation Revoke($id: ID) { revokeSession(id: $id) }`;
const MANY = `query Many($ids: [ID!]!) { sessions(ids: $ids) { id principal } }`;

const namespace = (): string => fx.gateway.config.sessionNamespace;
const keyOf = (id: string): string => (fx.gateway.store as RedisSessionStore).keyOf(sessionDigest(id));

async function issue(input: Record<string, unknown> = { principal: 'user-1', attributes: { user: { id: 1, name: 'Kim' } } }): Promise<string> {
  const response = await fx.gateway.gql(ISSUE, { input }, SERVICE);
  expect(response.body.errors).toBeUndefined();
  return response.body.data?.issueSession.id as string;
}

describe('a session, from issue to revoke', () => {
  test('issue → read own → update → read → revoke → read gives null', async () => {
    const issued = await fx.gateway.gql(ISSUE, { input: { principal: 'user-1', attributes: { user: { id: 1, name: 'Kim' } }, maxInactiveInterval: 900 } }, SERVICE);
    expect(issued.status).toBe(200);
    const session = issued.body.data?.issueSession;
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(issued.headers['x-session-id']).toBe(session.id);
    expect(session).toMatchObject({ principal: 'user-1', attributes: { user: { id: 1, name: 'Kim' } }, maxInactiveInterval: 900, version: 1 });
    expect(Date.parse(session.expiresAt) - Date.parse(session.lastAccessedAt)).toBe(900_000);
    expect(await fx.redis.exists(keyOf(session.id))).toBe(1);

    const own = await fx.gateway.gql(OWN, {}, { 'X-Session-ID': session.id });
    expect(own.body.data?.session).toMatchObject({ id: session.id, principal: 'user-1', attributes: { user: { id: 1, name: 'Kim' } }, version: 1 });

    const updated = await fx.gateway.gql(UPDATE, { id: session.id, patch: { set: { cart: [1, 2] }, expectedVersion: 1 } }, SERVICE);
    expect(updated.body.data?.updateSession).toMatchObject({ version: 2, attributes: { user: { id: 1, name: 'Kim' }, cart: [1, 2] } });

    const reread = await fx.gateway.gql(`{ session { version cart: attribute(name: "cart") missing: attribute(name: "nope") } }`, {}, { 'x-session-id': session.id });
    expect(reread.body.data?.session).toEqual({ version: 2, cart: [1, 2], missing: null });

    const revoked = await fx.gateway.gql(REVOKE, {}, { 'X-Session-ID': session.id });
    expect(revoked.body.data?.revokeSession).toBe(true);
    expect(await fx.redis.exists(keyOf(session.id))).toBe(0);

    const gone = await fx.gateway.gql(OWN, {}, { 'X-Session-ID': session.id });
    expect(gone.body).toEqual({ data: { session: null } });
  });

  test('the session cookie works where the header is absent', async () => {
    const id = await issue();
    const own = await fx.gateway.gql('{ session { id } }', {}, { Cookie: `theme=dark; JSESSIONID=${id}` });
    expect(own.body.data?.session).toEqual({ id });
  });

  test('updateSession defaults to the session in the header', async () => {
    const id = await issue();
    const updated = await fx.gateway.gql(UPDATE, { patch: { set: { lang: 'ko' }, unset: ['user'] } }, { ...SERVICE, 'X-Session-ID': id });
    expect(updated.body.data?.updateSession).toMatchObject({ id, principal: 'user-1', attributes: { lang: 'ko' }, version: 2 });
  });

  test('a service revokes any session by id', async () => {
    const id = await issue();
    expect((await fx.gateway.gql(REVOKE, { id }, SERVICE)).body.data?.revokeSession).toBe(true);
    expect((await fx.gateway.gql(REVOKE, { id }, SERVICE)).body.data?.revokeSession).toBe(false);
    expect(await fx.redis.exists(keyOf(id))).toBe(0);
  });
});

describe('sessions(ids:)', () => {
  test('answers in the order of ids, with null where missing, expired or malformed', async () => {
    const a = await issue({ principal: 'a' });
    const b = await issue({ principal: 'b' });
    const response = await fx.gateway.gql(MANY, { ids: [b, generateSessionId(), a, 'not-an-id', b] }, SERVICE);
    expect(response.body.data?.sessions).toEqual([{ id: b, principal: 'b' }, null, { id: a, principal: 'a' }, null, { id: b, principal: 'b' }]);
  });

  test('a request reading 10 sessions (ids, aliases, own) costs one Redis round trip', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await issue({ principal: `p${i}` }));
    const query = `query Ten($ids: [ID!]!, $one: [ID!]!) {
      session { principal }
      sessions(ids: $ids) { principal attributes }
      again: sessions(ids: $one) { principal }
    }`;
    const variables = { ids, one: [ids[3]] };
    const headers = { ...SERVICE, 'X-Session-ID': ids[0] as string };
    await fx.gateway.gql(query, variables, headers); // warm: script cache loaded

    let response: Awaited<ReturnType<typeof fx.gateway.gql>> | undefined;
    const commands = await commandsOf(fx.server, (fx.gateway.store as RedisSessionStore).client, async () => {
      response = await fx.gateway.gql(query, variables, headers);
    });
    if (response === undefined) throw new Error('no response');

    expect(response.body.data?.session).toEqual({ principal: 'p0' });
    expect(response.body.data?.sessions.map((s: { principal: string }) => s.principal)).toEqual(ids.map((_, i) => `p${i}`));
    expect(response.body.data?.again).toEqual([{ principal: 'p3' }]);
    // One MGET carrying the 10 distinct keys: one command, one round trip.
    expect(commands.map((command) => `${command[0]}:${command.length - 1}`)).toEqual(['mget:10']);
  });

  test('more ids than the limit is BAD_USER_INPUT', async () => {
    const ids = Array.from({ length: fx.gateway.config.maxBatchIds + 1 }, () => generateSessionId());
    const response = await fx.gateway.gql(MANY, { ids }, SERVICE);
    expect(response.status).toBe(200); // application/json: 200 for every well-formed request
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
  });
});

describe('concurrency and lifetime', () => {
  test('100 concurrent updates of different attributes all land', async () => {
    const id = await issue({ attributes: {} });
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => fx.gateway.gql(UPDATE, { id, patch: { set: { [`k${i}`]: i } } }, SERVICE)),
    );
    expect(responses.every((r) => r.status === 200 && r.body.errors === undefined)).toBe(true);
    const read = await fx.gateway.gql(OWN, {}, { 'X-Session-ID': id });
    expect(read.body.data?.session.version).toBe(101);
    expect(read.body.data?.session.attributes).toEqual(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])));
  });

  test('update after revoke fails with SESSION_NOT_FOUND and does not resurrect', async () => {
    const id = await issue();
    await fx.gateway.gql(REVOKE, { id }, SERVICE);
    const response = await fx.gateway.gql(UPDATE, { id, patch: { set: { back: true } } }, SERVICE);
    expect(response.status).toBe(200);
    expect(errorCode(response)).toBe('SESSION_NOT_FOUND');
    expect(await fx.redis.exists(keyOf(id))).toBe(0);
  });

  test('update after expiry fails with SESSION_NOT_FOUND and does not resurrect', async () => {
    const id = await issue();
    await fx.redis.pexpire(keyOf(id), 1);
    await waitUntil(async () => (await fx.redis.exists(keyOf(id))) === 0);
    const response = await fx.gateway.gql(UPDATE, { id, patch: { set: { back: true } } }, SERVICE);
    expect(errorCode(response)).toBe('SESSION_NOT_FOUND');
    expect(await fx.redis.exists(keyOf(id))).toBe(0);
    expect((await fx.gateway.gql(OWN, {}, { 'X-Session-ID': id })).body.data?.session).toBeNull();
  });

  test('a stale expectedVersion is VERSION_CONFLICT and writes nothing', async () => {
    const id = await issue();
    await fx.gateway.gql(UPDATE, { id, patch: { set: { a: 1 } } }, SERVICE);
    const before = await fx.redis.get(keyOf(id));
    const response = await fx.gateway.gql(UPDATE, { id, patch: { set: { b: 2 }, expectedVersion: 1 } }, SERVICE);
    expect(response.status).toBe(200);
    expect(errorCode(response)).toBe('VERSION_CONFLICT');
    expect(await fx.redis.get(keyOf(id))).toBe(before);
  });
});

describe('who may do what', () => {
  const serviceOperations: Array<[string, string, Record<string, unknown>]> = [
    ['issueSession', ISSUE, { input: { principal: 'x' } }],
    ['updateSession', UPDATE, { patch: { set: { admin: true } } }],
    ['sessions', MANY, { ids: [] }],
  ];

  test.each(serviceOperations)('%s without a token: UNAUTHENTICATED with no session, FORBIDDEN with one; nothing changes', async (_name, query, variables) => {
    const id = await issue();
    const before = await snapshot(fx.redis, namespace());

    const anonymous = await fx.gateway.gql(query, { ...variables, id }, {});
    expect(anonymous.status).toBe(200);
    expect(errorCode(anonymous)).toBe('UNAUTHENTICATED');

    const frontend = await fx.gateway.gql(query, variables, { 'X-Session-ID': id });
    expect(frontend.status).toBe(200);
    expect(errorCode(frontend)).toBe('FORBIDDEN');

    expect(await snapshot(fx.redis, namespace())).toEqual(before);
  });

  test('a wrong service token is UNAUTHENTICATED for the whole request', async () => {
    const id = await issue();
    const response = await fx.gateway.gql(OWN, {}, { Authorization: 'Bearer wrong-token-wrong-token', 'X-Session-ID': id });
    expect(response.status).toBe(200);
    expect(errorCode(response)).toBe('UNAUTHENTICATED');
  });

  test("a frontend cannot revoke someone else's session, nor revoke without a session", async () => {
    const mine = await issue();
    const theirs = await issue();
    const before = await snapshot(fx.redis, namespace());
    const other = await fx.gateway.gql(REVOKE, { id: theirs }, { 'X-Session-ID': mine });
    expect(errorCode(other)).toBe('FORBIDDEN');
    const nobody = await fx.gateway.gql(REVOKE, { id: theirs }, {});
    expect(errorCode(nobody)).toBe('UNAUTHENTICATED');
    expect(await snapshot(fx.redis, namespace())).toEqual(before);
  });

  test('a frontend reads only its own session', async () => {
    const mine = await issue({ principal: 'me' });
    const response = await fx.gateway.gql('{ session { principal } }', {}, { 'X-Session-ID': mine });
    expect(response.body.data?.session).toEqual({ principal: 'me' });
  });
});

describe('bad input gets a clear code and changes nothing', () => {
  // [name, document, variables, code, status with Accept: application/graphql-response+json]
  // (with application/json every one of them answers 200).
  const cases: Array<[string, string, Record<string, unknown>, string, number]> = [
    ['a malformed id to update', UPDATE, { id: 'abc', patch: { set: { a: 1 } } }, 'SESSION_NOT_FOUND', 200],
    ['an unknown id to update', UPDATE, { id: generateSessionId(), patch: { set: { a: 1 } } }, 'SESSION_NOT_FOUND', 200],
    ['set that is not an object', UPDATE, { patch: { set: [1, 2] } }, 'BAD_USER_INPUT', 400],
    ['a string for an Int', UPDATE, { patch: { maxInactiveInterval: 'long' } }, 'BAD_USER_INPUT', 400],
    ['a negative timeout', UPDATE, { patch: { maxInactiveInterval: -5 } }, 'BAD_USER_INPUT', 200],
    ['a timeout past 30 days', ISSUE, { input: { maxInactiveInterval: 30 * 86400 + 1 } }, 'BAD_USER_INPUT', 200],
    ['an empty principal', ISSUE, { input: { principal: '' } }, 'BAD_USER_INPUT', 200],
    ['an empty attribute name', UPDATE, { patch: { set: { '': 1 } } }, 'BAD_USER_INPUT', 200],
    ['the same name set and unset', UPDATE, { patch: { set: { a: 1 }, unset: ['a'] } }, 'BAD_USER_INPUT', 200],
    ['a zero expectedVersion', UPDATE, { patch: { set: { a: 1 }, expectedVersion: 0 } }, 'BAD_USER_INPUT', 200],
    ['an attribute over the size limit', UPDATE, { patch: { set: { big: 'x'.repeat(70 * 1024) } } }, 'PAYLOAD_TOO_LARGE', 200],
    ['issue over the size limit', ISSUE, { input: { attributes: { big: 'x'.repeat(70 * 1024) } } }, 'PAYLOAD_TOO_LARGE', 200],
  ];

  test.each(cases)('%s', async (_name, query, variables, code, status) => {
    const id = await issue();
    const before = await snapshot(fx.redis, namespace());
    const response = await fx.gateway.gql(query, { id, ...variables }, SERVICE);
    expect(errorCode(response)).toBe(code);
    expect(response.status).toBe(200);
    const strict = await fx.gateway.gql(query, { id, ...variables }, { ...SERVICE, Accept: 'application/graphql-response+json' });
    expect(errorCode(strict)).toBe(code);
    expect(strict.status).toBe(status);
    expect(await snapshot(fx.redis, namespace())).toEqual(before);
  });

  test('growing a session past the limit in small steps is PAYLOAD_TOO_LARGE at the step that crosses it', async () => {
    const id = await issue({ attributes: {} });
    const chunk = 'y'.repeat(20 * 1024);
    for (const name of ['a', 'b', 'c']) {
      expect((await fx.gateway.gql(UPDATE, { id, patch: { set: { [name]: chunk } } }, SERVICE)).body.errors).toBeUndefined();
    }
    const before = await snapshot(fx.redis, namespace());
    const response = await fx.gateway.gql(UPDATE, { id, patch: { set: { d: chunk } } }, SERVICE);
    expect(errorCode(response)).toBe('PAYLOAD_TOO_LARGE');
    expect(await snapshot(fx.redis, namespace())).toEqual(before);
  });

  test('a body past the HTTP limit is PAYLOAD_TOO_LARGE', async () => {
    const before = await snapshot(fx.redis, namespace());
    const response = await fx.gateway.http
      .post('/graphql')
      .set(SERVICE)
      .send({ query: ISSUE, variables: { input: { attributes: { big: 'z'.repeat(fx.gateway.config.maxAttributeBytes * 3) } } } });
    expect(response.body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await snapshot(fx.redis, namespace())).toEqual(before);
  });

  test('syntax errors and unknown fields are BAD_USER_INPUT', async () => {
    const syntax = await fx.gateway.gql('{ session { id ', {}, SERVICE);
    expect(errorCode(syntax)).toBe('BAD_USER_INPUT');
    expect(syntax.status).toBe(200);
    const unknown = await fx.gateway.gql('{ session { password } }', {}, SERVICE);
    expect(errorCode(unknown)).toBe('BAD_USER_INPUT');
  });

  test('a malformed or unknown X-Session-ID is simply no session', async () => {
    for (const presented of ['short', `${'A'.repeat(42)}B`, 'A'.repeat(44), generateSessionId(), '../../etc/passwd', `${generateSessionId()}, ${generateSessionId()}`]) {
      const response = await fx.gateway.gql('{ session { id } }', {}, { 'X-Session-ID': presented });
      expect(response.body).toEqual({ data: { session: null } });
    }
  });
});
