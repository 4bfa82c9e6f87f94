/**
 * How the real process (`node dist/main.js`, what `npm start` runs) starts: a configuration error
 * exits 2 before anything listens; a Redis that does not answer is waited for (5 s), then the
 * gateway serves anyway, answering STORE_UNAVAILABLE until Redis is back, and recovers without a
 * restart; without REDIS_URL it runs on the embedded store and says loudly that this is not for
 * production.
 */
import { gatewayEnv, spawnGateway, startGatewayProcess, type GatewayProcess } from './support/gateway-process';
import { SERVICE_TOKEN, uniqueNamespace, waitUntil } from './support/gateway';
import { AddressInUse, freePort, listensOn, onFreePort } from './support/ports';
import { startRedis, type RedisServer } from './support/redis-server';

let started: GatewayProcess | undefined;
let redis: RedisServer | undefined;
afterEach(async () => {
  await started?.kill();
  started = undefined;
  await redis?.destroy();
  redis = undefined;
});

/** The JSON log lines a process wrote. */
function lines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function status(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } });
  return { status: response.status, body: await response.text() };
}

test.each([
  ['PORT', { PORT: 'eighty' }, 'session-gateway: configuration error: PORT: expected an integer from 0 to 65535, got "eighty"'],
  ['SERVICE_TOKENS', { SERVICE_TOKENS: 'tooshort' }, 'session-gateway: configuration error: SERVICE_TOKENS: '],
])('a configuration error (%s) exits 2 with a message naming the variable, and nothing listens', async (_name, env, message) => {
  const port = await freePort();
  const spawned = spawnGateway(gatewayEnv(port, { env }));
  expect(await spawned.exited).toBe(2);
  expect(spawned.output().startsWith(message)).toBe(true);
  expect(spawned.output().split('\n').filter((line) => line !== '')).toHaveLength(1);
  // A bad token is described, never echoed.
  expect(spawned.output()).not.toContain('tooshort');
});

test('a Redis that does not answer is waited for, then the gateway serves STORE_UNAVAILABLE, and recovers when Redis comes', async () => {
  redis = await startRedis();
  await redis.stop();
  const redisUrl = redis.url;
  const GAVE_UP = 'the session store does not answer yet; serving STORE_UNAVAILABLE until it does';
  // On a port that stays free until it listens, 5 s later (another is tried if it is taken by then).
  const { spawned, port } = await onFreePort(async (port) => {
    const spawned = spawnGateway(gatewayEnv(port, { redisUrl, env: { REDIS_COMMAND_TIMEOUT_MS: '200' } }));
    const pid = spawned.child.pid as number;
    // While it waits it does not listen: it listens only after saying it gave up waiting.
    let listenedEarly = false;
    await waitUntil(async () => {
      const said = lines(spawned.output()).some((line) => line.msg === GAVE_UP);
      if (!said && listensOn(pid, port)) listenedEarly = true;
      if (spawned.child.exitCode !== null) throw new Error(`exited: ${spawned.output()}`);
      return said;
    }, 20_000);
    expect(listenedEarly).toBe(false);
    await waitUntil(async () => {
      if (spawned.child.exitCode !== null) {
        if (/EADDRINUSE/.test(spawned.output())) throw new AddressInUse(port, spawned.output());
        throw new Error(`exited: ${spawned.output()}`);
      }
      return listensOn(pid, port);
    }, 10_000);
    return { spawned, port };
  });
  try {
    expect(lines(spawned.output()).find((line) => line.msg === GAVE_UP)?.level).toBe(50);

    const unready = await status(port, '/readyz');
    expect(unready.status).toBe(503);
    expect(JSON.parse(unready.body)).toMatchObject({ status: 'unavailable', store: 'redis' });
    const rest = await status(port, '/api/v2/session');
    expect(rest.status).toBe(503);
    expect(JSON.parse(rest.body)).toEqual({ error: { code: 'STORE_UNAVAILABLE', message: expect.any(String), outcome: 'NOT_APPLIED' } });

    await redis.start();
    await waitUntil(async () => (await status(port, '/readyz')).status === 200, 15_000);
    const served = await fetch(`http://127.0.0.1:${port}/api/v2/session`);
    expect(served.status).toBe(200);
    expect(served.headers.get('x-session-id')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  } finally {
    spawned.child.kill('SIGKILL');
    await spawned.exited;
  }
}, 60_000);

test('without REDIS_URL: the embedded store, with a warning at start-up that it is neither durable nor shared', async () => {
  started = await startGatewayProcess({ namespace: uniqueNamespace() });
  const warning = lines(started.output()).find((line) => typeof line.msg === 'string' && line.msg.startsWith('REDIS_URL is not set'));
  expect(warning).toMatchObject({
    level: 40,
    msg: 'REDIS_URL is not set (nor REDIS_CLUSTER_NODES, nor REDIS_SENTINELS): sessions are kept in this process only. They are NOT durable (lost on restart) and NOT shared with other gateway instances. Configure a Redis for anything but development.',
  });
  const ready = await status(started.port, '/readyz');
  expect(ready).toEqual({ status: 200, body: JSON.stringify({ status: 'ok', store: 'memory' }) });
  started.signal('SIGTERM');
  expect(await started.exited()).toBe(0);
});

test('with REDIS_URL: no such warning', async () => {
  redis = await startRedis();
  started = await startGatewayProcess({ redisUrl: redis.url });
  expect(started.output()).not.toContain('REDIS_URL is not set');
  expect(JSON.parse((await status(started.port, '/readyz')).body)).toEqual({ status: 'ok', store: 'redis' });
});
