/**
 * The Redis store: the ioredis connection it is handed (see `connect.ts`), every session one
 * string (see `redis-codec.ts`), every compound write one Lua script (see `redis-scripts.ts`).
 *
 * A read is one GET (MGET for many): no script, no write. The service decides when a read should
 * slide the expiry and asks for a TOUCH script. Its clock is this store's `now()`: ours, corrected
 * by the offset Redis's TIME showed (read on every connect and every few minutes), so a gateway
 * host whose clock is off cannot let sessions in use expire, and instances agree on times.
 *
 * Keys are `<namespace>:{<tag>}:<digest>` for a session and `<namespace>:{<tag>}:index` for the
 * index of the principals whose sessions carry that tag (see `redis-scripts.ts`). The digest is
 * the ID's tag and SHA-256, made by the service: the ID itself never reaches the store, so a
 * dump, MONITOR output or the slow log holds nothing a client could present. The braces are a
 * Redis Cluster hash tag: a principal's sessions and their index share one slot, so every
 * compound operation is one script on a Cluster too.
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
import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import type { Cluster, ChainableCommander, default as Redis } from 'ioredis';
import { GatewayError } from '../errors';
import { digestTag, hasPrincipalTag } from '../session/ids';
import { patchError, principalChangeRefused, sessionNotFound, type SessionPatch, type StoredSession } from '../session/model';
import { decodeForward, decodeSession, encodeForward, encodeSession, readAttribute } from './redis-codec';
import { RedisChangeFeed } from './redis-changes';
import { RedisCacheLeases } from './redis-leases';
import { classifyRedisError, storeUnavailable } from './redis-errors';
import { EveryReplica, FixedReplicas, type NodeAddress, type OpenNode, type ReplicaAckRule } from './replica-acks';
import { changeChannel, indexMemberPrefix, CREATE_SESSION, DESTROY_SESSION, REPLACE_SESSION, RETIRE_SESSION, REVOKE_PRINCIPAL, TOUCH_SESSION, UPDATE_SESSION, WRITE_KEY_SET } from './redis-scripts';
import {
  NO_SESSION,
  type AttributeRead,
  type CommandObserver,
  type CommandSpan,
  type CommandTracer,
  type Created,
  type Destroyed,
  type Found,
  type IndexedSession,
  type ReplaceResult,
  type Replacement,
  type RetireResult,
  type Retirement,
  type RevokeReason,
  type SessionLimit,
  type KeySetStore,
  type StoredKeySet,
  type SessionStore,
  type StoreOperation,
  type UpdateResult,
  type UpdateTimes,
  type WriteTimes,
} from './store';

/** A single node's (or Sentinel's primary's) connection, or a Cluster's. */
export type RedisConnection = Redis | Cluster;

export interface RedisStoreOptions {
  readonly namespace: string;
  /**
   * Which replicas a write must reach before it is acknowledged: each write is followed by `WAIT`
   * in the same pipeline. `all`: every replica its primary has (replica-acks.ts; needs
   * `openNode`); a number: that many; 0 (the default here): no WAIT, the primary's word is taken.
   */
  readonly ackReplicas?: number | 'all';
  /** Connections to a node by address, with the deployment's credentials (connect.ts): for `all`. */
  readonly openNode?: OpenNode;
  readonly maxAttributeBytes: number;
  readonly commandTimeoutMs: number;
  readonly logger?: { warn(details: object, message: string): void };
  /** Times every command (metrics); the store itself knows nothing of HTTP or Prometheus. */
  readonly onCommand?: CommandObserver;
  /** Traces every call (tracing.ts), when tracing is on: its command, node and round trips. */
  readonly tracer?: CommandTracer;
  /**
   * How often the change feed checks that its subscription still delivers: by default a third of
   * `cacheLeaseMs`, since each heartbeat that comes back renews the caches' leases. The feed is
   * given up after two of these without one coming back, or, by default, after 10 s.
   */
  readonly changeHeartbeatMs?: number;
  /** How long a lease this gateway's cache takes lasts (redis-leases.ts; default 3 s). */
  readonly cacheLeaseMs?: number;
  /** How long a revocation waits for caches' confirmations before it cuts their leases (default 200 ms). */
  readonly revokePatienceMs?: number;
}

type Arg = string | number;

/** The client with the commands `defineCommand` adds. */
interface ScriptedRedis extends Redis {
  createSession(keyCount: number, ...keysAndArgs: Arg[]): Promise<string[]>;
  touchSession(keyCount: number, ...keysAndArgs: Arg[]): Promise<number | null>;
  updateSessionBuffer(keyCount: number, ...keysAndArgs: Arg[]): Promise<Array<Buffer | number>>;
  destroySessionBuffer(keyCount: number, ...keysAndArgs: Arg[]): Promise<number | Buffer>;
  retireSession(keyCount: number, ...keysAndArgs: Arg[]): Promise<string>;
  replaceSession(keyCount: number, ...keysAndArgs: Arg[]): Promise<string>;
  revokePrincipal(keyCount: number, ...keysAndArgs: Arg[]): Promise<string[]>;
  writeKeySet(keyCount: number, ...keysAndArgs: Arg[]): Promise<[number, string | null]>;
}

