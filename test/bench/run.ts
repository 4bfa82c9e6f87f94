/**
 * `npm run bench`: the gateway against its peers, in one run, on the same Redis and the same data.
 *
 * Rows: ceiling (bare node:http, constant JSON), floor (node:http + one ioredis GET), peer
 * (express + express-session + connect-redis, signed cookie), and the gateway's REST shim,
 * GraphQL own-session query, GraphQL batch of 10, and reads through the client library with its
 * near cache (`client-load.ts` instead of wrk, on the same core wrk uses). The full run also
 * measures how stale a client cache can be: 1,000 trials of "client 2 updates a session through
 * gateway B; how long until client 1, on gateway A, stops serving the old version". The server under test runs alone on core 0;
 * wrk and redis-server share core 1. Each row: 2 s warm-up, 10 s measured, 50 connections, every
 * request a different one of 10,000 seeded sessions. The table runs 5 times, alternating the row
 * order; the figures printed are medians (ratios are medians of the per-round ratios).
 *
 * Environment overrides for quick looks (the defaults are the published method):
 * BENCH_ROUNDS, BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS, and BENCH_ROWS (comma-separated
 * row names, e.g. `floor,REST`; the targets then print only where their rows ran, and the extra
 * measurements are skipped unless BENCH_EXTRAS=1).
 *
 * Besides req/s, each row reports the server's CPU time per request (user + system, from
 * /proc/<pid>/stat over the measured 10 s): on a shared VM whose throughput wanders between
 * rounds, this is the steadier figure of what one request costs the server.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RedisStore } from 'connect-redis';
import { sign } from 'cookie-signature';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { SessionClient } from '../../src/client';
import { generateSessionId, sessionDigest } from '../../src/session/ids';
import { RedisSessionStore } from '../../src/store/redis';
import { freePort } from '../support/redis-server';

const ROOT = resolve(__dirname, '..', '..');
const BENCH = __dirname;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SESSIONS = 10_000;
const STALENESS_TRIALS = 1000;
const MEMORY_SESSIONS = 100_000;
const TOKEN = 'bench-service-token-0123456789';
const PEER_SECRET = 'bench-peer-secret';
const SERVER_CORE = '0';
const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const LOAD_CORE = '1';

interface Measurement {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  redisCommandsPerRequest: number;
  rssMiB: number;
  cpuMicrosPerRequest: number;
  /** Client row only: share of reads answered from the near cache. */
  hitRatio?: number;
}

interface Row {
  readonly name: string;
  readonly what: string;
  /** Sessions read per request (10 for the batch). */
  readonly sessionsPerRequest: number;
  start(port: number): ChildProcess;
  readonly path: string;
  readonly mode: 'constant' | 'header' | 'cookie' | 'graphql' | 'batch';
  /** What sends the load: wrk (default), or the client library (`client-load.ts`). */
  readonly driver?: 'client';
  readonly linesFile: string;
  check(base: string): Promise<void>;
}

