/**
 * What the change feed's announce costs on a Redis Cluster. The write scripts announce each
 * change with classic PUBLISH, which a Cluster sends over its bus to every other node, whether
 * anyone there listens or not. Measured here against the two alternatives, on the bench's local
 * Cluster (3 primaries, no replicas, all on one core):
 *
 * - `PUBLISH`: the store's update script as shipped (`redis-scripts.ts`);
 * - `SPUBLISH`: the same script announcing on a sharded channel in the key's slot
 *   (`<namespace>:changes:{<digest>}`), which stays on the shard (its primary and replicas);
 * - `none`: the same script without the announce: what the write itself costs.
 *
 * Each variant runs N updates through the store's own `update` (the variant is installed by
 * defining the store's `updateSession` command again), to sessions whose slots one primary
 * serves, so the owner's cost and the others' cost are apart. Nobody subscribes: the figures are
 * the fan-out's, not the delivery to subscribers (which costs the same on whichever node they
 * are). Per update: CPU time of the owner and of the other nodes (INFO cpu), cluster-bus
 * messages received (CLUSTER INFO cluster_stats_messages_publish(shard)_received) and bytes
 * (tcp_info of the bus connections). Rounds alternate the order; the figures are medians.
 */
import calculateSlot from 'cluster-key-slot';
import { loadConfig } from '../../src/config';
import { generateSessionId, sessionDigest } from '../../src/session/ids';
import { sessionDeadlineMs } from '../../src/session/model';
import { redisConnection } from '../../src/store/connect';
import { RedisSessionStore } from '../../src/store/redis';
import { UPDATE_SESSION } from '../../src/store/redis-scripts';
import { seedSession } from '../support/sessions';
import type { LocalCluster } from './local-cluster';
import { field } from './redis-counters';

export type AnnounceVariant = 'PUBLISH' | 'SPUBLISH' | 'none';

export interface AnnounceCost {
  readonly variant: AnnounceVariant;
  readonly updates: number;
  readonly rounds: number;
  /** CPU µs per update: the primary that ran the script, the other nodes together, all. */
  readonly ownerCpuMicros: number;
  readonly othersCpuMicros: number;
  readonly allCpuMicros: number;
  /** Cluster-bus publish messages received per update, summed over the nodes. */
  readonly busMessages: number;
  /** Cluster-bus bytes per update, both ways, all nodes (the nodes' own pings included: see `none`). */
  readonly busBytes: number;
  /** Updates per second while measured (one client, `concurrency` in flight; not a throughput figure). */
  readonly updatesPerSecond: number;
}

const NAMESPACE = 'announce';
const SESSIONS = 1000;
/** The announce as redis-scripts.ts writes it; the variants replace this line. */
const PUBLISH_LINE = "redis.call('PUBLISH', namespace .. ':changes', message)";

function script(variant: AnnounceVariant): string {
  if (!UPDATE_SESSION.includes(PUBLISH_LINE)) {
    throw new Error(`the announce in src/store/redis-scripts.ts is no longer \`${PUBLISH_LINE}\`: update test/bench/announce-cost.ts`);
  }
  switch (variant) {
    case 'PUBLISH':
      return UPDATE_SESSION;
    case 'SPUBLISH':
      return UPDATE_SESSION.replace(PUBLISH_LINE, "redis.call('SPUBLISH', namespace .. ':changes:{' .. tag .. '}', message)");
    case 'none':
      return UPDATE_SESSION.replace(PUBLISH_LINE, '');
  }
}

