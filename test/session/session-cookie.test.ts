/**
 * The session cookie the gateway sets (src/session/transport.ts): the Set-Cookie value for a
 * session and the one that clears it, in RFC 6265 syntax; the browser rules on prefixes and
 * SameSite; and the Max-Age that lapses with the session.
 */
import { generateSessionId } from '../../src/session/ids';
import {
  clearedSessionCookieHeader,
  presentedSessionId,
  secondsToExpiry,
  sessionCookieHeader,
  sessionCookieRuleBroken,
  sessionTransport,
  type SessionCookie,
} from '../../src/session/transport';

/** The seed company's Spring cookie: JSESSIONID, Path=/, a Domain, HttpOnly, Secure. */
const SPRING: SessionCookie = { name: 'JSESSIONID', path: '/', domain: 'zum.com', secure: true, httpOnly: true, sameSite: 'Lax' };
const id = generateSessionId();

/**
 * RFC 6265 §4.1.1: `set-cookie-string = cookie-pair *( ";" SP cookie-av )`, cookie-name a token,
 * cookie-value cookie-octets, each av one of the known attributes (or another av-octet run).
 */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const COOKIE_OCTETS = '[\\x21\\x23-\\x2B\\x2D-\\x3A\\x3C-\\x5B\\x5D-\\x7E]*';
const COOKIE_AV = '(?:Max-Age=[1-9][0-9]*|Max-Age=0|Domain=[A-Za-z0-9.-]+|Path=[\\x20-\\x3A\\x3C-\\x7E]+|Secure|HttpOnly|SameSite=(?:Strict|Lax|None))';
const SET_COOKIE_STRING = new RegExp(`^${TOKEN}=${COOKIE_OCTETS}(?:; ${COOKIE_AV})*$`);

/** The attributes of a Set-Cookie value, by name, as a browser parses them (RFC 6265 §5.2). */
function parse(header: string): { name: string; value: string; attributes: Map<string, string> } {
  const [pair, ...avs] = header.split('; ');
  const eq = (pair as string).indexOf('=');
  const attributes = new Map<string, string>();
  for (const av of avs) {
    const at = av.indexOf('=');
    attributes.set((at < 0 ? av : av.slice(0, at)).toLowerCase(), at < 0 ? '' : av.slice(at + 1));
  }
  return { name: (pair as string).slice(0, eq), value: (pair as string).slice(eq + 1), attributes };
}

describe('sessionCookieHeader', () => {
  test('the seed company\'s cookie: name, ID, Max-Age, Path, Domain, Secure, HttpOnly, SameSite', () => {
    expect(sessionCookieHeader(SPRING, id, 3600)).toBe(`JSESSIONID=${id}; Max-Age=3600; Path=/; Domain=zum.com; Secure; HttpOnly; SameSite=Lax`);
  });

  test('is RFC 6265 set-cookie-string syntax, for every combination of attributes', () => {
    for (const domain of [undefined, 'zum.com', '.zum.com', 'member.zum.com']) {
      for (const secure of [true, false]) {
        for (const httpOnly of [true, false]) {
          for (const sameSite of ['Strict', 'Lax', 'None'] as const) {
            for (const path of ['/', '/api', '/a/b-c_d.e~f']) {
              const cookie = { name: 'JSESSIONID', path, domain, secure, httpOnly, sameSite };
              expect(sessionCookieHeader(cookie, id, 1800)).toMatch(SET_COOKIE_STRING);
              expect(clearedSessionCookieHeader(cookie)).toMatch(SET_COOKIE_STRING);
            }
          }
        }
      }
    }
  });

  test('writes only the attributes that are on: no Domain means host-only, no Secure, no HttpOnly', () => {
    const bare: SessionCookie = { name: 'sid', path: '/app', domain: undefined, secure: false, httpOnly: false, sameSite: 'Strict' };
    expect(sessionCookieHeader(bare, id, 60)).toBe(`sid=${id}; Max-Age=60; Path=/app; SameSite=Strict`);
  });

  test('a __Host- cookie, as its rules want it', () => {
    const host: SessionCookie = { name: '__Host-SID', path: '/', domain: undefined, secure: true, httpOnly: true, sameSite: 'Strict' };
    expect(sessionCookieHeader(host, id, 900)).toBe(`__Host-SID=${id}; Max-Age=900; Path=/; Secure; HttpOnly; SameSite=Strict`);
  });

  test('Max-Age is whole seconds, never negative', () => {
    expect(parse(sessionCookieHeader(SPRING, id, 1799.9)).attributes.get('max-age')).toBe('1799');
    expect(parse(sessionCookieHeader(SPRING, id, -5)).attributes.get('max-age')).toBe('0');
  });

  test('the value is the ID as it is: what a browser sends back is read as the same session', () => {
    const set = parse(sessionCookieHeader(SPRING, id, 3600));
    expect(set.value).toBe(id);
    // A browser sends back `name=value`, among its other cookies.
    const transport = sessionTransport('X-Session-ID', SPRING.name);
    expect(presentedSessionId({ cookie: `theme=dark; ${set.name}=${set.value}` }, transport)).toBe(id);
  });
});

