/**
 * The session cookie through the shipped nginx configuration, in front of real gateway processes
 * and one Redis. With SESSION_COOKIE_SET=true (the seed company's cookie: JSESSIONID, Path=/, a
 * Domain, Secure, HttpOnly, and SameSite=Lax) the Set-Cookie the REST shim sends on issuing
 * reaches the caller byte for byte as the gateway wrote it, and so does the one logout sends; a
 * follow-up request that presents only the cookie reads the same session through nginx, on
 * either instance. With the option off, no response through nginx sets a cookie.
 *
 * The last test does it in a real browser (Debian's headless Chromium): a host-only cookie, set
 * by nginx's answer, sent back by the browser on its own, and removed by logout.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { loadConfig } from '../../src/config';
import { generateSessionId } from '../../src/session/ids';
import { clearedSessionCookieHeader, sessionCookieHeader, type SessionCookie } from '../../src/session/transport';
import { SERVICE, uniqueNamespace } from '../support/gateway';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { startNginx, type NginxServer } from '../support/nginx-server';
import { startRedis, type RedisServer } from '../support/redis-server';

const TIMEOUT_SECONDS = 1800;
const COOKIE_ENV = {
  SESSION_TIMEOUT: String(TIMEOUT_SECONDS),
  // No absolute lifetime: the cookie's Max-Age is then the issued session's idle time.
  SESSION_MAX_LIFETIME: '0',
  SESSION_COOKIE_SET: 'true',
  SESSION_COOKIE_DOMAIN: 'zum.com',
  SESSION_COOKIE_PATH: '/',
  SESSION_COOKIE_SECURE: 'true',
  SESSION_COOKIE_HTTPONLY: 'true',
  SESSION_COOKIE_SAMESITE: 'Lax',
};
/** The cookie as the gateway processes are configured: what each header must be, byte for byte. */
const COOKIE = loadConfig(COOKIE_ENV).sessionCookieSet as SessionCookie;
const ID = /^[A-Za-z0-9_-]{43}$/;
const CHROMIUM = '/usr/bin/chromium';

let redis: RedisServer;
let onA: GatewayProcess;
let onB: GatewayProcess;
let off: GatewayProcess;
let nginxOn: NginxServer;
let nginxOff: NginxServer;

beforeAll(async () => {
  redis = await startRedis();
  const namespace = uniqueNamespace();
  [onA, onB, off] = await Promise.all([
    startGatewayProcess({ redisUrl: redis.url, namespace, env: COOKIE_ENV }),
    startGatewayProcess({ redisUrl: redis.url, namespace, env: COOKIE_ENV }),
    startGatewayProcess({ redisUrl: redis.url, namespace }),
  ]);
  // The shipped upstream block has two servers: the option-off nginx names the one instance twice.
  [nginxOn, nginxOff] = await Promise.all([startNginx({ upstreams: [onA.address, onB.address] }), startNginx({ upstreams: [off.address, off.address] })]);
}, 60_000);

afterAll(async () => {
  await nginxOn?.destroy();
  await nginxOff?.destroy();
  await Promise.all([onA?.kill(), onB?.kill(), off?.kill()]);
  await redis?.destroy();
});

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Every `Set-Cookie` line as it arrived, in order (rawHeaders: nothing joined or parsed). */
  readonly setCookies: string[];
  readonly body: string;
}

function call(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, method, path, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        const setCookies: string[] = [];
        for (let i = 0; i < response.rawHeaders.length; i += 2) {
          if (response.rawHeaders[i]?.toLowerCase() === 'set-cookie') setCookies.push(response.rawHeaders[i + 1] as string);
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, setCookies, body: text });
      });
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const get = (through: { port: number }, path: string, headers?: Record<string, string>): Promise<Reply> => call(through.port, 'GET', path, headers);

function gql(through: { port: number }, query: string, headers: Record<string, string> = {}, variables?: Record<string, unknown>): Promise<Reply> {
  return call(through.port, 'POST', '/graphql', { 'content-type': 'application/json', ...headers }, JSON.stringify({ query, variables }));
}

