/**
 * Which replicas a write must reach before the store acknowledges it (REDIS_ACK_REPLICAS).
 *
 * Replication is asynchronous: a write only the primary has is lost when a replica is promoted
 * without it. The store sends each write with `WAIT <count>` and asks a rule here for the count,
 * per primary (the Sentinel's or single node's primary; each Cluster primary):
 *
 * - `FixedReplicas(n)` (REDIS_ACK_REPLICAS=n): always n. A write n replicas did not confirm in
 *   time is unconfirmed, whatever the reason.
 * - `EveryReplica` (REDIS_ACK_REPLICAS=all, the default): every replica that primary has. The
 *   set is learned from the primary (`INFO replication`, replicas in `state=online`) before the
 *   first write to it, on a small connection of its own (the observer), and refreshed about once a
 *   second, so a replica that comes online counts from the next refresh on. A primary with no
 *   replica needs no WAIT at all.
 *
 * The set never shrinks because a replica went quiet. During a forced Sentinel failover the
 * promoted replica leaves its primary first (REPLICAOF NO ONE) while the old primary still takes
 * writes; a rule that counted only the replicas connected now would acknowledge those writes on
 * the old primary alone, and they are lost. So when a WAIT comes back short, or a refresh finds a
 * required replica no longer online, that replica itself is asked (`ROLE`, on a short connection
 * with the deployment's credentials and TLS):
 *
 * - the connection is refused: it is down, and is dropped from the set at once (a write whose
 *   WAIT reached the replicas left is acknowledged: a stopped replica costs the writes in flight
 *   one WAIT timeout, not a failure);
 * - it answers as a primary: a failover is under way; it stays required (the write is
 *   unconfirmed, which is the truth) for up to `PROMOTED_KEEP_MS`, by when the gateway has
 *   followed the failover or the old primary has been demoted;
 * - it answers as a replica (of this primary with its link down, or of another), or does not
 *   answer (frozen, cut off): it stays required, and is dropped once it has been away from this
 *   primary for `AWAY_KEEP_MS`, so that a frozen replica does not stop writes for ever.
 *
 * The store never parses URLs or knows credentials: `OpenNode` (built by connect.ts) opens a
 * connection to a node with the deployment's options.
 */
import type { default as Redis } from 'ioredis';

export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * A connection to one node with the deployment's credentials and TLS. `reconnect`: a lasting
 * connection that reconnects in the background (the observer); otherwise one attempt (a probe).
 */
export type OpenNode = (address: NodeAddress, options: { readonly connectTimeoutMs: number; readonly reconnect: boolean }) => Redis;

/** The store's side of a rule: how many replicas a write to `primary` must reach, and what to make of a short WAIT. */
export interface ReplicaAckRule {
  /** The count for `primary` if already known (synchronously; undefined: ask `required`). */
  known(primary: NodeAddress): number | undefined;
  /** The count for `primary`, learned first if need be, by `deadlineMs` (epoch ms). */
  required(primary: NodeAddress, deadlineMs: number): Promise<number>;
  /**
   * A write's WAIT answered `acked`, fewer than the `asked` it was sent with: null if it may be
   * acknowledged after all (replicas found down were dropped, and `acked` reaches the rest);
   * else what is known, for the caller's message.
   */
  shortfall(primary: NodeAddress, asked: number, acked: number, waitedMs: number, deadlineMs: number): Promise<string | null>;
  close(): void;
}

/** REDIS_ACK_REPLICAS=n: always n replicas. */
export class FixedReplicas implements ReplicaAckRule {
  constructor(private readonly count: number) {}

  known(): number {
    return this.count;
  }

  required(): Promise<number> {
    return Promise.resolve(this.count);
  }

  shortfall(_primary: NodeAddress, asked: number, acked: number, waitedMs: number): Promise<string> {
    return Promise.resolve(`${acked} of the ${asked} replicas asked for confirmed it within ${waitedMs} ms`);
  }

  close(): void {}
}

