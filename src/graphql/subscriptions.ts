/**
 * GraphQL subscriptions over WebSocket (the graphql-transport-ws protocol, served by graphql-ws
 * on a `ws` server) at `/graphql`, on the same port as everything else. Today there is one:
 * `sessionChanges`, for backend modules keeping a near cache (see `src/client/`).
 *
 * Services only: the token comes as the upgrade request's `Authorization` header or as
 * `connectionParams.authorization`, and a connection without a valid one is closed with 4403.
 * Queries and mutations stay on HTTP, where they have their status codes and metrics: over
 * WebSocket they are refused. Errors are shaped as over HTTP (`extensions.code` from errors.ts).
 *
 * Draining: when the app closes, every socket is closed with 1001 (going away), so clients
 * reconnect to another instance at once instead of holding this one's shutdown open.
 */
import { NO_DEVICE } from '../session/model';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveAsOrdinaryRequest } from '../http/ordinary-upgrade';
import type { Metrics } from '../metrics';
import { isServiceCaller, type ServiceTokens } from '../session/caller';
import type { SessionService } from '../sessions/service';
import { NO_SESSION_COOKIE, sessionBatchLoader, sessionLoader, type GraphQLContext, type GraphQLLimits } from './context';
import { ChangeStreamEnded } from './change-stream';
import { isGraphQLEndpoint } from './endpoint';
import { formatSocketError, type DefectLog } from './error-format';

export interface SubscriptionOptions {
  readonly schema: GraphQLSchema;
  readonly service: SessionService;
  readonly tokens: ServiceTokens;
  readonly limits: GraphQLLimits;
  readonly metrics: Metrics;
  readonly production: boolean;
  /** Logs a defect behind an INTERNAL error. */
  readonly logError: DefectLog;
}

/** How long a closing socket may take to say goodbye before it is cut. */
const CLOSE_GRACE_MS = 1000;
const MAX_MESSAGE_BYTES = 64 * 1024;

export function serveSubscriptions(app: FastifyInstance, options: SubscriptionOptions): void {
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  let draining = false;

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Only a WebSocket on /graphql is an upgrade; anything else (h2c from Java's HttpClient, a
    // WebSocket elsewhere) is answered as the ordinary request it also is.
    if (!isGraphQLEndpoint(request.url ?? '') || request.headers.upgrade?.toLowerCase() !== 'websocket') {
      serveAsOrdinaryRequest(app.server, request, socket, head);
      return;
    }
    if (draining) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => sockets.emit('connection', ws, request));
  });

  options.metrics.countWebSockets(() => sockets.clients.size);
  const batch = sessionBatchLoader(options.service, () => undefined);
  const format = (errors: readonly GraphQLError[]): GraphQLFormattedError[] => errors.map((error) => formatSocketError(error, options.logError));
  const server = useServer<{ authorization?: unknown }>(
    {
      schema: options.schema,
      isProd: options.production,
      onConnect: (ctx) => {
        try {
          return isServiceCaller(authorizationOf(ctx.extra.request, ctx.connectionParams), options.tokens);
        } catch {
          return false; // a wrong token: 4403, like no token
        }
      },
      context: (): GraphQLContext => ({
        // onConnect let only services in.
        caller: { service: true, sessionId: null },
        sessions: sessionLoader(batch, options.limits.maxBatchIds),
        sessionReadsLeft: options.limits.maxBatchIds,
        service: options.service,
        limits: options.limits,
        announceSessionId: () => undefined,
        requestDevice: () => NO_DEVICE,
        sessionCookie: NO_SESSION_COOKIE,
        report: { operation: null, operationName: null, errorCode: null },
      }),
      execute: () => ({
        errors: [new GraphQLError('over WebSocket only subscriptions are served; send queries and mutations over HTTP', { extensions: { code: 'BAD_USER_INPUT' } })],
      }),
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (result.errors === undefined) {
          options.metrics.changeDelivered();
          return undefined;
        }
        return { ...result, errors: format(result.errors) };
      },
      onError: (_ctx, _id, _payload, errors) => {
        // A stream the gateway cut off (its feed lost, or the subscriber too far behind) is
        // counted here, where it is sent: the one place every such end passes.
        for (const error of errors) if (error.originalError instanceof ChangeStreamEnded) options.metrics.changeStreamEnded(error.originalError.reason);
        return format(errors);
      },
    },
    sockets,
  );

  app.addHook('preClose', async () => {
    draining = true;
    const open = [...sockets.clients];
    for (const ws of open) ws.close(1001, 'the gateway is shutting down');
    await Promise.race([Promise.all(open.map(closed)), new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]);
    for (const ws of sockets.clients) ws.terminate();
    await server.dispose();
    sockets.close();
  });
}

function closed(ws: WebSocket): Promise<void> {
  return ws.readyState === ws.CLOSED ? Promise.resolve() : new Promise((resolve) => ws.once('close', () => resolve()));
}

function authorizationOf(request: IncomingMessage, params: Readonly<{ authorization?: unknown }> | undefined): string | undefined {
  if (request.headers.authorization !== undefined) return request.headers.authorization;
  return typeof params?.authorization === 'string' ? params.authorization : undefined;
}
