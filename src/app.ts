/**
 * Composes the HTTP server from its parts: request telemetry, the drain, CORS, the GraphQL face,
 * the GraphQL IDE, the REST shim, the health probes and metrics, and the default error answers. Builds
 * nothing global: two apps with two configs can live in one process.
 *
 * The node:http server under Fastify first offers each request to the REST shim's direct lane
 * (the plain session read, see `rest/session-shim.ts`); whatever it leaves goes to Fastify.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyRouterOptions, type RawServerDefault, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { MAX_INACTIVE_SECONDS, MAX_LIFETIME_SECONDS, type Config } from './config';
import { graphqlErrorsBody, restErrorBody, type GatewayError } from './errors';
import { isGraphQLEndpoint } from './graphql/endpoint';
import { graphqlPlugin } from './graphql/plugin';
import { healthPlugin } from './health';
import { discardRefusedBodies, requestBodyLimit } from './http/body-limit';
import { answerClientError } from './http/client-errors';
import { answerErrors, answerNotFound } from './http/error-replies';
import { DrainState } from './http/drain';
import { stampReplies } from './http/response-headers';
import { metricsPlugin, type Metrics } from './metrics';
import { instrumentRequests, RequestTelemetry, requestIdOf } from './request-telemetry';
import { browserPage, playgroundPlugin } from './playground/plugin';
import { SessionShim } from './rest/session-shim';
import { sessionTokenRoutes } from './rest/session-token-routes';
import { ServiceTokens } from './session/caller';
import { sessionTransport } from './session/transport';
import { SessionCache } from './sessions/session-cache';
import { SessionService } from './sessions/service';
import type { GatewayStore } from './store/store';
import { SessionTokens } from './tokens/session-tokens';
import type { Tracing } from './tracing';

export interface AppParts {
  readonly config: Config;
  /** The store the app's session service stands on, and the session tokens' keys (see `store/connect.ts`). */
  readonly store: GatewayStore;
  readonly logger: Logger;
  /** The app's metrics; the store's `onCommand` should feed the same object. */
  readonly metrics: Metrics;
  /** The app's tracing when it is on (tracing.ts); the store's `tracer` should be its `store`. */
  readonly tracing?: Tracing | null;
}

