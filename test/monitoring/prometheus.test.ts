/**
 * The shipped monitoring (src/monitoring/) checked by Prometheus itself:
 *
 * - `promtool check rules` accepts the rules, and `promtool test rules` passes their unit tests
 *   (test/monitoring/prometheus-rules.test.yml: every alert fires when it should and stays quiet
 *   when it should not);
 * - a real Prometheus, scraping two real gateways over a real Redis under test traffic, loads
 *   every rule group and evaluates every rule without error, and answers every query of the
 *   Grafana dashboard: each parses, and the main panels (request rate, error ratio, latency,
 *   store commands, the SLO's burn rate) show data from both instances;
 * - and an alert fires in it for real: the instance whose subscriber is cut off when it loses its
 *   Redis subscription, and only that one, raises GatewayChangeFeedLost.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rawChangeStream } from '../support/changes';
import { SERVICE, startGateway, waitUntil, type Gateway } from '../support/gateway';
import { startPrometheus, type ApiResponse, type PrometheusServer } from '../support/prometheus-server';
import { startRedis, type RedisServer } from '../support/redis-server';

const ROOT = join(__dirname, '..', '..');
const RULES = join(ROOT, 'src', 'monitoring', 'prometheus-rules.yml');
const RULE_TESTS = join(ROOT, 'test', 'monitoring', 'prometheus-rules.test.yml');
const DASHBOARD = join(ROOT, 'src', 'monitoring', 'grafana-dashboard.json');
const JOB = 'session-gateway';

/** Grafana's variables as one concrete choice: this job, every instance, a 1-minute window. */
const VARIABLES: Record<string, string> = { __rate_interval: '1m', job: JOB, instance: '.*' };

/**
 * The panels a dashboard user looks at first: each of their queries must show data. The burn
 * rate reads the SLO's recording rules, so it also proves those work on what the gateway exports.
 */
const MAIN_PANELS = ['Request rate by route', 'Server error ratio', 'Request latency (API)', 'Store command rate by operation', 'Latency SLO burn rate'];

interface Dashboard {
  panels: Array<{ type: string; title: string; targets?: Array<{ refId: string; expr: string }> }>;
  templating: { list: Array<{ name: string; type: string; query?: { query: string } }> };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

function withVariables(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const value = VARIABLES[name];
    if (value === undefined) throw new Error(`the dashboard uses a variable the test does not set: ${whole} in ${expr}`);
    return value;
  });
}

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd: ROOT }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, output: `$ promtool ${args.join(' ')}\n${stdout}${stderr}${error !== null && code === -1 ? String(error) : ''}` });
    });
  });
}

describe('promtool', () => {
  test('check rules: the shipped rules are valid', async () => {
    const result = await promtool('check', 'rules', RULES);
    if (result.code !== 0) console.error(result.output);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.code).toBe(0);
  });

  test('test rules: every alert fires when it should and stays quiet when it should not', async () => {
    const result = await promtool('test', 'rules', RULE_TESTS);
    if (result.code !== 0) console.error(result.output);
    expect(result.code).toBe(0);

    // Every alert of the rules has a unit test in which it fires and one in which it stays quiet.
    const alerts = [...readFileSync(RULES, 'utf8').matchAll(/^\s*- alert: (\S+)$/gm)].map((match) => match[1]);
    const tests = readFileSync(RULE_TESTS, 'utf8');
    const cases = [...tests.matchAll(/alertname: (\S+)\n\s*exp_alerts:( \[\])?/g)].map((match) => ({ alert: match[1], quiet: match[2] !== undefined }));
    for (const alert of alerts) {
      expect([alert, cases.some((c) => c.alert === alert && !c.quiet), cases.some((c) => c.alert === alert && c.quiet)]).toEqual([alert, true, true]);
    }
  });
});

