/**
 * `POST /graphql` (and `GET /graphql` for queries): Apollo Server on Fastify. A browser's
 * `GET /graphql` goes to `browserPage` (the IDE) instead. Builds the per-request context, maps
 * every error onto the closed set of codes in errors.ts, sets the status per the
 * GraphQL-over-HTTP spec (response-status.ts), and stops Apollo with the app.
 *
 * Both doors (Apollo and the compiled path) take their parse options and validation rules from
 * one definition (request-rules.ts), their status from one function, and their error formatting
 * from `formatError` below.
 *
 * Decided here: automatic persisted queries are off (PERSISTED_QUERY_NOT_SUPPORTED; Apollo
 * Client's persisted-query link then sends full queries), and so is operation batching (one
 * operation per HTTP request: a batch answers 400 BAD_USER_INPUT).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { ApolloServer, type ApolloServerPlugin, type GraphQLRequestListener } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, Kind, type GraphQLFormattedError, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { ERROR_STATUS, GatewayError, isErrorCode } from '../errors';
import type { DrainState } from '../http/drain';
import { sendRaw } from '../http/response-headers';
import type { Metrics } from '../metrics';
import type { RequestTelemetry } from '../request-telemetry';
import { isServiceCaller, type Caller, type ServiceTokens } from '../session/caller';
import { presentedSessionId, type SessionTransport } from '../session/transport';
import type { SessionStore } from '../store/store';
import { sessionBatchLoader, sessionLoader, type GraphQLContext, type GraphQLLimits } from './context';
import { formatHttpError } from './error-format';
import { QueryFastPath } from './fast-path';
import { httpRequestRules, type QueryLimits } from './request-rules';
import { CONTENT_TYPE, graphqlStatus, responseMediaType } from './response-status';
import { buildSchema } from './schema';
import { serveSubscriptions } from './subscriptions';

export interface GraphQLOptions {
  readonly store: SessionStore;
  readonly tokens: ServiceTokens;
  readonly transport: SessionTransport;
  /** The session header as configured, for the response. */
  readonly sessionHeader: string;
  readonly limits: GraphQLLimits;
  readonly queryLimits: QueryLimits;
  readonly introspection: boolean;
  readonly metrics: Metrics;
  readonly telemetry: RequestTelemetry;
  readonly drain: DrainState;
  /** NODE_ENV=production: subscription errors never carry internal messages. */
  readonly production: boolean;
  /** Answers (sends, or throws a GatewayError) a GET that prefers HTML to JSON: a browser opening the endpoint. */
  readonly browserPage: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;
}

