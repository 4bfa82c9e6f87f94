/**
 * The Redis store's change feed: one subscriber connection at a time per store (opened on first
 * use), on the namespace's change channel, fanning each announced change out to this process's
 * listeners.
 *
 * Pub/sub delivers at most once and only while subscribed, so the feed is honest about gaps: if
 * the subscriber connection drops, every listener is told it is `lost` and detached at once, and
 * the connection is given up; a listener attached later subscribes again on a new connection,
 * and is only confirmed once Redis has acknowledged the subscription. Between those two moments
 * no listener believes it is seeing every change.
 *
 * A connection can also die without closing (a half-open TCP connection, a frozen peer), and then
 * nothing would ever say so. So while subscribed, the feed publishes a heartbeat of its own on
 * the channel every `heartbeatMs` and expects to hear it back: when none has come back for
 * `silenceMs`, it treats the subscription as lost and gives the connection up. (Each heartbeat
 * that comes back also renews the caches' leases, which run out sooner: a cache stops serving
 * within its lease, while a stream is not ended for a pause a busy event loop can cause.) Other instances'
 * heartbeats are ignored, and listeners never see any.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, default as Redis } from 'ioredis';
import { GatewayError } from '../errors';
import { REVOKE_REASONS, type ChangeFeed, type ChangeKind, type ChangeListener, type RevokeReason, type SessionChange } from './store';

const KINDS: ReadonlySet<string> = new Set<ChangeKind>(['ISSUED', 'UPDATED', 'REVOKED']);
const HEARTBEAT = 'HEARTBEAT|';
/** A cache's confirmation that it dropped revoked sessions: `ACK|<lease>|<digest>,<digest>…` (redis-leases.ts). */
const ACK = 'ACK|';

/** What the channel carries besides changes, for the cache leases (redis-leases.ts). */
export interface FeedSignals {
  /** The cache holding `lease` dropped `digests` for good. */
  acked(lease: string, digests: readonly string[]): void;
  /** This feed's own heartbeat came back: its subscription still delivers. */
  beat(): void;
}

/** The message by which the cache holding `lease` confirms it dropped `digests`. */
export function ackMessage(lease: string, digests: readonly string[]): string {
  return `${ACK}${lease}|${digests.join(',')}`;
}

