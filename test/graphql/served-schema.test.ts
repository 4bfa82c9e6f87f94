/**
 * The SDL in schema/ is the source of truth: what introspection shows a client (descriptions,
 * directives, scalars) is exactly what the file says.
 */
import { buildClientSchema, buildSchema, getIntrospectionQuery, printSchema, type IntrospectionQuery } from 'graphql';
import { readTypeDefs } from '../../src/graphql/schema';
import { gatewayOverRedis } from '../support/gateway';

const fx = gatewayOverRedis();

test('printSchema of the served schema equals printSchema of schema/*.graphql', async () => {
  const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true });
  const response = await fx.gateway.http.post('/graphql').send({ query });
  expect(response.body.errors).toBeUndefined();
  const served = printSchema(buildClientSchema(response.body.data as IntrospectionQuery));
  const file = printSchema(buildSchema(readTypeDefs().join('\n')));
  expect(served).toBe(file);
  expect(served).not.toMatch(/specifiedBy|graphql-scalars|RFC 3339/);
});
