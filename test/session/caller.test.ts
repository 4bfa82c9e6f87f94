/**
 * Who is calling and what they may do (src/session/caller.ts): the service token check, the
 * rights of a service, a frontend holding a session, and an anonymous caller.
 */
import { ServiceTokens, isServiceCaller, requireService, revokeTarget, type Caller } from '../../src/session/caller';
import { generateSessionId } from '../../src/session/ids';
import { gatewayErrorOf } from './gateway-error';

const TOKEN = 'svc-token-0123456789';
const OTHER_TOKEN = 'other-module-token-abcdef';
const tokens = new ServiceTokens([TOKEN, OTHER_TOKEN]);

const INVALID_TOKEN = { code: 'UNAUTHENTICATED', message: 'the service token is not valid' };

describe('ServiceTokens.verify', () => {
  test('each configured token verifies', () => {
    const three = new ServiceTokens(['first-token-aaaaaaaa', 'second-token-bbbbbbb', 'third-token-cccccccc']);
    expect(three.verify('first-token-aaaaaaaa')).toBe(true);
    expect(three.verify('second-token-bbbbbbb')).toBe(true);
    expect(three.verify('third-token-cccccccc')).toBe(true);
  });

  test('a token that is not configured does not verify', () => {
    expect(tokens.verify('svc-token-9999999999')).toBe(false);
    expect(tokens.verify('')).toBe(false);
  });

  test('a prefix, an extension, a changed case or a whitespace-padded form of a token does not verify', () => {
    expect(tokens.verify(TOKEN.slice(0, -1))).toBe(false);
    expect(tokens.verify(`${TOKEN}0`)).toBe(false);
    expect(tokens.verify(TOKEN.toUpperCase())).toBe(false);
    expect(tokens.verify(` ${TOKEN}`)).toBe(false);
    expect(tokens.verify(`${TOKEN} `)).toBe(false);
  });

  test('two configured tokens joined do not verify', () => {
    expect(tokens.verify(`${TOKEN},${OTHER_TOKEN}`)).toBe(false);
    expect(tokens.verify(TOKEN + OTHER_TOKEN)).toBe(false);
  });

  test('with no tokens configured nothing verifies', () => {
    const none = new ServiceTokens([]);
    expect(none.verify(TOKEN)).toBe(false);
    expect(none.verify('')).toBe(false);
  });

  test('a token of any length verifies against its own digest only', () => {
    const long = 'x'.repeat(10_000);
    const mixed = new ServiceTokens([long, 'é-token-with-utf8-ü']);
    expect(mixed.verify(long)).toBe(true);
    expect(mixed.verify('x'.repeat(9_999))).toBe(false);
    expect(mixed.verify('é-token-with-utf8-ü')).toBe(true);
  });
});

describe('isServiceCaller', () => {
  test('no Authorization header, or an empty one, is not a service and not an error', () => {
    expect(isServiceCaller(undefined, tokens)).toBe(false);
    expect(isServiceCaller('', tokens)).toBe(false);
  });

  test('Bearer with a configured token is a service, for each configured token', () => {
    expect(isServiceCaller(`Bearer ${TOKEN}`, tokens)).toBe(true);
    expect(isServiceCaller(`Bearer ${OTHER_TOKEN}`, tokens)).toBe(true);
  });

  test('the scheme is matched in any case', () => {
    expect(isServiceCaller(`bearer ${TOKEN}`, tokens)).toBe(true);
    expect(isServiceCaller(`BEARER ${TOKEN}`, tokens)).toBe(true);
    expect(isServiceCaller(`bEaReR ${TOKEN}`, tokens)).toBe(true);
  });

  test('several spaces after the scheme and trailing whitespace are allowed', () => {
    expect(isServiceCaller(`Bearer    ${TOKEN}`, tokens)).toBe(true);
    expect(isServiceCaller(`Bearer ${TOKEN}   `, tokens)).toBe(true);
    expect(isServiceCaller(`Bearer ${TOKEN}\t`, tokens)).toBe(true);
  });

  test('a wrong token is UNAUTHENTICATED, not anonymous', () => {
    expect(gatewayErrorOf(() => isServiceCaller('Bearer not-a-configured-token', tokens))).toEqual(INVALID_TOKEN);
    expect(gatewayErrorOf(() => isServiceCaller(`Bearer ${TOKEN.toUpperCase()}`, tokens))).toEqual(INVALID_TOKEN);
    expect(gatewayErrorOf(() => isServiceCaller(`Bearer ${TOKEN.slice(0, -1)}`, tokens))).toEqual(INVALID_TOKEN);
  });

  test('any token is UNAUTHENTICATED when no tokens are configured', () => {
    expect(gatewayErrorOf(() => isServiceCaller(`Bearer ${TOKEN}`, new ServiceTokens([])))).toEqual(INVALID_TOKEN);
  });

  test.each([
    ['the scheme alone', 'Bearer'],
    ['the scheme and a space', 'Bearer '],
    ['whitespace only', '   '],
    ['no space between scheme and token', `Bearer${TOKEN}`],
    ['a tab instead of a space after the scheme', `Bearer\t${TOKEN}`],
    ['leading whitespace before the scheme', ` Bearer ${TOKEN}`],
    ['another scheme', `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`],
    ['a token without a scheme', TOKEN],
    ['two tokens', `Bearer ${TOKEN} ${OTHER_TOKEN}`],
    ['a token followed by more text', `Bearer ${TOKEN} extra`],
    ['two tokens joined by a comma', `Bearer ${TOKEN},${OTHER_TOKEN}`],
    ['a quoted token', `Bearer "${TOKEN}"`],
  ])('a malformed Authorization header (%s) is UNAUTHENTICATED', (_what, header) => {
    expect(gatewayErrorOf(() => isServiceCaller(header, tokens))).toEqual(INVALID_TOKEN);
  });

  test('the rejection is status 401', () => {
    expect(() => isServiceCaller('Bearer wrong-token-0000000000', tokens)).toThrow(
      expect.objectContaining({ code: 'UNAUTHENTICATED', status: 401 }),
    );
  });
});