/** How often each primary's replicas are read again. */
export const REFRESH_MS = 1000;
/** A required replica away from its primary (not refused) this long is no longer waited for. */
export const AWAY_KEEP_MS = 10_000;
/** A required replica answering as a primary (a failover) is waited for this long at most. */
export const PROMOTED_KEEP_MS = 60_000;
/** The longest a probe of a replica may take. */
const PROBE_TIMEOUT_MS = 1000;
/**
 * A primary no write has gone to for this long, and that its observer cannot reach, is forgotten
 * (a node gone for good). One that still answers is kept, however idle: forgetting its replicas
 * and learning them afresh would be the very shrink the rule forbids, if a failover were under way.
 */
const IDLE_FORGET_MS = 60_000;

/** What a probe of a required replica found (`silent`: `why` reads "did not answer …"). */
type Probe = { readonly kind: 'down' } | { readonly kind: 'primary' } | { readonly kind: 'replica'; readonly of: string; readonly link: string } | { readonly kind: 'silent'; readonly why: string };

interface Replica {
  readonly address: NodeAddress;
  /** When it was first found not confirming or not online, since it last was; null while online. */
  awaySinceMs: number | null;
  /** What the last probe found, for messages. */
  last: Probe | null;
  probing: Promise<Probe> | null;
}

interface Primary {
  readonly address: NodeAddress;
  readonly observer: Redis;
  /** The replicas a write must reach, by `host:port`. */
  readonly replicas: Map<string, Replica>;
  /** Resolves once the set was learned for the first time. */
  learned: Promise<void> | null;
  known: boolean;
  usedAtMs: number;
  refreshing: boolean;
}

/** REDIS_ACK_REPLICAS=all: every replica the primary has, as described at the top. */
export class EveryReplica implements ReplicaAckRule {
  private readonly primaries = new Map<string, Primary>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly openNode: OpenNode) {
    this.timer = setInterval(() => this.refreshAll(), REFRESH_MS);
    this.timer.unref();
  }

  known(address: NodeAddress): number | undefined {
    const primary = this.primaries.get(keyOf(address));
    if (primary === undefined || !primary.known) return undefined;
    primary.usedAtMs = Date.now();
    return primary.replicas.size;
  }

  async required(address: NodeAddress, deadlineMs: number): Promise<number> {
    const primary = this.primaryAt(address);
    primary.usedAtMs = Date.now();
    if (!primary.known) {
      primary.learned ??= this.learn(primary).finally(() => (primary.learned = null));
      await withDeadline(primary.learned, deadlineMs, `could not read the replicas of the primary ${keyOf(address)}`);
    }
    return primary.replicas.size;
  }

  async shortfall(address: NodeAddress, asked: number, acked: number, waitedMs: number, deadlineMs: number): Promise<string | null> {
    const primary = this.primaries.get(keyOf(address));
    if (primary === undefined) return `${acked} of the ${asked} replicas confirmed it within ${waitedMs} ms`;
    const timeoutMs = Math.max(1, Math.min(PROBE_TIMEOUT_MS, deadlineMs - Date.now()));
    await Promise.all([...primary.replicas.values()].map((replica) => this.probe(primary, replica, timeoutMs)));
    const required = primary.replicas.size;
    if (acked >= required) return null;
    const states = [...primary.replicas.entries()].map(([key, replica]) => `${key} ${describe(replica.last)}`);
    return `${acked} of the ${required} replicas it must reach confirmed it within ${waitedMs} ms (${states.join('; ')})`;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const primary of this.primaries.values()) primary.observer.disconnect();
    this.primaries.clear();
  }

  private primaryAt(address: NodeAddress): Primary {
    const key = keyOf(address);
    let primary = this.primaries.get(key);
    if (primary === undefined) {
      const observer = this.openNode(address, { connectTimeoutMs: PROBE_TIMEOUT_MS, reconnect: true });
      observer.on('error', () => undefined); // the store's own connections report trouble
      primary = { address, observer, replicas: new Map(), learned: null, known: false, usedAtMs: Date.now(), refreshing: false };
      this.primaries.set(key, primary);
    }
    return primary;
  }

  /** The first reading: every replica online now is required. */
  private async learn(primary: Primary): Promise<void> {
    if (primary.observer.status !== 'ready') await once(primary.observer, 'ready');
    this.update(primary, onlineReplicas(await primary.observer.info('replication')));
    primary.known = true;
  }

  private refreshAll(): void {
    const nowMs = Date.now();
    for (const [key, primary] of this.primaries) {
      if (nowMs - primary.usedAtMs > IDLE_FORGET_MS && primary.observer.status !== 'ready') {
        primary.observer.disconnect();
        this.primaries.delete(key);
        continue;
      }
      if (!primary.known || primary.refreshing || primary.observer.status !== 'ready') continue;
      primary.refreshing = true;
      primary.observer
        .info('replication')
        .then((info) => this.update(primary, onlineReplicas(info)))
        .catch(() => undefined) // the next refresh tries again; the write path probes on its own
        .finally(() => (primary.refreshing = false));
    }
  }

  /** Online replicas join (or are back); required ones not online are probed. */
  private update(primary: Primary, online: readonly NodeAddress[]): void {
    const seen = new Set<string>();
    for (const address of online) {
      const key = keyOf(address);
      seen.add(key);
      const replica = primary.replicas.get(key);
      if (replica === undefined) primary.replicas.set(key, { address, awaySinceMs: null, last: null, probing: null });
      else replica.awaySinceMs = null;
    }
    for (const [key, replica] of primary.replicas) {
      if (!seen.has(key)) void this.probe(primary, replica, PROBE_TIMEOUT_MS);
    }
  }

  /** Asks the replica itself what it is, and drops it if the rule says so (one probe at a time per replica). */
  private probe(primary: Primary, replica: Replica, timeoutMs: number): Promise<Probe> {
    replica.probing ??= probeReplica(this.openNode, replica.address, timeoutMs)
      .then((found) => {
        replica.last = found;
        const nowMs = Date.now();
        replica.awaySinceMs ??= nowMs;
        const key = keyOf(replica.address);
        const awayMs = nowMs - replica.awaySinceMs;
        const drop = found.kind === 'down' || awayMs >= (found.kind === 'primary' ? PROMOTED_KEEP_MS : AWAY_KEEP_MS);
        if (drop && !this.closed && primary.replicas.get(key) === replica) primary.replicas.delete(key);
        return found;
      })
      .finally(() => (replica.probing = null));
    return replica.probing;
  }
}

