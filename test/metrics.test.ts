/**
 * GET /metrics over a real Redis: requests by route, GraphQL root field and outcome, Redis
 * command latency and errors, session events, DataLoader batch sizes, change streams cut off,
 * process metrics; labels
 * from fixed sets only, never a session ID.
 */
import { rawChangeStream } from './support/changes';
import { gatewayOverRedis, SERVICE, SERVICE_TOKEN, startGateway, waitUntil, type Gateway } from './support/gateway';

const fx = gatewayOverRedis({ REDIS_COMMAND_TIMEOUT_MS: '500' });

async function scrape(target: Gateway = fx.gateway): Promise<string> {
  const response = await target.http.get('/metrics');
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text;
}

/** The value of one sample, `name{labels} value`; labels given in the order prom-client prints them. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(labels === '' ? `${name} ` : `${name}{${labels}} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const requests = (text: string, route: string, operation: string, outcome: string): number =>
  sample(text, 'gateway_http_request_duration_seconds_count', `route="${route}",operation="${operation}",outcome="${outcome}"`);

let base: string | undefined;
/** The fixture's gateway on a loopback port (WebSockets need one); listens once. */
async function listening(): Promise<string> {
  base ??= await fx.gateway.app.listen({ port: 0, host: '127.0.0.1' });
  return base;
}

async function issue(): Promise<string> {
  const response = await fx.gateway.gql('mutation { issueSession { id } }', {}, SERVICE);
  return response.body.data?.issueSession.id as string;
}

test('requests are counted by route pattern, GraphQL root field and outcome', async () => {
  const before = await scrape();
  const id = await issue();
  await fx.gateway.gql('query Mine { session { id } }', {}, { 'X-Session-ID': id });
  await fx.gateway.gql('query Mine { session { id } }', {}, { 'X-Session-ID': id });
  await fx.gateway.gql('query { a: session { id } __typename }', {}, { 'X-Session-ID': id });
  await fx.gateway.gql('mutation { issueSession { id } }', {}, { Authorization: 'Bearer wrong-token-0123456789' });
  await fx.gateway.gql('{ sessions(ids: []) { id } }', {}, { 'X-Session-ID': id });
  await fx.gateway.gql('{ nope', {}, SERVICE);
  await fx.gateway.http.get(`/api/v1/session?JSESSIONID=${id}`);
  await fx.gateway.http.get('/no/such/route');
  const after = await scrape();

  const delta = (route: string, operation: string, outcome: string): number =>
    requests(after, route, operation, outcome) - requests(before, route, operation, outcome);
  expect(delta('/graphql', 'issueSession', '2xx')).toBe(1);
  expect(delta('/graphql', 'session', '2xx')).toBe(2);
  expect(delta('/graphql', 'other', '2xx')).toBe(1); // two root fields, one of them not the schema's
  expect(delta('/graphql', 'other', 'UNAUTHENTICATED')).toBe(1); // refused before it was parsed
  expect(delta('/graphql', 'sessions', 'FORBIDDEN')).toBe(1);
  expect(delta('/graphql', 'other', 'BAD_USER_INPUT')).toBe(1);
  expect(delta('/api/v1/session', '', '2xx')).toBe(1);
  expect(delta('unmatched', '', 'NOT_FOUND')).toBe(1);
  expect(after).toContain('gateway_http_request_duration_seconds_bucket{le="0.005",route="/graphql",operation="session",outcome="2xx"}');

  // Fixed label sets only: no client-chosen operation name, no URL, no session ID.
  expect(after).not.toContain('Mine');
  expect(after).not.toContain('JSESSIONID');
  expect(after).not.toContain('/no/such/route');
  expect(after).not.toContain(id);
  expect(after).not.toContain(SERVICE_TOKEN);
});

test('sessions issued, updated and revoked are counted when they succeed', async () => {
  const before = await scrape();
  const id = await issue();
  await fx.gateway.http.get('/api/v2/session'); // the REST shim issues one too
  await fx.gateway.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { a: 1 } }) { version } }', { id }, SERVICE);
  await fx.gateway.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { a: 2 }, expectedVersion: 9 }) { version } }', { id }, SERVICE);
  await fx.gateway.gql('mutation($id: ID) { revokeSession(id: $id) }', { id }, SERVICE);
  await fx.gateway.gql('mutation($id: ID) { revokeSession(id: $id) }', { id }, SERVICE); // already gone
  const after = await scrape();

  const delta = (name: string): number => sample(after, name) - sample(before, name);
  expect(delta('gateway_sessions_issued_total')).toBe(2);
  expect(delta('gateway_sessions_updated_total')).toBe(1);
  expect(delta('gateway_sessions_revoked_total')).toBe(1);
});