describe('clearedSessionCookieHeader', () => {
  test('an empty value and Max-Age=0, with the same Path, Domain and flags as the cookie it removes', () => {
    expect(clearedSessionCookieHeader(SPRING)).toBe('JSESSIONID=; Max-Age=0; Path=/; Domain=zum.com; Secure; HttpOnly; SameSite=Lax');
    const set = parse(sessionCookieHeader(SPRING, id, 3600));
    const cleared = parse(clearedSessionCookieHeader(SPRING));
    expect(cleared.name).toBe(set.name);
    expect(cleared.value).toBe('');
    expect(cleared.attributes.get('max-age')).toBe('0');
    const { 'max-age': _set, ...setRest } = Object.fromEntries(set.attributes);
    const { 'max-age': _cleared, ...clearedRest } = Object.fromEntries(cleared.attributes);
    expect(clearedRest).toEqual(setRest);
  });

  test('a cleared cookie presents no session', () => {
    const transport = sessionTransport('X-Session-ID', SPRING.name);
    expect(presentedSessionId({ cookie: `${SPRING.name}=` }, transport)).toBeNull();
  });
});

describe('secondsToExpiry', () => {
  test('whole seconds from now to the deadline, rounded down so the cookie never outlives the session', () => {
    expect(secondsToExpiry(1_000_000 + 3_600_000, 1_000_000)).toBe(3600);
    expect(secondsToExpiry(1_000_000 + 1_999, 1_000_000)).toBe(1);
    expect(secondsToExpiry(1_000_000, 1_000_000)).toBe(0);
    expect(secondsToExpiry(1_000_000, 2_000_000)).toBe(0);
  });
});

describe('sessionCookieRuleBroken', () => {
  const host: SessionCookie = { name: '__Host-SID', path: '/', domain: undefined, secure: true, httpOnly: true, sameSite: 'Lax' };

  test('cookies a browser stores break no rule', () => {
    expect(sessionCookieRuleBroken(SPRING)).toBeNull();
    expect(sessionCookieRuleBroken(host)).toBeNull();
    expect(sessionCookieRuleBroken({ ...SPRING, name: '__Secure-SID' })).toBeNull();
    expect(sessionCookieRuleBroken({ ...SPRING, sameSite: 'None' })).toBeNull();
    expect(sessionCookieRuleBroken({ ...SPRING, secure: false, sameSite: 'Strict' })).toBeNull();
    // Not a prefix: only a name that starts with it.
    expect(sessionCookieRuleBroken({ ...SPRING, name: 'my__Host-SID', secure: false })).toBeNull();
  });

  test.each([
    ['a __Host- cookie without Secure', { ...host, secure: false }, 'Secure'],
    ['a __Host- cookie with a Path other than /', { ...host, path: '/app' }, 'Path'],
    ['a __Host- cookie with a Domain', { ...host, domain: 'zum.com' }, 'Domain'],
    ['a __host- cookie (prefix in another case) with a Domain', { ...host, name: '__host-sid', domain: 'zum.com' }, 'Domain'],
    ['a __Secure- cookie without Secure', { ...SPRING, name: '__Secure-SID', secure: false }, 'Secure'],
    ['a __SECURE- cookie without Secure', { ...SPRING, name: '__SECURE-SID', secure: false }, 'Secure'],
    ['SameSite=None without Secure', { ...SPRING, secure: false, sameSite: 'None' }, 'Secure'],
  ] as Array<[string, SessionCookie, string]>)('%s breaks a rule on %s', (_what, cookie, attribute) => {
    expect(sessionCookieRuleBroken(cookie)).toEqual({ attribute, rule: expect.any(String) });
  });
});
