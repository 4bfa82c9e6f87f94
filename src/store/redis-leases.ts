/**
 * Cache leases on Redis (after Chubby's, Burrows, OSDI 2006): what makes a revocation final in
 * every gateway's cache when it returns, not milliseconds later.
 *
 * The registry is one sorted set, `<namespace>:caches`: a member per cache holding a lease, its
 * score the lease's end on the clock of the Redis node that holds the set (every script reads
 * TIME there, so no two hosts' clocks are compared).
 *
 * A cache:
 * 1. listens to the change feed, then takes a lease (a member, ending `leaseMs` from now), and
 *    only then serves;
 * 2. confirms every REVOKED change it hears, once it has dropped the session, by publishing
 *    `ACK|<lease>|<digests>` on the change channel;
 * 3. renews its lease each time its feed's own heartbeat comes back (proof that its subscription
 *    still delivers; a frozen connection stops the heartbeats, so the renewals, so the serving).
 *    A renewal is refused if the member is gone (cut, or expired): the cache then drops
 *    everything and starts again with a new lease;
 * 4. serves only before its lease's end as it reckons it: the moment it sent the renewal that
 *    was granted, plus 99 % of `leaseMs`, on its own monotonic clock. Redis granted it no sooner
 *    than it was sent, so this end comes before the score's, in real time.
 *
 * A revocation (the store's `revoking()` is taken before the write, so no confirmation is missed):
 * 1. after the write, reads the registry: the leases live now (this gateway's own excepted: the
 *    service drops its own cache's entries itself before the write returns);
 * 2. returns as soon as each has confirmed every revoked digest;
 * 3. those that have not confirmed within `patienceMs` are cut: removed from the registry (so
 *    they can never renew), and the revocation waits until the latest of their ends has passed.
 *
 * Why that is final: a cache that served the session before the write held a lease taken before
 * the write, so the registry read after the write lists it, unless its lease had already ended
 * (and it stopped serving before that). Either it confirmed (it dropped the session, and its
 * tickets keep any answer read before the write out), or it was cut and its lease has ended: it
 * serves nothing it held then. A cache that took its lease after the write holds nothing read
 * before it.
 *
 * What it does not cover: a failover that loses the registry's last writes (a lease taken just
 * before), or that moves it to a node whose clock is ahead by more than a lease's margin.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, default as Redis } from 'ioredis';
import { GatewayError } from '../errors';
import { Backoff } from '../backoff';
import { ackMessage, type RedisChangeFeed } from './redis-changes';
import type { CacheLeases, ChangeListener, Lease, Revocation } from './store';

/**
 * Takes (ARGV[3] 'new') or renews ('renew') the lease ARGV[1] for ARGV[2] ms; answers 1, or 0 for
 * a renewal of a lease no longer held (cut, or ended). Expired members are swept on the way.
 */
const HOLD_LEASE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[3] == 'renew' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
`;

/** The leases live now: { now, lease, end, lease, end, ... }. */
const LIVE_LEASES = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = { tostring(now) }
for _, v in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')) do out[#out + 1] = v end
return out
`;

