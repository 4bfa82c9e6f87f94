/**
 * How Fastify answers a request that failed, or that no route matched, in one face's shape.
 * Each plugin installs its own (Fastify encapsulation: a plugin's error handler serves the
 * routes it declares, their body parsing included), with its face's encoder from errors.ts;
 * the app's root installs the default for everything else (app.ts).
 *
 * These are requests refused before any face could answer in its own words (no route, a body
 * that is not JSON or too large, an error thrown past the face), so the status is the code's
 * (errors.ts) on every face.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { asGatewayError, GatewayError } from '../errors';
import { pathOf } from '../logger';
import type { RequestTelemetry } from '../request-telemetry';

/** A face's error body (errors.ts); the request is there for the app's default, which needs it. */
export type ErrorEncoder = (error: GatewayError, request: FastifyRequest) => object;

/** Installs `app`'s error handler: every error becomes a coded one, is logged, and answered by `encode`. */
export function answerErrors(app: FastifyInstance, telemetry: RequestTelemetry, encode: ErrorEncoder): void {
  app.setErrorHandler((error: FastifyError | GatewayError, request, reply) => {
    const gatewayError = fromFastify(error);
    telemetry.failed(request.id, gatewayError);
    sendError(request, reply, gatewayError, encode);
  });
}

/** Installs `app`'s not-found handler (for its prefix: see app.ts on why only the root has one). */
export function answerNotFound(app: FastifyInstance, encode: ErrorEncoder): void {
  app.setNotFoundHandler((request, reply) => {
    sendError(request, reply, new GatewayError('NOT_FOUND', `no route for ${request.method} ${pathOf(request.url)}`), encode);
  });
}

/** Fastify's own client errors (body too large, bad JSON, wrong content type) keep their meaning. */
function fromFastify(error: FastifyError | GatewayError): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error.statusCode === 413) return new GatewayError('PAYLOAD_TOO_LARGE', 'the request body is too large');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new GatewayError('BAD_USER_INPUT', error.message);
  }
  return asGatewayError(error);
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: GatewayError, encode: ErrorEncoder): void {
  request.errorCode = error.code;
  void reply.code(error.status).type('application/json; charset=utf-8').send(encode(error, request));
}
