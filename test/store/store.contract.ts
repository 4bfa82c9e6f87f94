/**
 * The SessionStore conformance suite: one set of behaviours, run against every store
 * (redis.test.ts, memory.test.ts). A store that passes it can stand behind the gateway.
 *
 * Most of it runs through the session service on that store, as every face does, so that what
 * it asserts is what callers get: the service checks IDs, makes digests, computes deadlines and
 * decides touches; the store keeps them atomically. The store's own contract (keyed by digest,
 * given its deadlines, touch and update only on the state they were computed for) is checked
 * directly at the end.
 */
import { MAX_INACTIVE_SECONDS, MAX_LIFETIME_SECONDS } from '../../src/config';
import { GatewayError } from '../../src/errors';
import type { SessionEvents } from '../../src/metrics';
import type { Caller } from '../../src/session/caller';
import { generateSessionId, sessionDigest } from '../../src/session/ids';
import { newStoredSession, sessionDeadlineMs, sessionRecord, storedDeadlineMs, type NewSession, type SessionPatch, type SessionPatchInput, type SessionRecord, type StoredSession } from '../../src/session/model';
import { newSession } from '../support/sessions';
import { SessionService } from '../../src/sessions/service';
import { isForward, type GatewayStore, type SessionChange } from '../../src/store/store';

export interface StoreHarness {
  /** The session store, and beside it the session tokens' key set (one object, as connect.ts opens it). */
  readonly store: GatewayStore;
  /** Makes a session's idle time pass, as if `ms` went by without use. */
  age(digest: string, ms: number): Promise<void>;
  /** The store's clock now, in epoch ms (the memory store's clock is moved by `age`). */
  now(): number;
  /** Makes a session expire, as if its idle timeout had passed. */
  expire(digest: string): Promise<void>;
  /** Every digest the store's index holds for `principal` now, pruned or not (`service` knows its tag). */
  indexed(principal: string, service: SessionService): Promise<string[]>;
  /** Whether the store keeps any index for `principal` (or its tag) at all. */
  indexExists(principal: string, service: SessionService): Promise<boolean>;
  /** The deadline the store holds for a session (its key's expiry), in epoch ms; null if none. */
  deadlineOf(digest: string): Promise<number | null>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly maxAttributeBytes: number;
}

const LIMIT = 4096;
const TOUCH_SECONDS = 60;

const plain = (overrides: Partial<NewSession> = {}): NewSession =>
  newSession({
    principal: 'user-1',
    attributes: [['user', '{"name":"Kim","roles":["member"]}']],
    maxInactiveSeconds: 600,
    ...overrides,
  });
const patch = (overrides: Partial<SessionPatch>): SessionPatch => ({ set: [], unset: [], ...overrides });
const SERVICE: Caller = { service: true, sessionId: null };
const NO_EVENTS: SessionEvents = { sessionIssued: () => undefined, sessionUpdated: () => undefined, sessionRevoked: () => undefined };

/** A patch as a face hands it to the service (attribute values as JSON values, not text). */
function patchInput(p: SessionPatch): SessionPatchInput {
  const input: { -readonly [K in keyof SessionPatchInput]: SessionPatchInput[K] } = {
    set: Object.fromEntries(p.set.map(([name, json]) => [name, JSON.parse(json) as unknown])),
    unset: p.unset,
  };
  if ('principal' in p) input.principal = p.principal ?? null;
  if (p.maxInactiveSeconds !== undefined) input.maxInactiveInterval = p.maxInactiveSeconds;
  if (p.expectedVersion !== undefined) input.expectedVersion = p.expectedVersion;
  return input;
}

