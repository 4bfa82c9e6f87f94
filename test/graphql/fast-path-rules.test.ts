/**
 * The compiled path applies every document rule itself, from the definition Apollo is given
 * (src/graphql/request-rules.ts), and is not merely saved by Apollo answering in its place. The
 * end-to-end tests (fast-path.test.ts, request-limits.test.ts) check that both doors refuse the
 * same documents; some rules cannot be shown broken there:
 *
 * - depth: outside introspection the schema nests two fields deep at most (`session { id }`) and
 *   MAX_QUERY_DEPTH is at least 2, so only an introspection query can be too deep on a gateway,
 *   and introspection the rules allow is Apollo's to execute (fast-path.ts);
 * - introspection: refused by a validation rule, which these tests show the compiled path runs
 *   (the executor choice that leaves allowed introspection to Apollo is not consulted then).
 *
 * So here the compiled path is asked directly, with the rules of a production gateway and with
 * limits small enough to be crossed: `prepared()` must decline (null: leave it to Apollo, which
 * refuses it) every document a rule refuses, and take its twin that every rule allows, so that
 * a decline is the rule's doing.
 */
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { parse } from 'graphql';
import { loadConfig } from '../../src/config';
import { QueryFastPath } from '../../src/graphql/fast-path';
import { httpRequestRules, type QueryLimits } from '../../src/graphql/request-rules';
import { buildSchema } from '../../src/graphql/schema';
import { SERVICE_TOKEN } from '../support/gateway';

const schema = buildSchema();
const production = loadConfig({ NODE_ENV: 'production', SERVICE_TOKENS: SERVICE_TOKEN });
const productionLimits: QueryLimits = { maxTokens: production.maxQueryTokens, maxDepth: production.maxQueryDepth, maxFields: production.maxQueryFields };

function fastPath(limits: QueryLimits, introspection: boolean): QueryFastPath {
  return new QueryFastPath(schema, httpRequestRules(limits, introspection, production.sessionHeader), (formatted) => formatted, () => 'label');
}

test('the production gateway refuses introspection (PLAYGROUND is off in production)', () => {
  expect(production.playground).toBe(false);
});

describe.each([
  '{ __type(name: "Session") { name } }',
  '{ __schema { queryType { name } } }',
  '{ ...F } fragment F on Query { t: __type(name: "Query") { name } }',
])('introspection off: %j', (query) => {
  test('is a document graphql-jit would compile and run', () => {
    expect(isCompiledQuery(compileQuery(schema, parse(query)))).toBe(true);
  });

  test('the compiled path declines it, by the rules of a production gateway', () => {
    expect(fastPath(productionLimits, production.playground).prepared({ query })).toBeNull();
  });
});

test('depth: one field deeper than MAX_QUERY_DEPTH is declined; at the limit it is taken', () => {
  const query = '{ session { id } }'; // depth 2
  expect(fastPath({ ...productionLimits, maxDepth: 1 }, false).prepared({ query })).toBeNull();
  expect(fastPath({ ...productionLimits, maxDepth: 2 }, false).prepared({ query })).not.toBeNull();
});

test('fields: one more than MAX_QUERY_FIELDS (aliases and fragments expanded) is declined; at the limit it is taken', () => {
  const query = '{ session { ...F again: id } } fragment F on Session { id principal }'; // 4 fields
  expect(fastPath({ ...productionLimits, maxFields: 3 }, false).prepared({ query })).toBeNull();
  expect(fastPath({ ...productionLimits, maxFields: 4 }, false).prepared({ query })).not.toBeNull();
});

test('tokens: one more than MAX_QUERY_TOKENS is declined; at the limit it is taken', () => {
  // { session { id attribute ( name : "a" ) } }: 11 tokens, and graphql-js counts the end of the document too.
  const query = '{ session { id attribute(name: "a") } }';
  expect(fastPath({ ...productionLimits, maxTokens: 11 }, false).prepared({ query })).toBeNull();
  expect(fastPath({ ...productionLimits, maxTokens: 12 }, false).prepared({ query })).not.toBeNull();
});

test('a subscription is declined (served over WebSocket only); a query of the same shape is taken', () => {
  const rules = fastPath(productionLimits, false);
  expect(rules.prepared({ query: 'subscription { sessionChanges { digest } }' })).toBeNull();
  expect(rules.prepared({ query: '{ session { digest } }' })).not.toBeNull();
});
