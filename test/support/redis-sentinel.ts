/**
 * A real Sentinel group for tests: one primary, its replicas and (default three) sentinels, all
 * redis-server processes (sentinels as `redis-server <conf> --sentinel`) on free loopback ports,
 * each in its own temp dir with its own config file, stopped by PID. No mocks.
 *
 * Settled (after start, a failover, a restart) means: every sentinel names the same running
 * primary, knows the other sentinels and every running replica (none flagged down or
 * disconnected), that primary says role:master and every running replica says it replicates it
 * with its link up. So a client asking any sentinel gets the same answer, and a failover
 * right after has an in-sync replica the sentinels will accept.
 *
 * Sentinel's timings are mostly fixed in its code, not configurable: hellos every 2 s (how the
 * sentinels find each other at start), INFO to replicas every 10 s, and a node that comes back
 * as a master where the sentinels expect a replica is converted only after 8 s more. Hence a
 * graceful failover, and the restart of a killed primary, take about 10 s to settle: the old
 * primary goes on answering as a master (to clients still connected to it) until then.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis, { type RedisOptions } from 'ioredis';
import { onFreePort } from './ports';
import {
  closeClient,
  command,
  commands,
  confLines,
  dataNodeConf,
  RedisProcess,
  ReplyError,
  throwErrors,
  until,
  type FailoverResult,
  type Reply,
} from './redis-cluster';

export type { FailoverResult } from './redis-cluster';

export interface SentinelGroup {
  /** The name the sentinels monitor the primary under (`new Redis({ sentinels, name })`). */
  readonly name: string;
  /** As of the last time the fixture saw the group settled. */
  readonly primary: { readonly port: number };
  /** Every data node but the primary, running or not (see `running`). */
  readonly replicas: ReadonlyArray<{ readonly port: number; readonly running: boolean }>;
  readonly sentinels: readonly number[];
  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3": as a REDIS_SENTINELS style setting. */
  readonly sentinelList: string;
  readonly sentinelNodes: ReadonlyArray<{ host: string; port: number }>;
  /** The `password` option, if any: of the data nodes and of the sentinels alike. */
  readonly password: string | undefined;
  /** A sentinel-backed ioredis client (`new Redis({ sentinels, name })`, closed by destroy). */
  client(options?: RedisOptions): Redis;
  /** A plain client to one data node or sentinel (closed by destroy). */
  nodeClient(port: number, options?: RedisOptions): Redis;
  /** The primary's port as a sentinel says (SENTINEL GET-MASTER-ADDR-BY-NAME) right now. */
  currentPrimary(): Promise<number>;
  /**
   * graceful: SENTINEL FAILOVER (no agreement needed; the old primary is demoted by the sentinels
   * about 10 s later, see above). kill: SIGKILL of the primary; the sentinels agree it is down
   * (down-after 1 s, quorum), elect a leader and promote a replica. Resolves once settled.
   */
  failover(mode?: 'graceful' | 'kill'): Promise<FailoverResult>;
  /** Starts a killed data node again (same port, dir, config file); resolves once the sentinels made it a replica. */
  restart(port: number): Promise<void>;
  destroy(): Promise<void>;
}

export interface SentinelStartOptions {
  /** Default 1. */
  replicas?: number;
  /** Default 3. */
  sentinels?: number;
  /** Default a majority of the sentinels (2 of 3). */
  quorum?: number;
  /** Default 'gateway'. */
  name?: string;
  /** requirepass and masterauth on the data nodes, sentinel auth-pass, requirepass on the sentinels. */
  password?: string;
  /** Append-only file with fsync always on the data nodes. Default off. */
  persist?: boolean;
}

const SETTLE_TIMEOUT_MS = 30_000;

