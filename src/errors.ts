/**
 * The closed set of error codes the gateway answers with, and their one mapping to HTTP.
 *
 * REST answers `{ "error": { "code", "message", "outcome"? } }` with the status below. GraphQL
 * puts the code in `errors[].extensions.code` and follows the GraphQL-over-HTTP spec for the
 * status instead (see `graphql/response-status.ts`): with `application/json` every well-formed
 * request answers 200, so that clients (Apollo Client, urql) keep the error codes; the status
 * below is used there only for request errors answered as `application/graphql-response+json`.
 * Nothing else in the code base invents a status number: faces throw a `GatewayError` and the
 * edges translate it.
 *
 * The bodies are written here once per kind of face, and every face encodes through them:
 * `graphqlErrorBody` (one GraphQL error, on HTTP and WebSocket alike), `graphqlErrorsBody` (a
 * GraphQL request refused before GraphQL ran), `restErrorBody`. What a client may read of an
 * error is `publicMessage`, and anything thrown that is not a `GatewayError` becomes INTERNAL
 * through `asGatewayError`, its cause kept for the log.
 */
export const ERROR_STATUS = {
  /** No usable credential: no service token and no session, or a service token that is wrong. */
  UNAUTHENTICATED: 401,
  /** The caller is known (it holds a session) but the operation is for services only, or not its session. */
  FORBIDDEN: 403,
  /** The session does not exist, has expired or was revoked. */
  SESSION_NOT_FOUND: 404,
  /** `expectedVersion` did not match the stored version; nothing was written. */
  VERSION_CONFLICT: 409,
  /**
   * The principal already holds MAX_SESSIONS_PER_PRINCIPAL sessions and the policy is `refuse`:
   * no session was issued.
   */
  SESSION_LIMIT_REACHED: 409,
  /** The request is malformed: wrong types, bad names, out-of-range numbers, GraphQL syntax. */
  BAD_USER_INPUT: 400,
  /** The request or the session it would produce is larger than the configured limits. */
  PAYLOAD_TOO_LARGE: 413,
  /** No route answers this method and path. */
  NOT_FOUND: 404,
  /**
   * The session store (Redis) could not serve. `outcome` says what is known of a write:
   * NOT_APPLIED (it never reached Redis, or Redis refused it) or UNKNOWN (it timed out or the
   * connection dropped after it was sent: it may still be applied).
   */
  STORE_UNAVAILABLE: 503,
  /** Automatic persisted queries are not offered: send the query text itself. */
  PERSISTED_QUERY_NOT_SUPPORTED: 400,
  /** A defect in the gateway; details go to the log, never to the client. */
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** What is known of a write the store could not confirm (STORE_UNAVAILABLE only). */
export type WriteOutcome = 'NOT_APPLIED' | 'UNKNOWN';

/** The fields a client sees of an error, on every face. */
export type ErrorFields = {
  readonly code: ErrorCode;
  readonly outcome?: WriteOutcome;
};

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly outcome: WriteOutcome | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; outcome?: WriteOutcome }) {
    super(message, options);
    this.name = 'GatewayError';
    this.code = code;
    this.outcome = options?.outcome;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  /**
   * What GraphQL shows in `errors[].extensions`. graphql-js copies an error's `extensions` when
   * it wraps a resolver's error, so a resolver only has to throw. No HTTP status here: GraphQL's
   * status is decided per response (graphql/response-status.ts), not per error.
   */
  get extensions(): ErrorFields {
    return this.outcome === undefined ? { code: this.code } : { code: this.code, outcome: this.outcome };
  }

  /** The message a client may see: a defect's details stay in the log. */
  get publicMessage(): string {
    return this.code === 'INTERNAL' ? 'internal error' : this.message;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_STATUS, value);
}

/**
 * The error a thrown value stands for: itself when the gateway raised it, otherwise a defect
 * (INTERNAL) that keeps what was thrown as its cause, for the log and never for the client.
 */
export function asGatewayError(thrown: unknown): GatewayError {
  return thrown instanceof GatewayError ? thrown : new GatewayError('INTERNAL', 'internal error', { cause: thrown });
}

/** One GraphQL error as a client sees it, on HTTP and WebSocket alike. */
export function graphqlErrorBody(error: GatewayError): { message: string; extensions: ErrorFields } {
  return { message: error.publicMessage, extensions: error.extensions };
}

/** The body of a GraphQL request refused before any GraphQL ran (no route, a body that is not JSON or too large). */
export function graphqlErrorsBody(error: GatewayError): { errors: [{ message: string; extensions: ErrorFields }] } {
  return { errors: [graphqlErrorBody(error)] };
}

/** The body REST routes answer with on error. */
export function restErrorBody(error: GatewayError): { error: ErrorFields & { message: string } } {
  return { error: { ...error.extensions, message: error.publicMessage } };
}
