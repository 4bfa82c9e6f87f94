/**
 * A real Redis Cluster for tests: redis-server processes with cluster-enabled, each on its own
 * free loopback port (and its own cluster-bus port) in its own temp dir, stopped by PID. No mocks
 * and no redis-cli: the slots, the handshake and the replicas are set up with the cluster's own
 * commands (CLUSTER ADDSLOTSRANGE, SET-CONFIG-EPOCH, MEET, REPLICATE), so a machine with only the
 * redis-server package can run it.
 *
 * Started (and, after a failover or a restart, settled) means: every running node says
 * cluster_state:ok, every running node has the same view of who is primary of which slots and who
 * replicates whom, those primaries are all running and cover the 16384 slots, and every replica's
 * link to its primary is up (so a failover right after finds a replica in sync).
 *
 * Also here, shared with redis-sentinel.ts: `RedisProcess` (one restartable redis-server child)
 * and `command`/`commands` (a one-connection RESP client for the fixtures' own polling, so that
 * no ioredis client with reconnect timers is left behind by a fixture).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { AddressInUse, freePort, listensOn, onFreePort } from './ports';

export const SLOTS = 16384;

export interface ClusterNode {
  readonly port: number;
  /** As of the last time the fixture saw the cluster settled (start, failover, restart). */
  readonly role: 'primary' | 'replica';
  /** The cluster's node ID (40 hex digits), stable across a restart (kept in nodes.conf). */
  readonly id: string;
  /** False after `failover(port, 'kill')` until `restart(port)`. */
  readonly running: boolean;
}

export interface FailoverResult {
  readonly newPrimaryPort: number;
  /** From the command (or the SIGKILL) until the fixture saw the cluster settled again. */
  readonly seconds: number;
}

export interface RedisCluster {
  readonly nodes: readonly ClusterNode[];
  /** "127.0.0.1:p1,127.0.0.1:p2,...": every node, as a REDIS_CLUSTER_NODES style setting. */
  readonly seeds: string;
  readonly seedNodes: ReadonlyArray<{ host: string; port: number }>;
  /** An ioredis Cluster client for looking into the cluster from the test (closed by destroy). */
  client(options?: ClusterOptions): Cluster;
  /** A plain client to one node (closed by destroy). Gets MOVED for keys of other primaries. */
  nodeClient(port: number, options?: RedisOptions): Redis;
  /** The primary serving the key's slot, once every running node agrees on it. */
  primaryFor(key: string): Promise<{ port: number; slot: number; id: string }>;
  /**
   * graceful: CLUSTER FAILOVER sent to one of the primary's replicas (the two swap roles with no
   * write lost). kill: SIGKILL of the primary; a replica is elected once the others mark it
   * failed (cluster-node-timeout), and writes to its slots fail (CLUSTERDOWN, or a refused
   * connection) until then. Either way resolves once the cluster is settled again.
   */
  failover(primaryPort: number, mode?: 'graceful' | 'kill'): Promise<FailoverResult>;
  /** Starts a killed node again on the same ports and dir; resolves once it rejoined (as a replica, if it was failed over). */
  restart(port: number): Promise<void>;
  /** Closes the clients, kills every node by PID, removes the dirs. */
  destroy(): Promise<void>;
}

export interface ClusterStartOptions {
  /** Default 3 (the fewest Redis Cluster accepts for a majority to fail a node over). */
  primaries?: number;
  /** Default 1. */
  replicasPerPrimary?: number;
  /** Append-only file with fsync always, so a restarted node keeps its data. Default off. */
  persist?: boolean;
}

/** How long the fixture waits for the cluster to settle before it fails with what it saw. */
const SETTLE_TIMEOUT_MS = 20_000;

