/**
 * SESSION_COOKIE_SET and the SESSION_COOKIE_* attributes (src/config.ts): off by default; on, one
 * typed object with the seed company's defaults; a value a browser would drop refused at once,
 * naming the variable.
 */
import { ConfigError, loadConfig } from '../src/config';

describe('the session cookie the gateway sets', () => {
  test('off by default: the gateway only reads SESSION_COOKIE', () => {
    const config = loadConfig({});
    expect(config.sessionCookie).toBe('JSESSIONID');
    expect(config.sessionCookieSet).toBeNull();
    expect(loadConfig({ SESSION_COOKIE_SET: 'false' }).sessionCookieSet).toBeNull();
  });

  test('on: the name from SESSION_COOKIE, Path=/, host-only, Secure, HttpOnly, SameSite=Lax unless set', () => {
    const config = loadConfig({ SESSION_COOKIE_SET: 'true' });
    expect(config.sessionCookieSet).toEqual({ name: 'JSESSIONID', path: '/', domain: undefined, secure: true, httpOnly: true, sameSite: 'Lax' });
    expect(Object.isFrozen(config.sessionCookieSet)).toBe(true);
  });

  test('every attribute variable is read', () => {
    const config = loadConfig({
      SESSION_COOKIE: 'SID',
      SESSION_COOKIE_SET: 'true',
      SESSION_COOKIE_DOMAIN: 'zum.com',
      SESSION_COOKIE_PATH: '/member',
      SESSION_COOKIE_SECURE: 'false',
      SESSION_COOKIE_HTTPONLY: 'false',
      SESSION_COOKIE_SAMESITE: 'Strict',
    });
    expect(config.sessionCookieSet).toEqual({ name: 'SID', path: '/member', domain: 'zum.com', secure: false, httpOnly: false, sameSite: 'Strict' });
  });

  test('SameSite in any case is written in its canonical case', () => {
    expect(loadConfig({ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_SAMESITE: 'none' }).sessionCookieSet?.sameSite).toBe('None');
    expect(loadConfig({ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_SAMESITE: 'STRICT' }).sessionCookieSet?.sameSite).toBe('Strict');
  });

  test('the __Host- prefix where it applies: Secure, Path=/, no Domain', () => {
    expect(loadConfig({ SESSION_COOKIE: '__Host-SID', SESSION_COOKIE_SET: 'true' }).sessionCookieSet).toEqual({
      name: '__Host-SID',
      path: '/',
      domain: undefined,
      secure: true,
      httpOnly: true,
      sameSite: 'Lax',
    });
  });

  test('a __Host- name may still be only read, with cookies not set', () => {
    expect(loadConfig({ SESSION_COOKIE: '__Host-SID' }).sessionCookieSet).toBeNull();
  });

  test.each([
    [{ SESSION_COOKIE_SET: 'yes' }, 'SESSION_COOKIE_SET: expected true or false, got "yes"'],
    [{ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_SAMESITE: 'Relaxed' }, 'SESSION_COOKIE_SAMESITE: expected Lax, Strict or None, got "Relaxed"'],
    [{ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_SECURE: 'on' }, 'SESSION_COOKIE_SECURE: expected true or false, got "on"'],
    [{ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_HTTPONLY: '1' }, 'SESSION_COOKIE_HTTPONLY: expected true or false, got "1"'],
    [{ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_PATH: 'member' }, 'SESSION_COOKIE_PATH: expected a path starting with /'],
    [{ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_PATH: '/a;b' }, 'SESSION_COOKIE_PATH: '],
    [{ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_PATH: '/a b' }, 'SESSION_COOKIE_PATH: '],
    [{ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_DOMAIN: 'https://zum.com' }, 'SESSION_COOKIE_DOMAIN: expected a domain name such as zum.com'],
    [{ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_DOMAIN: 'zum.com; Secure' }, 'SESSION_COOKIE_DOMAIN: '],
    [{ SESSION_COOKIE_SET: 'true', SESSION_COOKIE_DOMAIN: '-zum.com' }, 'SESSION_COOKIE_DOMAIN: '],
    // Set without SESSION_COOKIE_SET=true, an attribute would change nothing: a mistake, refused.
    [{ SESSION_COOKIE_DOMAIN: 'zum.com' }, 'SESSION_COOKIE_DOMAIN: expected SESSION_COOKIE_SET=true beside it'],
    [{ SESSION_COOKIE_SET: 'false', SESSION_COOKIE_SAMESITE: 'Strict' }, 'SESSION_COOKIE_SAMESITE: expected SESSION_COOKIE_SET=true beside it'],
  ])('%p is refused with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test.each([
    [
      { SESSION_COOKIE: '__Host-SID', SESSION_COOKIE_SET: 'true', SESSION_COOKIE_DOMAIN: 'zum.com' },
      'SESSION_COOKIE_DOMAIN: expected no domain (__Host-SID has the __Host- prefix: it must be Secure, with Path=/ and no Domain; browsers drop it otherwise), got "zum.com"',
    ],
    [
      { SESSION_COOKIE: '__Host-SID', SESSION_COOKIE_SET: 'true', SESSION_COOKIE_PATH: '/member' },
      'SESSION_COOKIE_PATH: expected / (__Host-SID has the __Host- prefix: it must be Secure, with Path=/ and no Domain; browsers drop it otherwise), got "/member"',
    ],
    [
      { SESSION_COOKIE: '__Host-SID', SESSION_COOKIE_SET: 'true', SESSION_COOKIE_SECURE: 'false' },
      'SESSION_COOKIE_SECURE: expected true (__Host-SID has the __Host- prefix: it must be Secure, with Path=/ and no Domain; browsers drop it otherwise), got "false"',
    ],
    [
      { SESSION_COOKIE: '__Secure-SID', SESSION_COOKIE_SET: 'true', SESSION_COOKIE_SECURE: 'false' },
      'SESSION_COOKIE_SECURE: expected true (__Secure-SID has the __Secure- prefix: it must be Secure; browsers drop it otherwise), got "false"',
    ],
    [
      { SESSION_COOKIE_SET: 'true', SESSION_COOKIE_SAMESITE: 'None', SESSION_COOKIE_SECURE: 'false' },
      'SESSION_COOKIE_SECURE: expected true (a SameSite=None cookie must be Secure; browsers drop it otherwise), got "false"',
    ],
  ])('a cookie a browser would drop is refused at start-up: %p', (env, message) => {
    let thrown: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toBe(message);
  });
});
