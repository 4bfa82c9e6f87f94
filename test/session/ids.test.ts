/**
 * Session IDs (src/session/ids.ts): the generator, the one shape check and the digest a session
 * is stored under.
 */
import { createHash } from 'node:crypto';
import {
  ID_BYTES,
  ID_LENGTH,
  generateSessionId,
  hasPrincipalTag,
  isWellFormedDigest,
  isWellFormedSessionId,
  openForward,
  principalTag,
  sealForward,
  sessionDigest,
  tagText,
} from '../../src/session/ids';

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** 32 zero bytes, canonically encoded. */
const ZEROS = 'A'.repeat(ID_LENGTH);

describe('generateSessionId', () => {
  test('an ID is 32 random bytes written as 43 unpadded base64url characters', () => {
    expect(ID_BYTES).toBe(32);
    expect(ID_LENGTH).toBe(43);
    const id = generateSessionId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(id, 'base64url')).toHaveLength(32);
  });

  test('every generated ID passes the shape check and is the canonical spelling of its bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const id = generateSessionId();
      expect(isWellFormedSessionId(id)).toBe(true);
      expect(Buffer.from(id, 'base64url').toString('base64url')).toBe(id);
    }
  });

  test('generated IDs do not repeat', () => {
    const ids = new Set(Array.from({ length: 10_000 }, generateSessionId));
    expect(ids.size).toBe(10_000);
  });
});

describe('isWellFormedSessionId', () => {
  test('exactly 43 base64url characters with a canonical last character are well-formed', () => {
    expect(isWellFormedSessionId(ZEROS)).toBe(true);
    expect(isWellFormedSessionId(BASE64URL.slice(0, 42) + 'w')).toBe(true);
    expect(isWellFormedSessionId('-_'.repeat(21) + '8')).toBe(true);
  });

  test('42 or 44 characters are rejected', () => {
    expect(isWellFormedSessionId('A'.repeat(42))).toBe(false);
    expect(isWellFormedSessionId('A'.repeat(44))).toBe(false);
    expect(isWellFormedSessionId('')).toBe(false);
  });

  test.each([
    ['"+" (base64, not base64url)', '+'],
    ['"/" (base64, not base64url)', '/'],
    ['"=" padding', '='],
    ['a space', ' '],
    ['a dot', '.'],
    ['a non-ASCII letter', 'é'],
    ['a NUL', '\0'],
  ])('a character outside base64url (%s) anywhere is rejected', (_what, bad) => {
    for (const at of [0, 20, 41]) {
      const id = ZEROS.slice(0, at) + bad + ZEROS.slice(at + 1);
      expect(id).toHaveLength(43);
      expect(isWellFormedSessionId(id)).toBe(false);
    }
  });

  test('padding, surrounding whitespace and a trailing newline are not stripped: such values are rejected', () => {
    const id = generateSessionId();
    expect(isWellFormedSessionId(id + '=')).toBe(false);
    expect(isWellFormedSessionId(` ${id}`)).toBe(false);
    expect(isWellFormedSessionId(`${id} `)).toBe(false);
    expect(isWellFormedSessionId(`${id}\n`)).toBe(false);
    expect(isWellFormedSessionId(`${id.slice(0, 21)}\n${id.slice(21)}`)).toBe(false);
  });

  test('the last character is accepted exactly when the ID is the canonical spelling of 32 bytes', () => {
    const accepted: string[] = [];
    for (const last of BASE64URL) {
      const id = ZEROS.slice(0, 42) + last;
      const canonical = Buffer.from(id, 'base64url').toString('base64url') === id;
      expect(isWellFormedSessionId(id)).toBe(canonical);
      if (canonical) accepted.push(last);
    }
    // Two spellings of one ID cannot both exist: 'AAA…B' decodes to the same bytes as 'AAA…A'.
    expect(accepted.join('')).toBe('AEIMQUYcgkosw048');
  });

  test.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 43],
    ['an array of the characters', ZEROS.split('')],
    ['a String object', new String(ZEROS)],
    ['a Buffer of the text', Buffer.from(ZEROS)],
    ['an object', { id: ZEROS }],
  ])('a value that is not a string (%s) is rejected', (_what, value) => {
    expect(isWellFormedSessionId(value)).toBe(false);
  });
});

