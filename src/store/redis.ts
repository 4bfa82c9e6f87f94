/**
 * The Redis store: one shared ioredis client for the process, every compound operation one Lua
 * script (see `redis-scripts.ts`), every session one string (see `redis-codec.ts`).
 *
 * Keys are `<namespace>:{<sha256(id) base64url>}`: the ID itself never reaches Redis, so a dump,
 * MONITOR output or the slow log holds nothing a client could present. The braces are a Redis
 * Cluster hash tag: any key added for a session later (`<namespace>:{digest}:…`) lands in the
 * same slot, so moving to Cluster needs no change of layout.
 *
 * Failure: commands are never queued while Redis is unreachable (`enableOfflineQueue: false`,
 * no per-request retries) and time out after `commandTimeoutMs`, so a client hears
 * STORE_UNAVAILABLE at once instead of waiting on a dead socket. The client keeps reconnecting
 * in the background and the store serves again as soon as Redis is back.
 */
import Redis, { ReplyError } from 'ioredis';
import { GatewayError } from '../errors';
import { sessionDigest } from '../session/ids';
import { sessionNotFound, patchError, type NewSession, type SessionPatch, type SessionRecord, type SessionState } from '../session/model';
import { decodeSession, encodeAttributes } from './redis-codec';
import { CREATE_SESSION, READ_SESSIONS, UPDATE_SESSION } from './redis-scripts';
import type { CommandObserver, SessionStore, StoreOperation } from './store';

export interface RedisStoreOptions {
  readonly url: string;
  readonly namespace: string;
  readonly maxAttributeBytes: number;
  readonly touchIntervalSeconds: number;
  readonly commandTimeoutMs: number;
  readonly logger?: { warn(details: object, message: string): void };
  /** Times every command (metrics); the store itself knows nothing of HTTP or Prometheus. */
  readonly onCommand?: CommandObserver;
}

type Arg = string | number;

/** The client with the commands `defineCommand` adds. */
interface ScriptedRedis extends Redis {
  readSessionsBuffer(numKeys: number, ...args: Arg[]): Promise<Array<Buffer | number | null>>;
  createSession(key: string, ...args: Arg[]): Promise<[string, number] | null>;
  updateSessionBuffer(key: string, ...args: Arg[]): Promise<Array<Buffer | number>>;
}

const MAX_RECONNECT_DELAY_MS = 1000;

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis';
  readonly client: Redis;
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
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
    client.defineCommand('readSessions', { lua: READ_SESSIONS });
    client.defineCommand('createSession', { lua: CREATE_SESSION, numberOfKeys: 1 });
    client.defineCommand('updateSession', { lua: UPDATE_SESSION, numberOfKeys: 1 });
    client.on('error', (error: Error) => this.logConnectionError(error));
    this.client = client;
    this.redis = client as ScriptedRedis;
    this.prefix = `${options.namespace}:`;
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
    const state = { ...session, attributes: new Map(session.attributes), createdAtMs: Number(reply[0]), version: 1 };
    return toRecord(id, state, Number(reply[1]));
  }

  async getMany(ids: readonly string[]): Promise<Array<SessionRecord | null>> {
    if (ids.length === 0) return [];
    const keys = ids.map((id) => this.keyOf(id));
    const reply = await this.call('getMany', () =>
      this.redis.readSessionsBuffer(keys.length, ...keys, this.options.touchIntervalSeconds * 1000),
    );
    return ids.map((id, i) => {
      const value = reply[2 * i];
      return Buffer.isBuffer(value) ? toRecord(id, decodeSession(value), Number(reply[2 * i + 1])) : null;
    });
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
    return toRecord(id, decodeSession(reply[1] as Buffer), Number(reply[2]));
  }

  async destroy(id: string): Promise<boolean> {
    return (await this.call('destroy', () => this.redis.del(this.keyOf(id)))) > 0;
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.redis.ping());
  }

  async close(): Promise<void> {
    if (this.client.status === 'ready') {
      await this.client.quit().catch(() => this.client.disconnect());
    } else {
      this.client.disconnect();
    }
  }

  /** The one way to Redis: errors become coded errors, and every command is timed when observed. */
  private async call<T>(operation: StoreOperation, command: () => Promise<T>): Promise<T> {
    const observe = this.options.onCommand;
    const startedAt = observe === undefined ? 0 : performance.now();
    try {
      const result = await command();
      observe?.(operation, (performance.now() - startedAt) / 1000, true);
      return result;
    } catch (error) {
      observe?.(operation, (performance.now() - startedAt) / 1000, false);
      throw toGatewayError(error);
    }
  }

  private logConnectionError(error: Error): void {
    const nowMs = Date.now();
    if (nowMs - this.lastErrorLogMs < 5000) return; // a dead Redis would otherwise log every reconnect
    this.lastErrorLogMs = nowMs;
    this.options.logger?.warn({ reason: error.message }, 'redis connection error; retrying');
  }
}

/** lastAccessedAt is the expiry read backwards: the moment the idle clock last restarted. */
function toRecord(id: string, state: SessionState, expiresAtMs: number): SessionRecord {
  return {
    id,
    principal: state.principal,
    attributes: state.attributes,
    createdAtMs: state.createdAtMs,
    lastAccessedAtMs: expiresAtMs - state.maxInactiveSeconds * 1000,
    expiresAtMs,
    maxInactiveSeconds: state.maxInactiveSeconds,
    version: state.version,
  };
}

/**
 * Redis refusing a command it understood (script bug, wrong type under our namespace) is our
 * defect: INTERNAL. Anything else (no connection, timeout, LOADING, OOM, READONLY) means the
 * store cannot serve now: STORE_UNAVAILABLE.
 */
function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ReplyError && /^(ERR|WRONGTYPE)/.test(message)) {
    return new GatewayError('INTERNAL', 'the session store rejected a command', { cause: error });
  }
  return new GatewayError('STORE_UNAVAILABLE', 'the session store is unavailable; nothing was written', { cause: error });
}
