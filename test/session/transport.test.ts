/**
 * Where a session ID comes from on the way in (src/session/transport.ts): the session header
 * first, then the session cookie; anything not well-formed is no session.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { generateSessionId } from '../../src/session/ids';
import { presentedLegacyId, presentedSessionId, sessionTransport } from '../../src/session/transport';

const transport = sessionTransport('X-Session-ID', 'JSESSIONID');
const id = generateSessionId();
const other = generateSessionId();
/** 43 characters, but the last one is not canonical: no session. */
const malformed = `${id.slice(0, 42)}B`;

function fromHeaders(headers: IncomingHttpHeaders): string | null {
  return presentedSessionId(headers, transport);
}

describe('sessionTransport', () => {
  test('keeps the header name in lower case, as Node presents headers, and the cookie name as given', () => {
    expect(sessionTransport('X-Session-ID', 'JSESSIONID')).toEqual({ header: 'x-session-id', cookie: 'JSESSIONID' });
    expect(sessionTransport('x-auth-session', 'Sid')).toEqual({ header: 'x-auth-session', cookie: 'Sid' });
  });
});

describe('presentedSessionId: header', () => {
  test('a well-formed ID in the header is the session', () => {
    expect(fromHeaders({ 'x-session-id': id })).toBe(id);
  });

  test('the header is read under its configured name only', () => {
    const custom = sessionTransport('X-Auth-Session', 'JSESSIONID');
    expect(presentedSessionId({ 'x-auth-session': id }, custom)).toBe(id);
    expect(presentedSessionId({ 'x-session-id': id }, custom)).toBeNull();
  });

  test('whitespace around the header value is trimmed', () => {
    expect(fromHeaders({ 'x-session-id': `  ${id}  ` })).toBe(id);
    expect(fromHeaders({ 'x-session-id': `\t${id}\t` })).toBe(id);
  });

  test.each([
    ['42 characters', id.slice(0, 42)],
    ['44 characters', `${id}A`],
    ['a non-canonical last character', malformed],
    ['base64 padding', `${id}=`],
    ['a base64 (not base64url) character', `+${id.slice(1)}`],
    ['a space inside', `${id.slice(0, 20)} ${id.slice(21)}`],
    ['two IDs, as Node joins a repeated header', `${id}, ${other}`],
    ['whitespace only', '   '],
    ['a Bearer prefix', `Bearer ${id}`],
  ])('a malformed header (%s) is no session', (_what, value) => {
    expect(fromHeaders({ 'x-session-id': value })).toBeNull();
  });

  test('the header comes first: a valid header wins over a valid cookie', () => {
    expect(fromHeaders({ 'x-session-id': id, cookie: `JSESSIONID=${other}` })).toBe(id);
  });

  test('a malformed header is no session, even with a valid cookie beside it', () => {
    expect(fromHeaders({ 'x-session-id': malformed, cookie: `JSESSIONID=${other}` })).toBeNull();
    expect(fromHeaders({ 'x-session-id': 'nonsense', cookie: `JSESSIONID=${other}` })).toBeNull();
  });

  test('an empty header counts as absent: the cookie is read', () => {
    expect(fromHeaders({ 'x-session-id': '', cookie: `JSESSIONID=${other}` })).toBe(other);
  });

  test('no header and no cookie is no session', () => {
    expect(fromHeaders({})).toBeNull();
    expect(fromHeaders({ authorization: `Bearer ${id}`, 'x-other': id })).toBeNull();
  });
});

