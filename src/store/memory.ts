/**
 * The embedded store: sessions in this process's memory, for `npm start` on a bare machine and
 * for development. Neither durable nor shared between instances; `main.ts` says so loudly.
 *
 * Every operation runs to its end without yielding, so each is atomic as the contract asks.
 * Expired sessions are dropped when touched and by a sweep once a minute, so an idle process
 * does not hold them forever; a principal's index drops its members as they go.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { GatewayError } from '../errors';
import { applyPatch, patchError, principalChangeRefused, sessionNotFound, withinLifetimeMs, type SessionPatch, type StoredSession } from '../session/model';
import {
  NO_SESSION,
  type AttributeRead,
  type CacheLeases,
  type ChangeFeed,
  type ChangeKind,
  type ChangeListener,
  type Created,
  type Destroyed,
  type Forward,
  type Found,
  type IndexedSession,
  type ReplaceResult,
  type Replacement,
  type RetireResult,
  type Retirement,
  type RevokeReason,
  type SessionLimit,
  type SessionStore,
  type KeySetStore,
  type StoredKeySet,
  type UpdateResult,
  type UpdateTimes,
  type WriteTimes,
} from './store';

/** Changes in one process: delivered synchronously with the write, never lost. */
class LocalChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();

  async listen(listener: ChangeListener): Promise<() => void> {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  announce(digest: string, kind: ChangeKind, version: number, reason: RevokeReason | null = null): void {
    for (const listener of this.listeners) listener.change({ digest, kind, version, reason });
  }

  close(): void {
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener.lost('the gateway is closing');
  }
}

/**
 * Leases in one process: the only cache is this gateway's own, whose entries the service drops
 * itself before a revocation returns, so nothing is ever waited for.
 */
const LOCAL_LEASE_MS = 3000;
const LOCAL_LEASES: CacheLeases = {
  open: () => undefined,
  hold: async () => ({ valid: true, dropped: () => undefined, release: async () => undefined }),
  revoking: () => ({ settled: async () => undefined, abandon: () => undefined }),
  // A cache in another process (a client library's) is not waited for: one process, one cache.
  take: async () => ({ name: randomUUID(), durationMs: LOCAL_LEASE_MS }),
  renew: async () => true,
  confirm: async () => undefined,
  release: async () => undefined,
};

interface Entry {
  session: StoredSession;
  expiresAtMs: number;
}

interface ForwardEntry {
  forward: Forward;
  expiresAtMs: number;
}

export interface MemoryStoreOptions {
  readonly maxAttributeBytes: number;
  /** The clock, in epoch milliseconds; tests move it to expire sessions without waiting. */
  readonly now?: () => number;
  readonly sweepIntervalMs?: number;
}

export class MemorySessionStore implements SessionStore, KeySetStore {
  readonly kind = 'memory';
  readonly changes = new LocalChangeFeed();
  readonly leases = LOCAL_LEASES;
  // Keyed by digest, like Redis, so a heap dump holds no usable ID either.
  private readonly entries = new Map<string, Entry | ForwardEntry>();
  /** Principal → the digests of its sessions. */
  private readonly index = new Map<string, Set<string>>();
  private readonly clock: () => number;
  private readonly sweeper: NodeJS.Timeout;
  private readonly key = randomBytes(32);
  private keySet: StoredKeySet | null = null;

  constructor(private readonly options: MemoryStoreOptions) {
    this.clock = options.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.sweeper.unref();
  }

  now(): number {
    return this.clock();
  }

  async create(digest: string, session: StoredSession, expiresAtMs: number, limit: SessionLimit | null): Promise<Created | null> {
    if (this.present(digest, this.clock()) !== undefined) return null;
    const evicted: string[] = [];
    const principal = session.principal;
    if (principal !== null && limit !== null) {
      const mine = this.sessionsOf(principal);
      const excess = mine.length + 1 - limit.maxSessions;
      if (excess > 0 && limit.policy === 'refuse') {
        throw new GatewayError('SESSION_LIMIT_REACHED', `the principal already holds ${mine.length} sessions, the most allowed (MAX_SESSIONS_PER_PRINCIPAL); revoke one first; nothing was written`);
      }
      const oldest = mine.sort((a, b) => a.session.lastAccessedAtMs - b.session.lastAccessedAtMs).slice(0, Math.max(0, excess));
      for (const victim of oldest) {
        this.remove(victim.digest, victim.session);
        this.changes.announce(victim.digest, 'REVOKED', victim.session.version + 1, 'EVICTED');
        evicted.push(victim.digest);
      }
    }
    const stored = copy(session);
    this.entries.set(digest, { session: stored, expiresAtMs: capped(expiresAtMs, stored) });
    if (principal !== null) this.indexed(principal).add(digest);
    this.changes.announce(digest, 'ISSUED', stored.version);
    return { session: copy(stored), evicted };
  }

