/**
 * The closed set of error codes the gateway answers with, and their one mapping to HTTP.
 *
 * GraphQL puts the code in `errors[].extensions.code` and answers with the same HTTP status
 * REST does; REST answers `{ "error": { "code", "message" } }`. Nothing else in the code base
 * invents a status number: faces throw a `GatewayError` and the edges translate it.
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
  /** The request is malformed: wrong types, bad names, out-of-range numbers, GraphQL syntax. */
  BAD_USER_INPUT: 400,
  /** The request or the session it would produce is larger than the configured limits. */
  PAYLOAD_TOO_LARGE: 413,
  /** No route answers this method and path. */
  NOT_FOUND: 404,
  /** The session store (Redis) did not answer; nothing was written that was reported. */
  STORE_UNAVAILABLE: 503,
  /** A defect in the gateway; details go to the log, never to the client. */
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class GatewayError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatewayError';
    this.code = code;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  /**
   * What GraphQL shows in `errors[].extensions`. graphql-js copies an error's `extensions` when
   * it wraps a resolver's error, and Apollo turns `http.status` into the response status (then
   * removes it), so a resolver only has to throw.
   */
  get extensions(): { code: ErrorCode; http: { status: number } } {
    return { code: this.code, http: { status: this.status } };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_STATUS, value);
}

/** The body REST routes answer with on error. */
export function restErrorBody(error: GatewayError): { error: { code: ErrorCode; message: string } } {
  return { error: { code: error.code, message: error.message } };
}
