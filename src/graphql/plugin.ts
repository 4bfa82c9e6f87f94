/**
 * The GraphQL face, composed: `POST /graphql` (and `GET /graphql` for queries) served by the
 * compiled path when it can (fast-path.ts) and by Apollo otherwise (apollo.ts); a browser's
 * `GET /graphql` goes to `browserPage` (the IDE) instead; WebSocket subscriptions at the same
 * path (subscriptions.ts). Its errors are answered in the GraphQL shape (errors.ts), its own
 * error handler installed here; Apollo stops with the app.
 *
 * Both doors take their parse options, validation rules and request rules from one definition
 * (request-rules.ts), their context from one function (request-context.ts), their status from
 * one function (response-status.ts), and their error formatting from one formatter
 * (error-format.ts).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GraphQLFormattedError } from 'graphql';
import { graphqlErrorsBody } from '../errors';
import type { DrainState } from '../http/drain';
import { answerErrors } from '../http/error-replies';
import { sendRaw } from '../http/response-headers';
import type { RequestTelemetry } from '../request-telemetry';
import type { Tracing } from '../tracing';
import { prefersHtml } from './accept';
import { startApollo } from './apollo';
import { sessionBatchLoader, type GraphQLContext } from './context';
import { GRAPHQL_PATH } from './endpoint';
import { formatHttpError } from './error-format';
import { QueryFastPath } from './fast-path';
import { operationLabel, rootFieldsOf } from './operation-label';
import { createContext, type ContextOptions } from './request-context';
import { httpRequestRules, type QueryLimits } from './request-rules';
import { CONTENT_TYPE } from './response-status';
import { buildSchema } from './schema';
import { serveSubscriptions } from './subscriptions';

export interface GraphQLOptions extends ContextOptions {
  readonly queryLimits: QueryLimits;
  readonly introspection: boolean;
  readonly telemetry: RequestTelemetry;
  /** The app's tracing, when on: both doors report the operation to it alike. */
  readonly tracing: Tracing | null;
  readonly drain: DrainState;
  /** NODE_ENV=production: subscription errors never carry internal messages. */
  readonly production: boolean;
  /** Answers (sends, or throws a GatewayError) a GET that prefers HTML to JSON: a browser opening the endpoint. */
  readonly browserPage: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;
}

export async function graphqlPlugin(app: FastifyInstance, options: GraphQLOptions): Promise<void> {
  // Errors of this plugin's route (Fastify's body parsing included) answer in the GraphQL shape.
  // Requests no route matched are the app's, even at this path: see app.ts.
  answerErrors(app, options.telemetry, graphqlErrorsBody);

  const schema = buildSchema();
  const rootFields = rootFieldsOf(schema);
  const logDefect = (error: unknown): void => app.log.error({ err: error }, 'internal error');
  const format = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => formatHttpError(formatted, error, logDefect);
  const rules = httpRequestRules(options.queryLimits, options.introspection, options.sessionHeader);
  const tracing = options.tracing;
  const apollo = await startApollo({ schema, rules, rootFields, formatError: format, tracing });
  app.addHook('onClose', async () => apollo.stop());

  serveSubscriptions(app, {
    schema,
    service: options.service,
    tokens: options.tokens,
    limits: options.limits,
    metrics: options.metrics,
    production: options.production,
    logError: logDefect,
  });

  const batch = sessionBatchLoader(options.service, (size) => {
    options.metrics.observeLoaderBatch(size);
    tracing?.loaderBatch(size);
  });
  const readLimit = options.limits.maxBatchIds;
  // Typed loosely: the integration's handler declares a string reply, the fast path sends its own.
  const apolloHandler = fastifyApolloHandler(apollo, {
    context: async (request, reply) => createContext(request, reply, options, batch, readLimit),
  }) as unknown as (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  const fastPath = new QueryFastPath(schema, rules, format, (operation) => operationLabel(operation, rootFields));
  app.route({
    method: ['GET', 'POST'],
    url: GRAPHQL_PATH,
    handler: async (request, reply) => {
      // A browser opening the endpoint gets the IDE (or a coded error when it is off).
      if (request.method === 'GET' && prefersHtml(request.headers.accept)) return options.browserPage(request, reply);
      const eligible = fastPath.eligible(request);
      const query = eligible === undefined ? null : fastPath.prepared(eligible.body);
      if (eligible === undefined || query === null) return apolloHandler.call(app, request, reply);
      let context: GraphQLContext;
      try {
        context = await createContext(request, reply, options, batch, readLimit);
      } catch {
        request.errorCode = null;
        return apolloHandler.call(app, request, reply); // Apollo answers the caller error (e.g. a wrong token)
      }
      request.operation = query.label;
      request.operationName = query.name;
      tracing?.operationStarted('query', query.name, query.label);
      const answer = await fastPath.answer(query, eligible, context);
      if (answer === null) {
        tracing?.operationDropped();
        return apolloHandler.call(app, request, reply);
      }
      request.errorCode = answer.errorCode;
      tracing?.operationEnded(answer.errorCode);
      // Sent through node:http directly, past Fastify's serialisation and onSend hooks (a fair
      // share of a query's cost). Headers set earlier on the reply (CORS) go out too; the
      // onResponse hook still records the request.
      reply.hijack();
      const headers = reply.getHeaders() as OutgoingHttpHeaders;
      headers['cache-control'] = 'no-store';
      headers['content-type'] = CONTENT_TYPE[answer.media];
      sendRaw(reply.raw, answer.status, headers, answer.body, request.id, options.drain);
      return reply;
    },
  });
}