  async getMany(digests: readonly string[]): Promise<Found[]> {
    const nowMs = this.clock();
    return digests.map((digest) => {
      const entry = this.present(digest, nowMs);
      if (entry === undefined) return null;
      return 'forward' in entry ? entry.forward : copy(entry.session);
    });
  }

  async readAttribute(digest: string, name: string): Promise<AttributeRead> {
    const entry = this.present(digest, this.clock());
    if (entry === undefined) return NO_SESSION;
    if ('forward' in entry) return { found: false, forward: entry.forward };
    const json = entry.session.attributes.get(name);
    return {
      found: true,
      json: json === undefined ? null : Buffer.from(json),
      lastAccessedAtMs: entry.session.lastAccessedAtMs,
      maxInactiveSeconds: entry.session.maxInactiveSeconds,
      absoluteExpiresAtMs: entry.session.absoluteExpiresAtMs,
    };
  }

  async touch(digest: string, seenLastAccessedAtMs: number, times: WriteTimes): Promise<boolean> {
    const entry = this.live(digest, this.clock());
    if (entry === undefined || entry.session.lastAccessedAtMs !== seenLastAccessedAtMs) return false;
    entry.session = { ...entry.session, lastAccessedAtMs: times.nowMs };
    entry.expiresAtMs = capped(times.expiresAtMs, entry.session);
    return true;
  }

  async update(digest: string, patch: SessionPatch, times: UpdateTimes): Promise<UpdateResult> {
    const entry = this.live(digest, this.clock());
    if (entry === undefined) throw sessionNotFound();
    const current = entry.session;
    if (patch.expectedVersion !== undefined && patch.expectedVersion !== current.version) {
      throw patchError({ ok: false, code: 'VERSION_CONFLICT', detail: current.version }, this.options.maxAttributeBytes);
    }
    if (patch.principal !== undefined && patch.principal !== current.principal) throw principalChangeRefused();
    const maxInactiveSeconds = patch.maxInactiveSeconds ?? current.maxInactiveSeconds;
    if (maxInactiveSeconds !== times.maxInactiveSeconds) return { written: false, maxInactiveSeconds };
    const outcome = applyPatch(current, patch, this.options.maxAttributeBytes);
    if (!outcome.ok) throw patchError(outcome, this.options.maxAttributeBytes);
    const session: StoredSession = { ...outcome.state, lastAccessedAtMs: times.nowMs };
    this.entries.set(digest, { session, expiresAtMs: capped(times.expiresAtMs, session) });
    this.changes.announce(digest, 'UPDATED', session.version);
    return { written: true, session: copy(session) };
  }

  async destroy(digest: string, reason: RevokeReason, owner?: string): Promise<Destroyed> {
    const entry = this.present(digest, this.clock());
    if (entry === undefined) return false;
    if ('forward' in entry) {
      if (owner !== undefined) return false; // a forward is nobody's: a principal's revoke leaves it
      this.entries.delete(digest);
      return entry.forward;
    }
    if (owner !== undefined && entry.session.principal !== owner) return false;
    this.remove(digest, entry.session);
    this.changes.announce(digest, 'REVOKED', entry.session.version + 1, reason);
    return true;
  }

  async retire(digest: string, retirement: Retirement): Promise<RetireResult> {
    const entry = this.live(digest, this.clock());
    if (entry === undefined) return 'GONE';
    if (entry.session.version !== retirement.expectedVersion) return 'CONFLICT';
    this.remove(digest, entry.session);
    if (retirement.graceMs > 0) this.entries.set(digest, { forward: retirement.forward, expiresAtMs: this.clock() + retirement.graceMs });
    this.changes.announce(digest, 'REVOKED', entry.session.version + 1, 'ROTATED');
    return 'RETIRED';
  }

