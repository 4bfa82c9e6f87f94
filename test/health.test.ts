/**
 * /healthz says the process is up without touching Redis; /readyz says whether Redis answers,
 * and follows it down and back up.
 */
import { startGateway, waitUntil, type Gateway } from './support/gateway';
import { startRedis, type RedisServer } from './support/redis-server';

let server: RedisServer;
let gateway: Gateway;

beforeAll(async () => {
  server = await startRedis();
  gateway = await startGateway({ redisUrl: server.url, env: { REDIS_COMMAND_TIMEOUT_MS: '500' } });
});
afterAll(async () => {
  await gateway.close();
  await server.destroy();
});

test('readyz: 200 while Redis answers, 503 with the reason while it is down, 200 again when it is back; healthz: 200 throughout', async () => {
  const ready = await gateway.http.get('/readyz');
  expect(ready.status).toBe(200);
  expect(ready.body).toEqual({ status: 'ok', store: 'redis' });
  expect(ready.headers['cache-control']).toBe('no-store');
  expect((await gateway.http.get('/healthz')).body).toEqual({ status: 'ok' });

  await server.stop();
  await waitUntil(async () => (await gateway.http.get('/readyz')).status === 503);
  const down = await gateway.http.get('/readyz');
  expect(down.status).toBe(503);
  expect(down.body).toMatchObject({ status: 'unavailable', store: 'redis' });
  expect(typeof down.body.reason).toBe('string');
  expect(down.body.reason.length).toBeGreaterThan(0);

  const metrics = (await gateway.http.get('/metrics')).text;
  expect(metrics).toMatch(/^gateway_http_request_duration_seconds_count\{route="\/readyz",operation="",outcome="STORE_UNAVAILABLE"\} [1-9]/m);

  // Liveness does not depend on Redis: restarting the process would not bring Redis back.
  const alive = await gateway.http.get('/healthz');
  expect(alive.status).toBe(200);
  expect(alive.body).toEqual({ status: 'ok' });

  await server.start();
  await waitUntil(async () => (await gateway.http.get('/readyz')).status === 200, 10_000);
  expect((await gateway.http.get('/readyz')).body).toEqual({ status: 'ok', store: 'redis' });
});

test('healthz sends no command to Redis; readyz sends one PING', async () => {
  const redis = server.client();
  const pings = async (): Promise<number> => {
    const stats = await redis.info('commandstats');
    return Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  };
  const processed = async (): Promise<number> => Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1]);

  const before = await processed();
  for (let i = 0; i < 5; i++) expect((await gateway.http.get('/healthz')).status).toBe(200);
  // The two INFO calls of this test are the only commands Redis saw.
  expect((await processed()) - before).toBe(1);

  const pingsBefore = await pings();
  expect((await gateway.http.get('/readyz')).status).toBe(200);
  expect((await pings()) - pingsBefore).toBe(1);
});

test('the embedded store is always ready', async () => {
  const memory = await startGateway();
  try {
    const ready = await memory.http.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', store: 'memory' });
  } finally {
    await memory.close();
  }
});
