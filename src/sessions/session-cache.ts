/**
 * The gateway's own near cache (SESSION_CACHE=on): sessions this gateway read lately, kept in its
 * memory so that a read that hits costs no Redis round trip. It is the client library's cache
 * (`cache/near-cache.ts`, one implementation), fed by the store's change feed instead of the
 * `sessionChanges` stream, and the session service is its only user: it asks here before it asks
 * the store, and tells it of its own writes.
 *
 * What holds, and what does not:
 * - It serves only while the feed is confirmed up; the moment the feed is lost the whole cache is
 *   dropped, and reads go to the store until the feed is back (retried with a capped backoff).
 * - A change made through any gateway drops the older cached value when its announcement arrives
 *   (milliseconds after the write); this gateway's own writes drop it before they return. A value
 *   read from the store is kept only if no change to it was announced while it was being read.
 * - An entry never outlives the session's own deadline (its idle deadline as last seen, capped
 *   by its absolute one), with no event needed: an expired session is never served.
 * - A touch is still sent at most once per TOUCH_INTERVAL per session and gateway: the service
 *   decides it on a hit as on a read; the entry takes the touch's time at once (so the hits
 *   meanwhile send nothing) and is dropped if the store did not take the touch.
 * - It serves only under a lease (`store.leases`, see `store/redis-leases.ts`), taken once the
 *   feed confirms, and confirms every revocation it hears: a revocation through any gateway
 *   returns only once this cache dropped the session or its lease has run out. Losing the lease
 *   (cut, or not renewed in time) is handled as losing the feed.
 */
import { Backoff } from '../backoff';
import { NearCache, type Ticket } from '../cache/near-cache';
import { storedDeadlineMs, type StoredSession } from '../session/model';
import { isForward, type CacheLeases, type ChangeFeed, type Found, type Lease } from '../store/store';

export interface SessionCacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** The store's clock: entries expire by the deadlines the store keeps. */
  readonly now: () => number;
  /** Told each time the feed is lost (the cache was dropped) and why. */
  readonly onLost?: (reason: string) => void;
}

/** What the cache has done since it was made, and holds now (its metrics). */
export interface SessionCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly entries: number;
  readonly bytes: number;
}


