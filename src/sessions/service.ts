/**
 * The session service: the one hallway between every face (GraphQL resolvers, the compiled
 * GraphQL path, the REST shim and its direct lane, subscriptions) and the store. The faces parse
 * their input and encode the answer; everything between is here, written once:
 *
 * - an ID's shape is checked here (IDs that arrive as arguments) or by the transport (IDs a caller
 *   presents), with the one check in `session/ids.ts`; its digest is made here, once per request,
 *   and the store only ever sees the digest;
 * - the caller's rights (`session/caller.ts`) are applied here;
 * - the session rules (`session/model.ts`) are turned into what the store is given: validated
 *   inputs, the time of each write on the store's clock, and absolute deadlines;
 * - what happened is counted here (sessions issued, updated, revoked).
 *
 * Reads are plain promise chains, not async functions: the REST read and the GraphQL read pass
 * through here on every request, and each async layer costs a promise and a microtask turn.
 */
import { GatewayError } from '../errors';
import type { SessionEvents } from '../metrics';
import { requireService, revokeTarget, type Caller } from '../session/caller';
import { generateSessionId, isWellFormedSessionId, sessionDigest } from '../session/ids';
import {
  idleDeadlineMs,
  sessionNotFound,
  sessionRecord,
  touchDue,
  validateNewSession,
  validatePatch,
  type NewSession,
  type NewSessionInput,
  type SessionLimits,
  type SessionPatchInput,
  type SessionRecord,
  type StoredSession,
} from '../session/model';
import { NO_SESSION, type AttributeRead, type ChangeFeed, type SessionStore } from '../store/store';

export type { AttributeRead, ChangeFeed, ChangeKind, ChangeListener, SessionChange } from '../store/store';

/** The REST read's answer: the session's ID (the one presented, or one just issued) and the attribute's stored JSON. */
export interface AttributeAnswer {
  readonly id: string;
  /** As stored, never decoded; null when the session has no such attribute (or was just issued). */
  readonly json: Buffer | null;
}

export interface SessionServiceOptions {
  readonly limits: SessionLimits;
  /** A read slides the expiry at most once per this many seconds (TOUCH_INTERVAL). */
  readonly touchIntervalSeconds: number;
  /** Counts the issues, updates and revokes that succeed. */
  readonly events: SessionEvents;
}

/** What a read tells the service about a session's times, enough to slide its expiry. */
interface ReadTimes {
  readonly lastAccessedAtMs: number;
  readonly maxInactiveSeconds: number;
}

/** Attempts an issue makes at drawing a free ID (with 256 random bits, one is always enough). */
const ISSUE_ATTEMPTS = 3;
/** Attempts an update makes when the session's idle time changed under it (see `update`). */
const UPDATE_ATTEMPTS = 5;

export class SessionService {
  private readonly touchIntervalMs: number;
  private readonly anonymous: NewSession;

  constructor(
    private readonly store: SessionStore,
    private readonly options: SessionServiceOptions,
  ) {
    this.touchIntervalMs = options.touchIntervalSeconds * 1000;
    this.anonymous = { principal: null, attributes: [], maxInactiveSeconds: options.limits.defaultInactiveSeconds };
  }

  /** `'redis'` or `'memory'`. */
  get kind(): string {
    return this.store.kind;
  }

