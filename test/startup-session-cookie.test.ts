/**
 * A session cookie a browser would drop stops the real process (`node dist/main.js`) at start-up:
 * exit 2 before it listens, with one line naming the variable.
 */
import { gatewayEnv, spawnGateway } from './support/gateway-process';
import { freePort } from './support/ports';

test.each([
  [
    'a __Host- cookie with a Domain',
    { SESSION_COOKIE: '__Host-SID', SESSION_COOKIE_SET: 'true', SESSION_COOKIE_DOMAIN: 'zum.com' },
    'session-gateway: configuration error: SESSION_COOKIE_DOMAIN: expected no domain (__Host-SID has the __Host- prefix',
  ],
  [
    'SameSite=None without Secure',
    { SESSION_COOKIE_SET: 'true', SESSION_COOKIE_SAMESITE: 'None', SESSION_COOKIE_SECURE: 'false' },
    'session-gateway: configuration error: SESSION_COOKIE_SECURE: expected true (a SameSite=None cookie must be Secure',
  ],
  [
    'an attribute without SESSION_COOKIE_SET=true',
    { SESSION_COOKIE_DOMAIN: 'zum.com' },
    'session-gateway: configuration error: SESSION_COOKIE_DOMAIN: expected SESSION_COOKIE_SET=true beside it',
  ],
])('%s: exits 2 with one line naming the variable', async (_what, env, message) => {
  const port = await freePort();
  const spawned = spawnGateway(gatewayEnv(port, { env }));
  expect(await spawned.exited).toBe(2);
  expect(spawned.output().startsWith(message)).toBe(true);
  expect(spawned.output().split('\n').filter((line) => line !== '')).toHaveLength(1);
});
