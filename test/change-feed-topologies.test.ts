/**
 * The change feed across topology changes, as its users see it: a `sessionChanges` subscription
 * over a real WebSocket and the client library's near cache, on gateways over a real Redis
 * Cluster (3 primaries, 1 replica each) and a real Sentinel group (a primary, 2 replicas, 3
 * sentinels). What must hold whatever happens to Redis: a subscriber either hears every change
 * or is told it may have missed some (the stream ends with STORE_UNAVAILABLE, the client drops
 * its cache), and once it subscribes again changes reach it again. Never a silent gap.
 *
 * - The node the gateway's feed listens on is killed: the loss is reported; resubscribed, a
 *   change made afterwards arrives and the client does not serve what it cached before.
 * - A primary is failed over (CLUSTER FAILOVER, SENTINEL FAILOVER) under writes: every
 *   acknowledged change reached the stream, or the stream ended STORE_UNAVAILABLE; the client
 *   answers what the gateway holds.
 * - A slot holding a session is moved to another primary (SETSLOT/MIGRATE), with a write in each
 *   phase of the move: every subscriber on every gateway hears each change.
 *
 * Which node a gateway listens on is found with PUBSUB NUMSUB on each node (on Cluster classic
 * pub/sub subscriptions are per node); only gateway A ever subscribes in those tests, so the one
 * node counting a subscriber is A's. Writes go through gateway B with plain GraphQL (no feed).
 */
import calculateSlot from 'cluster-key-slot';
import type { RedisSessionStore } from '../src/store/redis';
import { SessionClient, SessionGatewayError } from '../src/client';
import { describe as codeOf, subscribeChanges, type ChangeSeen, type Subscription } from './support/changes';
import { SERVICE, SERVICE_TOKEN, startGatewayPair, waitUntil, type Gateway } from './support/gateway';
import { command, parseNodes, startCluster, type RedisCluster } from './support/redis-cluster';
import { startSentinelGroup, type SentinelGroup } from './support/redis-sentinel';

const BEARER = `Bearer ${SERVICE_TOKEN}`;
/** A change made through one gateway reaches a subscriber of another within this (generous: a shared 2-core machine). */
const DELIVERY_MS = 3000;
/**
 * Writes, reads and subscriptions succeed again within this of a failover starting (a Sentinel
 * election that fails is tried again after 10 s, twice failover-timeout).
 */
const RECOVERY_MS = 30_000;
const COMMAND_TIMEOUT_MS = 1000;

// No principal: a principal's sessions share one slot, and these are to land on every primary.
const ISSUE = 'mutation { issueSession(input: { attributes: { feed: true } }) { id digest version } }';
const UPDATE = 'mutation($id: ID, $n: Int) { updateSession(id: $id, patch: { set: { n: $n } }) { digest version } }';
const READ = 'query($ids: [ID!]!) { sessions(ids: $ids) { digest version } }';

let cluster: RedisCluster;
let sentinel: SentinelGroup;

beforeAll(async () => {
  [cluster, sentinel] = await Promise.all([startCluster({ primaries: 3, replicasPerPrimary: 1 }), startSentinelGroup({ replicas: 2 })]);
}, 60_000);
afterAll(async () => {
  await Promise.all([cluster.destroy(), sentinel.destroy()]);
});

