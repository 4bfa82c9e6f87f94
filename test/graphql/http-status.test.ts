/**
 * GraphQL over HTTP as the spec and real clients expect it (status per media type, GET queries,
 * error codes that reach the client), on both doors, and the `graphql-http` conformance audit.
 *
 * With `application/json` (or no Accept, or `*\/*`) every well-formed request answers 200 and the
 * code travels in `errors[].extensions.code`; with `application/graphql-response+json` a request
 * error (nothing executed) answers its code's 4xx, and 200 once execution started.
 */
import { ApolloClient as ApolloClient4, CombinedGraphQLErrors, HttpLink as HttpLink4, InMemoryCache as InMemoryCache4, gql as gql4 } from '@apollo/client';
import { Client as UrqlClient, fetchExchange } from '@urql/core';
import { serverAudits } from 'graphql-http';
import { generateSessionId } from '../../src/session/ids';
import { errorCode, gatewayOverRedis, SERVICE, snapshot } from '../support/gateway';
import { codeOf, viaGet, viaPost } from '../support/doors';

const fx = gatewayOverRedis({ CORS_ORIGINS: 'https://app.example.com' });
let url: string;

beforeAll(async () => {
  url = `${await fx.gateway.app.listen({ port: 0, host: '127.0.0.1' })}/graphql`;
});

const JSON_MEDIA = 'application/json';
const GRAPHQL_MEDIA = 'application/graphql-response+json';

// [name, query, variables, headers, status with application/json, with application/graphql-response+json, code]
const cases: Array<[string, string, Record<string, unknown> | undefined, () => Record<string, string>, number, number, string | undefined]> = [
  ['a query that succeeds', '{ session { id } }', undefined, () => ({}), 200, 200, undefined],
  ['a syntax error', '{ session { id ', undefined, () => ({}), 200, 400, 'BAD_USER_INPUT'],
  ['an unknown field', '{ session { password } }', undefined, () => ({}), 200, 400, 'BAD_USER_INPUT'],
  ['a variable that does not coerce', 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: 5.5 }, () => SERVICE, 200, 400, 'BAD_USER_INPUT'],
  ['a wrong service token', '{ session { id } }', undefined, () => ({ Authorization: 'Bearer not-the-token-at-all' }), 200, 401, 'UNAUTHENTICATED'],
  ['a field only services may read', 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: [] }, () => ({}), 200, 200, 'UNAUTHENTICATED'],
  ['a field a frontend may not read', 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: [] }, () => ({ 'X-Session-ID': generateSessionId() }), 200, 200, 'FORBIDDEN'],
];

describe.each([JSON_MEDIA, GRAPHQL_MEDIA])('Accept: %s', (media) => {
  test.each(cases)('%s: both doors answer the same status, media type and body', async (_name, query, variables, headers, jsonStatus, graphqlStatus, code) => {
    const accept = { Accept: media, ...headers() };
    const before = await snapshot(fx.redis, fx.gateway.config.sessionNamespace);
    const post = await viaPost(fx.gateway, query, variables, accept);
    const get = await viaGet(fx.gateway, query, variables, accept);
    for (const answer of [post, get]) {
      expect(answer.status).toBe(media === JSON_MEDIA ? jsonStatus : graphqlStatus);
      expect(answer.headers['content-type']).toBe(`${media}; charset=utf-8`);
      expect(codeOf(answer)).toBe(code);
    }
    expect(get.body).toEqual(post.body);
    // The compiled path answers exactly the requests that execute.
    expect(post.compiled).toBe(post.body.data !== undefined);
    expect(await snapshot(fx.redis, fx.gateway.config.sessionNamespace)).toEqual(before);
  });

  test('a field error in a mutation (SESSION_NOT_FOUND) answers 200: execution started', async () => {
    const response = await fx.gateway.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { a: 1 } }) { version } }', { id: generateSessionId() }, { ...SERVICE, Accept: media });
    expect([response.status, errorCode(response), response.body.data]).toEqual([200, 'SESSION_NOT_FOUND', null]);
  });

  test('requests that are not well-formed keep their 4xx: no query, a mutation over GET', async () => {
    const empty = await fx.gateway.http.post('/graphql').set('Accept', media).send({ variables: {} });
    expect([empty.status, empty.body.errors?.[0]?.extensions?.code]).toEqual([400, 'BAD_USER_INPUT']);
    const mutation = await viaGet(fx.gateway, 'mutation { issueSession { id } }', undefined, { ...SERVICE, Accept: media });
    expect([mutation.status, codeOf(mutation)]).toEqual([405, 'BAD_USER_INPUT']);
  });
});