export async function startCluster(options: ClusterStartOptions = {}): Promise<RedisCluster> {
  const primaries = options.primaries ?? 3;
  const replicasPerPrimary = options.replicasPerPrimary ?? 1;
  if (primaries < 1 || replicasPerPrimary < 0) throw new Error('startCluster: primaries >= 1, replicasPerPrimary >= 0');
  const records: NodeRecord[] = [];
  const clients: Array<Redis | Cluster> = [];

  const destroy = async (): Promise<void> => {
    await Promise.all(clients.map((client) => closeClient(client)));
    await Promise.all(records.map((record) => record.process.kill()));
    for (const record of records) rmSync(record.process.dir, { recursive: true, force: true });
  };

  try {
    // All nodes at once: each start is mostly waiting for a child to bind its ports.
    const total = primaries * (1 + replicasPerPrimary);
    const started = await Promise.allSettled(Array.from({ length: total }, () => startClusterNode(options)));
    for (const result of started) if (result.status === 'fulfilled') records.push({ process: result.value, id: '', role: 'primary' });
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;

    for (const record of records) record.id = String(await command(record.process.port, ['CLUSTER', 'MYID']));
    const primaryRecords = records.slice(0, primaries);
    // Slots and distinct config epochs before the handshake, as redis-cli --cluster create does:
    // nodes that meet with equal epochs would first have to resolve the collision.
    await Promise.all(
      primaryRecords.map((record, index) => {
        const first = Math.floor((index * SLOTS) / primaries);
        const last = Math.floor(((index + 1) * SLOTS) / primaries) - 1;
        return commands(record.process.port, [
          ['CLUSTER', 'ADDSLOTSRANGE', String(first), String(last)],
          ['CLUSTER', 'SET-CONFIG-EPOCH', String(index + 1)],
        ]).then(throwErrors);
      }),
    );
    const [first, ...others] = records as [NodeRecord, ...NodeRecord[]];
    await Promise.all(
      others.map((record) =>
        command(first.process.port, ['CLUSTER', 'MEET', '127.0.0.1', String(record.process.port), String(record.process.ports[1])]),
      ),
    );
    // A node can only REPLICATE a primary it knows: wait for the handshake to reach everyone.
    await until('every node to know every other', SETTLE_TIMEOUT_MS, async () => {
      for (const record of records) {
        const view = parseNodes(String(await command(record.process.port, ['CLUSTER', 'NODES'])));
        if (view.length !== records.length) return `${record.process.port} knows ${view.length} of ${records.length} nodes`;
        const pending = view.find((line) => line.flags.has('handshake') || line.flags.has('noaddr'));
        if (pending !== undefined) return `${record.process.port} still in handshake with ${pending.port}`;
      }
      return true;
    });
    const replicaRecords = records.slice(primaries);
    await Promise.all(
      replicaRecords.map((record, index) => {
        const primary = primaryRecords[index % primaries] as NodeRecord;
        record.role = 'replica';
        return command(record.process.port, ['CLUSTER', 'REPLICATE', primary.id]);
      }),
    );
    await settle(records);
  } catch (error) {
    await destroy();
    throw error;
  }

  const byPort = (port: number): NodeRecord => {
    const record = records.find((candidate) => candidate.process.port === port);
    if (record === undefined) throw new Error(`no cluster node on port ${port}`);
    return record;
  };
  const seedNodes = records.map((record) => ({ host: '127.0.0.1', port: record.process.port }));

  return {
    get nodes() {
      return records.map((record) => ({ port: record.process.port, role: record.role, id: record.id, running: record.process.running }));
    },
    seeds: seedNodes.map((node) => `${node.host}:${node.port}`).join(','),
    seedNodes,
    client(clientOptions: ClusterOptions = {}) {
      const client = new Cluster(seedNodes, clientOptions);
      // Errors still reject the commands; the listener only keeps ioredis from printing each
      // failed reconnect during a failover as an "Unhandled error event".
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    nodeClient(port: number, clientOptions: RedisOptions = {}) {
      byPort(port);
      // A short disconnect timeout: a client closed while its node is down (reconnecting) would
      // otherwise leave ioredis' 2 s timer on the dead socket, and jest waiting for it.
      const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, disconnectTimeout: 50, ...clientOptions });
      // Errors still reject the commands; the listener only keeps ioredis from printing each
      // failed reconnect during a failover as an "Unhandled error event".
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    async primaryFor(key: string) {
      const running = records.filter((record) => record.process.running);
      const slot = Number(await command((running[0] as NodeRecord).process.port, ['CLUSTER', 'KEYSLOT', key]));
      let owner: NodeLine | undefined;
      await until(`the nodes to agree on the primary of slot ${slot}`, SETTLE_TIMEOUT_MS, async () => {
        const owners = new Set<string>();
        for (const record of running) {
          const view = parseNodes(String(await command(record.process.port, ['CLUSTER', 'NODES'])));
          owner = view.find((line) => line.flags.has('master') && line.slots.some(([a, b]) => a <= slot && slot <= b));
          owners.add(owner === undefined ? 'nobody' : String(owner.port));
        }
        return owners.size === 1 && !owners.has('nobody') ? true : `owners seen: ${[...owners].join(', ')}`;
      });
      const found = owner as NodeLine;
      return { port: found.port, slot, id: found.id };
    },
    async failover(primaryPort: number, mode: 'graceful' | 'kill' = 'graceful') {
      const primary = byPort(primaryPort);
      if (!primary.process.running || primary.role !== 'primary') throw new Error(`${primaryPort} is not a running primary`);
      const replicas = records.filter((record) => record.role === 'replica' && record.process.running && record.masterId === primary.id);
      if (replicas.length === 0) throw new Error(`primary ${primaryPort} has no running replica to fail over to`);
      const replicaPorts = new Set(replicas.map((record) => record.process.port));
      const began = Date.now();
      if (mode === 'graceful') {
        const replica = replicas[0] as NodeRecord;
        await command(replica.process.port, ['CLUSTER', 'FAILOVER']);
        await settle(records, (record) => record === replica && record.role === 'primary');
      } else {
        await primary.process.kill();
        await settle(records, (record) => replicaPorts.has(record.process.port) && record.role === 'primary');
      }
      const promoted = records.find((record) => replicaPorts.has(record.process.port) && record.role === 'primary') as NodeRecord;
      return { newPrimaryPort: promoted.process.port, seconds: (Date.now() - began) / 1000 };
    },
    async restart(port: number) {
      const record = byPort(port);
      if (record.process.running) throw new Error(`cluster node ${port} is running`);
      await record.process.start();
      await settle(records);
    },
    destroy,
  };
}

