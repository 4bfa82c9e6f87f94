/**
 * Upgrade headers through the shipped nginx configuration (issue 10, defect 1, nginx's side): only
 * a WebSocket handshake on /graphql is passed on as an upgrade. Java's default HttpClient asks for
 * `h2c` on every `http://` request; through nginx such a request is an ordinary request, on the
 * REST shim and on GraphQL alike. Two real gateway processes, one real Redis.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type Redis from 'ioredis';
import { SERVICE, SERVICE_TOKEN, uniqueNamespace } from '../support/gateway';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { startNginx, type NginxServer } from '../support/nginx-server';
import { startRedis, type RedisServer } from '../support/redis-server';

/** What `HttpClient.newHttpClient()` (Java 11 to 21) adds to every request on `http://`. */
const JAVA_H2C = {
  Connection: 'Upgrade, HTTP2-Settings',
  Upgrade: 'h2c',
  'HTTP2-Settings': 'AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA',
};
const USER = { id: 7, name: 'Ana' };

let redisServer: RedisServer;
let redis: Redis;
let namespace: string;
let instanceA: GatewayProcess;
let instanceB: GatewayProcess;
let nginx: NginxServer;
let sessionId: string;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = redisServer.client();
  namespace = uniqueNamespace();
  [instanceA, instanceB] = await Promise.all([
    startGatewayProcess({ redisUrl: redisServer.url, namespace }),
    startGatewayProcess({ redisUrl: redisServer.url, namespace }),
  ]);
  nginx = await startNginx({ upstreams: [instanceA.address, instanceB.address] });
  const issued = await call('POST', '/graphql', { 'content-type': 'application/json', ...SERVICE }, JSON.stringify({
    query: 'mutation($u: JSON) { issueSession(input: { principal: "7", attributes: { user: $u } }) { id } }',
    variables: { u: USER },
  }));
  expect(issued.status).toBe(200);
  sessionId = (JSON.parse(issued.body) as { data: { issueSession: { id: string } } }).data.issueSession.id;
}, 60000);

afterAll(async () => {
  await nginx?.destroy();
  await instanceA?.kill();
  await instanceB?.kill();
  await redisServer?.destroy();
});

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One request through nginx on a connection of its own, with exactly these headers. */
function call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port: nginx.port, method, path, headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      response.on('error', reject);
    });
    outgoing.on('upgrade', () => reject(new Error(`${method} ${path} was upgraded`)));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

async function sessionKeys(): Promise<number> {
  return (await redis.keys(`${namespace}:*`)).length;
}

describe("Java's h2c upgrade request through nginx is an ordinary request", () => {
  test('GET /api/v2/session with X-Session-ID: 200, the session user, and the same X-Session-ID', async () => {
    const before = await sessionKeys();
    const reply = await call('GET', '/api/v2/session', { ...JAVA_H2C, 'X-Session-ID': sessionId });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-session-id']).toBe(sessionId);
    expect(JSON.parse(reply.body)).toEqual(USER);
    expect(await sessionKeys()).toBe(before);
  });

  test('GET /api/v1/session?JSESSIONID=<id>: 200, the session user, and the same X-Session-ID', async () => {
    const before = await sessionKeys();
    const reply = await call('GET', `/api/v1/session?JSESSIONID=${sessionId}`, JAVA_H2C);
    expect(reply.status).toBe(200);
    expect(reply.headers['x-session-id']).toBe(sessionId);
    expect(JSON.parse(reply.body)).toEqual(USER);
    expect(await sessionKeys()).toBe(before);
  });

  test('POST /graphql { session { id } }: 200 with data', async () => {
    const body = JSON.stringify({ query: '{ session { id } }' });
    const anonymous = await call('POST', '/graphql', { ...JAVA_H2C, 'Content-Type': 'application/json' }, body);
    expect(anonymous.status).toBe(200);
    expect(JSON.parse(anonymous.body)).toEqual({ data: { session: null } });
    const withSession = await call('POST', '/graphql', { ...JAVA_H2C, 'Content-Type': 'application/json', 'X-Session-ID': sessionId }, body);
    expect(withSession.status).toBe(200);
    expect(JSON.parse(withSession.body)).toEqual({ data: { session: { id: sessionId } } });
  });

  test('a WebSocket upgrade of a REST URL is an ordinary request too', async () => {
    const reply = await call('GET', '/api/v2/session', { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'X-Session-ID': sessionId });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-session-id']).toBe(sessionId);
  });
});

describe('a WebSocket handshake on /graphql through nginx', () => {
  /** The status line and headers nginx answers a raw handshake with `Upgrade: <upgrade>`. */
  function handshake(upgrade: string): Promise<{ statusLine: string; headers: Record<string, string>; key: string }> {
    const key = randomBytes(16).toString('base64');
    return new Promise((resolve, reject) => {
      const socket = connect(nginx.port, '127.0.0.1');
      let received = '';
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.destroy();
        const [statusLine = '', ...lines] = received.slice(0, end).split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        resolve({ statusLine, headers, key });
      });
      socket.write(
        'GET /graphql HTTP/1.1\r\nHost: gateway\r\nConnection: Upgrade\r\n' +
          `Upgrade: ${upgrade}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n` +
          `Sec-WebSocket-Protocol: graphql-transport-ws\r\nAuthorization: Bearer ${SERVICE_TOKEN}\r\n\r\n`,
      );
    });
  }

  test.each(['websocket', 'WebSocket', 'WEBSOCKET'])('Upgrade: %s is passed on and switches protocols', async (upgrade) => {
    const { statusLine, headers, key } = await handshake(upgrade);
    expect(statusLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect(headers['sec-websocket-accept']).toBe(createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64'));
    expect(headers['sec-websocket-protocol']).toBe('graphql-transport-ws');
  });
});
