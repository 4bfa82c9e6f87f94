/**
 * The storage contract every face (GraphQL, REST) talks to. Small on purpose; each
 * implementation passes the same conformance suite (`test/store/store.contract.ts`).
 *
 * Contract, in plain words:
 * - Ids handed to a store are well-formed (`isWellFormedSessionId`); checking is the caller's job.
 * - Every compound operation is atomic in the store: no read-then-write across calls.
 * - `create` never overwrites: it answers `null` when the id is taken.
 * - `getMany` answers in the order asked, `null` where a session is missing or expired, and
 *   slides the expiry of each session found, writing at most once per touch interval.
 * - `readAttribute` is `getMany` of one session narrowed to one attribute's stored JSON bytes:
 *   the REST shim's read, without decoding what it does not send. It slides the expiry the same way.
 * - `update` applies a patch and slides the expiry, or throws SESSION_NOT_FOUND /
 *   VERSION_CONFLICT / PAYLOAD_TOO_LARGE having written nothing. It never brings back a session
 *   that has expired or been revoked.
 * - `destroy` answers whether a session was there to remove.
 * - Every change that succeeds (create, update, a destroy that removed something) is announced on
 *   `changes`, in the same atomic step as the write, as the session's digest, the kind of change
 *   and the session's version after it (a revoke counts as one more version). Reads and touches
 *   announce nothing. A failed write announces nothing.
 * - When the backing service cannot answer, every operation throws STORE_UNAVAILABLE; nothing is
 *   reported done that was not stored.
 */
import type { NewSession, SessionPatch, SessionRecord } from '../session/model';

/** The store's operations, as named in metrics. */
export type StoreOperation = 'create' | 'getMany' | 'touch' | 'update' | 'destroy' | 'ping';

/**
 * Told about every backing-service command when it settles: which operation, how long it took
 * in seconds, and whether it succeeded. Must not throw; it runs on every store call.
 */
export type CommandObserver = (operation: StoreOperation, seconds: number, ok: boolean) => void;

/** What `readAttribute` found: no session, or a session and its attribute's JSON (null if absent). */
export type AttributeRead = { readonly found: false } | { readonly found: true; readonly json: Buffer | null };

export const NO_SESSION: AttributeRead = Object.freeze({ found: false });

/** How a session changed. A revoke is also a version, one past the last. */
export type ChangeKind = 'ISSUED' | 'UPDATED' | 'REVOKED';

/** One announced change: never the ID, only its digest (the name the store keys it by). */
export interface SessionChange {
  readonly digest: string;
  readonly kind: ChangeKind;
  readonly version: number;
}

/** What a change-feed listener is told. */
export interface ChangeListener {
  change(change: SessionChange): void;
  /**
   * The feed can no longer promise that every change reaches this listener (the connection to
   * the store's event channel dropped). Called once; the listener is detached after it.
   */
  lost(reason: string): void;
}

export interface ChangeFeed {
  /**
   * Attaches a listener. Resolves once every change from then on will reach it; rejects with
   * STORE_UNAVAILABLE when the feed cannot promise that now. The function it resolves to
   * detaches the listener.
   */
  listen(listener: ChangeListener): Promise<() => void>;
}

export interface SessionStore {
  /** `'redis'` or `'memory'`: shown in logs and health output. */
  readonly kind: string;
  create(id: string, session: NewSession): Promise<SessionRecord | null>;
  getMany(ids: readonly string[]): Promise<Array<SessionRecord | null>>;
  readAttribute(id: string, name: string): Promise<AttributeRead>;
  update(id: string, patch: SessionPatch): Promise<SessionRecord>;
  destroy(id: string): Promise<boolean>;
  /** Every change to every session, as it is written. */
  readonly changes: ChangeFeed;
  /** Resolves when the store can serve (Redis: connected), rejects with STORE_UNAVAILABLE. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