function user(i: number): Record<string, unknown> {
  // About 300 bytes of JSON, like a member record a module keeps in the session.
  return {
    id: 100000 + i,
    login: `member${i}`,
    name: `Kim Minsoo ${i}`,
    email: `member${i}@example.com`,
    roles: ['member', i % 10 === 0 ? 'admin' : 'reader'],
    locale: 'ko-KR',
    tier: 'gold',
    joinedAt: '2019-03-14T09:26:53.589Z',
    flags: { newsletter: true, twoFactor: i % 2 === 0, beta: false },
    address: { city: 'Seoul', district: 'Gangnam-gu', zip: '06236' },
  };
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function requireTool(command: string, hint: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${command} is needed for the benchmark: ${hint}`);
  }
}

function pinned(core: string, command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn('taskset', ['-c', core, command, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function waitForHttp(url: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) throw new Error(`server for ${url} exited with ${child.exitCode}`);
    try {
      await fetch(url, { headers: { 'X-Session-ID': 'probe' } });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing answered at ${url}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

function rssMiB(pid: number): number {
  // taskset execs the server, so the pid is the server's own.
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** User + system CPU time of a process so far, in microseconds (/proc/<pid>/stat fields 14 and 15). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15, in clock ticks.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / CLOCK_TICKS_PER_SECOND;
}

async function commandsProcessed(redis: Redis): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1]);
}

function wrk(url: string, row: Row, seconds: number): { requests: number; durationUs: number; errors: number; p50Us: number; p99Us: number } {
  const output = execFileSync(
    'taskset',
    ['-c', LOAD_CORE, 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '5s', '-s', join(BENCH, 'rotate.lua'), url],
    { env: { ...process.env, BENCH_MODE: row.mode, BENCH_IDS: row.linesFile, BENCH_TOKEN: TOKEN }, encoding: 'utf8' },
  );
  const line = output.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (line === undefined) throw new Error(`wrk printed no result:\n${output}`);
  const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as Record<string, number>;
  const errors = (r.connectErrors ?? 0) + (r.readErrors ?? 0) + (r.writeErrors ?? 0) + (r.statusErrors ?? 0) + (r.timeouts ?? 0);
  return { requests: r.requests as number, durationUs: r.durationUs as number, errors, p50Us: r.p50Us as number, p99Us: r.p99Us as number };
}

async function measure(row: Row, redis: Redis): Promise<Measurement> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = row.start(port);
  try {
    await waitForHttp(`${base}${row.path}`, child);
    await row.check(base);
    if (row.driver === 'client') return await measureClient(base, row, redis, child.pid as number);
    wrk(`${base}${row.path}`, row, WARMUP_SECONDS);
    const before = await commandsProcessed(redis);
    const cpuBefore = cpuMicros(child.pid as number);
    const result = wrk(`${base}${row.path}`, row, SECONDS);
    const cpuAfter = cpuMicros(child.pid as number);
    const after = await commandsProcessed(redis);
    const rss = rssMiB(child.pid as number);
    return {
      requestsPerSecond: result.requests / (result.durationUs / 1e6),
      p50Ms: result.p50Us / 1000,
      p99Ms: result.p99Us / 1000,
      errors: result.errors,
      // INFO itself is one command; subtract it.
      redisCommandsPerRequest: (after - before - 1) / result.requests,
      rssMiB: rss,
      cpuMicrosPerRequest: (cpuAfter - cpuBefore) / result.requests,
    };
  } finally {
    await stop(child);
  }
}

/** The client row: `client-load.ts` on the load core, its own warm-up included. */
async function measureClient(base: string, row: Row, redis: Redis, serverPid: number): Promise<Measurement> {
  const before = await commandsProcessed(redis);
  const cpuBefore = cpuMicros(serverPid);
  const output = execFileSync('taskset', ['-c', LOAD_CORE, process.execPath, '--import', 'tsx', join(BENCH, 'client-load.ts')], {
    env: {
      ...process.env,
      BENCH_URL: base,
      BENCH_TOKEN: TOKEN,
      BENCH_IDS: row.linesFile,
      BENCH_SECONDS: String(SECONDS),
      BENCH_WARMUP_SECONDS: String(WARMUP_SECONDS),
      BENCH_CONNECTIONS: String(CONNECTIONS),
    },
    encoding: 'utf8',
  });
  const cpuAfter = cpuMicros(serverPid);
  const after = await commandsProcessed(redis);
  const line = output.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (line === undefined) throw new Error(`client-load printed no result:\n${output}`);
  const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as Record<string, number>;
  const reads = r.reads as number;
  return {
    requestsPerSecond: reads / ((r.durationUs as number) / 1e6),
    p50Ms: (r.p50Us as number) / 1000,
    p99Ms: (r.p99Us as number) / 1000,
    errors: r.errors as number,
    // Warm-up included (client-load runs both): an upper bound, and still close to 0.
    redisCommandsPerRequest: (after - before - 1) / reads,
    rssMiB: rssMiB(serverPid),
    cpuMicrosPerRequest: (cpuAfter - cpuBefore) / reads,
    hitRatio: (r.hits as number) / reads,
  };
}

function assertEqualJson(actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what} answered ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
}

async function main(): Promise<void> {
  requireTool('wrk', 'apt-get install -y wrk');
  requireTool('redis-server', 'apt-get install -y redis-server');
  requireTool('taskset', 'apt-get install -y util-linux');
  if (cpus().length < 2) throw new Error('the benchmark pins the server and the load to different cores: it needs 2 cores');

  const work = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const redisPort = await freePort();
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const redisServer = pinned(LOAD_CORE, 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', work]);
  const redis = new Redis(redisPort, '127.0.0.1', { retryStrategy: (n) => (n > 100 ? null : 50) });
  redis.on('error', () => undefined); // refused until redis-server is up; the ping below waits
  await redis.ping();

  try {
    console.log(`seeding ${SESSIONS} sessions for each of the gateway, the floor and the peer …`);
    const ids = Array.from({ length: SESSIONS }, () => generateSessionId());
    const users = ids.map((_, i) => user(i));
    const store = new RedisSessionStore({ url: redisUrl, namespace: 'session', maxAttributeBytes: 65536, touchIntervalSeconds: 60, commandTimeoutMs: 5000 });
    await store.ping().catch(async () => {
      await new Promise((r) => setTimeout(r, 200));
      await store.ping();
    });
    const peerClient = createClient({ url: redisUrl });
    await peerClient.connect();
    const peerStore = new RedisStore({ client: peerClient, prefix: 'sess:' });
    const peerSet = (sid: string, data: object): Promise<void> =>
      new Promise((ok, fail) => peerStore.set(sid, data as never, (error?: unknown) => (error ? fail(error) : ok())));
    for (let start = 0; start < SESSIONS; start += 500) {
      await Promise.all(
        ids.slice(start, start + 500).map(async (id, offset) => {
          const i = start + offset;
          const json = JSON.stringify(users[i]);
          await store.create(id, { principal: String(users[i]?.id), attributes: [['user', json]], maxInactiveSeconds: 3600 });
          await redis.set(`floor:${id}`, json);
          await peerSet(id, { cookie: { originalMaxAge: 3600_000, expires: new Date(Date.now() + 3600_000), httpOnly: true, path: '/' }, user: users[i] });
        }),
      );
    }
    await store.close();
    await peerClient.quit();
    // Creation gives every session a fresh lastAccessedAt: reads during the run are within the
    // touch interval for the first minute and touch once per session after that, as in production.

    const idsFile = join(work, 'ids.txt');
    const cookiesFile = join(work, 'cookies.txt');
    const batchesFile = join(work, 'batches.txt');
    writeFileSync(idsFile, `${ids.join('\n')}\n`);
    writeFileSync(cookiesFile, `${ids.map((id) => `connect.sid=${encodeURIComponent(`s:${sign(id, PEER_SECRET)}`)}`).join('\n')}\n`);
    const batches: string[] = [];
    for (let i = 0; i + 10 <= SESSIONS; i += 10) batches.push(ids.slice(i, i + 10).map((id) => `"${id}"`).join(','));
    writeFileSync(batchesFile, `${batches.join('\n')}\n`);
    writeFileSync(join(work, 'constant.txt'), 'x\n');

    const tsx = ['--import', 'tsx'];
    const gateway = (port: number): ChildProcess =>
      pinned(SERVER_CORE, process.execPath, [join(ROOT, 'dist', 'main.js')], {
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: redisUrl,
        SERVICE_TOKENS: TOKEN,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
      });
    const server = (file: string) => (port: number): ChildProcess =>
      pinned(SERVER_CORE, process.execPath, [...tsx, join(BENCH, 'servers', file)], { PORT: String(port), REDIS_URL: redisUrl, PEER_SECRET });
    const first = users[0];
    const firstId = ids[0] as string;

    const allRows: Row[] = [
      {
        name: 'ceiling', what: 'node:http, constant JSON', sessionsPerRequest: 1, start: server('ceiling.ts'), path: '/', mode: 'constant',
        linesFile: join(work, 'constant.txt'),
        check: async (base) => assertEqualJson(await (await fetch(base)).json(), { ok: true }, 'ceiling'),
      },
      {
        name: 'floor', what: 'node:http + one ioredis GET', sessionsPerRequest: 1, start: server('floor.ts'), path: '/', mode: 'header', linesFile: idsFile,
        check: async (base) => assertEqualJson(await (await fetch(base, { headers: { 'X-Session-ID': firstId } })).json(), first, 'floor'),
      },
      {
        name: 'peer', what: 'express-session + connect-redis', sessionsPerRequest: 1, start: server('peer.ts'), path: '/session', mode: 'cookie', linesFile: cookiesFile,
        check: async (base) => {
          const cookie = readFileSync(cookiesFile, 'utf8').split('\n')[0] as string;
          assertEqualJson(await (await fetch(`${base}/session`, { headers: { Cookie: cookie } })).json(), first, 'peer');
        },
      },
      {
        name: 'REST', what: 'GET /api/v2/session', sessionsPerRequest: 1, start: gateway, path: '/api/v2/session', mode: 'header', linesFile: idsFile,
        check: async (base) => {
          const response = await fetch(`${base}/api/v2/session`, { headers: { 'X-Session-ID': firstId } });
          assertEqualJson(await response.json(), first, 'REST');
          if (response.headers.get('x-session-id') !== firstId) throw new Error('REST did not echo the session ID');
        },
      },
      {
        name: 'GraphQL', what: 'query { session { id attributes } }', sessionsPerRequest: 1, start: gateway, path: '/graphql', mode: 'graphql', linesFile: idsFile,
        check: async (base) => {
          const response = await fetch(`${base}/graphql`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-Session-ID': firstId },
            body: JSON.stringify({ query: '{ session { id attributes } }' }),
          });
          const body = (await response.json()) as { data: { session: { attributes: { user: unknown } } } };
          assertEqualJson(body.data.session.attributes.user, first, 'GraphQL');
        },
      },
      {
        name: 'GraphQL batch', what: 'sessions(ids: [10 ids])', sessionsPerRequest: 10, start: gateway, path: '/graphql', mode: 'batch', linesFile: batchesFile,
        check: async (base) => {
          const response = await fetch(`${base}/graphql`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
            body: JSON.stringify({ query: 'query($ids: [ID!]!) { sessions(ids: $ids) { id attributes } }', variables: { ids: ids.slice(0, 10) } }),
          });
          const body = (await response.json()) as { data: { sessions: Array<{ attributes: { user: unknown } }> } };
          assertEqualJson(body.data.sessions.map((s) => s.attributes.user), users.slice(0, 10), 'GraphQL batch');
        },
      },
      {
        name: 'client', what: 'SessionClient.get, near cache', sessionsPerRequest: 1, start: gateway, path: '/api/v2/session', mode: 'header', linesFile: idsFile,
        driver: 'client',
        check: async (base) => {
          const client = new SessionClient({ url: base, token: TOKEN, cache: false });
          assertEqualJson((await client.get(firstId))?.attributes.user, first, 'client');
          await client.close();
        },
      },
    ];
    const only = process.env.BENCH_ROWS?.split(',').map((name) => name.trim().toLowerCase());
    const rows = only === undefined ? allRows : allRows.filter((row) => only.includes(row.name.toLowerCase()));
    if (rows.length === 0) throw new Error(`BENCH_ROWS names no row; the rows are ${allRows.map((row) => row.name).join(', ')}`);

    const results = new Map<string, Measurement[]>(rows.map((row) => [row.name, []]));
    const ratioRuns: Array<Record<string, number>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? rows : [...rows].reverse();
      const roundResults = new Map<string, Measurement>();
      for (const row of order) {
        const m = await measure(row, redis);
        roundResults.set(row.name, m);
        results.get(row.name)?.push(m);
        console.log(`round ${round + 1}/${ROUNDS} ${row.name.padEnd(14)} ${m.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${m.p50Ms.toFixed(2)} ms  p99 ${m.p99Ms.toFixed(2)} ms  errors ${m.errors}`);
      }
      const rps = (name: string): number => roundResults.get(name)?.requestsPerSecond ?? NaN;
      const p99 = (name: string): number => roundResults.get(name)?.p99Ms ?? NaN;
      ratioRuns.push({
        restFloor: rps('REST') / rps('floor'),
        restPeer: rps('REST') / rps('peer'),
        restP99Floor: p99('REST') / p99('floor'),
        graphqlFloor: rps('GraphQL') / rps('floor'),
        graphqlPeer: rps('GraphQL') / rps('peer'),
        graphqlP99Floor: p99('GraphQL') / p99('floor'),
        batchSessionsOverSingle: (rps('GraphQL batch') * 10) / rps('GraphQL'),
        clientOverRest: rps('client') / rps('REST'),
        clientHitRatio: roundResults.get('client')?.hitRatio ?? NaN,
      });
    }

    // The round-trip, touch, staleness and memory measurements run in the full run (or with BENCH_EXTRAS=1).
    const extras = only === undefined || process.env.BENCH_EXTRAS === '1' ? await extraMeasurements(redisUrl, redis, work, gateway, ids) : undefined;

    const table = rows.map((row) => {
      const runs = results.get(row.name) as Measurement[];
      const rpsMedian = median(runs.map((m) => m.requestsPerSecond));
      const floorRps = median((results.get('floor') ?? []).map((m) => m.requestsPerSecond));
      const peerRps = median((results.get('peer') ?? []).map((m) => m.requestsPerSecond));
      return {
        row: row.name,
        what: row.what,
        requestsPerSecond: Math.round(rpsMedian),
        sessionsPerSecond: Math.round(rpsMedian * row.sessionsPerRequest),
        p50Ms: median(runs.map((m) => m.p50Ms)),
        p99Ms: median(runs.map((m) => m.p99Ms)),
        errors: runs.reduce((sum, m) => sum + m.errors, 0),
        redisCommandsPerRequest: median(runs.map((m) => m.redisCommandsPerRequest)),
        rssMiB: median(runs.map((m) => m.rssMiB)),
        cpuMicrosPerRequest: median(runs.map((m) => m.cpuMicrosPerRequest)),
        xFloor: rpsMedian / floorRps,
        xPeer: rpsMedian / peerRps,
      };
    });
    const ratios = Object.fromEntries(Object.keys(ratioRuns[0] ?? {}).map((key) => [key, median(ratioRuns.map((r) => r[key] as number))]));
    report(table, ratios, extras);

    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    const out = join(ROOT, 'test-results', 'bench.json');
    writeFileSync(out, JSON.stringify({ method: { ROUNDS, SECONDS, WARMUP_SECONDS, CONNECTIONS, SESSIONS }, table, ratios, ratioRuns, extras }, null, 2));
    console.log(`\nwritten: ${out}`);
  } finally {
    redis.disconnect();
    await stop(redisServer);
    rmSync(work, { recursive: true, force: true });
  }
}

interface Extras {
  /** Client cache staleness: from the start of a write through gateway B until client 1 (on A) drops its copy. */
  stalenessTrials: number;
  stalenessP50Ms: number;
  stalenessP99Ms: number;
  stalenessMaxMs: number;
  redisRoundTripsPerBatchOf10: number;
  redisCommandsPerReadWithinTouchInterval: number;
  writesPer1000ReadsWithinTouchInterval: number;
  memoryBytesPerSessionGateway: number;
  memoryBytesPerSessionPeer: number;
}

/** Round trips of a batch read, commands of a read, and Redis memory per session. */
async function extraMeasurements(
  redisUrl: string,
  redis: Redis,
  work: string,
  gateway: (port: number) => ChildProcess,
  ids: string[],
): Promise<Extras> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = gateway(port);
  let roundTrips: number;
  let commandsPerRead: number;
  let writesPer1000: number;
  try {
    await waitForHttp(`${base}/api/v2/session`, child);
    const batch = JSON.stringify({ query: 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', variables: { ids: ids.slice(100, 110) } });
    const post = (): Promise<Response> =>
      fetch(`${base}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, body: batch });
    await (await post()).text();
    // One request at a time: every command the gateway sends is its own round trip here.
    let before = await commandsProcessed(redis);
    for (let i = 0; i < 100; i++) await (await post()).text();
    roundTrips = ((await commandsProcessed(redis)) - before - 1) / 100;

    // A fresh session: 1,000 reads within the touch interval.
    const fresh = await fetch(`${base}/api/v2/session`);
    const id = fresh.headers.get('x-session-id') as string;
    const writes = async (): Promise<number> => {
      const info = await redis.info('commandstats');
      return ['set', 'setrange', 'pexpireat', 'pexpire', 'expire', 'evalsha', 'eval', 'del'].reduce(
        (sum, command) => sum + Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0),
        0,
      );
    };
    const writesBefore = await writes();
    before = await commandsProcessed(redis);
    for (let i = 0; i < 1000; i++) await (await fetch(`${base}/api/v2/session`, { headers: { 'X-Session-ID': id } })).text();
    commandsPerRead = ((await commandsProcessed(redis)) - before - 1) / 1000;
    writesPer1000 = (await writes()) - writesBefore;
  } finally {
    await stop(child);
  }

  const staleness = await measureStaleness(gateway, ids);

  // Memory: the same content, 100,000 sessions, each store's own format, on an empty database.
  const memoryPort = await freePort();
  const memoryServer = pinned(LOAD_CORE, 'redis-server', ['--port', String(memoryPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', work]);
  const memoryUrl = `redis://127.0.0.1:${memoryPort}`;
  const memoryRedis = new Redis(memoryPort, '127.0.0.1', { retryStrategy: (n) => (n > 100 ? null : 50) });
  memoryRedis.on('error', () => undefined);
  try {
    await memoryRedis.ping();
    const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await memoryRedis.info('memory'))?.[1]);
    const memoryIds = Array.from({ length: MEMORY_SESSIONS }, () => generateSessionId());

    const store = new RedisSessionStore({ url: memoryUrl, namespace: 'session', maxAttributeBytes: 65536, touchIntervalSeconds: 60, commandTimeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 200));
    let before = await usedMemory();
    for (let start = 0; start < MEMORY_SESSIONS; start += 1000) {
      await Promise.all(
        memoryIds.slice(start, start + 1000).map((id, offset) =>
          store.create(id, { principal: String(100000 + start + offset), attributes: [['user', JSON.stringify(user(start + offset))]], maxInactiveSeconds: 3600 }),
        ),
      );
    }
    const gatewayBytes = ((await usedMemory()) - before) / MEMORY_SESSIONS;
    await store.close();
    await memoryRedis.flushall();

    const peerClient = createClient({ url: memoryUrl });
    await peerClient.connect();
    const peerStore = new RedisStore({ client: peerClient, prefix: 'sess:' });
    before = await usedMemory();
    for (let start = 0; start < MEMORY_SESSIONS; start += 1000) {
      await Promise.all(
        memoryIds.slice(start, start + 1000).map(
          (id, offset) =>
            new Promise<void>((ok, fail) =>
              peerStore.set(
                id,
                { cookie: { originalMaxAge: 3600_000, expires: new Date(Date.now() + 3600_000), httpOnly: true, path: '/' }, user: user(start + offset) } as never,
                (error?: unknown) => (error ? fail(error) : ok()),
              ),
            ),
        ),
      );
    }
    const peerBytes = ((await usedMemory()) - before) / MEMORY_SESSIONS;
    await peerClient.quit();
    return {
      ...staleness,
      redisRoundTripsPerBatchOf10: roundTrips,
      redisCommandsPerReadWithinTouchInterval: commandsPerRead,
      writesPer1000ReadsWithinTouchInterval: writesPer1000,
      memoryBytesPerSessionGateway: gatewayBytes,
      memoryBytesPerSessionPeer: peerBytes,
    };
  } finally {
    memoryRedis.disconnect();
    await stop(memoryServer);
  }
}

