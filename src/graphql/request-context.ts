/**
 * The GraphQL context of one HTTP request (both doors build it here): who is calling, from the
 * request's credentials, and the request's own DataLoader (context.ts). A caller error (a wrong
 * token, a malformed credential) is answered as a GraphQL request error.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError } from 'graphql';
import { GatewayError } from '../errors';
import type { Metrics } from '../metrics';
import { isServiceCaller, type Caller, type ServiceTokens } from '../session/caller';
import { deviceOfRequest } from '../session/model';
import { clearedSessionCookieHeader, presentedSessionId, sessionCookieHeader, type SessionCookie, type SessionTransport } from '../session/transport';
import type { SessionService } from '../sessions/service';
import { NO_SESSION_COOKIE, sessionLoader, type GraphQLContext, type GraphQLLimits, type SessionCookieWriter } from './context';
import { graphqlStatus, responseMediaType } from './response-status';

/** What the context is built from (the GraphQL plugin's options). */
export interface ContextOptions {
  readonly service: SessionService;
  readonly tokens: ServiceTokens;
  readonly transport: SessionTransport;
  /** The session header as configured, for the response. */
  readonly sessionHeader: string;
  /** The session cookie the gateway sets (SESSION_COOKIE_SET), or null: none. */
  readonly cookie: SessionCookie | null;
  readonly limits: GraphQLLimits;
  readonly metrics: Metrics;
}

export async function createContext(
  request: FastifyRequest,
  reply: FastifyReply,
  options: ContextOptions,
  batch: Parameters<typeof sessionLoader>[0],
  readLimit: number,
): Promise<GraphQLContext> {
  // Until Apollo has parsed the document, this is a GraphQL request of unknown operation.
  request.operation = 'other';
  let caller: Caller;
  try {
    caller = {
      service: isServiceCaller(request.headers.authorization, options.tokens),
      sessionId: presentedSessionId(request.headers, options.transport),
    };
  } catch (error) {
    if (error instanceof GatewayError) {
      // Apollo answers a failed context without running its plugins: report the code, and set
      // the status (a request error: nothing executed), here.
      request.errorCode = error.code;
      const media = responseMediaType(request.headers.accept) ?? 'application/json';
      throw new GraphQLError(error.publicMessage, { extensions: { ...error.extensions, http: { status: graphqlStatus(media, false, error.status) } } });
    }
    throw error;
  }
  return {
    caller,
    sessions: sessionLoader(batch, readLimit),
    sessionReadsLeft: readLimit,
    service: options.service,
    limits: options.limits,
    announceSessionId: (id) => void reply.header(options.sessionHeader, id),
    requestDevice: () => deviceOfRequest(request.headers['user-agent'], request.ip, options.service.addressMask),
    sessionCookie: options.cookie === null ? NO_SESSION_COOKIE : cookieWriter(reply, options.cookie),
    report: request,
  };
}

/**
 * Writes the cookie on the reply, whichever door sends it: Apollo's integration keeps the reply's
 * headers, and the compiled path sends them (`reply.getHeaders()`). Fastify appends a second
 * `set-cookie` rather than replacing the first.
 */
function cookieWriter(reply: FastifyReply, cookie: SessionCookie): SessionCookieWriter {
  return {
    set: (id, maxAgeSeconds) => void reply.header('set-cookie', sessionCookieHeader(cookie, id, maxAgeSeconds)),
    clear: () => void reply.header('set-cookie', clearedSessionCookieHeader(cookie)),
  };
}