/** A pipeline with the same commands. */
type ScriptedPipeline = ChainableCommander & { [script in WriteScript]: (...keysAndArgs: Arg[]) => ScriptedPipeline };

type WriteScript = 'createSession' | 'updateSessionBuffer' | 'destroySessionBuffer' | 'retireSession' | 'replaceSession' | 'revokePrincipal' | 'writeKeySet';

/** A write script's name as defined (`defineScripts`), for its span: the Buffer variants are the same script. */
const SCRIPT_NAME: Readonly<Record<WriteScript, string>> = {
  createSession: 'createSession',
  updateSessionBuffer: 'updateSession',
  destroySessionBuffer: 'destroySession',
  retireSession: 'retireSession',
  replaceSession: 'replaceSession',
  revokePrincipal: 'revokePrincipal',
  writeKeySet: 'writeKeySet',
};

/** Attempts `create` makes at declaring a principal's sessions for an eviction, as they change under it. */
const DECLARE_ATTEMPTS = 20;

/**
 * Connections acknowledged writes are spread over. A WAIT holds its connection until it answers,
 * so the writes on one connection wait one after the other; on several, a replica that stopped
 * costs each write in flight one WAIT timeout, not that timeout times the writes queued.
 */
const WRITER_CONNECTIONS = 4;

/** A cache's lease, and how long a revocation waits for confirmations before it cuts a lease (redis-leases.ts). */
const DEFAULT_LEASE_MS = 3000;
const DEFAULT_PATIENCE_MS = 200;
/** How long the change feed may stay silent before it is given up (by default; redis-changes.ts). */
const FEED_SILENCE_MS = 10_000;

/** How often the clock offset is read again while connected (drift between hosts is slow). */
const CLOCK_SYNC_MS = 10 * 60_000;

export class RedisSessionStore implements SessionStore, KeySetStore {
  readonly kind = 'redis';
  readonly changes: RedisChangeFeed;
  readonly leases: RedisCacheLeases;
  private readonly redis: ScriptedRedis;
  /** Cluster: a batch read is one MGET per slot, pipelined per node. */
  private readonly cluster: boolean;
  /**
   * Which replicas a write must reach (null: none). Acknowledged writes wait on connections of
   * their own, so that no read queues behind a WAIT.
   */
  private readonly acks: ReplicaAckRule | null;
  private readonly writers: Array<{ readonly connection: ScriptedRedis; inFlight: number }>;
  private readonly waitTimeoutMs: number;
  private readonly prefix: string;
  private readonly attributeNames = new Map<string, Buffer>();
  /** Redis's clock minus ours, from the last TIME Redis showed us. */
  private clockOffsetMs = 0;
  private readonly clockSync: NodeJS.Timeout;
  private lastErrorLogMs = 0;

  /** Takes `client` over: the store defines its scripts on it and closes it. */
  constructor(
    readonly client: RedisConnection,
    private readonly options: RedisStoreOptions,
  ) {
    defineScripts(client);
    this.cluster = client.isCluster;
    const ackReplicas = options.ackReplicas ?? 0;
    if (ackReplicas === 'all' && options.openNode === undefined) throw new Error('RedisSessionStore: ackReplicas "all" needs openNode');
    this.acks = ackReplicas === 'all' ? new EveryReplica(options.openNode as OpenNode) : ackReplicas > 0 ? new FixedReplicas(ackReplicas) : null;
    // WAIT gives up a little before the call's own deadline, so its count is what answers (and a
    // replica that did not confirm can still be asked what it is: replica-acks.ts).
    this.waitTimeoutMs = Math.max(1, Math.floor(options.commandTimeoutMs * 0.7));
    // Made and connected along with the main connection, so that the first acknowledged write need
    // not wait for them (with slow sentinels that would take longer than its deadline).
    this.writers = this.acks === null ? [] : Array.from({ length: WRITER_CONNECTIONS }, () => {
      const writer = client.duplicate();
      defineScripts(writer);
      writer.on('error', () => undefined); // the main connection logs connection trouble
      return { connection: writer as ScriptedRedis, inFlight: 0 };
    });
    if (this.acks !== null) {
      // The main connection's primary's replicas, learned as soon as it is connected.
      const learn = (): void => {
        const primary = this.cluster ? null : addressOf(client as Redis);
        if (primary !== null) this.acks?.required(primary, Date.now() + options.commandTimeoutMs).catch(() => undefined);
      };
      client.on('ready', learn);
      learn();
    }
    client.on('error', (error: Error) => this.logConnectionError(error));
    client.on('ready', () => void this.syncClock());
    if (client.status === 'ready') void this.syncClock();
    this.clockSync = setInterval(() => void this.syncClock(), CLOCK_SYNC_MS);
    this.clockSync.unref();
    this.redis = client as ScriptedRedis;
    this.prefix = `${options.namespace}:`;
    const leaseMs = options.cacheLeaseMs ?? DEFAULT_LEASE_MS;
    const channel = changeChannel(options.namespace);
    // A heartbeat a third of a lease apart (each renews the leases); the feed is given up after
    // 10 s of silence, or two heartbeats when they are set apart explicitly.
    const heartbeatMs = options.changeHeartbeatMs ?? Math.floor(leaseMs / 3);
    this.changes = new RedisChangeFeed(client, channel, options.commandTimeoutMs, heartbeatMs, options.changeHeartbeatMs === undefined ? Math.max(2 * heartbeatMs, FEED_SILENCE_MS) : 2 * heartbeatMs);
    this.leases = new RedisCacheLeases(client, this.changes, { key: `${this.prefix}caches`, channel, leaseMs, patienceMs: options.revokePatienceMs ?? DEFAULT_PATIENCE_MS, commandTimeoutMs: options.commandTimeoutMs });
  }

