/**
 * No client can take the gateway instances out of nginx's rotation (issue 15). nginx counts an
 * instance failed when the connection to it breaks before its answer (`max_fails` in
 * upstream.conf); these tests send what used to break it, through the shipped configuration in
 * front of two real gateway processes and one real Redis, and then read as another client would:
 *
 * - bodies over the gateway's limit: refused by nginx itself (its client_max_body_size is the
 *   gateway's limit), and, behind an nginx whose limit is higher, read to the end and answered 413
 *   by the gateway on a connection it keeps;
 * - requests Node's HTTP parser refuses (a control character in a header, a head over 16 KiB)
 *   with a body behind them: answered 400/431 with a lingering close.
 *
 * And the gateway directly, without nginx: what a client on a keep-alive connection sees.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { DISCARD_BEYOND_LIMIT_BYTES, requestBodyLimit } from '../../src/http/body-limit';
import { SERVICE, SERVICE_TOKEN, uniqueNamespace } from '../support/gateway';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { SHIPPED_DIR, startNginx, type NginxServer } from '../support/nginx-server';
import { startRedis, type RedisServer } from '../support/redis-server';

const BURST = 100;
const BURST_IN_FLIGHT = 10;
const BURST_BODY_BYTES = 1_000_000;
const GATEWAY_BODY_LIMIT = requestBodyLimit(loadConfig({ SERVICE_TOKENS: SERVICE_TOKEN }).maxAttributeBytes);

let redisServer: RedisServer;
let instanceA: GatewayProcess;
let instanceB: GatewayProcess;
/** The shipped configuration. */
let shipped: NginxServer;
/** The shipped configuration with /graphql's client_max_body_size at the old 1m, above the gateway's limit. */
let looser: NginxServer;
/** An issued session, for the reads of the other client. */
let sessionId: string;

beforeAll(async () => {
  redisServer = await startRedis();
  const namespace = uniqueNamespace();
  [instanceA, instanceB] = await Promise.all([
    startGatewayProcess({ redisUrl: redisServer.url, namespace }),
    startGatewayProcess({ redisUrl: redisServer.url, namespace }),
  ]);
  const upstreams = [instanceA.address, instanceB.address];
  [shipped, looser] = await Promise.all([startNginx({ upstreams }), startNginx({ upstreams, graphqlBodyLimit: '1m' })]);
  const issued = await send(instanceA.port, new Agent(), 'POST', '/graphql', { 'content-type': 'application/json', ...SERVICE }, JSON.stringify({ query: 'mutation { issueSession(input: {}) { id } }' }));
  sessionId = (JSON.parse(issued.body) as { data: { issueSession: { id: string } } }).data.issueSession.id;
}, 60000);

afterAll(async () => {
  await shipped?.destroy();
  await looser?.destroy();
  await instanceA?.kill();
  await instanceB?.kill();
  await redisServer?.destroy();
});

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The connection the request went out on. */
  readonly socket: Socket | undefined;
  readonly reusedSocket: boolean;
}

/**
 * One request. Resolves with the answer, even when the server answered before the body was all
 * sent and the rest could not be written; rejects only when no answer came.
 */
function send(port: number, agent: Agent, method: string, path: string, headers: Record<string, string>, body?: string | readonly Buffer[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let socket: Socket | undefined;
    const outgoing = request({ host: '127.0.0.1', port, method, path, agent, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text, socket, reusedSocket: outgoing.reusedSocket }));
      response.on('error', reject);
    });
    outgoing.on('socket', (assigned) => (socket = assigned as Socket));
    outgoing.on('error', reject);
    if (Array.isArray(body)) {
      for (const chunk of body) outgoing.write(chunk);
      outgoing.end();
    } else {
      outgoing.end(body);
    }
  });
}

