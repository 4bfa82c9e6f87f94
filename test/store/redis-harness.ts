/**
 * The conformance suite's harness for a Redis store on any topology: idle time and expiry are
 * made by writing the session's key directly, through a client of the test's own (`keys`: a
 * plain connection, or a Cluster client for a Cluster).
 */
import type { Cluster, default as Redis } from 'ioredis';
import { storedDeadlineMs } from '../../src/session/model';
import { decodeSession, LAST_ACCESS_OFFSET } from '../../src/store/redis-codec';
import type { RedisSessionStore } from '../../src/store/redis';
import { indexMemberPrefix } from '../../src/store/redis-scripts';
import { waitUntil } from '../support/gateway';
import type { StoreHarness } from './store.contract';

export function redisHarness(store: RedisSessionStore, keys: Redis | Cluster): StoreHarness {
  return {
    store,
    now: () => store.now(),
    // Idle time passing: move the stored last access and the key's expiry back by that much,
    // exactly as they would stand had the session been idle that long.
    async age(digest, ms) {
      const key = store.keyOf(digest);
      const stored = decodeSession((await keys.getBuffer(key)) as Buffer);
      const lastAccessedAtMs = stored.lastAccessedAtMs - ms;
      await keys.setrange(key, LAST_ACCESS_OFFSET, String(lastAccessedAtMs).padStart(13, '0'));
      await keys.pexpireat(key, storedDeadlineMs({ ...stored, lastAccessedAtMs }));
    },
    async indexed(principal, service) {
      const prefix = indexMemberPrefix(principal);
      const members = await keys.zrange(store.indexOf(await service.tagOf(principal)), 0, -1);
      return members.filter((member) => member.startsWith(prefix)).map((member) => member.slice(prefix.length));
    },
    async indexExists(principal, service) {
      return (await keys.exists(store.indexOf(await service.tagOf(principal)))) === 1;
    },
    async deadlineOf(digest) {
      const at = Number(await keys.call('PEXPIRETIME', store.keyOf(digest)));
      return at > 0 ? at : null;
    },
    async expire(digest) {
      await keys.pexpire(store.keyOf(digest), 1);
      await waitUntil(async () => (await keys.exists(store.keyOf(digest))) === 0);
    },
    close: () => store.close(),
  };
}
