/** What a session token says (tokens/claims.ts): pure rules, so plain unit tests. */
import { GatewayError } from '../../src/errors';
import type { SessionRecord } from '../../src/session/model';
import { sessionTokenClaims, tokenAudience, type TokenRules } from '../../src/tokens/claims';

const rules: TokenRules = { ttlSeconds: 300, issuer: 'https://sessions.example.com', audiences: ['orders', 'payments'], claims: ['role', 'tenant'] };
const NOW = 1_800_000_000_000;
const session = (overrides: Partial<SessionRecord> = {}): SessionRecord =>
  ({
    id: 'the-id-never-in-a-token',
    digest: 'AAAAdigest',
    principal: 'member-1',
    attributes: new Map([['role', '"admin"'], ['secret', '"s3cr3t"'], ['tenant', '{"id":7}']]),
    createdAtMs: NOW - 1000,
    lastAccessedAtMs: NOW,
    expiresAtMs: NOW + 3600_000,
    absoluteExpiresAtMs: null,
    authenticatedAtMs: null,
    maxInactiveSeconds: 3600,
    device: { userAgent: null, clientAddress: null },
    version: 1,
    ...overrides,
  }) as SessionRecord;

test('sid is the handle, sub the principal, exp a lifetime away; only the attributes named go in, as JSON values', () => {
  expect(sessionTokenClaims(session(), 'orders', NOW, rules)).toEqual({
    iss: 'https://sessions.example.com',
    aud: 'orders',
    sid: 'AAAAdigest',
    sub: 'member-1',
    iat: NOW / 1000,
    exp: NOW / 1000 + 300,
    role: 'admin',
    tenant: { id: 7 },
  });
});

test('an anonymous session\'s token has no sub', () => {
  expect(sessionTokenClaims(session({ principal: null }), 'orders', NOW, rules)).not.toHaveProperty('sub');
});

test('exp never passes the session\'s own deadline; a session about to end gets no token', () => {
  expect(sessionTokenClaims(session({ expiresAtMs: NOW + 42_500 }), 'orders', NOW, rules).exp).toBe(NOW / 1000 + 42);
  expect(() => sessionTokenClaims(session({ expiresAtMs: NOW + 500 }), 'orders', NOW, rules)).toThrow(expect.objectContaining({ code: 'SESSION_NOT_FOUND' }));
});

test('the audience: the first configured when none is asked, an allowed one as asked, anything else BAD_USER_INPUT naming the choices', () => {
  expect(tokenAudience(undefined, rules)).toBe('orders');
  expect(tokenAudience(null, rules)).toBe('orders');
  expect(tokenAudience('payments', rules)).toBe('payments');
  const refused = (() => {
    try {
      tokenAudience('admin', rules);
    } catch (error) {
      return error as GatewayError;
    }
    return null;
  })();
  expect(refused?.code).toBe('BAD_USER_INPUT');
  expect(refused?.message).toBe('audience must be one of "orders", "payments" (SESSION_TOKEN_AUDIENCES), got "admin"');
});