describe('requireService', () => {
  const sessionId = generateSessionId();

  test('a service passes, with or without a session', () => {
    expect(() => requireService({ service: true, sessionId: null }, 'issueSession')).not.toThrow();
    expect(() => requireService({ service: true, sessionId }, 'issueSession')).not.toThrow();
  });

  test('a frontend holding a session is FORBIDDEN, naming the operation', () => {
    expect(gatewayErrorOf(() => requireService({ service: false, sessionId }, 'updateSession'))).toEqual({
      code: 'FORBIDDEN',
      message: 'updateSession is for services; present a service token',
    });
  });

  test('a caller holding nothing is UNAUTHENTICATED, naming the operation and the header', () => {
    expect(gatewayErrorOf(() => requireService({ service: false, sessionId: null }, 'sessions'))).toEqual({
      code: 'UNAUTHENTICATED',
      message: 'sessions needs a service token (Authorization: Bearer …)',
    });
  });

  test('the two refusals carry 403 and 401', () => {
    expect(() => requireService({ service: false, sessionId }, 'x')).toThrow(expect.objectContaining({ status: 403 }));
    expect(() => requireService({ service: false, sessionId: null }, 'x')).toThrow(expect.objectContaining({ status: 401 }));
  });
});

describe('revokeTarget', () => {
  const own = generateSessionId();
  const other = generateSessionId();
  const service: Caller = { service: true, sessionId: null };
  const serviceWithSession: Caller = { service: true, sessionId: own };
  const frontend: Caller = { service: false, sessionId: own };
  const anonymous: Caller = { service: false, sessionId: null };

  test('a service may revoke any session it names', () => {
    expect(revokeTarget(service, other)).toBe(other);
    expect(revokeTarget(serviceWithSession, other)).toBe(other);
    expect(revokeTarget(serviceWithSession, own)).toBe(own);
  });

  test('a service that names none revokes the session it presents', () => {
    expect(revokeTarget(serviceWithSession, undefined)).toBe(own);
    expect(revokeTarget(serviceWithSession, null)).toBe(own);
  });

  test('a service that names none and presents none has no target', () => {
    expect(revokeTarget(service, undefined)).toBeNull();
    expect(revokeTarget(service, null)).toBeNull();
  });

  test('a frontend revokes its own session, named or not', () => {
    expect(revokeTarget(frontend, undefined)).toBe(own);
    expect(revokeTarget(frontend, null)).toBe(own);
    expect(revokeTarget(frontend, own)).toBe(own);
  });

  test('a frontend naming another session is FORBIDDEN', () => {
    expect(gatewayErrorOf(() => revokeTarget(frontend, other))).toEqual({ code: 'FORBIDDEN', message: 'a session may revoke only itself' });
  });

  test('an anonymous caller is UNAUTHENTICATED, whether or not it names a session', () => {
    const refusal = { code: 'UNAUTHENTICATED', message: 'revokeSession needs the session ID (header) or a service token' };
    expect(gatewayErrorOf(() => revokeTarget(anonymous, undefined))).toEqual(refusal);
    expect(gatewayErrorOf(() => revokeTarget(anonymous, null))).toEqual(refusal);
    expect(gatewayErrorOf(() => revokeTarget(anonymous, other))).toEqual(refusal);
  });
});
