/**
 * The Redis store: the ioredis connection it is handed (see `connect.ts`), every session one
 * string (see `redis-codec.ts`), every compound write one Lua script (see `redis-scripts.ts`).
 *
 * A read is one GET (MGET for many): no script, no write. The service decides when a read should
 * slide the expiry and asks for a TOUCH script. Its clock is this store's `now()`: ours, corrected
 * by the offset Redis's TIME showed (read on every connect and every few minutes), so a gateway
 * host whose clock is off cannot let sessions in use expire, and instances agree on times.
 *
 * Keys are `<namespace>:{<digest>}`, the digest being the SHA-256 of the ID the service made: the
 * ID itself never reaches the store, so a dump,
 * MONITOR output or the slow log holds nothing a client could present. The braces are a Redis
 * Cluster hash tag: any key added for a session later (`<namespace>:{digest}:…`) lands in the
 * same slot, so moving to Cluster needs no change of layout.
 *
 * Failure: the connection never queues commands while Redis is unreachable (`connect.ts`), so a
 * client hears STORE_UNAVAILABLE at once instead of waiting on a dead socket (what each failure
 * means is decided in `redis-errors.ts`). Every call has its own deadline of `commandTimeoutMs` from the moment it is made
 * (ioredis's own timeout starts only when a command is written, and auto-pipelined commands
 * wait behind a stuck one). A write's error says what is known: NOT_APPLIED when it never left
 * or Redis refused it, UNKNOWN when it was sent and no answer came (it may still run when a
 * frozen Redis resumes). The client keeps reconnecting in the background and the store serves
 * again as soon as Redis is back.
 */
import type Redis from 'ioredis';
import { patchError, sessionNotFound, type NewSession, type SessionPatch, type StoredSession } from '../session/model';
import { decodeSession, encodeAttributes, readAttribute } from './redis-codec';
import { RedisChangeFeed } from './redis-changes';
import { classifyRedisError, storeUnavailable } from './redis-errors';
import { changeChannel, CREATE_SESSION, DESTROY_SESSION, TOUCH_SESSION, UPDATE_SESSION } from './redis-scripts';
import {
  NO_SESSION,
  type AttributeRead,
  type CommandObserver,
  type SessionStore,
  type StoreOperation,
  type UpdateResult,
  type UpdateTimes,
  type WriteTimes,
} from './store';

export interface RedisStoreOptions {
  readonly namespace: string;
  readonly maxAttributeBytes: number;
  readonly commandTimeoutMs: number;
  readonly logger?: { warn(details: object, message: string): void };
  /** Times every command (metrics); the store itself knows nothing of HTTP or Prometheus. */
  readonly onCommand?: CommandObserver;
  /** How often the change feed checks that its subscription still delivers (default 5 s). */
  readonly changeHeartbeatMs?: number;
}

type Arg = string | number;

/** The client with the commands `defineCommand` adds. */
interface ScriptedRedis extends Redis {
  createSession(key: string, ...args: Arg[]): Promise<number | null>;
  touchSession(key: string, ...args: Arg[]): Promise<number | null>;
  updateSessionBuffer(key: string, ...args: Arg[]): Promise<Array<Buffer | number>>;
  destroySession(key: string): Promise<number>;
}

