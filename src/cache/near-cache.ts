/**
 * The near cache: a bounded LRU of sessions keyed by digest, kept coherent by change events. One
 * implementation for both places that cache sessions: the client library (fed by the gateway's
 * `sessionChanges` stream) and the gateway itself with SESSION_CACHE=on (fed by the store's change
 * feed, `sessions/session-cache.ts`). Pure logic (no I/O), so it is tested on its own.
 *
 * Three rules keep it from serving what the gateway no longer holds:
 *
 * 1. It serves only while enabled, that is while the change stream is up. Disabling (stream
 *    lost) empties it; enabling (stream back) starts a new epoch.
 * 2. An entry lives at most its TTL (≤ the session's remaining life, capped by the caller).
 * 3. A value fetched from the gateway is stored through a ticket taken *before* the fetch. Every
 *    change event for that digest while the ticket is out raises the ticket's bar to the event's
 *    version (a revoke: for ever), and the value is stored only if its version reaches the bar.
 *    So an answer that crossed an invalidation on the wire is never cached: the classic race
 *    that makes near caches serve stale data until the entry times out.
 */

export interface Versioned {
  readonly version: number;
}

export interface NearCacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** Epoch milliseconds; tests move it. */
  readonly now?: () => number;
}

/** Taken before a fetch; hands the fetched value to `put`. */
export interface Ticket {
  readonly key: string;
  readonly epoch: number;
  /** The lowest version the value may have to be stored: raised by change events meanwhile. */
  bar: number;
}

interface Entry<V> {
  readonly value: V;
  readonly bytes: number;
  readonly expiresAtMs: number;
}

export class NearCache<V extends Versioned> {
  private readonly entries = new Map<string, Entry<V>>();
  /** Tickets out, by key: only keys being fetched are tracked, whatever the event rate. */
  private readonly tickets = new Map<string, Set<Ticket>>();
  private readonly now: () => number;
  private bytes = 0;
  private epoch = 0;
  private on = false;
  private evicted = 0;

  constructor(private readonly options: NearCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.on;
  }

  get size(): number {
    return this.entries.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /** Entries pushed out by the limits (least recently used first) since the cache was made. */
  get evictions(): number {
    return this.evicted;
  }

  /** The change stream is up: serve and store from now on. */
  enable(): void {
    this.epoch++;
    this.on = true;
  }

  /** The change stream is lost: forget everything, serve nothing, store nothing. */
  disable(): void {
    this.epoch++;
    this.on = false;
    this.entries.clear();
    this.bytes = 0;
  }

  /** Forgets every entry and voids every ticket out, staying enabled (a change too wide to name). */
  forget(): void {
    this.epoch++;
    this.entries.clear();
    this.bytes = 0;
  }

  /** The cached value, if enabled, present and not expired; a hit counts as recent use. */
  get(key: string): V | undefined {
    if (!this.on) return undefined;
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= this.now()) {
      this.remove(key, entry);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry); // most recently used last
    return entry.value;
  }

  /** A ticket for a fetch of `key` about to start; null when the cache is off. */
  ticket(key: string): Ticket | null {
    if (!this.on) return null;
    const ticket: Ticket = { key, epoch: this.epoch, bar: 0 };
    let out = this.tickets.get(key);
    if (out === undefined) this.tickets.set(key, (out = new Set()));
    out.add(ticket);
    return ticket;
  }

  /**
   * Stores the fetched value (null: the session is gone, nothing to store) if the ticket is still
   * good; always returns the ticket. Returns whether it was stored.
   */
  put(ticket: Ticket | null, value: V | null, bytes: number, expiresAtMs: number): boolean {
    if (ticket === null) return false;
    this.release(ticket);
    if (value === null || !this.on || ticket.epoch !== this.epoch || value.version < ticket.bar) return false;
    if (expiresAtMs <= this.now() || bytes > this.options.maxBytes) return false;
    const previous = this.entries.get(ticket.key);
    if (previous !== undefined) {
      if (previous.value.version > value.version) return false; // never go back
      this.remove(ticket.key, previous);
    }
    this.entries.set(ticket.key, { value, bytes, expiresAtMs });
    this.bytes += bytes;
    this.evictOverLimits();
    return true;
  }

  /**
   * The cached value of `key` changed in a way no version counts (a touch slid its expiry): keeps
   * the entry where it is, with `value` and its new expiry, if it still holds that version.
   */
  refresh(key: string, value: V, expiresAtMs: number): void {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.value.version !== value.version) return;
    this.entries.set(key, { value, bytes: entry.bytes, expiresAtMs });
  }

  /** Forgets one entry (what it holds may no longer be what the store holds). */
  drop(key: string): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.remove(key, entry);
  }

  /** Gives a ticket back without storing anything (the fetch failed). */
  release(ticket: Ticket | null): void {
    if (ticket === null) return;
    const out = this.tickets.get(ticket.key);
    out?.delete(ticket);
    if (out?.size === 0) this.tickets.delete(ticket.key);
  }

  /**
   * A change to `key` happened: the session is now at `version` (Infinity: revoked). Drops an
   * older cached value, and raises the bar of every ticket out for the key.
   */
  invalidate(key: string, version: number): void {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.value.version < version) this.remove(key, entry);
    for (const ticket of this.tickets.get(key) ?? []) ticket.bar = Math.max(ticket.bar, version);
  }

  private remove(key: string, entry: Entry<V>): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }

  private evictOverLimits(): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.options.maxEntries && this.bytes <= this.options.maxBytes) return;
      this.remove(key, entry); // least recently used first
      this.evicted++;
    }
  }
}