interface NodeRecord {
  readonly process: RedisProcess;
  id: string;
  role: 'primary' | 'replica';
  masterId?: string;
}

async function startClusterNode(options: ClusterStartOptions): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-cluster-'));
  try {
    return await onFreePort(async (port) => {
      // The bus port is chosen too, not port + 10000: a kernel-picked port above 55535 has none.
      let busPort = await freePort();
      while (busPort === port) busPort = await freePort();
      const conf = join(dir, 'redis.conf');
      writeFileSync(
        conf,
        confLines([
          ...dataNodeConf(port, dir, options.persist === true),
          'cluster-enabled yes',
          'cluster-config-file nodes.conf',
          // Failed after 1 s without answers: failovers in a few seconds, not the default 15 s.
          'cluster-node-timeout 1000',
          `cluster-port ${busPort}`,
          'cluster-announce-ip 127.0.0.1',
          // Any replica may take over however long its link was down: a test kills on purpose.
          'cluster-replica-validity-factor 0',
          // The replicas stay where they were put, whatever a failover leaves orphaned.
          'cluster-allow-replica-migration no',
        ]),
      );
      // A node that failed on a taken port may have written nodes.conf already: not reused.
      rmSync(join(dir, 'nodes.conf'), { force: true });
      const node = new RedisProcess(port, [port, busPort], [conf], dir);
      await node.startOnce();
      return node;
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The settings every data node of both fixtures shares (a config file, so CONFIG REWRITE works). */
export function dataNodeConf(port: number, dir: string, persist: boolean): string[] {
  return [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    'daemonize no',
    'loglevel warning',
    'save ""',
    persist ? 'appendonly yes' : 'appendonly no',
    ...(persist ? ['appendfsync always'] : []),
    'maxmemory 64mb',
    // Full syncs straight away: the default waits 5 s for more replicas to share the transfer.
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    'replica-announce-ip 127.0.0.1',
  ];
}

export function confLines(lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/**
 * Waits until the cluster is settled (see the top of this file) and `also` holds for the records,
 * whose roles it updates from the agreed view.
 */
async function settle(records: NodeRecord[], also: (record: NodeRecord) => boolean = () => true): Promise<void> {
  await until('the cluster to settle', SETTLE_TIMEOUT_MS, async () => {
    const running = records.filter((record) => record.process.running);
    const runningPorts = new Set(running.map((record) => record.process.port));
    let agreed: string | undefined;
    let agreedView: NodeLine[] = [];
    for (const record of running) {
      const port = record.process.port;
      const [info, nodes, replication] = throwErrors(await commands(port, [['CLUSTER', 'INFO'], ['CLUSTER', 'NODES'], ['INFO', 'replication']]));
      if (!/^cluster_state:ok\r?$/m.test(String(info))) return `${port}: cluster_state is not ok`;
      const view = parseNodes(String(nodes));
      const me = view.find((line) => line.flags.has('myself'));
      if (me === undefined || me.id !== record.id) return `${port}: does not know itself as ${record.id}`;
      // The running nodes as this node sees them; the killed ones may linger as failed, unseen.
      const seen = view.filter((line) => runningPorts.has(line.port));
      if (seen.length !== running.length) return `${port} sees ${seen.length} of the ${running.length} running nodes`;
      const unwell = seen.find((line) => ['fail', 'fail?', 'handshake', 'noaddr'].some((flag) => line.flags.has(flag)) || line.link !== 'connected');
      if (unwell !== undefined) return `${port} sees ${unwell.port} as ${[...unwell.flags].join(',')} ${unwell.link}`;
      const portOf = new Map(view.map((line) => [line.id, line.port]));
      const summary = seen
        .map((line) =>
          line.flags.has('master')
            ? `${line.port} primary ${line.slots.map(([a, b]) => `${a}-${b}`).join(' ')}`
            : `${line.port} replica of ${portOf.get(line.masterId ?? '') ?? line.masterId}`,
        )
        .sort()
        .join('\n');
      if (agreed === undefined) {
        agreed = summary;
        agreedView = seen;
      } else if (summary !== agreed) return `${port} disagrees:\n${summary}\nwith\n${agreed}`;
      const covered = seen.filter((line) => line.flags.has('master')).reduce((sum, line) => sum + line.slots.reduce((n, [a, b]) => n + b - a + 1, 0), 0);
      if (covered !== SLOTS) return `${port} sees running primaries cover ${covered} slots`;
      if (me.flags.has('slave')) {
        const text = String(replication);
        const masterPort = portOf.get(me.masterId ?? '');
        if (!/^master_link_status:up\r?$/m.test(text)) return `${port}: replica link to its primary is not up`;
        if (!new RegExp(`^master_port:${masterPort}\\r?$`, 'm').test(text)) return `${port}: replicates another port than ${masterPort}`;
      } else if (!/^role:master\r?$/m.test(String(replication))) return `${port}: cluster says primary, INFO says otherwise`;
    }
    for (const record of running) {
      const line = agreedView.find((candidate) => candidate.id === record.id) as NodeLine;
      record.role = line.flags.has('master') ? 'primary' : 'replica';
      record.masterId = line.masterId;
    }
    return records.some(also) ? true : 'not yet the expected roles';
  });
}

export interface NodeLine {
  id: string;
  port: number;
  flags: Set<string>;
  masterId: string | undefined;
  link: string;
  slots: Array<[number, number]>;
}

/** CLUSTER NODES: `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot>...` */
export function parseNodes(text: string): NodeLine[] {
  return text
    .split('\n')
    .map((row) => row.trim())
    .filter((row) => row !== '')
    .map((row) => {
      const [id, address, flags, master, , , , link, ...slots] = row.split(' ');
      return {
        id: id as string,
        port: Number(/:(\d+)@/.exec(address ?? '')?.[1]),
        flags: new Set((flags ?? '').split(',')),
        masterId: master === '-' ? undefined : master,
        link: link ?? '',
        slots: slots
          .filter((slot) => !slot.startsWith('[')) // [slot->-id] / [slot-<-id]: migrations
          .map((slot) => {
            const [a, b] = slot.split('-').map(Number) as [number, number?];
            return [a, b ?? a] as [number, number];
          }),
      };
    });
}

// ---------------------------------------------------------------------------------------------
// Shared with redis-sentinel.ts.

/**
 * One redis-server child (a cluster node, a data node or a sentinel) on fixed ports, restartable.
 * Started means: this very child holds every port in `ports` (from /proc; a cluster node's
 * second one is its bus port) and answers PING.
 */
export class RedisProcess {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly port: number,
    readonly ports: number[],
    readonly args: string[],
    readonly dir: string,
    readonly password?: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** The last of what the child printed, for error messages. */
  get log(): string {
    return this.output.slice(-4000);
  }

  /** One attempt: AddressInUse when a port is taken. */
  async startOnce(): Promise<void> {
    const started = spawn('redis-server', this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = started;
    this.output = '';
    const collect = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    started.stdout?.on('data', collect);
    started.stderr?.on('data', collect);
    const exited = new Promise<never>((_, reject) => {
      started.once('error', (error) => reject(new Error(`redis-server did not start (is the redis-server package installed?): ${error.message}`)));
      started.once('exit', (code) => {
        if (/Address already in use/.test(this.output)) reject(new AddressInUse(this.port, this.output.trim()));
        else reject(new Error(`redis-server on ${this.port} exited with ${code}: ${this.output}`));
      });
    });
    exited.catch(() => undefined);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ready = await Promise.race([exited, this.answers(started)]);
      if (ready) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`redis-server on port ${this.port} did not answer: ${this.output}`);
      }
      await sleep(20);
    }
  }

  /** Again on the same ports: if something holds one meanwhile, waits for it to be free. */
  async start(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return await this.startOnce();
      } catch (error) {
        if (!(error instanceof AddressInUse) || Date.now() > deadline) throw error;
        await sleep(50);
      }
    }
  }

  /** SIGKILL: no shutdown, no final save, no goodbye to the cluster or the sentinels. */
  async kill(): Promise<void> {
    const running = this.child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  }

  private async answers(child: ChildProcess): Promise<boolean> {
    if (child.pid === undefined || !this.ports.every((port) => listensOn(child.pid as number, port))) return false;
    try {
      return (await command(this.port, ['PING'], { password: this.password, timeoutMs: 1000 })) === 'PONG';
    } catch {
      return false;
    }
  }
}

