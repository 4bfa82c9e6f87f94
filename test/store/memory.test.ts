import { seedSession } from '../support/sessions';
import { sessionDigest } from '../../src/session/ids';
import { MemorySessionStore } from '../../src/store/memory';
import { describeLifecycle } from './lifecycle.contract';
import { describeSessionStore, type HarnessOptions, type StoreHarness } from './store.contract';

async function memoryHarness(options: HarnessOptions): Promise<StoreHarness> {
  let offsetMs = 0;
  const store = new MemorySessionStore({ ...options, now: () => Date.now() + offsetMs });
  return {
    store,
    // The memory store's clock is the test's: moving it ages every session at once.
    async age(_digest, ms) {
      offsetMs += ms;
    },
    now: () => Date.now() + offsetMs,
    async expire(digest) {
      // Past the session's own deadline: the store only knows the one it was given.
      const stored = (await store.getMany([digest]))[0];
      if (stored) offsetMs += 30 * 24 * 3600 * 1000 + 1;
    },
    indexed: async (principal) => store.indexedDigests(principal),
    indexExists: async (principal) => store.indexedDigests(principal).length > 0,
    deadlineOf: async (digest) => store.deadlineOf(digest),
    close: () => store.close(),
  };
}

describeSessionStore('memory', memoryHarness);
describeLifecycle('memory', memoryHarness);

test('the memory store keys sessions by digest and drops expired ones', async () => {
  let nowMs = 1_000_000;
  const store = new MemorySessionStore({ maxAttributeBytes: 1024, now: () => nowMs });
  const digest = sessionDigest('A'.repeat(43));
  const stored = await seedSession(store, digest, { principal: null, attributes: [], maxInactiveSeconds: 10 });
  expect(stored).not.toBeNull();
  const keys = [...(store as unknown as { entries: Map<string, unknown> }).entries.keys()];
  expect(keys).toEqual([digest]);
  nowMs += 10_000;
  expect(store.size()).toBe(0);
  await store.close();
});