  async replace(digest: string, session: StoredSession, expiresAtMs: number, replaced: Replacement): Promise<ReplaceResult> {
    const nowMs = this.clock();
    if (this.present(digest, nowMs) !== undefined) return 'TAKEN';
    const old = this.live(replaced.digest, nowMs);
    if (old === undefined) return 'GONE';
    if (old.session.version !== replaced.expectedVersion || old.session.principal !== session.principal) return 'CONFLICT';
    this.remove(replaced.digest, old.session);
    if (replaced.graceMs > 0) this.entries.set(replaced.digest, { forward: replaced.forward, expiresAtMs: nowMs + replaced.graceMs });
    const stored = copy(session);
    this.entries.set(digest, { session: stored, expiresAtMs: capped(expiresAtMs, stored) });
    if (stored.principal !== null) this.indexed(stored.principal).add(digest);
    this.changes.announce(replaced.digest, 'REVOKED', old.session.version + 1, 'ROTATED');
    this.changes.announce(digest, 'ISSUED', stored.version);
    return 'RETIRED';
  }

  async principalSessions(_tag: string, principal: string): Promise<IndexedSession[]> {
    return this.sessionsOf(principal).map(({ digest, session }) => ({ digest, session: copy(session) }));
  }

  async revokePrincipal(_tag: string, principal: string, except: string | null, reason: RevokeReason): Promise<string[]> {
    const removed: string[] = [];
    for (const { digest, session } of this.sessionsOf(principal)) {
      if (digest === except) continue;
      this.remove(digest, session);
      this.changes.announce(digest, 'REVOKED', session.version + 1, reason);
      removed.push(digest);
    }
    return removed;
  }

  async tagKey(): Promise<Buffer> {
    return this.key;
  }

  async readKeySet(): Promise<StoredKeySet | null> {
    return this.keySet;
  }

  async writeKeySet(expectedVersion: number, keys: string): Promise<StoredKeySet> {
    if ((this.keySet?.version ?? 0) === expectedVersion) this.keySet = { version: expectedVersion + 1, keys };
    return this.keySet as StoredKeySet;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
    this.index.clear();
    this.changes.close();
  }

  /** Number of live sessions (forwards not counted); for tests and diagnostics. */
  size(): number {
    this.sweep();
    let count = 0;
    for (const entry of this.entries.values()) if ('session' in entry) count++;
    return count;
  }

  /** The digests indexed under `principal`, as they stand (tests: the index holds what lives). */
  indexedDigests(principal: string): string[] {
    return [...(this.index.get(principal) ?? [])];
  }

  /** The deadline a session holds; null when there is none (tests). */
  deadlineOf(digest: string): number | null {
    const entry = this.entries.get(digest);
    return entry === undefined ? null : entry.expiresAtMs;
  }

  private sessionsOf(principal: string): IndexedSession[] {
    const nowMs = this.clock();
    const found: IndexedSession[] = [];
    for (const digest of [...(this.index.get(principal) ?? [])]) {
      const entry = this.live(digest, nowMs);
      if (entry !== undefined) found.push({ digest, session: entry.session });
    }
    return found;
  }

  private indexed(principal: string): Set<string> {
    let digests = this.index.get(principal);
    if (digests === undefined) {
      digests = new Set();
      this.index.set(principal, digests);
    }
    return digests;
  }

  private remove(digest: string, session: StoredSession): void {
    this.entries.delete(digest);
    if (session.principal === null) return;
    const digests = this.index.get(session.principal);
    digests?.delete(digest);
    if (digests?.size === 0) this.index.delete(session.principal);
  }

  /** A session or a forward, if not expired (an expired one is dropped). */
  private present(digest: string, nowMs: number): Entry | ForwardEntry | undefined {
    const entry = this.entries.get(digest);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      if ('session' in entry) this.remove(digest, entry.session);
      else this.entries.delete(digest);
      return undefined;
    }
    return entry;
  }

  private live(digest: string, nowMs: number): Entry | undefined {
    const entry = this.present(digest, nowMs);
    return entry === undefined || 'forward' in entry ? undefined : entry;
  }

  private sweep(): void {
    const nowMs = this.clock();
    for (const digest of [...this.entries.keys()]) this.present(digest, nowMs);
  }
}

/** The deadline asked for, never past the session's absolute deadline. */
function capped(expiresAtMs: number, session: StoredSession): number {
  return withinLifetimeMs(expiresAtMs, session.absoluteExpiresAtMs);
}

function copy(session: StoredSession): StoredSession {
  // A copy: callers must not be able to change the stored map through what they were given.
  return { ...session, attributes: new Map(session.attributes) };
}
