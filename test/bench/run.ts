/**
 * `npm run bench`: the gateway against its peers, in one run, on the same Redis and the same data.
 *
 * Rows: ceiling (bare node:http, constant JSON), floor (node:http + one ioredis GET), peer
 * (express + express-session + connect-redis, signed cookie), and the gateway's REST shim,
 * GraphQL own-session query and GraphQL batches of 10 and of 100. The gateway's rows run again on
 * a local Redis Cluster ("cluster REST", "cluster GraphQL", "cluster GraphQL batch", "cluster
 * GraphQL batch 100": 3 primaries, no replicas, `local-cluster.ts`), seeded with the same
 * sessions. "REST cached" and "GraphQL cached" are the REST and GraphQL rows with the gateway's
 * own cache on (SESSION_CACHE=on, room for every seeded session: primed, then every read a hit); "REST
 * cached zipf" reads 100,000 seeded sessions with Zipf's law (s = 1), the cache capped at 10,000
 * entries, and reports its hit ratio (from the gateway's metrics) beside its req/s. Two rows of acknowledged writes ("issue", "issue ack 0": `issueSession` on a
 * redis-server of their own with one replica, both on the load core, by default (every replica
 * must confirm each write, store/replica-acks.ts) and with REDIS_ACK_REPLICAS=0) show what the
 * default costs a write; they issue a new session per request (no principal) and are checked by
 * the answer's shape only. Every server runs the same way: plain `node` on compiled JavaScript (the gateway from
 * `dist/`, the others compiled here with esbuild into the run's temp dir) with
 * NODE_ENV=production. The server under test runs alone on core 0; the load and redis-server (or
 * the Cluster's nodes) share core 1. Every request reads a different one of 10,000 seeded
 * sessions (a batch: different ones each).
 *
 * 1. Saturated: each row under wrk, 50 connections as fast as it answers, 2 s warm-up and 10 s
 *    measured. The table runs 5 times, alternating the row order; the figures printed are
 *    medians (ratios are medians of the per-round ratios).
 * 2. Fixed load: latency where every row carries the same offered load, from `pace.c` (open loop,
 *    constant rate; latency counted from the time each request was due): by default 50 % of the
 *    slowest row's saturated throughput (every row), and 50 % of the floor's (the rows for which
 *    that is at most 80 % of their own). 2 passes in opposite row orders, 10 s each, pooled.
 * 3. Answers are checked throughout, warm-ups included: a REST answer for an unknown ID is a 200
 *    with a new session, so a wrong answer would pass for a success. Every row counts the answers
 *    that are not the session asked for (its ID, its user; see rotate.lua and pace.c), must be 0.
 *    First, a control shows that the checks can fail: REST with IDs nobody seeded must have every
 *    answer counted as mismatched, by wrk's check and by pace's.
 * 4. The client row: reads through the client library with its near cache (`client-load.ts`, in
 *    one process on the load core, instead of wrk). These are in-process cache reads, not
 *    requests over the network: they get their own table, not ratios against the servers.
 * 5. Round trips per request of every gateway row that ran, one request at a time: the read
 *    events the Redis nodes count (summed over a Cluster's nodes), on sessions issued just before.
 * 6. The full run also measures Redis commands per read and per batch, writes within the touch
 *    interval, Redis memory per session, how stale a client cache can be (1,000 trials of
 *    "client 2 updates a session through gateway B; how long until client 1, on gateway A, stops
 *    serving the old version"), and what the change feed's announce (classic PUBLISH) costs the
 *    local Cluster per update against SPUBLISH and no announce (`announce-cost.ts`).
 *
 * "Redis commands/req" is what Redis counts (INFO total_commands_processed) over a row's measured
 * run, divided by its requests: commands, not round trips (auto-pipelining may send several
 * commands in one round trip). "Redis reads/req" is its read events (total_reads_processed) the
 * same way: at saturation one read may carry several requests' commands. Both are summed over a
 * Cluster's nodes.
 *
 * Environment overrides for quick looks (the defaults are the published method):
 * BENCH_ROUNDS, BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS, and BENCH_ROWS
 * (comma-separated row names, e.g. `floor,REST,cluster REST`; the targets then print only where
 * their rows ran, the Cluster is started only for its rows or the extras, and the extra
 * measurements are skipped unless BENCH_EXTRAS=1). BENCH_ANNOUNCE_UPDATES: updates per variant
 * and round of the announce's cost (20,000). Fixed load: BENCH_FIXED=0 skips it, BENCH_FIXED_RPS
 * (comma-separated req/s) replaces the default loads (chosen from the rows that were there before
 * the Cluster rows and the batch of 100: those run at them where they carry them),
 * BENCH_FIXED_FRACTION (0.5), BENCH_FIXED_PASSES (2), BENCH_FIXED_SECONDS (BENCH_SECONDS).
 *
 * Tracing: "REST traced 10%", "REST traced 100%", "GraphQL traced 10%" and "GraphQL traced 100%"
 * are the REST and GraphQL rows with tracing on (OTEL_EXPORTER_OTLP_ENDPOINT at an OTLP/HTTP sink
 * the bench runs on the load core, `servers/otlp-sink.ts`; 10 % of requests sampled, or all),
 * with the spans the sink received per request. BENCH_BASELINE=<dir> adds "REST baseline" and
 * "GraphQL baseline": the same rows on the build in <dir>/dist (e.g. the main branch, compiled),
 * so that what a change costs is measured within one run.
 *
 * Besides req/s, each row reports the server's CPU time per request (user + system, from
 * /proc/<pid>/stat over the measured run): on a shared VM whose throughput wanders between
 * rounds, this is the steadier figure of what one request costs the server.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RedisStore } from 'connect-redis';
import { sign } from 'cookie-signature';
import { build } from 'esbuild';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { SessionClient } from '../../src/client';
import { loadConfig, type RedisConfig } from '../../src/config';
import { generateSessionId, sessionDigest } from '../../src/session/ids';
import { seedSession } from '../support/sessions';
import { redisConnection, singleNode } from '../../src/store/connect';
import { RedisSessionStore } from '../../src/store/redis';
import type { SessionRecord } from '../../src/session/model';
import { SessionTokens } from '../../src/tokens/session-tokens';
import { SessionTokenVerifier } from '../../src/tokens/verifier';
import { measureAnnounceCost, type AnnounceCost } from './announce-cost';
import { startLocalCluster, type LocalCluster } from './local-cluster';
import { RedisCounters, type RedisCounts } from './redis-counters';

const ROOT = resolve(__dirname, '..', '..');
const BENCH = __dirname;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const FIXED = process.env.BENCH_FIXED !== '0';
const FIXED_RPS = process.env.BENCH_FIXED_RPS?.split(',').map((value) => Number(value.trim()));
const FIXED_FRACTION = Number(process.env.BENCH_FIXED_FRACTION ?? 0.5);
const FIXED_PASSES = Number(process.env.BENCH_FIXED_PASSES ?? 2);
const FIXED_SECONDS = Number(process.env.BENCH_FIXED_SECONDS ?? SECONDS);
/** A row runs at a fixed load only when the load is at most this share of its saturated req/s. */
const FIXED_HEADROOM = 0.8;
const SESSIONS = 10_000;
const STALENESS_TRIALS = 1000;
const MEMORY_SESSIONS = 100_000;
/** The Zipf row: its name, the sessions it reads, and the requests of its lines file (drawn once, read in turn). */
const ZIPF_ROW = 'REST cached zipf';
const ZIPF_SESSIONS = 100_000;
const ZIPF_LINES = 200_000;
/** Requests a cached row sends once each before its warm-up (primeCache). */
const PRIME_LINES = 30_000;
const TOKEN = 'bench-service-token-0123456789';
const PEER_SECRET = 'bench-peer-secret';
const SERVER_CORE = '0';
const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const LOAD_CORE = '1';
/** The Cluster rows' names begin with it (`cluster REST`, …): BENCH_ROWS selects them by name too. */
const CLUSTER_PREFIX = 'cluster ';
/** The announce's cost on Cluster: updates per variant and round, rounds, updates in flight. */
const ANNOUNCE_COST = { updates: Number(process.env.BENCH_ANNOUNCE_UPDATES ?? 20_000), rounds: 3, concurrency: 32 };
/** The acknowledged-write rows' names begin with it (`issue`, `issue ack 0`). */
const ISSUE_PREFIX = 'issue';
/** What an issue row sends: a new anonymous session per request. */
const ISSUE_QUERY = 'mutation { issueSession { id } }';
/** BENCH_BASELINE: another build's directory (its dist/main.js) for the `REST baseline` and `GraphQL baseline` rows. */
const BASELINE = process.env.BENCH_BASELINE;
/** The traced rows' names hold it (`REST traced 10%`, `GraphQL traced 100%`, …). */
const TRACED = ' traced ';

/** Round trips per request: fresh sessions issued, requests per count, counts (the fewest is kept). */
const ROUND_TRIP_SESSIONS = 200;
const ROUND_TRIP_ATTEMPTS = 3;

/** How an answer is checked: see rotate.lua (saturated) and `paceRecord` (fixed load). */
type Check = 'ok' | 'user' | 'rest' | 'graphql' | 'batch' | 'issued' | 'token' | 'introspected';

/**
 * The session-token rows' gateway: tokens live an hour (the bench signs the introspection row's
 * tokens itself, with the gateway's own key set in Redis, before the rows run).
 */
const TOKEN_ENV = { SESSION_TOKEN_TTL: '3600' };

interface Measurement {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Answers checked (warm-up included), and those that were not the session asked for. */
  checked: number;
  mismatches: number;
  redisCommandsPerRequest: number;
  /** Read events the Redis nodes counted, summed over them, per request (see redis-counters.ts). */
  redisReadsPerRequest: number;
  rssMiB: number;
  cpuMicrosPerRequest: number;
  /** Client row only: share of reads answered from the near cache. */
  hitRatio?: number;
  /** Traced rows only: spans the OTLP sink received during the measured run, per request. */
  spansPerRequest?: number;
  /** Client verify row only: first checks of tokens (signature and claims, nothing remembered) per second. */
  signatureChecksPerSecond?: number;
}

