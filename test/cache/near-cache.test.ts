/**
 * The near cache's rules, as pure logic: serve only while enabled, never past the TTL, within
 * its bounds, and never store an answer that crossed an invalidation.
 */
import { NearCache } from '../../src/cache/near-cache';

interface Value {
  readonly name: string;
  readonly version: number;
}

let clock = 1_000_000;
const cache = (limits: { maxEntries?: number; maxBytes?: number } = {}): NearCache<Value> => {
  const c = new NearCache<Value>({ maxEntries: limits.maxEntries ?? 100, maxBytes: limits.maxBytes ?? 10_000, now: () => clock });
  c.enable();
  return c;
};
const v = (name: string, version = 1): Value => ({ name, version });
const put = (c: NearCache<Value>, key: string, value: Value, bytes = 10, ttl = 1000): boolean => c.put(c.ticket(key), value, bytes, clock + ttl);

test('serves what it stored, only while enabled; disabling forgets everything', () => {
  const c = cache();
  expect(put(c, 'a', v('a'))).toBe(true);
  expect(c.get('a')).toEqual(v('a'));
  c.disable();
  expect(c.get('a')).toBeUndefined();
  expect(c.ticket('a')).toBeNull();
  c.enable();
  expect(c.get('a')).toBeUndefined(); // not kept across the gap
});

test('an entry lives until its expiry, not a millisecond longer', () => {
  const c = cache();
  put(c, 'a', v('a'), 10, 500);
  clock += 499;
  expect(c.get('a')).toEqual(v('a'));
  clock += 1;
  expect(c.get('a')).toBeUndefined();
  expect(c.size).toBe(0);
});

test('bounded by entries and by bytes, least recently used out first', () => {
  const c = cache({ maxEntries: 3, maxBytes: 100 });
  put(c, 'a', v('a'));
  put(c, 'b', v('b'));
  put(c, 'c', v('c'));
  c.get('a'); // a is now the most recent
  put(c, 'd', v('d'));
  expect(['a', 'b', 'c', 'd'].map((k) => c.get(k) !== undefined)).toEqual([true, false, true, true]);
  put(c, 'big', v('big'), 90); // 120 bytes with a, c, d: the two least recent go
  expect(c.byteSize).toBe(100);
  expect(['a', 'c', 'd', 'big'].map((k) => c.get(k) !== undefined)).toEqual([false, false, true, true]);
  expect(put(c, 'huge', v('huge'), 101)).toBe(false);
});

test('a change event drops an older entry, keeps one already at that version', () => {
  const c = cache();
  put(c, 'a', v('a', 2));
  c.invalidate('a', 2);
  expect(c.get('a')).toEqual(v('a', 2));
  c.invalidate('a', 3);
  expect(c.get('a')).toBeUndefined();
  put(c, 'b', v('b', 7));
  c.invalidate('b', Number.POSITIVE_INFINITY); // revoked
  expect(c.get('b')).toBeUndefined();
});

test('an answer that crossed an invalidation on the wire is not stored', () => {
  const c = cache();
  const ticket = c.ticket('a'); // the fetch starts
  c.invalidate('a', 3); // someone changes the session; the event overtakes the answer
  expect(c.put(ticket, v('a', 2), 10, clock + 1000)).toBe(false); // the answer predates the change
  expect(c.get('a')).toBeUndefined();

  const fresh = c.ticket('a');
  c.invalidate('a', 3); // an event for the very version fetched
  expect(c.put(fresh, v('a', 3), 10, clock + 1000)).toBe(true);

  const revoked = c.ticket('a');
  c.invalidate('a', Number.POSITIVE_INFINITY);
  expect(c.put(revoked, v('a', 99), 10, clock + 1000)).toBe(false);
});

test('an answer from before the stream was lost is not stored after it is back', () => {
  const c = cache();
  const ticket = c.ticket('a');
  c.disable();
  c.enable();
  expect(c.put(ticket, v('a'), 10, clock + 1000)).toBe(false);
});

test('never goes back to an older version', () => {
  const c = cache();
  const slowRead = c.ticket('a');
  put(c, 'a', v('a', 5)); // the client's own update landed first
  expect(c.put(slowRead, v('a', 4), 10, clock + 1000)).toBe(false);
  expect(c.get('a')).toEqual(v('a', 5));
});
