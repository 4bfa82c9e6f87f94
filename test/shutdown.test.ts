/**
 * Graceful shutdown of the real process (`node main.js`, built from src): on SIGTERM it stops
 * accepting connections, finishes every request it had started, closes Redis and exits 0; a
 * drain that outlasts SHUTDOWN_TIMEOUT_MS is cut short with exit status 1.
 *
 * "Started" is made exact with `Expect: 100-continue`: the gateway answers `100 Continue` only
 * once it has read a request's headers, and the client holds the body back until told to send
 * it, so every held request is provably inside the gateway when the signal arrives.
 *
 * Change subscribers (WebSocket) are closed with 1001 at the start of the drain, and an upgrade
 * that arrives while it lasts gets 503.
 */
import http from 'node:http';
import { connect } from 'node:net';
import { describe as describeClose, subscribeChanges } from './support/changes';
import { SERVICE_TOKEN, uniqueNamespace, waitUntil } from './support/gateway';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process';
import { startRedis, type RedisServer } from './support/redis-server';

let server: RedisServer;
let running: GatewayProcess | undefined;

// dist/ is built once per run by jest's global setup (test/support/build.ts).
beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  await running?.kill();
  running = undefined;
});
afterAll(async () => {
  await server.destroy();
});

interface Gateway {
  readonly port: number;
  readonly namespace: string;
  readonly exited: Promise<number | null>;
  readonly log: () => string;
  signal(name: NodeJS.Signals): void;
}

async function startProcess(env: Record<string, string>): Promise<Gateway> {
  const namespace = uniqueNamespace();
  const instance = await startGatewayProcess({ redisUrl: server.url, namespace, env: { LOG_LEVEL: 'info', ...env } });
  running = instance;
  return { port: instance.port, namespace, exited: instance.exited(), log: () => instance.output(), signal: (name) => instance.signal(name) };
}

function get(port: number, path: string, agent?: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
    });
    request.once('error', reject);
  });
}

/** Resolves once the port refuses connections. */
function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

interface Held {
  /** Sends the held body. */
  release(): void;
  readonly outcome: Promise<{ status: number; connection: string | undefined; body: string } | { error: string }>;
}

/** A GraphQL request whose headers the gateway has read and whose body the client still holds. */
function holdRequest(port: number, agent: http.Agent, body: string): Promise<Held> {
  return new Promise((resolveHeld, rejectHeld) => {
    const request = http.request({
      host: '127.0.0.1',
      port,
      path: '/graphql',
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        authorization: `Bearer ${SERVICE_TOKEN}`,
        expect: '100-continue',
      },
    });
    const outcome: Held['outcome'] = new Promise((resolve) => {
      request.once('response', (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.once('end', () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, body: text }));
        response.once('error', (error) => resolve({ error: error.message }));
      });
      request.once('error', (error) => resolve({ error: error.message }));
    });
    request.once('continue', () => resolveHeld({ release: () => request.end(body), outcome }));
    request.once('error', rejectHeld);
  });
}

const ISSUE = JSON.stringify({ query: 'mutation { issueSession(input: { principal: "drain" }) { id } }' });

test('SIGTERM during a burst: new connections are refused, every started request completes with 200, exit 0', async () => {
  const gateway = await startProcess({ SHUTDOWN_TIMEOUT_MS: '30000' });
  const agent = new http.Agent({ keepAlive: true });
  try {
    // Idle keep-alive connections must not hold the drain open.
    for (let i = 0; i < 5; i++) expect(await get(gateway.port, '/api/v2/session', agent)).toBe(200);

    const held = await Promise.all(Array.from({ length: 100 }, () => holdRequest(gateway.port, agent, ISSUE)));
    gateway.signal('SIGTERM');

    await waitUntil(() => refusesConnections(gateway.port), 10_000);
    let settledEarly = false;
    for (const request of held) void request.outcome.then(() => (settledEarly = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settledEarly).toBe(false);

    for (const request of held) request.release();
    const outcomes = await Promise.all(held.map((request) => request.outcome));
    const ids = new Set<string>();
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ status: 200, connection: 'close' });
      if ('body' in outcome) ids.add(JSON.parse(outcome.body).data.issueSession.id as string);
    }
    expect(ids.size).toBe(100);

    expect(await gateway.exited).toBe(0);
    expect(gateway.log()).toMatch(/"msg":"draining"/);
    expect(gateway.log()).toMatch(/"msg":"drained"/);
    // Everything acknowledged was stored.
    const redis = server.client();
    const sessions = (await redis.keys(`${gateway.namespace}:*`)).filter((key) => !key.endsWith(':index') && !key.endsWith(':tag-key'));
    expect(sessions).toHaveLength(100 + 5);
  } finally {
    agent.destroy();
  }
});

test('a drain that outlasts SHUTDOWN_TIMEOUT_MS cuts the remaining connections and exits 1', async () => {
  const gateway = await startProcess({ SHUTDOWN_TIMEOUT_MS: '300' });
  const agent = new http.Agent({ keepAlive: true });
  try {
    // These clients never send their bodies.
    const held = await Promise.all(Array.from({ length: 5 }, () => holdRequest(gateway.port, agent, ISSUE)));
    gateway.signal('SIGTERM');
    expect(await gateway.exited).toBe(1);
    for (const outcome of await Promise.all(held.map((request) => request.outcome))) expect(outcome).toHaveProperty('error');
    expect(gateway.log()).toMatch(/"msg":"drain timed out; closing the remaining connections"/);
  } finally {
    agent.destroy();
  }
});

test('SIGINT on an idle gateway exits 0', async () => {
  const gateway = await startProcess({});
  gateway.signal('SIGINT');
  expect(await gateway.exited).toBe(0);
  expect(gateway.log()).toMatch(/"signal":"SIGINT"/);
});

test('SIGTERM with a change subscriber: it is closed with 1001 at once, a WebSocket upgrade arriving while draining gets 503, exit 0', async () => {
  const gateway = await startProcess({ SHUTDOWN_TIMEOUT_MS: '30000' });
  const subscriber = subscribeChanges(`ws://127.0.0.1:${gateway.port}/graphql`, { authorization: `Bearer ${SERVICE_TOKEN}` });
  // An upgrade request whose headers are on their way: begun before the signal (so the server's
  // close leaves its connection be, as it does every request already started), ended after it.
  const upgrade = connect(gateway.port, '127.0.0.1');
  let answer = '';
  upgrade.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  const upgradeClosed = new Promise((resolve) => upgrade.once('close', resolve));
  const upgradeConnected = new Promise((resolve, reject) => upgrade.once('connect', resolve).once('error', reject));
  try {
    await subscriber.ready();
    await upgradeConnected;
    upgrade.write('GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');

    gateway.signal('SIGTERM');
    await waitUntil(async () => subscriber.error !== undefined || subscriber.completed, 10_000);
    expect(describeClose(subscriber.error)).toBe('close 1001');

    // Draining now (the subscriber was closed by it): the rest of the upgrade's headers.
    upgrade.write(`Sec-WebSocket-Key: ${Buffer.from('0123456789abcdef').toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`);
    await upgradeClosed;
    expect(answer).toBe('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');

    expect(await gateway.exited).toBe(0);
    expect(gateway.log()).toMatch(/"msg":"drained"/);
  } finally {
    subscriber.dispose();
    upgrade.destroy();
  }
});
