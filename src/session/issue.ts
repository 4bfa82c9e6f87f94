/**
 * Issuing a session: the only path by which a session ID comes into being. The ID is drawn
 * here and created if absent in the store, so an issue can never overwrite an existing session
 * (with 256 random bits a collision is not expected in the life of the universe, but the store
 * is asked rather than trusted).
 */
import { GatewayError } from '../errors';
import type { SessionStore } from '../store/store';
import { generateSessionId } from './ids';
import type { NewSession, SessionRecord } from './model';

const ATTEMPTS = 3;

export async function issueSession(store: SessionStore, session: NewSession): Promise<SessionRecord> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const record = await store.create(generateSessionId(), session);
    if (record !== null) return record;
  }
  throw new GatewayError('INTERNAL', 'could not draw a free session ID');
}
