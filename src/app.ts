/**
 * Composes the HTTP server from its parts: request telemetry, CORS, the GraphQL face, the
 * GraphQL IDE, the REST shim, the health probes and metrics, and the one error mapping. Builds
 * nothing global: two apps with two configs can live in one process.
 *
 * The node:http server under Fastify first offers each request to the REST shim's direct lane
 * (the plain session read, see `rest/session-shim.ts`); whatever it leaves goes to Fastify.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyRouterOptions, type RawServerDefault, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config';
import { GatewayError, restErrorBody, type ErrorCode } from './errors';
import { graphqlPlugin } from './graphql/plugin';
import { healthPlugin } from './health';
import { discardRefusedBodies, requestBodyLimit } from './http/body-limit';
import { answerClientError } from './http/client-errors';
import { pathOf } from './logger';
import { metricsPlugin, type Metrics } from './metrics';
import { instrumentRequests, RequestTelemetry, requestIdOf } from './request-telemetry';
import { browserPage, playgroundPlugin } from './playground/plugin';
import { SessionShim } from './rest/session-shim';
import { ServiceTokens } from './session/caller';
import { sessionTransport } from './session/transport';
import type { SessionStore } from './store/store';

export interface AppParts {
  readonly config: Config;
  readonly store: SessionStore;
  readonly logger: Logger;
  /** The app's metrics; the store's `onCommand` should feed the same object. */
  readonly metrics: Metrics;
}

export async function buildApp({ config, store, logger, metrics }: AppParts): Promise<FastifyInstance> {
  const telemetry = new RequestTelemetry(metrics, logger);
  const transport = sessionTransport(config.sessionHeader, config.sessionCookie);
  const shim = new SessionShim({
    store,
    transport,
    sessionHeader: config.sessionHeader,
    legacyAttribute: config.legacyAttribute,
    sessionTimeoutSeconds: config.sessionTimeoutSeconds,
    events: metrics,
    telemetry,
  });
  const app = Fastify({
    // What Fastify's own factory does, with the shim's direct lane in front of Fastify's handler.
    serverFactory: (fastify, options) => {
      const server = createServer((request: IncomingMessage, response: ServerResponse) => {
        if (!shim.serveDirect(request, response)) fastify(request, response);
      });
      // Fastify has filled in its defaults by now (keep-alive 72 s, no request or idle timeout).
      const timeouts = options as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number };
      server.keepAliveTimeout = timeouts.keepAliveTimeout;
      server.requestTimeout = timeouts.requestTimeout;
      server.setTimeout(timeouts.connectionTimeout);
      return server;
    },
    loggerInstance: logger as FastifyBaseLogger,
    // A patch may hold a whole session's attributes, JSON-escaped: leave room above the limit
    // so the store's own check answers with the precise PAYLOAD_TOO_LARGE.
    bodyLimit: requestBodyLimit(config.maxAttributeBytes),
    // A request Node's parser refuses is answered without resetting the connection under a proxy.
    clientErrorHandler: answerClientError,
    // `/api/v1/session;jsessionid=<id>` (servlet path parameter) reaches the legacy route with
    // the ID as a query parameter. find-my-way's types lag the runtime option.
    routerOptions: { useSemicolonDelimiter: true } as FastifyRouterOptions<RawServerDefault>,
    // One line per request, written by request-telemetry.ts, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    // X-Request-ID is read (and checked) by requestIdOf, not taken as it comes.
    requestIdHeader: false,
    genReqId: (raw) => requestIdOf(raw.headers),
    // request.log is the app's logger itself, not a pino child per request (whose bindings are
    // serialised on every request): every line about a request carries its requestId explicitly.
    childLoggerFactory: (logger) => logger,
    // A request that reaches a draining gateway on an open connection is served (and its
    // connection closed) rather than answered with Fastify's own 503 body.
    return503OnClosing: false,
    trustProxy: true,
  });
  instrumentRequests(app, telemetry);
  discardRefusedBodies(app);
  app.setErrorHandler((error: FastifyError | GatewayError, request, reply) => {
    const gatewayError = error instanceof GatewayError ? error : fromFastify(error);
    telemetry.failed(request.id, gatewayError);
    sendError(request, reply, gatewayError);
  });
  app.setNotFoundHandler((request, reply) => {
    sendError(request, reply, new GatewayError('NOT_FOUND', `no route for ${request.method} ${pathOf(request.url)}`));
  });

  if (config.corsOrigins === '*' || config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins === '*' ? '*' : [...config.corsOrigins],
      credentials: config.corsOrigins !== '*',
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['Content-Type', 'Authorization', config.sessionHeader, 'X-Request-ID', 'Apollo-Require-Preflight'],
      // Without this a browser cannot read the ID the gateway issued.
      exposedHeaders: [config.sessionHeader, 'X-Request-ID'],
      maxAge: 600,
    });
  }

  const playground = { enabled: config.playground, sessionHeader: config.sessionHeader };
  const limits = {
    maxAttributeBytes: config.maxAttributeBytes,
    defaultInactiveSeconds: config.sessionTimeoutSeconds,
    maxBatchIds: config.maxBatchIds,
  };
  await app.register(graphqlPlugin, {
    store,
    tokens: new ServiceTokens(config.serviceTokens),
    transport,
    sessionHeader: config.sessionHeader,
    limits,
    introspection: config.playground,
    browserPage: browserPage(playground),
    metrics,
    telemetry,
    production: config.nodeEnv === 'production',
  });
  await app.register(playgroundPlugin, playground);
  await app.register(shim.routes);
  await app.register(healthPlugin, { store });
  await app.register(metricsPlugin, { metrics });
  return app;
}

/** Fastify's own client errors (body too large, bad JSON, wrong content type) keep their meaning. */
function fromFastify(error: FastifyError): GatewayError {
  if (error.statusCode === 413) return new GatewayError('PAYLOAD_TOO_LARGE', 'the request body is too large');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new GatewayError('BAD_USER_INPUT', error.message);
  }
  return new GatewayError('INTERNAL', 'internal error', { cause: error });
}

/** GraphQL clients get a GraphQL-shaped error; REST clients `{ error: { code, message } }`. */
function sendError(request: FastifyRequest, reply: FastifyReply, error: GatewayError): void {
  const message = error.code === 'INTERNAL' ? 'internal error' : error.message;
  const code: ErrorCode = error.code;
  request.errorCode = code;
  const body = pathOf(request.url) === '/graphql'
    ? { errors: [{ message, extensions: { code } }] }
    : restErrorBody(new GatewayError(code, message));
  void reply.code(error.status).type('application/json; charset=utf-8').send(body);
}
