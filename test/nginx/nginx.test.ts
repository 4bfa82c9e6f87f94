/**
 * The shipped nginx configuration in front of two real gateway processes and one real Redis:
 * the legacy URL, failover (a GET retried on the survivor; a POST never replayed; a 503 never
 * retried), the access log, the issuance rate limit, and the client library with its change
 * events over WebSocket, all seen through nginx.
 *
 * Every test starts with both instances running and answering through nginx (beforeEach), so a
 * test that kills or freezes one does not decide what the next one sees. Tests that need another
 * setting (the rate limit, an instance whose Redis is down) get an nginx of their own.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { SessionClient } from '../../src/client';
import { SERVICE, SERVICE_TOKEN, uniqueNamespace, waitUntil } from '../support/gateway';
import { unreadOn } from '../support/ports';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { renderNginxConfig, SHIPPED_DIR, startNginx, testNginxConfig, type NginxServer } from '../support/nginx-server';
import { startRedis, type RedisServer } from '../support/redis-server';

const USER = { id: 7, name: 'Ana' };
const LOAD_REQUESTS = 2000;
const LOAD_IN_FLIGHT = 20;
const KILL_AFTER = 500;
// The rate-limit test's issuance budget: 1 request per minute plus the shipped burst of 20, so the
// budget is spent by request 22 however slow the machine is. (The suite's nginx keeps the shipped rate.)
const ISSUE_RATE = '1r/m';
const SHIPPED_BURST = 20;

let redisServer: RedisServer;
let redis: Redis;
let namespace: string;
let instanceA: GatewayProcess;
let instanceB: GatewayProcess;
let nginx: NginxServer;
const agent = new Agent({ keepAlive: true, maxSockets: LOAD_IN_FLIGHT });

beforeAll(async () => {
  redisServer = await startRedis();
  redis = redisServer.client();
  namespace = uniqueNamespace();
  [instanceA, instanceB] = await Promise.all([
    startGatewayProcess({ redisUrl: redisServer.url, namespace }),
    startGatewayProcess({ redisUrl: redisServer.url, namespace }),
  ]);
  nginx = await startNginx({ upstreams: [instanceA.address, instanceB.address] });
}, 60000);

beforeEach(async () => {
  await bothInRotation();
}, 30000);

afterAll(async () => {
  agent.destroy();
  await nginx?.destroy();
  await instanceA?.kill();
  await instanceB?.kill();
  await redisServer?.destroy();
});

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The X-Request-ID sent, to find the request in the access log. */
  readonly rid: string;
}

function call(method: string, path: string, headers: Record<string, string> = {}, body?: string, through: NginxServer = nginx): Promise<Reply> {
  const rid = randomUUID();
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port: through.port, method, path, agent, headers: { 'x-request-id': rid, ...headers } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text, rid }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const get = (path: string, headers?: Record<string, string>, through: NginxServer = nginx): Promise<Reply> => call('GET', path, headers, undefined, through);

