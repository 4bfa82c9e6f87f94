/**
 * A trace continues through the shipped nginx: the caller's `traceparent` and `tracestate` reach
 * the gateway on every location (nginx passes request headers on unless a location clears them,
 * and none does), so the gateway's request span is the child of the caller's span, with its
 * trace state. Two gateways (in this process, tracing to an OTLP receiver the test runs) behind a
 * real nginx on the shipped configuration, one real Redis.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { startGateway, SERVICE, uniqueNamespace, type Gateway } from '../support/gateway';
import { startNginx, type NginxServer } from '../support/nginx-server';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { startRedis, type RedisServer } from '../support/redis-server';

let receiver: OtlpReceiver;
let redis: RedisServer;
let gateways: Gateway[] = [];
let nginx: NginxServer;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  redis = await startRedis();
  const env = { SESSION_NAMESPACE: uniqueNamespace(), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint };
  // Each tells its spans apart by its resource, as instances of a deployment do.
  gateways = [
    await startGateway({ redisUrl: redis.url, env: { ...env, OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=a' } }),
    await startGateway({ redisUrl: redis.url, env: { ...env, OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=b' } }),
  ];
  const addresses = await Promise.all(gateways.map(async (gateway) => new URL(await gateway.app.listen({ port: 0, host: '127.0.0.1' })).host));
  nginx = await startNginx({ upstreams: addresses });
}, 60000);

afterAll(async () => {
  await nginx?.destroy();
  for (const gateway of gateways) await gateway.close();
  await redis?.destroy();
  await receiver?.close();
});

function through(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port: nginx.port, method, path, headers }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

test('the caller\'s traceparent and tracestate reach the gateway through every shipped location', async () => {
  const issued = await gateways[0]?.gql('mutation { issueSession { id } }', {}, SERVICE);
  const id = issued?.body.data?.issueSession.id as string;
  const calls: Array<{ name: string; send: (headers: Record<string, string>) => ReturnType<typeof through> }> = [
    { name: 'GET /api/v2/session', send: (headers) => through('GET', '/api/v2/session', { ...headers, 'X-Session-ID': id }) },
    // Rewritten by nginx (the ID moves from the query to X-Session-ID): the trace headers stay.
    { name: 'GET /api/v1/session', send: (headers) => through('GET', `/api/v1/session?JSESSIONID=${id}`, headers) },
    {
      name: 'POST /graphql',
      send: (headers) => through('POST', '/graphql', { ...headers, 'Content-Type': 'application/json', 'X-Session-ID': id }, JSON.stringify({ query: 'query Mine { session { id } }' })),
    },
  ];
  const sent: Array<{ name: string; traceId: string; parentId: string; traceState: string }> = [];
  for (const call of calls) {
    // Twice per location: round robin puts one on each gateway.
    for (let i = 0; i < 2; i++) {
      const traceId = randomBytes(16).toString('hex');
      const parentId = randomBytes(8).toString('hex');
      const traceState = `caller=${randomBytes(4).toString('hex')}`;
      const answered = await call.send({ traceparent: `00-${traceId}-${parentId}-01`, tracestate: traceState });
      expect(answered.status).toBe(200);
      if (call.name !== 'POST /graphql') expect(answered.headers['x-session-id']).toBe(id); // the session read, not a new one
      sent.push({ name: call.name, traceId, parentId, traceState });
    }
  }
  for (const gateway of gateways) await gateway.tracing?.flush();
  const spans = receiver.spans();
  const instances = new Set<unknown>();
  for (const call of sent) {
    const continued = spans.filter((span: ReceivedSpan) => span.traceId === call.traceId && span.parentSpanId === call.parentId);
    expect(continued.map((span) => [span.name, span.traceState])).toEqual([[call.name, call.traceState]]);
    instances.add(continued[0]?.resource['service.instance.id']);
  }
  // Both instances were reached through nginx, and both continued the traces.
  expect([...instances].sort()).toEqual(['a', 'b']);
});