export class RedisChangeFeed implements ChangeFeed {
  private subscriber: Redis | null = null;
  /** Settles when the current subscription is acknowledged; null when not subscribed. */
  private subscribed: Promise<void> | null = null;
  private readonly listeners = new Set<ChangeListener>();
  private closed = false;
  /** This feed's own heartbeat message: only it counts as "the subscription still delivers". */
  private readonly heartbeat = `${HEARTBEAT}${randomUUID()}`;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private lastHeartbeatAt = 0;
  private signals: FeedSignals | null = null;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly channel: string,
    private readonly commandTimeoutMs: number,
    private readonly heartbeatMs: number,
    private readonly silenceMs: number = 2 * heartbeatMs,
  ) {}

  async listen(listener: ChangeListener): Promise<() => void> {
    const subscribed = this.subscribe();
    await subscribed;
    // Lost again between the acknowledgement and now: this listener would hear nothing.
    if (this.subscribed !== subscribed) throw unavailable('the subscription dropped while it was being made');
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Where the caches' confirmations and this feed's heartbeats go (one watcher: the store's leases). */
  watchSignals(signals: FeedSignals): void {
    this.signals = signals;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.subscriber === null) this.drop('the gateway is closing');
    else this.abandon(this.subscriber, 'the gateway is closing');
  }

  /**
   * Subscribes on a fresh connection, unless subscribed or subscribing already. A subscription
   * that fails or times out gives its connection up, so the next attempt starts afresh (on a
   * Cluster: on a node chosen again, not the one that did not answer).
   */
  private subscribe(): Promise<void> {
    if (this.closed) return Promise.reject(unavailable('the change feed is closed'));
    if (this.subscribed !== null) return this.subscribed;
    let subscriber: Redis;
    try {
      subscriber = this.connection();
    } catch (error) {
      return Promise.reject(error);
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable('subscribing timed out')), this.commandTimeoutMs);
      timer.unref();
    });
    const subscribed = Promise.race([subscriber.subscribe(this.channel), deadline]).then(
      () => {
        clearTimeout(timer);
        if (this.subscriber !== subscriber) throw unavailable('the subscription dropped while it was being made');
        this.startHeartbeat();
      },
      (error: unknown) => {
        clearTimeout(timer);
        this.abandon(subscriber, 'the subscription failed');
        throw error instanceof GatewayError ? error : unavailable(error instanceof Error ? error.message : String(error));
      },
    );
    this.subscribed = subscribed;
    return subscribed;
  }

  /**
   * A new subscriber connection, which queues the SUBSCRIBE until connected and never reconnects
   * or resubscribes by itself: one connection per subscription. When it closes, every listener
   * hears `lost` and the connection is given up; the next listen() opens another. A connection
   * that came back by itself would be subscribed to nothing, or (resubscribing) would hide the
   * changes published while it was away.
   *
   * On a Cluster, a plain connection to one node (any, primary or replica: a PUBLISH reaches every
   * node's subscribers), chosen afresh on every subscription among the nodes the Cluster client
   * knows and has not seen go (one that went unseen fails the attempt, which the caller may
   * retry; the next attempt chooses again). Not the Cluster client's own subscriber, which moves
   * to another node by itself when its node goes: the changes published meanwhile would be missed
   * without anyone being told. Here the node going closes this connection, every listener hears
   * `lost`, and the next listen() subscribes on a node that is there.
   */
  private connection(): Redis {
    const options = { enableOfflineQueue: true, autoResubscribe: false, lazyConnect: false, retryStrategy: () => null };
    let subscriber: Redis;
    if (this.client.isCluster) {
      const nodes = (this.client as Cluster).nodes('all').filter((node) => node.status !== 'end' && node.status !== 'close');
      const node = nodes[Math.floor(Math.random() * nodes.length)];
      if (node === undefined) throw unavailable('no Cluster node is known');
      subscriber = node.duplicate(options);
    } else {
      subscriber = (this.client as Redis).duplicate(options);
    }
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel || this.subscriber !== subscriber) return;
      if (message.startsWith(HEARTBEAT)) {
        if (message === this.heartbeat) {
          this.lastHeartbeatAt = Date.now();
          this.signals?.beat();
        }
        return;
      }
      if (message.startsWith(ACK)) {
        const bar = message.indexOf('|', ACK.length);
        if (bar > 0) this.signals?.acked(message.slice(ACK.length, bar), message.slice(bar + 1).split(','));
        return;
      }
      const change = parseChange(message);
      if (change === null) return;
      for (const listener of this.listeners) listener.change(change);
    });
    subscriber.on('error', () => undefined); // the store's own client logs connection trouble
    subscriber.on('close', () => this.abandon(subscriber, 'lost the connection to the change channel'));
    this.subscriber = subscriber;
    return subscriber;
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.lastHeartbeatAt = Date.now();
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastHeartbeatAt > this.silenceMs) {
        // Silent for two intervals: as good as gone, though its socket may never say so. Every
        // listener is told now, and the next listen() starts on a fresh connection.
        if (this.subscriber !== null) this.abandon(this.subscriber, 'the change channel stopped delivering');
        return;
      }
      this.client.publish(this.channel, this.heartbeat).catch(() => undefined); // a dead Redis shows up above
    }, this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /**
   * Gives the current subscriber connection up (nothing if `subscriber` is one given up already):
   * every listener is told `lost` with `reason` and detached, and the connection is closed, its
   * socket too (a half-open one would never finish closing).
   */
  private abandon(subscriber: Redis, reason: string): void {
    if (this.subscriber !== subscriber) return;
    this.subscriber = null;
    this.subscribed = null;
    this.stopHeartbeat();
    this.drop(reason);
    // A connection that ended already needs no disconnect (which would leave a timer of its own behind).
    if (subscriber.status !== 'end') subscriber.disconnect();
    subscriber.stream?.destroy();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private drop(reason: string): void {
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener.lost(reason);
  }
}

function unavailable(reason: string): GatewayError {
  return new GatewayError('STORE_UNAVAILABLE', `the session change feed is unavailable: ${reason}`);
}

/** `<kind>|<version>|<digest>[|<reason>]`, as the scripts announce it; null for anything else. */
export function parseChange(message: string): SessionChange | null {
  const first = message.indexOf('|');
  const second = message.indexOf('|', first + 1);
  if (first < 0 || second < 0) return null;
  const kind = message.slice(0, first);
  const version = Number(message.slice(first + 1, second));
  if (!KINDS.has(kind) || !Number.isSafeInteger(version)) return null;
  const third = message.indexOf('|', second + 1);
  if (third < 0) return { kind: kind as ChangeKind, version, digest: message.slice(second + 1), reason: null };
  const reason = message.slice(third + 1);
  if (!REVOKE_REASONS.has(reason)) return null;
  return { kind: kind as ChangeKind, version, digest: message.slice(second + 1, third), reason: reason as RevokeReason };
}
