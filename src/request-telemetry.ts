/**
 * What is recorded about every HTTP request: one JSON log line when it ends, one observation in
 * the request metrics, and a request ID that ties the two to the client.
 *
 * The log line is `{ requestId, method, route, operation?, operationName?, status, durationMs }`:
 * the route is the pattern (`/api/v1/session`), never the URL, whose query may hold a session
 * ID; headers are never logged. The request ID is the client's `X-Request-ID` when it is usable,
 * a random UUID otherwise, and is echoed in the response's `X-Request-ID`.
 *
 * This runs on every request, so it holds no per-request closures: three fields decorated onto
 * the request (set by the faces), one `onSend` and one `onResponse` hook built once per app.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

const REQUEST_ID_HEADER = 'x-request-id';
const MAX_REQUEST_ID_LENGTH = 128;
const PRINTABLE = /^[\x21-\x7e]+$/;
const STATUS_CLASS = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/**
 * Fastify's `genReqId`. A presented ID is kept when it is 1-128 printable ASCII characters and
 * does not have the shape of a session ID (a client that sends its session ID as request ID
 * would otherwise put it in every log line).
 */
export function requestIdOf(raw: IncomingMessage): string {
  const presented = raw.headers[REQUEST_ID_HEADER];
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

/** Installs the request ID echo, the drain behaviour, the log line and the request metrics on `app`. */
export function instrumentRequests(app: FastifyInstance, metrics: Metrics): void {
  // The level is fixed at start-up; below `info` the request line is not even built.
  const writesInfo = ['trace', 'debug', 'info'].includes(app.log.level);
  app.decorateRequest('operation', null);
  app.decorateRequest('operationName', null);
  app.decorateRequest('errorCode', null);

  // While the app drains (after SIGTERM), a response that completes an in-flight request also
  // closes its connection: an idle keep-alive connection would otherwise hold the drain open
  // until the client's keep-alive ends.
  let draining = false;
  app.addHook('preClose', (done) => {
    draining = true;
    done();
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (draining) reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    record(request, reply, metrics, writesInfo);
    done();
  });
}

function record(request: FastifyRequest, reply: FastifyReply, metrics: Metrics, writesInfo: boolean): void {
  const route = request.routeOptions.url ?? 'unmatched';
  const status = reply.statusCode;
  const durationMs = reply.elapsedTime;
  metrics.observeRequest(route, request.operation ?? '', request.errorCode ?? STATUS_CLASS[(status / 100) | 0] ?? 'other', durationMs / 1000);
  if (!writesInfo) return; // skip building the line when it would not be written
  request.log.info(
    {
      requestId: request.id,
      method: request.method,
      route,
      operation: request.operation ?? undefined,
      operationName: request.operationName ?? undefined,
      status,
      errorCode: request.errorCode ?? undefined,
      durationMs: Math.round(durationMs * 1000) / 1000,
    },
    'request',
  );
}
