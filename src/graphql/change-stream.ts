/**
 * The async iterator behind `subscription { sessionChanges }`: the session service's change feed turned into
 * a stream of events for one subscriber.
 *
 * It starts with a SUBSCRIBED event once the feed has confirmed the listener, so a client knows
 * from which moment on it sees every change. It ends with STORE_UNAVAILABLE the moment the feed
 * can no longer promise that (the gateway lost its subscription to Redis), and also when the
 * subscriber falls too far behind (more than `maxQueued` events waiting): dropping events
 * silently is the one thing it must never do, since a client would keep serving what they
 * invalidate.
 */
import { GatewayError } from '../errors';
import type { ChangeEvent } from '../session/changes';
import type { ChangeFeed } from '../sessions/service';

const DEFAULT_MAX_QUEUED = 10_000;

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
    if (queue.length >= maxQueued) return fail(new GatewayError('STORE_UNAVAILABLE', 'the subscriber fell too far behind; changes were dropped'));
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
    .listen({ change: push, lost: (reason) => fail(new GatewayError('STORE_UNAVAILABLE', `changes may have been missed: ${reason}`)) })
    .then(
      (stop) => {
        detach = stop;
        if (finished || failure !== null) stop();
        else push({ digest: '', kind: 'SUBSCRIBED', version: 0, reason: null });
      },
      (error: unknown) => fail(error instanceof GatewayError ? error : new GatewayError('STORE_UNAVAILABLE', 'the change feed is unavailable')),
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
