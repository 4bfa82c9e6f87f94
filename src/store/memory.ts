/**
 * The embedded store: sessions in this process's memory, for `npm start` on a bare machine and
 * for development. Neither durable nor shared between instances; `main.ts` says so loudly.
 *
 * Expired sessions are dropped when touched and by a sweep once a minute, so an idle process
 * does not hold them forever.
 */
import { applyPatch, patchError, sessionNotFound, type NewSession, type SessionPatch, type SessionState, type StoredSession } from '../session/model';
import {
  NO_SESSION,
  type AttributeRead,
  type ChangeFeed,
  type ChangeKind,
  type ChangeListener,
  type SessionStore,
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

  announce(digest: string, kind: ChangeKind, version: number): void {
    for (const listener of this.listeners) listener.change({ digest, kind, version });
  }

  close(): void {
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener.lost('the gateway is closing');
  }
}

interface Entry {
  state: SessionState;
  lastAccessedAtMs: number;
  expiresAtMs: number;
}

export interface MemoryStoreOptions {
  readonly maxAttributeBytes: number;
  /** The clock, in epoch milliseconds; tests move it to expire sessions without waiting. */
  readonly now?: () => number;
  readonly sweepIntervalMs?: number;
}

export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory';
  readonly changes = new LocalChangeFeed();
  // Keyed by digest, like Redis, so a heap dump holds no usable ID either.
  private readonly entries = new Map<string, Entry>();
  private readonly clock: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: MemoryStoreOptions) {
    this.clock = options.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.sweeper.unref();
  }

  now(): number {
    return this.clock();
  }

  async create(digest: string, session: NewSession, times: WriteTimes): Promise<StoredSession | null> {
    if (this.live(digest, this.clock())) return null;
    const entry: Entry = {
      state: {
        principal: session.principal,
        attributes: new Map(session.attributes),
        createdAtMs: times.nowMs,
        maxInactiveSeconds: session.maxInactiveSeconds,
        version: 1,
      },
      lastAccessedAtMs: times.nowMs,
      expiresAtMs: times.expiresAtMs,
    };
    this.entries.set(digest, entry);
    this.changes.announce(digest, 'ISSUED', 1);
    return stored(entry);
  }

  async getMany(digests: readonly string[]): Promise<Array<StoredSession | null>> {
    const nowMs = this.clock();
    return digests.map((digest) => {
      const entry = this.live(digest, nowMs);
      return entry === undefined ? null : stored(entry);
    });
  }

  async readAttribute(digest: string, name: string): Promise<AttributeRead> {
    const entry = this.live(digest, this.clock());
    if (entry === undefined) return NO_SESSION;
    const json = entry.state.attributes.get(name);
    return {
      found: true,
      json: json === undefined ? null : Buffer.from(json),
      lastAccessedAtMs: entry.lastAccessedAtMs,
      maxInactiveSeconds: entry.state.maxInactiveSeconds,
    };
  }

  async touch(digest: string, seenLastAccessedAtMs: number, times: WriteTimes): Promise<boolean> {
    const entry = this.live(digest, this.clock());
    if (entry === undefined || entry.lastAccessedAtMs !== seenLastAccessedAtMs) return false;
    entry.lastAccessedAtMs = times.nowMs;
    entry.expiresAtMs = times.expiresAtMs;
    return true;
  }

  async update(digest: string, patch: SessionPatch, times: UpdateTimes): Promise<UpdateResult> {
    const entry = this.live(digest, this.clock());
    if (entry === undefined) throw sessionNotFound();
    if (patch.expectedVersion !== undefined && patch.expectedVersion !== entry.state.version) {
      throw patchError({ ok: false, code: 'VERSION_CONFLICT', detail: entry.state.version }, this.options.maxAttributeBytes);
    }
    const maxInactiveSeconds = patch.maxInactiveSeconds ?? entry.state.maxInactiveSeconds;
    if (maxInactiveSeconds !== times.maxInactiveSeconds) return { written: false, maxInactiveSeconds };
    const outcome = applyPatch(entry.state, patch, this.options.maxAttributeBytes);
    if (!outcome.ok) throw patchError(outcome, this.options.maxAttributeBytes);
    const next: Entry = { state: outcome.state, lastAccessedAtMs: times.nowMs, expiresAtMs: times.expiresAtMs };
    this.entries.set(digest, next);
    this.changes.announce(digest, 'UPDATED', next.state.version);
    return { written: true, session: stored(next) };
  }

  async destroy(digest: string): Promise<boolean> {
    const entry = this.live(digest, this.clock());
    if (entry === undefined) return false;
    this.entries.delete(digest);
    this.changes.announce(digest, 'REVOKED', entry.state.version + 1);
    return true;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
    this.changes.close();
  }

  /** Number of live sessions; for tests and diagnostics. */
  size(): number {
    this.sweep();
    return this.entries.size;
  }

  private live(digest: string, nowMs: number): Entry | undefined {
    const entry = this.entries.get(digest);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      this.entries.delete(digest);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const nowMs = this.clock();
    for (const [digest, entry] of this.entries) if (entry.expiresAtMs <= nowMs) this.entries.delete(digest);
  }
}

function stored(entry: Entry): StoredSession {
  return {
    principal: entry.state.principal,
    // A copy: callers must not be able to change the stored map through what they were given.
    attributes: new Map(entry.state.attributes),
    createdAtMs: entry.state.createdAtMs,
    lastAccessedAtMs: entry.lastAccessedAtMs,
    maxInactiveSeconds: entry.state.maxInactiveSeconds,
    version: entry.state.version,
  };
}
