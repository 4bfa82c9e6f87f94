/**
 * `POST /graphql` (and `GET /graphql` for queries): Apollo Server on Fastify. A browser's
 * `GET /graphql` goes to `browserPage` (the IDE) instead. Builds the per-request context, maps
 * every error onto the closed set of codes in errors.ts, and stops Apollo with the app.
 */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { GatewayError, isErrorCode } from '../errors';
import { isServiceCaller, type Caller, type ServiceTokens } from '../session/caller';
import { presentedSessionId, type SessionTransport } from '../session/transport';
import type { SessionStore } from '../store/store';
import { sessionLoader, type GraphQLContext, type GraphQLLimits } from './context';
import { buildSchema } from './schema';

export interface GraphQLOptions {
  readonly store: SessionStore;
  readonly tokens: ServiceTokens;
  readonly transport: SessionTransport;
  /** The session header as configured, for the response. */
  readonly sessionHeader: string;
  readonly limits: GraphQLLimits;
  readonly introspection: boolean;
  /** Answers (sends, or throws a GatewayError) a GET that prefers HTML to JSON: a browser opening the endpoint. */
  readonly browserPage: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;
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
  // Apollo's own landing page loads its IDE from a CDN; browsers get `browserPage` instead.
  const plugins: ApolloServerPlugin<GraphQLContext>[] = [ApolloServerPluginLandingPageDisabled()];
  const apollo = new ApolloServer<GraphQLContext>({
    schema: buildSchema(),
    introspection: options.introspection,
    includeStacktraceInErrorResponses: false,
    plugins,
    formatError: (formatted, error) => formatError(formatted, error, app),
  });
  await apollo.start();
  app.addHook('onClose', async () => apollo.stop());

  const handler = fastifyApolloHandler(apollo, {
    context: async (request, reply) => createContext(request, reply, options),
  });
  app.route({
    method: ['GET', 'POST'],
    url: '/graphql',
    // A browser opening the endpoint gets `browserPage`, which answers (or throws) before Apollo runs.
    onRequest: async (request, reply) => {
      if (request.method === 'GET' && prefersHtml(request.headers.accept)) return options.browserPage(request, reply);
      return undefined;
    },
    handler,
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
