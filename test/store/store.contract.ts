/**
 * The SessionStore conformance suite: one set of behaviours, run against every store
 * (redis.test.ts, memory.test.ts). A store that passes it can stand behind the gateway.
 */
import { GatewayError } from '../../src/errors';
import { generateSessionId, sessionDigest } from '../../src/session/ids';
import type { NewSession, SessionPatch, SessionRecord } from '../../src/session/model';
import type { SessionChange, SessionStore } from '../../src/store/store';

export interface StoreHarness {
  readonly store: SessionStore;
  /** Makes a session's idle time pass, as if `ms` went by without use. */
  age(id: string, ms: number): Promise<void>;
  /** The store's clock now, in epoch ms (the memory store's clock is moved by `age`). */
  now(): number;
  /** Makes a session expire, as if its idle timeout had passed. */
  expire(id: string): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly maxAttributeBytes: number;
  readonly touchIntervalSeconds: number;
}

const LIMIT = 4096;
const TOUCH_SECONDS = 60;

const plain = (overrides: Partial<NewSession> = {}): NewSession => ({
  principal: 'user-1',
  attributes: [['user', '{"name":"Kim","roles":["member"]}']],
  maxInactiveSeconds: 600,
  ...overrides,
});
const patch = (overrides: Partial<SessionPatch>): SessionPatch => ({ set: [], unset: [], ...overrides });

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GatewayError) return error.code;
    throw error;
  }
  return 'no error';
}