/** What each test opened, closed after it whatever it left. */
const opened: Array<{ close(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

interface Pair {
  readonly a: Gateway;
  readonly b: Gateway;
  readonly baseA: string;
  readonly baseB: string;
  readonly wsA: string;
  readonly wsB: string;
  /** The Redis channel the pair's feed listens on (`<namespace>:changes`). */
  readonly channel: string;
  readonly namespace: string;
}

async function gateways(env: Record<string, string>): Promise<Pair> {
  const { a, b, baseA, baseB } = await startGatewayPair({ ...env, REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) });
  opened.push({ close: () => a.close() }, { close: () => b.close() });
  const namespace = a.config.sessionNamespace;
  const ws = (base: string): string => `${base.replace('http', 'ws')}/graphql`;
  return { a, b, baseA, baseB, wsA: ws(baseA), wsB: ws(baseB), channel: `${namespace}:changes`, namespace };
}

/** A subscription confirmed (SUBSCRIBED), trying again while the gateway answers STORE_UNAVAILABLE. */
async function subscribed(url: string): Promise<Subscription> {
  const deadline = Date.now() + RECOVERY_MS;
  for (;;) {
    const subscription = subscribeChanges(url, { authorization: BEARER });
    opened.push({ close: () => subscription.dispose() });
    try {
      await subscription.ready();
      return subscription;
    } catch (error) {
      subscription.dispose();
      if (Date.now() > deadline) throw error;
      await pause(100); // the gateway refused: not something to await, a retry after a pause
    }
  }
}

interface WatchedClient {
  readonly client: SessionClient;
  /** Every `stream` event the client emitted: 'up' / 'down'. */
  readonly stream: string[];
}

/** A client with its near cache, confirmed caching. */
async function cachingClient(base: string): Promise<WatchedClient> {
  const client = new SessionClient({ url: base, token: SERVICE_TOKEN, minRetryMs: 50, maxRetryMs: 500 });
  opened.push({ close: () => client.close() });
  const stream: string[] = [];
  client.on('stream', (state: string) => stream.push(state));
  await waitUntil(async () => client.caching, 10_000);
  return { client, stream };
}

/**
 * A GraphQL mutation through `gateway`, tried again while it answers STORE_UNAVAILABLE (a
 * failover). An update answered UNKNOWN may still be applied, so one tried again may be applied
 * twice: the tests compare with what the gateway holds, not with a count of updates.
 */
async function write(gateway: Gateway, query: string, variables: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const deadline = Date.now() + RECOVERY_MS;
  for (;;) {
    const response = await gateway.gql(query, variables, SERVICE);
    const code = response.body.errors?.[0]?.extensions?.code;
    if (code === undefined) return response.body.data as Record<string, any>;
    if (code !== 'STORE_UNAVAILABLE' || Date.now() > deadline) throw new Error(`write failed: ${JSON.stringify(response.body.errors)}`);
    await pause(50); // the store is not there yet: a retry after a pause, as a caller would
  }
}

async function issue(gateway: Gateway): Promise<{ id: string; digest: string }> {
  return (await write(gateway, ISSUE)).issueSession;
}

let counter = 0;
async function update(gateway: Gateway, id: string): Promise<ChangeSeen> {
  const { digest, version } = (await write(gateway, UPDATE, { id, n: ++counter })).updateSession;
  return { digest, kind: 'UPDATED', version };
}

/** What the gateway holds now: each session's version (null: none). */
async function versionsHeld(gateway: Gateway, ids: readonly string[]): Promise<Array<number | null>> {
  const response = await gateway.gql(READ, { ids }, SERVICE);
  const error = response.body.errors?.[0];
  if (error !== undefined) throw new SessionGatewayError(error.extensions?.code ?? 'INTERNAL', `read failed: ${error.message}`, response.status);
  return (response.body.data?.sessions as Array<{ version: number } | null>).map((session) => session?.version ?? null);
}

/**
 * Waits until the client answers, for every session, the version the gateway holds (a read that
 * either answers STORE_UNAVAILABLE, as during a failover, is asked again).
 */
async function clientAgrees(client: SessionClient, gateway: Gateway, ids: readonly string[]): Promise<void> {
  let last = '';
  await waitUntil(async () => {
    const held = await answered(() => versionsHeld(gateway, ids));
    const answers = await answered(() => client.getMany(ids));
    const versions = answers.map((session) => session?.version ?? null);
    last = `held ${JSON.stringify(held)}, client answered ${JSON.stringify(versions)}`;
    return JSON.stringify(held) === JSON.stringify(versions);
  }, DELIVERY_MS).catch(() => {
    throw new Error(`the client still serves what the gateway no longer holds: ${last}`);
  });
}

/** What `read` answers once the gateway answers it (not STORE_UNAVAILABLE: a failover). */
async function answered<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + RECOVERY_MS;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof SessionGatewayError && error.code === 'STORE_UNAVAILABLE') || Date.now() > deadline) throw error;
      await pause(50);
    }
  }
}

function heard(subscription: Subscription, change: ChangeSeen): boolean {
  return subscription.events.some((event) => event.digest === change.digest && event.kind === change.kind && event.version === change.version);
}

