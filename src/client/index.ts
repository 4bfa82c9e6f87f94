/**
 * `session-gateway/client`: what a backend module uses to read and change sessions, with a near
 * cache that stays coherent across every module instance.
 *
 *     const sessions = new SessionClient({ url: 'http://session-gateway:8080', token: serviceToken });
 *     const session = await sessions.get(idFromRequest);   // null: no such session, or expired
 *
 * Reads are look-aside: a hit is answered from this process's memory and costs the gateway
 * nothing; a miss asks the gateway (concurrent misses for one session share one request,
 * `getMany` asks for all its misses in one request) and keeps the answer. Writes go to the
 * gateway, and this client's cache follows them at once (read-your-writes). Everyone else's
 * writes reach the cache as change events over one WebSocket (`subscription { sessionChanges }`).
 *
 * This client's own writes are final for it the moment they resolve, even where requests
 * overtake each other on the way (several keep-alive connections, several gateways behind
 * nginx): no read that resolves after `revoke()` resolved serves the session, and none that
 * resolves after `update()` resolved answers an older version than it returned.
 *
 * Revocation is final here when it returns anywhere: the cache serves only under a lease from
 * the gateway (`takeCacheLease`, taken once the stream is confirmed, renewed on each pong), and
 * confirms every REVOKED change it hears (`confirmRevocations`); a revocation through any gateway
 * returns only once this cache confirmed, or its lease was cut and has run out (the gateway's
 * `store/redis-leases.ts`). A cache that cannot renew stops serving at its lease's end, reckoned
 * from when it asked, on this host's monotonic clock.
 *
 * Other changes: a cached session is served only while the event stream is confirmed up, never
 * past its own expiry or `maxTtlMs`, and never after the event for a later change to it has
 * arrived; when the stream is lost the whole cache is dropped and reads go to the gateway until
 * it is back. An update made anywhere thus stops being hidden here as soon as its event crosses
 * the stream (milliseconds; the benchmark measures it), and at worst, on a network that silently
 * stops delivering, after `keepAliveMs + pongTimeoutMs`, or the lease's end if that is sooner.
 *
 * Idle expiry keeps sliding: entries live at most `maxTtlMs` (default 60 s, the gateway's default
 * touch interval), so a session in use is read from the gateway, which touches it, at least
 * that often.
 *
 * Session tokens (the gateway's signed JWTs, `sessionToken` / `POST /api/v2/session/token`) are
 * checked locally by `verifyToken`: the signature against the gateway's JWKS (fetched once, and
 * again for a key it does not know), the claims, and then whether the session has been revoked,
 * which this client learns from the same event stream as its cache, under the same lease
 * (`sessionAlive`): a token whose session it heard revoked is refused at once, even before its
 * `exp`. A session is taken as alive locally only while the cache serves (stream up, lease held)
 * and once vouched for since the lease was taken (the client just started, or the lease was lost:
 * revocations may have gone unheard); otherwise it is asked about by introspection, once. With
 * `cache: false` every check asks the gateway. So the lease rule holds for tokens too: once a
 * revocation has returned anywhere, this client has heard it (it confirmed it) or has stopped
 * checking locally (its lease ran out), and refuses the token; test/client/token-verifier.test.ts
 * races 1,000 revokes against checks.
 */
import { EventEmitter } from 'node:events';
import { isWellFormedSessionId, sessionDigest } from '../session/ids';
import { ChangeEvents, type ChangeEvent } from './change-events';
import { GatewayHttp } from './http';
import { NearCache, type Ticket } from '../cache/near-cache';
import { createRemoteJWKSet } from 'jose';
import { SessionTokenVerifier, type VerifiedSessionToken } from '../tokens/verifier';

export type { VerifiedSessionToken } from '../tokens/verifier';

