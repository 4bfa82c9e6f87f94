/**
 * What the caches' leases cost a revocation, and how stale another gateway's cache can be for an
 * update, with two gateway processes (`dist/main.js`, as `npm start` runs) on one redis-server:
 *
 * 1. Revocation latency, cache off and SESSION_CACHE=on: 1,000 `revokeSession(id:)` through A,
 *    each of a session just read twice through B (with the cache on, B holds it, so the revoke
 *    waits for B's confirmation). p50 and p99 of each, and their ratio.
 * 2. Update staleness, SESSION_CACHE=on: 1,000 trials of "a session cached on B is updated
 *    through A; from the moment the update was sent, how long until a read through B answers the
 *    new version" (B is read in a loop meanwhile, one request at a time).
 *
 *     npm run --silent build && node --import tsx test/bench/revocation-cost.ts
 *
 * Figures are for one machine and one run; compare them within a run.
 */
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { SERVICE_TOKEN, uniqueNamespace } from '../support/gateway';
import { startRedis } from '../support/redis-server';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 1000);
const AUTH = { 'Content-Type': 'application/json', Authorization: `Bearer ${SERVICE_TOKEN}` };

async function gql(gateway: GatewayProcess, query: string, variables: Record<string, unknown>, headers: Record<string, string> = AUTH): Promise<Record<string, any>> {
  const response = await fetch(`http://${gateway.address}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown };
  if (body.errors !== undefined || body.data === undefined) throw new Error(JSON.stringify(body));
  return body.data;
}

const issue = async (gateway: GatewayProcess): Promise<string> => (await gql(gateway, 'mutation { issueSession(input: { principal: "bench" }) { id } }', {})).issueSession.id as string;
const versionOn = async (gateway: GatewayProcess, id: string): Promise<number | null> =>
  ((await gql(gateway, '{ session { version } }', {}, { 'X-Session-ID': id })).session?.version as number | undefined) ?? null;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

function summary(samples: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) as number };
}

async function pair(redisUrl: string, env: Record<string, string>): Promise<[GatewayProcess, GatewayProcess]> {
  const namespace = uniqueNamespace();
  const a = await startGatewayProcess({ redisUrl, namespace, env });
  const b = await startGatewayProcess({ redisUrl, namespace, env });
  return [a, b];
}

async function revocations(a: GatewayProcess, b: GatewayProcess): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const id = await issue(a);
    await versionOn(b, id);
    await versionOn(b, id);
    const started = performance.now();
    const revoked = await gql(a, 'mutation($id: ID) { revokeSession(id: $id) }', { id });
    latencies.push(performance.now() - started);
    if (revoked.revokeSession !== true) throw new Error('not revoked');
  }
  return latencies;
}

async function staleness(a: GatewayProcess, b: GatewayProcess): Promise<number[]> {
  const delays: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const id = await issue(a);
    await versionOn(b, id);
    if ((await versionOn(b, id)) !== 1) throw new Error('B did not answer version 1');
    const started = performance.now();
    const updating = gql(a, 'mutation($id: ID) { updateSession(id: $id, patch: { set: { n: 1 } }) { version } }', { id });
    while ((await versionOn(b, id)) !== 2) {
      if (performance.now() - started > 10_000) throw new Error('B never saw the update');
    }
    delays.push(performance.now() - started);
    await updating;
  }
  return delays;
}

async function main(): Promise<void> {
  const server = await startRedis();
  const stopAll = async (gateways: GatewayProcess[]): Promise<void> => {
    for (const gateway of gateways) await gateway.kill();
  };
  try {
    const off = await pair(server.url, { TOUCH_INTERVAL: '600' });
    const revokeOff = summary(await revocations(...off));
    await stopAll(off);
    const on = await pair(server.url, { TOUCH_INTERVAL: '600', SESSION_CACHE: 'on' });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // both leases held
    const revokeOn = summary(await revocations(...on));
    const stale = summary(await staleness(...on));
    await stopAll(on);
    const ms = (n: number): string => n.toFixed(2);
    console.log(`\n${TRIALS} trials each, two gateway processes on one redis-server (${new Date().toISOString()}):\n`);
    console.log('| measurement | p50 ms | p99 ms | max ms |');
    console.log('|---|---:|---:|---:|');
    console.log(`| revokeSession, cache off | ${ms(revokeOff.p50)} | ${ms(revokeOff.p99)} | ${ms(revokeOff.max)} |`);
    console.log(`| revokeSession, SESSION_CACHE=on (waits for B's confirmation) | ${ms(revokeOn.p50)} | ${ms(revokeOn.p99)} | ${ms(revokeOn.max)} |`);
    console.log(`| update through A until B answers it, SESSION_CACHE=on | ${ms(stale.p50)} | ${ms(stale.p99)} | ${ms(stale.max)} |`);
    console.log(`\nrevoke p99, cache on / cache off: ${(revokeOn.p99 / revokeOff.p99).toFixed(2)}×`);
    console.log(`BENCH_RESULT ${JSON.stringify({ trials: TRIALS, revokeOff, revokeOn, revokeP99Ratio: revokeOn.p99 / revokeOff.p99, staleness: stale })}`);
  } finally {
    await server.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
