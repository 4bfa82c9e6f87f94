/**
 * A client's own writes are final for that client the moment they resolve, even when its
 * requests are reordered on the way: no read that resolves after `revoke()` resolved serves the
 * session, and none that resolves after `update()` resolved answers an older version.
 *
 * The path: two gateways on one real Redis, behind a TCP proxy written here that spreads
 * connections over both and holds every chunk a random 0–6 ms, as several keep-alive connections
 * or nginx in front of several gateways may. A read sent just after a write can then reach a
 * gateway first and still be answered last.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Session } from '../../src/client';
import { SessionClient } from '../../src/client';
import { generateSessionId } from '../../src/session/ids';
import { SERVICE_TOKEN, startGatewayPair, waitUntil, type Gateway } from '../support/gateway';
import { startRedis, type RedisServer } from '../support/redis-server';

const TRIALS = 100;
const MAX_DELAY_MS = 6;

let server: RedisServer;
let a: Gateway;
let b: Gateway;
let proxy: ReorderingProxy;
let caching: SessionClient;
let uncached: SessionClient;

beforeAll(async () => {
  server = await startRedis();
  const pair = await startGatewayPair(server.url);
  ({ a, b } = pair);
  proxy = await startReorderingProxy([portOf(pair.baseA), portOf(pair.baseB)], MAX_DELAY_MS);
  caching = new SessionClient({ url: proxy.url, token: SERVICE_TOKEN });
  uncached = new SessionClient({ url: proxy.url, token: SERVICE_TOKEN, cache: false });
  await waitUntil(async () => caching.caching);
});
afterAll(async () => {
  await caching.close();
  await uncached.close();
  await proxy.close();
  await a.close();
  await b.close();
  await server.destroy();
});

/**
 * Reads of `id` started right after a write, while it is on the wire: a miss, one joining it,
 * and a getMany that also waits on a request of its own (for an ID no one issued).
 */
function racingReads(client: SessionClient, id: string): Array<Promise<Session | null>> {
  return [client.get(id), client.get(id), client.getMany([generateSessionId(), id]).then((many) => many[1] ?? null)];
}

const clients = [
  { name: 'a caching client', client: () => caching },
  { name: 'a client without a cache', client: () => uncached },
];

describe.each(clients)('$name', ({ client: which }) => {
  test(`revoke racing its own reads (${TRIALS} trials): nothing resolving after it serves the session`, async () => {
    const client = which();
    const served: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const { id } = await client.issue();
      let revoked = false;
      const revoking = client.revoke(id).then((existed) => {
        revoked = true;
        return existed;
      });
      const racing = racingReads(client, id).map((read, n) =>
        read.then((session) => {
          if (revoked && session !== null) served.push(`trial ${trial}: racing read ${n}`);
        }),
      );
      expect(await revoking).toBe(true);
      if ((await client.get(id)) !== null) served.push(`trial ${trial}: first read after`);
      await Promise.all(racing);
    }
    expect(served).toEqual([]);
  });

  test(`update racing its own reads (${TRIALS} trials): nothing resolving after it is older`, async () => {
    const client = which();
    const older: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const { id } = await client.issue({ attributes: { n: 0 } });
      let floor: number | null = null;
      const check = (what: string) => (session: Session | null) => {
        if (floor !== null && (session === null || session.version < floor)) {
          older.push(`trial ${trial}: ${what} answered ${session === null ? 'null' : `v${session.version}`} after v${floor}`);
        }
      };
      const updating = client.update(id, { set: { n: 1 } }).then((session) => {
        floor = session.version;
      });
      const racing = racingReads(client, id).map((read, n) => read.then(check(`racing read ${n}`)));
      await updating;
      check('first read after')(await client.get(id));
      await Promise.all(racing);
    }
    expect(older).toEqual([]);
  });
});

interface ReorderingProxy {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Listens on loopback and connects each incoming connection to the next of `ports` in turn;
 * every chunk, either way, is held a random 0–maxDelayMs before it is passed on (in order within
 * its connection, as TCP keeps it), so requests on different connections overtake each other.
 */
async function startReorderingProxy(ports: readonly number[], maxDelayMs: number): Promise<ReorderingProxy> {
  const sockets = new Set<Socket>();
  let next = 0;
  const proxyServer: Server = createServer((downstream) => {
    const upstream = connect(ports[next++ % ports.length] as number, '127.0.0.1');
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    relay(downstream, upstream, maxDelayMs);
    relay(upstream, downstream, maxDelayMs);
  });
  await new Promise<void>((resolve) => proxyServer.listen(0, '127.0.0.1', resolve));
  const { port } = proxyServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxyServer.close(resolve));
    },
  };
}

function relay(from: Socket, to: Socket, maxDelayMs: number): void {
  let delivered = Promise.resolve();
  const after = (step: () => void): void => {
    delivered = delivered
      .then(() => new Promise((resolve) => setTimeout(resolve, Math.random() * maxDelayMs)))
      .then(() => {
        if (!to.destroyed) step();
      });
  };
  from.on('data', (chunk: Buffer) => after(() => to.write(chunk)));
  from.on('end', () => after(() => to.end()));
}

function portOf(base: string): number {
  return Number(new URL(base).port);
}
