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
import {
  digestTag,
  generateSessionId,
  isWellFormedDigest,
  isWellFormedSessionId,
  openForward,
  principalTag,
  sealForward,
  sessionDigest,
  tagText,
} from '../session/ids';
import {
  absoluteDeadlineMs,
  checkText,
  MAX_PRINCIPAL_BYTES,
  newStoredSession,
  sessionDeadlineMs,
  storedDeadlineMs,
  sessionNotFound,
  sessionRecord,
  touchDue,
  validateDevice,
  validateNewSession,
  validatePatch,
  NO_DEVICE,
  type AddressMask,
  type Device,
  type DeviceInput,
  type NewSession,
  type NewSessionInput,
  type SessionLimits,
  type SessionPatchInput,
  type SessionRecord,
  type StoredSession,
} from '../session/model';
import type { SessionCache } from './session-cache';
import type { IssuedToken, SessionTokens } from '../tokens/session-tokens';
import { isForward, NO_SESSION, type AttributeRead, type ChangeFeed, type Destroyed, type Forward, type Found, type RevokeReason, type SessionLimit, type SessionStore } from '../store/store';

export type { AttributeRead, ChangeFeed, ChangeKind, ChangeListener, RevokeReason, SessionChange } from '../store/store';

/** One of a principal's sessions as listed: its public handle and times, never its ID. */
export interface SessionSummary {
  readonly handle: string;
  /** Whether it is the session the caller presented. */
  readonly current: boolean;
  readonly createdAtMs: number;
  readonly lastAccessedAtMs: number;
  readonly expiresAtMs: number;
  readonly authenticatedAtMs: number | null;
  readonly device: Device;
}

/** What a rotation is asked to do besides giving a new ID. */
export interface RotateInput {
  /** Sign the session in as this principal (services only): a new lifetime starts. */
  principal?: string | null;
  /** The principal (re-)authenticated just now (services only): authenticatedAt and a new lifetime. */
  authenticated?: boolean | null;
  /** Device data (services only; a frontend's comes from its request). */
  device?: DeviceInput | null;
}

/** How sessions live and die (from the lifecycle configuration). */
export interface LifecycleOptions {
  /** Seconds a rotated-away ID keeps answering reads with the new ID; 0: it stops at once. */
  readonly rotationGraceSeconds: number;
  /** The per-principal limit; null for none. */
  readonly limit: SessionLimit | null;
  readonly addressMask: AddressMask;
}

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
  readonly lifecycle?: LifecycleOptions;
  /** The gateway's own near cache (SESSION_CACHE=on); reads ask it first, writes tell it. */
  readonly cache?: SessionCache | null;
  /** Signs and checks session tokens; without it `sessionToken` and `introspect` are not offered. */
  readonly tokens?: SessionTokens | null;
}

/**
 * RFC 7662's answer about a token: `{ active: false }` for anything that is not a live session's
 * token or ID, whatever is wrong with it (the RFC's rule: nothing is said of why).
 */
export type Introspection =
  | { readonly active: false }
  | {
      readonly active: true;
      readonly token_type: 'session_token' | 'session_id';
      readonly sid: string;
      readonly sub?: string;
      readonly iss: string;
      readonly aud?: string | readonly string[];
      readonly iat: number;
      readonly exp: number;
      readonly [claim: string]: unknown;
    };

const INACTIVE: Introspection = Object.freeze({ active: false });

const DEFAULT_LIFECYCLE: LifecycleOptions = { rotationGraceSeconds: 0, limit: null, addressMask: 'network' };

/** What a read tells the service about a session's times, enough to slide its expiry. */
interface ReadTimes {
  readonly lastAccessedAtMs: number;
  readonly maxInactiveSeconds: number;
  readonly absoluteExpiresAtMs: number;
}

/** A read that met a forward and followed it to the new session. */
interface Followed {
  readonly forwardedTo: { readonly id: string; readonly digest: string };
  readonly session: StoredSession;
}

/** Attempts an issue makes at drawing a free ID (with 256 random bits, one is always enough). */
const ISSUE_ATTEMPTS = 3;
/** Attempts an update makes when the session's idle time changed under it (see `update`). */
const UPDATE_ATTEMPTS = 5;
/** Attempts a rotation makes when the session changed while it was being copied. */
const ROTATE_ATTEMPTS = 5;