/** Removes the leases ARGV[...]: { now, end or '' for each } (its end as it stood, renewals included). */
const CUT_LEASES = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = { tostring(now) }
for i = 1, #ARGV do
  out[#out + 1] = redis.call('ZSCORE', KEYS[1], ARGV[i]) or ''
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return out
`;

interface LeaseRedis extends Redis {
  holdLease(key: string, lease: string, leaseMs: number, mode: 'new' | 'renew'): Promise<number>;
  liveLeases(key: string): Promise<string[]>;
  cutLeases(key: string, ...leases: string[]): Promise<string[]>;
}

export interface RedisLeaseOptions {
  /** The registry's key, `<namespace>:caches`. */
  readonly key: string;
  /** The change channel, where confirmations are published. */
  readonly channel: string;
  /** How long a lease this gateway takes lasts; its feed's heartbeat must come back well within it. */
  readonly leaseMs: number;
  /** How long a revocation waits for confirmations before it cuts the leases that did not send one. */
  readonly patienceMs: number;
  /** Each lease command's deadline. */
  readonly commandTimeoutMs: number;
}

/** What a lease's end is reckoned short of `leaseMs` by, for clocks that run at slightly different rates. */
const RATE_MARGIN = 0.01;
/** Waited past the latest end of the leases cut, for the same reason. */
const END_MARGIN_MS = 2;

export class RedisCacheLeases implements CacheLeases {
  private connection: LeaseRedis | null = null;
  /** This gateway's own leases, by name. */
  private readonly held = new Map<string, HeldLease>();
  /** Revocations in progress, each hearing every confirmation. */
  private readonly watches = new Set<Watch>();
  private listening: (() => void) | null = null;
  /** Releases sent and not yet answered. */
  private readonly releasing = new Set<Promise<void>>();
  /** Between attempts to listen to the feed again (to hear confirmations): 100 ms to 5 s. */
  private readonly retry = new Backoff();
  private closed = false;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly feed: RedisChangeFeed,
    readonly options: RedisLeaseOptions,
  ) {
    feed.watchSignals({
      acked: (lease, digests) => {
        for (const watch of this.watches) watch.heard(lease, digests);
      },
      beat: () => {
        for (const lease of this.held.values()) lease.renew();
      },
    });
  }

  /**
   * Keeps this gateway subscribed to the channel, so that its revocations hear the caches'
   * confirmations (one not heard costs a wait for that cache's lease, never a wrong answer).
   */
  open(): void {
    if (this.closed || this.listening !== null || this.retry.pending) return;
    const listener: ChangeListener = {
      change: () => undefined,
      lost: () => {
        this.listening = null;
        this.again();
      },
    };
    this.feed.listen(listener).then(
      (detach) => {
        if (this.closed) return detach();
        this.listening = detach;
        this.retry.reset();
      },
      () => this.again(),
    );
  }

  async hold(lost: (reason: string) => void): Promise<Lease> {
    const lease = new HeldLease(this, randomUUID(), lost);
    await lease.take();
    if (this.closed) {
      void lease.release();
      throw new Error('the store is closing');
    }
    this.held.set(lease.name, lease);
    return lease;
  }

  revoking(): Revocation {
    const watch = new Watch(this);
    this.watches.add(watch);
    return watch;
  }

  take(): Promise<{ name: string; durationMs: number }> {
    const name = randomUUID();
    return this.grant(name).then(() => ({ name, durationMs: this.options.leaseMs }));
  }

  /** @internal Takes the lease `name`, new, for `leaseMs` from now. */
  grant(name: string): Promise<void> {
    return this.command('takeCacheLease', (redis) => redis.holdLease(this.options.key, name, this.options.leaseMs, 'new')).then(() => undefined);
  }

  renew(name: string): Promise<boolean> {
    return this.command('renewCacheLease', (redis) => redis.holdLease(this.options.key, name, this.options.leaseMs, 'renew')).then((granted) => granted === 1);
  }

  confirm(name: string, digests: readonly string[]): Promise<void> {
    if (digests.length === 0) return Promise.resolve();
    const message = ackMessage(name, digests);
    return this.command('confirmRevocations', (redis) => redis.publish(this.options.channel, message)).then(() => undefined);
  }

  release(name: string): Promise<void> {
    const releasing = this.command('releaseCacheLease', (redis) => redis.zrem(this.options.key, name)).then(() => undefined);
    // Kept until it settles, so that closing waits for it before it closes the connection.
    const settled = releasing.catch(() => undefined);
    this.releasing.add(settled);
    void settled.then(() => this.releasing.delete(settled));
    return releasing;
  }

  /** A lease command for the API: its failure is STORE_UNAVAILABLE, as any store call's. */
  private command<T>(operation: string, command: (redis: LeaseRedis) => Promise<T>): Promise<T> {
    return this.send(command).catch((error: unknown) => {
      throw new GatewayError('STORE_UNAVAILABLE', `the session store is unavailable (${operation}: ${error instanceof Error ? error.message : String(error)})`);
    });
  }

  /** Gives this gateway's leases up (so that no revocation waits them out) and closes the lease connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.retry.cancel();
    this.listening?.();
    this.listening = null;
    for (const lease of [...this.held.values()]) void lease.release();
    await Promise.all([...this.releasing]); // each ends by the command deadline
    this.connection?.disconnect();
    this.connection = null;
  }

  /** @internal */
  forget(lease: HeldLease): void {
    this.held.delete(lease.name);
  }

  /** @internal */
  unwatch(watch: Watch): void {
    this.watches.delete(watch);
  }

  /** @internal Whether `name` is one of this gateway's own leases. */
  owns(name: string): boolean {
    return this.held.has(name);
  }

  /**
   * @internal A lease command on the lease connection, apart from the store's so that a renewal
   * never queues behind a read, ending by its deadline like every store call. The connection
   * queues what is sent before it is first connected (made on first use), unlike the store's.
   */
  send<T>(command: (redis: LeaseRedis) => Promise<T>): Promise<T> {
    if (this.connection === null) {
      const queueing = { enableOfflineQueue: true };
      const connection = (this.client.isCluster ? (this.client as Cluster).duplicate([], queueing) : (this.client as Redis).duplicate(queueing)) as unknown as LeaseRedis;
      connection.defineCommand('holdLease', { numberOfKeys: 1, lua: HOLD_LEASE });
      connection.defineCommand('liveLeases', { numberOfKeys: 1, lua: LIVE_LEASES });
      connection.defineCommand('cutLeases', { numberOfKeys: 1, lua: CUT_LEASES });
      connection.on('error', () => undefined); // the store's own connection logs connection trouble
      this.connection = connection;
    }
    const sent = command(this.connection);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the lease command did not answer within ${this.options.commandTimeoutMs} ms`)), this.options.commandTimeoutMs);
      timer.unref();
    });
    sent.catch(() => undefined); // settled by the race below, or too late to matter
    return Promise.race([sent, deadline]).finally(() => clearTimeout(timer));
  }

  private again(): void {
    if (!this.closed) this.retry.schedule(() => this.open());
  }
}

