/**
 * Composes the HTTP server from its parts: request telemetry, CORS, the GraphQL face, the
 * GraphQL IDE, the REST shim, the health probes and metrics, and the one error mapping. Builds
 * nothing global: two apps with two configs can live in one process.
 */
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyRouterOptions, type RawServerDefault, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config';
import { GatewayError, restErrorBody, type ErrorCode } from './errors';
import { graphqlPlugin } from './graphql/plugin';
import { healthPlugin } from './health';
import { pathOf } from './logger';
import { metricsPlugin, type Metrics } from './metrics';
import { instrumentRequests, requestIdOf } from './request-telemetry';
import { browserPage, playgroundPlugin } from './playground/plugin';
import { restPlugin } from './rest/session-shim';
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
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // A patch may hold a whole session's attributes, JSON-escaped: leave room above the limit
    // so the store's own check answers with the precise PAYLOAD_TOO_LARGE.
    bodyLimit: config.maxAttributeBytes * 2 + 64 * 1024,
    // `/api/v1/session;jsessionid=<id>` (servlet path parameter) reaches the legacy route with
    // the ID as a query parameter. find-my-way's types lag the runtime option.
    routerOptions: { useSemicolonDelimiter: true } as FastifyRouterOptions<RawServerDefault>,
    // One line per request, written by request-telemetry.ts, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    // X-Request-ID is read (and checked) by requestIdOf, not taken as it comes.
    requestIdHeader: false,
    genReqId: requestIdOf,
    // request.log is the app's logger itself, not a pino child per request (whose bindings are
    // serialised on every request): every line about a request carries its requestId explicitly.
    childLoggerFactory: (logger) => logger,
    // A request that reaches a draining gateway on an open connection is served (and its
    // connection closed) rather than answered with Fastify's own 503 body.
    return503OnClosing: false,
    trustProxy: true,
  });
  instrumentRequests(app, metrics);
  app.setErrorHandler(handleError);
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

  const transport = sessionTransport(config.sessionHeader, config.sessionCookie);
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
  });
  await app.register(playgroundPlugin, playground);
  await app.register(restPlugin, {
    store,
    transport,
    sessionHeader: config.sessionHeader,
    legacyAttribute: config.legacyAttribute,
    sessionTimeoutSeconds: config.sessionTimeoutSeconds,
    events: metrics,
  });
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

function handleError(error: FastifyError | GatewayError, request: FastifyRequest, reply: FastifyReply): void {
  const gatewayError = error instanceof GatewayError ? error : fromFastify(error);
  if (gatewayError.code === 'INTERNAL') request.log.error({ requestId: request.id, err: gatewayError.cause ?? gatewayError }, 'internal error');
  if (gatewayError.code === 'STORE_UNAVAILABLE') {
    request.log.warn({ requestId: request.id, reason: String((gatewayError.cause as Error | undefined)?.message) }, 'store unavailable');
  }
  sendError(request, reply, gatewayError);
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