/** A session as the gateway answers it; frozen, shared by every caller that reads it. */
export interface Session {
  readonly id: string;
  /** The session's handle (its tag and the SHA-256 of the ID): what change events name it by. */
  readonly digest: string;
  readonly principal: string | null;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** ISO 8601 instants, from the gateway. */
  readonly createdAt: string;
  readonly lastAccessedAt: string;
  readonly expiresAt: string;
  /** When its lifetime ends however it is used; null for none. */
  readonly absoluteExpiresAt: string | null;
  /** When its principal last authenticated; null if never. */
  readonly authenticatedAt: string | null;
  /** Seconds of idleness before the session expires. */
  readonly maxInactiveInterval: number;
  readonly version: number;
}

/** Device data a module passes for the user it acts for. */
export interface DeviceInput {
  readonly userAgent?: string | null;
  readonly clientAddress?: string | null;
}

export interface IssueInput {
  readonly principal?: string | null;
  readonly attributes?: Record<string, unknown>;
  readonly maxInactiveInterval?: number;
  /** Seconds; at most the gateway's SESSION_MAX_LIFETIME. */
  readonly maxLifetime?: number;
  readonly device?: DeviceInput;
}

export interface RotateInput {
  /** Sign the session in as this principal (the log-in case): a new lifetime starts. */
  readonly principal?: string | null;
  /** The principal has just authenticated again. */
  readonly authenticated?: boolean;
  readonly device?: DeviceInput;
}

/** One of a principal's sessions, as `sessionsOf` lists it: never its ID. */
export interface SignedInSession {
  readonly handle: string;
  readonly current: boolean;
  readonly createdAt: string;
  readonly lastAccessedAt: string;
  readonly expiresAt: string;
  readonly authenticatedAt: string | null;
  readonly device: { readonly userAgent: string | null; readonly clientAddress: string | null };
}

export interface SessionPatch {
  readonly set?: Record<string, unknown>;
  readonly unset?: readonly string[];
  /** Must be the session's principal already: a sign-in is `rotate(id, { principal })`. */
  readonly principal?: string | null;
  readonly maxInactiveInterval?: number;
  /** VERSION_CONFLICT, and nothing written, unless the session is at this version. */
  readonly expectedVersion?: number;
}

export interface ClientOptions {
  /** The gateway's base URL, e.g. `http://session-gateway:8080` (or nginx in front of it). */
  readonly url: string;
  /** A service token the gateway accepts (its SERVICE_TOKENS). */
  readonly token: string;
  /** The near cache; `false` turns it (and the event stream) off. */
  readonly cache?:
    | false
    | {
        /** Default 10,000. */
        readonly maxEntries?: number;
        /** Default 64 MiB. */
        readonly maxBytes?: number;
        /** The longest an entry lives; default 60 s, the gateway's default touch interval. */
        readonly maxTtlMs?: number;
      };
  /**
   * Event stream heartbeat: ping every `keepAliveMs` (default 1 s), give up after `pongTimeoutMs`
   * (default 5 s) without a pong. Each pong renews the cache's lease, so `keepAliveMs` must be
   * well under the gateway's lease (a third of SESSION_CACHE_LEASE_MS, 3 s by default).
   */
  readonly keepAliveMs?: number;
  readonly pongTimeoutMs?: number;
  /** Event stream reconnect backoff bounds; default 100 ms and 5 s. */
  readonly minRetryMs?: number;
  readonly maxRetryMs?: number;
  /** Per-request timeout for HTTP calls to the gateway (default 5 s); past it, STORE_UNAVAILABLE. */
  readonly requestTimeoutMs?: number;
  /** What `verifyToken` accepts: the gateway's SESSION_TOKEN_ISSUER and this module's audience (both default `session-gateway`). */
  readonly tokens?: {
    readonly issuer?: string;
    readonly audience?: string;
    /** Default `<url>/.well-known/jwks.json`. */
    readonly jwksUrl?: string;
    /** Tokens remembered as passed (their signature is not checked again); default 10,000. */
    readonly maxRemembered?: number;
    /** Revoked sessions remembered (beyond them, a check asks the gateway); default 100,000. */
    readonly maxRevoked?: number;
  };
}

/** An error the gateway answered with: `code` is one of its error codes (e.g. VERSION_CONFLICT). */
export class SessionGatewayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'SessionGatewayError';
  }
}

