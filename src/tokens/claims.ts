/**
 * What a session token says: pure rules, no I/O, the same for every door that issues one
 * (GraphQL `sessionToken`, REST `POST /api/v2/session/token`: both go through the service).
 *
 * - `sid` is the session's handle (its digest), never its ID: a token must not be usable as the
 *   session, and a handle is what change events name it by.
 * - `sub` is the principal, absent for an anonymous session.
 * - `exp` is at most `ttlSeconds` away and never past the session's own deadline (its idle
 *   deadline at the moment of issue, which is never past its absolute one).
 * - Only the attributes `claims` names go in, as claims of the same name.
 */
import { GatewayError } from '../errors';
import { sessionNotFound, type SessionRecord } from '../session/model';

export interface TokenRules {
  readonly ttlSeconds: number;
  readonly issuer: string;
  /** The audiences a token may be asked for; the first is the one given when none is asked. */
  readonly audiences: readonly string[];
  /** Session attributes copied into the token. */
  readonly claims: readonly string[];
}

/** The claims of a session token, as signed. */
export interface SessionTokenClaims {
  readonly iss: string;
  readonly aud: string;
  readonly sid: string;
  readonly sub?: string;
  readonly iat: number;
  readonly exp: number;
  readonly [attribute: string]: unknown;
}

/** The audience a token is for: the one asked for, if allowed, else the default. Checked before anything is read. */
export function tokenAudience(asked: string | null | undefined, rules: TokenRules): string {
  if (asked === undefined || asked === null) return rules.audiences[0] as string;
  if (!rules.audiences.includes(asked)) {
    throw new GatewayError('BAD_USER_INPUT', `audience must be one of ${rules.audiences.map((audience) => JSON.stringify(audience)).join(', ')} (SESSION_TOKEN_AUDIENCES), got ${JSON.stringify(asked.slice(0, 256))}`);
  }
  return asked;
}

/** The claims of a token for `session`, issued at `nowMs` for `audience` (already checked). */
export function sessionTokenClaims(session: SessionRecord, audience: string, nowMs: number, rules: TokenRules): SessionTokenClaims {
  const iat = Math.floor(nowMs / 1000);
  const exp = Math.floor(Math.min(nowMs + rules.ttlSeconds * 1000, session.expiresAtMs) / 1000);
  // Less than a second left: the token would be dead on arrival, and so is the session.
  if (exp <= iat) throw sessionNotFound();
  const claims: Record<string, unknown> = { iss: rules.issuer, aud: audience, sid: session.digest, iat, exp };
  if (session.principal !== null) claims.sub = session.principal;
  for (const name of rules.claims) {
    const json = session.attributes.get(name);
    if (json !== undefined) claims[name] = JSON.parse(json) as unknown;
  }
  return claims as SessionTokenClaims;
}