class HeldLease implements Lease {
  /** The end as this host reckons it, on the monotonic clock (performance.now()). */
  private endsAt = 0;
  private renewing = false;
  private ended = false;
  private expiry: NodeJS.Timeout | null = null;
  private confirming: string[] = [];

  constructor(
    private readonly leases: RedisCacheLeases,
    readonly name: string,
    private readonly lost: (reason: string) => void,
  ) {}

  get valid(): boolean {
    return !this.ended && performance.now() < this.endsAt;
  }

  /** @internal Takes the lease (the cache does not serve until this resolves). */
  async take(): Promise<void> {
    const sentAt = performance.now();
    await this.leases.grant(this.name);
    this.extend(sentAt);
  }

  /** Renews it (on each heartbeat that came back); one renewal at a time. */
  renew(): void {
    if (this.ended || this.renewing) return;
    this.renewing = true;
    const sentAt = performance.now();
    this.leases
      .renew(this.name)
      .then(
        (granted) => {
          if (granted) this.extend(sentAt);
          else this.end('its lease was cut (a revocation it did not confirm in time) or ran out');
        },
        () => undefined, // not renewed: the lease runs out by itself, and the expiry timer says so
      )
      .finally(() => {
        this.renewing = false;
      });
  }

  dropped(digest: string): void {
    if (this.ended) return;
    this.confirming.push(digest);
    // Every drop of this turn in one message (a principal's sessions revoked at once).
    if (this.confirming.length === 1) setImmediate(() => this.confirm());
  }