interface Row {
  readonly name: string;
  readonly what: string;
  /** Sessions read per request (10 or 100 for a batch: the batch's size). */
  readonly sessionsPerRequest: number;
  /** What the server reads from: the bench's redis-server, its local Cluster, or the primary with a replica (the issue rows). */
  readonly redis: 'single' | 'cluster' | 'replicated';
  /** A row of the gateway's: its round trips per request are counted too. */
  readonly gateway?: true;
  /**
   * false: the default fixed loads are not chosen from this row's throughput (the Cluster rows,
   * the batch of 100: they were added later, and they run at those loads where they carry them).
   */
  readonly setsFixedLoad?: false;
  start(port: number): ChildProcess;
  readonly path: string;
  readonly mode: 'constant' | 'header' | 'cookie' | 'graphql' | 'batch' | 'issue' | 'token' | 'introspect';
  readonly answers: Check;
  /**
   * What sends the load: wrk (default), the client library (`client-load.ts`), or the client
   * library's token checks in the bench's own process (`measureVerify`).
   */
  readonly driver?: 'client' | 'verify';
  /** false: not run at the fixed loads (the session-token rows: their requests are not pace's). */
  readonly fixedLoad?: false;
  /** The gateway's own cache is on: its hit ratio over the measured run is read from /metrics. */
  readonly cacheHitRatio?: true;
  /** A traced row: its gateway exports its spans to the bench's OTLP sink, whose count is read. */
  readonly traced?: { readonly sink: string };
  readonly linesFile: string;
  /** One request answered right, before the load starts. */
  check(base: string): Promise<void>;
}

/** Where the run keeps its files and compiled helpers. */
interface Work {
  readonly dir: string;
  /** esbuild's output: servers/*.js and client-load.js. */
  readonly js: string;
  /** The compiled `pace.c`. */
  readonly pace: string;
  /** The seeded session IDs, in order; session n's user has id 100000 + n. */
  readonly ids: readonly string[];
  /** The first SESSIONS of them, one per line: what most rows read. */
  readonly idsFile: string;
  /** All of them, one per line (the Zipf row reads 100,000): how an answer is matched to its session. */
  readonly indexFile: string;
}

/** `count` draws from `ids` with Zipf's law, s = 1: the k-th (from 1) is drawn with probability ∝ 1/k. */
function zipfLines(ids: readonly string[], count: number): string[] {
  const cumulative = new Float64Array(ids.length);
  let sum = 0;
  for (let k = 0; k < ids.length; k++) cumulative[k] = sum += 1 / (k + 1);
  return Array.from({ length: count }, () => {
    const target = Math.random() * sum;
    let low = 0;
    let high = ids.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((cumulative[middle] as number) < target) low = middle + 1;
      else high = middle;
    }
    return ids[low] as string;
  });
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

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

function requireTool(command: string, hint: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${command} is needed for the benchmark: ${hint}`);
  }
}

/** A loopback port nobody listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
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

function resultLine(output: string, what: string): Record<string, number> {
  const line = output.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (line === undefined) throw new Error(`${what} printed no result:\n${output}`);
  return JSON.parse(line.slice('BENCH_RESULT '.length)) as Record<string, number>;
}

interface WrkResult {
  requests: number;
  durationUs: number;
  errors: number;
  p50Us: number;
  p99Us: number;
  checked: number;
  mismatches: number;
}

function wrk(url: string, row: Row, work: Work, seconds: number, connections = CONNECTIONS): WrkResult {
  const output = execFileSync(
    'taskset',
    ['-c', LOAD_CORE, 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', join(BENCH, 'rotate.lua'), url],
    {
      env: {
        ...process.env,
        BENCH_MODE: row.mode,
        BENCH_CHECK: row.answers,
        BENCH_BATCH: String(row.sessionsPerRequest),
        BENCH_IDS: row.linesFile,
        BENCH_SESSION_IDS: work.indexFile,
        BENCH_TOKEN: TOKEN,
      },
      encoding: 'utf8',
    },
  );
  const r = resultLine(output, 'wrk');
  const errors = (r.connectErrors ?? 0) + (r.readErrors ?? 0) + (r.writeErrors ?? 0) + (r.statusErrors ?? 0) + (r.timeouts ?? 0);
  return {
    requests: r.requests as number,
    durationUs: r.durationUs as number,
    errors,
    p50Us: r.p50Us as number,
    p99Us: r.p99Us as number,
    checked: r.checked as number,
    mismatches: r.mismatches as number,
  };
}

/** Starts the row's server on a free port, checks one answer, runs `body`, and stops the server. */
async function withServer<T>(row: Row, body: (base: string, pid: number, port: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = row.start(port);
  try {
    await waitForHttp(`${base}${row.path}`, child);
    await row.check(base);
    return await body(base, child.pid as number, port);
  } finally {
    await stop(child);
  }
}

async function measure(row: Row, redis: RedisCounters, work: Work): Promise<Measurement> {
  return withServer(row, async (base, pid) => {
    if (row.driver === 'client') return measureClient(base, row, redis, pid, work);
    if (row.driver === 'verify') return measureVerify(base, row, pid);
    if (row.cacheHitRatio) await primeCache(base, row);
    const warm = wrk(`${base}${row.path}`, row, work, WARMUP_SECONDS);
    const before = await redis.counts();
    const cacheBefore = row.cacheHitRatio ? await cacheCounts(base) : undefined;
    const spansBefore = row.traced === undefined ? 0 : await sinkSpans(row.traced.sink);
    const cpuBefore = cpuMicros(pid);
    const result = wrk(`${base}${row.path}`, row, work, SECONDS);
    const cpuAfter = cpuMicros(pid);
    const counted = redis.between(before, await redis.counts());
    const cacheAfter = cacheBefore === undefined ? undefined : await cacheCounts(base);
    const spans = row.traced === undefined ? undefined : (await sinkSpans(row.traced.sink)) - spansBefore;
    return {
      ...(cacheBefore === undefined || cacheAfter === undefined
        ? {}
        : { hitRatio: (cacheAfter.hits - cacheBefore.hits) / (cacheAfter.hits - cacheBefore.hits + cacheAfter.misses - cacheBefore.misses) }),
      requestsPerSecond: result.requests / (result.durationUs / 1e6),
      p50Ms: result.p50Us / 1000,
      p99Ms: result.p99Us / 1000,
      errors: warm.errors + result.errors,
      checked: warm.checked + result.checked,
      mismatches: warm.mismatches + result.mismatches,
      redisCommandsPerRequest: counted.commands / result.requests,
      redisReadsPerRequest: counted.reads / result.requests,
      rssMiB: rssMiB(pid),
      cpuMicrosPerRequest: (cpuAfter - cpuBefore) / result.requests,
      ...(spans === undefined ? {} : { spansPerRequest: spans / result.requests }),
    };
  });
}

/**
 * Fills the gateway's cache before the warm-up: the first PRIME_LINES requests of the row's lines
 * file, once each, 50 at a time (a miss costs a whole-session read and is slower than a hit, so
 * the 2 s warm-up alone would leave misses for the measured run).
 */
async function primeCache(base: string, row: Row): Promise<void> {
  const lines = readFileSync(row.linesFile, 'utf8').split('\n').filter((line) => line !== '').slice(0, PRIME_LINES);
  let next = 0;
  const read = (id: string): Promise<Response> =>
    row.mode === 'graphql'
      ? fetch(`${base}${row.path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Session-ID': id }, body: '{"query":"{ session { id attributes } }"}' })
      : fetch(`${base}${row.path}`, { headers: { 'X-Session-ID': id } });
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < lines.length) await (await read(lines[next++] as string)).arrayBuffer();
    }),
  );
}

/** The gateway's cache hits and misses so far, from its /metrics. */
async function cacheCounts(base: string): Promise<{ hits: number; misses: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const sample = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { hits: sample('gateway_session_cache_hits_total'), misses: sample('gateway_session_cache_misses_total') };
}

/** How many spans the OTLP sink has received so far. */
async function sinkSpans(sink: string): Promise<number> {
  const response = await fetch(`${sink}/spans`);
  return ((await response.json()) as { spans: number }).spans;
}

interface RoundTrips {
  row: string;
  /** Redis nodes the row's gateway reads from. */
  nodes: number;
  sessionsPerRequest: number;
  /** Read events per request, summed over the nodes: one request at a time, its round trips. */
  roundTripsPerRequest: number;
  commandsPerRequest: number;
}

/**
 * What one request costs in round trips and commands, counted by the Redis nodes with one
 * request at a time (at saturation a node's read may carry several requests' commands). The
 * sessions are issued through the row's gateway just before, so every read is within the touch
 * interval and writes nothing; they are spread over the slots like any. Of a few counts, the
 * fewest is kept: a count can catch a stray read (the Cluster client's slot-map refresh).
 */
async function measureRoundTrips(row: Row, counters: RedisCounters): Promise<RoundTrips> {
  return withServer(row, async (base) => {
    const post = async (body: object, headers: Record<string, string>): Promise<string> => {
      const response = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
      const text = await response.text();
      if (response.status !== 200 || text.includes('"errors"')) throw new Error(`${row.name}: ${response.status} ${text.slice(0, 300)}`);
      return text;
    };
    const service = { Authorization: `Bearer ${TOKEN}` };
    const fresh: string[] = [];
    for (let i = 0; i < ROUND_TRIP_SESSIONS; i++) {
      // One principal each: a principal's sessions share one slot, and these are to spread over the slots.
      const issued = JSON.parse(await post({ query: 'mutation($p: String) { issueSession(input: { principal: $p }) { id } }', variables: { p: `round-trips-${i}` } }, service)) as { data: { issueSession: { id: string } } };
      fresh.push(issued.data.issueSession.id);
    }
    const size = row.sessionsPerRequest;
    const request = async (k: number): Promise<void> => {
      const id = fresh[k % fresh.length] as string;
      if (row.mode === 'header') {
        const response = await fetch(`${base}${row.path}`, { headers: { 'X-Session-ID': id } });
        await response.text();
        if (response.status !== 200 || response.headers.get('x-session-id') !== id) throw new Error(`${row.name}: no answer for a fresh session`);
      } else if (row.mode === 'graphql') {
        await post({ query: '{ session { id attributes } }' }, { 'X-Session-ID': id });
      } else {
        const start = (k * size) % (fresh.length - size + 1);
        await post({ query: 'query($ids: [ID!]!) { sessions(ids: $ids) { id attributes } }', variables: { ids: fresh.slice(start, start + size) } }, service);
      }
    };
    for (let k = 0; k < 10; k++) await request(k); // every node's connection open and ready
    const requests = size === 1 ? 100 : 20;
    let best: RedisCounts = { commands: Infinity, reads: Infinity };
    for (let attempt = 0; attempt < ROUND_TRIP_ATTEMPTS; attempt++) {
      const before = await counters.counts();
      for (let k = 0; k < requests; k++) await request(k);
      const counted = counters.between(before, await counters.counts());
      if (counted.reads < best.reads) best = counted;
    }
    return {
      row: row.name,
      nodes: counters.nodeCount,
      sessionsPerRequest: size,
      roundTripsPerRequest: best.reads / requests,
      commandsPerRequest: best.commands / requests,
    };
  });
}