describe('sessionDigest', () => {
  test('the digest is the ID\'s tag (its first 4 characters), then its SHA-256 written as base64url', () => {
    const id = generateSessionId();
    expect(sessionDigest(id)).toBe(id.slice(0, 4) + createHash('sha256').update(id, 'utf8').digest('base64url'));
    // A published SHA-256 test vector ("abc"), so the encoding is pinned too (not hex, not padded).
    expect(sessionDigest('abcd').slice(4)).toBe(createHash('sha256').update('abcd').digest('base64url'));
    expect(sessionDigest('abc')).toBe('abcungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(sessionDigest(ZEROS)).toBe('AAAA' + createHash('sha256').update(ZEROS).digest('base64url'));
  });

  test('the digest is 47 base64url characters, whatever the ID, and has the digest shape', () => {
    for (const id of [ZEROS, generateSessionId(), generateSessionId()]) {
      expect(sessionDigest(id)).toMatch(/^[A-Za-z0-9_-]{47}$/);
      expect(isWellFormedDigest(sessionDigest(id))).toBe(true);
    }
    expect(isWellFormedDigest(ZEROS)).toBe(false);
    expect(isWellFormedDigest(sessionDigest(ZEROS) + 'A')).toBe(false);
  });

  test('the digest of one ID is the same on every call', () => {
    const id = generateSessionId();
    const first = sessionDigest(id);
    for (let i = 0; i < 10; i++) expect(sessionDigest(id)).toBe(first);
  });

  test('the digest is never the ID, and does not carry it', () => {
    for (let i = 0; i < 100; i++) {
      const id = generateSessionId();
      const digest = sessionDigest(id);
      expect(digest).not.toBe(id);
      expect(digest).not.toContain(id.slice(0, 16));
    }
  });

  test('IDs that differ in one character have unrelated digests', () => {
    const a = ZEROS;
    const b = ZEROS.slice(0, 42) + 'E';
    expect(isWellFormedSessionId(b)).toBe(true);
    expect(sessionDigest(a)).not.toBe(sessionDigest(b));
    const distinct = new Set(Array.from({ length: 1000 }, () => sessionDigest(generateSessionId())));
    expect(distinct.size).toBe(1000);
  });
});

describe('tags', () => {
  test('an ID made with a tag starts with it, and stays random after it', () => {
    const tag = principalTag(Buffer.alloc(32, 7), 'user-1');
    expect(tag).toHaveLength(3);
    const ids = Array.from({ length: 100 }, () => generateSessionId(tag));
    for (const id of ids) {
      expect(isWellFormedSessionId(id)).toBe(true);
      expect(id.slice(0, 4)).toBe(tagText(tag));
      expect(sessionDigest(id).slice(0, 4)).toBe(tagText(tag));
    }
    expect(new Set(ids).size).toBe(100);
  });

  test('the top bit of a tag tells a principal\'s from an anonymous one, in the ID and in its digest', () => {
    const tag = principalTag(Buffer.alloc(32, 3), 'user-1');
    for (let i = 0; i < 200; i++) {
      const anonymous = generateSessionId();
      const signedIn = generateSessionId(tag);
      expect([hasPrincipalTag(anonymous), hasPrincipalTag(sessionDigest(anonymous))]).toEqual([false, false]);
      expect([hasPrincipalTag(signedIn), hasPrincipalTag(sessionDigest(signedIn))]).toEqual([true, true]);
    }
  });

  test('a principal\'s tag depends on the key: without it, the tag says nothing of who it belongs to', () => {
    const a = principalTag(Buffer.alloc(32, 1), 'user-1');
    expect(principalTag(Buffer.alloc(32, 1), 'user-1')).toEqual(a);
    expect(principalTag(Buffer.alloc(32, 2), 'user-1')).not.toEqual(a);
    expect(principalTag(Buffer.alloc(32, 1), 'user-2')).not.toEqual(a);
  });
});

describe('forwards', () => {
  test('only the old ID opens the new one; anything else, or a tampered seal, opens nothing', () => {
    const oldId = generateSessionId();
    const newId = generateSessionId();
    const sealed = sealForward(oldId, newId);
    expect(sealed).not.toContain(newId);
    expect(openForward(oldId, sealed)).toBe(newId);
    expect(openForward(generateSessionId(), sealed)).toBeNull();
    const bytes = Buffer.from(sealed, 'base64url');
    bytes[20] = (bytes[20] as number) ^ 1;
    expect(openForward(oldId, bytes.toString('base64url'))).toBeNull();
    expect(openForward(oldId, '')).toBeNull();
  });
});
