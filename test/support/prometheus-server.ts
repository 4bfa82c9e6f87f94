/**
 * A real Prometheus server (the Debian package's `prometheus`) for tests: its own config and
 * TSDB in a temp dir, listening on a free loopback port (never 9090, where a system service may
 * sit), scraping the targets given every second and evaluating the given rule files every
 * second. Stopped by its PID; touches nothing outside its temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressInUse, listensOn, onFreePort } from './ports';

export interface PrometheusOptions {
  /** The scrape job's name, as the shipped rules expect it. */
  readonly job: string;
  /** `host:port` of each target. */
  readonly targets: readonly string[];
  readonly ruleFiles: readonly string[];
}

export interface PrometheusServer {
  readonly url: string;
  readonly pid: number;
  /** GET `/api/v1/<path>` with `params`; the parsed JSON, whatever the status. */
  api(path: string, params?: Record<string, string | string[]>): Promise<ApiResponse>;
  /** Stops the server by its PID and removes its temp dir. */
  stop(): Promise<void>;
}

export interface ApiResponse {
  readonly status: 'success' | 'error';
  readonly data?: any;
  readonly errorType?: string;
  readonly error?: string;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  // JSON is YAML: no YAML writer needed.
  writeFileSync(
    configFile,
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: options.ruleFiles,
      scrape_configs: [{ job_name: options.job, static_configs: [{ targets: options.targets }] }],
    }),
  );
  try {
    return await onFreePort((port) => startOn(port, dir, configFile));
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startOn(port: number, dir: string, configFile: string): Promise<PrometheusServer> {
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, `data-${port}`)}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ];
  const child: ChildProcess = spawn('prometheus', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`prometheus did not start (is the prometheus package installed?): ${error.message}`)));
    child.once('exit', (code, signal) => {
      if (/address already in use/i.test(output)) reject(new AddressInUse(port, output.trim()));
      else reject(new Error(`prometheus exited with ${code ?? signal}: ${output}`));
    });
  });
  exited.catch(() => undefined);
  const url = `http://127.0.0.1:${port}`;

  const server: PrometheusServer = {
    url,
    pid: child.pid as number,
    async api(path, params = {}) {
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(params)) for (const one of [value].flat()) query.append(name, one);
      const response = await fetch(`${url}/api/v1/${path}?${query}`);
      return (await response.json()) as ApiResponse;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        process.kill(child.pid as number, 'SIGTERM');
        const timer = setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid as number, 'SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  // Started: this very child holds the port and says it is ready.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await Promise.race([exited, isReady(child, port, url)]);
    if (ready) return server;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prometheus on port ${port} did not become ready: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function isReady(child: ChildProcess, port: number, url: string): Promise<boolean> {
  if (child.pid === undefined || !listensOn(child.pid, port)) return false;
  try {
    return (await fetch(`${url}/-/ready`)).status === 200;
  } catch {
    return false;
  }
}
