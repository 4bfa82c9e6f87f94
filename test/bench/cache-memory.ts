/**
 * What one cached session costs the gateway's near cache (SESSION_CACHE=on) in heap, against what
 * the cache counts it as (`approximateBytes`, which SESSION_CACHE_MAX_BYTES bounds). 100,000
 * sessions of a typical shape (a principal, a user agent and address, a `user` attribute and a
 * `cart`: 93 bytes of JSON), decoded from the store's value format as a read decodes them.
 *
 *     node --expose-gc --import tsx test/bench/cache-memory.ts
 */
import { NearCache } from '../../src/cache/near-cache';
import type { StoredSession } from '../../src/session/model';
import { approximateBytes } from '../../src/sessions/session-cache';
import { decodeSession, encodeSession } from '../../src/store/redis-codec';

const SESSIONS = 100_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const cache = new NearCache<StoredSession>({ maxEntries: SESSIONS, maxBytes: Number.MAX_SAFE_INTEGER });
cache.enable();
const sessionOf = (i: number): StoredSession =>
  decodeSession(
    Buffer.from(
      encodeSession({
        principal: `member-${i}`,
        attributes: new Map([
          ['user', JSON.stringify({ id: 100_000 + i, name: '김민수', roles: ['member'] })],
          ['cart', '[1,2,3]'],
        ]),
        createdAtMs: 1_765_000_000_000,
        lastAccessedAtMs: 1_765_000_000_000 + i,
        maxInactiveSeconds: 3600,
        version: 1,
        absoluteExpiresAtMs: 0,
        lifetimeSeconds: 0,
        authenticatedAtMs: 0,
        device: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64)', clientAddress: '203.0.113.0' },
      }),
    ),
  );
// The keys are digests the service holds anyway; made before the measurement.
const keys = Array.from({ length: SESSIONS }, (_, i) => `k${String(i).padStart(46, '0')}`);
gc();
gc();
const before = process.memoryUsage().heapUsed;
let counted = 0;
for (let i = 0; i < SESSIONS; i++) {
  const session = sessionOf(i);
  counted += approximateBytes(session);
  cache.put(cache.ticket(keys[i] as string), session, approximateBytes(session), Date.now() + 3_600_000);
}
gc();
gc();
const after = process.memoryUsage().heapUsed;
console.log(JSON.stringify({ sessions: cache.size, heapBytesPerSession: Math.round((after - before) / SESSIONS), countedBytesPerSession: Math.round(counted / SESSIONS) }));