/** A GraphQL POST body of exactly `bytes` bytes: a small query with a padding variable. */
function bodyOf(bytes: number): string {
  const frame = JSON.stringify({ query: '{ session { id } }', variables: { pad: '' } });
  const body = JSON.stringify({ query: '{ session { id } }', variables: { pad: 'x'.repeat(bytes - frame.length) } });
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** The size nginx means by a `client_max_body_size` value. */
function nginxSize(value: string): number {
  const match = /^(\d+)([kKmM]?)$/.exec(value);
  if (match === null) throw new Error(`not an nginx size: ${value}`);
  const unit = match[2]?.toLowerCase();
  return Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
}

/** Every line of nginx's error log written by `run` that is about an upstream: a failed instance. */
async function upstreamErrorsDuring(nginx: NginxServer, run: () => Promise<void>): Promise<string[]> {
  const start = nginx.errorLog().length;
  await run();
  return nginx.errorLog().slice(start).split('\n').filter((line) => /upstream/.test(line));
}

/**
 * Another client's ordinary reads of a session while `load` runs and after it: the statuses that
 * were not 200 with the session's ID echoed.
 */
async function readsDuring(nginx: NginxServer, load: () => Promise<void>): Promise<{ bad: string[]; reads: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  const bad: string[] = [];
  let reads = 0;
  const read = async (): Promise<void> => {
    reads += 1;
    try {
      const reply = await send(nginx.port, agent, 'GET', '/api/v2/session', { 'x-session-id': sessionId, 'x-request-id': randomUUID() });
      if (reply.status !== 200 || reply.headers['x-session-id'] !== sessionId) bad.push(`${reply.status} ${reply.body.slice(0, 100)}`);
    } catch (error) {
      bad.push(String(error));
    }
  };
  let loading = true;
  const during = (async () => {
    while (loading) await read();
  })();
  try {
    await load();
  } finally {
    loading = false;
  }
  await during;
  for (let i = 0; i < 20; i++) await read();
  agent.destroy();
  return { bad, reads };
}

/** `count` requests made by `one`, `inFlight` at a time. */
async function burst<T>(count: number, inFlight: number, one: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (started < count) {
        started += 1;
        results.push(await one());
      }
    }),
  );
  return results;
}

