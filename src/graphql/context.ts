/**
 * The per-request GraphQL context: who is calling, and a DataLoader through which every
 * Session read of the request goes. Reads made in one tick (aliases, `sessions(ids:)`, the
 * caller's own session) become one `getMany` of the session service, which the Redis store
 * answers with one command; a session asked for twice is fetched once.
 *
 * What one request may read is bounded twice: `sessionReadsLeft` counts down the ids its
 * `sessions(ids:)` fields ask for (MAX_BATCH_IDS for the whole request, however many aliases),
 * and the DataLoader never sends more than that many ids in one store call.
 */
import DataLoader from 'dataloader';
import type { Device, SessionRecord, SessionLimits } from '../session/model';
import type { Caller } from '../session/caller';
import type { SessionService } from '../sessions/service';

export interface GraphQLLimits extends SessionLimits {
  readonly maxBatchIds: number;
}

export interface GraphQLContext {
  readonly caller: Caller;
  readonly sessions: DataLoader<string, SessionRecord | null>;
  /** How many more session ids this request's `sessions(ids:)` fields may ask for. */
  sessionReadsLeft: number;
  /** The one way to sessions: rights, rules and the store behind them. */
  readonly service: SessionService;
  readonly limits: GraphQLLimits;
  /** Puts a newly issued ID in the response's session header. */
  readonly announceSessionId: (id: string) => void;
  /** What the request says of the caller's device (user agent, address), for a frontend's own rotation. */
  readonly requestDevice: () => Device;
  /** The response's session cookie: set or cleared when the gateway sets cookies, else untouched. */
  readonly sessionCookie: SessionCookieWriter;
  /** Where the request log and metrics learn what the request was and how it ended. */
  readonly report: OperationReport;
}

/**
 * What a resolver may do to the caller's session cookie (SESSION_COOKIE_SET; the header itself is
 * written by session/transport.ts). Both do nothing when the gateway sets no cookies, and over
 * WebSocket, where there is no response to carry one.
 */
export interface SessionCookieWriter {
  /**
   * Hands the browser session `id` in its cookie, for `maxAgeSeconds`: the session's time to
   * expiry (`secondsToExpiry(record.expiresAtMs, record.lastAccessedAtMs)` for a session just
   * written, e.g. issued or rotated).
   */
  set(id: string, maxAgeSeconds: number): void;
  /** Removes the session cookie from the browser (logout). */
  clear(): void;
}

/** The writer where no cookie is set. */
export const NO_SESSION_COOKIE: SessionCookieWriter = { set: () => undefined, clear: () => undefined };

/**
 * What GraphQL tells the HTTP layer about a request, for its log line and metrics. The HTTP
 * request object itself carries these fields, so reporting allocates nothing.
 */
export interface OperationReport {
  /** The root field the operation runs when it is one of the schema's, else `'other'`. */
  operation: string | null;
  /** The operation's own name, as the client wrote it (log only, never a metric label). */
  operationName: string | null;
  /** The code of the first error in the response, if any. */
  errorCode: string | null;
}

/**
 * The batch function, built once per app: every request's DataLoader shares it. Tells
 * `onBatch` how many IDs each batch reads.
 */
export function sessionBatchLoader(service: SessionService, onBatch: (size: number) => void): DataLoader.BatchLoadFn<string, SessionRecord | null> {
  return (ids) => {
    onBatch(ids.length);
    return service.getMany(ids);
  };
}

export function sessionLoader(batch: DataLoader.BatchLoadFn<string, SessionRecord | null>, maxBatchSize: number): DataLoader<string, SessionRecord | null> {
  return new DataLoader(batch, { maxBatchSize });
}
