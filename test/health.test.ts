/**
 * /healthz says the process is up without touching Redis; /readyz says whether Redis answers,
 * and follows it down and back up. Each test has a Redis and a gateway of its own.
 */
import type { RedisSessionStore } from '../src/store/redis';
import { commandsOf, gatewayOverRedis, startGateway, waitUntil } from './support/gateway';

const fx = gatewayOverRedis({ REDIS_COMMAND_TIMEOUT_MS: '500' }, { perTest: true });

/** What the Redis client says while Redis is away: disconnected, closing, or not answering. */
const DOWN_REASON = /^(Stream isn't writeable and enableOfflineQueue options is false|Connection is closed\.|Command timed out|connect ECONNREFUSED 127\.0\.0\.1:\d+)$/;

async function scrape(): Promise<string> {
  return (await fx.gateway.http.get('/metrics')).text;
}

function unavailableReadyz(metrics: string): number {
  return Number(/^gateway_http_request_duration_seconds_count\{route="\/readyz",operation="",outcome="STORE_UNAVAILABLE"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
}

test('readyz: 200 while Redis answers, 503 with the reason while it is down, 200 again when it is back; healthz: 200 throughout', async () => {
  const ready = await fx.gateway.http.get('/readyz');
  expect(ready.status).toBe(200);
  expect(ready.body).toEqual({ status: 'ok', store: 'redis' });
  expect(ready.headers['cache-control']).toBe('no-store');
  expect((await fx.gateway.http.get('/healthz')).body).toEqual({ status: 'ok' });
  expect(unavailableReadyz(await scrape())).toBe(0);

  await fx.server.stop();
  let refused = 0;
  await waitUntil(async () => {
    const probe = await fx.gateway.http.get('/readyz');
    if (probe.status === 503) refused++;
    return probe.status === 503;
  });
  const down = await fx.gateway.http.get('/readyz');
  refused++;
  expect(down.status).toBe(503);
  expect(down.headers['cache-control']).toBe('no-store');
  expect(down.body).toEqual({ status: 'unavailable', store: 'redis', reason: expect.stringMatching(DOWN_REASON) });
  // Every 503 is counted, under its code.
  expect(unavailableReadyz(await scrape())).toBe(refused);

  // Liveness does not depend on Redis: restarting the process would not bring Redis back.
  const alive = await fx.gateway.http.get('/healthz');
  expect(alive.status).toBe(200);
  expect(alive.body).toEqual({ status: 'ok' });

  await fx.server.start();
  await waitUntil(async () => (await fx.gateway.http.get('/readyz')).status === 200, 10_000);
  expect((await fx.gateway.http.get('/readyz')).body).toEqual({ status: 'ok', store: 'redis' });
});

test('healthz sends no command to Redis; readyz sends exactly one PING', async () => {
  // Only the gateway's own connection counts (MONITOR, up to a sentinel on that connection).
  const client = (fx.gateway.store as RedisSessionStore).client;
  const healthz = await commandsOf(fx.server, client, async () => {
    for (let i = 0; i < 5; i++) expect((await fx.gateway.http.get('/healthz')).status).toBe(200);
  });
  expect(healthz).toEqual([]);

  const readyz = await commandsOf(fx.server, client, async () => {
    expect((await fx.gateway.http.get('/readyz')).status).toBe(200);
  });
  expect(readyz).toEqual([['ping']]);
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