export interface ClientStats {
  /** Reads answered from the cache. */
  hits: number;
  /** Reads that asked the gateway while the cache was serving. */
  misses: number;
  /** Reads that asked the gateway because the event stream was down. */
  bypassed: number;
  /** Change events applied. */
  invalidations: number;
  /** Gateway HTTP requests made. */
  requests: number;
  /** Token checks that asked the gateway (introspection) whether the session is alive. */
  introspections: number;
}

const FIELDS = 'id digest principal attributes createdAt lastAccessedAt expiresAt absoluteExpiresAt authenticatedAt maxInactiveInterval version';
const READ = `query($ids: [ID!]!) { sessions(ids: $ids) { ${FIELDS} } }`;
const ISSUE = `mutation($input: IssueSessionInput) { issueSession(input: $input) { ${FIELDS} } }`;
const UPDATE = `mutation($id: ID, $patch: SessionPatch!) { updateSession(id: $id, patch: $patch) { ${FIELDS} } }`;
const REVOKE = 'mutation($id: ID) { revokeSession(id: $id) }';
const ROTATE = `mutation($id: ID, $input: RotateSessionInput) { rotateSession(id: $id, input: $input) { ${FIELDS} } }`;
const SESSIONS_OF = 'query($p: String!) { sessionsOf(principal: $p) { handle current createdAt lastAccessedAt expiresAt authenticatedAt device { userAgent clientAddress } } }';
const REVOKE_PRINCIPAL = 'mutation($p: String!) { revokePrincipalSessions(principal: $p) }';
const TAKE_LEASE = 'mutation { takeCacheLease { name durationMs } }';
const RENEW_LEASE = 'mutation($name: String!) { renewCacheLease(name: $name) }';
const CONFIRM = 'mutation($lease: String!, $digests: [String!]!) { confirmRevocations(lease: $lease, digests: $digests) }';
const RELEASE_LEASE = 'mutation($name: String!) { releaseCacheLease(name: $name) }';
/** The most digests one confirmation names (the gateway's bound). */
const MAX_CONFIRMED = 1000;
/** What a lease's end is reckoned short of its duration by (clocks run at slightly different rates). */
const RATE_MARGIN = 0.01;

/** The cache's lease from the gateway: it serves until `endsAt` (performance.now()), renewed on each pong. */
interface HeldLease {
  readonly name: string;
  readonly durationMs: number;
  endsAt: number;
}

export class SessionClient extends EventEmitter {
  readonly stats: ClientStats = { hits: 0, misses: 0, bypassed: 0, invalidations: 0, requests: 0, introspections: 0 };
  private readonly endpoint: string;
  private readonly cache: NearCache<Session> | null;
  private readonly events: ChangeEvents | null;
  private readonly maxTtlMs: number;
  private readonly http: GatewayHttp;
  /** Misses being fetched, by digest: later callers join them. */
  private readonly inflight = new Map<string, Promise<Session | null>>();
  /** Reads waiting on the gateway, by digest, each with its floor; a read removes its own when it settles. */
  private readonly waiting = new Map<string, Set<Floor>>();
  private readonly tokenVerifier: SessionTokenVerifier;
  private readonly introspection: GatewayHttp;
  /** Sessions heard revoked (by digest, oldest first), up to `maxRevoked`. */
  private readonly revoked = new Set<string>();
  private readonly maxRevoked: number;
  /** Sessions vouched for by the gateway, by digest, with the stream epoch they were vouched in. */
  private readonly vouched = new Map<string, number>();
  /** Grows whenever the stream comes up or goes down: a vouch of another epoch counts for nothing. */
  private epoch = 0;
  /** The cache's lease; null while it has none (it does not serve then). */
  private lease: HeldLease | null = null;
  /** Bumped each time the lease is given up or lost, so a lease asked for before is not used. */
  private leaseGeneration = 0;
  private renewing = false;
  /** Revocations heard while the lease was being taken (confirmed once it is held), or to confirm next turn. */
  private unconfirmed: string[] = [];
  private confirming: string[] = [];

