/**
 * Sessions written straight into a store, for tests that need one in a given state (the bench
 * seeds the same way): what the service does on issue, without the service.
 */
import { newStoredSession, NO_DEVICE, storedDeadlineMs, type NewSession, type StoredSession } from '../../src/session/model';
import type { SessionStore } from '../../src/store/store';

export type SeedFields = Pick<NewSession, 'principal' | 'attributes' | 'maxInactiveSeconds'> & Partial<NewSession>;

/** A NewSession with no lifetime, no authentication and no device unless given. */
export function newSession(fields: SeedFields): NewSession {
  return { lifetimeSeconds: 0, authenticated: false, device: NO_DEVICE, ...fields };
}

/** Stores a session under `digest` as issued now (the store's clock); null if the digest is taken. */
export async function seedSession(store: SessionStore, digest: string, fields: SeedFields, nowMs = store.now()): Promise<StoredSession | null> {
  const stored = newStoredSession(newSession(fields), nowMs);
  const created = await store.create(digest, stored, storedDeadlineMs(stored), null);
  return created === null ? null : created.session;
}
