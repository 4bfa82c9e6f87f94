/**
 * What a request may ask for is bounded before anything compiles or executes it, on both doors
 * (the compiled path and Apollo), from one definition (src/graphql/request-rules.ts): document
 * size in tokens, depth and fields with fragments expanded, sessions read per request;
 * introspection when it is off; subscriptions (WebSocket only) and persisted queries (not
 * offered). Every refusal is a client error with a clear code and leaves Redis as it was.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { generateSessionId } from '../../src/session/ids';
import { SERVICE, snapshot, startGateway, waitUntil, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';
import { codeOf, viaGet, viaPost, type DoorResponse } from '../support/doors';

let server: RedisServer;
let dev: Gateway;
let production: Gateway;
const logLines: Array<{ level: number; msg: string }> = [];

beforeAll(async () => {
  server = await startRedis();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  dev = await startGateway({ redisUrl: server.url, logger: pino({ level: 'info' }, sink) });
  production = await startGateway({ redisUrl: server.url, env: { NODE_ENV: 'production' } });
});
afterAll(async () => {
  await dev.close();
  await production.close();
  await server.destroy();
});

/** A GET's whole request head must fit Node's 16 KiB: a longer document can only be POSTed. */
const MAX_GET_QUERY_CHARS = 8 * 1024;

async function bothDoors(gateway: Gateway, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<DoorResponse[]> {
  const redis = server.client();
  const before = await snapshot(redis, gateway.config.sessionNamespace);
  const answers = [await viaPost(gateway, query, variables, headers)];
  if (query.length <= MAX_GET_QUERY_CHARS) answers.push(await viaGet(gateway, query, variables, headers));
  else expect((await viaGet(gateway, query, variables, headers)).status).toBe(431);
  expect(await snapshot(redis, gateway.config.sessionNamespace)).toEqual(before);
  redis.disconnect();
  return answers;
}

/** Refused before execution (no data), every error with `code`, the first saying `message`. */
function refusedAs(answers: DoorResponse[], code: string, message: RegExp): void {
  for (const answer of answers) {
    expect([answer.status, answer.compiled]).toEqual([200, false]);
    expect(answer.body.data).toBeUndefined();
    expect(answer.body.errors?.map((error) => error.extensions?.code)).toEqual(answer.body.errors?.map(() => code));
    expect(codeOf(answer)).toBe(code);
    expect(answer.body.errors?.[0]?.message).toMatch(message);
  }
}

describe('introspection off (production)', () => {
  const variants = [
    '{ __type(name: "Mutation") { fields { name args { name } } } }',
    '{ __type (name: "Mutation") { fields { name args { name } } } }',
    '{ __type\n(name: "Mutation") { fields { name } } }',
    '{ __type # comment\n (name: "Mutation") { fields { name } } }',
    '{ __schema { types { name } } }',
    'query { a: __type(name: "Session") { name } }',
    '{ ...F } fragment F on Query { __type(name: "Session") { name } }',
  ];
  test.each(variants)('%j is refused by both doors', async (query) => {
    refusedAs(await bothDoors(production, query), 'BAD_USER_INPUT', /introspection/i);
  });

  test('__typename is not introspection, and the compiled path still answers ordinary queries', async () => {
    const [post, get] = await bothDoors(production, '{ __typename session { id } }');
    expect(post?.compiled).toBe(true);
    expect(post?.body).toEqual({ data: { __typename: 'Query', session: null } });
    expect(get?.body).toEqual(post?.body);
  });

  test('with the IDE on (development) introspection answers', async () => {
    const [post] = await bothDoors(dev, '{ __type(name: "Session") { name } }');
    expect(post?.body).toEqual({ data: { __type: { name: 'Session' } } });
  });
});

describe('cost is bounded before compiling or executing', () => {
  test('5,000 aliases: refused by the parser (MAX_QUERY_TOKENS)', async () => {
    const query = `{ ${Array.from({ length: 5000 }, (_, i) => `a${i}: session { id }`).join(' ')} }`;
    refusedAs(await bothDoors(dev, query), 'BAD_USER_INPUT', /more tha\w* 1000 tokens/);
  });

  test('over MAX_QUERY_TOKENS yet within every other limit: refused by the parser, on both doors', async () => {
    // 130 aliased attribute(name:) fields: 1,046 tokens but only 131 fields, 2 deep, so no rule
    // but the token limit refuses it, and the compiled path would answer it if it parsed without it.
    const query = `{ session { ${Array.from({ length: 130 }, (_, i) => `a${i}: attribute(name: "x")`).join(' ')} } }`;
    refusedAs(await bothDoors(dev, query), 'BAD_USER_INPUT', /more tha\w* 1000 tokens/);
  });

  test('a 3,000-deep fragment chain: refused by the parser', async () => {
    const fragments = Array.from({ length: 3000 }, (_, i) => `fragment F${i} on Query { ${i === 2999 ? '__typename' : `...F${i + 1}`} }`).join(' ');
    refusedAs(await bothDoors(dev, `{ ...F0 } ${fragments}`), 'BAD_USER_INPUT', /tokens/);
  });

  test('a fragment bomb under the token limit: refused for its expanded size (MAX_QUERY_FIELDS)', async () => {
    let fragments = 'fragment F0 on Session { id version }';
    for (let i = 1; i <= 12; i++) fragments += ` fragment F${i} on Session { ...F${i - 1} again${i}: id ...F${i - 1} }`;
    refusedAs(await bothDoors(dev, `{ session { ...F12 } } ${fragments}`), 'BAD_USER_INPUT', /more than 500 fields.*MAX_QUERY_FIELDS/);
  });

  // Only introspection nests this deep in this schema (see fast-path-rules.test.ts for the depth
  // rule on the compiled path itself).
  test('deeper than MAX_QUERY_DEPTH: refused', async () => {
    const nested = Array.from({ length: 16 }, () => 'ofType {').join(' ');
    const query = `{ __schema { types { fields { type { ${nested} name ${'} '.repeat(16)} } } } } }`;
    refusedAs(await bothDoors(dev, query), 'BAD_USER_INPUT', /nests fields \d+ deep; at most 15.*MAX_QUERY_DEPTH/);
  });

  test("the IDE's full introspection query is within every limit", async () => {
    const { getIntrospectionQuery } = await import('graphql');
    const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true });
    const [post] = await bothDoors(dev, query);
    expect(post?.body.errors).toEqual(undefined);
    expect(post?.body.data?.__schema.queryType).toMatchObject({ name: 'Query' });
  });

  test('35 aliased sessions(ids:) of 100 ids read at most MAX_BATCH_IDS (100) sessions, in one MGET', async () => {
    const ids = Array.from({ length: 100 }, () => generateSessionId());
    const query = `query($ids: [ID!]!) { ${Array.from({ length: 35 }, (_, i) => `s${i}: sessions(ids: $ids) { id }`).join(' ')} }`;
    const redis = server.client();
    const seen: string[] = [];
    const monitor = await redis.monitor();
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(`${args[0]?.toLowerCase()}:${args.length - 1}`));
    const answers = [await viaPost(dev, query, { ids }, SERVICE), await viaGet(dev, query, { ids }, SERVICE)];
    const sentinel = `sentinel-${generateSessionId()}`;
    const pinger = server.client();
    await pinger.echo(sentinel);
    await waitUntil(async () => seen.includes('echo:1'));
    monitor.disconnect();
    pinger.disconnect();
    redis.disconnect();
    // The POST executes on the compiled path: the limit holds there, not only on Apollo.
    expect(answers.map((answer) => answer.compiled)).toEqual([true, false]);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      // sessions is non-null, so a refused field nulls the whole data.
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/reads at most 100 sessions/), path: ['s1'], extensions: { code: 'BAD_USER_INPUT' } }),
      ]);
    }
    // One MGET of 100 keys per request, nothing more.
    expect(seen.filter((command) => command.startsWith('mget') || command.startsWith('get'))).toEqual(['mget:100', 'mget:100']);
  });
});

