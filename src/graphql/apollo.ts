/**
 * Apollo Server, the GraphQL door every request can take (the compiled path, fast-path.ts, takes
 * the common queries it can): set up from the shared request rules (request-rules.ts) and the
 * shared error formatter (error-format.ts), with two plugins of the gateway's own: one tells the
 * request log which operation ran and how it ended, one sets the status and media type per the
 * GraphQL-over-HTTP spec (response-status.ts).
 *
 * No Apollo drain plugin: it closes Fastify from inside apollo.stop(), and here it is the other
 * way round. app.close() stops accepting, lets in-flight requests finish, then stops Apollo
 * (plugin.ts).
 */
import { ApolloServer, type ApolloServerPlugin, type GraphQLRequestListener } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { ERROR_STATUS, isErrorCode } from '../errors';
import type { Tracing } from '../tracing';
import type { GraphQLContext } from './context';
import { operationLabel } from './operation-label';
import type { RequestRules } from './request-rules';
import { CONTENT_TYPE, graphqlStatus, responseMediaType } from './response-status';

export interface ApolloOptions {
  readonly schema: GraphQLSchema;
  readonly rules: RequestRules;
  /** The schema's root fields (operation-label.ts). */
  readonly rootFields: ReadonlySet<string>;
  readonly formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** The app's tracing when on: the operation's span, as the compiled path makes it (plugin.ts). */
  readonly tracing: Tracing | null;
}

/** A started Apollo Server; the caller stops it. */
export async function startApollo(options: ApolloOptions): Promise<ApolloServer<GraphQLContext>> {
  const { rules } = options;
  const apollo = new ApolloServer<GraphQLContext>({
    schema: options.schema,
    // Introspection is one of the shared validation rules (off: NoSchemaIntrospectionCustomRule),
    // so that both doors refuse it from the same definition.
    introspection: true,
    validationRules: [...rules.extraRules],
    parseOptions: rules.parseOptions,
    persistedQueries: rules.persistedQueries,
    allowBatchedHttpRequests: rules.batching,
    csrfPrevention: { requestHeaders: [...rules.csrfRequestHeaders] },
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGTERM/SIGINT. Apollo's own handler (on outside NODE_ENV=test) would stop
    // Apollo under the requests still draining, answering them 500, and swallow the signal.
    stopOnTerminationSignals: false,
    // Apollo's own landing page loads its IDE from a CDN; browsers get the gateway's (plugin.ts).
    plugins: [
      operationReportPlugin(options.rootFields),
      statusPlugin(),
      ...(options.tracing === null ? [] : [operationTracePlugin(options.tracing, options.rootFields)]),
      ApolloServerPluginLandingPageDisabled(),
    ],
    formatError: options.formatError,
  });
  await apollo.start();
  return apollo;
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
 * The operation's span (tracing.ts), opened once Apollo knows the operation and closed with its
 * first error code: what the compiled path does around its execution (plugin.ts).
 */
function operationTracePlugin(tracing: Tracing, rootFields: ReadonlySet<string>): ApolloServerPlugin<GraphQLContext> {
  const listener: GraphQLRequestListener<GraphQLContext> = {
    async didResolveOperation({ operation, operationName }) {
      tracing.operationStarted(operation?.operation ?? 'query', operationName, operationLabel(operation, rootFields));
    },
    async willSendResponse({ response }) {
      const code = response.body.kind === 'single' ? response.body.singleResult.errors?.[0]?.extensions?.code : undefined;
      tracing.operationEnded(typeof code === 'string' ? code : null);
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