/** `ROLE` of one node, on a connection of its own, within `timeoutMs`. */
async function probeReplica(openNode: OpenNode, address: NodeAddress, timeoutMs: number): Promise<Probe> {
  const client = openNode(address, { connectTimeoutMs: timeoutMs, reconnect: false });
  let refused = false;
  client.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNREFUSED') refused = true;
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Probe>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'silent', why: `did not answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const asked = (async (): Promise<Probe> => {
    try {
      await client.connect();
      const role = (await client.call('ROLE')) as unknown[];
      if (role[0] === 'master') return { kind: 'primary' };
      return { kind: 'replica', of: `${String(role[1])}:${String(role[2])}`, link: String(role[3]) };
    } catch (error) {
      if (refused) return { kind: 'down' };
      return { kind: 'silent', why: `did not answer (${error instanceof Error ? error.message : String(error)})` };
    }
  })();
  try {
    return await Promise.race([asked, timeout]);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

function describe(probe: Probe | null): string {
  if (probe === null) return 'not asked yet';
  switch (probe.kind) {
    case 'down':
      return 'is down';
    case 'primary':
      return 'answers as a primary: a failover is under way';
    case 'replica':
      return `is a replica of ${probe.of}, link ${probe.link}`;
    case 'silent':
      return probe.why;
  }
}

/** The `slaveN:ip=…,port=…,state=online,…` lines of INFO replication (none unless role:master). */
export function onlineReplicas(info: string): NodeAddress[] {
  if (!/^role:master\r?$/m.test(info)) return [];
  const replicas: NodeAddress[] = [];
  for (const match of info.matchAll(/^slave\d+:(.*?)\r?$/gm)) {
    const fields = new Map((match[1] as string).split(',').map((pair) => pair.split('=', 2) as [string, string]));
    if (fields.get('state') === 'online' && fields.has('ip') && fields.has('port')) replicas.push({ host: fields.get('ip') as string, port: Number(fields.get('port')) });
  }
  return replicas;
}

function keyOf(address: NodeAddress): string {
  return `${address.host}:${address.port}`;
}

function once(client: Redis, event: string): Promise<void> {
  return new Promise((resolve) => client.once(event, () => resolve()));
}

function withDeadline<T>(promise: Promise<T>, deadlineMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), Math.max(0, deadlineMs - Date.now()));
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