export async function startSentinelGroup(options: SentinelStartOptions = {}): Promise<SentinelGroup> {
  const name = options.name ?? 'gateway';
  const replicaCount = options.replicas ?? 1;
  const sentinelCount = options.sentinels ?? 3;
  const quorum = options.quorum ?? Math.floor(sentinelCount / 2) + 1;
  const password = options.password;
  const data: RedisProcess[] = [];
  const sentinels: RedisProcess[] = [];
  const clients: Redis[] = [];
  const state = { primary: 0 };

  const destroy = async (): Promise<void> => {
    await Promise.all(clients.map((client) => closeClient(client)));
    await Promise.all([...sentinels, ...data].map((node) => node.kill()));
    for (const node of [...sentinels, ...data]) rmSync(node.dir, { recursive: true, force: true });
  };

  const collect = async (starting: Array<Promise<RedisProcess>>, into: RedisProcess[]): Promise<void> => {
    const results = await Promise.allSettled(starting);
    for (const result of results) if (result.status === 'fulfilled') into.push(result.value);
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  };

  try {
    await collect([startDataNode(options, undefined)], data);
    state.primary = (data[0] as RedisProcess).port;
    // The replicas and the sentinels at once; the sentinels find the replicas through the primary.
    await Promise.all([
      collect(Array.from({ length: replicaCount }, () => startDataNode(options, state.primary)), data),
      collect(Array.from({ length: sentinelCount }, () => startSentinel(name, state.primary, quorum, password)), sentinels),
    ]);
    await settle(name, data, sentinels, password, state, () => true);
  } catch (error) {
    await destroy();
    throw error;
  }

  const sentinelNodes = sentinels.map((sentinel) => ({ host: '127.0.0.1', port: sentinel.port }));
  const byPort = (port: number): RedisProcess => {
    const node = data.find((candidate) => candidate.port === port);
    if (node === undefined) throw new Error(`no data node on port ${port}`);
    return node;
  };
  const askSentinel = async (): Promise<number> => {
    let last: unknown;
    for (const sentinel of sentinels) {
      try {
        return primaryPortOf(await command(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name], { password }));
      } catch (error) {
        last = error;
      }
    }
    throw new Error('no sentinel answered', { cause: last });
  };

  return {
    name,
    get primary() {
      return { port: state.primary };
    },
    get replicas() {
      return data.filter((node) => node.port !== state.primary).map((node) => ({ port: node.port, running: node.running }));
    },
    sentinels: sentinels.map((sentinel) => sentinel.port),
    sentinelList: sentinelNodes.map((node) => `${node.host}:${node.port}`).join(','),
    sentinelNodes,
    password,
    client(clientOptions: RedisOptions = {}) {
      const client = new Redis({ sentinels: sentinelNodes, name, password, sentinelPassword: password, disconnectTimeout: 50, ...clientOptions });
      // Errors still reject the commands; the listener only keeps ioredis from printing each
      // failed reconnect during a failover as an "Unhandled error event".
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    nodeClient(port: number, clientOptions: RedisOptions = {}) {
      if (!data.some((node) => node.port === port) && !sentinels.some((node) => node.port === port)) throw new Error(`no node on port ${port}`);
      // A short disconnect timeout: see nodeClient in redis-cluster.ts.
      const client = new Redis({ host: '127.0.0.1', port, password, maxRetriesPerRequest: 1, disconnectTimeout: 50, ...clientOptions });
      // Errors still reject the commands; the listener only keeps ioredis from printing each
      // failed reconnect during a failover as an "Unhandled error event".
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    currentPrimary: askSentinel,
    async failover(mode: 'graceful' | 'kill' = 'graceful') {
      const old = state.primary;
      const began = Date.now();
      if (mode === 'graceful') {
        // NOGOODSLAVE while a sentinel's last INFO of the replica is not fresh enough: retried.
        await until('SENTINEL FAILOVER to be accepted', 10_000, async () => {
          const [reply] = await commands((sentinels[0] as RedisProcess).port, [['SENTINEL', 'FAILOVER', name]], { password });
          return reply instanceof ReplyError ? reply.message : true;
        });
      } else {
        await byPort(old).kill();
      }
      await settle(name, data, sentinels, password, state, (primary) => primary !== old);
      return { newPrimaryPort: state.primary, seconds: (Date.now() - began) / 1000 };
    },
    async restart(port: number) {
      const node = byPort(port);
      if (node.running) throw new Error(`data node ${port} is running`);
      await node.start();
      await settle(name, data, sentinels, password, state, () => true);
    },
    destroy,
  };
}

async function startDataNode(options: SentinelStartOptions, primaryPort: number | undefined): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-sentinel-data-'));
  try {
    return await onFreePort(async (port) => {
      const conf = join(dir, 'redis.conf');
      // A config file: the sentinels CONFIG REWRITE it when they repoint a replica, so a
      // restarted replica comes back replicating the primary it was last told to.
      const lines = dataNodeConf(port, dir, options.persist === true);
      if (primaryPort !== undefined) lines.push(`replicaof 127.0.0.1 ${primaryPort}`);
      if (options.password !== undefined) lines.push(`requirepass ${quote(options.password)}`, `masterauth ${quote(options.password)}`);
      writeFileSync(conf, confLines(lines));
      const node = new RedisProcess(port, [port], [conf], dir, options.password);
      await node.startOnce();
      return node;
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startSentinel(name: string, primaryPort: number, quorum: number, password: string | undefined): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-sentinel-'));
  try {
    return await onFreePort(async (port) => {
      const conf = join(dir, 'sentinel.conf'); // a sentinel rewrites its file: its own, writable
      const lines = [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'daemonize no',
        'loglevel warning',
        'sentinel resolve-hostnames no',
        'sentinel announce-hostnames no',
        'sentinel announce-ip 127.0.0.1',
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} ${quorum}`,
        // Down after 1 s without a valid reply, instead of 30 s: kill failovers in seconds.
        `sentinel down-after-milliseconds ${name} 1000`,
        // Also how long a sentinel waits before retrying a failover that did not complete (x2).
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
      ];
      // requirepass on a sentinel is also what it authenticates to the other sentinels with.
      if (password !== undefined) lines.push(`sentinel auth-pass ${name} ${quote(password)}`, `requirepass ${quote(password)}`);
      writeFileSync(conf, confLines(lines));
      const sentinel = new RedisProcess(port, [port], [conf, '--sentinel'], dir, password);
      await sentinel.startOnce();
      return sentinel;
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Waits until the group is settled (see the top of this file) with a primary `accept` takes
 * (after a failover: not the old one), and records that primary in `state`.
 */
async function settle(
  name: string,
  data: RedisProcess[],
  sentinels: RedisProcess[],
  password: string | undefined,
  state: { primary: number },
  accept: (primary: number) => boolean,
): Promise<void> {
  await until('the sentinel group to settle', SETTLE_TIMEOUT_MS, async () => {
    let primary: number | undefined;
    for (const sentinel of sentinels) {
      const [address, master, replicas] = throwErrors(
        await commands(
          sentinel.port,
          [
            ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name],
            ['SENTINEL', 'MASTER', name],
            ['SENTINEL', 'REPLICAS', name],
          ],
          { password },
        ),
      );
      const port = primaryPortOf(address as Reply);
      if (primary === undefined) primary = port;
      else if (port !== primary) return `sentinels disagree on the primary: ${primary} and ${port}`;
      if (!accept(port)) return `sentinel ${sentinel.port} still names ${port}`;
      const fields = record(master as Reply);
      if (fields.flags !== 'master') return `sentinel ${sentinel.port} flags the primary ${fields.flags}`;
      if (Number(fields['num-other-sentinels']) !== sentinels.length - 1) return `sentinel ${sentinel.port} knows ${fields['num-other-sentinels']} other sentinels`;
      const known = (replicas as Reply[]).map(record);
      for (const node of data) {
        if (node.port === port || !node.running) continue;
        const replica = known.find((candidate) => Number(candidate.port) === node.port);
        if (replica === undefined) return `sentinel ${sentinel.port} does not know replica ${node.port}`;
        // Only the sentinel's own flags (not down, not disconnected): what it reports of the
        // replica's role and link comes from its INFO, polled every 10 s, and may be stale; the
        // nodes themselves are asked below.
        if (replica.flags !== 'slave') return `sentinel ${sentinel.port} flags replica ${node.port} ${replica.flags}`;
      }
    }
    const primaryNode = data.find((node) => node.port === primary);
    if (primaryNode === undefined || !primaryNode.running) return `the sentinels name ${primary}, which is not running`;
    for (const node of data) {
      if (!node.running) continue;
      const info = String(await command(node.port, ['INFO', 'replication'], { password }));
      if (node.port === primary) {
        if (!/^role:master\r?$/m.test(info)) return `${node.port} is named primary but is not role:master`;
      } else if (!/^role:slave\r?$/m.test(info) || !new RegExp(`^master_port:${primary}\\r?$`, 'm').test(info) || !/^master_link_status:up\r?$/m.test(info)) {
        return `${node.port} is not (yet) an in-sync replica of ${primary}`;
      }
    }
    state.primary = primary as number;
    return true;
  });
}

function primaryPortOf(reply: Reply): number {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`the sentinel does not know the primary: ${String(reply)}`);
  return Number(reply[1]);
}

/** SENTINEL MASTER / REPLICAS entries: a flat [key, value, key, value, ...] list. */
function record(reply: Reply): Record<string, string> {
  const fields: Record<string, string> = {};
  const list = Array.isArray(reply) ? reply : [];
  for (let i = 0; i + 1 < list.length; i += 2) fields[String(list[i])] = String(list[i + 1]);
  return fields;
}

/** A config-file string value (a password with spaces or quotes stays one argument). */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

