/**
 * A real redis-server for tests: started on a free loopback port in a temp dir, stopped by its
 * PID. No mocks. `stop()` and `start()` again on the same port let a test take Redis away and
 * bring it back; with `persist` the data survives that (append-only file, fsync always).
 *
 * Started means: this very redis-server holds the listening socket and answers PING (not some
 * other server that took the port first; see ports.ts). A port found taken is replaced by another.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { AddressInUse, freePort, listensOn, onFreePort } from './ports';

export { freePort } from './ports';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** A plain client for looking into Redis from the test. */
  client(): Redis;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server and removes its files. */
  destroy(): Promise<void>;
}

export interface RedisServerOptions {
  /** Append-only file, fsync always: the data survives a stop and start. */
  readonly persist?: boolean;
  /** Start as a replica of the server on this loopback port. */
  readonly replicaOf?: number;
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-redis-'));
  try {
    return await onFreePort(async (port) => {
      const server = redisOn(port, dir, options);
      await server.startOnce();
      return server;
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function redisOn(port: number, dir: string, options: RedisServerOptions): RedisServer & { startOnce(): Promise<void> } {
  const clients: Redis[] = [];
  let child: ChildProcess | undefined;

  // A replica is served at once (the default waits 5 s for more replicas to join one transfer).
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--loglevel', 'warning', '--repl-diskless-sync-delay', '0'];
  if (options.persist) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  else args.push('--appendonly', 'no');
  if (options.replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(options.replicaOf));

  const server = {
    port,
    url: `redis://127.0.0.1:${port}`,
    client() {
      const client = new Redis(port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 });
      clients.push(client);
      return client;
    },
    /** One attempt: AddressInUse when the port is taken. */
    async startOnce() {
      const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      let output = '';
      started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<never>((_, reject) => {
        started.once('error', (error) => reject(new Error(`redis-server did not start (is the redis-server package installed?): ${error.message}`)));
        started.once('exit', (code) => {
          if (/Address already in use/.test(output)) reject(new AddressInUse(port, output.trim()));
          else reject(new Error(`redis-server exited with ${code}: ${output}`));
        });
      });
      exited.catch(() => undefined);
      const deadline = Date.now() + 10_000;
      for (;;) {
        // Whichever comes first: the child's exit, or the child listening and answering.
        const ready = await Promise.race([exited, answersPing(started, port)]);
        if (ready) return;
        if (Date.now() > deadline) {
          started.kill('SIGKILL');
          throw new Error(`redis-server on port ${port} did not answer: ${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    /** Again on the same port: if something holds it meanwhile, waits for it to be free. */
    async start() {
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          return await server.startOnce();
        } catch (error) {
          if (!(error instanceof AddressInUse) || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
    async stop() {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    async destroy() {
      // A client still reconnecting (after a stop and start) is let finish first: ioredis closing
      // one mid-reconnect leaves a 2 s timer on its dead socket, which keeps jest from exiting.
      if (child !== undefined) await Promise.all(clients.map((client) => settled(client)));
      // Not twice: disconnecting a client already ended sets that 2 s timer too.
      for (const client of clients) if (client.status !== 'end') client.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/**
 * Whether this child holds the port and answers PING. A plain socket, not an ioredis client: a
 * refused ioredis connection leaves a 2 s disconnect timer behind, which kept jest from exiting.
 */
async function answersPing(child: ChildProcess, port: number): Promise<boolean> {
  if (child.pid === undefined || !listensOn(child.pid, port)) return false;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (!reply.includes('\r\n')) return;
      socket.destroy();
      resolve(reply.startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}


/** Resolves once the client is connected or given up (at most 2 s); the server is still running. */
function settled(client: Redis): Promise<void> {
  if (client.status === 'ready' || client.status === 'end' || client.status === 'wait') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', done);
    client.once('end', done);
  });
}
