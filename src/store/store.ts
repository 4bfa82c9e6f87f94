/**
 * The storage contract. Only the session service (`sessions/service.ts`) calls a store. Small on
 * purpose; each implementation passes the same conformance suite (`test/store/store.contract.ts`).
 *
 * Contract, in plain words:
 * - A store is keyed by digest (`sessionDigest(id)`): it never sees a session ID. Checking an
 *   ID's shape and making its digest are the service's job.
 * - A store keeps time but makes no rule of it: every write is given the time it happens
 *   (`nowMs`, on the store's clock, `now()`) and the deadline the session rules computed for it
 *   (`expiresAtMs`), and the session is gone from that deadline on.
 * - Every compound operation is atomic in the store: no read-then-write across calls.
 * - `create` never overwrites: it answers `null` when the digest is taken.
 * - `getMany` answers in the order asked, `null` where a session is missing or expired. Reads
 *   write nothing; sliding the expiry is a separate `touch`, which writes only if the session was
 *   not used since the read that decided it (so a touch never moves lastAccessedAt backwards and
 *   never brings a session back).
 * - `readAttribute` is a read of one session narrowed to one attribute's stored JSON bytes: the
 *   REST shim's read, without decoding what it does not send.
 * - `update` applies a patch, or throws SESSION_NOT_FOUND / VERSION_CONFLICT / PAYLOAD_TOO_LARGE
 *   having written nothing. An update counts as use: its deadline was computed for the idle time
 *   the session will have (`times.maxInactiveSeconds`); if the patched session has another idle
 *   time, nothing is written and the store answers the idle time to compute it for. It never
 *   brings back a session that has expired or been revoked.
 * - `destroy` answers whether a session was there to remove.
 * - Every change that succeeds (create, update, a destroy that removed something) is announced on
 *   `changes`, in the same atomic step as the write, as the session's digest, the kind of change
 *   and the session's version after it (a revoke counts as one more version). Reads and touches
 *   announce nothing. A failed write announces nothing.
 * - When the backing service cannot answer, every operation throws STORE_UNAVAILABLE; nothing is
 *   reported done that was not stored.
 */
import type { NewSession, SessionPatch, StoredSession } from '../session/model';

/** The store's operations, as named in metrics. */
export type StoreOperation = 'create' | 'getMany' | 'readAttribute' | 'touch' | 'update' | 'destroy' | 'ping';

/**
 * Told about every backing-service command when it settles: which operation, how long it took
 * in seconds, and whether it succeeded. Must not throw; it runs on every store call.
 */
export type CommandObserver = (operation: StoreOperation, seconds: number, ok: boolean) => void;

/**
 * What `readAttribute` found: no session, or a session, its attribute's JSON (null if absent)
 * and what the service needs to decide whether the read is due to slide the expiry.
 */
export type AttributeRead =
  | { readonly found: false }
  | { readonly found: true; readonly json: Buffer | null; readonly lastAccessedAtMs: number; readonly maxInactiveSeconds: number };

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

/** When a write happens, on the store's clock, and the deadline the session rules gave it. */
export interface WriteTimes {
  readonly nowMs: number;
  readonly expiresAtMs: number;
}

/** An update's times: `expiresAtMs` holds for a session whose idle time is `maxInactiveSeconds`. */
export interface UpdateTimes extends WriteTimes {
  readonly maxInactiveSeconds: number;
}

/** An update written, or not written because the patched session's idle time is another. */
export type UpdateResult =
  | { readonly written: true; readonly session: StoredSession }
  | { readonly written: false; readonly maxInactiveSeconds: number };

export interface SessionStore {
  /** `'redis'` or `'memory'`: shown in logs and health output. */
  readonly kind: string;
  /** The store's clock, in epoch milliseconds (Redis: ours, corrected by what Redis's TIME shows). */
  now(): number;
  create(digest: string, session: NewSession, times: WriteTimes): Promise<StoredSession | null>;
  getMany(digests: readonly string[]): Promise<Array<StoredSession | null>>;
  readAttribute(digest: string, name: string): Promise<AttributeRead>;
  /** Slides the expiry if the session was last used at `seenLastAccessedAtMs`; answers whether it wrote. */
  touch(digest: string, seenLastAccessedAtMs: number, times: WriteTimes): Promise<boolean>;
  update(digest: string, patch: SessionPatch, times: UpdateTimes): Promise<UpdateResult>;
  destroy(digest: string): Promise<boolean>;
  /** Every change to every session, as it is written. */
  readonly changes: ChangeFeed;
  /** Resolves when the store can serve (Redis: connected), rejects with STORE_UNAVAILABLE. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
