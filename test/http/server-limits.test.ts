/**
 * A slow or stuck client cannot hold the gateway's resources: a request must arrive whole within
 * HTTP_REQUEST_TIMEOUT_MS (else 408 and the connection closes), and past HTTP_MAX_CONNECTIONS a
 * new connection is closed at once.
 */
import { connect, type Socket } from 'node:net';
import { loadConfig } from '../../src/config';
import { gatewayOverRedis } from '../support/gateway';

const fx = gatewayOverRedis({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_MAX_CONNECTIONS: '3' });
let port: number;

beforeAll(async () => {
  port = Number(new URL(await fx.gateway.app.listen({ port: 0, host: '127.0.0.1' })).port);
});

function open(): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends until it closes the connection. */
function untilClosed(socket: Socket): Promise<string> {
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  return new Promise((resolve) => socket.once('close', () => resolve(received)));
}

test('the defaults: 10 s to send a request, 120 s of silence, 10,000 connections', () => {
  const config = loadConfig({});
  expect([config.httpRequestTimeoutMs, config.httpIdleTimeoutMs, config.httpMaxConnections]).toEqual([10_000, 120_000, 10_000]);
});

test('a request whose body never finishes is answered 408 and its connection closed', async () => {
  const socket = await open();
  const closed = untilClosed(socket);
  socket.write('POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":');
  expect(await closed).toMatch(/^HTTP\/1\.1 408 /);
});

test('headers that never finish are answered 408 too', async () => {
  const socket = await open();
  const closed = untilClosed(socket);
  socket.write('GET /api/v2/session HTTP/1.1\r\nHost: gatew');
  expect(await closed).toMatch(/^HTTP\/1\.1 408 /);
});

test('past HTTP_MAX_CONNECTIONS a new connection is closed at once; the open ones keep working', async () => {
  const held = [await open(), await open(), await open()];
  await new Promise((resolve) => setImmediate(resolve));
  const extra = await open();
  expect(await untilClosed(extra)).toBe('');
  const first = held[0] as Socket;
  const answer = new Promise<string>((resolve) => first.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
  first.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n');
  expect(await answer).toMatch(/^HTTP\/1\.1 200 /);
  for (const socket of held) socket.destroy();
});