describe('a real Prometheus scraping two gateways', () => {
  let redis: RedisServer;
  const gateways: Gateway[] = [];
  const targets: string[] = [];
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    redis = await startRedis();
    // One instance with the session cache on, so the cache panels have data too.
    for (const env of [{ SESSION_CACHE: 'on' }, {}] as Array<Record<string, string>>) {
      const gateway = await startGateway({ redisUrl: redis.url, env });
      gateways.push(gateway);
      targets.push(new URL(await gateway.app.listen({ port: 0, host: '127.0.0.1' })).host);
    }
    prometheus = await startPrometheus({ job: JOB, targets, ruleFiles: [RULES] });
  }, 30_000);

  afterAll(async () => {
    await prometheus?.stop();
    for (const gateway of gateways) await gateway.close();
    await redis?.destroy();
  });

  /** What a client does: issue, read over GraphQL and REST, batch-read, update, revoke, one refused request, probes. */
  async function traffic(gateway: Gateway): Promise<void> {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const issued = await gateway.gql('mutation { issueSession { id } }', {}, SERVICE);
      ids.push(issued.body.data?.issueSession.id as string);
    }
    for (const id of ids) {
      expect((await gateway.gql('{ session { id } }', {}, { 'X-Session-ID': id })).body.data?.session.id).toBe(id);
      expect((await gateway.http.get('/api/v2/session').set('X-Session-ID', id)).status).toBe(200);
    }
    expect((await gateway.gql('query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids }, SERVICE)).body.data?.sessions).toHaveLength(3);
    expect((await gateway.gql('mutation($id: ID) { updateSession(id: $id, patch: { set: { a: 1 } }) { version } }', { id: ids[0] }, SERVICE)).body.errors).toBeUndefined();
    expect((await gateway.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: ids[1] }, SERVICE)).body.data?.revokeSession).toBe(true);
    const refused = await gateway.gql('mutation { issueSession { id } }', {}, { Authorization: 'Bearer wrong-token-0123456789' });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await gateway.http.get('/readyz')).status).toBe(200);
  }

  /** Until Prometheus has scraped both gateways: its first scrape comes seconds after it is ready. */
  async function bothScraped(): Promise<void> {
    await waitUntil(async () => ((await prometheus.api('query', { query: `up{job="${JOB}"} == 1` })).data?.result?.length ?? 0) === 2, 15_000);
  }

  async function query(expr: string): Promise<{ status: string; error?: string; series: number }> {
    const response = await prometheus.api('query', { query: expr });
    return { status: response.status, ...(response.error === undefined ? {} : { error: response.error }), series: response.data?.result?.length ?? 0 };
  }

  test('loads every rule group of the shipped rules and evaluates every rule without error', async () => {
    const groups = [...readFileSync(RULES, 'utf8').matchAll(/^ {2}- name: (\S+)$/gm)].map((match) => match[1]);
    expect(groups.length).toBeGreaterThan(0);
    let loaded: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }> = [];
    // Until every rule has been evaluated once (health goes from "unknown" to "ok" or "err").
    await waitUntil(async () => {
      loaded = (await prometheus.api('rules')).data?.groups ?? [];
      return loaded.length === groups.length && loaded.every((group) => group.rules.every((rule) => rule.health !== 'unknown'));
    }, 15_000);
    expect(loaded.map((group) => group.name).sort()).toEqual([...groups].sort());
    const unhealthy = loaded.flatMap((group) => group.rules.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.health} ${rule.lastError ?? ''}`));
    expect(unhealthy).toEqual([]);
    expect(loaded.flatMap((group) => group.rules).length).toBe([...readFileSync(RULES, 'utf8').matchAll(/^\s*- (record|alert): /gm)].length);
  }, 20_000);

  // Before the dashboard test, which takes seconds: so that the gateways' Redis subscriptions,
  // killed here, are back long before the suite ends.
  test('a gateway that loses its Redis subscription, with a subscriber on it, raises GatewayChangeFeedLost for that instance only', async () => {
    const target = targets[1] as string;
    // The counter's 0 must be in Prometheus before it becomes 1, or there is no increase to see.
    await bothScraped();
    const stream = await rawChangeStream(`ws://${target}/graphql`, SERVICE.Authorization);
    try {
      // Both gateways lose their Redis subscription (the cached one holds one for its cache), but
      // only this one had a subscriber's stream to cut off.
      await redis.client().client('KILL', 'TYPE', 'pubsub');
      await waitUntil(async () => stream.received.some((message) => message.type === 'error'));
    } finally {
      await stream.close();
    }

    let firing: Array<{ labels: Record<string, string> }> = [];
    await waitUntil(async () => {
      const alerts = ((await prometheus.api('alerts')).data?.alerts ?? []) as Array<{ labels: Record<string, string>; state: string }>;
      firing = alerts.filter((alert) => alert.labels.alertname === 'GatewayChangeFeedLost' && alert.state === 'firing');
      return firing.length > 0;
    }, 15_000);
    expect(firing.map((alert) => alert.labels)).toEqual([{ alertname: 'GatewayChangeFeedLost', severity: 'warning', job: JOB, instance: target }]);
  }, 25_000);

  test('every dashboard query parses; the main panels show data from both instances', async () => {
    await Promise.all(gateways.map(traffic));
    // Both instances scraped, and scraped again after the traffic, so every rate has two samples
    // (and the recording rules evaluated on them).
    const mainExprs = dashboard.panels.filter((panel) => MAIN_PANELS.includes(panel.title)).flatMap((panel) => panel.targets ?? []).map((target) => withVariables(target.expr));
    expect(mainExprs.length).toBeGreaterThanOrEqual(MAIN_PANELS.length);
    await bothScraped();
    await waitUntil(async () => {
      for (const expr of mainExprs) if ((await query(expr)).series === 0) return false;
      return true;
    }, 20_000);

    const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
    const results: Array<{ panel: string; refId: string; status: string; error?: string; series: number }> = [];
    for (const panel of panels) {
      for (const target of panel.targets ?? []) results.push({ panel: panel.title, refId: target.refId, ...(await query(withVariables(target.expr))) });
    }
    expect(panels.every((panel) => (panel.targets ?? []).length > 0)).toBe(true);
    expect(results.filter((result) => result.status !== 'success')).toEqual([]);
    for (const title of MAIN_PANELS) {
      expect([title, results.filter((result) => result.panel === title).every((result) => result.series > 0)]).toEqual([title, true]);
    }

    // Per-instance and per-route breakdowns name what the traffic touched.
    const byRoute = await prometheus.api('query', { query: withVariables(dashboard.panels.find((panel) => panel.title === 'Request rate by route')!.targets![0]!.expr) });
    const routes = (byRoute.data.result as Array<{ metric: { route: string } }>).map((series) => series.metric.route);
    expect(routes).toEqual(expect.arrayContaining(['/graphql', '/api/v2/session', '/readyz']));
    const byInstance = await prometheus.api('query', { query: `sum by (instance) (gateway_store_command_duration_seconds_count{job="${JOB}"})` });
    expect((byInstance.data.result as Array<{ metric: { instance: string } }>).map((series) => series.metric.instance).sort()).toEqual([...targets].sort());
    // The refused request is the client error the error panel shows.
    const errors = results.filter((result) => result.panel === 'Server error ratio');
    expect(errors.map((result) => result.series)).toEqual([1, 1]);
  }, 30_000);

  test('the dashboard variables list the job and both instances', async () => {
    await bothScraped();
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
      const match = /^label_values\((.+), (\w+)\)$/.exec(variable.query?.query ?? '');
      expect([variable.name, match !== null]).toEqual([variable.name, true]);
      const [, selector, label] = match as RegExpExecArray;
      const expected = variable.name === 'instance' ? targets : [JOB];
      let values: ApiResponse | undefined;
      // The request series appear once a request (a scrape, at least) has been counted and scraped.
      await waitUntil(async () => {
        values = await prometheus.api(`label/${label}/values`, { 'match[]': withVariables(selector as string) });
        return values.status !== 'success' || expected.every((value) => (values?.data as string[]).includes(value));
      }, 10_000);
      expect(values?.status).toBe('success');
      expect(values?.data).toEqual(expect.arrayContaining(expected));
    }
  }, 20_000);
});
