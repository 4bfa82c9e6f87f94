/**
 * What is recorded about every HTTP request: one JSON log line when it ends, one observation in
 * the request metrics, and a request ID that ties the two to the client. Both doors into the
 * gateway report here: Fastify (through the hooks `instrumentRequests` installs) and the REST
 * shim's direct lane (`rest/session-shim.ts`), so a request is recorded the same whichever
 * served it.
 *
 * The log line is `{ requestId, method, route, operation?, operationName?, status, errorCode?,
 * durationMs }`: the route is the pattern (`/api/v1/session`), never the URL, whose query may hold
 * a session ID; headers are never logged. The request ID is the client's `X-Request-ID` when it
 * is usable, a random UUID otherwise, and is echoed in the response's `X-Request-ID`.
 *
 * This runs on every request, so it holds no per-request closures: three fields decorated onto
 * the Fastify request (set by the faces), one `onSend` and one `onResponse` hook built once per app.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { GatewayError } from './errors';
import type { Metrics } from './metrics';
import { isWellFormedSessionId } from './session/ids';

declare module 'fastify' {
  interface FastifyRequest {
    /** GraphQL only: the root field run (bounded set) or `'other'`; null for other routes. */
    operation: string | null;
    /** GraphQL only: the operation's name as the client wrote it. */
    operationName: string | null;
    /** The error code the request ended with, when it ended with one. */
    errorCode: string | null;
  }
}

export const REQUEST_ID_HEADER = 'x-request-id';
const MAX_REQUEST_ID_LENGTH = 128;
const PRINTABLE = /^[\x21-\x7e]+$/;
const STATUS_CLASS = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** One finished request, as the log line and the metrics see it. */
export interface RequestRecord {
  readonly requestId: string;
  readonly method: string;
  /** The route pattern, or `'unmatched'`. */
  readonly route: string;
  readonly operation: string | null;
  readonly operationName: string | null;
  readonly status: number;
  readonly errorCode: string | null;
  readonly durationMs: number;
}

/**
 * A presented request ID is kept when it is 1-128 printable ASCII characters and does not have
 * the shape of a session ID (a client that sends its session ID as request ID would otherwise
 * put it in every log line).
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const presented = headers[REQUEST_ID_HEADER];
  if (
    typeof presented === 'string' &&
    presented.length <= MAX_REQUEST_ID_LENGTH &&
    PRINTABLE.test(presented) &&
    !isWellFormedSessionId(presented)
  ) {
    return presented;
  }
  return randomUUID();
}

export class RequestTelemetry {
  /** The level is fixed at start-up; below `info` the request line is not even built. */
  private readonly writesInfo: boolean;
  private drainingNow = false;

  constructor(
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.writesInfo = ['trace', 'debug', 'info'].includes(log.level);
  }

  /**
   * True once the app drains (after SIGTERM): a response that completes an in-flight request then
   * also closes its connection, since an idle keep-alive connection would otherwise hold the
   * drain open until the client's keep-alive ends.
   */
  get draining(): boolean {
    return this.drainingNow;
  }

  startDraining(): void {
    this.drainingNow = true;
  }

  /**
   * Sends a whole response straight through node:http, for the doors that bypass Fastify's
   * reply: with the request ID, and `Connection: close` while draining, as every response has.
   */
  send(response: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: Buffer | string | null, requestId: string): void {
    headers['content-length'] = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    headers[REQUEST_ID_HEADER] = requestId;
    if (this.drainingNow) headers.connection = 'close';
    response.writeHead(status, headers);
    response.end(body ?? undefined);
  }

  record(request: RequestRecord): void {
    const outcome = request.errorCode ?? STATUS_CLASS[(request.status / 100) | 0] ?? 'other';
    this.metrics.observeRequest(request.route, request.operation ?? '', outcome, request.durationMs / 1000);
    if (!this.writesInfo) return; // skip building the line when it would not be written
    this.log.info(
      {
        requestId: request.requestId,
        method: request.method,
        route: request.route,
        operation: request.operation ?? undefined,
        operationName: request.operationName ?? undefined,
        status: request.status,
        errorCode: request.errorCode ?? undefined,
        durationMs: Math.round(request.durationMs * 1000) / 1000,
      },
      'request',
    );
  }

  /** What the log says of a request that failed: a defect in full, an unavailable store briefly. */
  failed(requestId: string, error: GatewayError): void {
    if (error.code === 'INTERNAL') this.log.error({ requestId, err: error.cause ?? error }, 'internal error');
    if (error.code === 'STORE_UNAVAILABLE') {
      this.log.warn({ requestId, reason: String((error.cause as Error | undefined)?.message) }, 'store unavailable');
    }
  }
}

/** Installs the request ID echo, the drain behaviour, the log line and the request metrics on `app`. */
export function instrumentRequests(app: FastifyInstance, telemetry: RequestTelemetry): void {
  app.decorateRequest('operation', null);
  app.decorateRequest('operationName', null);
  app.decorateRequest('errorCode', null);

  app.addHook('preClose', (done) => {
    telemetry.startDraining();
    done();
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (telemetry.draining) reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    telemetry.record(recordOf(request, reply));
    done();
  });
}

function recordOf(request: FastifyRequest, reply: FastifyReply): RequestRecord {
  return {
    requestId: request.id,
    method: request.method,
    route: request.routeOptions.url ?? 'unmatched',
    operation: request.operation,
    operationName: request.operationName,
    status: reply.statusCode,
    errorCode: request.errorCode,
    durationMs: reply.elapsedTime,
  };
}