async function exists(id: string): Promise<boolean> {
  const reply = await gql(nginxOn, 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', SERVICE, { ids: [id] });
  return (JSON.parse(reply.body) as { data: { sessions: unknown[] } }).data.sessions[0] !== null;
}

describe('SESSION_COOKIE_SET=true behind nginx', () => {
  test.each([
    ['GET /api/v2/session without an ID', '/api/v2/session', {}],
    ['GET /api/v1/session without an ID', '/api/v1/session', {}],
    ['the legacy URL with an unknown JSESSIONID', `/api/v1/session?JSESSIONID=${generateSessionId()}`, {}],
    ['an unknown ID in the cookie', '/api/v2/session', { Cookie: `JSESSIONID=${generateSessionId()}` }],
  ])('%s: the issuing Set-Cookie passes nginx unchanged, with every attribute, no-store', async (_what, path, headers: Record<string, string>) => {
    const reply = await get(nginxOn, path, headers);
    expect(reply.status).toBe(200);
    const id = reply.headers['x-session-id'] as string;
    expect(id).toMatch(ID);
    expect(reply.setCookies).toEqual([sessionCookieHeader(COOKIE, id, TIMEOUT_SECONDS)]);
    expect(reply.setCookies).toEqual([`JSESSIONID=${id}; Max-Age=${TIMEOUT_SECONDS}; Path=/; Domain=zum.com; Secure; HttpOnly; SameSite=Lax`]);
    expect(reply.headers['cache-control']).toBe('no-store');
  });

  test('the header through nginx is the header the instance sends directly', async () => {
    const direct = await get(onA, '/api/v2/session');
    const proxied = await get(nginxOn, '/api/v2/session');
    const shape = (reply: Reply): string[] => reply.setCookies.map((line) => line.replace(reply.headers['x-session-id'] as string, '<id>'));
    expect(shape(proxied)).toEqual(shape(direct));
    expect(shape(direct)).toHaveLength(1);
  });

  test('a follow-up presenting only the cookie reads the same session on every instance and face, and gets no new cookie', async () => {
    const issued = await get(nginxOn, '/api/v2/session');
    const id = issued.headers['x-session-id'] as string;
    const cookie = { Cookie: `JSESSIONID=${id}` };
    // Round robin: consecutive requests go to both instances.
    for (let i = 0; i < 4; i++) {
      for (const path of ['/api/v2/session', '/api/v1/session']) {
        const read = await get(nginxOn, path, cookie);
        expect(read.status).toBe(200);
        expect(read.headers['x-session-id']).toBe(id);
        expect(read.setCookies).toEqual([]);
      }
    }
    const mine = await gql(nginxOn, '{ session { id } }', cookie);
    expect(JSON.parse(mine.body)).toEqual({ data: { session: { id } } });
    expect(mine.setCookies).toEqual([]);
  });

  test('logout with only the cookie revokes the session, and the clearing Set-Cookie passes nginx unchanged', async () => {
    const issued = await get(nginxOn, '/api/v2/session');
    const id = issued.headers['x-session-id'] as string;
    const logout = await gql(nginxOn, 'mutation { revokeSession }', { Cookie: `JSESSIONID=${id}` });
    expect(JSON.parse(logout.body)).toEqual({ data: { revokeSession: true } });
    expect(logout.setCookies).toEqual([clearedSessionCookieHeader(COOKIE)]);
    expect(logout.setCookies).toEqual(['JSESSIONID=; Max-Age=0; Path=/; Domain=zum.com; Secure; HttpOnly; SameSite=Lax']);
    expect(logout.headers['cache-control']).toBe('no-store');
    expect(await exists(id)).toBe(false);
  });
});

describe('SESSION_COOKIE_SET off behind nginx', () => {
  test('no response sets a cookie: issue on both REST paths, read by cookie, logout', async () => {
    const issued = await get(nginxOff, '/api/v2/session');
    const legacy = await get(nginxOff, '/api/v1/session');
    const id = issued.headers['x-session-id'] as string;
    const read = await get(nginxOff, '/api/v2/session', { Cookie: `JSESSIONID=${id}` });
    const logout = await gql(nginxOff, 'mutation { revokeSession }', { Cookie: `JSESSIONID=${id}` });
    expect(read.headers['x-session-id']).toBe(id);
    expect(JSON.parse(logout.body)).toEqual({ data: { revokeSession: true } });
    for (const reply of [issued, legacy, read, logout]) expect(reply.setCookies).toEqual([]);
  });
});

test('a real browser through nginx: the cookie is stored, sent back on its own, and removed by logout', async () => {
  // Host-only (no Domain: the page is on 127.0.0.1), and Secure, which Chromium accepts over
  // plain http from a loopback address.
  const hostOnly = { SESSION_TIMEOUT: String(TIMEOUT_SECONDS), SESSION_MAX_LIFETIME: '0', SESSION_COOKIE_SET: 'true', SESSION_COOKIE: '__Host-SID', SESSION_COOKIE_SAMESITE: 'Strict' };
  const namespace = uniqueNamespace();
  const instances = await Promise.all([0, 1].map(() => startGatewayProcess({ redisUrl: redis.url, namespace, env: hostOnly })));
  const site = await startNginx({ upstreams: instances.map((instance) => instance.address) });
  const profile = mkdtempSync(join(tmpdir(), 'gateway-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  try {
    const origin = `http://127.0.0.1:${site.port}`;
    const page = await browser.newPage();
    // A top-level navigation to the REST shim: the answer issues a session and sets the cookie.
    const first = await page.goto(`${origin}/api/v2/session`);
    const id = (await first?.allHeaders())?.['x-session-id'];
    expect(id).toMatch(ID);
    const stored = await browser.cookies(origin);
    expect(stored).toEqual([
      expect.objectContaining({ name: '__Host-SID', value: id, path: '/', secure: true, httpOnly: true, sameSite: 'Strict', domain: '127.0.0.1' }),
    ]);
    // The cookie's lifetime is the session's: expires (seconds since the epoch) ≈ now + Max-Age.
    expect((stored[0]?.expires ?? 0) * 1000).toBeGreaterThan(Date.now() + (TIMEOUT_SECONDS - 120) * 1000);
    expect((stored[0]?.expires ?? 0) * 1000).toBeLessThanOrEqual(Date.now() + TIMEOUT_SECONDS * 1000);

    // The page's own requests carry only the cookie (HttpOnly: the script cannot even read it).
    const followUp = await page.evaluate(async () => {
      const rest = await fetch('/api/v2/session');
      const graphql = await fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ session { id } }' }) });
      return { rest: rest.headers.get('x-session-id'), graphql: (await graphql.json()) as unknown, visible: (globalThis as unknown as { document: { cookie: string } }).document.cookie };
    });
    expect(followUp).toEqual({ rest: id, graphql: { data: { session: { id } } }, visible: '' });

    // Logout: the session is revoked and the browser drops the cookie.
    const logout = await page.evaluate(async () => {
      const response = await fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'mutation { revokeSession }' }) });
      return (await response.json()) as unknown;
    });
    expect(logout).toEqual({ data: { revokeSession: true } });
    expect(await browser.cookies(origin)).toEqual([]);
    await page.close();
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
    await site.destroy();
    await Promise.all(instances.map((instance) => instance.kill()));
  }
}, 90_000);
