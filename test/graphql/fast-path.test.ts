/**
 * The compiled query path answers exactly as Apollo does. Each query is sent as a POST (which the
 * compiled path takes when it can) and as a GET (always Apollo); status, body and headers must
 * match. Every case also names the door its POST must go through, and the test checks that door
 * answered (test/support/doors.ts): a case meant for the compiled path that Apollo answered would
 * compare Apollo with Apollo and prove nothing; a case meant for Apollo (request errors,
 * introspection, mutations) that the compiled path answered is a bypassed rule.
 */
import { generateSessionId } from '../../src/session/ids';
import { watchGraphQLDoors, type DoorWatch, type GraphQLDoor } from '../support/doors';
import { SERVICE, startGateway, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

let server: RedisServer;
/** As in development: introspection allowed. */
let gateway: Gateway;
/** As in production (PLAYGROUND=false): introspection refused. */
let closed: Gateway;
let id: string;
let doors: DoorWatch<GraphQLDoor>;

beforeAll(async () => {
  server = await startRedis();
  gateway = await startGateway({ redisUrl: server.url });
  closed = await startGateway({ redisUrl: server.url, env: { PLAYGROUND: 'false', SESSION_NAMESPACE: gateway.config.sessionNamespace } });
  const issued = await gateway.gql('mutation { issueSession(input: { principal: "p", attributes: { user: { n: 1 }, cart: [1, 2] } }) { id } }', {}, SERVICE);
  id = issued.body.data?.issueSession.id as string;
  doors = watchGraphQLDoors();
});
afterAll(async () => {
  doors.restore();
  await closed.close();
  await gateway.close();
  await server.destroy();
});

interface Seen {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** The same request as a POST and as a GET, and the door each went through. */
async function both(target: Gateway, query: string, variables: Record<string, unknown> | undefined, headers: Record<string, string>, operationName?: string) {
  await doors.take();
  const post = await target.http.post('/graphql').set(headers).send({ query, variables, ...(operationName === undefined ? {} : { operationName }) });
  const postDoors = await doors.take();
  const params = new URLSearchParams({
    query,
    ...(variables === undefined ? {} : { variables: JSON.stringify(variables) }),
    ...(operationName === undefined ? {} : { operationName }),
  });
  const get = await target.http.get(`/graphql?${params}`).set(headers).set('Apollo-Require-Preflight', 'true');
  const getDoors = await doors.take();
  const seen = (response: typeof post): Seen => ({ status: response.status, body: response.body, headers: response.headers as Record<string, string> });
  return { post: seen(post), get: seen(get), postDoors, getDoors };
}

type Case = [name: string, query: string, variables: Record<string, unknown> | undefined, headers: () => Record<string, string>, door: GraphQLDoor, operationName?: string];

const cases: Case[] = [
  ['own session', '{ session { id principal attributes version maxInactiveInterval } }', undefined, () => ({ 'X-Session-ID': id }), 'compiled'],
  ['own session, answered as application/graphql-response+json', '{ session { id } }', undefined, () => ({ 'X-Session-ID': id, Accept: 'application/graphql-response+json' }), 'compiled'],
  ['FORBIDDEN, answered as application/graphql-response+json', 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: [] }, () => ({ 'X-Session-ID': id, Accept: 'application/graphql-response+json' }), 'compiled'],
  ['no session', '{ session { id } }', undefined, () => ({}), 'compiled'],
  ['a malformed session ID', '{ session { id } }', undefined, () => ({ 'X-Session-ID': 'made-up' }), 'compiled'],
  ['many, with nulls', 'query($ids: [ID!]!) { sessions(ids: $ids) { principal } }', { ids: [generateSessionId(), 'bad'] }, () => SERVICE, 'compiled'],
  ['many without a token: FORBIDDEN from a resolver', 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: [] }, () => ({ 'X-Session-ID': id }), 'compiled'],
  ['many and own, the token and the session together', 'query($ids: [ID!]!) { session { principal } sessions(ids: $ids) { id } }', { ids: [] }, () => ({ ...SERVICE, 'X-Session-ID': id }), 'compiled'],
  [
    'aliases, fragments, __typename and attribute(name:)',
    'query { me: session { ...F cart: attribute(name: "cart") none: attribute(name: "none") } __typename } fragment F on Session { __typename principal }',
    undefined,
    () => ({ 'X-Session-ID': id }),
    'compiled',
  ],
  ['@include and @skip from variables', 'query($with: Boolean!) { session { id @include(if: $with) principal @skip(if: $with) } }', { with: true }, () => ({ 'X-Session-ID': id }), 'compiled'],
  ['operationName picks one of two', 'query A { session { id } } query B { session { principal } }', undefined, () => ({ 'X-Session-ID': id }), 'compiled', 'B'],
  ['variables that do not coerce', 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: 5.5 }, () => SERVICE, 'apollo'],
  ['a missing variable', 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', {}, () => SERVICE, 'apollo'],
  ['a wrong token', '{ session { id } }', undefined, () => ({ Authorization: 'Bearer not-the-token-at-all' }), 'apollo'],
  ['a syntax error', '{ session { id ', undefined, () => SERVICE, 'apollo'],
  ['an unknown field', '{ session { password } }', undefined, () => SERVICE, 'apollo'],
  ['an unknown argument', '{ session(id: "x") { id } }', undefined, () => SERVICE, 'apollo'],
  ['a required argument left out', '{ sessions { id } }', undefined, () => SERVICE, 'apollo'],
  ['an unused variable', 'query($x: Int) { session { id } }', { x: 1 }, () => ({ 'X-Session-ID': id }), 'apollo'],
  ['a variable in a position it does not fit', 'query($ids: [ID]) { sessions(ids: $ids) { id } }', { ids: [] }, () => SERVICE, 'apollo'],
  ['an operationName that names nothing', 'query A { session { id } } query B { session { principal } }', undefined, () => ({ 'X-Session-ID': id }), 'apollo', 'C'],
  ['two operations and no operationName', 'query A { session { id } } query B { session { principal } }', undefined, () => ({ 'X-Session-ID': id }), 'apollo'],
  ['introspection by __schema', '{ __schema { queryType { name } } }', undefined, () => ({}), 'apollo'],
  ['introspection by __type', '{ __type(name: "Session") { name } }', undefined, () => ({}), 'apollo'],
  ['introspection by __type with a space before its arguments', '{ __type (name: "Session") { name } }', undefined, () => ({}), 'apollo'],
  ['introspection under an alias, in a fragment', 'query { ...F } fragment F on Query { t: __type\n(name: "Query") { name } }', undefined, () => ({}), 'apollo'],
];