  constructor(private readonly options: ClientOptions) {
    super();
    const base = options.url.replace(/\/+$/, '');
    this.endpoint = `${base}/graphql`;
    this.http = new GatewayHttp(this.endpoint, options.requestTimeoutMs ?? 5000);
    this.introspection = new GatewayHttp(`${base}/api/v2/introspect`, options.requestTimeoutMs ?? 5000);
    this.tokenVerifier = new SessionTokenVerifier(createRemoteJWKSet(new URL(options.tokens?.jwksUrl ?? `${base}/.well-known/jwks.json`)), {
      issuer: options.tokens?.issuer ?? 'session-gateway',
      audience: options.tokens?.audience ?? 'session-gateway',
      ...(options.tokens?.maxRemembered === undefined ? {} : { maxRemembered: options.tokens.maxRemembered }),
    });
    this.maxRevoked = options.tokens?.maxRevoked ?? 100_000;
    const cache = options.cache === false ? null : (options.cache ?? {});
    this.maxTtlMs = cache?.maxTtlMs ?? 60_000;
    this.cache = cache === null ? null : new NearCache<Session>({ maxEntries: cache.maxEntries ?? 10_000, maxBytes: cache.maxBytes ?? 64 * 1024 * 1024 });
    this.events =
      this.cache === null
        ? null
        : new ChangeEvents(
            {
              url: this.endpoint.replace(/^http/, 'ws'),
              token: options.token,
              keepAliveMs: options.keepAliveMs ?? 1_000,
              pongTimeoutMs: options.pongTimeoutMs ?? 5_000,
              minRetryMs: options.minRetryMs ?? 100,
              maxRetryMs: options.maxRetryMs ?? 5_000,
            },
            {
              up: () => this.takeLease(),
              down: (reason) => {
                void this.dropLease();
                this.inflight.clear();
                this.emit('stream', 'down', reason);
              },
              change: (event) => this.apply(event),
              alive: () => this.renewLease(),
            },
          );
  }

  /** Whether the cache is serving (the event stream is confirmed up and the cache holds its lease). */
  get caching(): boolean {
    return this.serving();
  }

  /** The session, or null when there is none (unknown, expired, revoked, or not an ID at all). */
  async get(id: string): Promise<Session | null> {
    return (await this.getMany([id]))[0] ?? null;
  }

  /** Sessions in the order of `ids`; everything not cached is asked for in one request. */
  async getMany(ids: readonly string[]): Promise<Array<Session | null>> {
    const out: Array<Session | null | Promise<Session | null>> = [];
    const digests: Array<string | null> = [];
    const wanted: Array<{ id: string; digest: string; index: number }> = [];
    let waits = false;
    for (const [index, id] of ids.entries()) {
      if (!isWellFormedSessionId(id)) {
        out.push(null);
        digests.push(null);
        continue;
      }
      const digest = sessionDigest(id);
      digests.push(digest);
      const hit = this.serving() ? this.cache?.get(digest) : undefined;
      if (hit !== undefined) {
        this.stats.hits++;
        out.push(hit);
        continue;
      }
      waits = true;
      const joining = this.inflight.get(digest);
      if (joining !== undefined) {
        out.push(joining);
        continue;
      }
      if (this.serving()) this.stats.misses++;
      else this.stats.bypassed++;
      out.push(null); // replaced below
      wanted.push({ id, digest, index });
    }
    if (wanted.length > 0) {
      const unique = [...new Map(wanted.map((w) => [w.digest, w])).values()];
      const fetched = this.fetchMany(unique);
      for (const w of wanted) out[w.index] = fetched.get(w.digest) as Promise<Session | null>;
    }
    // Answered from memory alone, it resolves before any write's answer can arrive: no floors.
    if (!waits) return Promise.all(out);
    return this.withFloors(digests, Promise.all(out));
  }

  async issue(input: IssueInput = {}): Promise<Session> {
    const { body } = await this.call<{ issueSession: RawSession }>(ISSUE, { input });
    // Not cached: the next read of it is a miss that caches it, with the usual guarantees.
    return freeze(body.issueSession);
  }

