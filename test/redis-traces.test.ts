/**
 * What Redis itself records holds no session ID: neither MONITOR (every command with its
 * arguments, as an operator tailing Redis sees it) nor the slow log (here set to log every
 * command), whatever way the ID travelled to the gateway. Keys name sessions by a digest.
 */
import { sessionDigest } from '../src/session/ids';
import { randomUUID } from 'node:crypto';
import type { RedisSessionStore } from '../src/store/redis';
import { gatewayOverRedis, SERVICE, SERVICE_TOKEN, waitUntil } from './support/gateway';

const fx = gatewayOverRedis();

test('MONITOR and the slow log never see a session ID or a token, however the ID came', async () => {
  const redis = fx.redis;
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  await redis.config('SET', 'slowlog-max-len', '100000');
  await redis.slowlog('RESET');
  const seen: string[][] = [];
  const monitor = await fx.server.client().monitor();
  monitor.on('monitor', (_time: string, args: string[]) => seen.push(args.map(String)));
  const ids: string[] = [];
  try {
    const issue = async (): Promise<string> => {
      const response = await fx.gateway.gql('mutation { issueSession(input: { principal: "p", attributes: { user: { n: 1 } } }) { id } }', {}, SERVICE);
      const id = response.body.data?.issueSession.id as string;
      ids.push(id);
      return id;
    };
    const [a, b, c] = [await issue(), await issue(), await issue()];
    // GraphQL: header, cookie, variables, inline in the query; update and revoke by ID.
    expect((await fx.gateway.gql('{ session { id } }', {}, { 'X-Session-ID': a })).body.data?.session).toEqual({ id: a });
    expect((await fx.gateway.gql('{ session { id } }', {}, { Cookie: `JSESSIONID=${b}` })).body.data?.session).toEqual({ id: b });
    expect((await fx.gateway.gql('query($ids: [ID!]!) { sessions(ids: $ids) { id } }', { ids: [a, b, c] }, SERVICE)).body.data?.sessions).toHaveLength(3);
    expect((await fx.gateway.gql(`mutation { updateSession(id: "${c}", patch: { set: { seen: true } }) { version } }`, {}, SERVICE)).body.data).toEqual({ updateSession: { version: 2 } });
    // REST: v2 header, v1 query parameter and path parameter, an unknown ID, no ID at all.
    for (const request of [
      fx.gateway.http.get('/api/v2/session').set('X-Session-ID', a),
      fx.gateway.http.get(`/api/v1/session?JSESSIONID=${b}`),
      fx.gateway.http.get(`/api/v1/session;jsessionid=${c}`),
      fx.gateway.http.get('/api/v2/session').set('X-Session-ID', randomUUID()),
      fx.gateway.http.get('/api/v2/session'),
    ]) {
      const response = await request;
      expect(response.status).toBe(200);
      ids.push(response.headers['x-session-id'] as string);
    }
    expect((await fx.gateway.gql('mutation($id: ID) { revokeSession(id: $id) }', { id: a }, SERVICE)).body.data).toEqual({ revokeSession: true });

    // Everything the gateway sent is in MONITOR once a sentinel sent after it on its connection is.
    const sentinel = `sentinel-${randomUUID()}`;
    await (fx.gateway.store as RedisSessionStore).client.echo(sentinel);
    await waitUntil(async () => seen.some((args) => args[1] === sentinel));
  } finally {
    monitor.disconnect();
  }
  const slow = JSON.stringify(await redis.slowlog('GET', 100000));

  // Not vacuous: both saw the gateway's commands, on the keys of these very sessions.
  const commands = new Set(seen.map((args) => (args[0] as string).toLowerCase()));
  for (const command of ['evalsha', 'get', 'mget']) expect(commands).toContain(command);
  const keyOf = (id: string): string => (fx.gateway.store as RedisSessionStore).keyOf(sessionDigest(id));
  expect(seen.some((args) => args.includes(keyOf(ids[0] as string)))).toBe(true);
  expect(slow).toContain(keyOf(ids[0] as string));

  const monitored = JSON.stringify(seen);
  for (const secret of [...ids, SERVICE_TOKEN]) {
    expect(monitored).not.toContain(secret);
    expect(slow).not.toContain(secret);
  }
});
