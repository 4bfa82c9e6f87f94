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
 * Both doors record through one function, `RequestTelemetry.record`, with the same inputs: the
 * Fastify `onResponse` hook reads them off the request and reply, the direct lane passes its own.
 * This runs on every request, so it holds no per-request closures and builds no record object:
 * three fields decorated onto the Fastify request (set by the faces), one `onResponse` hook built
 * once per app, and the log line built only when it will be written. (The `X-Request-ID` echo and
 * the drain's `Connection: close` are the response's: http/response-headers.ts.)
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
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

  constructor(
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.writesInfo = ['trace', 'debug', 'info'].includes(log.level);
  }

  /**
   * Records one finished request: its observation in the request metrics and its log line.
   * `route` is the route pattern, or `'unmatched'`; `operation` and `operationName` are
   * GraphQL's (null elsewhere); `errorCode` is the code the request ended with, if any.
   */
  record(
    requestId: string,
    method: string,
    route: string,
    operation: string | null,
    operationName: string | null,
    status: number,
    errorCode: string | null,
    durationMs: number,
  ): void {
    const outcome = errorCode ?? STATUS_CLASS[(status / 100) | 0] ?? 'other';
    this.metrics.observeRequest(route, operation ?? '', outcome, durationMs / 1000);
    if (!this.writesInfo) return; // skip building the line when it would not be written
    this.log.info(
      {
        requestId,
        method,
        route,
        operation: operation ?? undefined,
        operationName: operationName ?? undefined,
        status,
        errorCode: errorCode ?? undefined,
        durationMs: Math.round(durationMs * 1000) / 1000,
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

/** Installs the fields the faces report on, and the request log line and metrics, on `app`. */
export function instrumentRequests(app: FastifyInstance, telemetry: RequestTelemetry): void {
  app.decorateRequest('operation', null);
  app.decorateRequest('operationName', null);
  app.decorateRequest('errorCode', null);

  app.addHook('onResponse', (request, reply, done) => {
    telemetry.record(
      request.id,
      request.method,
      request.routeOptions.url ?? 'unmatched',
      request.operation,
      request.operationName,
      reply.statusCode,
      request.errorCode,
      reply.elapsedTime,
    );
    done();
  });
}
