/** The signing keys' schedule (tokens/key-schedule.ts): pure rules, so plain unit tests. */
import { planKeys, RETIRE_MARGIN_MS, signingKeyAt, type KeyRecord } from '../../src/tokens/key-schedule';

const times = { ttlMs: 300_000, rotationMs: 30 * 24 * 3600_000 };
const key = (kid: string, activatesAtMs: number, alg: KeyRecord['alg'] = 'ES256'): KeyRecord => ({ kid, alg, activatesAtMs, publicJwk: { kty: 'EC', crv: 'P-256', x: kid }, privateJwk: {} });

test('with no key, the first is made to sign at once', () => {
  expect(planKeys([], 1000, 'ES256', times)).toEqual({ keep: [], nextActivatesAtMs: 1000 });
});

test('the next key is made once the signing key has signed for rotation minus a lifetime, and signs a whole lifetime after it is published, never before the rotation is due', () => {
  const first = key('a', 0);
  expect(planKeys([first], times.rotationMs - times.ttlMs - 1, 'ES256', times).nextActivatesAtMs).toBeNull();
  const at = times.rotationMs - times.ttlMs;
  expect(planKeys([first], at, 'ES256', times).nextActivatesAtMs).toBe(times.rotationMs);
  // Late (no gateway ran for a while): still a whole lifetime after it is published.
  const late = times.rotationMs + 10_000;
  expect(planKeys([first], late, 'ES256', times).nextActivatesAtMs).toBe(late + times.ttlMs);
});

test('the newest activated key signs; one published but not yet active does not', () => {
  const keys = [key('a', 0), key('b', 5000)];
  expect(signingKeyAt(keys, 4999)?.kid).toBe('a');
  expect(signingKeyAt(keys, 5000)?.kid).toBe('b');
  expect(planKeys(keys, 4999, 'ES256', times)).toEqual({ keep: keys, nextActivatesAtMs: null });
});

test('a key stays served until its last token has expired (its successor\'s start plus a lifetime and a margin), then goes', () => {
  const keys = [key('a', 0), key('b', 5000)];
  const gone = 5000 + times.ttlMs + RETIRE_MARGIN_MS;
  expect(planKeys(keys, gone - 1, 'ES256', times).keep.map((k) => k.kid)).toEqual(['a', 'b']);
  expect(planKeys(keys, gone, 'ES256', times).keep.map((k) => k.kid)).toEqual(['b']);
});

test('a change of SESSION_TOKEN_ALG makes a key of the new algorithm at once, signing a lifetime later', () => {
  expect(planKeys([key('a', 0)], 10_000, 'EdDSA', times).nextActivatesAtMs).toBe(10_000 + times.ttlMs);
});

test('the first key ever made signs even a few ms before its start (made by a gateway whose clock runs ahead)', () => {
  const first = [key('a', 1000)];
  expect(signingKeyAt(first, 995)?.kid).toBe('a');
  expect(planKeys(first, 995, 'ES256', times)).toEqual({ keep: first, nextActivatesAtMs: null });
});
