/**
 * /healthz says the process is up without touching Redis; /readyz says whether Redis answers,
 * and follows it down and back up.
 */
import { gatewayOverRedis, startGateway, waitUntil } from './support/gateway';

const fx = gatewayOverRedis({ REDIS_COMMAND_TIMEOUT_MS: '500' });

test('readyz: 200 while Redis answers, 503 with the reason while it is down, 200 again when it is back; healthz: 200 throughout', async () => {
  const ready = await fx.gateway.http.get('/readyz');
  expect(ready.status).toBe(200);
  expect(ready.body).toEqual({ status: 'ok', store: 'redis' });
  expect(ready.headers['cache-control']).toBe('no-store');
  expect((await fx.gateway.http.get('/healthz')).body).toEqual({ status: 'ok' });

  await fx.server.stop();
  await waitUntil(async () => (await fx.gateway.http.get('/readyz')).status === 503);
  const down = await fx.gateway.http.get('/readyz');
  expect(down.status).toBe(503);
  expect(down.body).toMatchObject({ status: 'unavailable', store: 'redis' });
  expect(typeof down.body.reason).toBe('string');
  expect(down.body.reason.length).toBeGreaterThan(0);

  const metrics = (await fx.gateway.http.get('/metrics')).text;
  expect(metrics).toMatch(/^gateway_http_request_duration_seconds_count\{route="\/readyz",operation="",outcome="STORE_UNAVAILABLE"\} [1-9]/m);

  // Liveness does not depend on Redis: restarting the process would not bring Redis back.
  const alive = await fx.gateway.http.get('/healthz');
  expect(alive.status).toBe(200);
  expect(alive.body).toEqual({ status: 'ok' });

  await fx.server.start();
  await waitUntil(async () => (await fx.gateway.http.get('/readyz')).status === 200, 10_000);
  expect((await fx.gateway.http.get('/readyz')).body).toEqual({ status: 'ok', store: 'redis' });
});

test('healthz sends no command to Redis; readyz sends one PING', async () => {
  const redis = fx.server.client();
  const pings = async (): Promise<number> => {
    const stats = await redis.info('commandstats');
    return Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  };
  const processed = async (): Promise<number> => Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1]);

  const before = await processed();
  for (let i = 0; i < 5; i++) expect((await fx.gateway.http.get('/healthz')).status).toBe(200);
  // The two INFO calls of this test are the only commands Redis saw.
  expect((await processed()) - before).toBe(1);

  const pingsBefore = await pings();
  expect((await fx.gateway.http.get('/readyz')).status).toBe(200);
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
