/**
 * The query fast path answers exactly as Apollo does. Each query is sent as a POST (fast path)
 * and as a GET (always Apollo); status and body must match.
 */
import type { Gateway } from '../support/gateway';
import { SERVICE, startGateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';
import { generateSessionId } from '../../src/session/ids';

let server: RedisServer;
let gateway: Gateway;
let id: string;

beforeAll(async () => {
  server = await startRedis();
  gateway = await startGateway({ redisUrl: server.url });
  const issued = await gateway.gql('mutation { issueSession(input: { principal: "p", attributes: { user: { n: 1 } } }) { id } }', {}, SERVICE);
  id = issued.body.data?.issueSession.id as string;
});
afterAll(async () => {
  await gateway.close();
  await server.destroy();
});

async function both(query: string, variables: Record<string, unknown> | undefined, headers: Record<string, string>) {
  const post = await gateway.http.post('/graphql').set(headers).send({ query, variables });
  const params = new URLSearchParams({ query, ...(variables === undefined ? {} : { variables: JSON.stringify(variables) }) });
  const get = await gateway.http.get(`/graphql?${params}`).set(headers).set('Apollo-Require-Preflight', 'true');
  return { post, get };
}

const cases: Array<[string, string, Record<string, unknown> | undefined, () => Record<string, string>]> = [
  ['own session', '{ session { id principal attributes version maxInactiveInterval } }', undefined, () => ({ 'X-Session-ID': id })],
  ['no session', '{ session { id } }', undefined, () => ({})],
  ['many, with nulls', 'query($ids: [ID!]!) { sessions(ids: $ids) { principal } }', { ids: [generateSessionId(), 'bad'] }, () => SERVICE],
  ['many without a token', 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: [] }, () => ({ 'X-Session-ID': id })],
  ['variables that do not coerce', 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: 5.5 }, () => SERVICE],
  ['a missing variable', 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', {}, () => SERVICE],
  ['a wrong token', '{ session { id } }', undefined, () => ({ Authorization: 'Bearer not-the-token-at-all' })],
];

test.each(cases)('%s: the fast path and Apollo answer the same', async (_name, query, variables, headers) => {
  const { post, get } = await both(query, variables, headers());
  expect(post.status).toBe(get.status);
  expect(post.body).toEqual(get.body);
  expect(post.headers['content-type']).toBe(get.headers['content-type']);
  expect(post.headers['cache-control']).toBe(get.headers['cache-control']);
});

test('mutations still go through Apollo and set the session header', async () => {
  const issued = await gateway.gql('mutation { issueSession { id } }', {}, SERVICE);
  expect(issued.headers['x-session-id']).toBe(issued.body.data?.issueSession.id);
});
