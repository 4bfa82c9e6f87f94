/**
 * Each face answers its refusals in its own shape, and everything else answers in the REST
 * shape: the GraphQL endpoint answers `{ errors: [{ message, extensions: { code } }] }` (its
 * route's errors, Fastify's body errors included, and a method it does not serve), every other
 * path `{ error: { code, message } }`, unknown routes under /graphql included. The status is the
 * code's (src/errors.ts) on both.
 */
import { startGateway, type Gateway } from '../support/gateway';

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
});

const NOT_JSON = "Body is not valid JSON but content-type is set to 'application/json'";

function graphqlShaped(code: string, message: string): object {
  return { errors: [{ message, extensions: { code } }] };
}

function restShaped(code: string, message: string): object {
  return { error: { code, message } };
}

test.each([
  ['PUT /graphql', () => gateway.http.put('/graphql').send({ query: '{ __typename }' }), 404, graphqlShaped('NOT_FOUND', 'no route for PUT /graphql')],
  ['DELETE /graphql?x=1', () => gateway.http.delete('/graphql?x=1'), 404, graphqlShaped('NOT_FOUND', 'no route for DELETE /graphql')],
  ['PUT /graphql;x=1 (a path parameter)', () => gateway.http.put('/graphql;x=1'), 404, graphqlShaped('NOT_FOUND', 'no route for PUT /graphql')],
  ['OPTIONS /graphql without CORS', () => gateway.http.options('/graphql'), 404, graphqlShaped('NOT_FOUND', 'no route for OPTIONS /graphql')],
  ['POST /graphql, a body that is not JSON', () => gateway.http.post('/graphql').set('Content-Type', 'application/json').send('{bad'), 400, graphqlShaped('BAD_USER_INPUT', NOT_JSON)],
  ['POST /graphql;x, a body that is not JSON', () => gateway.http.post('/graphql;x').set('Content-Type', 'application/json').send('{bad'), 400, graphqlShaped('BAD_USER_INPUT', NOT_JSON)],
  ['PUT /graphql, a body that is not JSON', () => gateway.http.put('/graphql').set('Content-Type', 'application/json').send('{bad'), 400, graphqlShaped('BAD_USER_INPUT', NOT_JSON)],
  ['POST /graphql, an unsupported content type', () => gateway.http.post('/graphql').set('Content-Type', '').send('x'), 400, graphqlShaped('BAD_USER_INPUT', 'Unsupported Media Type')],
  ['GET /graphql/', () => gateway.http.get('/graphql/'), 404, restShaped('NOT_FOUND', 'no route for GET /graphql/')],
  ['GET /graphql/x', () => gateway.http.get('/graphql/x'), 404, restShaped('NOT_FOUND', 'no route for GET /graphql/x')],
  ['PATCH /graphql/', () => gateway.http.patch('/graphql/'), 404, restShaped('NOT_FOUND', 'no route for PATCH /graphql/')],
  ['GET /graphql/ide/nope', () => gateway.http.get('/graphql/ide/nope'), 404, restShaped('NOT_FOUND', 'no route for GET /graphql/ide/nope')],
  ['GET /graphqlx', () => gateway.http.get('/graphqlx'), 404, restShaped('NOT_FOUND', 'no route for GET /graphqlx')],
  ['POST /graphql/, a body that is not JSON', () => gateway.http.post('/graphql/').set('Content-Type', 'application/json').send('{bad'), 400, restShaped('BAD_USER_INPUT', NOT_JSON)],
  ['GET /api/v2/session/x', () => gateway.http.get('/api/v2/session/x'), 404, restShaped('NOT_FOUND', 'no route for GET /api/v2/session/x')],
  ['POST /api/v2/session, a body that is not JSON', () => gateway.http.post('/api/v2/session').set('Content-Type', 'application/json').send('{bad'), 400, restShaped('BAD_USER_INPUT', NOT_JSON)],
  ['POST /healthz, a body that is not JSON', () => gateway.http.post('/healthz').set('Content-Type', 'application/json').send('{bad'), 400, restShaped('BAD_USER_INPUT', NOT_JSON)],
])('%s: answered in its shape with the code’s status', async (_name, send, status, body) => {
  const response = await send();
  expect([response.status, response.headers['content-type'], response.body]).toEqual([status, 'application/json; charset=utf-8', body]);
});

test('a body over the limit at /graphql is PAYLOAD_TOO_LARGE in the GraphQL shape; elsewhere in the REST shape', async () => {
  const big = JSON.stringify({ query: 'x'.repeat(300_000) });
  const graphql = await gateway.http.post('/graphql').set('Content-Type', 'application/json').send(big);
  expect([graphql.status, graphql.body]).toEqual([413, graphqlShaped('PAYLOAD_TOO_LARGE', 'the request body is too large')]);
  const elsewhere = await gateway.http.post('/api/v2/session').set('Content-Type', 'application/json').send(big);
  expect([elsewhere.status, elsewhere.body]).toEqual([413, restShaped('PAYLOAD_TOO_LARGE', 'the request body is too large')]);
});