function tally(values: readonly (number | string)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

describe('the body limit on both sides', () => {
  test("nginx's client_max_body_size for /graphql is the gateway's body limit at the default MAX_ATTRIBUTE_BYTES", () => {
    const conf = readFileSync(join(SHIPPED_DIR, 'session-gateway.conf'), 'utf8');
    const graphql = /location = \/graphql \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    const limits = [...graphql.matchAll(/^\s*client_max_body_size\s+(\S+);/gm)].map((match) => nginxSize(match[1] ?? ''));
    expect(limits).toEqual([GATEWAY_BODY_LIMIT]);
    expect(GATEWAY_BODY_LIMIT).toBe(192 * 1024);
  });

  test('through nginx, a body of exactly the limit is answered by the gateway; one byte more is refused by nginx', async () => {
    const agent = new Agent();
    const atLimit = await send(shipped.port, agent, 'POST', '/graphql', JSON_TYPE, bodyOf(GATEWAY_BODY_LIMIT));
    expect(atLimit.status).toBe(200);
    expect(JSON.parse(atLimit.body)).toEqual({ data: { session: null } });
    const over = await send(shipped.port, agent, 'POST', '/graphql', JSON_TYPE, bodyOf(GATEWAY_BODY_LIMIT + 1));
    expect(over.status).toBe(413);
    expect(over.headers['content-type']).toMatch(/^text\/html/); // nginx's page: no instance saw it
    agent.destroy();
  });
});

describe(`a burst of ${BURST} POSTs of ${BURST_BODY_BYTES} bytes to /graphql takes no instance out of rotation`, () => {
  const big = (): string => bodyOf(BURST_BODY_BYTES);

  test.each([
    ['the shipped config: nginx refuses them', () => shipped, /^text\/html/],
    ["an nginx whose limit (1m) is above the gateway's: the gateway refuses them", () => looser, /^application\/json/],
  ])('%s', async (_case, nginxOf, refusedType) => {
    const nginx = nginxOf();
    const body = big();
    const agent = new Agent({ keepAlive: true, maxSockets: BURST_IN_FLIGHT });
    const replies: Reply[] = [];
    let outcome: { bad: string[]; reads: number } | undefined;
    const upstreamErrors = await upstreamErrorsDuring(nginx, async () => {
      outcome = await readsDuring(nginx, async () => {
        replies.push(...(await burst(BURST, BURST_IN_FLIGHT, () => send(nginx.port, agent, 'POST', '/graphql', JSON_TYPE, body))));
      });
    });
    agent.destroy();

    expect(tally(replies.map((reply) => reply.status))).toEqual({ 413: BURST });
    expect(replies.filter((reply) => !refusedType.test(reply.headers['content-type'] ?? ''))).toEqual([]);
    expect(outcome?.bad).toEqual([]);
    expect(outcome?.reads).toBeGreaterThanOrEqual(20);
    expect(upstreamErrors).toEqual([]);
  }, 60000);
});

/**
 * A raw exchange: writes `head` and `body` (and half-closes after them when `end`; nginx would
 * take that for a client going away), and resolves once the peer has closed (or, with
 * `closeAfterHead`, once an answer's head is in), with all it read and the first socket error.
 */
function rawExchange(port: number, head: string, body: Buffer, end: boolean, closeAfterHead = false): Promise<{ response: string; writeError: string | null }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    let writeError: string | null = null;
    socket.on('data', (chunk: Buffer) => {
      response += chunk.toString('latin1');
      if (closeAfterHead && response.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => (writeError ??= error.code ?? error.message));
    socket.on('close', () => resolve({ response, writeError }));
    socket.write(head, 'latin1');
    if (end) socket.end(body);
    else socket.write(body);
  });
}

function statusLine(response: string): string {
  return response.split('\r\n')[0] ?? '';
}

describe("requests Node's HTTP parser refuses, with a body behind them, take no instance out of rotation", () => {
  const body = Buffer.from(bodyOf(150_000));

  test('a control character in a header value: 400 from the gateway, never 502', async () => {
    const head = `POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nX-Odd: a\x01b\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const answers: string[] = [];
    let outcome: { bad: string[]; reads: number } | undefined;
    const upstreamErrors = await upstreamErrorsDuring(shipped, async () => {
      outcome = await readsDuring(shipped, async () => {
        answers.push(...(await burst(40, 10, async () => statusLine((await rawExchange(shipped.port, head, body, false)).response))));
      });
    });
    expect(tally(answers)).toEqual({ 'HTTP/1.1 400 Bad Request': 40 });
    expect(outcome?.bad).toEqual([]);
    expect(upstreamErrors).toEqual([]);
  }, 60000);

  test('a request head over 16 KiB (nginx passes up to 4 x 8 KiB): 431 from the gateway, never 502', async () => {
    const padding: Record<string, string> = {};
    for (let i = 0; i < 3; i++) padding[`x-padding-${i}`] = 'p'.repeat(7000);
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    const replies: Reply[] = [];
    let outcome: { bad: string[]; reads: number } | undefined;
    const upstreamErrors = await upstreamErrorsDuring(shipped, async () => {
      outcome = await readsDuring(shipped, async () => {
        replies.push(...(await burst(40, 10, () => send(shipped.port, agent, 'POST', '/graphql', { ...JSON_TYPE, ...padding }, body.toString()))));
      });
    });
    agent.destroy();
    expect(tally(replies.map((reply) => reply.status))).toEqual({ 431: 40 });
    expect(outcome?.bad).toEqual([]);
    expect(upstreamErrors).toEqual([]);
  }, 60000);
});

describe('a WebSocket handshake with a body behind it takes no instance out of rotation', () => {
  test('nginx passes it on as an ordinary request, which the gateway answers with a 4xx', async () => {
    const body = Buffer.alloc(150_000, 'x');
    const head =
      'GET /graphql HTTP/1.1\r\nHost: gateway\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`;
    const answers: string[] = [];
    let outcome: { bad: string[]; reads: number } | undefined;
    const upstreamErrors = await upstreamErrorsDuring(shipped, async () => {
      outcome = await readsDuring(shipped, async () => {
        answers.push(...(await burst(40, 10, async () => statusLine((await rawExchange(shipped.port, head, body, false, true)).response))));
      });
    });
    // Whatever the gateway makes of a GET /graphql without a query, it is its answer (a 4xx), not a 502.
    expect(answers.filter((answer) => !/^HTTP\/1\.1 4\d\d /.test(answer))).toEqual([]);
    expect(outcome?.bad).toEqual([]);
    expect(upstreamErrors).toEqual([]);
  }, 60000);
});