describe.each([
  ['introspection allowed', () => gateway],
  ['introspection refused (production)', () => closed],
])('%s', (_setting, target) => {
    // One parameter (a rest tuple): jest takes a callback with more parameters than a row has columns as `done`.
  test.each(cases)('%s: the door is as expected, and it answers as Apollo does', async (...[, query, variables, headers, door, operationName]: Case) => {
    const { post, get, postDoors, getDoors } = await both(target(), query, variables, headers(), operationName);
    expect(getDoors).toEqual(['apollo']); // the reference answer is Apollo's
    expect(postDoors).toEqual([door]);
    expect({ status: post.status, body: post.body }).toEqual({ status: get.status, body: get.body });
    expect(post.headers['content-type']).toBe(get.headers['content-type']);
    expect(post.headers['cache-control']).toBe(get.headers['cache-control']);
  });
});

test('with introspection refused, Apollo refuses the introspection queries the test sends (they are not vacuous)', async () => {
  const refused = await both(closed, '{ __type(name: "Session") { name } }', undefined, {});
  expect(refused.get.body).toEqual({ errors: [expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT' } })] });
  const allowed = await both(gateway, '{ __type(name: "Session") { name } }', undefined, {});
  expect(allowed.get.body).toEqual({ data: { __type: { name: 'Session' } } });
});

test('mutations go through Apollo and set the session header', async () => {
  await doors.take();
  const issued = await gateway.gql('mutation { issueSession { id } }', {}, SERVICE);
  expect(await doors.take()).toEqual(['apollo']);
  expect(issued.headers['x-session-id']).toBe(issued.body.data?.issueSession.id);
});

test('a POST Apollo would take for other reasons goes to Apollo: an Accept neither JSON type satisfies, extensions', async () => {
  await doors.take();
  await gateway.http.post('/graphql').set({ 'X-Session-ID': id, Accept: 'application/xml' }).send({ query: '{ session { id } }' });
  expect(await doors.take()).toEqual(['apollo']);
  await gateway.http.post('/graphql').set({ 'X-Session-ID': id }).send({ query: '{ session { id } }', extensions: { any: 1 } });
  expect(await doors.take()).toEqual(['apollo']);
});
