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
 *
 * Two doors, one answer. This read sits on the path of every request every module serves, so
 * the common request (a GET of either path with no query and no `Origin`, which is all a module
 * or nginx sends) is served straight from node:http by `serveDirect`, without Fastify's request
 * and reply objects, router and hooks: that machinery cost about a third of this request's CPU
 * time. Everything else (queries, CORS, HEAD) goes through the Fastify routes. Both doors call
 * `answer`, send the same headers and body, and report to the same request telemetry; a test
 * holds the two to identical responses.
 *
 * The session cookie. With SESSION_COOKIE_SET=true, a response that hands out a new session (the
 * caller presented none that is valid) also sets the session cookie, by both doors from one
 * method (`setCookieFor`), so a browser that asks for a session gets it in its cookie jar and
 * presents it from then on. A presented session that is found sets nothing: its cookie, if it
 * came by one, stays as the browser holds it. Server-side callers have no cookie jar and ignore
 * the header. Every answer is `Cache-Control: no-store`, so no cache keeps a Set-Cookie for
 * another caller.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { asGatewayError, restErrorBody } from '../errors';
import { answerErrors } from '../http/error-replies';
import type { DrainState } from '../http/drain';
import { sendRaw } from '../http/response-headers';
import { requestIdOf, type RequestTelemetry } from '../request-telemetry';
import { presentedLegacyId, presentedSessionId, sessionCookieHeader, type SessionCookie, type SessionTransport } from '../session/transport';
import type { AttributeAnswer, SessionService } from '../sessions/service';
import type { Tracing } from '../tracing';

export interface RestOptions {
  readonly service: SessionService;
  readonly transport: SessionTransport;
  /** The session header as configured, for the response. */
  readonly sessionHeader: string;
  readonly legacyAttribute: string;
  /** The session cookie to set when a session is issued; null: none is set. */
  readonly cookie: SessionCookie | null;
  /**
   * The cookie's Max-Age for a session the shim issues (the service's anonymous session): its
   * lifetime, SESSION_MAX_LIFETIME, or, with none, its idle time (see `cookieMaxAgeSeconds`).
   */
  readonly issuedMaxAgeSeconds: number;
  readonly telemetry: RequestTelemetry;
  /** The app's tracing, when on: the direct lane traces its requests as Fastify's hooks do the others. */
  readonly tracing: Tracing | null;
  readonly drain: DrainState;
}

/** What the shim answers a presented ID with (see SessionService.attributeOrIssue). */
type ShimAnswer = AttributeAnswer;

const V1 = '/api/v1/session';
const V2 = '/api/v2/session';
const JSON_TYPE = 'application/json; charset=utf-8';

export class SessionShim {
  private readonly headerName: string;

  constructor(private readonly options: RestOptions) {
    this.headerName = options.sessionHeader.toLowerCase();
  }

  /** The presented session's legacy attribute, or a newly issued session when there is none. */
  answer(id: string | null): Promise<ShimAnswer> {
    return this.options.service.attributeOrIssue(id, this.options.legacyAttribute);
  }

  /** The Fastify routes: every request `serveDirect` leaves. Their errors answer in the REST shape. */
  readonly routes = async (app: FastifyInstance): Promise<void> => {
    answerErrors(app, this.options.telemetry, restErrorBody);
    app.get(V2, async (request, reply) => {
      const id = presentedSessionId(request.headers, this.options.transport);
      return this.reply(id, await this.answer(id), reply);
    });
    app.get(V1, async (request, reply) => {
      const id = presentedLegacyId(request.query as Record<string, string | string[] | undefined>) ?? presentedSessionId(request.headers, this.options.transport);
      return this.reply(id, await this.answer(id), reply);
    });
  };

  /**
   * The session cookie for an answer to `presented`: set when the answer is a session just
   * issued, which is when its ID is not the one presented (a presented ID that is found is
   * answered as it is; see SessionService.attributeOrIssue). Undefined when nothing is to be set.
   */
  private setCookieFor(presented: string | null, answer: ShimAnswer): string | undefined {
    const cookie = this.options.cookie;
    if (cookie === null || answer.id === presented) return undefined;
    return sessionCookieHeader(cookie, answer.id, this.options.issuedMaxAgeSeconds);
  }

  private reply(presented: string | null, answer: ShimAnswer, reply: FastifyReply): FastifyReply {
    reply.header('cache-control', 'no-store').header(this.headerName, answer.id);
    const setCookie = this.setCookieFor(presented, answer);
    if (setCookie !== undefined) reply.header('set-cookie', setCookie);
    // The stored JSON bytes go out as they are: no decoding, no parse, no re-serialisation.
    return answer.json === null ? reply.send() : reply.type(JSON_TYPE).send(answer.json);
  }

  /**
   * Serves the request when it is the plain read (GET of either path, no query, no `Origin`) and
   * returns true; returns false, having touched nothing, for Fastify to serve it.
   */
  serveDirect(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'GET' || request.headers.origin !== undefined) return false;
    const route = request.url === V2 ? V2 : request.url === V1 ? V1 : null;
    if (route === null) return false;
    const startedAt = performance.now();
    const requestId = requestIdOf(request.headers);
    const presented = presentedSessionId(request.headers, this.options.transport);
    const tracing = this.options.tracing;
    const traced = tracing === null ? null : tracing.startRequest(request.headers, 'GET', route, requestId);
    const answering = traced === null ? this.answer(presented) : (tracing as Tracing).within(traced, () => this.answer(presented));
    answering.then(
      (answer) => {
        const headers: OutgoingHttpHeaders = { 'cache-control': 'no-store', [this.headerName]: answer.id };
        const setCookie = this.setCookieFor(presented, answer);
        if (setCookie !== undefined) headers['set-cookie'] = setCookie;
        if (answer.json !== null) headers['content-type'] = JSON_TYPE;
        sendRaw(response, 200, headers, answer.json, requestId, this.options.drain);
        this.options.telemetry.record(requestId, 'GET', route, null, null, 200, null, performance.now() - startedAt);
        if (traced !== null) tracing?.endRequest(traced, 200, null);
      },
      (thrown: unknown) => {
        const error = asGatewayError(thrown);
        this.options.telemetry.failed(requestId, error);
        const body = Buffer.from(JSON.stringify(restErrorBody(error)));
        sendRaw(response, error.status, { 'content-type': JSON_TYPE }, body, requestId, this.options.drain);
        this.options.telemetry.record(requestId, 'GET', route, null, null, error.status, error.code, performance.now() - startedAt);
        if (traced !== null) tracing?.endRequest(traced, error.status, error.code);
      },
    ).catch((defect: unknown) => {
      // Sending itself failed (a defect, or a socket gone mid-write): log it, never crash on it.
      this.options.telemetry.failed(requestId, asGatewayError(defect));
      response.destroy();
    });
    return true;
  }
}
