/**
 * Real gateway instances as separate processes (`node dist/main.js`, exactly what `npm start`
 * runs), on free loopback ports, stopped by PID. A test can SIGKILL one, as a crash would, and
 * start it again on the same port; send it SIGTERM and see it drain and exit; or freeze it
 * (SIGSTOP) and thaw it (SIGCONT), as a hung host would look from outside.
 *
 * Started means: this very process holds the listening socket (see ports.ts), not merely that
 * something answers on the port. A port found taken is replaced by another.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { SERVICE_TOKEN, uniqueNamespace, waitUntil } from './gateway';
import { AddressInUse, listensOn, onFreePort } from './ports';

const ROOT = join(__dirname, '..', '..');
/** `npm run build`'s output (jest's global setup builds it): what `npm start` runs. */
export const MAIN = join(ROOT, 'dist', 'main.js');

export interface GatewayProcess {
  readonly port: number;
  /** `127.0.0.1:<port>`, as nginx writes it in `$upstream_addr`. */
  readonly address: string;
  start(): Promise<void>;
  /** SIGKILL: the instance dies mid-request, as in a crash. */
  kill(): Promise<void>;
  /** Sends a signal to the running process: SIGTERM or SIGINT to drain, SIGSTOP/SIGCONT to freeze and thaw. */
  signal(name: NodeJS.Signals): void;
  /** The exit code of the process last started (null when a signal ended it), once it has exited. */
  exited(): Promise<number | null>;
  /** What the process last started has written so far, stdout and stderr. */
  output(): string;
  /** Whether the process last started is still running (a frozen one is). */
  running(): boolean;
}

export interface GatewayProcessOptions {
  /** No REDIS_URL: the embedded store. */
  readonly redisUrl?: string;
  /** SESSION_NAMESPACE; a fresh one if absent. */
  readonly namespace?: string;
  /** More environment, over the defaults (LOG_LEVEL=warn, NODE_ENV=production, one service token). */
  readonly env?: Record<string, string>;
}

export async function startGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  return onFreePort(async (port) => {
    const instance = gatewayProcessOn(port, options);
    await instance.startOnce();
    return instance;
  });
}

/** The environment a gateway process gets: only what it is given, nothing of the test's own. */
export function gatewayEnv(port: number, options: GatewayProcessOptions): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    ...(options.redisUrl === undefined ? {} : { REDIS_URL: options.redisUrl }),
    SESSION_NAMESPACE: options.namespace ?? uniqueNamespace(),
    SERVICE_TOKENS: SERVICE_TOKEN,
    LOG_LEVEL: 'warn',
    ...options.env,
  };
}

/** A gateway process as it starts, however it ends: for start-up paths that never listen. */
export interface Spawned {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

export function spawnGateway(env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

function gatewayProcessOn(port: number, options: GatewayProcessOptions): GatewayProcess & { startOnce(): Promise<void> } {
  const env = gatewayEnv(port, options);
  let current: Spawned | undefined;

  const instance = {
    port,
    address: `127.0.0.1:${port}`,
    /** One attempt: AddressInUse when the port is taken. */
    async startOnce() {
      const started = spawnGateway(env);
      current = started;
      const pid = started.child.pid as number;
      await waitUntil(async () => {
        if (started.child.exitCode !== null) {
          if (/EADDRINUSE/.test(started.output())) throw new AddressInUse(port, started.output().trim());
          throw new Error(`gateway on port ${port} exited with ${started.child.exitCode}: ${started.output()}`);
        }
        return listensOn(pid, port);
      }, 15000);
    },
    /** Again on the same port (nginx knows it by it): waits for the port if something holds it meanwhile. */
    async start() {
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          return await instance.startOnce();
        } catch (error) {
          if (!(error instanceof AddressInUse) || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
    async kill() {
      const running = current?.child;
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
      running.kill('SIGKILL');
      await current?.exited;
    },
    signal(name: NodeJS.Signals) {
      current?.child.kill(name);
    },
    async exited() {
      return current === undefined ? null : current.exited;
    },
    output() {
      return current?.output() ?? '';
    },
    running() {
      return current !== undefined && current.child.exitCode === null && current.child.signalCode === null;
    },
  };
  return instance;
}

/** Whether something accepts TCP connections on the loopback port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