export async function graphqlPlugin(app: FastifyInstance, options: GraphQLOptions): Promise<void> {
  // No Apollo drain plugin: it closes Fastify from inside apollo.stop(), and here it is the
  // other way round. app.close() stops accepting, lets in-flight requests finish, then stops Apollo.
  const schema = buildSchema();
  const rootFields = rootFieldsOf(schema);
  const logDefect = (error: unknown): void => app.log.error({ err: error }, 'internal error');
  const format = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => formatHttpError(formatted, error, logDefect);
  // Apollo's own landing page loads its IDE from a CDN; browsers get `browserPage` instead.
  const plugins: ApolloServerPlugin<GraphQLContext>[] = [operationReportPlugin(rootFields), statusPlugin(), ApolloServerPluginLandingPageDisabled()];
  const rules = httpRequestRules(options.queryLimits, options.introspection);
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    // Introspection is one of the shared validation rules (off: NoSchemaIntrospectionCustomRule),
    // so that both doors refuse it from the same definition.
    introspection: true,
    validationRules: [...rules.extraRules],
    parseOptions: rules.parseOptions,
    persistedQueries: false,
    // A browser sends a cross-site GET without a preflight only when it carries no custom
    // header: the session header and Authorization force one, so they make a GET safe (urql
    // and Apollo Client send queries as GET with them). A cookie-only GET stays refused.
    csrfPrevention: {
      requestHeaders: ['x-apollo-operation-name', 'apollo-require-preflight', options.sessionHeader.toLowerCase(), 'authorization'],
    },
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGTERM/SIGINT. Apollo's own handler (on outside NODE_ENV=test) would stop
    // Apollo under the requests still draining, answering them 500, and swallow the signal.
    stopOnTerminationSignals: false,
    plugins,
    formatError: format,
  });
  await apollo.start();
  app.addHook('onClose', async () => apollo.stop());

  serveSubscriptions(app, {
    schema,
    store: options.store,
    tokens: options.tokens,
    limits: options.limits,
    metrics: options.metrics,
    production: options.production,
    logError: logDefect,
  });

  const batch = sessionBatchLoader(options.store, (size) => options.metrics.observeLoaderBatch(size));
  const readLimit = options.limits.maxBatchIds;
  // Typed loosely: the integration's handler declares a string reply, the fast path sends its own.
  const apolloHandler = fastifyApolloHandler(apollo, {
    context: async (request, reply) => createContext(request, reply, options, batch, readLimit),
  }) as unknown as (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  const fastPath = new QueryFastPath(schema, rules, format, (operation) => operationLabel(operation, rootFields));
  app.route({
    method: ['GET', 'POST'],
    url: '/graphql',
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
      const answer = await fastPath.answer(query, eligible, context);
      if (answer === null) return apolloHandler.call(app, request, reply);
      request.errorCode = answer.errorCode;
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

/** The q-value an Accept header gives a media type: its most specific matching range counts. */
function quality(ranges: ReadonlyArray<{ type: string; q: number }>, mediaType: string): number {
  const [major] = mediaType.split('/');
  const match = ranges.find((range) => range.type === mediaType)
    ?? ranges.find((range) => range.type === `${major}/*`)
    ?? ranges.find((range) => range.type === '*/*');
  return match?.q ?? 0;
}

/**
 * Apollo's rule: HTML only when the client ranks it strictly above JSON. A browser's
 * `text/html,…,*\/*;q=0.8` does; `*\/*` (curl), `application/json` and GraphQL clients do not.
 */
function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const ranges = accept.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const qParam = params.find((param) => param.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    return { type, q: Number.isFinite(q) ? q : 0 };
  });
  const html = quality(ranges, 'text/html');
  return html > 0 && html > Math.max(quality(ranges, 'application/json'), quality(ranges, 'application/graphql-response+json'));
}

async function createContext(
  request: FastifyRequest,
  reply: FastifyReply,
  options: GraphQLOptions,
  batch: Parameters<typeof sessionLoader>[0],
  readLimit: number,
): Promise<GraphQLContext> {
  // Until Apollo has parsed the document, this is a GraphQL request of unknown operation.
  request.operation = 'other';
  let caller: Caller;
  try {
    caller = {
      service: isServiceCaller(request.headers.authorization, options.tokens),
      sessionId: presentedSessionId(request.headers, options.transport),
    };
  } catch (error) {
    if (error instanceof GatewayError) {
      // Apollo answers a failed context without running its plugins: report the code, and set
      // the status (a request error: nothing executed), here.
      request.errorCode = error.code;
      const media = responseMediaType(request.headers.accept) ?? 'application/json';
      throw new GraphQLError(error.message, { extensions: { ...error.extensions, http: { status: graphqlStatus(media, false, error.status) } } });
    }
    throw error;
  }
  return {
    caller,
    sessions: sessionLoader(batch, readLimit),
    sessionReadsLeft: readLimit,
    store: options.store,
    limits: options.limits,
    announceSessionId: (id) => void reply.header(options.sessionHeader, id),
    events: options.metrics,
    report: request,
  };
}

/** Every Query and Mutation field: the values the `operation` label takes besides `other`. */
function rootFieldsOf(schema: GraphQLSchema): ReadonlySet<string> {
  return new Set([...Object.keys(schema.getQueryType()?.getFields() ?? {}), ...Object.keys(schema.getMutationType()?.getFields() ?? {})]);
}

/**
 * The root field an operation runs, when it runs exactly one of the schema's (aliases and
 * repeats allowed); otherwise `'other'`. Bounded, unlike the client-chosen operation name.
 */
function operationLabel(operation: OperationDefinitionNode | undefined, rootFields: ReadonlySet<string>): string {
  let field: string | undefined;
  for (const selection of operation?.selectionSet.selections ?? []) {
    if (selection.kind !== Kind.FIELD || !rootFields.has(selection.name.value)) return 'other';
    if (field !== undefined && field !== selection.name.value) return 'other';
    field = selection.name.value;
  }
  return field ?? 'other';
}

/**
 * Tells the HTTP layer (`context.report`) which operation ran and the first error code. One
 * listener object serves every request: its state lives on the request, not in a closure.
 */
function operationReportPlugin(rootFields: ReadonlySet<string>): ApolloServerPlugin<GraphQLContext> {
  const listener: GraphQLRequestListener<GraphQLContext> = {
    async didResolveOperation({ contextValue, operation, operationName }) {
      contextValue.report.operation = operationLabel(operation, rootFields);
      contextValue.report.operationName = operationName;
    },
    async willSendResponse({ contextValue, response }) {
      if (response.body.kind !== 'single') return;
      const code = response.body.singleResult.errors?.[0]?.extensions?.code;
      if (typeof code === 'string') contextValue.report.errorCode = code;
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}

/**
 * Sets each response's status and media type from response-status.ts. A request Apollo refused
 * before reading its document (no query, a persisted-query extension) is not well-formed
 * GraphQL-over-HTTP, and neither is a mutation over GET (405): those keep Apollo's status.
 */
function statusPlugin(): ApolloServerPlugin<GraphQLContext> {
  const wellFormed = new WeakSet<object>();
  const listener: GraphQLRequestListener<GraphQLContext> = {
    async didResolveSource({ request }) {
      wellFormed.add(request);
    },
    async willSendResponse({ request, response }) {
      if (response.body.kind !== 'single' || !wellFormed.has(request) || response.http.status === 405) return;
      const media = responseMediaType(request.http?.headers.get('accept'));
      if (media === null) return; // Apollo answers 406
      const result = response.body.singleResult;
      const code = result.errors?.[0]?.extensions?.code;
      response.http.status = graphqlStatus(media, result.data !== undefined, isErrorCode(code) ? ERROR_STATUS[code] : 400);
      response.http.headers.set('content-type', CONTENT_TYPE[media]);
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}
