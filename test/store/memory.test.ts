import { sessionDigest } from '../../src/session/ids';
import { MemorySessionStore } from '../../src/store/memory';
import { describeSessionStore } from './store.contract';

describeSessionStore('memory', async (options) => {
  let offsetMs = 0;
  const store = new MemorySessionStore({ ...options, now: () => Date.now() + offsetMs });
  return {
    store,
    // The memory store's clock is the test's: moving it ages every session at once.
    async age(_id, ms) {
      offsetMs += ms;
    },
    now: () => Date.now() + offsetMs,
    async expire(id) {
      const record = (await store.getMany([id]))[0];
      if (record) offsetMs += record.expiresAtMs - (Date.now() + offsetMs) + 1;
    },
    close: () => store.close(),
  };
});

test('the memory store keys sessions by digest and drops expired ones', async () => {
  let nowMs = 1_000_000;
  const store = new MemorySessionStore({ maxAttributeBytes: 1024, touchIntervalSeconds: 60, now: () => nowMs });
  const record = await store.create('A'.repeat(42) + 'A', { principal: null, attributes: [], maxInactiveSeconds: 10 });
  expect(record).not.toBeNull();
  const keys = [...(store as unknown as { entries: Map<string, unknown> }).entries.keys()];
  expect(keys).toEqual([sessionDigest('A'.repeat(43))]);
  nowMs += 10_000;
  expect(store.size()).toBe(0);
  await store.close();
});