async function gql(query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Reply> {
  return call('POST', '/graphql', { 'content-type': 'application/json', ...headers }, JSON.stringify({ query, variables }));
}

async function issueWithUser(): Promise<{ id: string; rid: string }> {
  const reply = await gql('mutation($u: JSON) { issueSession(input: { principal: "7", attributes: { user: $u } }) { id } }', { u: USER }, SERVICE);
  expect(reply.status).toBe(200);
  return { id: (JSON.parse(reply.body) as { data: { issueSession: { id: string } } }).data.issueSession.id, rid: reply.rid };
}

async function sessionKeys(): Promise<number> {
  return (await redis.keys(`${namespace}:*`)).length;
}

interface LogLine {
  /** Every instance nginx tried, in order: more than one when it retried. */
  readonly upstreams: string[];
  readonly status: number;
  readonly rid: string;
}

function parseLog(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    const match = /" (\d{3}) .* upstream="([^"]*)" .* rid=(\S+)/.exec(line);
    if (match === null) continue;
    lines.push({
      status: Number(match[1]),
      upstreams: (match[2] ?? '').split(', '),
      rid: match[3] ?? '',
    });
  }
  return lines;
}

/** The access-log lines of these requests, once nginx has written them all. */
async function logLinesOf(rids: readonly string[], since = 0, of: NginxServer = nginx): Promise<LogLine[]> {
  let found: LogLine[] = [];
  await waitUntil(async () => {
    const wanted = new Set(rids);
    found = parseLog(of.accessLog().slice(since)).filter((line) => wanted.has(line.rid));
    return found.length === wanted.size;
  });
  return found;
}

/**
 * Both instances running, and each has answered a request through nginx since (after a kill,
 * nginx keeps a failed instance out for its fail_timeout, 5 s).
 */
async function bothInRotation(): Promise<void> {
  for (const instance of [instanceA, instanceB]) if (!instance.running()) await instance.start();
  const { id } = await issueWithUser();
  const since = nginx.accessLog().length;
  await waitUntil(async () => {
    const reply = await get('/api/v2/session', { 'X-Session-ID': id });
    expect(reply.status).toBe(200);
    const answeredBy = new Set(parseLog(nginx.accessLog().slice(since)).filter((line) => line.status === 200).map((line) => line.upstreams.at(-1)));
    return answeredBy.has(instanceA.address) && answeredBy.has(instanceB.address);
  }, 20000);
}

describe('the shipped configuration', () => {
  test('nginx -t accepts it with only the site paths and port filled in', async () => {
    const config = renderNginxConfig({ port: 8080 });
    try {
      const result = await testNginxConfig(config);
      expect(result.output).toContain('test is successful');
      expect(result.code).toBe(0);
    } finally {
      rmSync(config.dir, { recursive: true, force: true });
    }
  });

  test('the tests run the shipped location blocks and proxy settings byte for byte', () => {
    for (const file of ['session-gateway.conf', 'session-gateway-proxy.conf']) {
      expect(readFileSync(join(nginx.config.dir, 'conf', file), 'utf8')).toBe(readFileSync(join(SHIPPED_DIR, file), 'utf8'));
    }
  });
});

describe('the legacy URL through nginx', () => {
  test.each([
    ['?JSESSIONID=<id>', (id: string) => get(`/api/v1/session?JSESSIONID=${id}`)],
    ['?foo=1&jsessionid=<id>', (id: string) => get(`/api/v1/session?foo=1&jsessionid=${id}`)],
    [';jsessionid=<id>', (id: string) => get(`/api/v1/session;jsessionid=${id}`)],
    ['an X-Session-ID header only', (id: string) => get('/api/v1/session', { 'X-Session-ID': id })],
    ['an empty JSESSIONID and the X-Session-ID header', (id: string) => get('/api/v1/session?JSESSIONID=&foo=1', { 'X-Session-ID': id })],
  ])('%s: answers the session user and echoes the ID', async (_form, fetch) => {
    const { id } = await issueWithUser();
    const before = await sessionKeys();
    const reply = await fetch(id);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual(USER);
    expect(reply.headers['x-session-id']).toBe(id);
    expect(await sessionKeys()).toBe(before);
  });
});

describe('two instances, one Redis', () => {
  test('a session issued through one instance is read through the other', async () => {
    const issued = await issueWithUser();
    const [issuedBy] = await logLinesOf([issued.rid]);
    const issuer = issuedBy?.upstreams.at(-1);
    expect([instanceA.address, instanceB.address]).toContain(issuer);

    // Round robin: within a few reads one goes to the other instance.
    let readByOther: Reply | undefined;
    for (let attempt = 0; attempt < 10 && readByOther === undefined; attempt++) {
      const reply = await get('/api/v2/session', { 'X-Session-ID': issued.id });
      const [line] = await logLinesOf([reply.rid]);
      if (line?.upstreams.at(-1) !== issuer) readByOther = reply;
    }
    expect(readByOther?.status).toBe(200);
    expect(JSON.parse(readByOther?.body ?? '')).toEqual(USER);
    expect(readByOther?.headers['x-session-id']).toBe(issued.id);
  });

  test(`killing an instance during ${LOAD_REQUESTS} GETs fails no request; restarted, it gets traffic again`, async () => {
    const { id } = await issueWithUser();
    const logStart = nginx.accessLog().length;
    const failures: string[] = [];
    const rids = new Set<string>();
    let next = 0;
    let done = 0;
    let killed: Promise<void> | undefined;

    async function worker(): Promise<void> {
      while (next < LOAD_REQUESTS) {
        next += 1;
        try {
          const reply = await get('/api/v2/session', { 'X-Session-ID': id });
          rids.add(reply.rid);
          if (reply.status !== 200 || reply.headers['x-session-id'] !== id) failures.push(`${reply.status} ${reply.body.slice(0, 200)}`);
        } catch (error) {
          failures.push(String(error));
        }
        done += 1;
        if (done === KILL_AFTER) killed = instanceB.kill();
      }
    }
    await Promise.all(Array.from({ length: LOAD_IN_FLIGHT }, worker));
    await killed;

    expect(failures).toEqual([]);
    expect(done).toBe(LOAD_REQUESTS);
    // One line per request (each written as it ends, so the one before may land in between too).
    expect(rids.size).toBe(LOAD_REQUESTS);
    const lines = await logLinesOf([...rids], logStart);
    expect(lines).toHaveLength(LOAD_REQUESTS);
    expect(lines.every((line) => line.status === 200)).toBe(true);
    // B answered before it died, and nginx retried on A what B could no longer answer.
    expect(lines.some((line) => line.upstreams.length === 1 && line.upstreams[0] === instanceB.address)).toBe(true);
    expect(lines.some((line) => line.upstreams.length === 2 && line.upstreams[0] === instanceB.address && line.upstreams[1] === instanceA.address)).toBe(true);

    await instanceB.start();
    // B is back in rotation once its fail_timeout is over: keep a trickle of requests going until
    // one is answered by B.
    const restartStart = nginx.accessLog().length;
    await waitUntil(async () => {
      const reply = await get('/api/v2/session', { 'X-Session-ID': id });
      expect(reply.status).toBe(200);
      return parseLog(nginx.accessLog().slice(restartStart)).some((line) => line.upstreams.at(-1) === instanceB.address && line.status === 200);
    }, 15000);

    const spread = await Promise.all(Array.from({ length: 20 }, () => get('/api/v2/session', { 'X-Session-ID': id })));
    expect(spread.map((reply) => reply.status)).toEqual(spread.map(() => 200));
    const answeredBy = new Set((await logLinesOf(spread.map((reply) => reply.rid), restartStart)).map((line) => line.upstreams.at(-1)));
    expect(answeredBy).toEqual(new Set([instanceA.address, instanceB.address]));
  }, 45000);
});

describe('what nginx does not retry', () => {
  test('a POST an instance received and then died on is not replayed: the caller gets 502, the other instance never sees it', async () => {
    const before = await sessionKeys();
    // Frozen, B still accepts connections (the kernel does) and takes in requests, unanswered.
    instanceB.signal('SIGSTOP');
    try {
      await waitUntil(async () => unreadOn(instanceB.port) === 0);
      let atB: Promise<Reply> | undefined;
      // Round robin: within a few mutations one is sent to B; those A answers are real issues.
      let answeredByA = 0;
      for (let attempt = 0; attempt < 10 && atB === undefined; attempt++) {
        const pending = gql('mutation { issueSession { id } }', {}, SERVICE);
        let settled = false;
        void pending.then(() => (settled = true), () => (settled = true));
        await waitUntil(async () => settled || unreadOn(instanceB.port) > 0, 10000);
        if (settled) {
          expect((await pending).status).toBe(200);
          answeredByA++;
        } else {
          atB = pending;
        }
      }
      if (atB === undefined) throw new Error('nginx sent no mutation to instance B');
      const keysWhileAtB = await sessionKeys();
      expect(keysWhileAtB).toBe(before + answeredByA);

      await instanceB.kill(); // dies holding the request
      const reply = await atB;
      expect(reply.status).toBe(502);
      const [line] = await logLinesOf([reply.rid]);
      // Tried on B only: nginx did not send the POST on to A.
      expect(line).toEqual({ status: 502, upstreams: [instanceB.address], rid: reply.rid });
      expect(await sessionKeys()).toBe(keysWhileAtB);
    } finally {
      instanceB.signal('SIGCONT');
      await instanceB.kill();
      await instanceB.start();
    }
  }, 45000);

  test('a 503 from an instance (its Redis unreachable) goes back to the caller, not to another instance', async () => {
    // An instance C whose Redis is down, beside A, behind an nginx of its own.
    const doomedRedis = await startRedis();
    const instanceC = await startGatewayProcess({ redisUrl: doomedRedis.url, namespace, env: { REDIS_COMMAND_TIMEOUT_MS: '300' } });
    const pair = await startNginx({ upstreams: [instanceA.address, instanceC.address] });
    try {
      await doomedRedis.stop();
      const { id } = await issueWithUser();
      const replies: Reply[] = [];
      // Round robin: within a few requests one goes to C.
      for (let attempt = 0; attempt < 10; attempt++) {
        replies.push(await get('/api/v2/session', { 'X-Session-ID': id }, pair));
      }
      const lines = await logLinesOf(replies.map((reply) => reply.rid), 0, pair);
      const triedC = lines.filter((line) => line.upstreams.includes(instanceC.address));
      expect(triedC.length).toBeGreaterThan(0);
      // Each request that reached C got C's own 503, passed back as it was: C alone was tried,
      // never A after it.
      for (const line of triedC) expect(line).toMatchObject({ status: 503, upstreams: [instanceC.address] });
      for (const reply of replies.filter((r) => r.status === 503)) {
        expect(JSON.parse(reply.body)).toEqual({ error: { code: 'STORE_UNAVAILABLE', message: expect.any(String) } });
      }
      // And what A answered was answered by A alone.
      for (const line of lines.filter((l) => l.status === 200)) expect(line.upstreams).toEqual([instanceA.address]);
    } finally {
      await pair.destroy();
      await instanceC.kill();
      await doomedRedis.destroy();
    }
  }, 45000);
});

describe('the access log', () => {
  test('holds no session ID, whichever way the ID came', async () => {
    const { id } = await issueWithUser();
    const replies = [
      await get(`/api/v1/session?JSESSIONID=${id}`),
      await get(`/api/v1/session;jsessionid=${id}?x=1`),
      await get('/api/v1/session', { 'X-Session-ID': id }),
      await get('/api/v2/session', { 'X-Session-ID': id, Cookie: `JSESSIONID=${id}` }),
      await gql('{ session { id } }', {}, { 'X-Session-ID': id }),
      await get(`/api/v1/sessions;jsessionid=${id}?jsessionid=${id}`, { Referer: `https://app.example/x?JSESSIONID=${id}` }),
    ];
    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200, 200, 200, 404]);
    const lines = await logLinesOf(replies.map((reply) => reply.rid));
    expect(lines).toHaveLength(replies.length);
    expect(nginx.accessLog()).not.toContain(id);
  });
});

