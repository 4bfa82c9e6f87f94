/**
 * The async iterator behind `subscription { sessionChanges }`: the session service's change feed turned into
 * a stream of events for one subscriber.
 *
 * It starts with a SUBSCRIBED event once the feed has confirmed the listener, so a client knows
 * from which moment on it sees every change. It ends with STORE_UNAVAILABLE the moment the feed
 * can no longer promise that (the gateway lost its subscription to Redis), and also when the
 * subscriber falls too far behind (more than `maxQueued` events waiting): dropping events
 * silently is the one thing it must never do, since a client would keep serving what they
 * invalidate. Either way the stream ends with a `ChangeStreamEnded`, which says why, so the
 * subscriptions server can count it (`gateway_change_streams_ended_total`): an operator must be
 * able to see subscribers being cut off, and tell a lost Redis subscription from a slow client.
 */
import { GatewayError } from '../errors';
import type { ChangeEvent } from '../session/changes';
import type { ChangeFeed } from '../sessions/service';

const DEFAULT_MAX_QUEUED = 10_000;

/**
 * Why a stream ended early: `feed_lost`, the gateway lost (or could not make) its subscription to
 * Redis; `fell_behind`, this subscriber had more than `maxQueued` events waiting.
 */
export type ChangeStreamEndReason = 'feed_lost' | 'fell_behind';
export const CHANGE_STREAM_END_REASONS: readonly ChangeStreamEndReason[] = ['feed_lost', 'fell_behind'];

/** STORE_UNAVAILABLE for the client, as ever; the reason is for the metrics. */
export class ChangeStreamEnded extends GatewayError {
  constructor(
    readonly reason: ChangeStreamEndReason,
    message: string,
    cause?: unknown,
  ) {
    super('STORE_UNAVAILABLE', message, { cause });
  }
}

export function changeStream(feed: ChangeFeed, maxQueued = DEFAULT_MAX_QUEUED): AsyncIterableIterator<ChangeEvent> {
  const queue: ChangeEvent[] = [];
  let waiting: { resolve(result: IteratorResult<ChangeEvent>): void; reject(error: unknown): void } | null = null;
  let failure: GatewayError | null = null;
  let finished = false;
  let detach: (() => void) | null = null;

  const push = (event: ChangeEvent): void => {
    if (finished || failure !== null) return;
    if (waiting !== null) {
      const { resolve } = waiting;
      waiting = null;
      resolve({ value: event, done: false });
      return;
    }
    if (queue.length >= maxQueued) return fail(new ChangeStreamEnded('fell_behind', 'the subscriber fell too far behind; changes were dropped'));
    queue.push(event);
  };
  const fail = (error: GatewayError): void => {
    if (finished || failure !== null) return;
    failure = error;
    detach?.();
    if (waiting !== null) {
      const { reject } = waiting;
      waiting = null;
      reject(error);
    }
  };
  const finish = (): IteratorResult<ChangeEvent> => {
    finished = true;
    detach?.();
    queue.length = 0;
    if (waiting !== null) waiting.resolve({ value: undefined, done: true });
    waiting = null;
    return { value: undefined, done: true };
  };

  feed
    .listen({ change: push, lost: (reason) => fail(new ChangeStreamEnded('feed_lost', `changes may have been missed: ${reason}`)) })
    .then(
      (stop) => {
        detach = stop;
        if (finished || failure !== null) stop();
        else push({ digest: '', kind: 'SUBSCRIBED', version: 0, reason: null });
      },
      (error: unknown) => {
        // A refusal (not a service) stays what it is; a store that cannot subscribe is a lost feed.
        if (error instanceof GatewayError && error.code !== 'STORE_UNAVAILABLE') return fail(error);
        fail(new ChangeStreamEnded('feed_lost', error instanceof GatewayError ? error.message : 'the change feed is unavailable', error));
      },
    );

  return {
    next(): Promise<IteratorResult<ChangeEvent>> {
      const event = queue.shift();
      if (event !== undefined) return Promise.resolve({ value: event, done: false });
      if (failure !== null) return Promise.reject(failure);
      if (finished) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    return(): Promise<IteratorResult<ChangeEvent>> {
      return Promise.resolve(finish());
    },
    throw(error: unknown): Promise<IteratorResult<ChangeEvent>> {
      finish();
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