  /** Resolves once the registry has dropped it (or could not be told: it then runs out by itself). */
  release(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    this.stop();
    return this.leases.release(this.name).catch(() => undefined);
  }

  private extend(sentAt: number): void {
    if (this.ended) return;
    const leaseMs = this.leases.options.leaseMs;
    this.endsAt = sentAt + leaseMs * (1 - RATE_MARGIN);
    if (this.expiry !== null) clearTimeout(this.expiry);
    this.expiry = setTimeout(() => {
      if (!this.valid) this.end('its lease ran out before it could be renewed (the change feed or Redis did not answer)');
    }, Math.max(0, this.endsAt - performance.now()) + 1);
    this.expiry.unref();
  }

  private confirm(): void {
    const digests = this.confirming;
    this.confirming = [];
    if (this.ended || digests.length === 0) return;
    this.leases.confirm(this.name, digests).catch(() => undefined); // unheard: the revoker waits the lease out
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.stop();
    this.lost(reason);
  }

  private stop(): void {
    if (this.expiry !== null) clearTimeout(this.expiry);
    this.expiry = null;
    this.confirming = [];
    this.leases.forget(this);
  }
}

class Watch implements Revocation {
  /** Confirmations heard since the revocation began: digests by lease. */
  private readonly confirmed = new Map<string, Set<string>>();
  private wake: (() => void) | null = null;

  constructor(private readonly leases: RedisCacheLeases) {}

  heard(lease: string, digests: readonly string[]): void {
    let set = this.confirmed.get(lease);
    if (set === undefined) this.confirmed.set(lease, (set = new Set()));
    for (const digest of digests) set.add(digest);
    this.wake?.();
  }

  abandon(): void {
    this.leases.unwatch(this);
  }

  async settled(digests: readonly string[]): Promise<void> {
    try {
      if (digests.length === 0) return;
      const key = this.leases.options.key;
      let live: string[];
      try {
        live = await this.leases.send((redis) => redis.liveLeases(key));
      } catch {
        // The registry could not be read: a cache may serve until its lease runs out, which,
        // with Redis out of reach, it cannot renew. Waited out as for a lease cut.
        await this.until(() => false, this.leases.options.leaseMs + END_MARGIN_MS);
        return;
      }
      let waiting: string[] = [];
      for (let i = 1; i + 1 < live.length; i += 2) {
        const lease = live[i] as string;
        if (!this.leases.owns(lease)) waiting.push(lease);
      }
      const confirmedAll = (lease: string): boolean => {
        const set = this.confirmed.get(lease);
        return set !== undefined && digests.every((digest) => set.has(digest));
      };
      waiting = waiting.filter((lease) => !confirmedAll(lease));
      if (waiting.length === 0) return;
      if (await this.until(() => waiting.every(confirmedAll), this.leases.options.patienceMs)) return;
      waiting = waiting.filter((lease) => !confirmedAll(lease));
      let cut: string[];
      try {
        cut = await this.leases.send((redis) => redis.cutLeases(key, ...waiting));
      } catch {
        await this.until(() => waiting.every(confirmedAll), this.leases.options.leaseMs + END_MARGIN_MS);
        return;
      }
      const nowMs = Number(cut[0]);
      const lastEnd = Math.max(nowMs, ...cut.slice(1).map((end) => (end === '' ? nowMs : Number(end))));
      await this.until(() => waiting.every(confirmedAll), lastEnd - nowMs + END_MARGIN_MS);
    } finally {
      this.leases.unwatch(this);
    }
  }

  /** Resolves true when `done` holds (checked at each confirmation heard), false after `ms`. */
  private until(done: () => boolean, ms: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve(false);
      }, Math.max(0, ms));
      this.wake = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.wake = null;
        resolve(true);
      };
    });
  }
}
