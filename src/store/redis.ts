/**
 * The Redis store: one shared ioredis client for the process, every session one string (see
 * `redis-codec.ts`), every compound write one Lua script (see `redis-scripts.ts`).
 *
 * A read is one GET (MGET for many): no script, no write. When a session's last access is at
 * least the touch interval ago, the read is followed by a TOUCH script that slides the expiry —
 * at most one write per session per interval, whatever the read rate. Whether a touch is due is
 * judged on Redis's clock (the local clock corrected by the offset Redis's TIME showed), so a
 * gateway host whose clock is behind cannot let sessions in use expire.
 *
 * Keys are `<namespace>:{<sha256(id) base64url>}`: the ID itself never reaches Redis, so a dump,
 * MONITOR output or the slow log holds nothing a client could present. The braces are a Redis
 * Cluster hash tag: any key added for a session later (`<namespace>:{digest}:…`) lands in the
 * same slot, so moving to Cluster needs no change of layout.
 *
 * Failure: commands are never queued while Redis is unreachable (`enableOfflineQueue: false`,
 * no per-request retries), so a client hears STORE_UNAVAILABLE at once instead of waiting on a
 * dead socket. Every call has its own deadline of `commandTimeoutMs` from the moment it is made
 * (ioredis's own timeout starts only when a command is written, and auto-pipelined commands
 * wait behind a stuck one). A write's error says what is known: NOT_APPLIED when it never left
 * or Redis refused it, UNKNOWN when it was sent and no answer came (it may still run when a
 * frozen Redis resumes). The client keeps reconnecting in the background and the store serves
 * again as soon as Redis is back.
 */
import Redis, { ReplyError } from 'ioredis';
import { GatewayError, type WriteOutcome } from '../errors';
import { sessionDigest } from '../session/ids';
import { patchError, sessionNotFound, touchDue, type NewSession, type SessionPatch, type SessionRecord } from '../session/model';
import { decodeSession, encodeAttributes, readAttribute, type StoredSession } from './redis-codec';
import { RedisChangeFeed } from './redis-changes';
import { changeChannel, CREATE_SESSION, DESTROY_SESSION, TOUCH_SESSION, UPDATE_SESSION } from './redis-scripts';
import { NO_SESSION, type AttributeRead, type CommandObserver, type SessionStore, type StoreOperation } from './store';

export interface RedisStoreOptions {
  readonly url: string;
  readonly namespace: string;
  readonly maxAttributeBytes: number;
  readonly touchIntervalSeconds: number;
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
  touchSession(key: string, intervalMs: number): Promise<number | null>;
  updateSessionBuffer(key: string, ...args: Arg[]): Promise<Array<Buffer | number>>;
  destroySession(key: string): Promise<number>;
}

