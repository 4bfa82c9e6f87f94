/**
 * The session lifecycle, as every store must keep it (run by memory.test.ts, redis.test.ts and,
 * on a Cluster and on Sentinel, topologies.test.ts): a principal's sessions and their index,
 * rotation with and without a grace, the absolute lifetime, revoke-all and the per-principal
 * limit, each also under the races a fleet of gateways makes. Through the session service, as
 * every face calls it; what the index holds is looked at directly (`harness.indexed`).
 */
import { MAX_INACTIVE_SECONDS, MAX_LIFETIME_SECONDS } from '../../src/config';
import { GatewayError } from '../../src/errors';
import type { SessionEvents } from '../../src/metrics';
import type { Caller } from '../../src/session/caller';
import { generateSessionId, sessionDigest } from '../../src/session/ids';
import type { SessionRecord } from '../../src/session/model';
import { SessionService, type LifecycleOptions } from '../../src/sessions/service';
import type { SessionChange } from '../../src/store/store';
import { codeOf, type HarnessOptions, type StoreHarness } from './store.contract';

const SERVICE: Caller = { service: true, sessionId: null };
const NO_EVENTS: SessionEvents = { sessionIssued: () => undefined, sessionUpdated: () => undefined, sessionRevoked: () => undefined };
/** The races' trials per store (the issue asks for 1,000 on each). */
const TRIALS = Number(process.env.LIFECYCLE_TRIALS ?? 1000);

const frontend = (id: string): Caller => ({ service: false, sessionId: id });
const serviceWith = (id: string): Caller => ({ service: true, sessionId: id });

async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; code: string }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    if (error instanceof GatewayError) return { ok: false, code: error.code };
    throw error;
  }
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let principals = 0;
/** A principal of this run only, so tests never see each other's sessions. */
function newPrincipal(): string {
  principals += 1;
  return `user-${process.pid}-${Date.now()}-${principals}`;
}