export async function buildApp({ config, store, logger, metrics, tracing = null }: AppParts): Promise<FastifyInstance> {
  const telemetry = new RequestTelemetry(metrics, logger);
  const drain = new DrainState();
  const transport = sessionTransport(config.sessionHeader, config.sessionCookie);
  const limits = {
    maxAttributeBytes: config.maxAttributeBytes,
    defaultInactiveSeconds: config.sessionTimeoutSeconds,
    mostInactiveSeconds: MAX_INACTIVE_SECONDS,
    mostLifetimeSeconds: MAX_LIFETIME_SECONDS,
    maxLifetimeSeconds: config.lifecycle.maxLifetimeSeconds,
    maxBatchIds: config.maxBatchIds,
  };
  const lifecycle = config.lifecycle;
  const cache = config.sessionCache === null ? null : new SessionCache(store.changes, store.leases, { ...config.sessionCache, now: () => store.now(), onLost: (reason) => logger.warn({ reason }, 'session cache dropped: it lost the change feed or its lease; reading from the store until it holds both again') });
  if (cache !== null) {
    cache.start();
    metrics.watchSessionCache(() => cache.stats());
  }
  const tokens = new SessionTokens(store, { ...config.sessionTokens, now: () => store.now() });
  const service = new SessionService(store, {
    cache,
    tokens,
    limits,
    touchIntervalSeconds: config.touchIntervalSeconds,
    events: metrics,
    lifecycle: {
      rotationGraceSeconds: lifecycle.rotationGraceSeconds,
      limit: lifecycle.maxSessionsPerPrincipal > 0 ? { maxSessions: lifecycle.maxSessionsPerPrincipal, policy: lifecycle.limitPolicy } : null,
      addressMask: lifecycle.deviceAddress,
    },
  });
  const shim = new SessionShim({
    service,
    transport,
    sessionHeader: config.sessionHeader,
    legacyAttribute: config.legacyAttribute,
    cookie: config.sessionCookieSet,
    // A new anonymous session lives SESSION_MAX_LIFETIME at most, or else expires when idle (cookieMaxAgeSeconds).
    issuedMaxAgeSeconds: config.lifecycle.maxLifetimeSeconds > 0 ? config.lifecycle.maxLifetimeSeconds : limits.defaultInactiveSeconds,
    telemetry,
    tracing,
    drain,
  });
  const app = Fastify({
    // What Fastify's own factory does, with the shim's direct lane in front of Fastify's handler.
    serverFactory: (fastify, options) => {
      // Node checks request and header timeouts only every connectionsCheckingInterval (30 s by
      // default, which would let a 10 s limit run to 40 s): check every second instead.
      const server = createServer({ connectionsCheckingInterval: 1000 }, (request: IncomingMessage, response: ServerResponse) => {
        if (!shim.serveDirect(request, response)) fastify(request, response);
      });
      // Fastify has filled in its defaults by now (keep-alive 72 s) and the two timeouts below.
      const timeouts = options as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number };
      server.keepAliveTimeout = timeouts.keepAliveTimeout;
      server.requestTimeout = timeouts.requestTimeout;
      server.headersTimeout = Math.min(server.headersTimeout, timeouts.requestTimeout);
      server.setTimeout(timeouts.connectionTimeout);
      server.maxConnections = config.httpMaxConnections;
      return server;
    },
    loggerInstance: logger as FastifyBaseLogger,
    // A slow or stuck client cannot hold a connection: the whole request must arrive within
    // HTTP_REQUEST_TIMEOUT_MS (else 408), and a silent connection is closed after HTTP_IDLE_TIMEOUT_MS.
    requestTimeout: config.httpRequestTimeoutMs,
    connectionTimeout: config.httpIdleTimeoutMs,
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
  if (cache !== null) app.addHook('onClose', async () => cache.close());
  instrumentRequests(app, telemetry);
  tracing?.traceRequests(app);
  drain.watch(app);
  stampReplies(app, drain);
  discardRefusedBodies(app);
  // The app's default, for everything the faces' own handlers do not answer (each face's plugin
  // installs its own for its routes: graphql/plugin.ts, rest/session-shim.ts).
  answerErrors(app, telemetry, unmatchedErrorBody);
  answerNotFound(app, unmatchedErrorBody);

  const allowedOrigins = config.corsOrigins;
  if (allowedOrigins === '*' || allowedOrigins.length > 0) {
    const granted = {
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['Content-Type', 'Authorization', config.sessionHeader, 'X-Request-ID', 'Apollo-Require-Preflight'],
      // Without this a browser cannot read the ID the gateway issued.
      exposedHeaders: [config.sessionHeader, 'X-Request-ID'],
      maxAge: 600,
    };
    // Decided per request, so that a request without an allowed Origin gets no CORS header at
    // all (in particular no Access-Control-Allow-Credentials).
    await app.register(cors, {
      delegator: (request, callback) => {
        const origin = request.headers.origin;
        if (origin === undefined || (allowedOrigins !== '*' && !allowedOrigins.includes(origin))) return callback(null, { origin: false });
        callback(null, { ...granted, origin: allowedOrigins === '*' ? '*' : origin, credentials: allowedOrigins !== '*' });
      },
    });
  }

  const serviceTokens = new ServiceTokens(config.serviceTokens);
  const playground = { enabled: config.playground, sessionHeader: config.sessionHeader };
  const queryLimits = { maxTokens: config.maxQueryTokens, maxDepth: config.maxQueryDepth, maxFields: config.maxQueryFields };
  await app.register(graphqlPlugin, {
    service,
    tokens: serviceTokens,
    transport,
    sessionHeader: config.sessionHeader,
    cookie: config.sessionCookieSet,
    limits,
    queryLimits,
    introspection: config.playground,
    browserPage: browserPage(playground),
    metrics,
    telemetry,
    tracing,
    drain,
    production: config.nodeEnv === 'production',
  });
  await app.register(playgroundPlugin, playground);
  await app.register(shim.routes);
  await app.register(sessionTokenRoutes({ service, tokens: serviceTokens, transport, telemetry, jwksMaxAgeSeconds: tokens.ttlSeconds, jwks: () => tokens.jwks() }));
  await app.register(healthPlugin, { sessions: service });
  await app.register(metricsPlugin, { metrics });
  return app;
}

/**
 * The body of an error answered by the app's root: the REST shape, except at the GraphQL
 * endpoint itself, where a GraphQL client gets the GraphQL shape.
 *
 * What reaches the root at that path is a request no route matched (PUT, DELETE, or OPTIONS
 * without CORS at /graphql), or an error while Fastify handled one (its body was not JSON). The
 * GraphQL plugin cannot answer those itself: Fastify gives an encapsulated plugin a not-found
 * handler only for a whole prefix (four-oh-four.js registers `prefix` and `prefix/*`), which
 * would take `/graphql/x` too (no face's path: REST-shaped, like every unknown route), and its
 * not-found router has no `;` delimiter, so `/graphql;x` would still end here. So the one
 * not-found handler stays at the root, and this is the only place deciding a shape by path.
 */
function unmatchedErrorBody(error: GatewayError, request: FastifyRequest): object {
  return isGraphQLEndpoint(request.url) ? graphqlErrorsBody(error) : restErrorBody(error);
}