  /** Applies the patch; this client's next read sees the result (read-your-writes). */
  async update(id: string, patch: SessionPatch): Promise<Session> {
    const digest = isWellFormedSessionId(id) ? sessionDigest(id) : null;
    const ticket = digest === null ? null : (this.cache?.ticket(digest) ?? null);
    try {
      const { body, serverNowMs } = await this.call<{ updateSession: RawSession }>(UPDATE, { id, patch });
      const session = freeze(body.updateSession);
      this.wrote(session.digest, session);
      this.store(ticket, session, serverNowMs);
      return session;
    } catch (error) {
      this.cache?.release(ticket);
      throw error;
    }
  }

  /**
   * Revokes the session; true if there was one. This client stops serving it from its cache at
   * once, and once this resolves no read of this client answers it any more.
   */
  async revoke(id: string): Promise<boolean> {
    const digest = isWellFormedSessionId(id) ? sessionDigest(id) : null;
    if (digest !== null) {
      this.inflight.delete(digest);
      this.cache?.invalidate(digest, Number.POSITIVE_INFINITY);
      this.heardRevoked(digest);
    }
    const { body } = await this.call<{ revokeSession: boolean }>(REVOKE, { id });
    // A read sent meanwhile may have reached a gateway before the revoke did.
    if (digest !== null) this.wrote(digest, null);
    return body.revokeSession;
  }

  /**
   * Gives the session a new ID (with `principal`: signs it in), keeping its attributes; answers
   * the session under its new ID. The old ID is then gone for this client as after `revoke()`.
   */
  async rotate(id: string, input: RotateInput = {}): Promise<Session> {
    const digest = isWellFormedSessionId(id) ? sessionDigest(id) : null;
    if (digest !== null) {
      this.inflight.delete(digest);
      this.cache?.invalidate(digest, Number.POSITIVE_INFINITY);
      this.heardRevoked(digest);
    }
    const { body } = await this.call<{ rotateSession: RawSession }>(ROTATE, { id, input });
    if (digest !== null) this.wrote(digest, null);
    return freeze(body.rotateSession);
  }

  /** The live sessions of `principal`, most recently used first (handles, never IDs). */
  async sessionsOf(principal: string): Promise<SignedInSession[]> {
    const { body } = await this.call<{ sessionsOf: SignedInSession[] }>(SESSIONS_OF, { p: principal });
    return freeze(body.sessionsOf);
  }

  /**
   * Revokes every session of `principal` (e.g. the account was disabled); answers how many. This
   * client forgets its whole cache when it resolves (it cannot tell which IDs were the
   * principal's), so no read started after that serves one of them.
   */
  async revokePrincipalSessions(principal: string): Promise<number> {
    const { body } = await this.call<{ revokePrincipalSessions: number }>(REVOKE_PRINCIPAL, { p: principal });
    this.inflight.clear();
    this.cache?.forget();
    this.vouched.clear(); // which sessions went is not told: vouch for none
    return body.revokePrincipalSessions;
  }

  /**
   * What a session token says, if it is the gateway's, for this module's audience, unexpired,
   * and its session not revoked; else null. Local (no network) for a session vouched for since
   * the event stream came up; see the module's comment.
   */
  async verifyToken(token: string): Promise<VerifiedSessionToken | null> {
    const verified = await this.tokenVerifier.verify(token);
    if (verified === null) return null;
    const alive = this.sessionAlive(verified.sid, token);
    return (alive === true || (alive !== false && (await alive))) ? verified : null;
  }

  /**
   * Whether the session `sid` may be taken as alive for a token that passed: the one place the
   * revocation rule lives. Refused once heard revoked; alive when vouched for in this stream
   * epoch; otherwise the gateway is asked (introspection of `token`), and a revocation heard
   * while it was being asked wins over its answer.
   */
  private sessionAlive(sid: string, token: string): boolean | Promise<boolean> {
    if (this.revoked.has(sid)) return false;
    if (this.vouched.get(sid) === this.epoch && this.caching) return true;
    return this.vouch(sid, token);
  }