export function describeLifecycle(name: string, open: (options: HarnessOptions) => Promise<StoreHarness>): void {
  describe(`session lifecycle: ${name}`, () => {
    let harness: StoreHarness;

    beforeAll(async () => {
      harness = await open({ maxAttributeBytes: 4096 });
    });
    afterAll(async () => harness.close());

    function serviceOf(lifecycle: Partial<LifecycleOptions> = {}, maxLifetimeSeconds = 0): SessionService {
      return new SessionService(harness.store, {
        limits: { maxAttributeBytes: 4096, defaultInactiveSeconds: 600, mostInactiveSeconds: MAX_INACTIVE_SECONDS, mostLifetimeSeconds: MAX_LIFETIME_SECONDS, maxLifetimeSeconds },
        touchIntervalSeconds: 0,
        events: NO_EVENTS,
        lifecycle: { rotationGraceSeconds: 0, limit: null, addressMask: 'network', ...lifecycle },
      });
    }
    const read = async (service: SessionService, id: string): Promise<SessionRecord | null> => (await service.getMany([id]))[0] ?? null;
    /** The digests the principal's index holds right now (every member, pruned or not). */
    const indexed = (service: SessionService, principal: string): Promise<string[]> => harness.indexed(principal, service);
    /** The sessions of `principal` a service can read now: listed, and each read by the list's handle. */
    async function listed(service: SessionService, principal: string): Promise<string[]> {
      return (await service.sessionsOf(SERVICE, principal)).map((summary) => summary.handle).sort();
    }

    describe("a principal's sessions", () => {
      test('issued with a principal, a session carries its tag, is listed with its device data, and the current one is marked', async () => {
        const service = serviceOf();
        const principal = newPrincipal();
        const first = await service.issue(SERVICE, { principal, device: { userAgent: 'Mozilla/5.0 (X11)', clientAddress: '203.0.113.77' } });
        const second = await service.issue(SERVICE, { principal, device: { clientAddress: '2001:db8:abcd:12:1::5' } });
        expect(first.id.slice(0, 4)).toBe(second.id.slice(0, 4));
        expect(first.authenticatedAtMs).toBe(first.createdAtMs);
        const mine = await service.mySessions(frontend(first.id));
        expect(mine.map((s) => s.handle).sort()).toEqual([first.digest, second.digest].sort());
        const current = mine.find((s) => s.current);
        expect(current?.handle).toBe(first.digest);
        expect(current?.device).toEqual({ userAgent: 'Mozilla/5.0 (X11)', clientAddress: '203.0.113.0' });
        expect(mine.find((s) => !s.current)?.device).toEqual({ userAgent: null, clientAddress: '2001:db8:abcd::' });
        for (const summary of mine) {
          expect(JSON.stringify(summary)).not.toContain(first.id);
          expect(JSON.stringify(summary)).not.toContain(second.id);
        }
        expect(await listed(service, principal)).toEqual([first.digest, second.digest].sort());
        // An anonymous session has no principal, so nothing to list.
        const anonymous = await service.issueAnonymous();
        expect(await service.mySessions(frontend(anonymous.id))).toEqual([]);
      });

      test('a revoked or expired session is never listed, and the index does not outlive its last session', async () => {
        const service = serviceOf();
        const principal = newPrincipal();
        const a = await service.issue(SERVICE, { principal });
        const b = await service.issue(SERVICE, { principal, maxInactiveInterval: 1 });
        expect(await service.revoke(frontend(a.id), null)).toBe(true);
        expect(await listed(service, principal)).toEqual([b.digest]);
        expect(await indexed(service, principal)).toEqual([b.digest]);
        // Its idle time passes (for real: the index learns of an expiry only by its deadline).
        await waitFor(async () => (await listed(service, principal)).length === 0, 5000);
        // Redis expires the key by its own clock, which the store's (ours, corrected by TIME) can
        // lead by a few milliseconds: wait for the key itself to go, without a read that would touch it.
        await waitFor(async () => (await harness.deadlineOf(b.digest)) === null, 5000);
        expect(await read(service, b.id)).toBeNull();
        expect(await harness.indexExists(principal, service)).toBe(false);
      });

      test('a frontend revokes another of its sessions by handle, or all but its own; never another principal\'s', async () => {
        const service = serviceOf();
        const principal = newPrincipal();
        const [a, b, c] = await Promise.all([1, 2, 3].map(() => service.issue(SERVICE, { principal })));
        const stranger = await service.issue(SERVICE, { principal: newPrincipal() });
        if (a === undefined || b === undefined || c === undefined) throw new Error('three sessions');
        expect(await service.revokeByHandle(frontend(a.id), stranger.digest)).toBe(false);
        expect(await read(service, stranger.id)).not.toBeNull();
        expect(await service.revokeByHandle(frontend(a.id), b.digest)).toBe(true);
        expect(await read(service, b.id)).toBeNull();
        expect(await service.revokeOthers(frontend(a.id))).toBe(1);
        expect(await read(service, c.id)).toBeNull();
        expect(await read(service, a.id)).not.toBeNull();
        expect(await indexed(service, principal)).toEqual([a.digest]);
        expect(await codeOf(service.sessionsOf(frontend(a.id), principal))).toBe('FORBIDDEN');
        expect(await codeOf(service.revokePrincipal(frontend(a.id), principal))).toBe('FORBIDDEN');
      });

      test('revoke-all answers how many it revoked, announces each with its reason, and leaves no index', async () => {
        const service = serviceOf();
        const principal = newPrincipal();
        const sessions = await Promise.all([1, 2, 3, 4].map(() => service.issue(SERVICE, { principal })));
        const seen: SessionChange[] = [];
        const stop = await harness.store.changes.listen({ change: (change) => seen.push(change), lost: () => undefined });
        try {
          expect(await service.revokePrincipal(SERVICE, principal)).toBe(4);
          for (const s of sessions) expect(await read(service, s.id)).toBeNull();
          const ours = () => seen.filter((change) => sessions.some((s) => s.digest === change.digest));
          await waitFor(() => ours().filter((change) => change.kind === 'REVOKED').length >= 4);
          expect(ours()).toEqual(
            expect.arrayContaining(sessions.map((s) => ({ digest: s.digest, kind: 'REVOKED', version: 2, reason: 'PRINCIPAL_REVOKED' }))),
          );
          expect(await harness.indexExists(principal, service)).toBe(false);
          expect(await service.revokePrincipal(SERVICE, principal)).toBe(0);
        } finally {
          stop();
        }
      });

      test('"revoke all" racing issues for the same principal: nothing issued before it began is readable after, and the index holds exactly what lives', async () => {
        const service = serviceOf();
        for (let round = 0; round < 10; round++) {
          const principal = newPrincipal();
          const before = await Promise.all(Array.from({ length: 10 }, () => service.issue(SERVICE, { principal })));
          const during = Array.from({ length: 10 }, () => service.issue(SERVICE, { principal }));
          await service.revokePrincipal(SERVICE, principal);
          const after = await Promise.all(during);
          for (const s of before) expect(await read(service, s.id)).toBeNull();
          const alive: string[] = [];
          for (const s of after) if ((await read(service, s.id)) !== null) alive.push(s.digest);
          expect((await indexed(service, principal)).sort()).toEqual(alive.sort());
          expect(await listed(service, principal)).toEqual(alive.sort());
        }
      });
    });

    describe('the absolute lifetime', () => {
      test('expiresAt is the earlier of the idle and the absolute deadline; no touch or update moves it past the absolute one', async () => {
        const service = serviceOf({}, 3600);
        const issued = await service.issue(SERVICE, { principal: newPrincipal(), maxLifetime: 3, maxInactiveInterval: 600 });
        expect(issued.absoluteExpiresAtMs).toBe(issued.createdAtMs + 3000);
        expect(issued.expiresAtMs).toBe(issued.absoluteExpiresAtMs);
        const updated = await service.update(SERVICE, issued.id, { set: { a: 1 } });
        expect(updated.expiresAtMs).toBe(issued.absoluteExpiresAtMs);
        const touched = await read(service, issued.id); // the touch interval is 0: every read slides
        expect(touched?.expiresAtMs).toBe(issued.absoluteExpiresAtMs);
        expect(await harness.deadlineOf(issued.digest)).toBeLessThanOrEqual(issued.absoluteExpiresAtMs as number);
        await waitFor(async () => (await read(service, issued.id)) === null, 10_000);
        expect(await codeOf(service.update(SERVICE, issued.id, { set: { b: 1 } }))).toBe('SESSION_NOT_FOUND');
        expect(await indexed(service, issued.principal as string)).toEqual([]);
      });

      test('a lifetime longer than SESSION_MAX_LIFETIME is refused; without one asked for, the configured one applies', async () => {
        const service = serviceOf({}, 60);
        expect(await codeOf(service.issue(SERVICE, { maxLifetime: 61 }))).toBe('BAD_USER_INPUT');
        const issued = await service.issue(SERVICE, {});
        expect(issued.absoluteExpiresAtMs).toBe(issued.createdAtMs + 60_000);
        expect((await serviceOf({}, 0).issue(SERVICE, {})).absoluteExpiresAtMs).toBeNull();
      });
    });

    describe('rotation', () => {
      test('a new ID with the same attributes and history; the old ID stops working at once, and the change is announced', async () => {
        const service = serviceOf();
        const old = await service.issue(SERVICE, { principal: newPrincipal(), attributes: { cart: [1, 2] } });
        const seen: SessionChange[] = [];
        const stop = await harness.store.changes.listen({ change: (change) => seen.push(change), lost: () => undefined });
        try {
          const rotated = await service.rotate(frontend(old.id), null, null);
          expect(rotated.id).not.toBe(old.id);
          expect(rotated.id.slice(0, 4)).toBe(old.id.slice(0, 4)); // same principal, same tag
          expect(rotated.attributes.get('cart')).toBe('[1,2]');
          expect(rotated.createdAtMs).toBe(old.createdAtMs);
          expect(rotated.version).toBe(old.version + 1);
          expect(await read(service, old.id)).toBeNull();
          expect(await codeOf(service.update(SERVICE, old.id, { set: { x: 1 } }))).toBe('SESSION_NOT_FOUND');
          expect((await read(service, rotated.id))?.attributes.get('cart')).toBe('[1,2]');
          // The old session's own ISSUED, announced before this listener subscribed, may still
          // arrive on Cluster (a PUBLISH travels the cluster bus): only what came after it counts.
          const after = () => seen.filter((change) => change.version === 2 && [rotated.digest, old.digest].includes(change.digest));
          await waitFor(() => after().length >= 2);
          expect(after()).toEqual(
            expect.arrayContaining([
              { digest: rotated.digest, kind: 'ISSUED', version: 2, reason: null },
              { digest: old.digest, kind: 'REVOKED', version: 2, reason: 'ROTATED' },
            ]),
          );
          for (const change of seen.filter((change) => [rotated.digest, old.digest].includes(change.digest) && change.version !== 2)) {
            expect(change).toEqual({ digest: old.digest, kind: 'ISSUED', version: 1, reason: null });
          }
          expect(await indexed(service, old.principal as string)).toEqual([rotated.digest]);
        } finally {
          stop();
        }
      });

      test('at log-in an anonymous session becomes the principal\'s: its tag, its index, a fresh lifetime and authenticatedAt', async () => {
        const service = serviceOf({}, 3600);
        const principal = newPrincipal();
        const anonymous = await service.issueAnonymous();
        const other = await service.issue(SERVICE, { principal });
        const signedIn = await service.rotate(SERVICE, anonymous.id, { principal, device: { userAgent: 'Java-http-client/17' } });
        expect(signedIn.principal).toBe(principal);
        expect(signedIn.id.slice(0, 4)).toBe(other.id.slice(0, 4));
        expect(signedIn.authenticatedAtMs).not.toBeNull();
        expect(signedIn.absoluteExpiresAtMs).toBe((signedIn.authenticatedAtMs as number) + 3600_000);
        expect(signedIn.device.userAgent).toBe('Java-http-client/17');
        expect(await read(service, anonymous.id)).toBeNull();
        expect(await listed(service, principal)).toEqual([other.digest, signedIn.digest].sort());
      });

      test('a frontend may rotate only its own session, and may not sign it in', async () => {
        const service = serviceOf();
        const mine = await service.issueAnonymous();
        const theirs = await service.issueAnonymous();
        expect(await codeOf(service.rotate(frontend(mine.id), theirs.id, null))).toBe('FORBIDDEN');
        expect(await codeOf(service.rotate(frontend(mine.id), null, { principal: 'admin' }))).toBe('FORBIDDEN');
        expect(await codeOf(service.rotate(SERVICE, generateSessionId(), null))).toBe('SESSION_NOT_FOUND');
        expect(await read(service, mine.id)).not.toBeNull();
        expect(await read(service, theirs.id)).not.toBeNull();
      });

      test('with a grace, the old ID answers reads with the new session and ID, never writes, and nothing brings it back after', async () => {
        const service = serviceOf({ rotationGraceSeconds: 1 });
        const old = await service.issue(SERVICE, { principal: newPrincipal(), attributes: { user: { id: 9 } } });
        const rotated = await service.rotate(serviceWith(old.id), null, null);
        const during = await read(service, old.id);
        expect(during?.id).toBe(rotated.id);
        expect(during?.attributes.get('user')).toBe('{"id":9}');
        expect(await service.attributeOrIssue(old.id, 'user')).toEqual({ id: rotated.id, json: Buffer.from('{"id":9}') });
        expect(await codeOf(service.update(SERVICE, old.id, { set: { x: 1 } }))).toBe('SESSION_NOT_FOUND');
        expect(await codeOf(service.rotate(SERVICE, old.id, null))).toBe('SESSION_NOT_FOUND');
        expect(await service.revoke(SERVICE, old.id)).toBe(false);
        expect(await read(service, rotated.id)).not.toBeNull(); // the old ID's revoke touched nothing of the new one
        await waitFor(async () => (await read(service, old.id)) === null, 5000);
        expect(await codeOf(service.update(SERVICE, old.id, { set: { x: 1 } }))).toBe('SESSION_NOT_FOUND');
        expect((await read(service, rotated.id))?.attributes.has('x')).toBe(false);
      });

      test(`${TRIALS} trials of rotate racing update: an acknowledged update is in the rotated session, a refused one nowhere`, async () => {
        const service = serviceOf();
        const principal = newPrincipal();
        for (let trial = 0; trial < TRIALS; trial += 20) {
          await Promise.all(
            Array.from({ length: 20 }, async (_, k) => {
              const old = await service.issue(SERVICE, { principal });
              const [rotated, updated] = await Promise.all([settle(service.rotate(SERVICE, old.id, null)), settle(service.update(SERVICE, old.id, { set: { n: trial + k } }))]);
              if (!rotated.ok) {
                // The rotation gave up (the session kept changing): the old session is as the update left it.
                expect(rotated.code).toBe('VERSION_CONFLICT');
                expect((await read(service, old.id))?.attributes.get('n')).toBe(updated.ok ? String(trial + k) : undefined);
                return;
              }
              const now = await read(service, rotated.value.id);
              if (updated.ok) expect(now?.attributes.get('n')).toBe(String(trial + k));
              else {
                expect(updated.code).toBe('SESSION_NOT_FOUND');
                expect(now?.attributes.has('n')).toBe(false);
              }
              expect(await read(service, old.id)).toBeNull();
            }),
          );
        }
        // Every rotation's copy that lost a race was removed: the index holds the live sessions only.
        const live = await listed(service, principal);
        expect((await indexed(service, principal)).sort()).toEqual(live);
        expect(await service.revokePrincipal(SERVICE, principal)).toBe(live.length);
      }, 120_000);

      test(`${TRIALS} trials of rotate racing revoke: a revoked session is never resurrected by the rotation`, async () => {
        const service = serviceOf();
        const principal = newPrincipal();
        for (let trial = 0; trial < TRIALS; trial += 20) {
          await Promise.all(
            Array.from({ length: 20 }, async () => {
              const old = await service.issue(SERVICE, { principal });
              const [rotated, revoked] = await Promise.all([settle(service.rotate(SERVICE, old.id, null)), service.revoke(SERVICE, old.id)]);
              expect(await read(service, old.id)).toBeNull();
              if (revoked) {
                // The revoke found the session live, so the rotation cannot have finished: it says so, and left no copy.
                expect(rotated).toEqual({ ok: false, code: 'SESSION_NOT_FOUND' });
              } else {
                expect(rotated.ok).toBe(true);
                if (rotated.ok) expect(await read(service, rotated.value.id)).not.toBeNull();
              }
            }),
          );
        }
        const live = await listed(service, principal);
        expect((await indexed(service, principal)).sort()).toEqual(live);
        expect(await service.revokePrincipal(SERVICE, principal)).toBe(live.length);
        expect(await harness.indexExists(principal, service)).toBe(false);
      }, 120_000);

      test('a logout presenting a rotated-away ID in its grace ends the session it forwards to (LOGOUT); a service naming the old ID ends nothing else', async () => {
        const service = serviceOf({ rotationGraceSeconds: 30 });
        const seen: SessionChange[] = [];
        const stop = await harness.store.changes.listen({ change: (change) => seen.push(change), lost: () => undefined });
        try {
          // A principal's session (one step, same slot) and an anonymous one (three steps, another slot).
          for (const old of [await service.issue(SERVICE, { principal: newPrincipal() }), await service.issueAnonymous()]) {
            const rotated = await service.rotate(frontend(old.id), null, null);
            expect((await read(service, old.id))?.id).toBe(rotated.id); // in its grace
            // Any other write of the old ID stays refused, and changes nothing.
            expect(await codeOf(service.update(SERVICE, old.id, { set: { x: 1 } }))).toBe('SESSION_NOT_FOUND');
            expect(await codeOf(service.rotate(frontend(old.id), null, null))).toBe('SESSION_NOT_FOUND');
            expect((await read(service, rotated.id))?.version).toBe(rotated.version);
            // The tab that still held the old ID logs out: the session is over, under both IDs.
            expect(await service.revoke(frontend(old.id), null)).toBe(true);
            expect(await read(service, rotated.id)).toBeNull();
            expect(await read(service, old.id)).toBeNull();
            await waitFor(() => seen.some((change) => change.digest === rotated.digest && change.kind === 'REVOKED'));
            expect(seen.filter((change) => change.digest === rotated.digest && change.kind === 'REVOKED')).toEqual([{ digest: rotated.digest, kind: 'REVOKED', version: rotated.version + 1, reason: 'LOGOUT' }]);
            // Again: nothing left to end.
            expect(await service.revoke(frontend(old.id), null)).toBe(false);
          }
          // A module logging the user out presents the old ID too: the same, with its own reason.
          const old = await service.issue(SERVICE, { principal: newPrincipal() });
          const rotated = await service.rotate(frontend(old.id), null, null);
          expect(await service.revoke(serviceWith(old.id), null)).toBe(true);
          expect(await read(service, rotated.id)).toBeNull();
          await waitFor(() => seen.some((change) => change.digest === rotated.digest && change.kind === 'REVOKED'));
          expect(seen.find((change) => change.digest === rotated.digest && change.kind === 'REVOKED')?.reason).toBe('REVOKED_BY_SERVICE');
          // A service naming an old ID it does not present (not a logout) ends that ID's grace only.
          const other = await service.issue(SERVICE, { principal: newPrincipal() });
          const moved = await service.rotate(frontend(other.id), null, null);
          expect(await service.revoke(SERVICE, other.id)).toBe(false);
          expect(await read(service, other.id)).toBeNull();
          expect((await read(service, moved.id))?.id).toBe(moved.id);
        } finally {
          stop();
        }
      });
    });

    describe('the concurrent-session limit', () => {
      test('evict: under 50 concurrent issues the principal never holds more than the limit, and each eviction is announced', async () => {
        const service = serviceOf({ limit: { maxSessions: 3, policy: 'evict' } });
        const principal = newPrincipal();
        const seen: SessionChange[] = [];
        const stop = await harness.store.changes.listen({ change: (change) => seen.push(change), lost: () => undefined });
        try {
          const issued = await Promise.all(Array.from({ length: 50 }, () => service.issue(SERVICE, { principal })));
          const alive: string[] = [];
          for (const s of issued) if ((await read(service, s.id)) !== null) alive.push(s.digest);
          expect(alive).toHaveLength(3);
          expect(await listed(service, principal)).toEqual(alive.sort());
          expect((await indexed(service, principal)).sort()).toEqual(alive.sort());
          const evictions = () => seen.filter((change) => change.reason === 'EVICTED' && issued.some((s) => s.digest === change.digest));
          await waitFor(() => evictions().length >= 47);
          const evicted = evictions().map((change) => change.digest);
          expect(evicted.sort()).toEqual(issued.map((s) => s.digest).filter((digest) => !alive.includes(digest)).sort());
        } finally {
          stop();
        }
      });

      test.each(['evict', 'refuse'] as const)('%s: at the limit, rotating the oldest, one in the middle or the newest leaves every other session alive and adds none', async (policy) => {
        const service = serviceOf({ limit: { maxSessions: 5, policy } });
        const principal = newPrincipal();
        const sessions: SessionRecord[] = [];
        for (let i = 0; i < 5; i++) {
          sessions.push(await service.issue(SERVICE, { principal }));
          await new Promise((resolve) => setTimeout(resolve, 3)); // a strict least-recently-used order
        }
        const originals = [...sessions];
        const seen: SessionChange[] = [];
        const stop = await harness.store.changes.listen({ change: (change) => seen.push(change), lost: () => undefined });
        try {
          // The oldest (a frontend's own rotation), one in the middle (a service re-authenticating it), the newest.
          for (const [at, caller, input] of [[0, 'frontend', null], [2, 'service', { authenticated: true }], [4, 'frontend', null]] as const) {
            const old = sessions[at] as SessionRecord;
            const rotated = await service.rotate(caller === 'frontend' ? frontend(old.id) : SERVICE, caller === 'frontend' ? null : old.id, input);
            sessions[at] = rotated;
            expect(await read(service, old.id)).toBeNull();
            const now = await Promise.all(sessions.map((session) => read(service, session.id)));
            expect(now.map((session) => session?.id ?? null)).toEqual(sessions.map((session) => session.id));
            expect(await listed(service, principal)).toEqual(sessions.map((session) => session.digest).sort());
            expect((await indexed(service, principal)).sort()).toEqual(sessions.map((session) => session.digest).sort());
          }
          // What the feed heard: each rotated session ROTATED; nothing evicted.
          // Only this test's sessions: on Cluster an earlier test's announcement may still arrive.
          const ours = new Set([...originals.map((session) => session.digest), ...sessions.map((session) => session.digest)]);
          const revoked = () => seen.filter((change) => change.kind === 'REVOKED' && ours.has(change.digest));
          await waitFor(() => revoked().length >= 3);
          expect(revoked().map((change) => [change.digest, change.reason])).toEqual([0, 2, 4].map((at) => [originals[at]?.digest, 'ROTATED']));
          // The limit still holds for a new session.
          const sixth = await settle(service.issue(SERVICE, { principal }));
          if (policy === 'refuse') expect(sixth).toEqual({ ok: false, code: 'SESSION_LIMIT_REACHED' });
          else expect(sixth.ok).toBe(true);
          expect(await listed(service, principal)).toHaveLength(5);
        } finally {
          stop();
        }
      });

      test('evict: 50 rotations racing 50 issues at the limit: each issue evicts one of the least recently used, no rotation evicts or is evicted', async () => {
        const service = serviceOf({ limit: { maxSessions: 100, policy: 'evict' } });
        const principal = newPrincipal();
        // 50 idle devices, then 50 more recent ones that rotate while 50 new sign-ins arrive.
        const idle = await Promise.all(Array.from({ length: 50 }, () => service.issue(SERVICE, { principal })));
        await new Promise((resolve) => setTimeout(resolve, 5));
        const active = await Promise.all(Array.from({ length: 50 }, () => service.issue(SERVICE, { principal })));
        const seen: SessionChange[] = [];
        const stop = await harness.store.changes.listen({ change: (change) => seen.push(change), lost: () => undefined });
        try {
          const [rotations, issues] = await Promise.all([
            Promise.all(active.map((session, i) => settle(service.rotate(i % 2 === 0 ? frontend(session.id) : SERVICE, i % 2 === 0 ? null : session.id, null)))),
            Promise.all(Array.from({ length: 50 }, () => settle(service.issue(SERVICE, { principal })))),
          ]);
          const rotated = rotations.map((outcome) => (outcome.ok ? outcome.value : null));
          const issued = issues.map((outcome) => (outcome.ok ? outcome.value : null));
          expect({ rotationsFailed: rotations.filter((outcome) => !outcome.ok), issuesFailed: issues.filter((outcome) => !outcome.ok) }).toEqual({ rotationsFailed: [], issuesFailed: [] });
          const live = [...(rotated as SessionRecord[]), ...(issued as SessionRecord[])];
          // Exactly the limit, and exactly the rotated and the new: the 50 idle ones made the room.
          expect(await listed(service, principal)).toEqual(live.map((session) => session.digest).sort());
          expect((await indexed(service, principal)).sort()).toEqual(live.map((session) => session.digest).sort());
          expect((await service.getMany(live.map((session) => session.id))).every((session) => session !== null)).toBe(true);
          expect((await service.getMany([...idle, ...active].map((session) => session.id))).every((session) => session === null)).toBe(true);
          // Only this test's sessions: on Cluster an earlier test's announcement may still arrive.
          const ours = new Set([...idle, ...active, ...live].map((session) => session.digest));
          const evicted = () => seen.filter((change) => change.reason === 'EVICTED' && ours.has(change.digest));
          // A last change in the principal's slot (one node: its announcements arrive in order): once
          // it is heard, every eviction before it has been too.
          expect(await service.revokePrincipal(SERVICE, principal)).toBe(100);
          await waitFor(() => seen.filter((change) => change.reason === 'PRINCIPAL_REVOKED' && ours.has(change.digest)).length === 100);
          expect(evicted().map((change) => change.digest).sort()).toEqual(idle.map((session) => session.digest).sort());
        } finally {
          stop();
        }
      }, 60_000);

      test.each(['evict', 'refuse'] as const)('%s: five devices rotating ten times each while 50 issues race them: never more than the limit, and only an issue ever evicts', async (policy) => {
        const service = serviceOf({ limit: { maxSessions: 5, policy } });
        const principal = newPrincipal();
        const devices = await Promise.all(Array.from({ length: 5 }, () => service.issue(SERVICE, { principal })));
        const seen: SessionChange[] = [];
        const stop = await harness.store.changes.listen({ change: (change) => seen.push(change), lost: () => undefined });
        try {
          const chains = devices.map(async (first) => {
            let current = first;
            const lost: string[] = [];
            const rotatedDigests: string[] = [];
            for (let i = 0; i < 10; i++) {
              const outcome = await settle(service.rotate(frontend(current.id), null, null));
              if (!outcome.ok) {
                lost.push(`${outcome.code}:${current.digest}`);
                break;
              }
              current = outcome.value;
              rotatedDigests.push(current.digest);
            }
            return { current, lost, rotatedDigests };
          });
          const [ends, issues] = await Promise.all([Promise.all(chains), Promise.all(Array.from({ length: 50 }, () => settle(service.issue(SERVICE, { principal }))))]);
          const listedNow = await listed(service, principal);
          expect(listedNow.length).toBeLessThanOrEqual(5);
          expect((await indexed(service, principal)).sort()).toEqual(listedNow);
          const issuedOk = issues.filter((outcome) => outcome.ok).length;
          if (policy === 'refuse') {
            // Full all along: every issue refused, every rotation done, the five devices' sessions live.
            expect(issues.every((outcome) => !outcome.ok && outcome.code === 'SESSION_LIMIT_REACHED')).toBe(true);
            expect(ends.flatMap((end) => end.lost)).toEqual([]);
            expect(listedNow).toEqual(ends.map((end) => end.current.digest).sort());
            return;
          }
          expect(issuedOk).toBe(50);
          expect(listedNow).toHaveLength(5);
          // A rotation neither evicts nor counts: exactly one eviction per issue (each found the principal full).
          // A last change in the principal's slot (one node: its announcements arrive in order). Once it
          // is heard, every eviction before it has been too.
          const revoked = await service.revokePrincipal(SERVICE, principal);
          expect(revoked).toBe(5);
          await waitFor(() => seen.filter((change) => change.reason === 'PRINCIPAL_REVOKED' && listedNow.includes(change.digest)).length === 5);
          // Only this test's sessions: on Cluster an earlier test's announcement may still arrive.
          const ours = new Set([...devices.map((d) => d.digest), ...issues.flatMap((outcome) => (outcome.ok ? [outcome.value.digest] : [])), ...ends.flatMap((end) => end.rotatedDigests)]);
          const evicted = new Set(seen.filter((change) => change.reason === 'EVICTED' && ours.has(change.digest)).map((change) => change.digest));
          expect(evicted.size).toBe(50);
          // A device's chain ends only because an issue evicted its session before it rotated.
          for (const end of ends) {
            for (const lost of end.lost) {
              const [code, digest] = lost.split(':');
              expect(code).toBe('SESSION_NOT_FOUND');
              expect(evicted.has(digest as string)).toBe(true);
            }
          }
        } finally {
          stop();
        }
      }, 60_000);

      test('evict takes the least recently used', async () => {
        const service = serviceOf({ limit: { maxSessions: 2, policy: 'evict' } });
        const principal = newPrincipal();
        const a = await service.issue(SERVICE, { principal });
        await new Promise((resolve) => setTimeout(resolve, 5));
        const b = await service.issue(SERVICE, { principal });
        await new Promise((resolve) => setTimeout(resolve, 5));
        await read(service, a.id); // touch interval 0: a is now the more recently used
        const c = await service.issue(SERVICE, { principal });
        expect(await read(service, b.id)).toBeNull();
        expect(await read(service, a.id)).not.toBeNull();
        expect(await read(service, c.id)).not.toBeNull();
      });

      test('refuse: under 50 concurrent issues exactly the limit succeed, the rest are SESSION_LIMIT_REACHED and leave nothing', async () => {
        const service = serviceOf({ limit: { maxSessions: 3, policy: 'refuse' } });
        const principal = newPrincipal();
        const outcomes = await Promise.all(Array.from({ length: 50 }, () => settle(service.issue(SERVICE, { principal }))));
        const ok = outcomes.filter((outcome) => outcome.ok);
        expect(ok).toHaveLength(3);
        expect(outcomes.filter((outcome) => !outcome.ok).every((outcome) => !outcome.ok && outcome.code === 'SESSION_LIMIT_REACHED')).toBe(true);
        expect(await indexed(service, principal)).toHaveLength(3);
        // A rotation into the principal counts too.
        const anonymous = await service.issueAnonymous();
        expect(await codeOf(service.rotate(SERVICE, anonymous.id, { principal }))).toBe('SESSION_LIMIT_REACHED');
        expect(await read(service, anonymous.id)).not.toBeNull();
      });
    });

    test('updateSession refuses to change a principal: only a rotation (a new ID) may', async () => {
      const service = serviceOf();
      const anonymous = await service.issueAnonymous();
      expect(await codeOf(service.update(SERVICE, anonymous.id, { principal: 'user-1' }))).toBe('BAD_USER_INPUT');
      expect((await read(service, anonymous.id))?.principal).toBeNull();
      expect((await read(service, anonymous.id))?.version).toBe(1);
    });

    test("a handle naming a rotated-away session in its grace revokes nothing, and the old ID's grace goes on", async () => {
      const service = serviceOf({ rotationGraceSeconds: 30 });
      const principal = newPrincipal();
      const old = await service.issue(SERVICE, { principal });
      const other = await service.issue(SERVICE, { principal });
      const rotated = await service.rotate(frontend(old.id), null, null);
      expect(await service.revokeByHandle(frontend(other.id), old.digest)).toBe(false);
      expect((await read(service, old.id))?.id).toBe(rotated.id);
    });

    test('a digest no one issued lists nothing and revokes nothing', async () => {
      const service = serviceOf();
      const mine = await service.issue(SERVICE, { principal: newPrincipal() });
      expect(await service.revokeByHandle(frontend(mine.id), sessionDigest(generateSessionId()))).toBe(false);
      expect(await service.revokeByHandle(frontend(mine.id), 'not a handle')).toBe(false);
      expect(await read(service, mine.id)).not.toBeNull();
    });
  });
}
