/**
 * The bench's local Redis Cluster: 3 primaries and no replicas, started by the test fixture
 * (`test/support/redis-cluster.ts`: redis-server processes on free loopback ports, stopped by
 * PID), every node pinned to the load core as the bench's single redis-server is, so the Cluster
 * rows run on the same cores as the others. Also what the bench reads from it: the nodes'
 * counters, CPU time, slot owners, and the bytes its cluster bus carried.
 */
import { execFileSync } from 'node:child_process';
import type Redis from 'ioredis';
import { parseNodes, startCluster, type RedisCluster } from '../support/redis-cluster';
import { field, RedisCounters } from './redis-counters';

export interface ClusterNodeInfo {
  readonly port: number;
  readonly busPort: number;
  readonly pid: number;
  readonly slots: ReadonlyArray<readonly [number, number]>;
  /** A plain connection to the node (INFO, CLUSTER INFO), closed by `destroy`. */
  readonly client: Redis;
}

export interface LocalCluster {
  /** "127.0.0.1:p1,…": the gateway's REDIS_CLUSTER_NODES. */
  readonly seeds: string;
  readonly nodes: readonly ClusterNodeInfo[];
  readonly counters: RedisCounters;
  /** The port of the primary serving a slot (as when the cluster was started: nothing moves it). */
  ownerOf(slot: number): number;
  /** Bytes sent so far on the cluster bus's open connections, both ways, all nodes. */
  busBytes(): number;
  /** CPU time (user + system) each node has used so far, in seconds, by port. */
  cpuSeconds(): Promise<Map<number, number>>;
  destroy(): Promise<void>;
}

export async function startLocalCluster(core: string): Promise<LocalCluster> {
  const cluster: RedisCluster = await startCluster({ primaries: 3, replicasPerPrimary: 0 });
  try {
    const nodes = await Promise.all(
      cluster.nodes.map(async ({ port }): Promise<ClusterNodeInfo> => {
        const client = cluster.nodeClient(port);
        const pid = field(await client.info('server'), 'process_id');
        // Every thread of it (-a): the main thread and redis-server's background threads.
        execFileSync('taskset', ['-a', '-p', '-c', core, String(pid)], { stdio: 'ignore' });
        const myself = String(await client.call('CLUSTER', 'NODES'))
          .split('\n')
          .find((line) => line.includes('myself'));
        const busPort = Number(/:\d+@(\d+)/.exec(myself ?? '')?.[1]);
        const me = parseNodes(myself ?? '')[0];
        if (me === undefined || !Number.isInteger(busPort)) throw new Error(`cluster node ${port} did not describe itself: ${myself}`);
        return { port, busPort, pid, slots: me.slots, client };
      }),
    );
    const busPorts = new Set(nodes.map((node) => String(node.busPort)));
    return {
      seeds: cluster.seeds,
      nodes,
      counters: new RedisCounters(nodes.map((node) => node.client)),
      ownerOf(slot) {
        const owner = nodes.find((node) => node.slots.some(([from, to]) => from <= slot && slot <= to));
        if (owner === undefined) throw new Error(`no node serves slot ${slot}`);
        return owner.port;
      },
      busBytes: () => busBytesSent(busPorts),
      async cpuSeconds() {
        const infos = await Promise.all(nodes.map((node) => node.client.info('cpu')));
        return new Map(nodes.map((node, i) => [node.port, field(infos[i] as string, 'used_cpu_sys') + field(infos[i] as string, 'used_cpu_user')]));
      },
      destroy: () => cluster.destroy(),
    };
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
}

/**
 * Bytes sent on every established TCP connection with an end on one of `ports` (`ss -ti`, the
 * kernel's tcp_info bytes_sent): both ends of a loopback connection are listed, so this is what
 * went both ways. The cluster bus is not in INFO's net bytes, which count client connections.
 */
function busBytesSent(ports: ReadonlySet<string>): number {
  const lines = execFileSync('ss', ['-tinH', 'state', 'established'], { encoding: 'utf8' }).split('\n');
  let total = 0;
  for (let i = 0; i < lines.length; i++) {
    const ends = (lines[i] as string).trim().split(/\s+/);
    if (ends.length < 4) continue;
    const [local, peer] = ends.slice(-2).map((end) => end.slice(end.lastIndexOf(':') + 1));
    const details = lines[i + 1] ?? '';
    if (!/^\s/.test(details)) continue;
    i++;
    if (ports.has(local as string) || ports.has(peer as string)) total += Number(/\bbytes_sent:(\d+)/.exec(details)?.[1] ?? 0);
  }
  return total;
}
