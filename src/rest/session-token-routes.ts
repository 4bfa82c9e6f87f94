/**
 * The REST face of session tokens (tokens/session-tokens.ts signs and checks; the session
 * service decides rights and reads the session):
 *
 *   GET  /.well-known/jwks.json   the public keys (RFC 7517), cacheable for one token lifetime
 *   POST /api/v2/session/token    a token for the session in the session header (its owner, or a
 *                                 service); optional `audience`, form-encoded or JSON
 *   POST /api/v2/introspect       RFC 7662: `token=<session token or session ID>`, form-encoded,
 *                                 authenticated by a service token (Bearer, or Basic with the
 *                                 token as password); answers `{"active": ...}`, 200, for any
 *                                 token; 401 only for the caller's own missing or wrong credential
 *
 * Errors answer in the REST shape (errors.ts), like the session shim's.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, restErrorBody } from '../errors';
import { answerErrors } from '../http/error-replies';
import type { RequestTelemetry } from '../request-telemetry';
import { isIntrospectionCaller, isServiceCaller, type Caller, type ServiceTokens } from '../session/caller';
import { presentedSessionId, type SessionTransport } from '../session/transport';
import type { SessionService } from '../sessions/service';

export interface SessionTokenRouteOptions {
  readonly service: SessionService;
  readonly tokens: ServiceTokens;
  readonly transport: SessionTransport;
  readonly telemetry: RequestTelemetry;
  /** The JWKS's max-age: one token lifetime (a new key is published that long before it signs). */
  readonly jwksMaxAgeSeconds: number;
  /** The public keys. */
  readonly jwks: () => Promise<object>;
}

export const JWKS_PATH = '/.well-known/jwks.json';
export const TOKEN_PATH = '/api/v2/session/token';
export const INTROSPECT_PATH = '/api/v2/introspect';

/** The largest form or JSON body these routes read: a token and an audience. */
const BODY_LIMIT_BYTES = 16 * 1024;

export function sessionTokenRoutes(options: SessionTokenRouteOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    answerErrors(app, options.telemetry, restErrorBody);
    // RFC 7662's request is a form (no other route of the gateway reads one: encapsulated here).
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    app.get(JWKS_PATH, async (_request, reply) => {
      const jwks = await options.jwks();
      return reply.header('cache-control', `public, max-age=${options.jwksMaxAgeSeconds}`).type('application/jwk-set+json').send(JSON.stringify(jwks));
    });

    app.post(TOKEN_PATH, { bodyLimit: BODY_LIMIT_BYTES }, async (request, reply) => {
      const caller: Caller = { service: isServiceCaller(request.headers.authorization, options.tokens), sessionId: presentedSessionId(request.headers, options.transport) };
      const issued = await options.service.sessionToken(caller, null, textField(request, 'audience'));
      return noStore(reply).send({ token: issued.token, tokenType: 'Bearer', audience: issued.audience, expiresAt: new Date(issued.expiresAtMs).toISOString() });
    });

    app.post(INTROSPECT_PATH, { bodyLimit: BODY_LIMIT_BYTES }, async (request, reply) => {
      let service: boolean;
      try {
        service = isIntrospectionCaller(request.headers.authorization, options.tokens);
      } catch (error) {
        throw challenged(reply, error);
      }
      // RFC 7662 section 2.1: the protected resource must authenticate; RFC 6750 section 3 says how to say so.
      if (!service) throw challenged(reply, new GatewayError('UNAUTHENTICATED', 'introspection needs a service token (Authorization: Bearer …, or Basic with the token as password)'));
      const token = textField(request, 'token');
      const caller: Caller = { service: true, sessionId: null };
      const answer = token === null || token === '' ? { active: false } : await options.service.introspect(caller, token);
      return noStore(reply).send(answer);
    });
  };
}

/** A string member of a form or JSON body; null when absent. Anything else is the caller's mistake. */
function textField(request: FastifyRequest, name: string): string | null {
  const body = request.body;
  if (body === undefined || body === null || body === '') return null;
  if (typeof body !== 'object' || Array.isArray(body)) throw new GatewayError('BAD_USER_INPUT', `the body must be a form (application/x-www-form-urlencoded) or a JSON object, with ${name}`);
  const value = (body as Record<string, unknown>)[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new GatewayError('BAD_USER_INPUT', `${name} must be a string, got ${typeof value}`);
  return value;
}

function noStore(reply: FastifyReply): FastifyReply {
  // RFC 7662 section 2.2 / RFC 6749 section 5.1: token answers are not to be cached.
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

function challenged(reply: FastifyReply, error: unknown): unknown {
  reply.header('www-authenticate', 'Basic realm="session-gateway", Bearer realm="session-gateway"');
  return error;
}