export function describeSessionStore(name: string, open: (options: HarnessOptions) => Promise<StoreHarness>): void {
  describe(`SessionStore conformance: ${name}`, () => {
    let harness: StoreHarness;
    let store: SessionStore;

    beforeAll(async () => {
      harness = await open({ maxAttributeBytes: LIMIT, touchIntervalSeconds: TOUCH_SECONDS });
      store = harness.store;
    });
    afterAll(async () => harness.close());

    async function created(session: NewSession = plain()): Promise<SessionRecord> {
      const record = await store.create(generateSessionId(), session);
      if (record === null) throw new Error('create refused a fresh id');
      return record;
    }
    async function read(id: string): Promise<SessionRecord | null> {
      return (await store.getMany([id]))[0] ?? null;
    }

    test('a created session reads back with everything it was given', async () => {
      const record = await created();
      expect(record.version).toBe(1);
      expect(record.expiresAtMs - record.createdAtMs).toBe(600_000);
      const back = await read(record.id);
      expect(back).not.toBeNull();
      expect(back?.principal).toBe('user-1');
      expect([...(back?.attributes ?? [])]).toEqual([['user', '{"name":"Kim","roles":["member"]}']]);
      expect(back?.createdAtMs).toBe(record.createdAtMs);
      expect(back?.maxInactiveSeconds).toBe(600);
      expect(back?.version).toBe(1);
      // On the store's clock (the memory store's is moved by other tests' `age`).
      expect(Math.abs((back?.createdAtMs ?? 0) - harness.now())).toBeLessThan(60_000);
    });

    test('create never overwrites an existing session', async () => {
      const record = await created();
      expect(await store.create(record.id, plain({ principal: 'intruder', attributes: [] }))).toBeNull();
      const back = await read(record.id);
      expect(back?.principal).toBe('user-1');
      expect(back?.attributes.get('user')).toBe('{"name":"Kim","roles":["member"]}');
    });

    test('getMany answers in the order asked, with null where missing, and once per repeat', async () => {
      const a = await created(plain({ principal: 'a' }));
      const b = await created(plain({ principal: 'b' }));
      const missing = generateSessionId();
      const records = await store.getMany([b.id, missing, a.id, b.id]);
      expect(records.map((r) => r?.principal ?? null)).toEqual(['b', null, 'a', 'b']);
      expect(await store.getMany([])).toEqual([]);
    });

    test('a session without principal or attributes round-trips', async () => {
      const record = await created(plain({ principal: null, attributes: [] }));
      const back = await read(record.id);
      expect(back?.principal).toBeNull();
      expect(back?.attributes.size).toBe(0);
    });

    test('attribute text is kept byte for byte: unicode, big numbers, nesting', async () => {
      const json = '{"이름":"김민수","n":12345678901234567890,"f":0.1,"deep":{"a":[1,{"b":null}]},"s":"a|b|3|x"}';
      const record = await created(plain({ principal: '사용자|1', attributes: [['회원', json], ['a|b', '"|"']] }));
      const back = await read(record.id);
      expect(back?.principal).toBe('사용자|1');
      expect(back?.attributes.get('회원')).toBe(json);
      expect(back?.attributes.get('a|b')).toBe('"|"');
    });

    test('update sets and unsets attributes, leaves the others, bumps the version', async () => {
      const record = await created(plain({ attributes: [['user', '1'], ['cart', '[1]'], ['theme', '"dark"']] }));
      const next = await store.update(record.id, patch({ set: [['cart', '[1,2]'], ['lang', '"ko"']], unset: ['theme'] }));
      expect(next.version).toBe(2);
      expect([...next.attributes]).toEqual([['user', '1'], ['cart', '[1,2]'], ['lang', '"ko"']]);
      const back = await read(record.id);
      expect([...(back?.attributes ?? [])]).toEqual([['user', '1'], ['cart', '[1,2]'], ['lang', '"ko"']]);
      expect(back?.version).toBe(2);
      expect(back?.createdAtMs).toBe(record.createdAtMs);
    });

    test('update changes and clears the principal, and changes the idle timeout', async () => {
      const record = await created();
      const renamed = await store.update(record.id, patch({ principal: 'user-2', maxInactiveSeconds: 120 }));
      expect(renamed.principal).toBe('user-2');
      expect(renamed.maxInactiveSeconds).toBe(120);
      expect(renamed.expiresAtMs - renamed.lastAccessedAtMs).toBe(120_000);
      const cleared = await store.update(record.id, patch({ principal: null }));
      expect(cleared.principal).toBeNull();
      expect(cleared.maxInactiveSeconds).toBe(120);
      expect((await read(record.id))?.principal).toBeNull();
    });

    test('update with a stale expectedVersion fails with VERSION_CONFLICT and writes nothing', async () => {
      const record = await created();
      await store.update(record.id, patch({ set: [['a', '1']], expectedVersion: 1 }));
      expect(await codeOf(store.update(record.id, patch({ set: [['b', '2']], expectedVersion: 1 })))).toBe('VERSION_CONFLICT');
      const back = await read(record.id);
      expect(back?.version).toBe(2);
      expect(back?.attributes.has('b')).toBe(false);
    });

    test('update past the size limit fails with PAYLOAD_TOO_LARGE and writes nothing', async () => {
      const record = await created();
      await store.update(record.id, patch({ set: [['big', JSON.stringify('x'.repeat(LIMIT / 2))]] }));
      const code = await codeOf(store.update(record.id, patch({ set: [['bigger', JSON.stringify('y'.repeat(LIMIT / 2))]] })));
      expect(code).toBe('PAYLOAD_TOO_LARGE');
      const back = await read(record.id);
      expect(back?.version).toBe(2);
      expect(back?.attributes.has('bigger')).toBe(false);
      // Replacing the big attribute by a small one is fine: the limit is on the result.
      const shrunk = await store.update(record.id, patch({ set: [['big', '0'], ['small', '1']] }));
      expect(shrunk.version).toBe(3);
    });

    test('update of a session that never existed fails and creates nothing', async () => {
      const id = generateSessionId();
      expect(await codeOf(store.update(id, patch({ set: [['a', '1']] })))).toBe('SESSION_NOT_FOUND');
      expect(await read(id)).toBeNull();
    });

    test('destroy removes once; update and read after it fail and do not resurrect', async () => {
      const record = await created();
      expect(await store.destroy(record.id)).toBe(true);
      expect(await store.destroy(record.id)).toBe(false);
      expect(await codeOf(store.update(record.id, patch({ set: [['a', '1']] })))).toBe('SESSION_NOT_FOUND');
      expect(await read(record.id)).toBeNull();
    });

    test('an expired session reads as null, cannot be updated, and stays gone', async () => {
      const record = await created();
      await harness.expire(record.id);
      expect(await read(record.id)).toBeNull();
      expect(await codeOf(store.update(record.id, patch({ set: [['a', '1']] })))).toBe('SESSION_NOT_FOUND');
      expect(await read(record.id)).toBeNull();
      expect(await store.destroy(record.id)).toBe(false);
    });

    test('a read within the touch interval does not move lastAccessedAt', async () => {
      const record = await created();
      await harness.age(record.id, (TOUCH_SECONDS - 5) * 1000);
      const first = await read(record.id);
      const second = await read(record.id);
      expect(first?.lastAccessedAtMs).toBe(second?.lastAccessedAtMs);
      expect(first?.expiresAtMs).toBe(second?.expiresAtMs);
      // Not touched: the remaining life is still a full timeout less the idle time.
      expect((first?.expiresAtMs ?? 0) - harness.now()).toBeLessThan((600 - TOUCH_SECONDS + 5) * 1000 + 1000);
    });

    test('a read after the touch interval slides the expiry to a full timeout from now', async () => {
      const record = await created();
      await harness.age(record.id, (TOUCH_SECONDS + 5) * 1000);
      const touched = await read(record.id);
      expect(touched).not.toBeNull();
      expect((touched?.expiresAtMs ?? 0) - harness.now()).toBeGreaterThan(600_000 - 2000);
      expect((touched?.expiresAtMs ?? 0) - (touched?.lastAccessedAtMs ?? 0)).toBe(600_000);
      expect(touched?.version).toBe(1);
    });

    test('an update counts as use: it slides the expiry', async () => {
      const record = await created();
      await harness.age(record.id, 300_000);
      const updated = await store.update(record.id, patch({ set: [['a', '1']] }));
      expect(updated.expiresAtMs - updated.lastAccessedAtMs).toBe(600_000);
      expect(updated.expiresAtMs - harness.now()).toBeGreaterThan(600_000 - 2000);
      const back = await read(record.id);
      expect((back?.expiresAtMs ?? 0) - harness.now()).toBeGreaterThan(600_000 - 2000);
    });

    test('readAttribute answers one attribute as its stored JSON bytes, or says what is missing', async () => {
      const json = '{"이름":"김민수","n":12345678901234567890}';
      const record = await created(plain({ attributes: [['cart', '[1]'], ['user', json], ['u', '1']] }));
      const read = await store.readAttribute(record.id, 'user');
      expect(read.found).toBe(true);
      expect(read.found && read.json?.toString('utf8')).toBe(json);
      expect(await store.readAttribute(record.id, 'use')).toEqual({ found: true, json: null });
      expect(await store.readAttribute(record.id, 'users')).toEqual({ found: true, json: null });
      expect(await store.readAttribute(generateSessionId(), 'user')).toEqual({ found: false });
      await store.destroy(record.id);
      expect(await store.readAttribute(record.id, 'user')).toEqual({ found: false });
    });

    test('readAttribute slides the expiry like getMany, and only when the touch is due', async () => {
      const record = await created();
      await harness.age(record.id, (TOUCH_SECONDS - 5) * 1000);
      await store.readAttribute(record.id, 'user');
      const untouched = await read(record.id);
      expect((untouched?.expiresAtMs ?? 0) - harness.now()).toBeLessThan((600 - TOUCH_SECONDS + 5) * 1000 + 1000);
      await harness.age(record.id, 10_000);
      await store.readAttribute(record.id, 'user');
      const touched = await read(record.id);
      expect((touched?.expiresAtMs ?? 0) - harness.now()).toBeGreaterThan(600_000 - 2000);
      expect(touched?.version).toBe(1);
    });

    test('100 concurrent updates of different attributes all land', async () => {
      const record = await created(plain({ attributes: [] }));
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.update(record.id, patch({ set: [[`k${i}`, String(i)]] }))));
      const back = await read(record.id);
      expect(back?.version).toBe(101);
      expect(back?.attributes.size).toBe(100);
      for (let i = 0; i < 100; i++) expect(back?.attributes.get(`k${i}`)).toBe(String(i));
    });

    test('changes are announced: digest, kind and version after; never reads, touches or failed writes', async () => {
      const seen: SessionChange[] = [];
      const stop = await store.changes.listen({ change: (change) => seen.push(change), lost: () => undefined });
      try {
        const record = await created();
        await read(record.id);
        await store.readAttribute(record.id, 'user');
        await harness.age(record.id, TOUCH_SECONDS * 1000 + 1);
        await read(record.id); // a touch is due: it writes, and announces nothing
        await store.update(record.id, patch({ set: [['seen', 'true']] }));
        expect(await codeOf(store.update(record.id, patch({ expectedVersion: 9 })))).toBe('VERSION_CONFLICT');
        expect(await codeOf(store.update(generateSessionId(), patch({ set: [['a', '1']] })))).toBe('SESSION_NOT_FOUND');
        expect(await store.destroy(record.id)).toBe(true);
        expect(await store.destroy(record.id)).toBe(false);
        // A last change as a sentinel: the feed is ordered, so anything announced in between
        // would arrive before it.
        const sentinel = await created();
        const digest = sessionDigest(record.id);
        await waitFor(() => seen.some((change) => change.digest === sessionDigest(sentinel.id)));
        expect(seen).toEqual([
          { digest, kind: 'ISSUED', version: 1 },
          { digest, kind: 'UPDATED', version: 2 },
          { digest, kind: 'REVOKED', version: 3 },
          { digest: sessionDigest(sentinel.id), kind: 'ISSUED', version: 1 },
        ]);
        expect(JSON.stringify(seen)).not.toContain(record.id);
      } finally {
        stop();
      }
    });

    test('a detached listener hears nothing more', async () => {
      const seen: SessionChange[] = [];
      const stop = await store.changes.listen({ change: (change) => seen.push(change), lost: () => undefined });
      stop();
      const witness: SessionChange[] = [];
      const stopWitness = await store.changes.listen({ change: (change) => witness.push(change), lost: () => undefined });
      await created();
      await waitFor(() => witness.length === 1);
      stopWitness();
      expect(seen).toEqual([]);
    });
  });
}
