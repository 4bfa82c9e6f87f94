/**
 * Who is calling, and what they may do. A caller may hold a service token (a trusted backend
 * module), a session ID (a frontend, or a module acting for a user), both, or neither.
 *
 * Rules:
 * - service operations need a valid service token;
 * - without one, a caller holding a session may read and revoke that session, nothing else
 *   (FORBIDDEN), and a caller holding nothing is UNAUTHENTICATED;
 * - a token that is presented but wrong is UNAUTHENTICATED for the whole request, so a
 *   misconfigured module finds out at once rather than being served as anonymous.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors';

export interface Caller {
  readonly service: boolean;
  /** The well-formed session ID the caller presented, or null. */
  readonly sessionId: string | null;
}

export class ServiceTokens {
  private readonly digests: readonly Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }

  /**
   * Compares against every token in constant time: digests have one length whatever the
   * input, and no comparison returns early, so timing says nothing about which bytes matched.
   */
  verify(presented: string): boolean {
    const candidate = digest(presented);
    let match = false;
    for (const known of this.digests) match = timingSafeEqual(candidate, known) || match;
    return match;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Reads `Authorization: Bearer <token>`; `undefined` header means no token. */
export function isServiceCaller(authorization: string | undefined, tokens: ServiceTokens): boolean {
  if (authorization === undefined || authorization === '') return false;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  if (match === null || !tokens.verify(match[1] as string)) {
    throw new GatewayError('UNAUTHENTICATED', 'the service token is not valid');
  }
  return true;
}

/**
 * The service credential of an RFC 7662 introspection request, which OAuth clients send as HTTP
 * Basic (`client_secret_basic`: Spring's opaque-token introspector does): `Basic base64(id:token)`,
 * the password being a service token and the client id any name (it is not checked), or
 * `Bearer <token>` as everywhere else. Absent: false; presented and wrong: UNAUTHENTICATED.
 */
export function isIntrospectionCaller(authorization: string | undefined, tokens: ServiceTokens): boolean {
  const basic = authorization === undefined ? null : /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (basic === null) return isServiceCaller(authorization, tokens);
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // RFC 6749 section 2.3.1 has the id and secret form-encoded before they are joined; some
  // clients (Spring's introspector among them) send them as they are. Either is accepted.
  const secret = colon < 0 ? '' : decoded.slice(colon + 1);
  const raw = secret !== '' && tokens.verify(secret);
  const encoded = secret !== '' && tokens.verify(formDecoded(secret));
  if (!raw && !encoded) throw new GatewayError('UNAUTHENTICATED', 'the service token is not valid');
  return true;
}

function formDecoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

export function requireService(caller: Caller, operation: string): void {
  if (caller.service) return;
  if (caller.sessionId !== null) {
    throw new GatewayError('FORBIDDEN', `${operation} is for services; present a service token`);
  }
  throw new GatewayError('UNAUTHENTICATED', `${operation} needs a service token (Authorization: Bearer …)`);
}

/**
 * The session a revoke applies to. Services may revoke any session (default: the one they
 * present); a frontend only its own.
 */
export function revokeTarget(caller: Caller, requestedId: string | null | undefined): string | null {
  const target = requestedId ?? caller.sessionId;
  if (caller.service) return target;
  if (caller.sessionId === null) {
    throw new GatewayError('UNAUTHENTICATED', 'revokeSession needs the session ID (header) or a service token');
  }
  if (target !== caller.sessionId) {
    throw new GatewayError('FORBIDDEN', 'a session may revoke only itself');
  }
  return target;
}