describe('presentedSessionId: cookie', () => {
  function fromCookie(cookie: string): string | null {
    return fromHeaders({ cookie });
  }

  test('the session cookie alone is the session', () => {
    expect(fromCookie(`JSESSIONID=${id}`)).toBe(id);
  });

  test('the session cookie is found among several, in any position', () => {
    expect(fromCookie(`JSESSIONID=${id}; theme=dark; lang=de`)).toBe(id);
    expect(fromCookie(`theme=dark; JSESSIONID=${id}; lang=de`)).toBe(id);
    expect(fromCookie(`theme=dark; lang=de; JSESSIONID=${id}`)).toBe(id);
  });

  test('spaces around names, values and separators are ignored', () => {
    expect(fromCookie(`theme=dark;JSESSIONID=${id}`)).toBe(id);
    expect(fromCookie(`theme=dark;   JSESSIONID = ${id}  ;lang=de`)).toBe(id);
    expect(fromCookie(`  JSESSIONID=${id}  `)).toBe(id);
  });

  test('a cookie whose name only starts or ends with the session cookie name is not it', () => {
    expect(fromCookie(`JSESSIONIDX=${other}; JSESSIONID=${id}`)).toBe(id);
    expect(fromCookie(`XJSESSIONID=${other}; JSESSIONID=${id}`)).toBe(id);
    expect(fromCookie(`JSESSIONIDX=${other}`)).toBeNull();
    expect(fromCookie(`XJSESSIONID=${other}`)).toBeNull();
    expect(fromCookie(`JSESSION=${other}`)).toBeNull();
  });

  test('cookie names are matched case-sensitively', () => {
    expect(fromCookie(`jsessionid=${id}`)).toBeNull();
    expect(fromCookie(`jsessionid=${other}; JSESSIONID=${id}`)).toBe(id);
  });

  test("'=' inside another cookie's value does not confuse the parse", () => {
    expect(fromCookie(`token=a=b=c; JSESSIONID=${id}`)).toBe(id);
    expect(fromCookie(`data=JSESSIONID=${other}; JSESSIONID=${id}`)).toBe(id);
    expect(fromCookie(`data=JSESSIONID=${other}`)).toBeNull();
  });

  test("the value is everything after the first '=': a trailing '=' makes it malformed", () => {
    expect(fromCookie(`JSESSIONID=${id}=`)).toBeNull();
    expect(fromCookie(`JSESSIONID==${id}`)).toBeNull();
  });

  test('when the cookie appears twice, the first occurrence is used', () => {
    expect(fromCookie(`JSESSIONID=${id}; JSESSIONID=${other}`)).toBe(id);
    expect(fromCookie(`JSESSIONID=${other}; JSESSIONID=${id}`)).toBe(other);
  });

  test.each([
    ['an empty value', 'JSESSIONID='],
    ['42 characters', `JSESSIONID=${id.slice(0, 42)}`],
    ['a non-canonical last character', `JSESSIONID=${malformed}`],
    ['a quoted value', `JSESSIONID="${id}"`],
    ['a percent-encoded character', `JSESSIONID=${id.slice(0, 40)}%2D`],
  ])('a malformed session cookie (%s) is no session', (_what, cookie) => {
    expect(fromCookie(cookie)).toBeNull();
  });

  test('pieces without a name or without an = are skipped', () => {
    expect(fromCookie(`=${other}; JSESSIONID; JSESSIONID=${id}`)).toBe(id);
    expect(fromCookie(`=${id}`)).toBeNull();
    expect(fromCookie('JSESSIONID')).toBeNull();
    expect(fromCookie(';;;')).toBeNull();
    expect(fromCookie('')).toBeNull();
  });

  test('the cookie is read under its configured name only', () => {
    const custom = sessionTransport('X-Session-ID', 'sid');
    expect(presentedSessionId({ cookie: `sid=${id}` }, custom)).toBe(id);
    expect(presentedSessionId({ cookie: `JSESSIONID=${id}` }, custom)).toBeNull();
  });
});

describe('the legacy JSESSIONID query parameter', () => {
  const id = generateSessionId();

  test('is read under its name in any case, the first value when repeated', () => {
    expect(presentedLegacyId({ JSESSIONID: id })).toBe(id);
    expect(presentedLegacyId({ jsessionid: id })).toBe(id);
    expect(presentedLegacyId({ JSessionId: [id, generateSessionId()] })).toBe(id);
  });

  test('absent, empty or malformed is no session', () => {
    expect(presentedLegacyId({})).toBeNull();
    expect(presentedLegacyId({ other: id })).toBeNull();
    expect(presentedLegacyId({ JSESSIONID: '' })).toBeNull();
    expect(presentedLegacyId({ JSESSIONID: id.slice(1) })).toBeNull();
    expect(presentedLegacyId({ JSESSIONID: undefined })).toBeNull();
  });
});
