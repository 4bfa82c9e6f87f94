/**
 * `POST /graphql` (and `GET /graphql` for queries and the IDE): Apollo Server on Fastify.
 * Builds the per-request context, maps every error onto the closed set of codes in errors.ts,
 * and stops Apollo with the app.
 */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { GatewayError, isErrorCode } from '../errors';
import { isServiceCaller, type Caller, type ServiceTokens } from '../session/caller';
import { presentedSessionId, type SessionTransport } from '../session/transport';
import type { SessionStore } from '../store/store';
import { sessionLoader, type GraphQLContext, type GraphQLLimits } from './context';
import { QueryFastPath } from './fast-path';
import { buildSchema } from './schema';

export interface GraphQLOptions {
  readonly store: SessionStore;
  readonly tokens: ServiceTokens;
  readonly transport: SessionTransport;
  /** The session header as configured, for the response. */
  readonly sessionHeader: string;
  readonly limits: GraphQLLimits;
  readonly introspection: boolean;
  readonly landingPage: boolean;
}

/** Apollo's own codes for a request that is wrong before it runs. */
const APOLLO_INPUT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

export async function graphqlPlugin(app: FastifyInstance, options: GraphQLOptions): Promise<void> {
  // No Apollo drain plugin: it closes Fastify from inside apollo.stop(), and here it is the
  // other way round. app.close() stops accepting, lets in-flight requests finish, then stops Apollo.
  const plugins: ApolloServerPlugin<GraphQLContext>[] = [
    options.landingPage ? ApolloServerPluginLandingPageLocalDefault({ embed: true }) : ApolloServerPluginLandingPageDisabled(),
  ];
  const schema = buildSchema();
  const format = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => formatError(formatted, error, app);
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    introspection: options.introspection,
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGTERM/SIGINT and stops Apollo through app.close(); Apollo's own handlers
    // would race it and leave the process hanging.
    stopOnTerminationSignals: false,
    plugins,
    formatError: format,
  });
  await apollo.start();
  app.addHook('onClose', async () => apollo.stop());

  // Typed loosely: the integration's handler declares a string reply, the fast path sends its own.
  const apolloHandler = fastifyApolloHandler(apollo, {
    context: async (request, reply) => createContext(request, reply, options),
  }) as unknown as (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  const fastPath = new QueryFastPath(schema, format);
  app.route({
    method: ['GET', 'POST'],
    url: '/graphql',
    handler: async (request, reply) => {
      const body = fastPath.eligible(request);
      const document = body === undefined ? null : fastPath.document(body);
      if (body === undefined || document === null) return apolloHandler.call(app, request, reply);
      let context: GraphQLContext;
      try {
        context = await createContext(request, reply, options);
      } catch {
        return apolloHandler.call(app, request, reply); // Apollo answers the caller error (e.g. a wrong token)
      }
      const answer = await fastPath.answer(document, body, context);
      return reply.code(answer.status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(answer.body);
    },
  });
}

async function createContext(request: FastifyRequest, reply: FastifyReply, options: GraphQLOptions): Promise<GraphQLContext> {
  let caller: Caller;
  try {
    caller = {
      service: isServiceCaller(request.headers.authorization, options.tokens),
      sessionId: presentedSessionId(request.headers, options.transport),
    };
  } catch (error) {
    if (error instanceof GatewayError) throw new GraphQLError(error.message, { extensions: error.extensions });
    throw error;
  }
  return {
    caller,
    sessions: sessionLoader(options.store),
    store: options.store,
    limits: options.limits,
    announceSessionId: (id) => void reply.header(options.sessionHeader, id),
  };
}

function formatError(formatted: GraphQLFormattedError, error: unknown, app: FastifyInstance): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof GatewayError) {
    if (original.code === 'INTERNAL') app.log.error({ err: original.cause ?? original }, 'internal error');
    return { ...formatted, message: original.code === 'INTERNAL' ? 'internal error' : original.message, extensions: { code: original.code } };
  }
  const code = formatted.extensions?.code;
  if (isErrorCode(code)) return formatted;
  if (typeof code === 'string' && APOLLO_INPUT_CODES.has(code)) {
    return { ...formatted, extensions: { code: 'BAD_USER_INPUT' } };
  }
  app.log.error({ err: original }, 'internal error');
  return { message: 'internal error', extensions: { code: 'INTERNAL' } };
}