  private async vouch(sid: string, token: string): Promise<boolean> {
    const epoch = this.epoch;
    this.stats.introspections++;
    let answer: Awaited<ReturnType<GatewayHttp['post']>>;
    try {
      answer = await this.introspection.post(new URLSearchParams({ token }).toString(), { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/x-www-form-urlencoded' });
    } catch (error) {
      throw new SessionGatewayError('STORE_UNAVAILABLE', `the session gateway did not answer: ${(error as Error).message}`, 503);
    }
    let active: unknown;
    try {
      active = (JSON.parse(answer.body) as { active?: unknown; error?: { code?: string; message?: string } }).active;
    } catch {
      throw new SessionGatewayError('INTERNAL', `the session gateway answered ${answer.status} without JSON`, answer.status);
    }
    if (answer.status !== 200) {
      const error = (JSON.parse(answer.body) as { error?: { code?: string; message?: string } }).error;
      throw new SessionGatewayError(error?.code ?? 'INTERNAL', error?.message ?? `introspection answered ${answer.status}`, answer.status);
    }
    if (active !== true || this.revoked.has(sid)) return false;
    if (epoch === this.epoch && this.caching) this.vouched.set(sid, epoch);
    return true;
  }

  /** The session `sid` is revoked (an event, or this client's own write): its tokens are refused from now on. */
  private heardRevoked(sid: string): void {
    this.vouched.delete(sid);
    this.revoked.delete(sid);
    this.revoked.add(sid);
    if (this.revoked.size > this.maxRevoked) this.revoked.delete(this.revoked.values().next().value as string);
  }

  /** Closes the event stream, gives the lease up and forgets the cache. */
  async close(): Promise<void> {
    const released = this.dropLease();
    await this.events?.close();
    await released;
    this.http.close();
    this.introspection.close();
  }

  /** Drops the event stream as a network failure would (it reconnects by itself). */
  dropEventStream(): void {
    this.events?.terminate();
  }

  /**
   * This client's write of `digest` has been answered: the session is now `session` (null:
   * revoked). Fetches in flight, and reads waiting on them, may have been answered by the
   * gateway before the write landed, so: nobody joins them any more, their tickets (and any
   * taken since the write was sent) cannot store an older answer, and every read waiting gets
   * the write as its floor.
   */
  private wrote(digest: string, session: Session | null): void {
    this.inflight.delete(digest);
    this.cache?.invalidate(digest, session === null ? Number.POSITIVE_INFINITY : session.version);
    for (const floor of this.waiting.get(digest) ?? []) floor.least = later(floor.least, session);
  }

  /**
   * Awaits the answers of a read that waits on the gateway and lifts each to its floor, the
   * latest of this client's writes of that session that resolved meanwhile. Floors are watched
   * per read, not per fetch, so a read that also waits on other sessions is covered too.
   */
  private async withFloors(digests: ReadonlyArray<string | null>, answers: Promise<Array<Session | null>>): Promise<Array<Session | null>> {
    const byDigest = new Map<string, Floor>();
    const floors = digests.map((digest) => {
      if (digest === null) return undefined;
      let floor = byDigest.get(digest);
      if (floor === undefined) {
        byDigest.set(digest, (floor = { least: undefined }));
        let watching = this.waiting.get(digest);
        if (watching === undefined) this.waiting.set(digest, (watching = new Set()));
        watching.add(floor);
      }
      return floor;
    });
    try {
      return (await answers).map((answer, i) => atLeast(answer, floors[i]?.least));
    } finally {
      for (const [digest, floor] of byDigest) {
        const watching = this.waiting.get(digest);
        watching?.delete(floor);
        if (watching?.size === 0) this.waiting.delete(digest);
      }
    }
  }

  private apply(event: ChangeEvent): void {
    this.stats.invalidations++;
    if (event.kind === 'REVOKED') this.heardRevoked(event.digest);
    this.inflight.delete(event.digest);
    const revoked = event.kind === 'REVOKED';
    this.cache?.invalidate(event.digest, revoked ? Number.POSITIVE_INFINITY : event.version);
    if (revoked) this.confirm(event.digest);
    this.emit('change', event);
  }

  /**
   * Whether the cache may serve: the stream is up and the lease has not run out by this host's
   * clock. Past its end, the cache is dropped and a new lease asked for.
   */
  private serving(): boolean {
    const lease = this.lease;
    if (lease === null || this.cache === null || !this.cache.enabled) return false;
    if (performance.now() < lease.endsAt) return true;
    void this.dropLease();
    if (this.events?.connected) this.takeLease();
    return false;
  }

  /**
   * The stream is confirmed: take a lease, and serve once it is held. Revocations heard
   * meanwhile are confirmed then: the gateway's revocations wait for them.
   */
  private takeLease(): void {
    const generation = ++this.leaseGeneration;
    const sentAt = performance.now();
    this.call<{ takeCacheLease: { name: string; durationMs: number } }>(TAKE_LEASE, {}, false).then(
      ({ body }) => {
        const { name, durationMs } = body.takeCacheLease;
        if (generation !== this.leaseGeneration || !this.events?.connected) {
          void this.call(RELEASE_LEASE, { name }, false).catch(() => undefined);
          return;
        }
        this.lease = { name, durationMs, endsAt: sentAt + durationMs * (1 - RATE_MARGIN) };
        const heard = this.unconfirmed;
        this.unconfirmed = [];
        for (const digest of heard) this.confirm(digest);
        this.epoch++;
        this.cache?.enable();
        this.emit('stream', 'up');
      },
      () => {
        // Not taken (the gateway did not answer): ask again shortly, while the stream is up.
        if (generation !== this.leaseGeneration) return;
        setTimeout(() => {
          if (generation === this.leaseGeneration && this.events?.connected) this.takeLease();
        }, this.options.minRetryMs ?? 100).unref();
      },
    );
  }

  /** On each pong: another lease duration from now; refused (the lease was cut): drop the cache and take a new one. */
  private renewLease(): void {
    const lease = this.lease;
    if (lease === null || this.renewing) return;
    this.renewing = true;
    const generation = this.leaseGeneration;
    const sentAt = performance.now();
    this.call<{ renewCacheLease: boolean }>(RENEW_LEASE, { name: lease.name }, false)
      .then(
        ({ body }) => {
          if (generation !== this.leaseGeneration) return;
          if (body.renewCacheLease) {
            lease.endsAt = sentAt + lease.durationMs * (1 - RATE_MARGIN);
            return;
          }
          void this.dropLease();
          this.emit('stream', 'down', 'the cache lease was cut');
          if (this.events?.connected) this.takeLease();
        },
        () => undefined, // not renewed: it runs out by itself, and serving() sees so
      )
      .finally(() => {
        this.renewing = false;
      });
  }

  /**
   * The cache stops serving and forgets everything, and gives its lease up (so no revocation
   * waits for it); resolves when the gateway has heard so, or could not be told (it runs out).
   */
  private dropLease(): Promise<void> {
    const lease = this.lease;
    this.leaseGeneration++;
    this.lease = null;
    // Revocations may go unheard from now on: no session stays vouched for (see sessionAlive).
    this.epoch++;
    this.vouched.clear();
    this.unconfirmed = [];
    this.confirming = [];
    this.cache?.disable();
    if (lease === null) return Promise.resolve();
    return this.call(RELEASE_LEASE, { name: lease.name }, false).then(
      () => undefined,
      () => undefined,
    );
  }

  /** This client dropped `digest` on a REVOKED change: tell the gateway (every drop of one turn in one request). */
  private confirm(digest: string): void {
    if (this.lease === null) {
      if (this.events?.connected) this.unconfirmed.push(digest);
      return;
    }
    this.confirming.push(digest);
    if (this.confirming.length > 1) return;
    setImmediate(() => {
      const lease = this.lease;
      const digests = this.confirming;
      this.confirming = [];
      if (lease === null) return;
      for (let at = 0; at < digests.length; at += MAX_CONFIRMED) {
        // Unheard: the revocation waits this lease out instead.
        void this.call(CONFIRM, { lease: lease.name, digests: digests.slice(at, at + MAX_CONFIRMED) }, false).catch(() => undefined);
      }
    });
  }

  /** One request for these misses; each is in `inflight` until it settles. */
  private fetchMany(wanted: ReadonlyArray<{ id: string; digest: string }>): Map<string, Promise<Session | null>> {
    const tickets = wanted.map((w) => this.cache?.ticket(w.digest) ?? null);
    const request = this.call<{ sessions: Array<RawSession | null> }>(READ, { ids: wanted.map((w) => w.id) });
    const results = new Map<string, Promise<Session | null>>();
    wanted.forEach((w, i) => {
      const ticket = tickets[i] as Ticket | null;
      const promise = request.then(
        ({ body, serverNowMs }) => {
          const raw = body.sessions[i];
          const session = raw === null || raw === undefined ? null : freeze(raw);
          // Another digest: an ID rotated away, read in its grace. Not kept: the grace ends
          // without an event, and the old ID must stop answering then.
          if (session === null || session.digest !== w.digest) this.cache?.release(ticket);
          else this.store(ticket, session, serverNowMs);
          return session;
        },
        (error: unknown) => {
          this.cache?.release(ticket);
          throw error;
        },
      );
      const settle = (): void => {
        if (this.inflight.get(w.digest) === promise) this.inflight.delete(w.digest);
      };
      promise.then(settle, settle);
      this.inflight.set(w.digest, promise);
      results.set(w.digest, promise);
    });
    return results;
  }

  private store(ticket: Ticket | null, session: Session, serverNowMs: number): void {
    if (this.cache === null || ticket === null) return;
    // Remaining life on the gateway's clock (its Date header), so a skewed local clock cannot
    // stretch it; the Date header has whole seconds, so one more second is taken off.
    const remainingMs = Date.parse(session.expiresAt) - serverNowMs - 1000;
    const ttlMs = Math.min(this.maxTtlMs, remainingMs);
    this.cache.put(ticket, session, approximateBytes(session), Date.now() + ttlMs);
  }

  /** A request to the gateway; `counted` in `stats.requests` unless it is the cache's own (its lease). */
  private async call<T>(query: string, variables: Record<string, unknown>, counted = true): Promise<{ body: T; serverNowMs: number }> {
    if (counted) this.stats.requests++;
    let answer: Awaited<ReturnType<GatewayHttp['post']>>;
    try {
      answer = await this.http.post(JSON.stringify({ query, variables }), { authorization: `Bearer ${this.options.token}` });
    } catch (error) {
      throw new SessionGatewayError('STORE_UNAVAILABLE', `the session gateway did not answer: ${(error as Error).message}`, 503);
    }
    let payload: { data?: T | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
    try {
      payload = JSON.parse(answer.body) as typeof payload;
    } catch {
      throw new SessionGatewayError('INTERNAL', `the session gateway answered ${answer.status} without JSON`, answer.status);
    }
    const error = payload.errors?.[0];
    if (error !== undefined || payload.data === undefined || payload.data === null) {
      throw new SessionGatewayError(error?.extensions?.code ?? 'INTERNAL', error?.message ?? 'no data', answer.status);
    }
    return { body: payload.data, serverNowMs: answer.serverNowMs };
  }
}

type RawSession = Omit<Session, never>;

/** The least a waiting read may answer for one session: set by this client's own writes. */
interface Floor {
  /** undefined: no write resolved yet; null: revoked; else the session an update returned. */
  least: Session | null | undefined;
}

/** The later of a floor and a write's result: a revoke is final, else the higher version. */
function later(floor: Session | null | undefined, written: Session | null): Session | null {
  if (floor === undefined || written === null) return written;
  if (floor === null) return null;
  return written.version > floor.version ? written : floor;
}

/**
 * The gateway's answer, unless the floor makes it stale: null after a revoke, the update's
 * session when the answer is older. A null answer stands: the session existed when the update
 * landed, so the gateway read it after that.
 */
function atLeast(answer: Session | null, floor: Session | null | undefined): Session | null {
  if (floor === undefined || answer === null) return answer;
  if (floor === null) return null;
  return answer.version < floor.version ? floor : answer;
}

function approximateBytes(session: Session): number {
  return 2 * JSON.stringify(session).length; // UTF-16 in memory, plus change
}

function freeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) freeze(child);
    Object.freeze(value);
  }
  return value;
}