export class SessionService {
  private readonly touchIntervalMs: number;
  private readonly anonymous: NewSession;
  private readonly lifecycle: LifecycleOptions;
  private readonly cache: SessionCache | null;
  /** The store's tag key, asked for once. */
  private tagKey: Promise<Buffer> | null = null;

  constructor(
    private readonly store: SessionStore,
    private readonly options: SessionServiceOptions,
  ) {
    this.touchIntervalMs = options.touchIntervalSeconds * 1000;
    this.lifecycle = options.lifecycle ?? DEFAULT_LIFECYCLE;
    this.cache = options.cache ?? null;
    store.leases.open();
    this.anonymous = {
      principal: null,
      attributes: [],
      maxInactiveSeconds: options.limits.defaultInactiveSeconds,
      lifetimeSeconds: options.limits.maxLifetimeSeconds ?? 0,
      authenticated: false,
      device: NO_DEVICE,
    };
  }

  /** How much of a client's address a session records. */
  get addressMask(): AddressMask {
    return this.lifecycle.addressMask;
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
    this.cache?.close();
    return this.store.close();
  }

  /** Every change to every session, for callers allowed to watch them (services). */
  changesFor(caller: Caller): ChangeFeed {
    requireService(caller, 'sessionChanges');
    return this.store.changes;
  }

  /**
   * A lease for a near cache in a module (the client library's), for services: its cache serves
   * only while it holds one, and every revocation waits for its confirmation or its end.
   */
  takeCacheLease(caller: Caller): Promise<{ readonly name: string; readonly durationMs: number }> {
    requireService(caller, 'takeCacheLease');
    return this.store.leases.take();
  }

  /** Renews a module's lease; false when it is no longer held (its cache must drop everything). */
  renewCacheLease(caller: Caller, name: string): Promise<boolean> {
    requireService(caller, 'renewCacheLease');
    return this.store.leases.renew(leaseName(name));
  }

  /** A module's cache dropped these revoked sessions: the revocations waiting on it hear so. */
  async confirmRevocations(caller: Caller, name: string, digests: readonly string[]): Promise<boolean> {
    requireService(caller, 'confirmRevocations');
    const lease = leaseName(name);
    if (digests.length > MAX_CONFIRMED) throw new GatewayError('BAD_USER_INPUT', `confirmRevocations takes at most ${MAX_CONFIRMED} digests at once; nothing was confirmed`);
    const malformed = digests.find((digest) => !isWellFormedDigest(digest));
    if (malformed !== undefined) throw new GatewayError('BAD_USER_INPUT', 'confirmRevocations: every digest must be a session digest (Session.digest, 47 characters); nothing was confirmed');
    await this.store.leases.confirm(lease, digests);
    return true;
  }