/** The subscription hears `change` within the delivery bound. */
async function hears(subscription: Subscription, change: ChangeSeen): Promise<void> {
  await waitUntil(async () => heard(subscription, change), DELIVERY_MS).catch(() => {
    throw new Error(`not heard within ${DELIVERY_MS} ms: ${JSON.stringify(change)}; error: ${codeOf(subscription.error)}`);
  });
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The ports of the running Cluster nodes that count a subscriber of `channel` (PUBSUB NUMSUB is per node). */
async function listeningNodes(gateway: Gateway, channel: string): Promise<number[]> {
  // Every gateway listens (its revocations hear the caches' confirmations there): the one whose
  // subscriber connection is `gateway`'s, by the local port CLIENT LIST shows as its address.
  const subscriber = (gateway.store as RedisSessionStore).changes as unknown as { subscriber: { stream?: { localPort?: number } } | null };
  const localPort = subscriber.subscriber?.stream?.localPort;
  const running = cluster.nodes.filter((node) => node.running);
  const lists = await Promise.all(running.map(async (node) => String(await command(node.port, ['CLIENT', 'LIST', 'TYPE', 'pubsub']))));
  const counts = await Promise.all(running.map(async (node) => ((await command(node.port, ['PUBSUB', 'NUMSUB', channel])) as [string, number])[1]));
  return running.filter((_, i) => (counts[i] as number) > 0 && lists[i]?.includes(`addr=127.0.0.1:${String(localPort)} `)).map((node) => node.port);
}

/** The port of the primary serving `key`'s slot, from one running node's view. */
async function ownerOf(key: string): Promise<number> {
  const slot = calculateSlot(key);
  const any = cluster.nodes.find((node) => node.running) as { port: number };
  const view = parseNodes(String(await command(any.port, ['CLUSTER', 'NODES'])));
  const owner = view.find((line) => line.flags.has('master') && line.slots.some(([from, to]) => from <= slot && slot <= to));
  if (owner === undefined) throw new Error(`nobody serves slot ${slot}`);
  return owner.port;
}

/**
 * Writes through `writer` to the sessions in turn until `stop()`: every acknowledged change, in
 * order. A write refused during the failover (STORE_UNAVAILABLE) is simply not acknowledged.
 */
function writesUnder(writer: Gateway, ids: readonly string[]): { acknowledged: ChangeSeen[]; stop(): Promise<void> } {
  const acknowledged: ChangeSeen[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const response = await writer.gql(UPDATE, { id: ids[i % ids.length], n: ++counter }, SERVICE);
      const session = response.body.data?.updateSession as { digest: string; version: number } | undefined;
      if (session !== undefined && session !== null) acknowledged.push({ digest: session.digest, kind: 'UPDATED', version: session.version });
      else if (response.body.errors?.[0]?.extensions?.code !== 'STORE_UNAVAILABLE') throw new Error(`write failed: ${JSON.stringify(response.body.errors)}`);
    }
  })();
  return {
    acknowledged,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/**
 * The stream either hears every acknowledged change (and the last one, made after the failover)
 * within the delivery bound and still runs, or it ends STORE_UNAVAILABLE. Returns which. (Changes
 * to sessions on different primaries reach a subscriber by different cluster-bus links, so they
 * may arrive in another order than they were made: all of them are waited for, not the last.)
 */
async function gaplessOrReported(stream: Subscription, acknowledged: readonly ChangeSeen[], last: ChangeSeen): Promise<'gapless' | 'reported'> {
  const all = [...acknowledged, last];
  const unheard = (): ChangeSeen[] => all.filter((change) => !heard(stream, change));
  await waitUntil(async () => unheard().length === 0 || stream.error !== undefined, DELIVERY_MS).catch(() => undefined);
  if (stream.error !== undefined) {
    expect(codeOf(stream.error)).toBe('STORE_UNAVAILABLE');
    return 'reported';
  }
  // Still up: then nothing may be missing.
  expect(unheard()).toEqual([]);
  return 'gapless';
}

/** Proves a pair's feed works again: a fresh subscription and the client hear a new change. */
async function flowsAgain(pair: Pair, watched: WatchedClient, id: string): Promise<void> {
  const again = await subscribed(pair.wsA);
  await waitUntil(async () => watched.client.caching, RECOVERY_MS);
  await answered(() => watched.client.get(id)); // cached (again)
  const change = await update(pair.b, id);
  await hears(again, change);
  await waitUntil(async () => (await answered(() => watched.client.get(id)))?.version === change.version, DELIVERY_MS);
}

/**
 * Kills the node gateway A's feed listens on; `recovered` resolves once the deployment has
 * recovered (a killed primary's replica elected; on Cluster, the killed node restarted).
 */
/**
 * The sessions `ids` cached by `watched`, written through B while `failover` runs: every
 * acknowledged change reaches A's stream, or the stream says it lost some; either way the client
 * answers what the gateway holds, and changes flow again after. (A forced failover may lose
 * acknowledged writes, the README's "what each setting can lose": what the client must answer is
 * what the gateway holds, whichever that is.)
 */
async function failoverUnderWrites(pair: Pair, stream: Subscription, watched: WatchedClient, ids: string[], failover: () => Promise<unknown>): Promise<void> {
  await watched.client.getMany(ids); // cached
  const writes = writesUnder(pair.b, ids);
  await waitUntil(async () => writes.acknowledged.length >= 20, 10_000);
  await failover();
  const afterFailover = writes.acknowledged.length;
  await waitUntil(async () => writes.acknowledged.length >= afterFailover + 20, RECOVERY_MS);
  await writes.stop();
  const last = await update(pair.b, ids[0] as string);

  const outcome = await gaplessOrReported(stream, writes.acknowledged, last);
  if (outcome === 'reported') expect(watched.stream).toContain('down');
  await clientAgrees(watched.client, pair.b, ids);
  await flowsAgain(pair, watched, ids[1] as string);
}

type Killer = (pair: Pair) => Promise<{ recovered: Promise<void> }>;

const clusterKill: Killer = async (pair) => {
  const ports = await listeningNodes(pair.a, pair.channel);
  expect(ports).toHaveLength(1); // gateway A's one subscriber connection
  const port = ports[0] as number;
  const node = cluster.nodes.find((candidate) => candidate.port === port) as { role: string };
  let recovered: Promise<void>;
  if (node.role === 'primary') {
    recovered = cluster.failover(port, 'kill').then(() => cluster.restart(port));
  } else {
    // A replica (the feed subscribes on any node the Cluster client knows; it learns replicas
    // from CLUSTER SLOTS, which here lists the primaries only): killed by its PID, as the fixture
    // kills a primary, and restarted once seen gone.
    const pid = Number(/^process_id:(\d+)/m.exec(String(await command(port, ['INFO', 'server'])))?.[1]);
    process.kill(pid, 'SIGKILL');
    const gone = async (): Promise<boolean> => !(cluster.nodes.find((candidate) => candidate.port === port) as { running: boolean }).running;
    recovered = waitUntil(gone).then(() => cluster.restart(port));
  }
  recovered.catch(() => undefined); // awaited by the test; not unhandled if the test fails first
  return { recovered };
};

const sentinelKill: Killer = async () => {
  // A Sentinel gateway listens on the primary; killing it is a failover.
  const recovered = sentinel.failover('kill').then(() => undefined);
  recovered.catch(() => undefined); // awaited by the test; not unhandled if the test fails first
  return { recovered };
};

describe.each([
  ['Redis Cluster', () => ({ REDIS_CLUSTER_NODES: cluster.seeds }), clusterKill],
  ['Sentinel', () => ({ REDIS_SENTINELS: sentinel.sentinelList, REDIS_SENTINEL_NAME: sentinel.name }), sentinelKill],
] as const)('%s', (_name, envOf, kill) => {
  test('the node the feed listens on is killed: the stream ends STORE_UNAVAILABLE and the client drops its cache; resubscribed, a later change arrives and nothing stale is served', async () => {
    const pair = await gateways(envOf());
    const stream = await subscribed(pair.wsA);
    const watched = await cachingClient(pair.baseA);
    const { id } = await issue(pair.b);
    expect((await watched.client.get(id))?.version).toBe(1);
    const requests = watched.client.stats.requests;
    expect((await watched.client.get(id))?.version).toBe(1);
    expect(watched.client.stats.requests).toBe(requests); // served from the cache

    const { recovered } = await kill(pair);
    await waitUntil(async () => stream.error !== undefined, DELIVERY_MS);
    expect(codeOf(stream.error)).toBe('STORE_UNAVAILABLE');
    expect(stream.error).toEqual([expect.objectContaining({ message: expect.stringMatching(/^changes may have been missed: /) })]);
    await waitUntil(async () => watched.stream.includes('down'), DELIVERY_MS);

    // Changed while the client may have heard nothing of it: the client must not answer version
    // 1. (Gateway A may itself still be reconnecting: STORE_UNAVAILABLE is an honest answer. A
    // write answered UNKNOWN and tried again may land twice, hence at least, then what is held.)
    const changed = await update(pair.b, id);
    expect((await answered(() => watched.client.get(id)))?.version).toBeGreaterThanOrEqual(changed.version);
    await clientAgrees(watched.client, pair.b, [id]);

    await recovered;
    await flowsAgain(pair, watched, id);
  }, 60_000);
});

describe('Redis Cluster', () => {
  test('a primary failed over (CLUSTER FAILOVER) under writes: every acknowledged change reached the stream, or the stream ended STORE_UNAVAILABLE; the client answers what the gateway holds', async () => {
    const pair = await gateways({ REDIS_CLUSTER_NODES: cluster.seeds });
    const stream = await subscribed(pair.wsA);
    const watched = await cachingClient(pair.baseA);
    // The primary to fail over: the one A listens on, or the one whose replica A listens on.
    const [port] = await listeningNodes(pair.a, pair.channel);
    const replication = String(await command(port as number, ['INFO', 'replication']));
    const primary = /^role:master/m.test(replication) ? (port as number) : Number(/^master_port:(\d+)/m.exec(replication)?.[1]);
    // Sessions on every primary, a few of them on the one failed over.
    const ids: string[] = [];
    let onPrimary = 0;
    while (ids.length < 9 || onPrimary < 3) {
      const { id, digest } = await issue(pair.b);
      ids.push(id);
      if ((await ownerOf((pair.b.store as RedisSessionStore).keyOf(digest))) === primary) onPrimary++;
    }
    await failoverUnderWrites(pair, stream, watched, ids, () => cluster.failover(primary, 'graceful'));
  }, 60_000);

  test('a slot holding a session moves to another primary (SETSLOT, MIGRATE): each change, before, during and after the move, reaches every subscriber of both gateways', async () => {
    const pair = await gateways({ REDIS_CLUSTER_NODES: cluster.seeds });
    const streams = await Promise.all([subscribed(pair.wsA), subscribed(pair.wsB)]);
    const clients = await Promise.all([cachingClient(pair.baseA), cachingClient(pair.baseB)]);
    const { id, digest } = await issue(pair.b);
    const key = (pair.b.store as RedisSessionStore).keyOf(digest);
    const slot = calculateSlot(key);
    const source = await ownerOf(key);
    const primaries = cluster.nodes.filter((node) => node.running && node.role === 'primary');
    const target = primaries.find((node) => node.port !== source) as { port: number; id: string };
    const sourceId = (cluster.nodes.find((node) => node.port === source) as { id: string }).id;

    /** A change to the session reaches every subscription, and every client stops serving the old version. */
    const changeReachesEveryone = async (): Promise<void> => {
      for (const { client } of clients) await client.get(id); // cached
      const change = await update(pair.a, id);
      for (const stream of streams) await hears(stream, change);
      for (const { client } of clients) await waitUntil(async () => (await client.get(id))?.version === change.version, DELIVERY_MS);
    };

    await changeReachesEveryone();
    // The move, as redis-cli --cluster reshard makes it: importing, migrating, the keys, the owner.
    await command(target.port, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId]);
    await command(source, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', target.id]);
    await changeReachesEveryone(); // the key still on the source
    const keys = (await command(source, ['CLUSTER', 'GETKEYSINSLOT', String(slot), '100'])) as string[];
    expect(keys).toContain(key);
    await command(source, ['MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', ...keys]);
    await changeReachesEveryone(); // on the target, the source answering ASK
    for (const port of [target.port, source, ...primaries.map((node) => node.port).filter((p) => p !== target.port && p !== source)]) {
      await command(port, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', target.id]);
    }
    await waitUntil(async () => (await ownerOf(key)) === target.port);
    await changeReachesEveryone(); // moved: the gateways' slot maps are stale until the MOVED
    expect(streams.map((stream) => codeOf(stream.error))).toEqual(['undefined', 'undefined']);
    expect(clients.map((watched) => watched.stream.includes('down'))).toEqual([false, false]); // never down
  }, 60_000);
});

describe('Sentinel', () => {
  test('the primary failed over (SENTINEL FAILOVER) under writes: every acknowledged change reached the stream, or the stream ended STORE_UNAVAILABLE; the client answers what the gateway holds', async () => {
    const pair = await gateways({ REDIS_SENTINELS: sentinel.sentinelList, REDIS_SENTINEL_NAME: sentinel.name });
    const stream = await subscribed(pair.wsA);
    const watched = await cachingClient(pair.baseA);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await issue(pair.b)).id);
    await failoverUnderWrites(pair, stream, watched, ids, () => sentinel.failover('graceful'));
  }, 90_000);
});