describe('the gateway directly, on a keep-alive connection', () => {
  const port = (): number => instanceA.port;

  async function refusedThenServed(first: (agent: Agent) => Promise<Reply>, status: number, code?: string): Promise<void> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await first(agent);
      expect(refused.status).toBe(status);
      expect(JSON.parse(refused.body)).toMatchObject({ errors: [{ extensions: code === undefined ? {} : { code } }] });
      expect(refused.headers.connection).not.toBe('close');
      const next = await send(port(), agent, 'GET', '/api/v2/session', { 'x-session-id': sessionId });
      expect(next.status).toBe(200);
      expect(next.headers['x-session-id']).toBe(sessionId);
      expect(next.reusedSocket).toBe(true);
      expect(next.socket).toBe(refused.socket);
    } finally {
      agent.destroy();
    }
  }

  test('a body over the limit with its Content-Length: 413, and the same connection serves the next request', async () => {
    await refusedThenServed((agent) => send(port(), agent, 'POST', '/graphql', JSON_TYPE, bodyOf(BURST_BODY_BYTES)), 413, 'PAYLOAD_TOO_LARGE');
  });

  test('a chunked body over the limit: 413, and the same connection serves the next request', async () => {
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(16 * 1024, 'x'));
    await refusedThenServed((agent) => send(port(), agent, 'POST', '/graphql', { ...JSON_TYPE, 'transfer-encoding': 'chunked' }, chunks), 413, 'PAYLOAD_TOO_LARGE');
  });

  test('a body that is not JSON: 400, and the same connection serves the next request', async () => {
    await refusedThenServed((agent) => send(port(), agent, 'POST', '/graphql', JSON_TYPE, '{"query": '), 400);
  });

  test('a Content-Length beyond what the gateway discards: 413 at once, and the connection is closed', async () => {
    const length = GATEWAY_BODY_LIMIT + DISCARD_BEYOND_LIMIT_BYTES + 1;
    const { response } = await rawExchange(port(), `POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`, Buffer.alloc(0), false);
    expect(statusLine(response)).toBe('HTTP/1.1 413 Payload Too Large');
    expect(response.toLowerCase()).toContain('\r\nconnection: close\r\n');
  });

  test('a malformed header with a body behind it: the whole body can be sent, then 400 and the connection is closed', async () => {
    const big = Buffer.from(bodyOf(BURST_BODY_BYTES));
    const { response, writeError } = await rawExchange(port(), `POST /graphql HTTP/1.1\r\nHost: gateway\r\nX-Odd: a\x01b\r\nContent-Length: ${big.length}\r\n\r\n`, big, true);
    expect(writeError).toBeNull();
    expect(statusLine(response)).toBe('HTTP/1.1 400 Bad Request');
    expect(response.toLowerCase()).toContain('\r\nconnection: close\r\n');
  });
});