  async releaseCacheLease(caller: Caller, name: string): Promise<boolean> {
    requireService(caller, 'releaseCacheLease');
    await this.store.leases.release(leaseName(name));
    return true;
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
    const cache = this.cache;
    const read = cache === null || !cache.enabled ? this.store.getMany(digests) : this.readThrough(cache, digests);
    return read.then((found) => (found.some(isForward) ? this.followForwards(ids, wanted, found) : (found as Array<StoredSession | null>))).then((found) => {
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
        if ('forwardedTo' in stored) {
          // A rotated-away ID in its grace: the new session, under its new ID (never touched here).
          records.push(sessionRecord(stored.forwardedTo.id, stored.forwardedTo.digest, stored.session));
          continue;
        }
        records.push(sessionRecord(ids[i] as string, digest, stored));
        if (touchDue(stored.lastAccessedAtMs, nowMs, this.touchIntervalMs)) touches.push(this.touch(records, i, stored, nowMs));
      }
      return touches.length === 0 ? records : Promise.all(touches).then(() => records);
    });
  }

  /** `store.getMany` through the cache: hits from memory, the misses in one read, kept for next time. */
  private readThrough(cache: SessionCache, digests: readonly string[]): Promise<Found[]> {
    const found: Found[] = new Array<Found>(digests.length);
    const missing: number[] = [];
    digests.forEach((digest, at) => {
      const hit = cache.get(digest);
      if (hit === undefined) missing.push(at);
      else found[at] = hit;
    });
    if (missing.length === 0) return Promise.resolve(found);
    return this.fetchThrough(
      cache,
      missing.map((at) => digests[at] as string),
    ).then((values) => {
      values.forEach((value, k) => (found[missing[k] as number] = value));
      return found;
    });
  }

  /** The misses `asked`, read from the store in one read, each kept in the cache through a ticket taken before it. */
  private fetchThrough(cache: SessionCache, asked: readonly string[]): Promise<Found[]> {
    const tickets = asked.map((digest) => cache.ticket(digest));
    return this.store.getMany(asked).then(
      (values) => {
        values.forEach((value, k) => cache.put(tickets[k] ?? null, value));
        return values;
      },
      (error: unknown) => {
        for (const ticket of tickets) cache.release(ticket);
        throw error;
      },
    );
  }

  /**
   * The reads of `found` that met a forward (an ID rotated away, in its grace): each is opened
   * with the ID presented and replaced by the new session it names (one more read), or by null
   * when it does not open or the new session is gone.
   */
  private async followForwards(ids: readonly string[], wanted: ReadonlyArray<string | null>, found: Found[]): Promise<Array<StoredSession | Followed | null>> {
    const presented = ids.filter((_, i) => wanted[i] !== null);
    const targets: Array<{ at: number; id: string; digest: string }> = [];
    found.forEach((entry, at) => {
      if (!isForward(entry)) return;
      const id = openForward(presented[at] as string, entry.sealedId);
      if (id !== null && sessionDigest(id) === entry.to) targets.push({ at, id, digest: entry.to });
    });
    const next = targets.length === 0 ? [] : await this.store.getMany(targets.map((target) => target.digest));
    const out: Array<StoredSession | Followed | null> = found.map((entry) => (isForward(entry) ? null : entry));
    targets.forEach((target, k) => {
      const session = next[k];
      if (session !== null && session !== undefined && !isForward(session)) out[target.at] = { forwardedTo: target, session };
    });
    return out;
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
    return this.attributeOf(digest, name).then((read) => {
      if (!read.found) return read.forward === undefined ? this.issuedAnswer() : this.forwardedAttribute(id, read.forward, name);
      const answer: AttributeAnswer = { id, json: read.json };
      const touching = this.touchIfDue(digest, read);
      return touching === null ? answer : touching.then(() => answer);
    });
  }

  /** The REST read of an ID rotated away, in its grace: the new session's attribute, under the new ID. */
  private async forwardedAttribute(id: string, forward: Forward, name: string): Promise<AttributeAnswer> {
    const next = openForward(id, forward.sealedId);
    if (next === null || sessionDigest(next) !== forward.to) return this.issuedAnswer();
    const read = await this.attributeOf(forward.to, name);
    return read.found ? { id: next, json: read.json } : this.issuedAnswer();
  }

  /**
   * One attribute's stored JSON bytes of the session `id`, sliding the expiry like any read.
   * `{ found: false }` for no session, or an ID that is not well-formed.
   */
  readAttribute(id: string, name: string): Promise<AttributeRead> {
    if (!isWellFormedSessionId(id)) return Promise.resolve(NO_SESSION);
    const digest = sessionDigest(id);
    return this.attributeOf(digest, name).then((read) => {
      if (!read.found) return read;
      const touching = this.touchIfDue(digest, read);
      return touching === null ? read : touching.then(() => read);
    });
  }

  /**
   * One attribute of the session `digest`: from the store (which sends just that attribute's
   * bytes) or, with the cache serving, from the cache, or read whole from the store and kept.
   */
  private attributeOf(digest: string, name: string): Promise<AttributeRead> {
    const cache = this.cache;
    if (cache === null || !cache.enabled) return this.store.readAttribute(digest, name);
    const hit = cache.get(digest);
    if (hit !== undefined) return Promise.resolve(attributeRead(hit, name));
    return this.fetchThrough(cache, [digest]).then(([found]) => attributeRead(found ?? null, name));
  }

  /** Slides the expiry of a session just read, if its touch is due; null when it is not. */
  private touchIfDue(digest: string, read: ReadTimes): Promise<boolean> | null {
    const nowMs = this.store.now();
    return touchDue(read.lastAccessedAtMs, nowMs, this.touchIntervalMs) ? this.slide(digest, read, nowMs) : null;
  }

  /** The touch itself: a full idle time from `nowMs`, if the session is as the read saw it. */
  private slide(digest: string, read: ReadTimes, nowMs: number): Promise<boolean> {
    const touching = this.store.touch(digest, read.lastAccessedAtMs, { nowMs, expiresAtMs: sessionDeadlineMs(nowMs, read.maxInactiveSeconds, read.absoluteExpiresAtMs) });
    const cache = this.cache;
    if (cache === null) return touching;
    cache.sliding(digest, read.lastAccessedAtMs, nowMs);
    return touching.then(
      (touched) => {
        if (!touched) cache.drop(digest);
        return touched;
      },
      (error: unknown) => {
        cache.drop(digest);
        throw error;
      },
    );
  }

  /**
   * A signed token for a session: a frontend's own (the one it presents), or any for a service
   * (`id`, else the one it presents). The audience is checked before the session is read; the
   * read is a read like any other (it slides the expiry when due).
   */
  async sessionToken(caller: Caller, id: string | null | undefined, audience: string | null | undefined): Promise<IssuedToken> {
    const tokens = this.tokensOffered();
    const target = id ?? caller.sessionId;
    if (!caller.service) {
      if (caller.sessionId === null) throw new GatewayError('UNAUTHENTICATED', 'sessionToken needs the session ID (header) or a service token');
      if (target !== caller.sessionId) throw new GatewayError('FORBIDDEN', 'a session may have a token only for itself');
    }
    if (target === null) throw new GatewayError('BAD_USER_INPUT', 'sessionToken needs an id, or a session ID in the session header');
    const aud = tokens.audience(audience);
    const [record] = await this.getMany([target]);
    if (record === null || record === undefined) throw sessionNotFound();
    return tokens.sign(record, aud);
  }

  /**
   * RFC 7662 introspection, for services: a session token (its signature, claims and expiry, and
   * its session still there) or a session ID (read like any read). Never an error for what the
   * token is; an error only when the store cannot answer.
   */
  async introspect(caller: Caller, token: string): Promise<Introspection> {
    requireService(caller, 'introspect');
    const tokens = this.tokensOffered();
    if (isWellFormedSessionId(token)) {
      const [record] = await this.getMany([token]);
      if (record === null || record === undefined || record.id !== token) return INACTIVE;
      const session = { active: true, token_type: 'session_id', sid: record.digest, iss: tokens.issuer, iat: Math.floor(record.createdAtMs / 1000), exp: Math.floor(record.expiresAtMs / 1000) } as const;
      return record.principal === null ? session : { ...session, sub: record.principal };
    }
    const verified = await tokens.verify(token);
    if (verified === null || !isWellFormedDigest(verified.sid)) return INACTIVE;
    // The token is ours and unexpired; its session must still be there (revoked: inactive at once).
    const cache = this.cache;
    const [found] = await (cache === null || !cache.enabled ? this.store.getMany([verified.sid]) : this.readThrough(cache, [verified.sid]));
    if (found === null || found === undefined || isForward(found)) return INACTIVE;
    return { ...verified.claims, active: true, token_type: 'session_token', sid: verified.sid, iss: verified.iss, aud: verified.aud, iat: verified.iat, exp: verified.exp };
  }

  private tokensOffered(): SessionTokens {
    if (this.options.tokens === undefined || this.options.tokens === null) throw new GatewayError('INTERNAL', 'this gateway was built without session tokens');
    return this.options.tokens;
  }

  /** A new session, for services. */
  async issue(caller: Caller, input: NewSessionInput | null | undefined): Promise<SessionRecord> {
    requireService(caller, 'issueSession');
    return this.create(validateNewSession(input, this.options.limits, this.lifecycle.addressMask));
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
      // The absolute deadline is the store's to apply: it is not known before the session is read.
      const result = await this.store.update(digest, patch, { nowMs, expiresAtMs: sessionDeadlineMs(nowMs, maxInactiveSeconds, 0), maxInactiveSeconds }).catch((error: unknown) => {
        this.uncache(digest); // it may yet be written
        throw error;
      });
      if (result.written) {
        this.cache?.wrote(digest, result.session.version);
        this.options.events.sessionUpdated();
        return sessionRecord(target, digest, result.session);
      }
      maxInactiveSeconds = result.maxInactiveSeconds;
    }
    throw new GatewayError('VERSION_CONFLICT', `the session's idle time kept changing under concurrent updates; nothing was written`);
  }

  /**
   * Removes a session: a service any (default: the one it presents), a frontend only its own
   * (its logout). Answers whether there was a session to remove; an ID that is not well-formed
   * names none.
   *
   * An ID rotated away and still in its grace stops answering either way. Presented by the
   * caller (its logout, from a tab that still held the old ID: the case the grace exists for),
   * it also ends the session it forwards to, the only write an old ID may make; named as an
   * argument by a service, it ends nothing else.
   */
  async revoke(caller: Caller, id: string | null | undefined): Promise<boolean> {
    const target = revokeTarget(caller, id);
    if (target === null) throw new GatewayError('BAD_USER_INPUT', 'revokeSession needs an id, or a session ID in the session header');
    if (!isWellFormedSessionId(target)) return false;
    const reason = caller.service ? 'REVOKED_BY_SERVICE' : 'LOGOUT';
    const digest = sessionDigest(target);
    const removed = await this.destroyed(digest, reason);
    if (typeof removed === 'boolean') return this.counted(removed ? 1 : 0) === 1;
    if (target !== caller.sessionId) return false;
    const next = openForward(target, removed.sealedId);
    if (next === null || sessionDigest(next) !== removed.to) return false;
    const ended = await this.destroyed(removed.to, reason);
    return this.counted(ended === true ? 1 : 0) === 1;
  }

  /**
   * Removes one of the caller's principal's sessions by its handle, from another of them ("sign
   * out that device"). False when the handle names no session of that principal.
   */
  async revokeByHandle(caller: Caller, handle: string): Promise<boolean> {
    const own = await this.ownPrincipal(caller, 'revokeSession(handle:)');
    if (own === null || !isWellFormedDigest(handle)) return false;
    const removed = await this.destroyed(handle, 'REVOKED_BY_USER', own.principal);
    return this.counted(removed === true ? 1 : 0) === 1;
  }

  /** Revokes every session of the caller's principal but the one it presents; answers how many. */
  async revokeOthers(caller: Caller): Promise<number> {
    const own = await this.ownPrincipal(caller, 'revokeOtherSessions');
    if (own === null) return 0;
    const tag = await this.tagOf(own.principal);
    return this.counted(await this.revokedAll(() => this.store.revokePrincipal(tag, own.principal, own.digest, 'REVOKED_BY_USER')));
  }

  /**
   * Revokes every session of `principal`, for services; answers how many. Every session of the
   * principal that existed when this began is gone when it returns, through every gateway.
   */
  async revokePrincipal(caller: Caller, principal: string): Promise<number> {
    requireService(caller, 'revokePrincipalSessions');
    checkText('principal', principal, MAX_PRINCIPAL_BYTES);
    const tag = await this.tagOf(principal);
    return this.counted(await this.revokedAll(() => this.store.revokePrincipal(tag, principal, null, 'PRINCIPAL_REVOKED')));
  }

  /** The sessions of the caller's own principal, the current one marked; none for an anonymous session. */
  async mySessions(caller: Caller): Promise<SessionSummary[]> {
    const own = await this.ownPrincipal(caller, 'mySessions');
    if (own === null) return [];
    return this.summaries(own.principal, own.digest);
  }

  /** The live sessions of `principal`, for services. */
  async sessionsOf(caller: Caller, principal: string): Promise<SessionSummary[]> {
    requireService(caller, 'sessionsOf');
    checkText('principal', principal, MAX_PRINCIPAL_BYTES);
    return this.summaries(principal, caller.sessionId === null ? null : sessionDigest(caller.sessionId));
  }

  /**
   * Gives a session a new ID, keeping its attributes, history and version count; a service may
   * sign it in as a principal at the same time (the log-in case) or mark it re-authenticated.
   * A frontend may rotate only its own session, and only that. The old ID stops working at once,
   * or answers reads (never writes) with the new ID for ROTATION_GRACE_SECONDS.
   *
   * The old session is read, then:
   * - Keeping its principal (a re-authentication, a frontend's own rotation): the copy carries the
   *   same tag, so it lives in the same slot and index, and the store creates it and retires the
   *   old session in one atomic step, at the version read. A rotation replaces a session and
   *   adds none: the principal's count never changes, so the limit neither evicts nor refuses.
   * - Changing the principal (signing in): the copy is a new session of its principal, in another
   *   slot, so three steps that keep every guarantee: the copy is created under the new ID
   *   (indexed, the new principal's limit applied as to any new session); the old one is retired
   *   only if it is still at the version copied, else the copy is removed and it starts over.
   * Either way an update racing the rotation is either in the copy or refused, and a revoke
   * racing it leaves no copy behind.
   */
  async rotate(caller: Caller, id: string | null | undefined, input: RotateInput | null | undefined, requestDevice: Device = NO_DEVICE): Promise<SessionRecord> {
    const target = id ?? caller.sessionId;
    if (target === null) throw new GatewayError('BAD_USER_INPUT', 'rotateSession needs an id, or a session ID in the session header');
    if (!caller.service) {
      if (caller.sessionId === null) throw new GatewayError('UNAUTHENTICATED', 'rotateSession needs the session ID (header) or a service token');
      if (target !== caller.sessionId) throw new GatewayError('FORBIDDEN', 'a session may rotate only itself');
      if (input?.principal != null || input?.authenticated != null || input?.device != null) {
        throw new GatewayError('FORBIDDEN', 'only a service may set the principal, authentication or device data of a rotation');
      }
    }
    const principal = input?.principal ?? null;
    if (principal !== null) checkText('principal', principal, MAX_PRINCIPAL_BYTES);
    const device = caller.service ? validateDevice(input?.device, this.lifecycle.addressMask) : requestDevice;
    if (!isWellFormedSessionId(target)) throw sessionNotFound();
    const oldDigest = sessionDigest(target);
    for (let attempt = 0; attempt < ROTATE_ATTEMPTS; attempt++) {
      const [old] = await this.store.getMany([oldDigest]);
      if (old === null || old === undefined || isForward(old)) throw sessionNotFound();
      const owner = principal ?? old.principal;
      const nowMs = this.store.now();
      const authenticated = principal !== null || input?.authenticated === true;
      const absoluteExpiresAtMs = authenticated ? absoluteDeadlineMs(nowMs, old.lifetimeSeconds) : old.absoluteExpiresAtMs;
      const copy: StoredSession = {
        ...old,
        principal: owner,
        lastAccessedAtMs: nowMs,
        version: old.version + 1,
        absoluteExpiresAtMs,
        authenticatedAtMs: authenticated ? nowMs : old.authenticatedAtMs,
        device: device.userAgent === null && device.clientAddress === null ? old.device : device,
      };
      const tag = owner === null ? undefined : principalTag(await this.key(), owner);
      if (tag !== undefined && owner === old.principal && tagText(tag) === digestTag(oldDigest)) {
        const replaced = await this.final(
          () => this.replaceStored(copy, tag, target, oldDigest, old.version).finally(() => this.uncache(oldDigest)),
          (result) => (typeof result === 'string' ? [] : [oldDigest]),
        );
        if (replaced === 'GONE') throw sessionNotFound();
        if (replaced === 'CONFLICT') continue;
        this.counted(1); // the old session
        this.options.events.sessionIssued();
        return sessionRecord(replaced.id, replaced.digest, replaced.session);
      }
      const created = await this.createStored(copy, owner);
      this.evicted(created.evicted); // evicted for the copy: revoked, whatever becomes of it
      const retirement = { expectedVersion: old.version, forward: { to: created.digest, sealedId: sealForward(target, created.id) }, graceMs: this.lifecycle.rotationGraceSeconds * 1000 };
      const retired = await this.final(
        () => this.store.retire(oldDigest, retirement).finally(() => this.uncache(oldDigest)),
        (result) => (result === 'RETIRED' ? [oldDigest] : []),
      );
      if (retired === 'RETIRED') {
        this.counted(1); // the old session
        this.options.events.sessionIssued();
        return sessionRecord(created.id, created.digest, created.session);
      }
      // Changed since the copy (try again) or gone (revoked meanwhile): the copy must not outlive it.
      await this.store.destroy(created.digest, 'ROTATED');
      if (retired === 'GONE') throw sessionNotFound();
    }
    throw new GatewayError('VERSION_CONFLICT', 'the session kept changing while it was being rotated; nothing was changed');
  }

  /** The principal and digest of the session the caller presents; null when it has no principal. */
  private async ownPrincipal(caller: Caller, operation: string): Promise<{ principal: string; digest: string } | null> {
    if (caller.sessionId === null) {
      throw new GatewayError(caller.service ? 'BAD_USER_INPUT' : 'UNAUTHENTICATED', `${operation} needs the session ID (header) of one of the principal's sessions`);
    }
    const digest = sessionDigest(caller.sessionId);
    const [own] = await this.store.getMany([digest]);
    if (own === null || own === undefined || isForward(own)) throw sessionNotFound();
    return own.principal === null ? null : { principal: own.principal, digest };
  }

  private async summaries(principal: string, currentDigest: string | null): Promise<SessionSummary[]> {
    const listed = await this.store.principalSessions(await this.tagOf(principal), principal);
    return listed
      .map(({ digest, session }) => ({
        handle: digest,
        current: digest === currentDigest,
        createdAtMs: session.createdAtMs,
        lastAccessedAtMs: session.lastAccessedAtMs,
        expiresAtMs: storedDeadlineMs(session),
        authenticatedAtMs: session.authenticatedAtMs === 0 ? null : session.authenticatedAtMs,
        device: session.device,
      }))
      .sort((a, b) => b.lastAccessedAtMs - a.lastAccessedAtMs);
  }

  /** `store.destroy`, final everywhere when it returns (see `final`). */
  private destroyed(digest: string, reason: RevokeReason, owner?: string): Promise<Destroyed> {
    return this.final(
      () => this.store.destroy(digest, reason, owner).finally(() => this.uncache(digest)),
      (removed) => (removed === true ? [digest] : []),
    );
  }

  /** `store.revokePrincipal`, final everywhere when it returns; answers how many it revoked. */
  private async revokedAll(write: () => Promise<string[]>): Promise<number> {
    const removed = await this.final(
      () =>
        write().finally(() => {
          this.cache?.forget(); // which digests go is told only when it answers: forget them all
        }),
      (digests) => digests,
    );
    return removed.length;
  }

  /**
   * A write that revokes sessions, made final everywhere: the caches' confirmations are heard
   * from before it is sent, and once it has answered it returns only when no other gateway's
   * cache serves any session it revoked (`digestsOf` its answer) any more (`store.leases`). This
   * gateway's own cache drops them in `write` itself.
   */
  private async final<T>(write: () => Promise<T>, digestsOf: (result: T) => readonly string[]): Promise<T> {
    const revocation = this.store.leases.revoking();
    let result: T;
    try {
      result = await write();
    } catch (error) {
      revocation.abandon();
      throw error;
    }
    await revocation.settled(digestsOf(result));
    return result;
  }

  /**
   * This gateway revoked `digest` (or found nothing there, or does not know what its write did):
   * its cache serves nothing it holds of it, nor what reads already under way bring back.
   */
  private uncache(digest: string): void {
    this.cache?.wrote(digest, Number.POSITIVE_INFINITY);
  }

  /** Sessions a limit evicted: revoked, counted, and gone from the cache. */
  private evicted(digests: readonly string[]): void {
    this.counted(this.uncached(digests).length);
  }

  /** `uncache` for each of `digests`; answers them. */
  private uncached(digests: readonly string[]): readonly string[] {
    for (const digest of digests) this.uncache(digest);
    return digests;
  }

  private counted(revoked: number): number {
    for (let i = 0; i < revoked; i++) this.options.events.sessionRevoked();
    return revoked;
  }

  /** The tag (as ID text) every session of `principal` carries: where the store keeps them. */
  async tagOf(principal: string): Promise<string> {
    return tagText(principalTag(await this.key(), principal));
  }

  private key(): Promise<Buffer> {
    if (this.tagKey === null) {
      const asking = this.store.tagKey();
      this.tagKey = asking;
      asking.catch(() => {
        if (this.tagKey === asking) this.tagKey = null; // ask again next time
      });
    }
    return this.tagKey;
  }

  /**
   * The only way a session ID comes into being: drawn here and created only if absent, so an
   * issue can never overwrite an existing session (with 232 random bits a collision is not
   * expected in the life of the universe, but the store is asked rather than trusted).
   */
  private create(session: NewSession): Promise<SessionRecord> {
    const stored = newStoredSession(session, this.store.now());
    return this.createStored(stored, session.principal).then((created) => {
      this.options.events.sessionIssued();
      this.evicted(created.evicted);
      return sessionRecord(created.id, created.digest, created.session);
    });
  }

  /**
   * Stores `session` under a new ID carrying its principal's tag (a random one when it has none).
   * Counts nothing: a rotation's copy may yet be taken back.
   */
  private async createStored(session: StoredSession, principal: string | null): Promise<{ id: string; digest: string; session: StoredSession; evicted: readonly string[] }> {
    const tag = principal === null ? undefined : principalTag(await this.key(), principal);
    const expiresAtMs = storedDeadlineMs(session);
    for (let attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
      const id = generateSessionId(tag);
      const digest = sessionDigest(id);
      const limit = principal === null ? null : this.lifecycle.limit;
      // A limit may evict: the sessions it evicts are revoked, final everywhere on return.
      const create = () => this.store.create(digest, session, expiresAtMs, limit);
      const created = await (limit === null ? create() : this.final(create, (result) => this.uncached(result?.evicted ?? [])));
      if (created !== null) return { id, digest, session: created.session, evicted: created.evicted };
    }
    throw new GatewayError('INTERNAL', 'could not draw a free session ID');
  }

  /**
   * A rotation that keeps the principal: `session` under a new ID with `tag`, and the session
   * `oldId` retired at `expectedVersion`, in one step (see `rotate`). Nothing is written unless
   * it answers the new session.
   */
  private async replaceStored(session: StoredSession, tag: Buffer, oldId: string, oldDigest: string, expectedVersion: number): Promise<{ id: string; digest: string; session: StoredSession } | 'CONFLICT' | 'GONE'> {
    const expiresAtMs = storedDeadlineMs(session);
    const graceMs = this.lifecycle.rotationGraceSeconds * 1000;
    for (let attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
      const id = generateSessionId(tag);
      const digest = sessionDigest(id);
      const result = await this.store.replace(digest, session, expiresAtMs, { digest: oldDigest, expectedVersion, forward: { to: digest, sealedId: sealForward(oldId, id) }, graceMs });
      if (result === 'RETIRED') return { id, digest, session };
      if (result !== 'TAKEN') return result;
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

/** The most digests one confirmRevocations may name (a module's client splits more). */
export const MAX_CONFIRMED = 1000;
const LEASE_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A lease name as takeCacheLease gave it, or BAD_USER_INPUT. */
function leaseName(name: string): string {
  if (!LEASE_NAME.test(name)) throw new GatewayError('BAD_USER_INPUT', 'not a cache lease name (takeCacheLease gives one)');
  return name;
}

/**
 * The attributes' JSON as bytes, per cached session, made on the first REST read of each: a hit
 * sends the same bytes again without encoding them again. (Sessions are immutable values: an
 * update makes a new one, so nothing here goes stale; an entry goes with its session.)
 */
const attributeBytes = new WeakMap<StoredSession, Map<string, Buffer>>();

/** What a read of one attribute answers, from a whole session read (the cache's way). */
function attributeRead(found: Found, name: string): AttributeRead {
  if (found === null) return NO_SESSION;
  if (isForward(found)) return { found: false, forward: found };
  let encoded = attributeBytes.get(found);
  if (encoded === undefined) attributeBytes.set(found, (encoded = new Map()));
  let json = encoded.get(name);
  if (json === undefined) {
    const text = found.attributes.get(name);
    if (text !== undefined) encoded.set(name, (json = Buffer.from(text)));
  }
  return {
    found: true,
    json: json ?? null,
    lastAccessedAtMs: found.lastAccessedAtMs,
    maxInactiveSeconds: found.maxInactiveSeconds,
    absoluteExpiresAtMs: found.absoluteExpiresAtMs,
  };
}