describe('requests HTTP does not serve', () => {
  test('a subscription over HTTP is a client error that names WebSocket', async () => {
    refusedAs(await bothDoors(dev, 'subscription { sessionChanges { digest } }', undefined, SERVICE), 'BAD_USER_INPUT', /WebSocket/);
  });

  test('persisted queries are not offered: a mismatched hash and a hash alone are PERSISTED_QUERY_NOT_SUPPORTED, logged as nothing worse than a request', async () => {
    const before = logLines.length;
    const extensions = { persistedQuery: { version: 1, sha256Hash: 'abc' } };
    const mismatch = await dev.http.post('/graphql').send({ query: '{ session { id } }', extensions });
    const hashOnly = await dev.http.post('/graphql').send({ extensions });
    const overGet = await dev.http
      .get(`/graphql?${new URLSearchParams({ query: '{ session { id } }', extensions: JSON.stringify(extensions) })}`)
      .set({ 'Apollo-Require-Preflight': 'true', Accept: 'application/json' });
    for (const response of [mismatch, hashOnly, overGet]) {
      expect(response.body.errors).toEqual([{ message: 'automatic persisted queries are not supported: send the query text', extensions: { code: 'PERSISTED_QUERY_NOT_SUPPORTED' } }]);
      expect(response.status).toBe(200);
    }
    const lines = logLines.slice(before);
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
    expect(lines.filter((line) => line.msg === 'request')).toHaveLength(3);
  });

  test('a batch (an array of operations) is refused: batching is off', async () => {
    const response = await dev.http.post('/graphql').send([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.body.errors?.[0]?.message).toMatch(/batching/i);
  });
});