export async function measureAnnounceCost(
  cluster: LocalCluster,
  options: { readonly updates: number; readonly rounds: number; readonly concurrency: number },
): Promise<AnnounceCost[]> {
  const redis = loadConfig({ REDIS_CLUSTER_NODES: cluster.seeds, SERVICE_TOKENS: 'announce-cost-token-0123456789' }).redis;
  if (redis === undefined) throw new Error('no Redis configured');
  const store = new RedisSessionStore(redisConnection(redis, 5000), { namespace: NAMESPACE, maxAttributeBytes: 65536, commandTimeoutMs: 5000 });
  try {
    await store.ping().catch(async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await store.ping();
    });
    const owner = (cluster.nodes[0] as { port: number }).port;
    const digests: string[] = [];
    while (digests.length < SESSIONS) {
      const digest = sessionDigest(generateSessionId());
      if (cluster.ownerOf(calculateSlot(store.keyOf(digest))) !== owner) continue;
      await seedSession(store, digest, { principal: null, attributes: [['n', '0']], maxInactiveSeconds: 3600 });
      digests.push(digest);
    }

    let n = 0;
    const updates = async (count: number): Promise<void> => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          const digest = digests[next++ % digests.length] as string;
          const nowMs = store.now();
          const result = await store.update(digest, { set: [['n', String(++n)]], unset: [] }, { nowMs, expiresAtMs: sessionDeadlineMs(nowMs, 3600, 0), maxInactiveSeconds: 3600 });
          if (!result.written) throw new Error('an update was not written');
        }
      };
      await Promise.all(Array.from({ length: options.concurrency }, worker));
    };
    const busMessagesReceived = async (): Promise<number> => {
      const infos = await Promise.all(cluster.nodes.map((node) => node.client.call('CLUSTER', 'INFO') as Promise<string>));
      return infos.reduce((sum, info) => sum + (field(info, 'cluster_stats_messages_publish_received') || 0) + (field(info, 'cluster_stats_messages_publishshard_received') || 0), 0);
    };

    const variants: AnnounceVariant[] = ['PUBLISH', 'SPUBLISH', 'none'];
    const runs = new Map<AnnounceVariant, Array<Omit<AnnounceCost, 'variant' | 'updates' | 'rounds'>>>(variants.map((variant) => [variant, []]));
    for (let round = 0; round < options.rounds; round++) {
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        store.client.defineCommand('updateSession', { lua: script(variant) });
        await updates(200); // the script loaded on the owner (NOSCRIPT, then EVAL), the connections warm
        const [cpuBefore, messagesBefore, bytesBefore, startedAt] = [await cluster.cpuSeconds(), await busMessagesReceived(), cluster.busBytes(), performance.now()];
        await updates(options.updates);
        const seconds = (performance.now() - startedAt) / 1000;
        const [cpuAfter, messagesAfter, bytesAfter] = [await cluster.cpuSeconds(), await busMessagesReceived(), cluster.busBytes()];
        const micros = (port: number): number => (((cpuAfter.get(port) as number) - (cpuBefore.get(port) as number)) * 1e6) / options.updates;
        const others = cluster.nodes.filter((node) => node.port !== owner).reduce((sum, node) => sum + micros(node.port), 0);
        const run = {
          ownerCpuMicros: micros(owner),
          othersCpuMicros: others,
          allCpuMicros: micros(owner) + others,
          busMessages: (messagesAfter - messagesBefore) / options.updates,
          busBytes: (bytesAfter - bytesBefore) / options.updates,
          updatesPerSecond: options.updates / seconds,
        };
        runs.get(variant)?.push(run);
        console.log(
          `announce cost, round ${round + 1}/${options.rounds} ${variant.padEnd(8)} CPU µs/update: owner ${run.ownerCpuMicros.toFixed(1)}, others ${run.othersCpuMicros.toFixed(1)}; bus per update: ${run.busMessages.toFixed(2)} messages, ${run.busBytes.toFixed(0)} B`,
        );
      }
    }
    store.client.defineCommand('updateSession', { lua: UPDATE_SESSION, numberOfKeys: 1 });
    return variants.map((variant) => {
      const of = (pick: (run: Omit<AnnounceCost, 'variant' | 'updates' | 'rounds'>) => number): number => median((runs.get(variant) ?? []).map(pick));
      return {
        variant,
        updates: options.updates,
        rounds: options.rounds,
        ownerCpuMicros: of((run) => run.ownerCpuMicros),
        othersCpuMicros: of((run) => run.othersCpuMicros),
        allCpuMicros: of((run) => run.allCpuMicros),
        busMessages: of((run) => run.busMessages),
        busBytes: of((run) => run.busBytes),
        updatesPerSecond: of((run) => run.updatesPerSecond),
      };
    });
  } finally {
    await store.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