const MAX_RECONNECT_DELAY_MS = 1000;

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis';
  readonly client: Redis;
  readonly changes: RedisChangeFeed;
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly touchIntervalMs: number;
  private readonly attributeNames = new Map<string, Buffer>();
  /** Redis's clock minus ours, from the last TIME Redis showed us. */
  private clockOffsetMs = 0;
  private lastErrorLogMs = 0;

  constructor(private readonly options: RedisStoreOptions) {
    const client = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: true,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(options.commandTimeoutMs, 1000),
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    });
    client.defineCommand('createSession', { lua: CREATE_SESSION, numberOfKeys: 1 });
    client.defineCommand('touchSession', { lua: TOUCH_SESSION, numberOfKeys: 1 });
    client.defineCommand('updateSession', { lua: UPDATE_SESSION, numberOfKeys: 1 });
    client.defineCommand('destroySession', { lua: DESTROY_SESSION, numberOfKeys: 1 });
    client.on('error', (error: Error) => this.logConnectionError(error));
    client.on('ready', () => void this.syncClock());
    this.client = client;
    this.redis = client as ScriptedRedis;
    this.prefix = `${options.namespace}:`;
    this.touchIntervalMs = options.touchIntervalSeconds * 1000;
    this.changes = new RedisChangeFeed(client, changeChannel(options.namespace), options.commandTimeoutMs, options.changeHeartbeatMs ?? 5000);
  }

  /** The Redis key a session ID is stored under. */
  keyOf(id: string): string {
    return `${this.prefix}{${sessionDigest(id)}}`;
  }

  async create(id: string, session: NewSession): Promise<SessionRecord | null> {
    const reply = await this.call('create', () =>
      this.redis.createSession(this.keyOf(id), session.maxInactiveSeconds, session.principal ?? '', encodeAttributes(session.attributes)),
    );
    if (reply === null) return null;
    const createdAtMs = Number(reply);
    this.observeRedisTime(createdAtMs);
    const stored = { ...session, attributes: new Map(session.attributes), createdAtMs, lastAccessedAtMs: createdAtMs, version: 1 };
    return toRecord(id, stored);
  }

  async getMany(ids: readonly string[]): Promise<Array<SessionRecord | null>> {
    if (ids.length === 0) return [];
    const keys = ids.map((id) => this.keyOf(id));
    const values = await this.call('getMany', () =>
      keys.length === 1 ? this.redis.getBuffer(keys[0] as string).then((value) => [value]) : this.redis.mgetBuffer(keys),
    );
    const nowMs = Date.now() + this.clockOffsetMs;
    const records: Array<SessionRecord | null> = [];
    const touches: Array<Promise<void>> = [];
    for (let i = 0; i < ids.length; i++) {
      const value = values[i];
      if (value === null || value === undefined) {
        records.push(null);
        continue;
      }
      const stored = decodeSession(value);
      records.push(toRecord(ids[i] as string, stored));
      if (touchDue(stored.lastAccessedAtMs, nowMs, this.touchIntervalMs)) touches.push(this.touch(keys[i] as string, stored, records, i));
    }
    if (touches.length > 0) await Promise.all(touches);
    return records;
  }

  readAttribute(id: string, name: string): Promise<AttributeRead> {
    const key = this.keyOf(id);
    return this.call('getMany', () => this.redis.getBuffer(key)).then((value) => {
      if (value === null) return NO_SESSION;
      const view = readAttribute(value, this.nameBytes(name));
      const read = { found: true, json: view.json } as const;
      if (!touchDue(view.lastAccessedAtMs, Date.now() + this.clockOffsetMs, this.touchIntervalMs)) return read;
      return this.call('touch', () => this.redis.touchSession(key, this.touchIntervalMs)).then((touchedAtMs) => {
        if (touchedAtMs !== null) this.observeRedisTime(touchedAtMs);
        return read;
      });
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

  /** Slides one session's expiry; on success the record it answers with shows the new times. */
  private async touch(key: string, stored: StoredSession, records: Array<SessionRecord | null>, index: number): Promise<void> {
    const touchedAtMs = await this.call('touch', () => this.redis.touchSession(key, this.touchIntervalMs));
    if (touchedAtMs === null) return; // another instance touched it first, or it is gone
    this.observeRedisTime(touchedAtMs);
    records[index] = toRecord((records[index] as SessionRecord).id, { ...stored, lastAccessedAtMs: touchedAtMs });
  }

  async update(id: string, patch: SessionPatch): Promise<SessionRecord> {
    const args: Arg[] = [
      patch.expectedVersion ?? '',
      patch.maxInactiveSeconds ?? '',
      patch.principal === undefined ? '' : patch.principal === null ? '-' : '=',
      patch.principal ?? '',
      this.options.maxAttributeBytes,
      patch.unset.length,
      ...patch.unset,
    ];
    for (const [name, json] of patch.set) args.push(name, json);
    const reply = await this.call('update', () => this.redis.updateSessionBuffer(this.keyOf(id), ...args));
    const status = String(reply[0]);
    if (status === 'NOT_FOUND') throw sessionNotFound();
    if (status === 'VERSION_CONFLICT' || status === 'PAYLOAD_TOO_LARGE') {
      throw patchError({ ok: false, code: status, detail: Number(reply[1]) }, this.options.maxAttributeBytes);
    }
    const stored = decodeSession(reply[1] as Buffer);
    this.observeRedisTime(stored.lastAccessedAtMs);
    return toRecord(id, stored);
  }

  async destroy(id: string): Promise<boolean> {
    return (await this.call('destroy', () => this.redis.destroySession(this.keyOf(id)))) > 0;
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.redis.ping());
  }

  /** QUIT politely when Redis answers; never wait on a Redis that does not. */
  async close(): Promise<void> {
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
        if (settle(false)) reject(storeError(operation, 'UNKNOWN', `did not answer within ${this.options.commandTimeoutMs} ms`));
      }, this.options.commandTimeoutMs);
      pending.then(
        (result) => {
          if (settle(true)) resolve(result);
        },
        (error: unknown) => {
          if (settle(false)) reject(toGatewayError(operation, error));
        },
      );
    });
  }

  private observeRedisTime(redisNowMs: number): void {
    this.clockOffsetMs = redisNowMs - Date.now();
  }

  private async syncClock(): Promise<void> {
    try {
      const [seconds, micros] = await this.redis.time();
      this.observeRedisTime(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000));
    } catch {
      // The next write's reply sets the offset instead.
    }
  }

  private logConnectionError(error: Error): void {
    const nowMs = Date.now();
    if (nowMs - this.lastErrorLogMs < 5000) return; // a dead Redis would otherwise log every reconnect
    this.lastErrorLogMs = nowMs;
    this.options.logger?.warn({ reason: error.message }, 'redis connection error; retrying');
  }
}

