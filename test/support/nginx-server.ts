/**
 * A real nginx (the Debian package) running the shipped configuration in `nginx/`, for tests.
 *
 * The shipped files are copied into a temp dir with only their site-specific values replaced:
 * the listen address, the upstream addresses, the paths (pid, logs, temp dirs) and, if asked,
 * the issuance rate. The location blocks and the proxy settings are copied byte for byte. Each
 * replacement must find its text, so the shipped files and these tests cannot drift apart
 * silently. nginx runs in the foreground as a child of the test and is stopped by its PID; it
 * touches nothing outside its temp dir.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from './gateway';
import { AddressInUse, listensOn, onFreePort } from './ports';

export const SHIPPED_DIR = join(__dirname, '..', '..', 'nginx');

/** Debian installs nginx in /usr/sbin, which a non-root PATH may lack. */
export function nginxBinary(): string {
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
}

export interface NginxSite {
  readonly port: number;
  /** `host:port` of each gateway instance, in place of the shipped addresses; shipped ones if absent. */
  readonly upstreams?: readonly string[];
  /** In place of the shipped anonymous-issuance rate (`10r/s`), e.g. `1r/m`. */
  readonly issueRate?: string;
  /** In place of the shipped `client_max_body_size` of `/graphql` (`192k`), e.g. `1m`. */
  readonly graphqlBodyLimit?: string;
}

export interface RenderedConfig {
  readonly dir: string;
  readonly confFile: string;
  readonly accessLog: string;
}

function replace(text: string, file: string, from: string | RegExp, to: string): string {
  const found = typeof from === 'string' ? text.includes(from) : from.test(text);
  if (!found) throw new Error(`nginx/${file} no longer contains ${String(from)}: update test/support/nginx-server.ts`);
  return typeof from === 'string' ? text.split(from).join(to) : text.replace(from, to);
}

function siteValues(file: string, text: string, site: NginxSite, dir: string): string {
  switch (file) {
    case 'nginx.conf':
      text = replace(text, file, '/run/nginx.pid', join(dir, 'nginx.pid'));
      text = replace(text, file, '/var/log/nginx/', `${join(dir, 'logs')}/`);
      text = replace(text, file, '/var/lib/nginx/', `${join(dir, 'temp')}/`);
      return replace(text, file, /listen 80;/, `listen 127.0.0.1:${site.port};`);
    case 'upstream.conf': {
      if (site.upstreams === undefined) return text;
      const shipped = [...text.matchAll(/^(\s*server\s+)(\S+)/gm)];
      if (shipped.length !== site.upstreams.length) {
        throw new Error(`nginx/upstream.conf has ${shipped.length} servers, the test gives ${site.upstreams.length}`);
      }
      let index = 0;
      return text.replace(/^(\s*server\s+)(\S+)/gm, (_line, head: string) => `${head}${site.upstreams?.[index++] ?? ''}`);
    }
    case 'session-gateway-http.conf':
      return site.issueRate === undefined ? text : replace(text, file, /rate=10r\/s;/, `rate=${site.issueRate};`);
    case 'session-gateway.conf':
      return site.graphqlBodyLimit === undefined
        ? text
        : replace(text, file, /client_max_body_size 192k;/, `client_max_body_size ${site.graphqlBodyLimit};`);
    default:
      return text;
  }
}

/** The shipped files with this site's values, in a fresh temp dir. */
export function renderNginxConfig(site: NginxSite): RenderedConfig {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-nginx-'));
  // Run as root, nginx's workers switch to the `user` of nginx.conf and must reach the temp dirs.
  chmodSync(dir, 0o755);
  for (const sub of ['conf', 'logs', 'temp']) mkdirSync(join(dir, sub));
  for (const file of readdirSync(SHIPPED_DIR).filter((name) => name.endsWith('.conf'))) {
    const text = readFileSync(join(SHIPPED_DIR, file), 'utf8');
    writeFileSync(join(dir, 'conf', file), siteValues(file, text, site, dir));
  }
  return { dir, confFile: join(dir, 'conf', 'nginx.conf'), accessLog: join(dir, 'logs', 'session-gateway.access.log') };
}

/** `nginx -t` on a rendered configuration: its exit code and what it said. */
export function testNginxConfig(config: RenderedConfig): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(nginxBinary(), ['-t', '-p', `${config.dir}/`, '-c', config.confFile], (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, output: stdout + stderr });
    });
  });
}

export interface NginxServer {
  readonly port: number;
  readonly config: RenderedConfig;
  /** The access log as written so far. */
  accessLog(): string;
  /** The error log as written so far. */
  errorLog(): string;
  /** Stops nginx and removes its temp dir. */
  destroy(): Promise<void>;
}

export async function startNginx(site: Omit<NginxSite, 'port'>): Promise<NginxServer> {
  return onFreePort((port) => startNginxOn({ ...site, port }));
}

/** One attempt on one port: AddressInUse when the port is taken. */
async function startNginxOn(site: NginxSite): Promise<NginxServer> {
  const { port } = site;
  const config = renderNginxConfig(site);
  const child: ChildProcess = spawn(nginxBinary(), ['-p', `${config.dir}/`, '-c', config.confFile, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let spawnError: Error | undefined;
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.once('error', (error) => (spawnError = error));
  try {
    await waitUntil(async () => {
      if (spawnError !== undefined) throw new Error(`cannot run nginx (is the nginx package installed?): ${spawnError.message}`);
      if (child.exitCode !== null) {
        const said = `${stderr}${readIfExists(join(config.dir, 'logs', 'error.log'))}`;
        if (/Address already in use/.test(said)) throw new AddressInUse(port, said.trim());
        throw new Error(`nginx did not start: ${said}`);
      }
      // The master (this child) holds the listening socket once the configuration is loaded.
      return child.pid !== undefined && listensOn(child.pid, port);
    }, 10000);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(config.dir, { recursive: true, force: true });
    throw error;
  }

  return {
    port,
    config,
    accessLog: () => readIfExists(config.accessLog),
    errorLog: () => readIfExists(join(config.dir, 'logs', 'error.log')),
    async destroy() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        // SIGTERM to the master: it stops its workers before it exits (SIGKILL would orphan them).
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(config.dir, { recursive: true, force: true });
    },
  };
}

function readIfExists(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}