export class ReplyError extends Error {}
export type Reply = string | number | null | ReplyError | Reply[];

/** One command on its own short connection; a Redis error reply is thrown. */
export async function command(port: number, args: string[], options: { password?: string; timeoutMs?: number } = {}): Promise<Reply> {
  const [reply] = await commands(port, [args], options);
  if (reply instanceof ReplyError) throw reply;
  return reply as Reply;
}

/**
 * Commands pipelined on one short-lived connection (AUTH first when a password is given); the
 * replies in order, Redis errors among them as ReplyError. A raw socket rather than ioredis: the
 * fixtures poll nodes that may be dead, and a refused ioredis client leaves timers behind.
 */
export function commands(port: number, list: string[][], options: { password?: string; timeoutMs?: number } = {}): Promise<Reply[]> {
  const all = options.password === undefined ? list : [['AUTH', options.password], ...list];
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let done = false;
    const finish = (error: Error | undefined, replies?: Reply[]): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(options.password === undefined ? (replies as Reply[]) : (replies as Reply[]).slice(1));
    };
    const timer = setTimeout(() => finish(new Error(`no reply from ${port} to ${list.map((c) => c[0]).join(',')}`)), options.timeoutMs ?? 3000);
    socket.once('connect', () => socket.write(all.map(encode).join('')));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const replies: Reply[] = [];
      let offset = 0;
      while (replies.length < all.length) {
        const parsed = parse(buffer, offset);
        if (parsed === undefined) return; // more to come
        replies.push(parsed[0]);
        offset = parsed[1];
      }
      const auth = options.password === undefined ? undefined : replies[0];
      finish(auth instanceof ReplyError ? auth : undefined, replies);
    });
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new Error(`connection to ${port} closed before the replies`)));
  });
}