  /** The Redis key a session is stored under, by its digest. */
  keyOf(digest: string): string {
    return `${this.prefix}{${digestTag(digest)}}:${digest}`;
  }

  /** The key of the index of the principals whose sessions carry `tag`. */
  indexOf(tag: string): string {
    return `${this.prefix}{${tag}}:index`;
  }

  /**
   * A write script's keys, count first: the session's, and its principal's index when its tag
   * is a principal's (an anonymous session has none, and its scripts touch its own key only).
   */
  private sessionKeys(digest: string): Arg[] {
    return hasPrincipalTag(digest) ? [2, this.keyOf(digest), this.indexOf(digestTag(digest))] : [1, this.keyOf(digest)];
  }

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  async create(digest: string, session: StoredSession, expiresAtMs: number, limit: SessionLimit | null): Promise<Created | null> {
    const key = this.keyOf(digest);
    const index = this.indexOf(digestTag(digest));
    const args: Arg[] = [digest, encodeSession(session), expiresAtMs, session.principal ?? '', session.lastAccessedAtMs, limit?.maxSessions ?? 0, limit?.policy ?? 'evict', session.version];
    let declared: string[] = [];
    for (let attempt = 0; attempt < DECLARE_ATTEMPTS; attempt++) {
      const keys = hasPrincipalTag(digest) ? [key, index, ...declared] : [key];
      const reply = await this.write<string[]>('create', 'createSession', [keys.length, ...keys, ...args], (answer) => String(answer[0]) === 'OK');
      const status = String(reply[0]);
      if (status === 'TAKEN') return null;
      if (status === 'LIMIT') {
        throw new GatewayError('SESSION_LIMIT_REACHED', `the principal already holds ${String(reply[1])} sessions, the most allowed (MAX_SESSIONS_PER_PRINCIPAL); revoke one first; nothing was written`);
      }
      if (status === 'OK') return { session, evicted: reply.slice(1).map(String) };
      // DECLARE: an eviction is due; the script names the principal's sessions to declare. Many
      // issues racing for one principal evict each other's candidates: a random pause spreads them.
      declared = reply.slice(1).map((other) => this.keyOf(String(other)));
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
    throw storeUnavailable('create', 'NOT_APPLIED', 'could not settle which session to evict: the principal\'s sessions kept changing');
  }

  getMany(digests: readonly string[]): Promise<Found[]> {
    if (digests.length === 0) return Promise.resolve([]);
    if (digests.length === 1) {
      const key = this.keyOf(digests[0] as string);
      return this.call('getMany', 'GET', () => this.redis.getBuffer(key), null, key).then((value) => [decodeFound(value)]);
    }
    const keys = digests.map((digest) => this.keyOf(digest));
    const read = this.cluster
      ? this.call('getMany', 'MGET', (span) => this.mgetBySlot(keys, span), null, undefined)
      : this.call('getMany', 'MGET', () => this.redis.mgetBuffer(keys), null, keys[0] as string);
    return read.then((values) => values.map(decodeFound));
  }

  /**
   * A Cluster answers MGET only for keys of one slot. So: one MGET per slot, the MGETs of the
   * slots one node serves sent together in one pipeline (one round trip per node, all nodes in
   * parallel), and the answers put back in the order asked. A pipeline does not follow a
   * redirect (a failover or resharding moved a slot since the slot map was read): the slots
   * refused so are read again one command each, which does follow it.
   */
  private mgetBySlot(keys: readonly string[], span: CommandSpan | null): Promise<Array<Buffer | null>> {
    const cluster = this.client as Cluster;
    const bySlot = new Map<number, number[]>();
    keys.forEach((key, index) => {
      const slot = calculateSlot(key);
      const indexes = bySlot.get(slot);
      if (indexes === undefined) bySlot.set(slot, [index]);
      else indexes.push(index);
    });
    const byNode = new Map<string, number[][]>();
    for (const [slot, indexes] of bySlot) {
      const node = cluster.slots[slot]?.[0] ?? '';
      const groups = byNode.get(node);
      if (groups === undefined) byNode.set(node, [indexes]);
      else groups.push(indexes);
    }
    const values: Array<Buffer | null> = new Array<Buffer | null>(keys.length).fill(null);
    const fill = (indexes: readonly number[], found: ReadonlyArray<Buffer | null>): void => indexes.forEach((index, at) => (values[index] = found[at] ?? null));
    const one = (indexes: readonly number[]): Promise<void> => {
      span?.roundTrip(this.nodeOf(keys[indexes[0] as number] as string));
      return this.redis.mgetBuffer(indexes.map((index) => keys[index] as string)).then((found) => fill(indexes, found));
    };
    const ready = new Map(cluster.nodes('master').filter((node) => node.status === 'ready').map((node) => [`${node.options.host}:${node.options.port}`, node]));
    const reads = [...byNode.entries()].map(async ([address, groups]) => {
      // A node not connected (down, or gone in a failover the slot map has not caught up with):
      // one command per slot, which rides out the failover, instead of a pipeline to nowhere.
      const node = ready.get(address);
      if (node === undefined) return Promise.all(groups.map(one)).then(() => undefined);
      if (groups.length === 1) return one(groups[0] as number[]);
      // On the node's own connection, not a Cluster pipeline (see `write`): one socket, so each
      // answer is the answer to the command in its place.
      const pipeline = node.pipeline();
      for (const indexes of groups) pipeline.mgetBuffer(indexes.map((index) => keys[index] as string));
      span?.roundTrip(address);
      const results = (await pipeline.exec()) ?? [];
      const again: Array<Promise<void>> = [];
      groups.forEach((indexes, at) => {
        const [error, found] = results[at] ?? [new Error('Connection is closed.'), null];
        if (error === null) fill(indexes, found as Array<Buffer | null>);
        else if (/^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(error.message)) again.push(one(indexes));
        else throw error;
      });
      await Promise.all(again);
    });
    return Promise.all(reads).then(() => values);
  }

  readAttribute(digest: string, name: string): Promise<AttributeRead> {
    const key = this.keyOf(digest);
    return this.call('readAttribute', 'GET', () => this.redis.getBuffer(key), null, key).then((value): AttributeRead => {
      if (value === null) return NO_SESSION;
      const forward = decodeForward(value);
      if (forward !== null) return { found: false, forward };
      const view = readAttribute(value, this.nameBytes(name));
      return { found: true, json: view.json, lastAccessedAtMs: view.lastAccessedAtMs, maxInactiveSeconds: view.maxInactiveSeconds, absoluteExpiresAtMs: view.absoluteExpiresAtMs };
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
    const keys = this.sessionKeys(digest);
    const touch = (): Promise<number | null> => this.redis.touchSession(...(keys as [number, ...Arg[]]), digest, stamp(seenLastAccessedAtMs), stamp(times.nowMs), times.expiresAtMs);
    return this.call('touch', 'EVALSHA', touch, 'touchSession', keys[1] as string).then((reply) => reply !== null);
  }

  async update(digest: string, patch: SessionPatch, times: UpdateTimes): Promise<UpdateResult> {
    const args: Arg[] = [
      patch.expectedVersion ?? '',
      patch.maxInactiveSeconds ?? '',
      patch.principal === undefined ? '' : patch.principal === null ? '-' : '=',
      patch.principal ?? '',
      this.options.maxAttributeBytes,
      stamp(times.nowMs),
      times.expiresAtMs,
      times.maxInactiveSeconds,
      patch.unset.length,
      ...patch.unset,
    ];
    for (const [name, json] of patch.set) args.push(name, json);
    args.push(digest);
    const reply = await this.write<Array<Buffer | number>>('update', 'updateSessionBuffer', [...this.sessionKeys(digest), ...args], (answer) => String(answer[0]) === 'OK');
    const status = String(reply[0]);
    if (status === 'NOT_FOUND') throw sessionNotFound();
    if (status === 'PRINCIPAL') throw principalChangeRefused();
    if (status === 'IDLE') return { written: false, maxInactiveSeconds: Number(String(reply[1])) };
    if (status === 'VERSION_CONFLICT' || status === 'PAYLOAD_TOO_LARGE') {
      throw patchError({ ok: false, code: status, detail: Number(reply[1]) }, this.options.maxAttributeBytes);
    }
    return { written: true, session: decodeSession(reply[1] as Buffer) };
  }

  async destroy(digest: string, reason: RevokeReason, owner?: string): Promise<Destroyed> {
    const keys = this.sessionKeys(digest);
    const reply = await this.write<number | Buffer>('destroy', 'destroySessionBuffer', [...keys, digest, reason, owner ?? ''], (removed) => removed !== 0);
    return typeof reply === 'number' ? reply > 0 : (decodeForward(reply) ?? false);
  }

  async retire(digest: string, retirement: Retirement): Promise<RetireResult> {
    const keys = this.sessionKeys(digest);
    const args = [digest, retirement.expectedVersion, retirement.graceMs, encodeForward(retirement.forward)];
    return (await this.write<string>('retire', 'retireSession', [...keys, ...args], (answer) => answer === 'RETIRED')) as RetireResult;
  }

  async replace(digest: string, session: StoredSession, expiresAtMs: number, replaced: Replacement): Promise<ReplaceResult> {
    const keys = hasPrincipalTag(digest) ? [this.keyOf(digest), this.indexOf(digestTag(digest)), this.keyOf(replaced.digest)] : [this.keyOf(digest), this.keyOf(replaced.digest)];
    const args: Arg[] = [
      digest,
      encodeSession(session),
      expiresAtMs,
      session.principal ?? '',
      session.lastAccessedAtMs,
      session.version,
      replaced.digest,
      replaced.expectedVersion,
      replaced.graceMs,
      encodeForward(replaced.forward),
    ];
    return (await this.write<string>('replace', 'replaceSession', [keys.length, ...keys, ...args], (answer) => answer === 'RETIRED')) as ReplaceResult;
  }

  /**
   * Two reads of one slot: the index's live members, then the principal's sessions among them
   * (one MGET). A session gone between the two is left out; so is one of another principal
   * that shares the tag.
   */
  async principalSessions(tag: string, principal: string): Promise<IndexedSession[]> {
    const index = this.indexOf(tag);
    const members = await this.call('principalSessions', 'ZRANGEBYSCORE', () => this.redis.zrangebyscore(index, `(${this.now()}`, '+inf'), null, index);
    const digests = ownMembers(members, principal);
    if (digests.length === 0) return [];
    const values = await this.call('principalSessions', 'MGET', () => this.redis.mgetBuffer(digests.map((digest) => this.keyOf(digest))), null, index);
    const found: IndexedSession[] = [];
    values.forEach((value, at) => {
      const session = decodeFound(value);
      if (session !== null && !('sealedId' in session) && session.principal === principal) found.push({ digest: digests[at] as string, session });
    });
    return found;
  }

  /**
   * Reads which sessions the index lists for the principal, then revokes them in one script that
   * declares them all: every session of the principal indexed when this began (a session is
   * indexed from the moment it is issued), none issued since.
   */
  async revokePrincipal(tag: string, principal: string, except: string | null, reason: RevokeReason): Promise<string[]> {
    const index = this.indexOf(tag);
    const members = await this.call('revokePrincipal', 'ZRANGE', () => this.redis.zrange(index, 0, -1), null, index);
    const keys = ownMembers(members, principal).filter((digest) => digest !== except).map((digest) => this.keyOf(digest));
    if (keys.length === 0) return [];
    const removed = await this.write<Array<string | Buffer>>('revokePrincipal', 'revokePrincipal', [keys.length + 1, index, ...keys, principal, except ?? '', reason], (digests) => digests.length > 0);
    return removed.map(String);
  }

  /** One key for every gateway on this Redis: the first to ask makes it (SET NX GET). */
  async tagKey(): Promise<Buffer> {
    const mine = randomBytes(32).toString('base64url');
    const key = `${this.prefix}tag-key`;
    const theirs = await this.call('tagKey', 'SET', () => this.redis.set(key, mine, 'NX', 'GET'), null, key);
    return Buffer.from(theirs ?? mine, 'base64url');
  }

  /** The signing keys live in one hash, `<ns>:token-keys` (fields `v` and `keys`): one slot. */
  async readKeySet(): Promise<StoredKeySet | null> {
    const [version, keys] = await this.call('readKeySet', 'HMGET', () => this.redis.hmget(this.keySetKey, 'v', 'keys'), null, this.keySetKey);
    return version === null || version === undefined || keys === null || keys === undefined ? null : { version: Number(version), keys };
  }

  /** Compare-and-set in one script, acknowledged like every write (a failover must not lose the key that signs). */
  async writeKeySet(expectedVersion: number, keys: string): Promise<StoredKeySet> {
    const [version, theirs] = await this.write<[number, string | null]>('writeKeySet', 'writeKeySet', [1, this.keySetKey, expectedVersion, keys], ([, held]) => held === null);
    return { version: Number(version), keys: theirs ?? keys };
  }

  private get keySetKey(): string {
    return `${this.prefix}token-keys`;
  }

  async ping(): Promise<void> {
    await this.call('ping', 'PING', () => this.redis.ping(), null, null);
  }

  /** QUIT politely when Redis answers; never wait on a Redis that does not. */
  async close(): Promise<void> {
    clearInterval(this.clockSync);
    await this.leases.close();
    await this.changes.close();
    this.acks?.close();
    for (const writer of this.writers) writer.connection.disconnect();
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
   * A write script. With replicas to reach (`ackReplicas`, see replica-acks.ts), it is sent on a
   * writer connection with `WAIT <count>` right behind it: a write that changed something is
   * acknowledged only when the replicas its primary must reach have it. If they do not confirm in
   * time (and the rule does not find the missing ones down), the write is on the primary (and
   * visible) but may be lost on a failover, so the caller hears STORE_UNAVAILABLE with outcome
   * UNKNOWN. A write that changed nothing (`wrote` says) answers as it is. A primary with no
   * replica to reach takes the write on the main connection, as without `ackReplicas`.
   */
  private write<T>(operation: StoreOperation, script: WriteScript, keysAndArgs: Arg[], wrote: (reply: T) => boolean): Promise<T> {
    const acks = this.acks;
    const unacknowledged = (): Promise<T> => (this.redis[script] as (...keysAndArgs: Arg[]) => Promise<T>).apply(this.redis, keysAndArgs);
    // Not connected: it fails at once, not applied, as every command does then (nothing is sent
    // before the connection is ready, so nothing goes out unacknowledged).
    const name = SCRIPT_NAME[script];
    const firstKey = String(keysAndArgs[1]);
    if (acks === null || this.client.status !== 'ready') return this.call(operation, 'EVALSHA', unacknowledged, name, firstKey);
    if (!this.cluster) {
      const primary = addressOf(this.client as Redis);
      if (primary !== null && acks.known(primary) === 0) return this.call(operation, 'EVALSHA', unacknowledged, name, firstKey);
    }
    return this.call(operation, 'EVALSHA', async (span) => {
      const giveUpAt = Date.now() + this.options.commandTimeoutMs;
      const requiredAt = (primary: NodeAddress): Promise<number> =>
        acks.required(primary, giveUpAt).catch((error: unknown) => {
          throw storeUnavailable(operation, 'NOT_APPLIED', error instanceof Error ? error.message : String(error));
        });
      if (!this.cluster) {
        // The main connection's primary first: with no replica to reach, no writer is needed.
        const primary = addressOf(this.client as Redis);
        if (primary !== null && (await requiredAt(primary)) === 0) {
          span?.roundTrip(this.nodeOf(firstKey));
          return unacknowledged();
        }
      }
      const writer = await this.readyWriter(operation, giveUpAt);
      const connection = writer.connection;
      writer.inFlight += 1;
      try {
        let scripted: [Error | null, unknown] | undefined;
        let waited: [Error | null, unknown] | undefined;
        let primary: NodeAddress | null;
        let required: number;
        for (;;) {
          const target = this.cluster ? primaryFor(connection as unknown as Cluster, String(keysAndArgs[1])) : connection;
          // A Cluster node as the slot map names it (its connection may not be open yet).
          primary = target === null ? null : this.cluster ? { host: target.options.host ?? '', port: target.options.port ?? 0 } : addressOf(target);
          if (target === null || primary === null) {
            // No connected primary for the slot (a failover the slot map has not caught up with).
            if (!this.cluster || Date.now() > giveUpAt) throw storeUnavailable(operation, 'NOT_APPLIED', this.cluster ? "is failing over (no primary is connected for the session's slot)" : 'not connected');
            (connection as unknown as Cluster).refreshSlotsCache();
            await new Promise((resolve) => setTimeout(resolve, 100));
            continue;
          }
          required = await requiredAt(primary);
          span?.roundTrip(`${primary.host}:${primary.port}`);
          if (required > 0) span?.waited(required);
          [scripted, waited] = await this.scriptThenWait(target, script, keysAndArgs, required);
          if (scripted === undefined || (required > 0 && waited === undefined)) throw new Error('Connection is closed.');
          // The slot is being migrated and the key is already on the importing node: it is asked
          // there, once, after ASKING (a redirect for this command only; the slot map stays).
          const asked = this.cluster && scripted[0] !== null ? askedNode(connection as unknown as Cluster, scripted[0].message) : null;
          if (asked !== null) {
            primary = asked.address;
            required = await requiredAt(primary);
            span?.roundTrip(`${primary.host}:${primary.port}`);
            [scripted, waited] = await this.scriptThenWait(asked.node, script, keysAndArgs, required, true);
            if (scripted === undefined || (required > 0 && waited === undefined)) throw new Error('Connection is closed.');
          }
          // Sent to the slot's primary as the slot map says, which a failover may have made
          // wrong. Refused means not run: ask again, with the slot map refreshed, until the deadline.
          const refusal = this.cluster && scripted[0] !== null && /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(scripted[0].message);
          if (!refusal || Date.now() > giveUpAt) break;
          if (/^MOVED\b/.test((scripted[0] as Error).message)) (connection as unknown as Cluster).refreshSlotsCache();
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        if (scripted[0] !== null) {
          if (this.cluster && /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(scripted[0].message)) {
            throw storeUnavailable(operation, 'NOT_APPLIED', 'is failing over (the cluster did not settle in time)', scripted[0]);
          }
          throw scripted[0];
        }
        const reply = scripted[1] as T;
        if (required === 0 || !wrote(reply)) return reply;
        const acknowledged = waited !== undefined && waited[0] === null && typeof waited[1] === 'number' ? waited[1] : 0;
        if (acknowledged >= required) return reply;
        // The rule's probes end a little before the call's deadline, so that what they found answers.
        const shortfall = await acks.shortfall(primary, required, acknowledged, this.waitTimeoutMs, giveUpAt - 20);
        if (shortfall !== null) throw storeUnavailable(operation, 'UNKNOWN', `wrote it on the primary, but ${shortfall} (a failover now could lose it)`);
        return reply;
      } finally {
        writer.inFlight -= 1;
      }
    }, name, undefined);
  }

  /**
   * The script, then `WAIT required` (none for 0) right behind it on the same connection, which
   * answers in the order asked: WAIT covers the script. On one node's connection (single,
   * Sentinel) the two are auto-pipelined with whatever else goes out in the same tick; a Cluster
   * node's connection does not auto-pipeline (connect.ts), so they are one pipeline of their own.
   */
  private async scriptThenWait(target: ScriptedRedis, script: WriteScript, keysAndArgs: Arg[], required: number, asking = false): Promise<Array<[Error | null, unknown] | undefined>> {
    if (this.cluster) {
      const pipeline = target.pipeline() as ScriptedPipeline;
      if (asking) pipeline.asking();
      pipeline[script](...keysAndArgs);
      if (required > 0) pipeline.wait(required, this.waitTimeoutMs);
      const answers = (await pipeline.exec()) ?? [];
      return asking ? answers.slice(1) : answers;
    }
    const settled = (pending: Promise<unknown>): Promise<[Error | null, unknown]> => pending.then((value): [null, unknown] => [null, value], (error: Error): [Error, null] => [error, null]);
    const scripted = settled((target[script] as (...keysAndArgs: Arg[]) => Promise<unknown>).apply(target, keysAndArgs));
    const waited = required > 0 ? settled(target.wait(required, this.waitTimeoutMs)) : undefined;
    return [await scripted, waited === undefined ? undefined : await waited];
  }

  /** The connected writer with the fewest writes in flight; waits for one to (re)connect until the deadline. */
  private async readyWriter(operation: StoreOperation, giveUpAt: number): Promise<{ readonly connection: ScriptedRedis; inFlight: number }> {
    for (;;) {
      const ready = this.writers.filter((writer) => writer.connection.status === 'ready');
      if (ready.length > 0) return ready.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
      if (Date.now() > giveUpAt) throw storeUnavailable(operation, 'NOT_APPLIED', 'not connected');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * The one way to Redis: errors become coded errors, every call ends by its deadline, and
   * every command is timed when observed, and traced when it is traced. Plain promise chaining
   * rather than async/await: this wraps every read, and each async layer costs a promise and a
   * microtask turn.
   *
   * For its span: `command` is what is sent (`script` the store's script it runs); `key` says
   * where it goes, one round trip to the node serving that key (null: a keyless command, to the
   * main connection's node), or undefined when `run` counts its round trips itself (a write that
   * waits for replicas, a batch read on Cluster), on the span it is handed.
   */
  private call<T>(operation: StoreOperation, command: string, run: (span: CommandSpan | null) => Promise<T>, script: string | null, key: string | null | undefined): Promise<T> {
    const observe = this.options.onCommand;
    const startedAt = observe === undefined ? 0 : performance.now();
    const span = this.options.tracer === undefined ? null : this.traced(operation, command, script, key);
    let pending: Promise<T>;
    try {
      pending = run(span);
    } catch (error) {
      pending = Promise.reject(error); // still observed and coded below, as a rejection
    }
    return new Promise<T>((resolve, reject) => {
      // Whichever comes first settles the call and is observed; the other is ignored.
      let settled = false;
      const settle = (failure: GatewayError | null): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        observe?.(operation, (performance.now() - startedAt) / 1000, failure === null);
        span?.end(failure);
        return true;
      };
      const timer = setTimeout(() => {
        const failure = storeUnavailable(operation, 'UNKNOWN', `did not answer within ${this.options.commandTimeoutMs} ms`);
        if (settle(failure)) reject(failure);
      }, this.options.commandTimeoutMs);
      pending.then(
        (result) => {
          if (settle(null)) resolve(result);
        },
        (error: unknown) => {
          if (settled) return;
          const failure = classifyRedisError(operation, error);
          if (settle(failure)) reject(failure);
        },
      );
    });
  }

  /** The span of one call, or null when it is not traced; a simple command counts its one round trip here, if it can be sent. */
  private traced(operation: StoreOperation, command: string, script: string | null, key: string | null | undefined): CommandSpan | null {
    const span = (this.options.tracer as CommandTracer).start(operation, command, script);
    // Not connected: the command fails at once, without a round trip.
    if (span !== null && key !== undefined && this.client.status === 'ready') span.roundTrip(this.nodeOf(key));
    return span;
  }

  /** `host:port` of the node a command on `key` goes to: the slot's primary on a Cluster (as the slot map says), else the connected primary. */
  private nodeOf(key: string | null): string | null {
    if (this.cluster) return key === null ? null : ((this.client as Cluster).slots[calculateSlot(key)]?.[0] ?? null);
    const address = addressOf(this.client as Redis);
    return address === null ? null : `${address.host}:${address.port}`;
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

/** Where a connection is connected to (the primary a Sentinel named, a Cluster node), null while it is not. */
function addressOf(connection: Redis): NodeAddress | null {
  const stream = connection.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  if (connection.status !== 'ready' || stream?.remoteAddress === undefined || stream.remotePort === undefined) return null;
  return { host: stream.remoteAddress, port: stream.remotePort };
}

/**
 * Cluster: the connection to the primary that serves `key`'s slot, as `cluster`'s slot map says;
 * null if that node is not connected (or connecting for the first time). An acknowledged write
 * pipelines its script and WAIT on this connection itself, not through a Cluster pipeline:
 * during a failover a Cluster pipeline holding a keyless command (WAIT) was seen to answer the
 * script with WAIT's reply and WAIT with the script's redirect (the failover tests, ioredis
 * 5.11): the store took WAIT's count for the script's answer. One socket answers in the order it
 * was asked.
 */
function primaryFor(cluster: Cluster, key: string): ScriptedRedis | null {
  const address = cluster.slots[calculateSlot(key)]?.[0];
  const node = cluster.nodes('master').find((candidate) => `${candidate.options.host}:${candidate.options.port}` === address);
  if (node === undefined || (node.status !== 'ready' && node.status !== 'wait')) return null;
  return scripted(node);
}

/**
 * Cluster: for an `ASK <slot> <host>:<port>` refusal, the connection to the node named (the one
 * importing the slot, a primary), with the scripts defined on it; null for any other refusal, or
 * when the slot map does not know that node yet (the write is then asked again, until its deadline).
 */
function askedNode(cluster: Cluster, refusal: string): { node: ScriptedRedis; address: NodeAddress } | null {
  const named = /^ASK \d+ (\S+):(\d+)$/.exec(refusal);
  if (named === null) return null;
  const node = cluster.nodes('master').find((candidate) => `${candidate.options.host}:${candidate.options.port}` === `${named[1]}:${named[2]}`);
  // As in primaryFor: a node connection not yet opened ('wait') opens with the first command.
  if (node === undefined || (node.status !== 'ready' && node.status !== 'wait')) return null;
  return { node: scripted(node), address: { host: named[1] as string, port: Number(named[2]) } };
}

/** The Cluster's node connections the scripts were defined on (by `scripted`). */
const scriptedNodes = new WeakSet<Redis>();

/** A Cluster node's connection with the store's scripts, defined on it the first time it is used. */
function scripted(node: Redis): ScriptedRedis {
  if (!scriptedNodes.has(node)) {
    defineScripts(node);
    scriptedNodes.add(node);
  }
  return node as ScriptedRedis;
}

function defineScripts(client: RedisConnection): void {
  client.defineCommand('createSession', { lua: CREATE_SESSION });
  client.defineCommand('touchSession', { lua: TOUCH_SESSION });
  client.defineCommand('updateSession', { lua: UPDATE_SESSION });
  client.defineCommand('destroySession', { lua: DESTROY_SESSION });
  client.defineCommand('retireSession', { lua: RETIRE_SESSION });
  client.defineCommand('replaceSession', { lua: REPLACE_SESSION });
  client.defineCommand('revokePrincipal', { lua: REVOKE_PRINCIPAL });
  client.defineCommand('writeKeySet', { lua: WRITE_KEY_SET });
}

/** A time as the value format writes it: 13 digits, so a touch can rewrite it in place. */
function stamp(ms: number): string {
  return String(ms).padStart(13, '0');
}

function decodeFound(value: Buffer | null): Found {
  if (value === null) return null;
  return decodeForward(value) ?? decodeSession(value);
}

/** The digests an index lists for `principal` (members are `<principal hash>:<digest>`). */
function ownMembers(members: readonly string[], principal: string): string[] {
  const prefix = indexMemberPrefix(principal);
  return members.filter((member) => member.startsWith(prefix)).map((member) => member.slice(prefix.length));
}