/** How often the clock offset is read again while connected (drift between hosts is slow). */
const CLOCK_SYNC_MS = 10 * 60_000;

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis';
  readonly changes: RedisChangeFeed;
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly attributeNames = new Map<string, Buffer>();
  /** Redis's clock minus ours, from the last TIME Redis showed us. */
  private clockOffsetMs = 0;
  private readonly clockSync: NodeJS.Timeout;
  private lastErrorLogMs = 0;

  /** Takes `client` over: the store defines its scripts on it and closes it. */
  constructor(
    readonly client: Redis,
    private readonly options: RedisStoreOptions,
  ) {
    client.defineCommand('createSession', { lua: CREATE_SESSION, numberOfKeys: 1 });
    client.defineCommand('touchSession', { lua: TOUCH_SESSION, numberOfKeys: 1 });
    client.defineCommand('updateSession', { lua: UPDATE_SESSION, numberOfKeys: 1 });
    client.defineCommand('destroySession', { lua: DESTROY_SESSION, numberOfKeys: 1 });
    client.on('error', (error: Error) => this.logConnectionError(error));
    client.on('ready', () => void this.syncClock());
    if (client.status === 'ready') void this.syncClock();
    this.clockSync = setInterval(() => void this.syncClock(), CLOCK_SYNC_MS);
    this.clockSync.unref();
    this.redis = client as ScriptedRedis;
    this.prefix = `${options.namespace}:`;
    this.changes = new RedisChangeFeed(client, changeChannel(options.namespace), options.commandTimeoutMs, options.changeHeartbeatMs ?? 5000);
  }

  /** The Redis key a session is stored under, by its digest. */
  keyOf(digest: string): string {
    return `${this.prefix}{${digest}}`;
  }

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  async create(digest: string, session: NewSession, times: WriteTimes): Promise<StoredSession | null> {
    const reply = await this.call('create', () =>
      this.redis.createSession(this.keyOf(digest), times.nowMs, times.expiresAtMs, session.maxInactiveSeconds, session.principal ?? '', encodeAttributes(session.attributes)),
    );
    if (reply === null) return null;
    return { ...session, attributes: new Map(session.attributes), createdAtMs: times.nowMs, lastAccessedAtMs: times.nowMs, version: 1 };
  }

  getMany(digests: readonly string[]): Promise<Array<StoredSession | null>> {
    if (digests.length === 0) return Promise.resolve([]);
    if (digests.length === 1) {
      const key = this.keyOf(digests[0] as string);
      return this.call('getMany', () => this.redis.getBuffer(key)).then((value) => [value === null ? null : decodeSession(value)]);
    }
    const keys = digests.map((digest) => this.keyOf(digest));
    return this.call('getMany', () => this.redis.mgetBuffer(keys)).then((values) => values.map((value) => (value === null ? null : decodeSession(value))));
  }

  readAttribute(digest: string, name: string): Promise<AttributeRead> {
    const key = this.keyOf(digest);
    return this.call('readAttribute', () => this.redis.getBuffer(key)).then((value) => {
      if (value === null) return NO_SESSION;
      const view = readAttribute(value, this.nameBytes(name));
      return { found: true, json: view.json, lastAccessedAtMs: view.lastAccessedAtMs, maxInactiveSeconds: view.maxInactiveSeconds };
    });
  }

  /** Attribute names as bytes, kept: the REST shim asks for the same one on every request. */
  private nameBytes(name: string): Buffer {
    let bytes = this.attributeNames.get(name);
    if (bytes === undefined) {
      bytes = Buffer.from(name);
      if (this.attributeNames.size < 16) this.attributeNames.set(name, bytes);
    }
    return bytes;
  }

  touch(digest: string, seenLastAccessedAtMs: number, times: WriteTimes): Promise<boolean> {
    const key = this.keyOf(digest);
    return this.call('touch', () => this.redis.touchSession(key, seenLastAccessedAtMs, times.nowMs, times.expiresAtMs)).then((reply) => reply !== null);
  }

  async update(digest: string, patch: SessionPatch, times: UpdateTimes): Promise<UpdateResult> {
    const args: Arg[] = [
      patch.expectedVersion ?? '',
      patch.maxInactiveSeconds ?? '',
      patch.principal === undefined ? '' : patch.principal === null ? '-' : '=',
      patch.principal ?? '',
      this.options.maxAttributeBytes,
      times.nowMs,
      times.expiresAtMs,
      times.maxInactiveSeconds,
      patch.unset.length,
      ...patch.unset,
    ];
    for (const [name, json] of patch.set) args.push(name, json);
    const reply = await this.call('update', () => this.redis.updateSessionBuffer(this.keyOf(digest), ...args));
    const status = String(reply[0]);
    if (status === 'NOT_FOUND') throw sessionNotFound();
    if (status === 'IDLE') return { written: false, maxInactiveSeconds: Number(String(reply[1])) };
    if (status === 'VERSION_CONFLICT' || status === 'PAYLOAD_TOO_LARGE') {
      throw patchError({ ok: false, code: status, detail: Number(reply[1]) }, this.options.maxAttributeBytes);
    }
    return { written: true, session: decodeSession(reply[1] as Buffer) };
  }

  async destroy(digest: string): Promise<boolean> {
    return (await this.call('destroy', () => this.redis.destroySession(this.keyOf(digest)))) > 0;
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.redis.ping());
  }

  /** QUIT politely when Redis answers; never wait on a Redis that does not. */
  async close(): Promise<void> {
    clearInterval(this.clockSync);
    await this.changes.close();
    if (this.client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.commandTimeoutMs);
      });
      await Promise.race([this.client.quit().catch(() => undefined), deadline]);
      clearTimeout(timer);
    }
    this.client.disconnect();
  }

  /**
   * The one way to Redis: errors become coded errors, every call ends by its deadline, and
   * every command is timed when observed. Plain promise chaining rather than async/await: this
   * wraps every read, and each async layer costs a promise and a microtask turn.
   */
  private call<T>(operation: StoreOperation, command: () => Promise<T>): Promise<T> {
    const observe = this.options.onCommand;
    const startedAt = observe === undefined ? 0 : performance.now();
    let pending: Promise<T>;
    try {
      pending = command();
    } catch (error) {
      pending = Promise.reject(error); // still observed and coded below, as a rejection
    }
    return new Promise<T>((resolve, reject) => {
      // Whichever comes first settles the call and is observed; the other is ignored.
      let settled = false;
      const settle = (ok: boolean): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        observe?.(operation, (performance.now() - startedAt) / 1000, ok);
        return true;
      };
      const timer = setTimeout(() => {
        if (settle(false)) reject(storeUnavailable(operation, 'UNKNOWN', `did not answer within ${this.options.commandTimeoutMs} ms`));
      }, this.options.commandTimeoutMs);
      pending.then(
        (result) => {
          if (settle(true)) resolve(result);
        },
        (error: unknown) => {
          if (settle(false)) reject(classifyRedisError(operation, error));
        },
      );
    });
  }

  private async syncClock(): Promise<void> {
    try {
      const before = Date.now();
      const [seconds, micros] = await this.redis.time();
      // Redis read its clock somewhere in the round trip: take the middle.
      const midpoint = Math.round((before + Date.now()) / 2);
      this.clockOffsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - midpoint;
    } catch {
      // Keep the last offset; the next connect or sync tries again.
    }
  }

  private logConnectionError(error: Error): void {
    const nowMs = Date.now();
    if (nowMs - this.lastErrorLogMs < 5000) return; // a dead Redis would otherwise log every reconnect
    this.lastErrorLogMs = nowMs;
    this.options.logger?.warn({ reason: error.message }, 'redis connection error; retrying');
  }
}
