/**
 * A TCP proxy in front of a server, as a process of its own (`proxy-process.cjs`): it can hold
 * back the server's answers by a random delay per connection (reordering what arrives on
 * different connections), and be frozen with SIGSTOP (every connection through it stops, none
 * closes) and thawed. Stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface ProxyProcess {
  readonly port: number;
  readonly url: string;
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

export async function startProxy(targetPort: number, maxDelayMs: number): Promise<ProxyProcess> {
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, 'proxy-process.cjs'), String(targetPort), String(maxDelayMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`the proxy exited (${String(code)})`)));
  });
  const signal = (name: NodeJS.Signals): void => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, name);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      signal('SIGCONT');
      signal('SIGKILL');
      await exited;
    },
  };
}
