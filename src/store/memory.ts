/**
 * The embedded store: sessions in this process's memory, for `npm start` on a bare machine and
 * for development. Neither durable nor shared between instances; `main.ts` says so loudly.
 *
 * Expired sessions are dropped when touched and by a sweep once a minute, so an idle process
 * does not hold them forever.
 */
import { sessionDigest } from '../session/ids';
import {
  applyPatch,
  patchError,
  sessionNotFound,
  touchDue,
  type NewSession,
  type SessionPatch,
  type SessionRecord,
  type SessionState,
} from '../session/model';
import { NO_SESSION, type AttributeRead, type ChangeFeed, type ChangeKind, type ChangeListener, type SessionStore } from './store';

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
  readonly touchIntervalSeconds: number;
  /** The clock, in epoch milliseconds; tests move it to expire sessions without waiting. */
  readonly now?: () => number;
  readonly sweepIntervalMs?: number;
}

export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory';
  readonly changes = new LocalChangeFeed();
  // Keyed by digest, like Redis, so a heap dump holds no usable ID either.
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly touchIntervalMs: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: MemoryStoreOptions) {
    this.now = options.now ?? Date.now;
    this.touchIntervalMs = options.touchIntervalSeconds * 1000;
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.sweeper.unref();
  }

  async create(id: string, session: NewSession): Promise<SessionRecord | null> {
    const key = sessionDigest(id);
    const nowMs = this.now();
    if (this.live(key, nowMs)) return null;
    const entry: Entry = {
      state: {
        principal: session.principal,
        attributes: new Map(session.attributes),
        createdAtMs: nowMs,
        maxInactiveSeconds: session.maxInactiveSeconds,
        version: 1,
      },
      lastAccessedAtMs: nowMs,
      expiresAtMs: nowMs + session.maxInactiveSeconds * 1000,
    };
    this.entries.set(key, entry);
    this.changes.announce(key, 'ISSUED', 1);
    return toRecord(id, entry);
  }

  async getMany(ids: readonly string[]): Promise<Array<SessionRecord | null>> {
    const nowMs = this.now();
    return ids.map((id) => {
      const entry = this.live(sessionDigest(id), nowMs);
      if (entry === undefined) return null;
      if (touchDue(entry.lastAccessedAtMs, nowMs, this.touchIntervalMs)) {
        entry.lastAccessedAtMs = nowMs;
        entry.expiresAtMs = nowMs + entry.state.maxInactiveSeconds * 1000;
      }
      return toRecord(id, entry);
    });
  }

  async readAttribute(id: string, name: string): Promise<AttributeRead> {
    const [record] = await this.getMany([id]);
    if (record === null || record === undefined) return NO_SESSION;
    const json = record.attributes.get(name);
    return { found: true, json: json === undefined ? null : Buffer.from(json) };
  }

  async update(id: string, patch: SessionPatch): Promise<SessionRecord> {
    const nowMs = this.now();
    const key = sessionDigest(id);
    const entry = this.live(key, nowMs);
    if (entry === undefined) throw sessionNotFound();
    const outcome = applyPatch(entry.state, patch, this.options.maxAttributeBytes);
    if (!outcome.ok) throw patchError(outcome, this.options.maxAttributeBytes);
    const next: Entry = {
      state: outcome.state,
      lastAccessedAtMs: nowMs,
      expiresAtMs: nowMs + outcome.state.maxInactiveSeconds * 1000,
    };
    this.entries.set(key, next);
    this.changes.announce(key, 'UPDATED', next.state.version);
    return toRecord(id, next);
  }

  async destroy(id: string): Promise<boolean> {
    const key = sessionDigest(id);
    const entry = this.live(key, this.now());
    if (entry === undefined) return false;
    this.entries.delete(key);
    this.changes.announce(key, 'REVOKED', entry.state.version + 1);
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

  private live(key: string, nowMs: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const nowMs = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAtMs <= nowMs) this.entries.delete(key);
  }
}

function toRecord(id: string, entry: Entry): SessionRecord {
  return {
    id,
    principal: entry.state.principal,
    // A copy: callers must not be able to change the stored map through a record.
    attributes: new Map(entry.state.attributes),
    createdAtMs: entry.state.createdAtMs,
    lastAccessedAtMs: entry.lastAccessedAtMs,
    expiresAtMs: entry.expiresAtMs,
    maxInactiveSeconds: entry.state.maxInactiveSeconds,
    version: entry.state.version,
  };
}
