/**
 * The store conformance suite on a real Redis Cluster (3 primaries, 3 replicas) and on a real
 * Sentinel group (a primary, a replica, 3 sentinels), each connected by the same factory
 * (`store/connect.ts`) main.ts uses, from configuration alone.
 */
import type { Cluster, default as Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config';
import { openStore } from '../../src/store/connect';
import type { RedisSessionStore } from '../../src/store/redis';
import { uniqueNamespace, waitUntil } from '../support/gateway';
import { startCluster, type RedisCluster } from '../support/redis-cluster';
import { startSentinelGroup, type SentinelGroup } from '../support/redis-sentinel';
import { redisHarness } from './redis-harness';
import { describeLifecycle } from './lifecycle.contract';
import { describeSessionStore, type HarnessOptions, type StoreHarness } from './store.contract';

let cluster: RedisCluster;
let sentinel: SentinelGroup;

beforeAll(async () => {
  [cluster, sentinel] = await Promise.all([startCluster(), startSentinelGroup()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([cluster.destroy(), sentinel.destroy()]);
});

/** A store from configuration, and a harness that ages and expires its keys through `keys`. */
async function harnessOn(env: Record<string, string>, keys: () => Redis | Cluster, options: HarnessOptions): Promise<StoreHarness> {
  const config: Config = loadConfig({ ...env, SESSION_NAMESPACE: uniqueNamespace(), MAX_ATTRIBUTE_BYTES: String(options.maxAttributeBytes), REDIS_COMMAND_TIMEOUT_MS: '2000' });
  const store = openStore(config) as RedisSessionStore;
  await waitUntil(() => store.ping().then(() => true, () => false), 10_000);
  return redisHarness(store, keys());
}

describeSessionStore('redis cluster', (options) => harnessOn({ REDIS_CLUSTER_NODES: cluster.seeds }, () => cluster.client(), options));
describeLifecycle('redis cluster', (options) => harnessOn({ REDIS_CLUSTER_NODES: cluster.seeds }, () => cluster.client(), options));
describeLifecycle('redis sentinel', (options) =>
  harnessOn({ REDIS_SENTINELS: sentinel.sentinelList, REDIS_SENTINEL_NAME: sentinel.name }, () => sentinel.client(), options),
);
describeSessionStore('redis sentinel', (options) =>
  harnessOn({ REDIS_SENTINELS: sentinel.sentinelList, REDIS_SENTINEL_NAME: sentinel.name }, () => sentinel.client(), options),
);