/** The key expires exactly maxInactive after lastAccessedAt (every write sets PXAT so). */
function toRecord(id: string, stored: StoredSession): SessionRecord {
  return {
    id,
    principal: stored.principal,
    attributes: stored.attributes,
    createdAtMs: stored.createdAtMs,
    lastAccessedAtMs: stored.lastAccessedAtMs,
    expiresAtMs: stored.lastAccessedAtMs + stored.maxInactiveSeconds * 1000,
    maxInactiveSeconds: stored.maxInactiveSeconds,
    version: stored.version,
  };
}

const WRITES: ReadonlySet<StoreOperation> = new Set(['create', 'update', 'destroy']);

/**
 * STORE_UNAVAILABLE, worded for what is known. A read's outcome does not matter (reads change
 * nothing a client can see); a write's does, so a write's error carries it.
 */
function storeError(operation: StoreOperation, outcome: WriteOutcome, reason: string, cause?: unknown): GatewayError {
  const write = WRITES.has(operation);
  const message =
    outcome === 'NOT_APPLIED'
      ? `the session store is unavailable (${reason})${write ? '; nothing was written' : ''}`
      : `the session store ${reason}${write ? '; the write may or may not be applied: read the session (or pass expectedVersion) before retrying' : ''}`;
  return new GatewayError('STORE_UNAVAILABLE', message, write ? { outcome, cause } : { cause });
}

/** ioredis's words for a command it never sent (offline, with the offline queue off). */
const NEVER_SENT = /isn't writeable|enableOfflineQueue/;

/**
 * Redis refusing a command it understood (script bug, wrong type under our namespace) is our
 * defect: INTERNAL. Redis refusing to run it now (LOADING, OOM, READONLY, BUSY…) and a command
 * that never left are NOT_APPLIED. A command that was sent and got no answer (timed out, or the
 * connection closed under it) is UNKNOWN: Redis may have run it, or may run it yet.
 */
function toGatewayError(operation: StoreOperation, error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ReplyError) {
    if (/^(ERR|WRONGTYPE)/.test(message)) return new GatewayError('INTERNAL', 'the session store rejected a command', { cause: error });
    return storeError(operation, 'NOT_APPLIED', `Redis refused: ${message.split(' ')[0] ?? 'error'}`, error);
  }
  if (NEVER_SENT.test(message)) return storeError(operation, 'NOT_APPLIED', 'not connected', error);
  if (/timed out/i.test(message)) return storeError(operation, 'UNKNOWN', 'did not answer in time', error);
  return storeError(operation, 'UNKNOWN', 'lost the connection', error);
}
