/**
 * What the bench reads from the Redis nodes a row runs on (one redis-server, or every node of a
 * Cluster), summed over the nodes: commands processed and read events (INFO stats
 * total_commands_processed, total_reads_processed). A read event is one read of a client socket
 * that found a request (or several, pipelined): one request at a time, it is one round trip.
 *
 * Each snapshot asks every node for INFO on a connection of its own, kept open: the INFO that
 * took `before` is counted among `after`'s commands, the INFO that takes `after` among its reads,
 * so a difference is less one command and one read per node.
 */
import type Redis from 'ioredis';

export interface RedisCounts {
  readonly commands: number;
  readonly reads: number;
}

export class RedisCounters {
  /** `nodes`: a plain connection to each node, kept open between snapshots. */
  constructor(private readonly nodes: readonly Redis[]) {}

  get nodeCount(): number {
    return this.nodes.length;
  }

  async counts(): Promise<RedisCounts> {
    const infos = await Promise.all(this.nodes.map((node) => node.info('stats')));
    return {
      commands: infos.reduce((sum, info) => sum + field(info, 'total_commands_processed'), 0),
      reads: infos.reduce((sum, info) => sum + field(info, 'total_reads_processed'), 0),
    };
  }

  /** What the nodes counted between two snapshots, less the snapshots' own INFO. */
  between(before: RedisCounts, after: RedisCounts): RedisCounts {
    return { commands: after.commands - before.commands - this.nodes.length, reads: after.reads - before.reads - this.nodes.length };
  }
}

/** A numeric field of an INFO reply. */
export function field(info: string, name: string): number {
  return Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1]);
}
