/**
 * The REST shim, for backend modules and legacy callers:
 *
 *   GET /api/v2/session   ID in the session header (or cookie)
 *   GET /api/v1/session   the same, and the ID may also come as the JSESSIONID query parameter
 *                         (any case), or as a servlet path parameter `;jsessionid=`
 *
 * Answers 200 with the JSON of the session's legacy attribute (`user` by default), or an empty
 * body if it has none, and the session's ID in the session header. When the presented ID is
 * missing, malformed, unknown or expired, a new session is issued and its new ID returned:
 * this is how modules obtain IDs. A made-up ID is never adopted.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionEvents } from '../metrics';
import { isWellFormedSessionId } from '../session/ids';
import { issueSession } from '../session/issue';
import type { NewSession } from '../session/model';
import { presentedSessionId, type SessionTransport } from '../session/transport';
import { NO_SESSION, type SessionStore } from '../store/store';

export interface RestOptions {
  readonly store: SessionStore;
  readonly transport: SessionTransport;
  readonly sessionHeader: string;
  readonly legacyAttribute: string;
  readonly sessionTimeoutSeconds: number;
  readonly events: SessionEvents;
}

const LEGACY_PARAM = 'jsessionid';

export async function restPlugin(app: FastifyInstance, options: RestOptions): Promise<void> {
  const anonymous: NewSession = { principal: null, attributes: [], maxInactiveSeconds: options.sessionTimeoutSeconds };

  async function answer(id: string | null, reply: FastifyReply): Promise<FastifyReply> {
    const read = id === null ? NO_SESSION : await options.store.readAttribute(id, options.legacyAttribute);
    reply.header('cache-control', 'no-store');
    if (!read.found) {
      const record = await issueSession(options.store, anonymous);
      options.events.sessionIssued();
      return reply.header(options.sessionHeader, record.id).send();
    }
    reply.header(options.sessionHeader, id);
    // The stored JSON bytes go out as they are: no decoding, no parse, no re-serialisation.
    return read.json === null ? reply.send() : reply.type('application/json; charset=utf-8').send(read.json);
  }

  app.get('/api/v2/session', async (request, reply) => answer(presentedSessionId(request.headers, options.transport), reply));

  app.get('/api/v1/session', async (request, reply) => {
    const fromQuery = legacyQueryId(request);
    return answer(fromQuery ?? presentedSessionId(request.headers, options.transport), reply);
  });
}

/**
 * The JSESSIONID query parameter, name in any case. With Fastify's semicolon delimiter a
 * servlet-style `/api/v1/session;jsessionid=<id>` arrives here as a query parameter too.
 */
function legacyQueryId(request: FastifyRequest): string | null {
  const query = request.query as Record<string, string | string[] | undefined>;
  for (const [name, value] of Object.entries(query)) {
    if (name.toLowerCase() !== LEGACY_PARAM) continue;
    const id = Array.isArray(value) ? value[0] : value;
    if (id !== undefined && id !== '') return isWellFormedSessionId(id) ? id : null;
  }
  return null;
}