test('DataLoader batch sizes: one batch per tick, sized by the distinct IDs it reads', async () => {
  const ids = [await issue(), await issue(), await issue()];
  const before = await scrape();
  const response = await fx.gateway.gql('query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: [...ids, ids[0]] }, SERVICE);
  expect(response.body.data?.sessions).toHaveLength(4);
  const after = await scrape();

  expect(sample(after, 'gateway_dataloader_batch_size_count') - sample(before, 'gateway_dataloader_batch_size_count')).toBe(1);
  expect(sample(after, 'gateway_dataloader_batch_size_sum') - sample(before, 'gateway_dataloader_batch_size_sum')).toBe(3);
  expect(sample(after, 'gateway_dataloader_batch_size_bucket', 'le="2"') - sample(before, 'gateway_dataloader_batch_size_bucket', 'le="2"')).toBe(0);
  expect(sample(after, 'gateway_dataloader_batch_size_bucket', 'le="5"') - sample(before, 'gateway_dataloader_batch_size_bucket', 'le="5"')).toBe(1);
});

test('Redis command latency by store operation, and errors while Redis is down', async () => {
  const before = await scrape();
  const id = await issue();
  await fx.gateway.gql('{ session { id } }', {}, { 'X-Session-ID': id });
  await fx.gateway.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { a: 1 } }) { version } }', { id }, SERVICE);
  await fx.gateway.gql('mutation($id: ID) { revokeSession(id: $id) }', { id }, SERVICE);
  await fx.gateway.http.get('/readyz');
  const after = await scrape();

  const errors = (text: string, operation: string): number => sample(text, 'gateway_store_command_errors_total', `operation="${operation}"`);
  for (const operation of ['create', 'getMany', 'update', 'destroy', 'ping']) {
    const count = (text: string): number => sample(text, 'gateway_store_command_duration_seconds_count', `operation="${operation}"`);
    expect([operation, count(after) - count(before)]).toEqual([operation, 1]);
    expect([operation, errors(after, operation) - errors(before, operation)]).toEqual([operation, 0]);
  }

  await fx.server.stop();
  try {
    const failed = await fx.gateway.gql('mutation { issueSession { id } }', {}, SERVICE);
    expect(failed.body.errors?.[0]?.extensions?.code).toBe('STORE_UNAVAILABLE');
    const down = await scrape();
    expect(errors(down, 'create') - errors(after, 'create')).toBe(1);
    expect(requests(down, '/graphql', 'issueSession', 'STORE_UNAVAILABLE')).toBe(1);
  } finally {
    await fx.server.start();
    await waitUntil(() => fx.gateway.store.ping().then(() => true, () => false), 10_000);
  }
});

test('a change stream ended because the gateway lost its Redis subscription is counted as feed_lost', async () => {
  const base = await listening();
  const ended = (text: string, reason: string): number => sample(text, 'gateway_change_streams_ended_total', `reason="${reason}"`);
  const before = await scrape();
  expect(before).toContain('gateway_change_streams_ended_total{reason="fell_behind"} ');

  const stream = await rawChangeStream(`${base.replace('http', 'ws')}/graphql`, SERVICE.Authorization);
  try {
    await fx.redis.client('KILL', 'TYPE', 'pubsub');
    await waitUntil(async () => stream.received.some((message) => message.type === 'error'));
    // A new stream works again (and the gateway's Redis subscription is back before it closes).
    stream.subscribe('2');
    await waitUntil(async () => stream.received.some((message) => message.id === '2' && message.type === 'next'));
  } finally {
    await stream.close();
    await waitUntil(async () => sample(await scrape(), 'gateway_websocket_connections') === 0);
  }

  const after = await scrape();
  expect(ended(after, 'feed_lost') - ended(before, 'feed_lost')).toBe(1);
  expect(ended(after, 'fell_behind') - ended(before, 'fell_behind')).toBe(0);
});

test('process metrics are exposed', async () => {
  const text = await scrape();
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
    expect(text).toContain(`# TYPE ${name} `);
  }
});

test('two gateways in one process keep their own counters', async () => {
  const other = await startGateway({ redisUrl: fx.server.url });
  try {
    const before = sample(await scrape(other), 'gateway_sessions_issued_total');
    await issue(); // on the first gateway
    expect(sample(await scrape(other), 'gateway_sessions_issued_total')).toBe(before);
  } finally {
    await other.close();
  }
});
