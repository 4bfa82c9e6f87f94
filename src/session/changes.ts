/**
 * What a change to a session is called, wherever it travels: the store announces a
 * `SessionChange` in the same atomic step as the write; the gateway's `sessionChanges`
 * subscription sends it to services as a `ChangeEvent`; the client library reads those events to
 * keep its near cache coherent. One definition, imported by the store, the GraphQL face and the
 * client, so none of them depends on another's module for it.
 */

/** How a session changed. A revoke is also a version, one past the last. */
export type ChangeKind = 'ISSUED' | 'UPDATED' | 'REVOKED';

/** Why a session was revoked. */
export type RevokeReason =
  /** The session revoked itself (a frontend's logout). */
  | 'LOGOUT'
  /** A service revoked it by its ID. */
  | 'REVOKED_BY_SERVICE'
  /** Its principal revoked it from another of their sessions. */
  | 'REVOKED_BY_USER'
  /** It was given a new ID; the new session is announced as ISSUED. */
  | 'ROTATED'
  /** The per-principal limit made room for a newer session. */
  | 'EVICTED'
  /** Every session of its principal was revoked (by a service, or "all my other sessions"). */
  | 'PRINCIPAL_REVOKED';

export const REVOKE_REASONS: ReadonlySet<string> = new Set<RevokeReason>(['LOGOUT', 'REVOKED_BY_SERVICE', 'REVOKED_BY_USER', 'ROTATED', 'EVICTED', 'PRINCIPAL_REVOKED']);

/** One announced change: never the ID, only its digest (the name the store keys it by). */
export interface SessionChange {
  readonly digest: string;
  readonly kind: ChangeKind;
  readonly version: number;
  /** Why, for REVOKED; null for the other kinds. */
  readonly reason: RevokeReason | null;
}

/** A change as the `sessionChanges` subscription sends it: a SUBSCRIBED event first, then each change. */
export interface ChangeEvent {
  readonly digest: string;
  readonly kind: ChangeKind | 'SUBSCRIBED';
  readonly version: number;
  readonly reason: RevokeReason | null;
}