/**
 * How long a client cache serves a session another module changed: client 1 (near cache, on
 * gateway A) holds the session; client 2 updates it through gateway B; the time from the start
 * of that write until client 1 has dropped its copy (the change event applied). Sequential trials.
 */
async function measureStaleness(
  gateway: (port: number) => ChildProcess,
  ids: string[],
): Promise<Pick<Extras, 'stalenessTrials' | 'stalenessP50Ms' | 'stalenessP99Ms' | 'stalenessMaxMs'>> {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = gateway(portA);
  const b = gateway(portB);
  const one = new SessionClient({ url: `http://127.0.0.1:${portA}`, token: TOKEN });
  const two = new SessionClient({ url: `http://127.0.0.1:${portB}`, token: TOKEN, cache: false });
  try {
    await waitForHttp(`http://127.0.0.1:${portA}/api/v2/session`, a);
    await waitForHttp(`http://127.0.0.1:${portB}/api/v2/session`, b);
    for (let attempt = 0; !one.caching; attempt++) {
      if (attempt > 500) throw new Error('client 1 never got its event stream');
      await new Promise((r) => setTimeout(r, 20));
    }
    const samples: number[] = [];
    for (let i = 0; i < STALENESS_TRIALS; i++) {
      const id = ids[i] as string;
      await one.get(id);
      const hits = one.stats.hits;
      await one.get(id);
      if (one.stats.hits !== hits + 1) throw new Error('client 1 did not cache the session');
      const digest = sessionDigest(id);
      const dropped = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no change event within 5 s (trial ${i})`)), 5000);
        const onChange = (event: { digest: string }): void => {
          if (event.digest !== digest) return;
          clearTimeout(timer);
          one.off('change', onChange);
          resolve(performance.now());
        };
        one.on('change', onChange);
      });
      const startedAt = performance.now();
      await two.update(id, { set: { trial: i } });
      samples.push((await dropped) - startedAt);
      if ((await one.get(id))?.version !== 2 + Math.floor(i / SESSIONS)) throw new Error('client 1 still served the old version');
    }
    samples.sort((x, y) => x - y);
    const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number;
    return { stalenessTrials: samples.length, stalenessP50Ms: at(0.5), stalenessP99Ms: at(0.99), stalenessMaxMs: samples.at(-1) as number };
  } finally {
    await one.close();
    await two.close();
    await stop(a);
    await stop(b);
  }
}

function report(table: Array<Record<string, string | number>>, ratios: Record<string, number>, extras: Extras | undefined): void {
  const f = (n: number, digits = 2): string => n.toFixed(digits);
  console.log(`\nmedians of ${ROUNDS} rounds; ${SECONDS} s measured after ${WARMUP_SECONDS} s warm-up; ${CONNECTIONS} connections; server on core ${SERVER_CORE}, wrk + redis-server on core ${LOAD_CORE}\n`);
  console.log('| row | what | req/s | sessions/s | p50 ms | p99 ms | errors | Redis cmds/req | server CPU µs/req | RSS MiB | × floor | × peer |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of table) {
    console.log(
      `| ${r.row} | ${r.what} | ${r.requestsPerSecond} | ${r.sessionsPerSecond} | ${f(r.p50Ms as number)} | ${f(r.p99Ms as number)} | ${r.errors} | ${f(r.redisCommandsPerRequest as number)} | ${f(r.cpuMicrosPerRequest as number, 1)} | ${f(r.rssMiB as number, 0)} | ${f(r.xFloor as number)} | ${f(r.xPeer as number)} |`,
    );
  }
  const total = (name: string): number => Number(table.find((r) => r.row === name)?.errors ?? 0);
  type Target = [string, number, (value: number) => boolean, (value: number) => string];
  const ratio = (value: number): string => f(value);
  const targets: Target[] = [
    ['REST ≥ 0.9 × floor', ratios.restFloor ?? NaN, (v) => v >= 0.9, ratio],
    ['REST ≥ 5 × peer', ratios.restPeer ?? NaN, (v) => v >= 5, ratio],
    ["REST p99 ≤ 1.5 × floor's", ratios.restP99Floor ?? NaN, (v) => v <= 1.5, ratio],
    ['GraphQL ≥ 0.5 × floor', ratios.graphqlFloor ?? NaN, (v) => v >= 0.5, ratio],
    ['GraphQL ≥ 3 × peer', ratios.graphqlPeer ?? NaN, (v) => v >= 3, ratio],
    ["GraphQL p99 ≤ 3 × floor's", ratios.graphqlP99Floor ?? NaN, (v) => v <= 3, ratio],
    ["batch sessions/s ≥ 4 × GraphQL single's", ratios.batchSessionsOverSingle ?? NaN, (v) => v >= 4, ratio],
    ['client reads/s vs REST req/s (no target)', ratios.clientOverRest ?? NaN, () => true, ratio],
    ['client cache hit ratio (no target)', ratios.clientHitRatio ?? NaN, () => true, (v) => f(v, 4)],
    ['0 errors on every row', table.reduce((s, r) => s + Number(r.errors), 0), () => table.every((r) => total(String(r.row)) === 0), String],
  ];
  if (extras !== undefined) {
    const memoryRatio = extras.memoryBytesPerSessionGateway / extras.memoryBytesPerSessionPeer;
    targets.push(
      [`client staleness p99 ≤ 50 ms (${extras.stalenessTrials} trials; p50 ${f(extras.stalenessP50Ms)} ms)`, extras.stalenessP99Ms, (v) => v <= 50, (v) => `${f(v)} ms`],
      ['client staleness max ≤ 200 ms', extras.stalenessMaxMs, (v) => v <= 200, (v) => `${f(v)} ms`],
      ['batch of 10: 1 Redis round trip', extras.redisRoundTripsPerBatchOf10, (v) => v <= 1, ratio],
      ['read within touch interval: 1 Redis command', extras.redisCommandsPerReadWithinTouchInterval, (v) => v <= 1, (v) => f(v, 3)],
      ['1,000 reads within the interval: ≤ 1 write', extras.writesPer1000ReadsWithinTouchInterval, (v) => v <= 1, String],
      [
        "Redis memory/session ≤ 1.2 × connect-redis's",
        memoryRatio,
        (v) => v <= 1.2,
        (v) => `${f(extras.memoryBytesPerSessionGateway, 0)} B vs ${f(extras.memoryBytesPerSessionPeer, 0)} B = ${f(v)}`,
      ],
    );
  }
  console.log('\n| target | measured | met |\n|---|---:|---|');
  for (const [name, value, met, show] of targets) {
    if (Number.isNaN(value)) continue; // its rows did not run (BENCH_ROWS)
    console.log(`| ${name} | ${show(value)} | ${met(value) ? 'yes' : 'NO'} |`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  },
);
