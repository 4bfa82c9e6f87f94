/**
 * An Upgrade the gateway does not support is ignored (RFC 9110 §7.8): Java's default HttpClient
 * asks every plain-http request to upgrade to h2c, and must get the ordinary answer, on a
 * connection that stays usable. Only `Upgrade: websocket` on /graphql is a WebSocket.
 * (Through nginx: test/nginx/upgrade.test.ts.)
 */
import { connect, type Socket } from 'node:net';
import { SERVICE_TOKEN, gatewayOverRedis } from '../support/gateway';

const fx = gatewayOverRedis();
let port: number;

beforeAll(async () => {
  const address = await fx.gateway.app.listen({ port: 0, host: '127.0.0.1' });
  port = Number(new URL(address).port);
});

/** Exactly what java.net.http.HttpClient (Java 11+, default HTTP_2 version) adds on http://. */
const JAVA_H2C = 'Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA\r\nUpgrade: h2c\r\nUser-Agent: Java-http-client/17.0.15\r\n';

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Sends raw requests on one connection and reads one response per request. */
async function exchange(requests: string[]): Promise<RawResponse[]> {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
  });
  const responses: RawResponse[] = [];
  try {
    for (const request of requests) {
      socket.write(request);
      responses.push(await nextResponse(socket, () => buffered, (rest) => (buffered = rest)));
    }
  } finally {
    socket.destroy();
  }
  return responses;
}

async function nextResponse(socket: Socket, read: () => Buffer, keep: (rest: Buffer) => void): Promise<RawResponse> {
  for (;;) {
    const data = read();
    const end = data.indexOf('\r\n\r\n');
    if (end >= 0) {
      const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      const length = Number(headers['content-length'] ?? 0);
      if (data.length >= end + 4 + length) {
        keep(data.subarray(end + 4 + length));
        return { status: Number(statusLine.split(' ')[1]), headers, body: data.subarray(end + 4, end + 4 + length).toString('utf8') };
      }
    }
    await new Promise<void>((resolve, reject) => {
      socket.once('data', () => resolve());
      socket.once('close', () => reject(new Error(`connection closed; had: ${read().toString('latin1').slice(0, 200)}`)));
    });
  }
}

async function issued(): Promise<string> {
  const response = await fx.gateway.http.get('/api/v2/session');
  return response.headers['x-session-id'] as string;
}

test("Java's h2c upgrade: the REST shim, the legacy URL and POST /graphql answer as usual, and the connection stays open", async () => {
  const id = await issued();
  const body = JSON.stringify({ query: '{ session { id } }' });
  const [v2, v1, graphql, plain] = await exchange([
    `GET /api/v2/session HTTP/1.1\r\nHost: gateway\r\nX-Session-ID: ${id}\r\n${JAVA_H2C}\r\n`,
    `GET /api/v1/session?JSESSIONID=${id} HTTP/1.1\r\nHost: gateway\r\n${JAVA_H2C}\r\n`,
    `POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Session-ID: ${id}\r\n${JAVA_H2C}\r\n${body}`,
    `GET /api/v2/session HTTP/1.1\r\nHost: gateway\r\nX-Session-ID: ${id}\r\n\r\n`,
  ]);
  expect([v2?.status, v2?.headers['x-session-id'], v2?.headers.upgrade]).toEqual([200, id, undefined]);
  expect([v1?.status, v1?.headers['x-session-id']]).toEqual([200, id]);
  expect(graphql?.status).toBe(200);
  expect(JSON.parse(graphql?.body ?? '')).toEqual({ data: { session: { id } } });
  expect([plain?.status, plain?.headers['x-session-id']]).toEqual([200, id]);
});

test('a body split across packets after an h2c upgrade request is read whole', async () => {
  const body = JSON.stringify({ query: 'mutation { issueSession(input: { principal: "java" }) { principal } }' });
  const head = `POST /graphql HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${SERVICE_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${JAVA_H2C}\r\n`;
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (buffered = Buffer.concat([buffered, chunk])));
  socket.write(head + body.slice(0, 10));
  await new Promise((resolve) => setImmediate(resolve));
  socket.write(body.slice(10));
  const response = await nextResponse(socket, () => buffered, (rest) => (buffered = rest));
  socket.destroy();
  expect(response.status).toBe(200);
  expect(JSON.parse(response.body)).toEqual({ data: { issueSession: { principal: 'java' } } });
});

test('a WebSocket upgrade anywhere but /graphql is an ordinary request: 404 NOT_FOUND, not a hang-up', async () => {
  const [response] = await exchange([
    'GET /elsewhere HTTP/1.1\r\nHost: gateway\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  ]);
  expect(response?.status).toBe(404);
  expect(JSON.parse(response?.body ?? '')).toEqual({ error: { code: 'NOT_FOUND', message: 'no route for GET /elsewhere' } });
});