/** The client row: `client-load.ts` (compiled) on the load core, its own warm-up included. */
/**
 * The client verify row: SessionClient.verifyToken in this process, CONNECTIONS concurrent
 * callers over the tokens of the lines file. The warm-up checks each token once (its signature,
 * and its session vouched for by one introspection); the measured run is what a module does on
 * every request it serves: local checks only (a token the client has seen, a session it heard
 * nothing against). Then the first-check rate: a verifier that remembers nothing, against the
 * JWKS as fetched, checks every token's signature and claims.
 */
async function measureVerify(base: string, row: Row, serverPid: number): Promise<Measurement> {
  const tokens = readFileSync(row.linesFile, 'utf8').split('\n').filter((line) => line !== '');
  const client = new SessionClient({ url: base, token: TOKEN });
  const cpuBefore = cpuMicros(serverPid);
  let checked = 0;
  let mismatches = 0;
  try {
    for (let wait = 0; !client.caching; wait++) {
      if (wait > 100) throw new Error('client verify: the event stream did not come up');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (let start = 0; start < tokens.length; start += 200) {
      const verdicts = await Promise.all(tokens.slice(start, start + 200).map((token) => client.verifyToken(token)));
      checked += verdicts.length;
      mismatches += verdicts.filter((verdict) => verdict === null).length;
    }
    const requestsBefore = client.stats.requests + client.stats.introspections;
    let checks = 0;
    const latencies: number[] = [];
    const startedAt = performance.now();
    const endAt = startedAt + SECONDS * 1000;
    const caller = async (k: number): Promise<void> => {
      let i = k * 97;
      while (performance.now() < endAt) {
        const begun = performance.now();
        for (let j = 0; j < 64; j++) {
          if ((await client.verifyToken(tokens[i++ % tokens.length] as string)) === null) mismatches++;
        }
        latencies.push((performance.now() - begun) / 64);
        checks += 64;
        await new Promise((resolve) => setImmediate(resolve)); // let the event stream in
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, k) => caller(k)));
    const durationMs = performance.now() - startedAt;
    checked += checks;
    if (client.stats.requests + client.stats.introspections !== requestsBefore) throw new Error('client verify: a local check asked the gateway');
    // First checks: every signature verified, nothing remembered.
    const jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const fresh = new SessionTokenVerifier(createLocalJWKSet(jwks), { issuer: 'session-gateway', audience: 'session-gateway', maxRemembered: 0 });
    let firstChecks = 0;
    const firstStarted = performance.now();
    while (performance.now() - firstStarted < Math.max(1000, (SECONDS * 1000) / 2)) {
      const verdicts = await Promise.all(tokens.slice(firstChecks % tokens.length, (firstChecks % tokens.length) + 100).map((token) => fresh.verify(token)));
      mismatches += verdicts.filter((verdict) => verdict === null).length;
      firstChecks += verdicts.length;
    }
    const firstPerSecond = firstChecks / ((performance.now() - firstStarted) / 1000);
    latencies.sort((x, y) => x - y);
    return {
      requestsPerSecond: checks / (durationMs / 1000),
      p50Ms: latencies[Math.floor(latencies.length / 2)] ?? NaN,
      p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
      errors: 0,
      checked,
      mismatches,
      redisCommandsPerRequest: 0,
      redisReadsPerRequest: 0,
      rssMiB: process.memoryUsage().rss / 1024 / 1024,
      cpuMicrosPerRequest: (cpuMicros(serverPid) - cpuBefore) / Math.max(1, checks),
      signatureChecksPerSecond: firstPerSecond,
    };
  } finally {
    await client.close();
  }
}

