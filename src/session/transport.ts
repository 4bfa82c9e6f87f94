/**
 * Where a session ID comes from on the way in. In order: the session header (`X-Session-ID`),
 * then the session cookie; the legacy route first reads the `JSESSIONID` query parameter
 * (`presentedLegacyId`). Anything not well-formed is "no session".
 *
 * And how it goes out as a cookie, when the gateway sets one (`sessionCookieHeader`,
 * `clearedSessionCookieHeader`, below).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isWellFormedSessionId } from './ids';

export interface SessionTransport {
  /** Lower-case header name, as Node presents headers. */
  readonly header: string;
  readonly cookie: string;
}

export function sessionTransport(headerName: string, cookieName: string): SessionTransport {
  return { header: headerName.toLowerCase(), cookie: cookieName };
}

export function presentedSessionId(headers: IncomingHttpHeaders, transport: SessionTransport): string | null {
  const fromHeader = headers[transport.header];
  if (typeof fromHeader === 'string' && fromHeader !== '') {
    const id = fromHeader.trim();
    return isWellFormedSessionId(id) ? id : null;
  }
  const cookies = headers.cookie;
  if (cookies === undefined) return null;
  const fromCookie = cookieValue(cookies, transport.cookie);
  return isWellFormedSessionId(fromCookie) ? fromCookie : null;
}

function cookieValue(header: string, name: string): string | undefined {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

const LEGACY_PARAM = 'jsessionid';

/**
 * The legacy route's `JSESSIONID` query parameter, name in any case; null when absent or not
 * well-formed. (With Fastify's semicolon delimiter a servlet-style `/api/v1/session;jsessionid=<id>`
 * arrives as a query parameter too.)
 */
export function presentedLegacyId(query: Readonly<Record<string, string | readonly string[] | undefined>>): string | null {
  for (const [name, value] of Object.entries(query)) {
    if (name.toLowerCase() !== LEGACY_PARAM) continue;
    const id = typeof value === 'string' ? value : value?.[0];
    if (id !== undefined && id !== '') return isWellFormedSessionId(id) ? id : null;
  }
  return null;
}

/**
 * The session cookie the gateway sets, when it is configured to (SESSION_COOKIE_SET; see
 * config.ts, which builds this once and refuses a combination a browser would drop).
 *
 * "For a browser" is decided by the faces, not here: the REST shim sets it when it issues a new
 * session (the caller presented none that is valid), and a frontend's own `revokeSession`
 * (logout) clears it. What is written here is the header itself, RFC 6265 §4.1.1 syntax.
 */
export interface SessionCookie {
  /** SESSION_COOKIE: the name the gateway also reads the ID from. */
  readonly name: string;
  readonly path: string;
  /** Absent: a host-only cookie (sent back to the host that set it, not its subdomains). */
  readonly domain: string | undefined;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: SameSite;
}

export type SameSite = 'Strict' | 'Lax' | 'None';

/**
 * The `Set-Cookie` value that hands a browser session `id`, for `maxAgeSeconds` (the session's
 * time to expiry at this moment: see `secondsToExpiry`). Session IDs are base64url, all
 * cookie-octets, so the value needs no quoting or encoding; the reader (`presentedSessionId`)
 * takes it back as it is.
 */
export function sessionCookieHeader(cookie: SessionCookie, id: string, maxAgeSeconds: number): string {
  return `${cookie.name}=${id}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}${attributes(cookie)}`;
}

/**
 * The `Set-Cookie` value that removes the session cookie (logout): an empty value, `Max-Age=0`,
 * and the same Path and Domain, which is what makes a browser replace the cookie it holds rather
 * than store a second one; Secure too, without which a browser ignores it for a `__Secure-` or
 * `__Host-` name.
 */
export function clearedSessionCookieHeader(cookie: SessionCookie): string {
  return `${cookie.name}=; Max-Age=0${attributes(cookie)}`;
}

function attributes(cookie: SessionCookie): string {
  const domain = cookie.domain === undefined ? '' : `; Domain=${cookie.domain}`;
  const secure = cookie.secure ? '; Secure' : '';
  const httpOnly = cookie.httpOnly ? '; HttpOnly' : '';
  return `; Path=${cookie.path}${domain}${secure}${httpOnly}; SameSite=${cookie.sameSite}`;
}

/**
 * Whole seconds from `nowMs` until `expiresAtMs`, never negative: the Max-Age of a cookie that
 * should lapse with its session. Rounded down, so the cookie never outlives the session. For a
 * session just written (issued, rotated), pass its `lastAccessedAtMs` as `nowMs`: the write's own
 * time, on the store's clock, the same clock as its `expiresAtMs`.
 */
export function secondsToExpiry(expiresAtMs: number, nowMs: number): number {
  return Math.max(0, Math.floor((expiresAtMs - nowMs) / 1000));
}

/**
 * How long the browser keeps a session's cookie: to the session's absolute deadline when it has
 * one (a cookie set once cannot follow the idle deadline as reads slide it, and past the
 * absolute deadline the ID is worthless), else to its expiry as it stands. The gateway, not the
 * cookie, decides whether the session is still alive.
 */
export function cookieMaxAgeSeconds(session: { readonly expiresAtMs: number; readonly absoluteExpiresAtMs: number | null }, nowMs: number): number {
  return secondsToExpiry(session.absoluteExpiresAtMs ?? session.expiresAtMs, nowMs);
}

/** An attribute whose value breaks a rule browsers apply to the cookie, and the rule. */
export interface CookieRuleBroken {
  readonly attribute: 'Secure' | 'Path' | 'Domain';
  readonly rule: string;
}

const HOST_PREFIX = '__host-';
const SECURE_PREFIX = '__secure-';

/**
 * What a browser requires of a cookie before it stores it, beyond syntax (RFC 6265bis §4.1.3,
 * prefixes matched in any case as browsers do; SameSite=None since Chrome 80 and Firefox 69):
 * a `__Secure-` name needs Secure; a `__Host-` name needs Secure, `Path=/` and no Domain; and
 * `SameSite=None` needs Secure. A cookie breaking one is silently dropped by the browser, so
 * config.ts refuses it at start-up instead. Null when all hold.
 */
export function sessionCookieRuleBroken(cookie: SessionCookie): CookieRuleBroken | null {
  const name = cookie.name.toLowerCase();
  if (name.startsWith(HOST_PREFIX)) {
    const rule = `${cookie.name} has the __Host- prefix: it must be Secure, with Path=/ and no Domain`;
    if (!cookie.secure) return { attribute: 'Secure', rule };
    if (cookie.path !== '/') return { attribute: 'Path', rule };
    if (cookie.domain !== undefined) return { attribute: 'Domain', rule };
  }
  if (name.startsWith(SECURE_PREFIX) && !cookie.secure) {
    return { attribute: 'Secure', rule: `${cookie.name} has the __Secure- prefix: it must be Secure` };
  }
  if (cookie.sameSite === 'None' && !cookie.secure) {
    return { attribute: 'Secure', rule: 'a SameSite=None cookie must be Secure' };
  }
  return null;
}
