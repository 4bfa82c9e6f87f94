/**
 * The per-request GraphQL context: who is calling, and a DataLoader through which every
 * Session read of the request goes. Reads made in one tick (aliases, `sessions(ids:)`, the
 * caller's own session) become one `store.getMany`, which the Redis store answers with one
 * command; a session asked for twice is fetched once.
 */
import DataLoader from 'dataloader';
import type { SessionRecord, SessionLimits } from '../session/model';
import type { Caller } from '../session/caller';
import type { SessionStore } from '../store/store';

export interface GraphQLLimits extends SessionLimits {
  readonly maxBatchIds: number;
}

export interface GraphQLContext {
  readonly caller: Caller;
  readonly sessions: DataLoader<string, SessionRecord | null>;
  readonly store: SessionStore;
  readonly limits: GraphQLLimits;
  /** Puts a newly issued ID in the response's session header. */
  readonly announceSessionId: (id: string) => void;
}

export function sessionLoader(store: SessionStore): DataLoader<string, SessionRecord | null> {
  return new DataLoader((ids: readonly string[]) => store.getMany(ids));
}