async function measureClient(base: string, row: Row, redis: RedisCounters, serverPid: number, work: Work): Promise<Measurement> {
  const before = await redis.counts();
  const cpuBefore = cpuMicros(serverPid);
  const output = execFileSync('taskset', ['-c', LOAD_CORE, process.execPath, join(work.js, 'client-load.js')], {
    env: {
      ...process.env,
      ...compiledEnv(),
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
  const counted = redis.between(before, await redis.counts());
  const r = resultLine(output, 'client-load');
  const reads = r.reads as number;
  return {
    requestsPerSecond: reads / ((r.durationUs as number) / 1e6),
    p50Ms: (r.p50Us as number) / 1000,
    p99Ms: (r.p99Us as number) / 1000,
    errors: r.errors as number,
    checked: r.checked as number,
    mismatches: r.mismatches as number,
    // Warm-up included (client-load runs both): an upper bound, and still close to 0.
    redisCommandsPerRequest: counted.commands / reads,
    redisReadsPerRequest: counted.reads / reads,
    rssMiB: rssMiB(serverPid),
    cpuMicrosPerRequest: (cpuAfter - cpuBefore) / reads,
    hitRatio: (r.hits as number) / reads,
  };
}

/** The environment of the compiled bench programs: the gateway's, and the repo's node_modules. */
function compiledEnv(): Record<string, string> {
  return { NODE_ENV: 'production', NODE_PATH: join(ROOT, 'node_modules') };
}

/**
 * Compiles the floor, ceiling and peer servers and the client load to CommonJS in the run's temp
 * dir (packages stay external, loaded from node_modules as the gateway loads them), and pace.c.
 */
async function compileHelpers(dir: string): Promise<{ js: string; pace: string }> {
  const js = join(dir, 'js');
  await build({
    entryPoints: [...['ceiling', 'floor', 'peer', 'otlp-sink'].map((name) => join(BENCH, 'servers', `${name}.ts`)), join(BENCH, 'client-load.ts')],
    outdir: js,
    outbase: BENCH,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  const pace = join(dir, 'pace');
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', pace, join(BENCH, 'pace.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`could not compile pace.c (apt-get install -y gcc libc6-dev):\n${cc.stderr}`);
  return { js, pace };
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
  requireTool('cc', 'apt-get install -y gcc libc6-dev (it compiles test/bench/pace.c, the fixed-load generator)');
  if (cpus().length < 2) throw new Error('the benchmark pins the server and the load to different cores: it needs 2 cores');

  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const redisPort = await freePort();
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const redisServer = pinned(LOAD_CORE, 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
  const redis = new Redis(redisPort, '127.0.0.1', { retryStrategy: (n) => (n > 100 ? null : 50) });
  redis.on('error', () => undefined); // refused until redis-server is up; the ping below waits
  await redis.ping();
  const only = process.env.BENCH_ROWS?.split(',').map((name) => name.trim().toLowerCase());
  const extrasRun = only === undefined || process.env.BENCH_EXTRAS === '1';
  // The local Cluster, for its rows and for the announce's cost (an extra measurement).
  const clusterRowsRun = only === undefined || only.some((name) => name.startsWith(CLUSTER_PREFIX));
  let cluster: LocalCluster | undefined;
  // The acknowledged-write rows' primary and its replica, started only for those rows.
  const issueRowsRun = only === undefined || only.some((name) => name.startsWith(ISSUE_PREFIX));
  let replicated: { primary: ChildProcess; replica: ChildProcess; url: string; redis: Redis } | undefined;
  // The OTLP sink the traced rows export to, started only for those rows.
  const tracedRowsRun = only === undefined || only.some((name) => name.includes(TRACED));
  let sink: { child: ChildProcess; url: string } | undefined;

  try {
    if (issueRowsRun) {
      replicated = await startReplicatedPair(dir);
      console.log(`acknowledged writes: a primary (${replicated.url}) with one replica, on core ${LOAD_CORE}`);
    }
    if (clusterRowsRun || extrasRun) {
      cluster = await startLocalCluster(LOAD_CORE);
      console.log(`local Redis Cluster: 3 primaries (${cluster.seeds}), no replicas, on core ${LOAD_CORE}`);
    }
    const helpers = await compileHelpers(dir);
    if (tracedRowsRun) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const child = pinned(LOAD_CORE, process.execPath, [join(helpers.js, 'servers', 'otlp-sink.js')], { ...compiledEnv(), PORT: String(port) });
      sink = { child, url };
      await waitForHttp(`${url}/spans`, child);
      console.log(`traced rows: an OTLP/HTTP sink (${url}) on core ${LOAD_CORE}`);
    }
    console.log(`seeding ${SESSIONS} sessions for each of the gateway${clusterRowsRun ? ' (on the redis-server and on the Cluster)' : ''}, the floor and the peer …`);
    // The Zipf row reads 100,000 sessions: the ones past the first SESSIONS are seeded for the gateway only.
    const zipfRun = only === undefined || only.includes(ZIPF_ROW.toLowerCase());
    const seededIds = Array.from({ length: zipfRun ? ZIPF_SESSIONS : SESSIONS }, () => generateSessionId());
    const ids = seededIds.slice(0, SESSIONS);
    const users = seededIds.map((_, i) => user(i));
    const store = seedingStore(singleNode(redisUrl));
    // The same sessions on the Cluster, through the gateway's own store on a Cluster connection.
    const clusterStore = clusterRowsRun && cluster !== undefined ? seedingStore(clusterRedis(cluster.seeds)) : undefined;
    for (const seeding of [store, clusterStore]) {
      await seeding?.ping().catch(async () => {
        await new Promise((r) => setTimeout(r, 500));
        await seeding.ping();
      });
    }
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
          const session = { principal: String(users[i]?.id), attributes: [['user', json]] as Array<[string, string]>, maxInactiveSeconds: 3600 };
          await seedSession(store, sessionDigest(id), session);
          if (clusterStore !== undefined) await seedSession(clusterStore, sessionDigest(id), session);
          await redis.set(`floor:${id}`, json);
          await peerSet(id, { cookie: { originalMaxAge: 3600_000, expires: new Date(Date.now() + 3600_000), httpOnly: true, path: '/' }, user: users[i] });
        }),
      );
    }
    for (let start = SESSIONS; start < seededIds.length; start += 1000) {
      await Promise.all(
        seededIds.slice(start, start + 1000).map((id, offset) =>
          seedSession(store, sessionDigest(id), { principal: String(users[start + offset]?.id), attributes: [['user', JSON.stringify(users[start + offset])]], maxInactiveSeconds: 3600 }),
        ),
      );
    }
    // The introspection row's tokens, one per seeded session, signed as the gateway signs them:
    // with the key set in Redis (made here, and read by the gateway), for an hour (TOKEN_ENV).
    const tokensFile = join(dir, 'tokens.txt');
    {
      const signer = new SessionTokens(store, { ttlSeconds: 3600, keyRotationSeconds: 30 * 24 * 3600, algorithm: 'ES256', issuer: 'session-gateway', audiences: ['session-gateway'], claims: [], now: () => store.now() });
      const expiresAtMs = store.now() + 3600_000;
      const tokens: string[] = [];
      for (const [i, id] of ids.entries()) {
        const record = { digest: sessionDigest(id), principal: String(users[i]?.id), attributes: new Map(), expiresAtMs } as unknown as SessionRecord;
        tokens.push((await signer.sign(record, 'session-gateway')).token);
      }
      writeFileSync(tokensFile, `${tokens.join('\n')}\n`);
    }
    await store.close();
    await clusterStore?.close();
    await peerClient.quit();
    // Creation gives every session a fresh lastAccessedAt: reads during the run are within the
    // touch interval for the first minute and touch once per session after that, as in production.

    const idsFile = join(dir, 'ids.txt');
    const cookiesFile = join(dir, 'cookies.txt');
    writeFileSync(idsFile, `${ids.join('\n')}\n`);
    const indexFile = join(dir, 'seeded-ids.txt');
    writeFileSync(indexFile, `${seededIds.join('\n')}\n`);
    const zipfFile = join(dir, 'zipf.txt');
    if (zipfRun) writeFileSync(zipfFile, `${zipfLines(seededIds, ZIPF_LINES).join('\n')}\n`);
    writeFileSync(cookiesFile, `${ids.map((id) => `connect.sid=${encodeURIComponent(`s:${sign(id, PEER_SECRET)}`)}`).join('\n')}\n`);
    /** Line n: the IDs of sessions n·size … n·size + size − 1, quoted, comma-separated. */
    const batchesFile = (size: number): string => {
      const file = join(dir, `batches-${size}.txt`);
      const batches: string[] = [];
      for (let i = 0; i + size <= SESSIONS; i += size) batches.push(ids.slice(i, i + size).map((id) => `"${id}"`).join(','));
      writeFileSync(file, `${batches.join('\n')}\n`);
      return file;
    };
    writeFileSync(join(dir, 'constant.txt'), 'x\n');
    const work: Work = { dir, ...helpers, ids: seededIds, idsFile, indexFile };

    const gatewayOn = (on: Row['redis'], env: Record<string, string> = {}, build = join(ROOT, 'dist')) => (port: number): ChildProcess =>
      pinned(SERVER_CORE, process.execPath, [join(build, 'main.js')], {
        PORT: String(port),
        HOST: '127.0.0.1',
        ...(on === 'single' ? { REDIS_URL: redisUrl } : on === 'replicated' ? { REDIS_URL: (replicated as { url: string }).url } : { REDIS_CLUSTER_NODES: (cluster as LocalCluster).seeds }),
        SERVICE_TOKENS: TOKEN,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        ...env,
      });
    const gateway = gatewayOn('single');
    // The others as the gateway runs: plain node, compiled JavaScript, NODE_ENV=production.
    const server = (name: string) => (port: number): ChildProcess =>
      pinned(SERVER_CORE, process.execPath, [join(work.js, 'servers', `${name}.js`)], { ...compiledEnv(), PORT: String(port), REDIS_URL: redisUrl, PEER_SECRET });
    const first = users[0];
    const firstId = ids[0] as string;

    /** The gateway's rows, on the redis-server or on the Cluster: the same requests, the same checks. */
    const gatewayRows = (on: Row['redis']): Row[] => {
      const prefix = on === 'cluster' ? CLUSTER_PREFIX : '';
      const start = gatewayOn(on);
      const onCluster = on === 'cluster' ? { setsFixedLoad: false as const } : {};
      const batch = (size: number): Row => ({
        name: `${prefix}GraphQL batch${size === 10 ? '' : ` ${size}`}`, what: `sessions(ids: [${size} ids])`, sessionsPerRequest: size, redis: on, gateway: true,
        ...(on === 'cluster' || size !== 10 ? { setsFixedLoad: false as const } : {}),
        start, path: '/graphql', mode: 'batch', answers: 'batch',
        linesFile: batchesFile(size),
        check: async (base) => {
          const response = await fetch(`${base}/graphql`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
            body: JSON.stringify({ query: 'query($ids: [ID!]!) { sessions(ids: $ids) { id attributes } }', variables: { ids: ids.slice(0, size) } }),
          });
          const body = (await response.json()) as { data: { sessions: Array<{ attributes: { user: unknown } }> } };
          assertEqualJson(body.data.sessions.map((s) => s.attributes.user), users.slice(0, size), `${prefix}GraphQL batch of ${size}`);
        },
      });
      return [
        {
          name: `${prefix}REST`, what: 'GET /api/v2/session', sessionsPerRequest: 1, redis: on, gateway: true, ...onCluster, start, path: '/api/v2/session', mode: 'header', answers: 'rest', linesFile: idsFile,
          check: async (base) => {
            const response = await fetch(`${base}/api/v2/session`, { headers: { 'X-Session-ID': firstId } });
            assertEqualJson(await response.json(), first, `${prefix}REST`);
            if (response.headers.get('x-session-id') !== firstId) throw new Error('REST did not echo the session ID');
          },
        },
        {
          name: `${prefix}GraphQL`, what: 'query { session { id attributes } }', sessionsPerRequest: 1, redis: on, gateway: true, ...onCluster, start, path: '/graphql', mode: 'graphql', answers: 'graphql', linesFile: idsFile,
          check: async (base) => {
            const response = await fetch(`${base}/graphql`, {
              method: 'POST',
              headers: { 'Content-Type': 'application/json', 'X-Session-ID': firstId },
              body: JSON.stringify({ query: '{ session { id attributes } }' }),
            });
            const body = (await response.json()) as { data: { session: { attributes: { user: unknown } } } };
            assertEqualJson(body.data.session.attributes.user, first, `${prefix}GraphQL`);
          },
        },
        batch(10),
        batch(100),
      ];
    };

    /** An acknowledged-write row: a new session per request, on the primary with a replica. */
    const issueRow = (name: string, what: string, env: Record<string, string>): Row => ({
      name, what, sessionsPerRequest: 1, redis: 'replicated', setsFixedLoad: false, start: gatewayOn('replicated', env), path: '/graphql', mode: 'issue', answers: 'issued',
      linesFile: join(dir, 'constant.txt'),
      check: async (base) => {
        const response = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ query: ISSUE_QUERY }) });
        const body = (await response.json()) as { data?: { issueSession?: { id?: string } } };
        if (typeof body.data?.issueSession?.id !== 'string') throw new Error(`${name}: ${JSON.stringify(body)}`);
      },
    });

    const allRows: Row[] = [
      {
        name: 'ceiling', what: 'node:http, constant JSON', sessionsPerRequest: 1, redis: 'single', start: server('ceiling'), path: '/', mode: 'constant', answers: 'ok',
        linesFile: join(dir, 'constant.txt'),
        check: async (base) => assertEqualJson(await (await fetch(base)).json(), { ok: true }, 'ceiling'),
      },
      {
        name: 'floor', what: 'node:http + one ioredis GET', sessionsPerRequest: 1, redis: 'single', start: server('floor'), path: '/', mode: 'header', answers: 'user', linesFile: idsFile,
        check: async (base) => assertEqualJson(await (await fetch(base, { headers: { 'X-Session-ID': firstId } })).json(), first, 'floor'),
      },
      {
        name: 'peer', what: 'express-session + connect-redis', sessionsPerRequest: 1, redis: 'single', start: server('peer'), path: '/session', mode: 'cookie', answers: 'user', linesFile: cookiesFile,
        check: async (base) => {
          const cookie = readFileSync(cookiesFile, 'utf8').split('\n')[0] as string;
          assertEqualJson(await (await fetch(`${base}/session`, { headers: { Cookie: cookie } })).json(), first, 'peer');
        },
      },
      ...gatewayRows('single'),
      // The same two reads with the gateway's own cache on (SESSION_CACHE=on, room for every seeded
      // session): after the warm-up every read is a hit, and the rows show what a hit costs.
      ...gatewayRows('single')
        .filter((row) => row.name === 'REST' || row.name === 'GraphQL')
        .map((row): Row => ({ ...row, name: `${row.name} cached`, what: `${row.what}, SESSION_CACHE=on`, setsFixedLoad: false, cacheHitRatio: true, start: gatewayOn('single', { SESSION_CACHE: 'on', SESSION_CACHE_MAX_ENTRIES: String(SESSIONS) }) })),
      // A realistic hit ratio: Zipf (s = 1) over 100,000 sessions, the cache capped at 10,000.
      ...gatewayRows('single')
        .filter((row) => row.name === 'REST')
        .map((row): Row => ({
          ...row,
          name: ZIPF_ROW,
          what: `${row.what}, SESSION_CACHE=on, 10,000 entries; Zipf s = 1 over ${ZIPF_SESSIONS.toLocaleString('en')} sessions`,
          setsFixedLoad: false,
          cacheHitRatio: true,
          linesFile: zipfFile,
          start: gatewayOn('single', { SESSION_CACHE: 'on', SESSION_CACHE_MAX_ENTRIES: '10000' }),
        })),
      // The same two reads on another build of the gateway (BENCH_BASELINE: a directory holding its
      // dist/, e.g. the main branch compiled): what a change costs, measured in the same run.
      ...(BASELINE === undefined
        ? []
        : gatewayRows('single')
            .filter((row) => row.name === 'REST' || row.name === 'GraphQL')
            .map((row): Row => ({ ...row, name: `${row.name} baseline`, what: `${row.what}, the build in ${BASELINE}`, setsFixedLoad: false, start: gatewayOn('single', {}, join(BASELINE, 'dist')) }))),
      // The same two reads traced: spans exported to the bench's OTLP sink, 10 % and 100 % of
      // requests sampled (wrk sends no traceparent: the ratio decides), the SDK's other defaults.
      ...(sink === undefined
        ? []
        : gatewayRows('single')
            .filter((row) => row.name === 'REST' || row.name === 'GraphQL')
            .flatMap((row) =>
              ([['10%', { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }], ['100%', {}]] as const).map(([share, sampler]): Row => ({
                ...row,
                name: `${row.name}${TRACED}${share}`,
                what: `${row.what}, traced, ${share} sampled`,
                setsFixedLoad: false,
                traced: { sink: (sink as { url: string }).url },
                start: gatewayOn('single', { OTEL_EXPORTER_OTLP_ENDPOINT: (sink as { url: string }).url, ...sampler }),
              })),
            )),
      {
        name: 'client', what: 'SessionClient.get, near cache, in-process', sessionsPerRequest: 1, redis: 'single', start: gateway, path: '/api/v2/session', mode: 'header', answers: 'rest', linesFile: idsFile,
        driver: 'client',
        check: async (base) => {
          const client = new SessionClient({ url: base, token: TOKEN, cache: false });
          assertEqualJson((await client.get(firstId))?.attributes.user, first, 'client');
          await client.close();
        },
      },
      // Session tokens: issued by one gateway (a token per request, each for another seeded
      // session), introspected (RFC 7662, a JWT per request), and checked by the client library.
      {
        name: 'token', what: 'POST /api/v2/session/token (ES256)', sessionsPerRequest: 1, redis: 'single', setsFixedLoad: false, fixedLoad: false, start: gatewayOn('single', TOKEN_ENV), path: '/api/v2/session/token', mode: 'token', answers: 'token', linesFile: idsFile,
        check: async (base) => {
          const response = await fetch(`${base}/api/v2/session/token`, { method: 'POST', headers: { 'X-Session-ID': firstId } });
          const body = (await response.json()) as { token?: string };
          if (typeof body.token !== 'string') throw new Error(`token: ${JSON.stringify(body)}`);
        },
      },
      {
        name: 'introspect', what: 'POST /api/v2/introspect (a JWT)', sessionsPerRequest: 1, redis: 'single', setsFixedLoad: false, fixedLoad: false, start: gatewayOn('single', TOKEN_ENV), path: '/api/v2/introspect', mode: 'introspect', answers: 'introspected', linesFile: tokensFile,
        check: async (base) => {
          const token = readFileSync(tokensFile, 'utf8').split('\n')[0] as string;
          const response = await fetch(`${base}/api/v2/introspect`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-www-form-urlencoded' }, body: `token=${token}` });
          const body = (await response.json()) as { active?: boolean; sid?: string };
          if (body.active !== true || body.sid !== sessionDigest(firstId)) throw new Error(`introspect: ${JSON.stringify(body)}`);
        },
      },
      {
        name: 'client verify', what: 'SessionClient.verifyToken, in-process', sessionsPerRequest: 1, redis: 'single', setsFixedLoad: false, fixedLoad: false, start: gatewayOn('single', TOKEN_ENV), path: '/.well-known/jwks.json', mode: 'constant', answers: 'ok', linesFile: tokensFile,
        driver: 'verify',
        check: async (base) => {
          const response = await fetch(`${base}/.well-known/jwks.json`);
          if (((await response.json()) as { keys?: unknown[] }).keys?.length !== 1) throw new Error('client verify: the JWKS has not the one key the bench signed with');
        },
      },
      ...(clusterRowsRun ? gatewayRows('cluster') : []),
      ...(issueRowsRun ? [issueRow('issue', 'issueSession, primary + 1 replica, default: every replica confirms', {}), issueRow('issue ack 0', 'issueSession, primary + 1 replica, REDIS_ACK_REPLICAS=0', { REDIS_ACK_REPLICAS: '0' })] : []),
    ];
    const rows = only === undefined ? allRows : allRows.filter((row) => only.includes(row.name.toLowerCase()));
    if (rows.length === 0) throw new Error(`BENCH_ROWS names no row; the rows are ${[...allRows.map((row) => row.name), ...gatewayRows('cluster').map((row) => row.name)].join(', ')}`);
    const single = new RedisCounters([redis]);
    const replicatedCounters = replicated === undefined ? undefined : new RedisCounters([replicated.redis]);
    const countersOf = (row: Row): RedisCounters => (row.redis === 'single' ? single : row.redis === 'replicated' ? (replicatedCounters as RedisCounters) : (cluster as LocalCluster).counters);

    const rest = allRows.find((row) => row.name === 'REST') as Row;
    await controlChecks(rest, work);

    const results = new Map<string, Measurement[]>(rows.map((row) => [row.name, []]));
    const ratioRuns: Array<Record<string, number>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? rows : [...rows].reverse();
      const roundResults = new Map<string, Measurement>();
      for (const row of order) {
        const m = await measure(row, countersOf(row), work);
        roundResults.set(row.name, m);
        results.get(row.name)?.push(m);
        const unit = row.driver === 'client' ? 'reads/s (in-process)' : row.driver === 'verify' ? 'checks/s (in-process)' : 'req/s';
        console.log(
          `round ${round + 1}/${ROUNDS} ${row.name.padEnd(26)} ${m.requestsPerSecond.toFixed(0).padStart(7)} ${unit}  p50 ${m.p50Ms.toFixed(2)} ms  p99 ${m.p99Ms.toFixed(2)} ms  errors ${m.errors}  mismatched ${m.mismatches} of ${m.checked}`,
        );
      }
      const rps = (name: string): number => roundResults.get(name)?.requestsPerSecond ?? NaN;
      ratioRuns.push({
        restFloor: rps('REST') / rps('floor'),
        restPeer: rps('REST') / rps('peer'),
        graphqlFloor: rps('GraphQL') / rps('floor'),
        graphqlPeer: rps('GraphQL') / rps('peer'),
        batchSessionsOverSingle: (rps('GraphQL batch') * 10) / rps('GraphQL'),
        clientReadsOverRestRequests: rps('client') / rps('REST'),
        clientHitRatio: roundResults.get('client')?.hitRatio ?? NaN,
        clusterRestOverRest: rps(`${CLUSTER_PREFIX}REST`) / rps('REST'),
        clusterGraphqlOverGraphql: rps(`${CLUSTER_PREFIX}GraphQL`) / rps('GraphQL'),
        clusterBatchOverBatch: rps(`${CLUSTER_PREFIX}GraphQL batch`) / rps('GraphQL batch'),
        clusterBatch100OverBatch100: rps(`${CLUSTER_PREFIX}GraphQL batch 100`) / rps('GraphQL batch 100'),
      });
    }

    // Round trips per request, one request at a time, for every gateway row that ran.
    const roundTrips: RoundTrips[] = [];
    for (const row of rows.filter((candidate) => candidate.gateway === true)) roundTrips.push(await measureRoundTrips(row, countersOf(row)));

    const fixedLoad = FIXED ? await measureFixedLoads(rows, results, work) : [];

    // The command, touch, staleness and memory measurements run in the full run (or with BENCH_EXTRAS=1).
    const extras = extrasRun ? await extraMeasurements(redisUrl, redis, dir, gateway, ids) : undefined;
    const announce = extrasRun && cluster !== undefined ? await measureAnnounceCost(cluster, ANNOUNCE_COST) : undefined;

    const summarise = (row: Row): TableRow => {
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
        checked: runs.reduce((sum, m) => sum + m.checked, 0),
        mismatches: runs.reduce((sum, m) => sum + m.mismatches, 0),
        redisCommandsPerRequest: median(runs.map((m) => m.redisCommandsPerRequest)),
        redisReadsPerRequest: median(runs.map((m) => m.redisReadsPerRequest)),
        rssMiB: median(runs.map((m) => m.rssMiB)),
        cpuMicrosPerRequest: median(runs.map((m) => m.cpuMicrosPerRequest)),
        xFloor: rpsMedian / floorRps,
        xPeer: rpsMedian / peerRps,
        ...(row.driver === 'client' || row.cacheHitRatio ? { hitRatio: median(runs.map((m) => m.hitRatio ?? NaN)) } : {}),
        ...(row.traced === undefined ? {} : { spansPerRequest: median(runs.map((m) => m.spansPerRequest ?? NaN)) }),
        ...(row.driver === 'verify' ? { signatureChecksPerSecond: Math.round(median(runs.map((m) => m.signatureChecksPerSecond ?? NaN))) } : {}),
      };
    };
    const table = rows.filter((row) => row.driver === undefined).map(summarise);
    const clientRow = rows.find((row) => row.driver === 'client');
    const client = clientRow === undefined ? undefined : summarise(clientRow);
    const verifyRow = rows.find((row) => row.driver === 'verify');
    const verify = verifyRow === undefined ? undefined : summarise(verifyRow);
    if (verify !== undefined) {
      console.log(
        `\nClient token checks: SessionClient.verifyToken in the bench's process, ${CONNECTIONS} concurrent callers over ${SESSIONS} tokens whose sessions were vouched for in the warm-up: ` +
          `${verify.requestsPerSecond.toLocaleString('en-US')} checks/s (no request to the gateway; mismatched ${verify.mismatches} of ${verify.checked}). ` +
          `First checks (signature and claims, nothing remembered): ${verify.signatureChecksPerSecond?.toLocaleString('en-US')}/s.`,
      );
    }
    const ratios = Object.fromEntries(Object.keys(ratioRuns[0] ?? {}).map((key) => [key, median(ratioRuns.map((r) => r[key] as number))]));
    report(table, client, ratios, fixedLoad, extras, roundTrips, announce);

    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    const out = join(ROOT, 'test-results', 'bench.json');
    const fixedLoadJson = fixedLoad.map(({ rows: fixedRows, ...level }) => ({ ...level, rows: fixedRows.map(({ latencies: _, ...r }) => r) }));
    writeFileSync(
      out,
      JSON.stringify(
        {
          method: { ROUNDS, SECONDS, WARMUP_SECONDS, CONNECTIONS, SESSIONS, FIXED_FRACTION, FIXED_PASSES, FIXED_SECONDS, FIXED_HEADROOM },
          table,
          client,
          verify,
          ratios,
          ratioRuns,
          fixedLoad: fixedLoadJson,
          extras,
          roundTrips,
          announce,
        },
        null,
        2,
      ),
    );
    console.log(`\nwritten: ${out}`);
  } finally {
    redis.disconnect();
    await stop(redisServer);
    await cluster?.destroy();
    if (replicated !== undefined) {
      replicated.redis.disconnect();
      await stop(replicated.replica);
      await stop(replicated.primary);
    }
    if (sink !== undefined) await stop(sink.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface TableRow {
  row: string;
  what: string;
  requestsPerSecond: number;
  sessionsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  checked: number;
  mismatches: number;
  redisCommandsPerRequest: number;
  redisReadsPerRequest: number;
  rssMiB: number;
  cpuMicrosPerRequest: number;
  xFloor: number;
  xPeer: number;
  hitRatio?: number;
  spansPerRequest?: number;
  /** Client verify row only: first checks (signature and claims) per second. */
  signatureChecksPerSecond?: number;
}

// ---------------------------------------------------------------------------------------------
// Fixed load: the same offered req/s for every row, from pace.c.

/** The raw request wrk sends for this line (rotate.lua's `request`), for pace. */
function rawRequest(row: Row, host: string, line: string): string {
  const request = (method: string, headers: Record<string, string>, body = ''): string => {
    const all: Record<string, string> = { Host: host, ...headers };
    if (body !== '') all['Content-Length'] = String(Buffer.byteLength(body));
    return `${method} ${row.path} HTTP/1.1\r\n${Object.entries(all)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')}\r\n${body}`;
  };
  switch (row.mode) {
    case 'header':
      return request('GET', { 'X-Session-ID': line });
    case 'cookie':
      return request('GET', { Cookie: line });
    case 'graphql':
      return request('POST', { 'Content-Type': 'application/json', 'X-Session-ID': line }, '{"query":"{ session { id attributes } }"}');
    case 'batch':
      return request(
        'POST',
        { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
        `{"query":"query($ids: [ID!]!) { sessions(ids: $ids) { id attributes } }","variables":{"ids":[${line}]}}`,
      );
    case 'issue':
      return request('POST', { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, JSON.stringify({ query: ISSUE_QUERY }));
    case 'token':
      return request('POST', { 'X-Session-ID': line });
    case 'introspect':
      return request('POST', { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${TOKEN}` }, `token=${line}`);
    case 'constant':
      return request('GET', {});
  }
}

/**
 * What the answer to line n must hold, for pace, which matches each answer to its own request:
 * "h <name> <value>" (a response header) or "b <text>" (in the body, each after the previous).
 * The same checks as rotate.lua's, made exact.
 */
function expectations(check: Check, n: number, ids: readonly string[], batchSize: number): string[] {
  const userOf = (k: number): string => `{"id":${100000 + k},`;
  const session = (k: number): string => `{"id":"${ids[k]}","attributes":{"user":${userOf(k)}`;
  switch (check) {
    case 'ok':
      return ['b {"ok":true}'];
    case 'user':
      return [`b ${userOf(n)}`];
    case 'rest':
      return [`h x-session-id ${ids[n]}`, `b ${userOf(n)}`];
    case 'graphql':
      return [`b {"data":{"session":${session(n)}`];
    case 'batch':
      return Array.from({ length: batchSize }, (_, j) => `b ${session(n * batchSize + j)}`);
    case 'issued':
      return ['b {"data":{"issueSession":{"id":"'];
    case 'token':
      return ['b {"token":"'];
    case 'introspected':
      return ['b "active":true'];
  }
}

function writePaceRequests(row: Row, host: string, work: Work, file: string): void {
  const lines = readFileSync(row.linesFile, 'utf8').split('\n').filter((line) => line !== '');
  const parts = [`${lines.length}\n`];
  // A line that is a session ID expects that session (the Zipf row reads one on many lines).
  const seeded = new Map(work.ids.map((id, n) => [id, n]));
  lines.forEach((line, n) => {
    const request = rawRequest(row, host, line);
    const expect = expectations(row.answers, seeded.get(line) ?? n, work.ids, row.sessionsPerRequest);
    parts.push(`${Buffer.byteLength(request)} ${expect.length}\n${request}${expect.join('\n')}\n`);
  });
  writeFileSync(file, parts.join(''));
}

interface FixedPass {
  latencies: Float64Array;
  /** Requests due in the measured seconds, and those of them answered. */
  measured: number;
  answered: number;
  checked: number;
  mismatches: number;
  errors: number;
  late: number;
  maxBacklog: number;
  cpuMicrosPerRequest: number;
}

/** Runs pace.c on the load core against the server on `port`; its result line and the measured latencies (µs). */
function pace(row: Row, port: number, work: Work, rps: number, warmupSeconds: number, seconds: number): { r: Record<string, number>; latencies: Float64Array } {
  const requestsFile = join(work.dir, 'pace-requests.txt');
  const latenciesFile = join(work.dir, 'pace-latencies.bin');
  writePaceRequests(row, `127.0.0.1:${port}`, work, requestsFile);
  const output = execFileSync(
    'taskset',
    ['-c', LOAD_CORE, work.pace, '127.0.0.1', String(port), String(rps), String(warmupSeconds), String(seconds), String(CONNECTIONS), requestsFile, latenciesFile],
    { encoding: 'utf8' },
  );
  const bytes = readFileSync(latenciesFile);
  return { r: resultLine(output, 'pace'), latencies: new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) };
}

async function measureFixed(row: Row, rps: number, work: Work): Promise<FixedPass> {
  return withServer(row, async (_base, pid, port) => {
    // The warm-up is a run of its own, so that the server's CPU time is read around the measured one.
    const warm = WARMUP_SECONDS > 0 ? pace(row, port, work, rps, 0, WARMUP_SECONDS).r : {};
    const cpuBefore = cpuMicros(pid);
    const { r, latencies } = pace(row, port, work, rps, 0, FIXED_SECONDS);
    const cpuAfter = cpuMicros(pid);
    const value = (key: string): number => r[key] as number;
    const both = (key: string): number => (r[key] as number) + ((warm[key] as number | undefined) ?? 0);
    return {
      latencies,
      measured: value('measured'),
      answered: latencies.length,
      checked: both('checked'),
      mismatches: both('mismatches'),
      errors: ['statusErrors', 'readErrors', 'connectErrors', 'timeouts', 'unanswered'].reduce((sum, key) => sum + both(key), 0),
      late: value('late'),
      maxBacklog: value('maxBacklog'),
      cpuMicrosPerRequest: (cpuAfter - cpuBefore) / value('completed'),
    };
  });
}

/**
 * The control: the answer checks must be able to fail. The REST row with 1,000 IDs nobody seeded
 * is answered 200 with new sessions (which is how modules get IDs), so every answer is wrong for
 * the check, and both checkers must count every answer as mismatched. (About 2,000 small new
 * sessions stay in Redis; the seeded 10,000 are untouched.)
 */
async function controlChecks(rest: Row, work: Work): Promise<void> {
  const unknown = Array.from({ length: 1000 }, () => generateSessionId());
  const file = join(work.dir, 'unknown-ids.txt');
  writeFileSync(file, `${unknown.join('\n')}\n`);
  const row: Row = { ...rest, linesFile: file };
  const control: Work = { ...work, ids: unknown, idsFile: file };
  await withServer(row, async (base, _pid, port) => {
    const w = wrk(`${base}${row.path}`, row, control, 1, 1);
    const p = pace(row, port, control, 500, 0, 1).r;
    console.log(`answer checks, control (REST with IDs nobody seeded): wrk counted ${w.mismatches} of ${w.checked} answers as mismatched, pace ${p.mismatches} of ${p.checked}`);
    if (!(w.checked > 0 && w.mismatches === w.checked && (p.checked as number) > 0 && p.mismatches === p.checked)) {
      throw new Error('the answer checks passed wrong answers: every answer of the control must count as mismatched');
    }
  });
}

interface FixedRow {
  row: string;
  offeredRps: number;
  /** Answers per second to the requests due in the measured seconds. */
  answeredRps: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  late: number;
  maxBacklog: number;
  errors: number;
  checked: number;
  mismatches: number;
  cpuMicrosPerRequest: number;
  latencies: Float64Array;
}

interface FixedLevel {
  rps: number;
  why: string;
  rows: FixedRow[];
  /** Rows not run at this load: it is more than FIXED_HEADROOM of what they carry saturated. */
  skipped: Array<{ row: string; saturatedRps: number }>;
}

/** The fixed loads, each run on every row that can carry it, FIXED_PASSES times in alternating order. */
async function measureFixedLoads(rows: Row[], results: Map<string, Measurement[]>, work: Work): Promise<FixedLevel[]> {
  const servers = rows.filter((row) => row.driver === undefined && row.fixedLoad !== false);
  const saturated = new Map(servers.map((row) => [row.name, median((results.get(row.name) ?? []).map((m) => m.requestsPerSecond))]));
  const carries = (row: Row): number => saturated.get(row.name) ?? NaN;
  if (servers.length === 0 || (FIXED_RPS === undefined && servers.some((row) => Number.isNaN(carries(row))))) return [];
  const share = `${Math.round(FIXED_FRACTION * 100)} %`;
  let loads: Array<{ rps: number; why: string }>;
  if (FIXED_RPS !== undefined) {
    loads = FIXED_RPS.map((rps) => ({ rps, why: 'BENCH_FIXED_RPS' }));
  } else {
    const choosing = servers.filter((row) => row.setsFixedLoad !== false);
    const slowest = (choosing.length > 0 ? choosing : servers).reduce((a, b) => (carries(a) <= carries(b) ? a : b));
    loads = [{ rps: FIXED_FRACTION * carries(slowest), why: `${share} of the slowest row's (${slowest.name}) saturated req/s: every row carries it` }];
    const floor = saturated.get('floor');
    if (floor !== undefined && FIXED_FRACTION * floor > 1.25 * (loads[0] as { rps: number }).rps) {
      loads.push({ rps: FIXED_FRACTION * floor, why: `${share} of the floor's saturated req/s` });
    }
  }
  const levels: FixedLevel[] = [];
  for (const load of loads) {
    const rps = Math.max(1, Math.round(load.rps));
    const eligible = servers.filter((row) => rps <= FIXED_HEADROOM * carries(row));
    const skipped = servers.filter((row) => !eligible.includes(row)).map((row) => ({ row: row.name, saturatedRps: Math.round(carries(row)) }));
    const passes = new Map<string, FixedPass[]>(eligible.map((row) => [row.name, []]));
    for (let pass = 0; pass < FIXED_PASSES; pass++) {
      for (const row of pass % 2 === 0 ? eligible : [...eligible].reverse()) {
        const p = await measureFixed(row, rps, work);
        passes.get(row.name)?.push(p);
        const sorted = p.latencies.slice().sort();
        console.log(
          `fixed ${rps} req/s, pass ${pass + 1}/${FIXED_PASSES} ${row.name.padEnd(14)} p50 ${(percentile(sorted, 0.5) / 1000).toFixed(2)} ms  p99 ${(percentile(sorted, 0.99) / 1000).toFixed(2)} ms  p99.9 ${(percentile(sorted, 0.999) / 1000).toFixed(2)} ms  late ${p.late}  errors ${p.errors}  mismatched ${p.mismatches} of ${p.checked}`,
        );
      }
    }
    const fixedRows = eligible.map((row): FixedRow => {
      const runs = passes.get(row.name) as FixedPass[];
      const pooled = new Float64Array(runs.reduce((n, p) => n + p.latencies.length, 0));
      let at = 0;
      for (const p of runs) {
        pooled.set(p.latencies, at);
        at += p.latencies.length;
      }
      pooled.sort();
      const sum = (pick: (p: FixedPass) => number): number => runs.reduce((n, p) => n + pick(p), 0);
      return {
        row: row.name,
        offeredRps: rps,
        answeredRps: sum((p) => p.answered) / (runs.length * FIXED_SECONDS),
        samples: pooled.length,
        p50Ms: percentile(pooled, 0.5) / 1000,
        p99Ms: percentile(pooled, 0.99) / 1000,
        p999Ms: percentile(pooled, 0.999) / 1000,
        maxMs: (pooled.at(-1) ?? NaN) / 1000,
        late: sum((p) => p.late),
        maxBacklog: Math.max(...runs.map((p) => p.maxBacklog)),
        errors: sum((p) => p.errors),
        checked: sum((p) => p.checked),
        mismatches: sum((p) => p.mismatches),
        cpuMicrosPerRequest: median(runs.map((p) => p.cpuMicrosPerRequest)),
        latencies: pooled,
      };
    });
    levels.push({ rps, why: load.why, rows: fixedRows, skipped });
  }
  return levels;
}

interface Extras {
  /** Client cache staleness: from the start of a write through gateway B until client 1 (on A) drops its copy. */
  stalenessTrials: number;
  stalenessP50Ms: number;
  stalenessP99Ms: number;
  stalenessMaxMs: number;
  /** Redis commands a GraphQL batch of 10 sends (one request at a time; 1 command is 1 round trip). */
  redisCommandsPerBatchOf10: number;
  redisCommandsPerReadWithinTouchInterval: number;
  writesPer1000ReadsWithinTouchInterval: number;
  /** issueSession with a principal (the session and its principal's index, the limit checked): Redis commands, and read events (round trips) on the server. */
  redisCommandsPerIndexedIssue: number;
  redisRoundTripsPerIndexedIssue: number;
  memoryBytesPerSessionGateway: number;
  memoryBytesPerSessionPeer: number;
}

/** Redis commands of a batch read and of a single read, writes within the touch interval, and Redis memory per session. */
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
  let batchCommands: number;
  let commandsPerRead: number;
  let writesPer1000: number;
  let issueCommands: number;
  let issueRoundTrips: number;
  try {
    await waitForHttp(`${base}/api/v2/session`, child);
    const batch = JSON.stringify({ query: 'query($ids: [ID!]!) { sessions(ids: $ids) { id } }', variables: { ids: ids.slice(100, 110) } });
    const post = (): Promise<Response> =>
      fetch(`${base}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, body: batch });
    await (await post()).text();
    // Commands, counted by Redis, one request at a time. (Not round trips: auto-pipelining can send
    // several commands in one. A batch that sends 1 command, though, makes exactly 1 round trip.)
    let before = await commandsProcessed(redis);
    for (let i = 0; i < 100; i++) await (await post()).text();
    batchCommands = ((await commandsProcessed(redis)) - before - 1) / 100;

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

    // Issuing with a principal: one script writes the session, indexes it under its principal
    // and checks the limit. Each issue for another principal (the tag key is asked for once, by
    // the first). What the gateway sends (scripts: EVALSHA calls, as commandstats counts them; a
    // script's own calls are not sent) and read events (one per round trip that arrives), less
    // the two of the INFOs' own; the fewest of 3 counts, as a stray read (the clock sync) can land in one.
    const issue = (i: number): Promise<Response> =>
      fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ query: 'mutation($p: String) { issueSession(input: { principal: $p }) { id } }', variables: { p: `bench-issuer-${i}` } }),
      });
    await (await issue(-1)).text();
    const stats = async (): Promise<{ reads: number; scripts: number }> => {
      const info = await redis.info('all');
      const calls = (command: string): number => Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      return { reads: Number(/total_reads_processed:(\d+)/.exec(info)?.[1]), scripts: calls('evalsha') + calls('eval') };
    };
    issueCommands = Infinity;
    issueRoundTrips = Infinity;
    for (let attempt = 0; attempt < 3; attempt++) {
      const at = await stats();
      for (let i = 0; i < 100; i++) await (await issue(attempt * 100 + i)).text();
      const after = await stats();
      issueCommands = Math.min(issueCommands, (after.scripts - at.scripts) / 100);
      issueRoundTrips = Math.min(issueRoundTrips, (after.reads - at.reads - 2) / 100);
    }
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

    const store = seedingStore(singleNode(memoryUrl));
    await new Promise((r) => setTimeout(r, 200));
    let before = await usedMemory();
    for (let start = 0; start < MEMORY_SESSIONS; start += 1000) {
      await Promise.all(
        memoryIds.slice(start, start + 1000).map((id, offset) =>
          seedSession(store, sessionDigest(id), { principal: String(100000 + start + offset), attributes: [['user', JSON.stringify(user(start + offset))]], maxInactiveSeconds: 3600 }),
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
      redisCommandsPerBatchOf10: batchCommands,
      redisCommandsPerReadWithinTouchInterval: commandsPerRead,
      writesPer1000ReadsWithinTouchInterval: writesPer1000,
      redisCommandsPerIndexedIssue: issueCommands,
      redisRoundTripsPerIndexedIssue: issueRoundTrips,
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

function report(
  table: TableRow[],
  client: TableRow | undefined,
  ratios: Record<string, number>,
  fixedLoad: FixedLevel[],
  extras: Extras | undefined,
  roundTrips: readonly RoundTrips[],
  announce: readonly AnnounceCost[] | undefined,
): void {
  const f = (n: number, digits = 2): string => (Number.isNaN(n) ? '—' : n.toFixed(digits));
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : word.endsWith('s') ? 'es' : 's'}`;
  console.log(
    `\nSaturated: medians of ${plural(ROUNDS, 'round')}; ${SECONDS} s measured after ${WARMUP_SECONDS} s warm-up; ${CONNECTIONS} connections as fast as the server answers (wrk); server on core ${SERVER_CORE}, wrk + redis-server on core ${LOAD_CORE}. Answers checked in every round, warm-ups included.\n`,
  );
  console.log(
    '| row | what | req/s | sessions/s | p50 ms | p99 ms | errors | answers checked | mismatched answers | Redis commands/req | Redis reads/req | server CPU µs/req | RSS MiB | × floor | × peer |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of table) {
    console.log(
      `| ${r.row} | ${r.what} | ${r.requestsPerSecond} | ${r.sessionsPerSecond} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${r.errors} | ${r.checked} | ${r.mismatches} | ${f(r.redisCommandsPerRequest)} | ${f(r.redisReadsPerRequest)} | ${f(r.cpuMicrosPerRequest, 1)} | ${f(r.rssMiB, 0)} | ${f(r.xFloor)} | ${f(r.xPeer)} |`,
    );
  }
  for (const r of table.filter((candidate) => candidate.hitRatio !== undefined)) {
    console.log(`\n${r.row}: cache hit ratio ${f(r.hitRatio as number, 4)} over the measured runs (the gateway's gateway_session_cache_hits_total and _misses_total), ${r.requestsPerSecond} req/s.`);
  }
  console.log(
    '\n"cluster …" rows: the gateway on the local Redis Cluster (3 primaries, no replicas, every node on the load core). Redis figures are summed over the nodes; "reads" are the read events of client sockets (INFO total_reads_processed): at saturation one read may carry the commands of several requests.',
  );
  const traced = table.filter((r) => r.spansPerRequest !== undefined);
  if (traced.length > 0) {
    console.log('\nTracing: each traced row against the same row untraced, in this run (CPU: medians of the rounds). Spans: what the OTLP sink received during the measured run, per request (exports are batched, so the window is approximate).\n');
    console.log('| row | req/s | × untraced req/s | server CPU µs/req | × untraced CPU | spans/req |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of traced) {
      const untraced = table.find((candidate) => candidate.row === r.row.slice(0, r.row.indexOf(TRACED)));
      console.log(
        `| ${r.row} | ${r.requestsPerSecond} | ${f(r.requestsPerSecond / (untraced?.requestsPerSecond ?? NaN))} | ${f(r.cpuMicrosPerRequest, 1)} | ${f(r.cpuMicrosPerRequest / (untraced?.cpuMicrosPerRequest ?? NaN))} | ${f(r.spansPerRequest ?? NaN)} |`,
      );
    }
  }
  if (roundTrips.length > 0) {
    console.log(
      `\nRound trips per request, one request at a time (read events the Redis nodes counted, summed over them; ${ROUND_TRIP_SESSIONS} sessions issued just before, so no read touches; the fewest of ${ROUND_TRIP_ATTEMPTS} counts):\n`,
    );
    console.log('| row | Redis nodes | sessions/request | round trips/request | Redis commands/request |');
    console.log('|---|---:|---:|---:|---:|');
    for (const r of roundTrips) console.log(`| ${r.row} | ${r.nodes} | ${r.sessionsPerRequest} | ${f(r.roundTripsPerRequest)} | ${f(r.commandsPerRequest)} |`);
  }
  if (client !== undefined) {
    console.log(
      `\nClient: in-process reads through the near cache (SessionClient.get, ${CONNECTIONS} concurrent callers in one process on core ${LOAD_CORE}; after the warm-up almost every read is a cache hit). Not requests over the network: not comparable with the rows above.\n`,
    );
    console.log('| row | reads/s | p50 ms | p99 ms | errors | reads checked | mismatched answers | cache hit ratio | gateway CPU µs/read | gateway RSS MiB | Redis commands/read |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    console.log(
      `| ${client.row} | ${client.requestsPerSecond} | ${f(client.p50Ms)} | ${f(client.p99Ms)} | ${client.errors} | ${client.checked} | ${client.mismatches} | ${f(client.hitRatio ?? NaN, 4)} | ${f(client.cpuMicrosPerRequest, 1)} | ${f(client.rssMiB, 0)} | ${f(client.redisCommandsPerRequest, 4)} |`,
    );
  }
  for (const level of fixedLoad) {
    console.log(
      `\nFixed load: ${level.rps} req/s offered to every row below (${level.why}). Open loop (pace.c): each request is sent when due, on an idle one of ${CONNECTIONS} connections, and its latency counts from when it was due; ${plural(FIXED_PASSES, 'pass')} in alternating row order, ${FIXED_SECONDS} s measured after ${WARMUP_SECONDS} s warm-up each, latencies pooled. Late: sent more than 1 ms after due (every connection waiting for an answer, or the load core busy); latency still counts from due. Most queued: the most requests due and not yet sent at once.\n`,
    );
    console.log('| row | offered req/s | answered req/s | p50 ms | p99 ms | p99.9 ms | max ms | samples | late | most queued | errors | answers checked | mismatched answers | server CPU µs/req |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of level.rows) {
      console.log(
        `| ${r.row} | ${r.offeredRps} | ${f(r.answeredRps, 0)} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(r.p999Ms)} | ${f(r.maxMs)} | ${r.samples} | ${r.late} | ${r.maxBacklog} | ${r.errors} | ${r.checked} | ${r.mismatches} | ${f(r.cpuMicrosPerRequest, 1)} |`,
      );
    }
    if (level.skipped.length > 0) {
      console.log(
        `\nnot run at ${level.rps} req/s (more than ${Math.round(FIXED_HEADROOM * 100)} % of what they carry saturated): ${level.skipped.map((s) => `${s.row} (${s.saturatedRps} req/s)`).join(', ')}`,
      );
    }
  }

  if (announce !== undefined) {
    const first = announce[0];
    console.log(
      `\nThe change feed's announce on Cluster, per update (${first?.updates} updates per variant and round, ${first?.rounds} rounds in alternating order, medians), to sessions on one primary of the local Cluster (3 primaries, no replicas, nobody subscribed): PUBLISH as the scripts announce, SPUBLISH on a channel in the key's slot, or no announce. CPU from INFO cpu; bus from CLUSTER INFO and the bus connections' tcp_info.\n`,
    );
    console.log('| announce | CPU µs/update, owner | CPU µs/update, the 2 other nodes | CPU µs/update, all | bus messages/update | bus bytes/update |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const a of announce) {
      console.log(`| ${a.variant} | ${f(a.ownerCpuMicros, 1)} | ${f(a.othersCpuMicros, 1)} | ${f(a.allCpuMicros, 1)} | ${f(a.busMessages)} | ${f(a.busBytes, 0)} |`);
    }
  }

  /** p99 of row a over row b's, at the highest fixed load both ran at. */
  const fixedP99Ratio = (a: string, b: string): { value: number; rps: number } => {
    for (const level of [...fixedLoad].reverse()) {
      const ra = level.rows.find((r) => r.row === a);
      const rb = level.rows.find((r) => r.row === b);
      if (ra !== undefined && rb !== undefined) return { value: ra.p99Ms / rb.p99Ms, rps: level.rps };
    }
    return { value: NaN, rps: NaN };
  };
  const restP99 = fixedP99Ratio('REST', 'floor');
  const graphqlP99 = fixedP99Ratio('GraphQL', 'floor');
  const allRows = [...table, ...(client === undefined ? [] : [client]), ...fixedLoad.flatMap((level) => level.rows)];
  const mismatches = allRows.reduce((sum, r) => sum + r.mismatches, 0);
  const checked = allRows.reduce((sum, r) => sum + r.checked, 0);
  const errors = allRows.reduce((sum, r) => sum + r.errors, 0);

  type Target = [string, number, (value: number) => boolean, (value: number) => string];
  const ratio = (value: number): string => f(value);
  const targets: Target[] = [
    ['REST ≥ 0.9 × floor (saturated req/s)', ratios.restFloor ?? NaN, (v) => v >= 0.9, ratio],
    ['REST ≥ 5 × peer (saturated req/s)', ratios.restPeer ?? NaN, (v) => v >= 5, ratio],
    [`REST p99 ≤ 1.5 × floor's, both at ${restP99.rps} req/s offered`, restP99.value, (v) => v <= 1.5, ratio],
    ['GraphQL ≥ 0.5 × floor (saturated req/s)', ratios.graphqlFloor ?? NaN, (v) => v >= 0.5, ratio],
    ['GraphQL ≥ 3 × peer (saturated req/s)', ratios.graphqlPeer ?? NaN, (v) => v >= 3, ratio],
    [`GraphQL p99 ≤ 3 × floor's, both at ${graphqlP99.rps} req/s offered`, graphqlP99.value, (v) => v <= 3, ratio],
    ["batch sessions/s ≥ 4 × GraphQL single's", ratios.batchSessionsOverSingle ?? NaN, (v) => v >= 4, ratio],
    ['client: in-process cache reads/s ÷ REST req/s over the network (unlike things; no target)', ratios.clientReadsOverRestRequests ?? NaN, () => true, ratio],
    ['client cache hit ratio (no target)', ratios.clientHitRatio ?? NaN, () => true, (v) => f(v, 4)],
    ['cluster REST ÷ REST (saturated req/s; no target)', ratios.clusterRestOverRest ?? NaN, () => true, ratio],
    ['cluster GraphQL ÷ GraphQL (saturated req/s; no target)', ratios.clusterGraphqlOverGraphql ?? NaN, () => true, ratio],
    ['cluster GraphQL batch ÷ GraphQL batch (saturated req/s; no target)', ratios.clusterBatchOverBatch ?? NaN, () => true, ratio],
    ['cluster GraphQL batch 100 ÷ GraphQL batch 100 (saturated req/s; no target)', ratios.clusterBatch100OverBatch100 ?? NaN, () => true, ratio],
    ['0 errors, every row, saturated and fixed load', errors, (v) => v === 0, String],
    [`0 mismatched answers, every row, saturated and fixed load (${checked} checked)`, mismatches, (v) => v === 0, String],
  ];
  if (extras !== undefined) {
    const memoryRatio = extras.memoryBytesPerSessionGateway / extras.memoryBytesPerSessionPeer;
    targets.push(
      [`client staleness p99 ≤ 50 ms (${extras.stalenessTrials} trials; p50 ${f(extras.stalenessP50Ms)} ms)`, extras.stalenessP99Ms, (v) => v <= 50, (v) => `${f(v)} ms`],
      ['client staleness max ≤ 200 ms', extras.stalenessMaxMs, (v) => v <= 200, (v) => `${f(v)} ms`],
      ['batch of 10: 1 Redis command (so 1 round trip)', extras.redisCommandsPerBatchOf10, (v) => v <= 1, ratio],
      ['read within touch interval: 1 Redis command', extras.redisCommandsPerReadWithinTouchInterval, (v) => v <= 1, (v) => f(v, 3)],
      ['1,000 reads within the interval: ≤ 1 write', extras.writesPer1000ReadsWithinTouchInterval, (v) => v <= 1, String],
      ['issue with a principal (session + index + limit): 1 script sent (EVALSHA)', extras.redisCommandsPerIndexedIssue, (v) => v <= 1, (v) => f(v, 3)],
      ['issue with a principal: 1 round trip', extras.redisRoundTripsPerIndexedIssue, (v) => v <= 1, (v) => f(v, 3)],
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

/**
 * The acknowledged-write rows' Redis: a primary and one replica (both on the load core, like the
 * bench's redis-server), resolved once the replica is online and confirms a write.
 */
async function startReplicatedPair(dir: string): Promise<{ primary: ChildProcess; replica: ChildProcess; url: string; redis: Redis }> {
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0'];
  const primary = pinned(LOAD_CORE, 'redis-server', ['--port', String(primaryPort), '--dir', dir, '--dbfilename', 'primary.rdb', ...common]);
  const replica = pinned(LOAD_CORE, 'redis-server', ['--port', String(replicaPort), '--dir', dir, '--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(primaryPort), ...common]);
  const redis = new Redis(primaryPort, '127.0.0.1', { retryStrategy: (n) => (n > 100 ? null : 50) });
  redis.on('error', () => undefined); // refused until redis-server is up
  for (let attempt = 0; !/slave0:.*state=online/.test(await redis.info('replication').catch(() => '')); attempt++) {
    if (attempt > 200) throw new Error('the replica of the acknowledged-write rows never came online');
    await new Promise((r) => setTimeout(r, 50));
  }
  await redis.set('bench:warm-up', '1');
  if ((await redis.wait(1, 10_000)) !== 1) throw new Error('the replica of the acknowledged-write rows does not confirm writes');
  return { primary, replica, url: `redis://127.0.0.1:${primaryPort}`, redis };
}

/** The gateway's own store, to seed sessions with IDs the bench chooses (the gateway's layout, byte for byte). */
function seedingStore(redis: RedisConfig): RedisSessionStore {
  return new RedisSessionStore(redisConnection(redis, 5000), { namespace: 'session', maxAttributeBytes: 65536, commandTimeoutMs: 5000 });
}

/** The Redis settings of the gateway on the local Cluster, as its configuration reads them. */
function clusterRedis(seeds: string): RedisConfig {
  const redis = loadConfig({ REDIS_CLUSTER_NODES: seeds, SERVICE_TOKENS: TOKEN }).redis;
  if (redis === undefined) throw new Error('REDIS_CLUSTER_NODES gave no Redis settings');
  return redis;
}

