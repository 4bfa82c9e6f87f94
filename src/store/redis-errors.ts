/**
 * What a failed Redis call means, decided in one place for every connection the store uses.
 *
 * - An outage is STORE_UNAVAILABLE, worded for what is known of a write: NOT_APPLIED when the
 *   command never left (offline, with the offline queue off) or Redis refused to run it now
 *   (LOADING, OOM, READONLY, BUSY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN…); UNKNOWN when it was sent
 *   and no answer came (timed out, or the connection closed under it): Redis may have run it, or
 *   may run it yet.
 * - Redis refusing a command it understood (a script bug, a wrong type under our namespace) is our
 *   defect: INTERNAL. So is a redirect (MOVED, ASK) or a cross-slot reply that reaches us: a
 *   cluster-aware client follows redirects, and every key of one command shares a hash tag, so
 *   either means the gateway is wired wrongly. It must never be reported as an outage, which
 *   would send operators looking at a healthy Redis.
 */
import { ReplyError } from 'ioredis';
import { GatewayError, type WriteOutcome } from '../errors';
import type { StoreOperation } from './store';

const WRITES: ReadonlySet<StoreOperation> = new Set(['create', 'update', 'destroy', 'retire', 'replace', 'revokePrincipal']);

/** ioredis's words for a command it never sent (offline, with the offline queue off). */
const NEVER_SENT = /isn't writeable|enableOfflineQueue/;

/** Replies that say the gateway asked wrongly, not that Redis cannot serve now. */
const DEFECT_REPLY = /^(ERR|WRONGTYPE|NOSCRIPT|MOVED|ASK|CROSSSLOT)\b/;

/**
 * STORE_UNAVAILABLE, worded for what is known. A read's outcome does not matter (reads change
 * nothing a client can see); a write's does, so a write's error carries it.
 */
export function storeUnavailable(operation: StoreOperation, outcome: WriteOutcome, reason: string, cause?: unknown): GatewayError {
  const write = WRITES.has(operation);
  const message =
    outcome === 'NOT_APPLIED'
      ? `the session store is unavailable (${reason})${write ? '; nothing was written' : ''}`
      : `the session store ${reason}${write ? '; the write may or may not be applied: read the session (or pass expectedVersion) before retrying' : ''}`;
  return new GatewayError('STORE_UNAVAILABLE', message, write ? { outcome, cause } : { cause });
}

/** The coded error for whatever a Redis call rejected with. */
export function classifyRedisError(operation: StoreOperation, error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ReplyError) {
    if (DEFECT_REPLY.test(message)) {
      const kind = /^(MOVED|ASK|CROSSSLOT)\b/.test(message) ? 'answered a redirect or cross-slot reply: the connection does not fit the deployment' : 'rejected a command';
      return new GatewayError('INTERNAL', `the session store ${kind} (${message.split(' ')[0] ?? 'error'})`, { cause: error });
    }
    return storeUnavailable(operation, 'NOT_APPLIED', `Redis refused: ${message.split(' ')[0] ?? 'error'}`, error);
  }
  if (NEVER_SENT.test(message)) return storeUnavailable(operation, 'NOT_APPLIED', 'not connected', error);
  // A Cluster client that retried through redirects and CLUSTERDOWN until it gave up: a failover
  // or resharding that outlasted the deadline. An earlier attempt may have reached a node.
  if (/^Too many Cluster redirections/.test(message)) return storeUnavailable(operation, 'UNKNOWN', 'is failing over (the cluster did not settle in time)', error);
  if (/timed out/i.test(message)) return storeUnavailable(operation, 'UNKNOWN', 'did not answer in time', error);
  return storeUnavailable(operation, 'UNKNOWN', 'lost the connection', error);
}