describe('GET queries (urql and Apollo Client send queries as GET)', () => {
  test('a GET carrying the session header or a service token is served', async () => {
    const id = (await fx.gateway.http.get('/api/v2/session')).headers['x-session-id'] as string;
    const params = new URLSearchParams({ query: '{ session { id } }' });
    const withSession = await fx.gateway.http.get(`/graphql?${params}`).set({ Accept: JSON_MEDIA, 'X-Session-ID': id });
    expect([withSession.status, withSession.body]).toEqual([200, { data: { session: { id } } }]);
    const withToken = await fx.gateway.http.get(`/graphql?${new URLSearchParams({ query: '{ __typename }' })}`).set({ Accept: JSON_MEDIA, ...SERVICE });
    expect([withToken.status, withToken.body]).toEqual([200, { data: { __typename: 'Query' } }]);
  });

  test('a GET a browser could send cross-site without a preflight (cookie only) stays refused', async () => {
    const id = (await fx.gateway.http.get('/api/v2/session')).headers['x-session-id'] as string;
    const response = await fx.gateway.http.get(`/graphql?${new URLSearchParams({ query: '{ session { id } }' })}`).set({ Accept: JSON_MEDIA, Cookie: `JSESSIONID=${id}` });
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.body.errors?.[0]?.message).toMatch(/Cross-Site Request Forgery/);
    expect(response.body.data).toBeUndefined();
  });
});

describe('clients nobody here wrote, with their default settings, see the error codes', () => {
  const SERVICES_ONLY = 'query Many($ids: [ID!]!) { sessions(ids: $ids) { id } }';

  test('Apollo Client 3: graphQLErrors carry the code', async () => {
    // Apollo Client 3's types are ESM-only; its CommonJS build is what require() loads.
    const { ApolloClient: ApolloClient3, HttpLink: HttpLink3, InMemoryCache: InMemoryCache3, gql: gql3 } = await import('apollo-client-3/core');
    const client = new ApolloClient3({ link: new HttpLink3({ uri: url }), cache: new InMemoryCache3() });
    const error = await client.query({ query: gql3(SERVICES_ONLY), variables: { ids: [] } }).then(
      () => undefined,
      (thrown: { graphQLErrors: Array<{ extensions?: Record<string, unknown> }>; networkError: unknown }) => thrown,
    );
    expect(error?.networkError).toBeNull();
    expect(error?.graphQLErrors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    client.stop();
  });

  test('Apollo Client 4: a CombinedGraphQLErrors with the code, also with a wrong token', async () => {
    const headerSets: Array<Record<string, string>> = [{}, { authorization: 'Bearer not-the-token-at-all' }];
    for (const headers of headerSets) {
      const client = new ApolloClient4({ link: new HttpLink4({ uri: url, headers }), cache: new InMemoryCache4() });
      const error = await client.query({ query: gql4(SERVICES_ONLY), variables: { ids: [] } }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(CombinedGraphQLErrors.is(error)).toBe(true);
      expect((error as { errors: Array<{ extensions?: Record<string, unknown> }> }).errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      client.stop();
    }
  });

  test('urql (GET for queries): data for a session holder, the code for a frontend asking for a service field', async () => {
    const id = (await fx.gateway.http.get('/api/v2/session')).headers['x-session-id'] as string;
    const client = new UrqlClient({ url, exchanges: [fetchExchange], preferGetMethod: 'within-url-limit', fetchOptions: { headers: { 'X-Session-ID': id } } });
    const own = await client.query('{ session { id } }', {}).toPromise();
    expect(own.error).toBeUndefined();
    expect(own.data).toEqual({ session: { id } });
    const refused = await client.query(SERVICES_ONLY, { ids: [] }).toPromise();
    expect(refused.error?.networkError).toBeUndefined();
    expect(refused.error?.graphQLErrors.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });
});

test('the graphql-http audit passes every MUST and SHOULD', async () => {
  const results = await Promise.all(serverAudits({ url, fetchFn: fetch }).map((audit) => audit.fn()));
  const required = results.filter((result) => /^(MUST|SHOULD)/.test(result.name));
  expect(required).toHaveLength(36); // graphql-http 1.23 (package-lock)
  expect(required.filter((result) => result.status !== 'ok').map((result) => `${result.name}: ${'reason' in result ? result.reason : ''}`)).toEqual([]);
});

describe('CORS headers go only to allowed origins', () => {
  test('an allowed origin gets Allow-Origin and Allow-Credentials; others and requests without Origin get neither', async () => {
    const allowed = await fx.gateway.http.post('/graphql').set('Origin', 'https://app.example.com').send({ query: '{ __typename }' });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(allowed.headers['access-control-allow-credentials']).toBe('true');
    for (const origin of ['https://evil.example.com', undefined]) {
      const request = fx.gateway.http.post('/graphql');
      if (origin !== undefined) request.set('Origin', origin);
      const response = await request.send({ query: '{ __typename }' });
      expect([response.headers['access-control-allow-origin'], response.headers['access-control-allow-credentials']]).toEqual([undefined, undefined]);
    }
  });
});
