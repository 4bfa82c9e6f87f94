/**
 * Where a session ID comes from on the way in. In order: the session header (`X-Session-ID`),
 * then the session cookie; the legacy route first reads the `JSESSIONID` query parameter
 * (`presentedLegacyId`). Anything not well-formed is "no session".
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
