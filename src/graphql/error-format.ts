/**
 * Every GraphQL error a client sees becomes one of errors.ts's codes, shaped by errors.ts's
 * `graphqlErrorBody`. Two formatters, one per transport, over the same rules:
 *
 * - `formatHttpError`: Apollo's `formatError`, also used by the compiled path (fast-path.ts) on
 *   the error objects it builds the way Apollo does, so both HTTP doors answer alike;
 * - `formatSocketError`: the subscriptions' (graphql-ws hands over graphql-js errors, not
 *   Apollo's formatted ones).
 *
 * The gateway's own errors say what they say; graphql-js's and Apollo's request errors (syntax,
 * validation, variables, a malformed request) are the client's: BAD_USER_INPUT, or
 * PERSISTED_QUERY_NOT_SUPPORTED. Only an error nobody coded is INTERNAL (`asGatewayError`), and
 * is logged through `logDefect`.
 */
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import { asGatewayError, GatewayError, graphqlErrorBody, isErrorCode } from '../errors';

/** Logs a defect behind an INTERNAL error (the cause, when the error has one). */
export type DefectLog = (error: unknown) => void;

/** Apollo's own codes for a request that is wrong before it runs. */
const APOLLO_INPUT_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE']);

/** Apollo's `formatError`, and the compiled path's: an HTTP response's errors. */
export function formatHttpError(formatted: GraphQLFormattedError, error: unknown, logDefect: DefectLog): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof GatewayError) return { ...formatted, ...gatewayErrorBody(original, logDefect) };
  const code = formatted.extensions?.code;
  if (code === 'PERSISTED_QUERY_NOT_SUPPORTED' || code === 'PERSISTED_QUERY_NOT_FOUND') {
    return { ...formatted, message: 'automatic persisted queries are not supported: send the query text', extensions: { code: 'PERSISTED_QUERY_NOT_SUPPORTED' } };
  }
  if (isErrorCode(code)) return formatted;
  if ((typeof code === 'string' && APOLLO_INPUT_CODES.has(code)) || isClientStatus(error)) {
    return { ...formatted, extensions: { code: 'BAD_USER_INPUT' } };
  }
  // A defect: nothing of it (path, locations, message) goes to the client.
  return gatewayErrorBody(asGatewayError(original), logDefect);
}

/** The subscriptions' errors, shaped as over HTTP: a code from errors.ts, never a stack. */
export function formatSocketError(error: GraphQLError, logDefect: DefectLog): GraphQLFormattedError {
  const original = error.originalError;
  if (original === undefined || original === null) {
    // graphql-js's own errors (syntax, validation, variables): the client's mistake.
    return { message: error.message, ...(error.locations ? { locations: error.locations } : {}), extensions: { code: 'BAD_USER_INPUT' } };
  }
  return gatewayErrorBody(asGatewayError(original), logDefect);
}

/** The body of a gateway error; a defect's cause is logged on the way. */
function gatewayErrorBody(error: GatewayError, logDefect: DefectLog): ReturnType<typeof graphqlErrorBody> {
  if (error.code === 'INTERNAL') logDefect(error.cause ?? error);
  return graphqlErrorBody(error);
}

/** An error Apollo raised with a 4xx of its own: the request's fault, whatever its code. */
function isClientStatus(error: unknown): boolean {
  const status = (error as { extensions?: { http?: { status?: unknown } } } | null)?.extensions?.http?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}
