/**
 * The Redis store's change feed: one subscriber connection per store (opened on first use), on
 * the namespace's change channel, fanning each announced change out to this process's listeners.
 *
 * Pub/sub delivers at most once and only while subscribed, so the feed is honest about gaps: if
 * the subscriber connection drops, every listener is told it is `lost` and detached at once; a
 * listener attached later subscribes again, and is only confirmed once Redis has acknowledged
 * the subscription. Between those two moments no listener believes it is seeing every change.
 *
 * A connection can also die without closing (a half-open TCP connection, a frozen peer), and then
 * nothing would ever say so. So while subscribed, the feed publishes a heartbeat of its own on
 * the channel every `heartbeatMs` and expects to hear it back: when none has come back for two
 * intervals, it treats the subscription as lost and reconnects. Other instances' heartbeats are
 * ignored, and listeners never see any.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, default as Redis } from 'ioredis';
import { GatewayError } from '../errors';
import { REVOKE_REASONS, type ChangeFeed, type ChangeKind, type ChangeListener, type RevokeReason, type SessionChange } from './store';

const KINDS: ReadonlySet<string> = new Set<ChangeKind>(['ISSUED', 'UPDATED', 'REVOKED']);
const HEARTBEAT = 'HEARTBEAT|';

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

  constructor(
    private readonly client: Redis | Cluster,
    private readonly channel: string,
    private readonly commandTimeoutMs: number,
    private readonly heartbeatMs: number,
  ) {}

  async listen(listener: ChangeListener): Promise<() => void> {
    const subscribed = this.subscribe();
    await subscribed;
    // Lost again between the acknowledgement and now: this listener would hear nothing.
    if (this.subscribed !== subscribed) throw unavailable('the subscription dropped while it was being made');
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopHeartbeat();
    this.drop('the gateway is closing');
    this.subscriber?.disconnect();
  }

  private subscribe(): Promise<void> {
    if (this.closed) return Promise.reject(unavailable('the change feed is closed'));
    if (this.subscribed === null) {
      const subscriber = this.connection();
      const deadline = new Promise<never>((_, reject) => {
        setTimeout(() => reject(unavailable('subscribing timed out')), this.commandTimeoutMs).unref();
      });
      this.subscribed = Promise.race([subscriber.subscribe(this.channel).then(() => this.startHeartbeat()), deadline]).catch((error: unknown) => {
        this.subscribed = null;
        throw error instanceof GatewayError ? error : unavailable(error instanceof Error ? error.message : String(error));
      });
    }
    return this.subscribed;
  }

  /**
   * The subscriber connection: queues the SUBSCRIBE until connected, never resubscribes by itself.
   *
   * On a Cluster, a plain connection to one node (any: a PUBLISH reaches every node's
   * subscribers), chosen afresh on every subscription. Not the Cluster client's own subscriber,
   * which moves to another node by itself when its node goes: the changes published meanwhile
   * would be missed without anyone being told. Here the node going closes this connection, every
   * listener hears `lost`, and the next listen() subscribes on a node that is there.
   */
  private connection(): Redis {
    if (this.subscriber !== null) return this.subscriber;
    const options = { enableOfflineQueue: true, autoResubscribe: false, lazyConnect: false };
    let subscriber: Redis;
    if (this.client.isCluster) {
      const nodes = (this.client as Cluster).nodes('all');
      const node = nodes[Math.floor(Math.random() * nodes.length)];
      if (node === undefined) throw unavailable('no Cluster node is connected');
      subscriber = node.duplicate(options);
    } else {
      subscriber = (this.client as Redis).duplicate(options);
    }
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel || this.subscriber !== subscriber) return;
      if (message.startsWith(HEARTBEAT)) {
        if (message === this.heartbeat) this.lastHeartbeatAt = Date.now();
        return;
      }
      const change = parseChange(message);
      if (change === null) return;
      for (const listener of this.listeners) listener.change(change);
    });
    subscriber.on('error', () => undefined); // the store's own client logs connection trouble
    subscriber.on('close', () => {
      if (this.subscriber !== subscriber) return; // one already given up on
      this.subscribed = null;
      this.stopHeartbeat();
      this.drop('lost the connection to the change channel');
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.lastHeartbeatAt = Date.now();
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastHeartbeatAt > 2 * this.heartbeatMs) {
        // Silent for two intervals: as good as gone, though its socket may never say so. Every
        // listener is told now, and the next listen() starts on a fresh connection.
        this.abandonSubscriber();
        return;
      }
      this.client.publish(this.channel, this.heartbeat).catch(() => undefined); // a dead Redis shows up above
    }, this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private abandonSubscriber(): void {
    const subscriber = this.subscriber;
    this.subscriber = null;
    this.subscribed = null;
    this.stopHeartbeat();
    this.drop('the change channel stopped delivering');
    subscriber?.disconnect();
    subscriber?.stream?.destroy();
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