function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/** One RESP2 reply at `offset`: the value and the offset after it, or undefined if incomplete. */
function parse(buffer: Buffer, offset: number): [Reply, number] | undefined {
  const end = buffer.indexOf('\r\n', offset);
  if (end < 0) return undefined;
  const type = String.fromCharCode(buffer[offset] as number);
  const line = buffer.toString('utf8', offset + 1, end);
  const next = end + 2;
  switch (type) {
    case '+':
      return [line, next];
    case '-':
      return [new ReplyError(line), next];
    case ':':
      return [Number(line), next];
    case '$': {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buffer.length < next + length + 2) return undefined;
      return [buffer.toString('utf8', next, next + length), next + length + 2];
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, at);
        if (item === undefined) return undefined;
        items.push(item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

export function throwErrors(replies: Reply[]): Reply[] {
  const error = replies.find((reply) => reply instanceof ReplyError);
  if (error !== undefined) throw error;
  return replies;
}

/**
 * Polls `check` every 50 ms until it returns true; a string (or a thrown error, e.g. a node not
 * answering yet) is the reason it is not there yet, reported if `timeoutMs` passes first.
 */
export async function until(what: string, timeoutMs: number, check: () => Promise<true | string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const result = await check();
      if (result === true) return;
      last = result;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last}`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Closes an ioredis client (plain, sentinel-backed or Cluster) and waits for its 'end', so jest
 * exits without timers left. Not twice: disconnecting one already ended sets ioredis' 2 s timer.
 * A plain client reconnecting to a dead server never ends: its reconnect timer is cleared and its
 * socket already closed, which is all jest needs.
 */
export async function closeClient(client: Redis | Cluster): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'reconnecting' && !(client instanceof Cluster)) {
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3000);
    client.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  client.disconnect();
  await ended;
}