export class SessionCache {
  private readonly cache: NearCache<StoredSession>;
  private hits = 0;
  private misses = 0;
  private detach: (() => void) | null = null;
  /** The lease it serves under; null while it has none (it does not serve then). */
  private lease: Lease | null = null;
  /** REVOKED changes heard while the lease was being taken: confirmed once it is held. */
  private unconfirmed: string[] | null = null;
  /** Between attempts to listen to the feed and take a lease again: 100 ms to 5 s. */
  private readonly retry = new Backoff();
  private closed = false;
  /** Bumped each time it stops serving, so that a start under way from before gives up. */
  private generation = 0;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly leases: CacheLeases,
    private readonly options: SessionCacheOptions,
  ) {
    this.cache = new NearCache<StoredSession>({ maxEntries: options.maxEntries, maxBytes: options.maxBytes, now: options.now });
  }

  /**
   * Starts listening to the feed, then takes a lease; it serves once it holds both. The lease is
   * taken after the feed confirms, so every revocation its lease covers is heard and confirmed.
   */
  start(): void {
    if (this.closed || this.detach !== null || this.retry.pending) return;
    const generation = this.generation;
    this.unconfirmed = [];
    this.feed
      .listen({
        change: (change) => {
          const revoked = change.kind === 'REVOKED';
          this.cache.invalidate(change.digest, revoked ? Number.POSITIVE_INFINITY : change.version);
          if (!revoked) return;
          if (this.lease !== null) this.lease.dropped(change.digest);
          else this.unconfirmed?.push(change.digest);
        },
        lost: (reason) => this.stop(reason),
      })
      .then((detach) => {
        if (this.closed || generation !== this.generation) return detach();
        this.detach = detach;
        return this.leases.hold((reason) => this.stop(reason)).then((lease) => {
          if (this.closed || generation !== this.generation) return lease.release();
          this.lease = lease;
          for (const digest of this.unconfirmed ?? []) lease.dropped(digest);
          this.unconfirmed = null;
          this.retry.reset();
          this.cache.enable();
        });
      })
      .catch(() => {
        if (generation === this.generation) this.stop('could not listen to the change feed or take a lease');
      });
  }

  /** Whether it serves now: the feed is confirmed up and its lease has not run out. */
  get enabled(): boolean {
    return this.cache.enabled && this.lease !== null && this.lease.valid;
  }

  /** The cached session, counted as a hit; undefined (a miss) when absent, expired or off. */
  get(digest: string): StoredSession | undefined {
    if (!this.enabled) return undefined;
    const hit = this.cache.get(digest);
    if (hit !== undefined) this.hits++;
    else this.misses++;
    return hit;
  }

  /** Taken before a read of the store, so a change announced meanwhile keeps its answer out. */
  ticket(digest: string): Ticket | null {
    return this.enabled ? this.cache.ticket(digest) : null;
  }

  /** Keeps what the store answered for the ticket's digest (never a forward: its grace ends with no event). */
  put(ticket: Ticket | null, found: Found | undefined): void {
    if (found === null || found === undefined || isForward(found)) return this.cache.release(ticket);
    this.cache.put(ticket, found, approximateBytes(found), storedDeadlineMs(found));
  }

  release(ticket: Ticket | null): void {
    this.cache.release(ticket);
  }

  /**
   * A touch of `digest` is being sent, decided on a read that saw it last used at
   * `seenLastAccessedAtMs`: the cached entry takes the touch's time now, so the hits until it
   * returns are not due one too.
   */
  sliding(digest: string, seenLastAccessedAtMs: number, nowMs: number): void {
    const cached = this.cache.get(digest);
    if (cached === undefined || cached.lastAccessedAtMs !== seenLastAccessedAtMs) return;
    const slid: StoredSession = { ...cached, lastAccessedAtMs: nowMs };
    this.cache.refresh(digest, slid, storedDeadlineMs(slid));
  }

  /** The store did not take a touch (used or changed meanwhile, or gone): what is cached is not what it holds. */
  drop(digest: string): void {
    this.cache.drop(digest);
  }

  /** This gateway changed `digest`, now at `version` (Infinity: revoked): nothing older is served from here on. */
  wrote(digest: string, version: number): void {
    this.cache.invalidate(digest, version);
  }

  /** A change too wide to name (a principal's sessions revoked): forget everything. */
  forget(): void {
    this.cache.forget();
  }

  stats(): SessionCacheStats {
    return { hits: this.hits, misses: this.misses, evictions: this.cache.evictions, entries: this.cache.size, bytes: this.cache.byteSize };
  }

  close(): void {
    this.closed = true;
    this.retry.cancel();
    this.halt();
  }

  /** It lost the feed or its lease: it drops everything, serves nothing, and starts again. */
  private stop(reason: string): void {
    this.halt();
    this.options.onLost?.(reason);
    if (!this.closed) this.retry.schedule(() => this.start());
  }

  private halt(): void {
    this.generation++;
    this.cache.disable();
    void this.lease?.release();
    this.lease = null;
    this.unconfirmed = null;
    this.detach?.();
    this.detach = null;
  }

}

/**
 * What a cached session takes in memory, roughly: its strings at two bytes a character (V8
 * keeps most as one, so this errs high) and a fixed overhead for the objects and the map.
 */
export function approximateBytes(session: StoredSession): number {
  let bytes = 500;
  for (const [name, json] of session.attributes) bytes += 64 + 2 * (name.length + json.length);
  bytes += 2 * ((session.principal?.length ?? 0) + (session.device.userAgent?.length ?? 0) + (session.device.clientAddress?.length ?? 0));
  return bytes;
}
