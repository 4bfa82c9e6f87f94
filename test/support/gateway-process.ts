/**
 * Real gateway instances as separate processes (`node dist/main.js`, exactly what `npm start`
 * runs), on free loopback ports, stopped by PID. A test can SIGKILL one, as a crash would, and
 * start it again on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { SERVICE_TOKEN, waitUntil } from './gateway';
import { freePort } from './redis-server';

const ROOT = join(__dirname, '..', '..');

export interface GatewayProcess {
  readonly port: number;
  /** `127.0.0.1:<port>`, as nginx writes it in `$upstream_addr`. */
  readonly address: string;
  start(): Promise<void>;
  /** SIGKILL: the instance dies mid-request, as in a crash. */
  kill(): Promise<void>;
}

export async function startGatewayProcess(options: { redisUrl: string; namespace: string }): Promise<GatewayProcess> {
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    REDIS_URL: options.redisUrl,
    SESSION_NAMESPACE: options.namespace,
    SERVICE_TOKENS: SERVICE_TOKEN,
    LOG_LEVEL: 'warn',
  };
  let child: ChildProcess | undefined;

  const instance: GatewayProcess = {
    port,
    address: `127.0.0.1:${port}`,
    async start() {
      const started = spawn(process.execPath, [join(ROOT, 'dist', 'main.js')], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
      child = started;
      let stderr = '';
      started.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await waitUntil(async () => {
        if (started.exitCode !== null) throw new Error(`gateway on port ${port} exited with ${started.exitCode}: ${stderr}`);
        return accepts(port);
      }, 15000);
    },
    async kill() {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
  };
  await instance.start();
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