describe('the rate limit on anonymous issuance', () => {
  let limited: NginxServer;
  beforeAll(async () => {
    limited = await startNginx({ upstreams: [instanceA.address, instanceB.address], issueRate: ISSUE_RATE });
  });
  afterAll(async () => {
    await limited?.destroy();
  });

  test('past its budget, ID-less requests get 429 and leave no session behind', async () => {
    const before = await sessionKeys();
    const statuses: number[] = [];
    let sent = 0;
    async function worker(): Promise<void> {
      while (sent < 40) {
        sent += 1;
        statuses.push((await get('/api/v2/session', {}, limited)).status);
      }
    }
    await Promise.all(Array.from({ length: 10 }, worker));

    const issued = statuses.filter((status) => status === 200).length;
    const refused = statuses.filter((status) => status === 429).length;
    expect(issued + refused).toBe(40);
    // A fresh budget: the first request, then the burst; the next token is a minute away.
    expect(issued).toBe(SHIPPED_BURST + 1);
    expect(refused).toBe(40 - SHIPPED_BURST - 1);
    expect(await sessionKeys()).toBe(before + issued);

    // The same budget covers the legacy URL and IDs that cannot be session IDs; a caller with a
    // real session is not limited.
    const { id } = await issueWithUser();
    const afterIssue = await sessionKeys();
    expect((await get('/api/v1/session', {}, limited)).status).toBe(429);
    expect((await get('/api/v2/session', { 'X-Session-ID': 'made-up' }, limited)).status).toBe(429);
    expect((await get(`/api/v1/session?JSESSIONID=${id.slice(1)}`, {}, limited)).status).toBe(429);
    const legitimate = await get('/api/v2/session', { 'X-Session-ID': id }, limited);
    expect(legitimate.status).toBe(200);
    expect(legitimate.headers['x-session-id']).toBe(id);
    expect(await sessionKeys()).toBe(afterIssue);
  });
});

describe('the client library through nginx', () => {
  test('caches behind nginx, and hears over the proxied WebSocket of a revoke made on an instance directly', async () => {
    const client = new SessionClient({ url: `http://127.0.0.1:${nginx.port}`, token: SERVICE_TOKEN });
    try {
      await waitUntil(async () => client.caching);
      const session = await client.issue({ attributes: { user: USER } });
      expect((await client.get(session.id))?.attributes).toEqual({ user: USER });
      const requests = client.stats.requests;
      await client.get(session.id);
      expect(client.stats.requests).toBe(requests); // a cache hit

      const revoked = await fetch(`http://${instanceB.address}/graphql`, {
        method: 'POST',
        headers: { ...SERVICE, 'Content-Type': 'application/json' },
        body: JSON.stringify({ query: 'mutation($id: ID) { revokeSession(id: $id) }', variables: { id: session.id } }),
      });
      expect(await revoked.json()).toEqual({ data: { revokeSession: true } });
      await waitUntil(async () => (await client.get(session.id)) === null, 2000);
    } finally {
      await client.close();
    }
  });
});
