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
 * - No deadline a store sets is past the session's absolute deadline (`absoluteExpiresAtMs`),
 *   whatever it is given: an update's deadline is computed before anyone has read the session.
 * - A principal's sessions are indexed in the same atomic step as every write that adds,
 *   slides or removes one (see `principalSessions`); the index never outlives its last session.
 * - `create` enforces a per-principal limit in the same atomic step as the issue: it evicts the
 *   least recently used (announced as revoked, reason EVICTED) or throws SESSION_LIMIT_REACHED.
 * - `retire` ends a session that is being rotated, only at the version the rotation copied, and
 *   leaves a `Forward` in its place for the grace period; a forward is never a session (reads
 *   answer it as a `Forward`, touches and updates find no session; a destroy without an owner
 *   removes it and answers the forward, so that a logout presenting the old ID can end the
 *   session it names; one with an owner leaves it, since a forward is nobody's).
 * - `replace` is a rotation that keeps the principal (so the tag, the slot and the index): the
 *   copy is created and the old session retired in one atomic step. The principal's number of
 *   sessions never changes, so no limit applies, and no other write can see both or neither.
 * - `revokePrincipal` removes every session of a principal that was indexed when it began.
 * - Every change that succeeds (create, update, a destroy that removed something, a retire, each
 *   session a revoke-all or an eviction removed) is announced on `changes`, in the same atomic
 *   step as the write, as the session's digest, the kind of change, the session's version after
 *   it (a revoke counts as one more version) and, for a revoke, why. Reads and touches announce
 *   nothing. A failed write announces nothing.
 * - When the backing service cannot answer, every operation throws STORE_UNAVAILABLE; nothing is
 *   reported done that was not stored.
 */
import type { ChangeKind, RevokeReason, SessionChange } from '../session/changes';
import type { SessionPatch, StoredSession } from '../session/model';

export { REVOKE_REASONS, type ChangeKind, type RevokeReason, type SessionChange } from '../session/changes';

/** The store's operations, as named in metrics. */
export type StoreOperation =
  | 'create'
  | 'getMany'
  | 'readAttribute'
  | 'touch'
  | 'update'
  | 'destroy'
  | 'retire'
  | 'replace'
  | 'principalSessions'
  | 'revokePrincipal'
  | 'tagKey'
  | 'readKeySet'
  | 'writeKeySet'
  | 'ping';

/**
 * What a read finds where a session was rotated away with a grace period: the new session's
 * digest, and its ID sealed with the old one (`session/ids.ts`: only a holder of the old ID
 * can open it).
 */
export interface Forward {
  readonly to: string;
  readonly sealedId: string;
}

/** What `getMany` answers per digest. */
export type Found = StoredSession | Forward | null;

export function isForward(found: Found): found is Forward {
  return found !== null && 'sealedId' in found;
}

/**
 * Told about every backing-service command when it settles: which operation, how long it took
 * in seconds, and whether it succeeded. Must not throw; it runs on every store call.
 */
export type CommandObserver = (operation: StoreOperation, seconds: number, ok: boolean) => void;

/**
 * Told about every call to the backing service as it starts, for tracing (tracing.ts implements
 * it): answers the call's span, or null when the call is not traced (tracing off, or no traced
 * request under way). Must not throw; it runs on every store call, so null is the cheap case.
 */
export interface CommandTracer {
  /**
   * `command` is the command sent (`GET`, `MGET`, `EVALSHA`…), `script` the store's script it
   * runs (`touchSession`…) or null. Never a key or an argument: they name sessions.
   */
  start(operation: StoreOperation, command: string, script: string | null): CommandSpan | null;
}

/** One traced store call: where it went and how it ended. */
export interface CommandSpan {
  /** One round trip to the node `host:port` (a Cluster node, the primary), or to an unknown one. */
  roundTrip(node: string | null): void;
  /** How many round trips were counted so far. */
  readonly roundTrips: number;
  /** How many replicas the write waited for (`WAIT`), when it did. */
  waited(replicas: number): void;
  /** Ends it: null when it succeeded, else the coded error it failed with (its code and outcome, never its message). */
  end(error: { readonly code: string; readonly outcome?: string | undefined } | null): void;
}

/**
 * What `readAttribute` found: no session, or a session, its attribute's JSON (null if absent)
 * and what the service needs to decide whether the read is due to slide the expiry.
 */
export type AttributeRead =
  | { readonly found: false; readonly forward?: Forward }
  | {
      readonly found: true;
      readonly json: Buffer | null;
      readonly lastAccessedAtMs: number;
      readonly maxInactiveSeconds: number;
      readonly absoluteExpiresAtMs: number;
    };

export const NO_SESSION: AttributeRead = Object.freeze({ found: false });

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

/**
 * Caches of sessions (every gateway's with SESSION_CACHE=on) serve only under a lease they renew,
 * and a revocation returns only when every other cache holding one has confirmed it dropped the
 * session, or its lease has run out (see `redis-leases.ts` for the rule and its proof).
 */
export interface CacheLeases {
  /** Starts hearing the caches' confirmations (a revocation that hears none waits out their leases). */
  open(): void;
  /**
   * Takes a lease for a cache listening to `changes` (listening already: it must hear every
   * change from before the lease on). Resolves once held; `lost` is called once if it ends
   * other than by `release` (cut by a revocation it did not confirm in time, or not renewed).
   */
  hold(lost: (reason: string) => void): Promise<Lease>;
  /** Taken before a write that revokes sessions: collects the confirmations from its start. */
  revoking(): Revocation;
  /**
   * A lease for a cache in another process (the client library's, through the gateway's API),
   * which renews it, confirms and releases it by name with the three below. It lasts
   * `durationMs` from the moment it was asked for.
   */
  take(): Promise<{ readonly name: string; readonly durationMs: number }>;
  /** Another `durationMs` from now; false when the lease is no longer held (cut, or ended). */
  renew(name: string): Promise<boolean>;
  /** The cache holding `name` dropped `digests` for good. */
  confirm(name: string, digests: readonly string[]): Promise<void>;
  release(name: string): Promise<void>;
}

/** A cache's lease: it may serve while `valid`, and confirms every revocation it hears. */
export interface Lease {
  /** Held, and not past its end on this host's clock (renewals push the end on). */
  readonly valid: boolean;
  /** The cache dropped `digest` for good, on a REVOKED change it heard: tell the revokers. */
  dropped(digest: string): void;
  /** Gives the lease up (the cache stops serving first); resolves once the registry has dropped it, or could not be told. */
  release(): Promise<void>;
}

/** A revocation in progress: `settled` once the write answered, `abandon` if it failed. */
export interface Revocation {
  /**
   * Resolves when no cache but this gateway's own serves any of `digests` any more: each other
   * cache holding a lease confirmed it dropped them, or its lease has run out.
   */
  settled(digests: readonly string[]): Promise<void>;
  abandon(): void;
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

/** How many live sessions a principal may hold, and what happens to one more. */
export interface SessionLimit {
  readonly maxSessions: number;
  readonly policy: 'evict' | 'refuse';
}

/** A session created, and the digests of the sessions its principal's limit evicted for it. */
export interface Created {
  readonly session: StoredSession;
  readonly evicted: readonly string[];
}

/** A rotation's end of the old session: forward for `graceMs` (0: removed at once). */
export interface Retirement {
  readonly expectedVersion: number;
  readonly forward: Forward;
  readonly graceMs: number;
}

/** `retire`'s answer: done; the session moved on from the version copied; or it is gone. */
export type RetireResult = 'RETIRED' | 'CONFLICT' | 'GONE';

/** What `replace` retires: the rotated session, by its digest (same tag as the copy). */
export interface Replacement extends Retirement {
  readonly digest: string;
}

/** `replace`'s answer: as `retire`'s (nothing written unless RETIRED), or the copy's digest was taken. */
export type ReplaceResult = RetireResult | 'TAKEN';

/** What `destroy` did: removed a session, found none, or found (and removed) a rotation's forward. */
export type Destroyed = boolean | Forward;

/** One of a principal's sessions, by its digest (its public handle). */
export interface IndexedSession {
  readonly digest: string;
  readonly session: StoredSession;
}

export interface SessionStore {
  /** `'redis'` or `'memory'`: shown in logs and health output. */
  readonly kind: string;
  /** The store's clock, in epoch milliseconds (Redis: ours, corrected by what Redis's TIME shows). */
  now(): number;
  /**
   * Stores `session` under `digest` unless the digest is taken (null), with its deadline
   * `expiresAtMs`, and indexes it under its principal (the digest's tag is its principal's),
   * enforcing `limit` there. `session.lastAccessedAtMs` is the time of the write.
   */
  create(digest: string, session: StoredSession, expiresAtMs: number, limit: SessionLimit | null): Promise<Created | null>;
  getMany(digests: readonly string[]): Promise<Found[]>;
  readAttribute(digest: string, name: string): Promise<AttributeRead>;
  /** Slides the expiry if the session was last used at `seenLastAccessedAtMs`; answers whether it wrote. */
  touch(digest: string, seenLastAccessedAtMs: number, times: WriteTimes): Promise<boolean>;
  update(digest: string, patch: SessionPatch, times: UpdateTimes): Promise<UpdateResult>;
  /**
   * Removes a session (only if its principal is `owner`, when given); answers whether one was
   * removed, or the forward it removed where a rotation left one (no session was removed).
   */
  destroy(digest: string, reason: RevokeReason, owner?: string): Promise<Destroyed>;
  /** Ends a session being rotated (see the contract above). */
  retire(digest: string, retirement: Retirement): Promise<RetireResult>;
  /**
   * Stores `session` under `digest` (null-free: 'TAKEN' when the digest is taken) and retires
   * `replaced` as `retire` would, in one atomic step; both digests carry the same principal tag.
   */
  replace(digest: string, session: StoredSession, expiresAtMs: number, replaced: Replacement): Promise<ReplaceResult>;
  /** The live sessions of `principal`, whose sessions carry `tag`. */
  principalSessions(tag: string, principal: string): Promise<IndexedSession[]>;
  /** Revokes every session of `principal` indexed when it began, but `except`; answers their digests. */
  revokePrincipal(tag: string, principal: string, except: string | null, reason: RevokeReason): Promise<string[]>;
  /** The key principal tags are made with, the same for every gateway on this store. */
  tagKey(): Promise<Buffer>;
  /** Every change to every session, as it is written. */
  readonly changes: ChangeFeed;
  /** The leases of the caches fed by `changes`, and the revocations that wait on them. */
  readonly leases: CacheLeases;
  /** Resolves when the store can serve (Redis: connected), rejects with STORE_UNAVAILABLE. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The session tokens' signing keys (`tokens/signing-keys.ts` is its only caller), kept beside the
 * sessions so that every gateway on one store signs with the same key and serves the same set.
 * The store holds the set as an opaque text with a version; it knows nothing of keys or JSON.
 *
 * - `readKeySet` answers the set and its version, or null when none was ever written.
 * - `writeKeySet` replaces the set only if it is still at `expectedVersion` (0: none yet), in one
 *   atomic step, and answers the set the store holds afterwards: the one written (its version one
 *   more) or, when another gateway wrote first, theirs, unchanged.
 */
/** What `store/connect.ts` opens: the session store, and beside it the tokens' key set. */
export type GatewayStore = SessionStore & KeySetStore;

export interface KeySetStore {
  readKeySet(): Promise<StoredKeySet | null>;
  writeKeySet(expectedVersion: number, keys: string): Promise<StoredKeySet>;
}

/** The signing keys as stored: an opaque text, and a version that grows by one per write. */
export interface StoredKeySet {
  readonly version: number;
  readonly keys: string;
}