  /** Resolves when the store can serve; rejects with STORE_UNAVAILABLE. */
  ping(): Promise<void> {
    return this.store.ping();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /** Every change to every session, for callers allowed to watch them (services). */
  changesFor(caller: Caller): ChangeFeed {
    requireService(caller, 'sessionChanges');
    return this.store.changes;
  }

  /** Reading sessions other than the caller's own is for services. */
  mayReadAny(caller: Caller, operation: string): void {
    requireService(caller, operation);
  }

  /**
   * Sessions in the order of `ids`: null where missing, expired or not a well-formed ID (which is
   * never looked up). A session whose touch is due has its expiry slid before it is answered.
   */
  getMany(ids: readonly string[]): Promise<Array<SessionRecord | null>> {
    const digests: string[] = [];
    const wanted: Array<string | null> = ids.map((id) => {
      if (!isWellFormedSessionId(id)) return null;
      const digest = sessionDigest(id);
      digests.push(digest);
      return digest;
    });
    if (digests.length === 0) return Promise.resolve(wanted.map(() => null));
    return this.store.getMany(digests).then((found) => {
      const records: Array<SessionRecord | null> = [];
      const touches: Array<Promise<void>> = [];
      const nowMs = this.store.now();
      let next = 0;
      for (let i = 0; i < ids.length; i++) {
        const digest = wanted[i];
        if (digest === null || digest === undefined) {
          records.push(null);
          continue;
        }
        const stored = found[next++];
        if (stored === null || stored === undefined) {
          records.push(null);
          continue;
        }
        records.push(sessionRecord(ids[i] as string, digest, stored));
        if (touchDue(stored.lastAccessedAtMs, nowMs, this.touchIntervalMs)) touches.push(this.touch(records, i, stored, nowMs));
      }
      return touches.length === 0 ? records : Promise.all(touches).then(() => records);
    });
  }

  /**
   * The REST shim's read, which is how modules obtain IDs: one attribute's stored JSON bytes of
   * the session `id` (sliding its expiry like any read), or, when there is no such session (none
   * presented, not well-formed, unknown or expired), a new anonymous session and no attribute.
   * One promise step on top of the store's read: this is the hottest path in the gateway.
   */
  attributeOrIssue(id: string | null, name: string): Promise<AttributeAnswer> {
    if (id === null || !isWellFormedSessionId(id)) return this.issuedAnswer();
    const digest = sessionDigest(id);
    return this.store.readAttribute(digest, name).then((read) => {
      if (!read.found) return this.issuedAnswer();
      const answer: AttributeAnswer = { id, json: read.json };
      const touching = this.touchIfDue(digest, read);
      return touching === null ? answer : touching.then(() => answer);
    });
  }

  /**
   * One attribute's stored JSON bytes of the session `id`, sliding the expiry like any read.
   * `{ found: false }` for no session, or an ID that is not well-formed.
   */
  readAttribute(id: string, name: string): Promise<AttributeRead> {
    if (!isWellFormedSessionId(id)) return Promise.resolve(NO_SESSION);
    const digest = sessionDigest(id);
    return this.store.readAttribute(digest, name).then((read) => {
      if (!read.found) return read;
      const touching = this.touchIfDue(digest, read);
      return touching === null ? read : touching.then(() => read);
    });
  }

  /** Slides the expiry of a session just read, if its touch is due; null when it is not. */
  private touchIfDue(digest: string, read: ReadTimes): Promise<boolean> | null {
    const nowMs = this.store.now();
    return touchDue(read.lastAccessedAtMs, nowMs, this.touchIntervalMs) ? this.slide(digest, read, nowMs) : null;
  }

  /** The touch itself: a full idle time from `nowMs`, if the session is as the read saw it. */
  private slide(digest: string, read: ReadTimes, nowMs: number): Promise<boolean> {
    return this.store.touch(digest, read.lastAccessedAtMs, { nowMs, expiresAtMs: idleDeadlineMs(nowMs, read.maxInactiveSeconds) });
  }

  /** A new session, for services. */
  issue(caller: Caller, input: NewSessionInput | null | undefined): Promise<SessionRecord> {
    requireService(caller, 'issueSession');
    return this.create(validateNewSession(input, this.options.limits));
  }

  /** A new session with no principal and no attributes: what the REST shim hands out. */
  issueAnonymous(): Promise<SessionRecord> {
    return this.create(this.anonymous);
  }

  private issuedAnswer(): Promise<AttributeAnswer> {
    return this.create(this.anonymous).then((record) => ({ id: record.id, json: null }));
  }

  /**
   * Applies a patch, for services; `id` defaults to the session the caller presents.
   *
   * An update restarts the idle clock, and the store is given the new deadline, which depends
   * on the idle time the session will have: the patch's, or else the one it has, which only the
   * store knows at the moment of writing. So the deadline is computed for the likeliest idle time
   * (the patch's, or the default), and a store holding another answers it without writing; the
   * next attempt is then right unless a concurrent update changed the idle time again.
   */
  async update(caller: Caller, id: string | null | undefined, input: SessionPatchInput): Promise<SessionRecord> {
    requireService(caller, 'updateSession');
    const target = id ?? caller.sessionId;
    if (target === null) throw new GatewayError('BAD_USER_INPUT', 'updateSession needs an id, or a session ID in the session header');
    const patch = validatePatch(input, this.options.limits);
    if (!isWellFormedSessionId(target)) throw sessionNotFound();
    const digest = sessionDigest(target);
    let maxInactiveSeconds = patch.maxInactiveSeconds ?? this.options.limits.defaultInactiveSeconds;
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      const nowMs = this.store.now();
      const result = await this.store.update(digest, patch, { nowMs, expiresAtMs: idleDeadlineMs(nowMs, maxInactiveSeconds), maxInactiveSeconds });
      if (result.written) {
        this.options.events.sessionUpdated();
        return sessionRecord(target, digest, result.session);
      }
      maxInactiveSeconds = result.maxInactiveSeconds;
    }
    throw new GatewayError('VERSION_CONFLICT', `the session's idle time kept changing under concurrent updates; nothing was written`);
  }

  /**
   * Removes a session: a service any (default: the one it presents), a frontend only its own.
   * Answers whether there was a session to remove; an ID that is not well-formed names none.
   */
  async revoke(caller: Caller, id: string | null | undefined): Promise<boolean> {
    const target = revokeTarget(caller, id);
    if (target === null) throw new GatewayError('BAD_USER_INPUT', 'revokeSession needs an id, or a session ID in the session header');
    if (!isWellFormedSessionId(target)) return false;
    const removed = await this.store.destroy(sessionDigest(target));
    if (removed) this.options.events.sessionRevoked();
    return removed;
  }

  /**
   * The only way a session ID comes into being: drawn here and created only if absent, so an
   * issue can never overwrite an existing session (with 256 random bits a collision is not
   * expected in the life of the universe, but the store is asked rather than trusted).
   */
  private async create(session: NewSession): Promise<SessionRecord> {
    for (let attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
      const id = generateSessionId();
      const digest = sessionDigest(id);
      const nowMs = this.store.now();
      const stored = await this.store.create(digest, session, { nowMs, expiresAtMs: idleDeadlineMs(nowMs, session.maxInactiveSeconds) });
      if (stored !== null) {
        this.options.events.sessionIssued();
        return sessionRecord(id, digest, stored);
      }
    }
    throw new GatewayError('INTERNAL', 'could not draw a free session ID');
  }

  /** Slides one session's expiry; on success the answer shows the new times. */
  private touch(records: Array<SessionRecord | null>, index: number, stored: StoredSession, nowMs: number): Promise<void> {
    const record = records[index] as SessionRecord;
    return this.slide(record.digest, stored, nowMs).then((touched) => {
      // Not touched: another instance touched or updated it first, or it is gone.
      if (touched) records[index] = sessionRecord(record.id, record.digest, { ...stored, lastAccessedAtMs: nowMs });
    });
  }
}