/** One attribute read as the REST shim uses it. */
function attributeOf(read: { found: boolean; json?: Buffer | null }): { found: boolean; json?: Buffer | null } {
  return read.found ? { found: true, json: read.json ?? null } : { found: false };
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The code of the GatewayError a call rejects with, or 'no error'. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
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
    let store: GatewayStore;
    let service: SessionService;

    beforeAll(async () => {
      harness = await open({ maxAttributeBytes: LIMIT });
      store = harness.store;
      service = new SessionService(store, {
        limits: { maxAttributeBytes: LIMIT, defaultInactiveSeconds: 600, mostInactiveSeconds: MAX_INACTIVE_SECONDS, mostLifetimeSeconds: MAX_LIFETIME_SECONDS },
        touchIntervalSeconds: TOUCH_SECONDS,
        events: NO_EVENTS,
      });
    });
    afterAll(async () => harness.close());

    test('the session tokens\' key set: compare-and-set on its version; a write at a version no longer held changes nothing and answers what is held', async () => {
      const held = await store.readKeySet();
      const version = held?.version ?? 0;
      expect(await store.writeKeySet(version, '["first"]')).toEqual({ version: version + 1, keys: '["first"]' });
      expect(await store.writeKeySet(version, '["second"]')).toEqual({ version: version + 1, keys: '["first"]' });
      expect(await store.readKeySet()).toEqual({ version: version + 1, keys: '["first"]' });
      expect(await store.writeKeySet(version + 1, '["third"]')).toEqual({ version: version + 2, keys: '["third"]' });
      expect(await store.readKeySet()).toEqual({ version: version + 2, keys: '["third"]' });
    });

    /** Times for a write now, with the deadline the session rules give it. */
    function at(maxInactiveSeconds: number): { nowMs: number; expiresAtMs: number } {
      const nowMs = store.now();
      return { nowMs, expiresAtMs: sessionDeadlineMs(nowMs, maxInactiveSeconds, 0) };
    }
    /** Stores a session as given, now; null if the digest is taken. */
    async function createAt(digest: string, session: NewSession): Promise<SessionRecord | null> {
      const stored = newStoredSession(session, store.now());
      const done = await store.create(digest, stored, storedDeadlineMs(stored), null);
      return done === null ? null : sessionRecord('', digest, done.session);
    }
    /** A session stored as given (attribute text byte for byte), as the service's issue stores it. */
    async function created(session: NewSession = plain()): Promise<SessionRecord> {
      const id = generateSessionId();
      const record = await createAt(sessionDigest(id), session);
      if (record === null) throw new Error('create refused a fresh digest');
      return { ...record, id };
    }
    async function read(id: string): Promise<SessionRecord | null> {
      return (await service.getMany([id]))[0] ?? null;
    }
    const update = (id: string, p: SessionPatch): Promise<SessionRecord> => service.update(SERVICE, id, patchInput(p));
    const destroy = (id: string): Promise<boolean> => service.revoke(SERVICE, id);
    const age = (id: string, ms: number): Promise<void> => harness.age(sessionDigest(id), ms);
    /** What the store holds under `digest`: a session, or null (a forward fails the test). */
    async function storedOf(digest: string): Promise<StoredSession | null> {
      const [found] = await store.getMany([digest]);
      if (found !== null && found !== undefined && isForward(found)) throw new Error('a forward where a session was expected');
      return found ?? null;
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
      expect(await createAt(record.digest, plain({ principal: 'intruder', attributes: [] }))).toBeNull();
      const back = await read(record.id);
      expect(back?.principal).toBe('user-1');
      expect(back?.attributes.get('user')).toBe('{"name":"Kim","roles":["member"]}');
    });

    test('getMany answers in the order asked, with null where missing, and once per repeat', async () => {
      const a = await created(plain({ principal: 'a' }));
      const b = await created(plain({ principal: 'b' }));
      const missing = generateSessionId();
      const records = await service.getMany([b.id, missing, a.id, b.id]);
      expect(records.map((r) => r?.principal ?? null)).toEqual(['b', null, 'a', 'b']);
      expect(await service.getMany([])).toEqual([]);
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
      const next = await update(record.id, patch({ set: [['cart', '[1,2]'], ['lang', '"ko"']], unset: ['theme'] }));
      expect(next.version).toBe(2);
      expect([...next.attributes]).toEqual([['user', '1'], ['cart', '[1,2]'], ['lang', '"ko"']]);
      const back = await read(record.id);
      expect([...(back?.attributes ?? [])]).toEqual([['user', '1'], ['cart', '[1,2]'], ['lang', '"ko"']]);
      expect(back?.version).toBe(2);
      expect(back?.createdAtMs).toBe(record.createdAtMs);
    });

    test('update changes the idle timeout; it keeps the principal it is told to, and refuses to change or clear it (fixation)', async () => {
      const record = await created();
      const longer = await update(record.id, patch({ principal: 'user-1', maxInactiveSeconds: 120 }));
      expect(longer.principal).toBe('user-1');
      expect(longer.maxInactiveSeconds).toBe(120);
      expect(longer.expiresAtMs - longer.lastAccessedAtMs).toBe(120_000);
      for (const principal of ['user-2', null]) {
        const refused = await service.update(SERVICE, record.id, patchInput(patch({ principal, set: [['a', '1']] }))).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(GatewayError);
        expect((refused as GatewayError).code).toBe('BAD_USER_INPUT');
        expect((refused as GatewayError).message).toMatch(/rotateSession/);
      }
      const back = await read(record.id);
      expect(back?.principal).toBe('user-1');
      expect(back?.version).toBe(2);
      expect(back?.attributes.has('a')).toBe(false);
    });

    test('update with a stale expectedVersion fails with VERSION_CONFLICT and writes nothing', async () => {
      const record = await created();
      await update(record.id, patch({ set: [['a', '1']], expectedVersion: 1 }));
      expect(await codeOf(update(record.id, patch({ set: [['b', '2']], expectedVersion: 1 })))).toBe('VERSION_CONFLICT');
      const back = await read(record.id);
      expect(back?.version).toBe(2);
      expect(back?.attributes.has('b')).toBe(false);
    });

    test('update past the size limit fails with PAYLOAD_TOO_LARGE and writes nothing', async () => {
      const record = await created();
      await update(record.id, patch({ set: [['big', JSON.stringify('x'.repeat(LIMIT / 2))]] }));
      const code = await codeOf(update(record.id, patch({ set: [['bigger', JSON.stringify('y'.repeat(LIMIT / 2))]] })));
      expect(code).toBe('PAYLOAD_TOO_LARGE');
      const back = await read(record.id);
      expect(back?.version).toBe(2);
      expect(back?.attributes.has('bigger')).toBe(false);
      // Replacing the big attribute by a small one is fine: the limit is on the result.
      const shrunk = await update(record.id, patch({ set: [['big', '0'], ['small', '1']] }));
      expect(shrunk.version).toBe(3);
    });

    test('update of a session that never existed fails and creates nothing', async () => {
      const id = generateSessionId();
      expect(await codeOf(update(id, patch({ set: [['a', '1']] })))).toBe('SESSION_NOT_FOUND');
      expect(await read(id)).toBeNull();
    });

    test('destroy removes once; update and read after it fail and do not resurrect', async () => {
      const record = await created();
      expect(await destroy(record.id)).toBe(true);
      expect(await destroy(record.id)).toBe(false);
      expect(await codeOf(update(record.id, patch({ set: [['a', '1']] })))).toBe('SESSION_NOT_FOUND');
      expect(await read(record.id)).toBeNull();
    });

    test('an expired session reads as null, cannot be updated, and stays gone', async () => {
      const record = await created();
      await harness.expire(record.digest);
      expect(await read(record.id)).toBeNull();
      expect(await codeOf(update(record.id, patch({ set: [['a', '1']] })))).toBe('SESSION_NOT_FOUND');
      expect(await read(record.id)).toBeNull();
      expect(await destroy(record.id)).toBe(false);
    });

    test('a read within the touch interval does not move lastAccessedAt', async () => {
      const record = await created();
      await age(record.id, (TOUCH_SECONDS - 5) * 1000);
      const first = await read(record.id);
      const second = await read(record.id);
      expect(first?.lastAccessedAtMs).toBe(second?.lastAccessedAtMs);
      expect(first?.expiresAtMs).toBe(second?.expiresAtMs);
      // Not touched: the remaining life is still a full timeout less the idle time.
      expect((first?.expiresAtMs ?? 0) - harness.now()).toBeLessThan((600 - TOUCH_SECONDS + 5) * 1000 + 1000);
    });

    test('a read after the touch interval slides the expiry to a full timeout from now', async () => {
      const record = await created();
      await age(record.id, (TOUCH_SECONDS + 5) * 1000);
      const touched = await read(record.id);
      expect(touched).not.toBeNull();
      expect((touched?.expiresAtMs ?? 0) - harness.now()).toBeGreaterThan(600_000 - 2000);
      expect((touched?.expiresAtMs ?? 0) - (touched?.lastAccessedAtMs ?? 0)).toBe(600_000);
      expect(touched?.version).toBe(1);
    });

    test('an update counts as use: it slides the expiry', async () => {
      const record = await created();
      await age(record.id, 300_000);
      const updated = await update(record.id, patch({ set: [['a', '1']] }));
      expect(updated.expiresAtMs - updated.lastAccessedAtMs).toBe(600_000);
      expect(updated.expiresAtMs - harness.now()).toBeGreaterThan(600_000 - 2000);
      const back = await read(record.id);
      expect((back?.expiresAtMs ?? 0) - harness.now()).toBeGreaterThan(600_000 - 2000);
    });

    test('readAttribute answers one attribute as its stored JSON bytes, or says what is missing', async () => {
      const json = '{"이름":"김민수","n":12345678901234567890}';
      const record = await created(plain({ attributes: [['cart', '[1]'], ['user', json], ['u', '1']] }));
      const read = await service.readAttribute(record.id, 'user');
      expect(read.found).toBe(true);
      expect(read.found && read.json?.toString('utf8')).toBe(json);
      expect(attributeOf(await service.readAttribute(record.id, 'use'))).toEqual({ found: true, json: null });
      expect(attributeOf(await service.readAttribute(record.id, 'users'))).toEqual({ found: true, json: null });
      expect(attributeOf(await service.readAttribute(generateSessionId(), 'user'))).toEqual({ found: false });
      await destroy(record.id);
      expect(attributeOf(await service.readAttribute(record.id, 'user'))).toEqual({ found: false });
    });

    test('readAttribute slides the expiry like getMany, and only when the touch is due', async () => {
      const record = await created();
      await age(record.id, (TOUCH_SECONDS - 5) * 1000);
      await service.readAttribute(record.id, 'user');
      const untouched = await read(record.id);
      expect((untouched?.expiresAtMs ?? 0) - harness.now()).toBeLessThan((600 - TOUCH_SECONDS + 5) * 1000 + 1000);
      await age(record.id, 10_000);
      await service.readAttribute(record.id, 'user');
      const touched = await read(record.id);
      expect((touched?.expiresAtMs ?? 0) - harness.now()).toBeGreaterThan(600_000 - 2000);
      expect(touched?.version).toBe(1);
    });

    test('100 concurrent updates of different attributes all land', async () => {
      const record = await created(plain({ attributes: [] }));
      await Promise.all(Array.from({ length: 100 }, (_, i) => update(record.id, patch({ set: [[`k${i}`, String(i)]] }))));
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
        // Every session here in the record's slot (its tag): on Cluster the feed is ordered per
        // node, not across nodes (a PUBLISH on the subscriber's own node beats one arriving over
        // the cluster bus).
        const sameSlot = (): string => generateSessionId(Buffer.from(record.id, 'base64url'));
        const missing = sameSlot();
        await read(record.id);
        await service.readAttribute(record.id, 'user');
        await age(record.id, TOUCH_SECONDS * 1000 + 1);
        await read(record.id); // a touch is due: it writes, and announces nothing
        await update(record.id, patch({ set: [['seen', 'true']] }));
        expect(await codeOf(update(record.id, patch({ expectedVersion: 9 })))).toBe('VERSION_CONFLICT');
        expect(await store.update(record.digest, patch({ set: [['x', '1']] }), { ...at(999), maxInactiveSeconds: 999 })).toEqual({ written: false, maxInactiveSeconds: 600 });
        expect(await codeOf(update(missing, patch({ set: [['a', '1']] })))).toBe('SESSION_NOT_FOUND');
        expect(await destroy(record.id)).toBe(true);
        expect(await destroy(record.id)).toBe(false);
        // A last change as a sentinel: the feed is ordered (per node), so anything announced in
        // between would arrive before it.
        const sentinel = await createAt(sessionDigest(sameSlot()), plain());
        if (sentinel === null) throw new Error('create refused a fresh digest');
        const digest = sessionDigest(record.id);
        await waitFor(() => seen.some((change) => change.digest === sentinel.digest));
        // Only this test's sessions: on Cluster a PUBLISH travels the cluster bus, so a change an
        // earlier test announced just before this listener subscribed may still arrive after it.
        const ours = [digest, sessionDigest(missing), sentinel.digest];
        expect(seen.filter((change) => ours.includes(change.digest))).toEqual([
          { digest, kind: 'ISSUED', version: 1, reason: null },
          { digest, kind: 'UPDATED', version: 2, reason: null },
          { digest, kind: 'REVOKED', version: 3, reason: 'REVOKED_BY_SERVICE' },
          { digest: sentinel.digest, kind: 'ISSUED', version: 1, reason: null },
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
      const record = await created();
      await waitFor(() => witness.some((change) => change.digest === record.digest));
      stopWitness();
      expect(seen).toEqual([]);
    });
    describe('the store itself: keyed by digest, given its deadlines', () => {
      test('a session lives until the deadline it was given, whatever its idle time says', async () => {
        const id = generateSessionId();
        const digest = sessionDigest(id);
        const nowMs = store.now();
        const created = await store.create(digest, newStoredSession(plain({ maxInactiveSeconds: 600 }), nowMs), nowMs + 300, null);
        expect(created?.session).toMatchObject({ createdAtMs: nowMs, lastAccessedAtMs: nowMs, maxInactiveSeconds: 600, version: 1 });
        expect((await storedOf(digest))?.principal).toBe('user-1');
        // Gone by the given deadline (300 ms), not the idle time's (600 s).
        const giveUpAt = Date.now() + 5000;
        while ((await store.getMany([digest]))[0] !== null) {
          if (Date.now() > giveUpAt) throw new Error('the session outlived its deadline');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(await store.getMany([digest])).toEqual([null]);
        expect(await store.readAttribute(digest, 'user')).toEqual({ found: false });
      });

      test('reads write nothing: the stored last access stays what it was, however much time passed', async () => {
        const record = await created();
        await harness.age(record.digest, (TOUCH_SECONDS + 5) * 1000);
        const first = await storedOf(record.digest);
        const attribute = await store.readAttribute(record.digest, 'user');
        const second = await storedOf(record.digest);
        expect(second?.lastAccessedAtMs).toBe(first?.lastAccessedAtMs);
        expect(attribute).toMatchObject({ found: true, lastAccessedAtMs: first?.lastAccessedAtMs, maxInactiveSeconds: 600 });
      });

      test('a touch writes only if the session was not used since the read that decided it', async () => {
        const record = await created();
        await harness.age(record.digest, (TOUCH_SECONDS + 5) * 1000);
        const seen = await storedOf(record.digest);
        const seenLastMs = seen?.lastAccessedAtMs ?? 0;
        expect(await store.touch(record.digest, seenLastMs - 1, at(600))).toBe(false);
        expect((await storedOf(record.digest))?.lastAccessedAtMs).toBe(seenLastMs);
        const times = at(600);
        expect(await store.touch(record.digest, seenLastMs, times)).toBe(true);
        expect((await storedOf(record.digest))?.lastAccessedAtMs).toBe(times.nowMs);
        // The same decision taken twice (two instances): the second finds the session used since.
        expect(await store.touch(record.digest, seenLastMs, at(600))).toBe(false);
        expect(await store.touch(sessionDigest(generateSessionId()), seenLastMs, at(600))).toBe(false);
      });

      test('an update computed for another idle time writes nothing and answers the idle time the session has', async () => {
        const record = await created();
        const before = (await store.getMany([record.digest]))[0];
        expect(await store.update(record.digest, patch({ set: [['a', '1']] }), { ...at(120), maxInactiveSeconds: 120 })).toEqual({ written: false, maxInactiveSeconds: 600 });
        // A patch that sets the idle time is checked against the time it sets.
        expect(await store.update(record.digest, patch({ maxInactiveSeconds: 120 }), { ...at(600), maxInactiveSeconds: 600 })).toEqual({ written: false, maxInactiveSeconds: 120 });
        expect((await store.getMany([record.digest]))[0]).toEqual(before);
        const times = { ...at(120), maxInactiveSeconds: 120 };
        const written = await store.update(record.digest, patch({ maxInactiveSeconds: 120 }), times);
        expect(written).toMatchObject({ written: true, session: { maxInactiveSeconds: 120, lastAccessedAtMs: times.nowMs, version: 2 } });
      });

      test('the service finds the idle time an update needs when it is not the default', async () => {
        const record = await created(plain({ maxInactiveSeconds: 45 }));
        await age(record.id, 20_000);
        const updated = await update(record.id, patch({ set: [['a', '1']] }));
        expect(updated.maxInactiveSeconds).toBe(45);
        expect(updated.expiresAtMs - updated.lastAccessedAtMs).toBe(45_000);
        expect(updated.expiresAtMs - harness.now()).toBeGreaterThan(45_000 - 2000);
        expect(updated.version).toBe(2);
      });
    });
  });
}
