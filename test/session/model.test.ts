/**
 * The session rules that hold whatever stores a session (src/session/model.ts): input limits and
 * their messages, how a patch applies, how its failure reads, and when a read slides the expiry.
 */
import { MAX_INACTIVE_SECONDS, MAX_LIFETIME_SECONDS } from '../../src/config';
import { GatewayError } from '../../src/errors';
import {
  MAX_NAME_BYTES,
  MAX_PRINCIPAL_BYTES,
  applyPatch,
  attributeBytes,
  patchError,
  sessionNotFound,
  touchDue,
  validateNewSession,
  validatePatch,
  NO_DEVICE,
  absoluteDeadlineMs,
  checkLifetime,
  clientAddress,
  deviceOfRequest,
  newStoredSession,
  sessionDeadlineMs,
  validateDevice,
  type SessionPatch,
  type SessionState,
} from '../../src/session/model';
import { gatewayErrorOf } from './gateway-error';

const limits = { maxAttributeBytes: 1024, defaultInactiveSeconds: 1800, mostInactiveSeconds: MAX_INACTIVE_SECONDS, mostLifetimeSeconds: MAX_LIFETIME_SECONDS };
const THIRTY_DAYS = 30 * 24 * 3600;

function badInput(message: string): { code: 'BAD_USER_INPUT'; message: string } {
  return { code: 'BAD_USER_INPUT', message };
}

describe('limits', () => {
  test('names and principals hold at most 256 bytes; idle time at most 30 days', () => {
    expect(MAX_NAME_BYTES).toBe(256);
    expect(MAX_PRINCIPAL_BYTES).toBe(256);
    expect(MAX_INACTIVE_SECONDS).toBe(THIRTY_DAYS);
  });
});

describe('attributeBytes', () => {
  test('counts UTF-8 bytes of every name plus its JSON text', () => {
    expect(attributeBytes([])).toBe(0);
    expect(attributeBytes([['a', '1']])).toBe(2);
    // 'é' is 2 bytes, '김' 3, '😀' 4 (one surrogate pair in JS, two UTF-16 units).
    expect(attributeBytes([['é', '"김"']])).toBe(2 + 5);
    expect(attributeBytes([['😀', 'null']])).toBe(4 + 4);
    expect(attributeBytes(new Map([['user', '{"id":7}'], ['n', 'true']]))).toBe(4 + 8 + 1 + 4);
  });
});

describe('validateNewSession', () => {
  test('no input issues an anonymous session with no attributes and the default idle time', () => {
    const expected = { principal: null, attributes: [], maxInactiveSeconds: 1800, lifetimeSeconds: 0, authenticated: false, device: NO_DEVICE };
    expect(validateNewSession(undefined, limits)).toEqual(expected);
    expect(validateNewSession(null, limits)).toEqual(expected);
    expect(validateNewSession({}, limits)).toEqual(expected);
    expect(validateNewSession({ principal: null, attributes: null, maxInactiveInterval: null }, limits)).toEqual(expected);
  });

  test('attributes become name and JSON text pairs, in the order given', () => {
    const session = validateNewSession(
      { principal: 'user-7', attributes: { user: { id: 7, name: '김민수' }, flag: true, none: null, list: [1, 'x'], text: 'a"b' }, maxInactiveInterval: 60 },
      limits,
    );
    expect(session).toEqual({
      principal: 'user-7',
      attributes: [
        ['user', '{"id":7,"name":"김민수"}'],
        ['flag', 'true'],
        ['none', 'null'],
        ['list', '[1,"x"]'],
        ['text', '"a\\"b"'],
      ],
      maxInactiveSeconds: 60,
      lifetimeSeconds: 0,
      authenticated: true,
      device: NO_DEVICE,
    });
  });

  test('an empty principal is rejected', () => {
    expect(gatewayErrorOf(() => validateNewSession({ principal: '' }, limits))).toEqual(badInput('principal must not be empty'));
  });

  test('a principal of 256 bytes is accepted, 257 bytes is rejected with the byte count', () => {
    expect(validateNewSession({ principal: 'p'.repeat(256) }, limits).principal).toBe('p'.repeat(256));
    expect(gatewayErrorOf(() => validateNewSession({ principal: 'p'.repeat(257) }, limits))).toEqual(
      badInput('principal must be at most 256 bytes, got 257'),
    );
  });

  test('a principal is measured in UTF-8 bytes, not characters', () => {
    expect(validateNewSession({ principal: 'é'.repeat(128) }, limits).principal).toBe('é'.repeat(128));
    expect(gatewayErrorOf(() => validateNewSession({ principal: 'é'.repeat(129) }, limits))).toEqual(
      badInput('principal must be at most 256 bytes, got 258'),
    );
    expect(gatewayErrorOf(() => validateNewSession({ principal: '😀'.repeat(65) }, limits))).toEqual(
      badInput('principal must be at most 256 bytes, got 260'),
    );
  });

  test.each([
    ['a lone high surrogate', '\uD800'],
    ['a lone low surrogate', 'a\uDC00b'],
    ['a high surrogate before a non-surrogate', 'x\uD83Dy'],
    ['a pair in the wrong order', '\uDE00\uD83D'],
    ['a high surrogate doubled before its low one', '\uD83D\uD83D\uDE00'],
  ])('a principal with %s is rejected as not well-formed Unicode', (_what, principal) => {
    expect(gatewayErrorOf(() => validateNewSession({ principal }, limits))).toEqual(badInput('principal must be well-formed Unicode'));
  });

  test('a principal with proper surrogate pairs (emoji) is accepted', () => {
    expect(validateNewSession({ principal: 'ü😀𝄞' }, limits).principal).toBe('ü😀𝄞');
  });

  test('an empty attribute name is rejected', () => {
    expect(gatewayErrorOf(() => validateNewSession({ attributes: { '': 1 } }, limits))).toEqual(badInput('an attribute name must not be empty'));
  });

  test('an attribute name of 256 bytes is accepted, 257 bytes is rejected with the byte count', () => {
    const roomy = { ...limits, maxAttributeBytes: 4096 };
    expect(validateNewSession({ attributes: { ['n'.repeat(256)]: 1 } }, roomy).attributes).toEqual([['n'.repeat(256), '1']]);
    expect(gatewayErrorOf(() => validateNewSession({ attributes: { ['n'.repeat(257)]: 1 } }, roomy))).toEqual(
      badInput('an attribute name must be at most 256 bytes, got 257'),
    );
    expect(gatewayErrorOf(() => validateNewSession({ attributes: { ['김'.repeat(86)]: 1 } }, roomy))).toEqual(
      badInput('an attribute name must be at most 256 bytes, got 258'),
    );
  });

  test('an attribute name with a lone surrogate is rejected', () => {
    expect(gatewayErrorOf(() => validateNewSession({ attributes: { 'a\uDC00': 1 } }, limits))).toEqual(
      badInput('an attribute name must be well-formed Unicode'),
    );
  });

  test('a lone surrogate inside an attribute value is kept, escaped in the JSON text', () => {
    const session = validateNewSession({ attributes: { text: 'a\uD800b', nested: { 'k\uDC00': ['\uDBFF'] } } }, limits);
    expect(session.attributes).toEqual([
      ['text', '"a\\ud800b"'],
      ['nested', '{"k\\udc00":["\\udbff"]}'],
    ]);
    for (const [, json] of session.attributes) expect(Buffer.from(json, 'utf8').toString('utf8')).toBe(json);
  });

  test.each([
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
  ])('an attribute whose value is not a JSON value (%s) is rejected, naming the attribute', (_what, value) => {
    expect(gatewayErrorOf(() => validateNewSession({ attributes: { ok: 1, 'the name': value } }, limits))).toEqual(
      badInput('attribute "the name" is not a JSON value'),
    );
  });

  test('attributes may take exactly maxAttributeBytes; one byte more is PAYLOAD_TOO_LARGE with both figures', () => {
    // name 'a' (1 byte) + JSON '"…"' (2 quotes + n) = n + 3 bytes
    const exact = { a: 'x'.repeat(1024 - 3) };
    expect(attributeBytes(validateNewSession({ attributes: exact }, limits).attributes)).toBe(1024);
    expect(gatewayErrorOf(() => validateNewSession({ attributes: { a: 'x'.repeat(1024 - 2) } }, limits))).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'attributes take 1025 bytes; a session holds at most 1024',
    });
  });

  test('the byte limit counts names as well as values, in UTF-8, across all attributes', () => {
    // 2 × (200-byte name + 302-byte JSON) = 1004 bytes: under the limit
    const attributes = { ['n'.repeat(200)]: 'v'.repeat(300), ['m'.repeat(200)]: 'w'.repeat(300) };
    expect(attributeBytes(validateNewSession({ attributes }, limits).attributes)).toBe(1004);
    // + 'x' (1 byte) + '"é…"' (2 + 9 × 2 bytes) = 1025
    expect(gatewayErrorOf(() => validateNewSession({ attributes: { ...attributes, x: 'é'.repeat(9) } }, limits))).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'attributes take 1025 bytes; a session holds at most 1024',
    });
  });

  test('maxInactiveInterval from 1 to 30 days is accepted as given', () => {
    expect(validateNewSession({ maxInactiveInterval: 1 }, limits).maxInactiveSeconds).toBe(1);
    expect(validateNewSession({ maxInactiveInterval: THIRTY_DAYS }, limits).maxInactiveSeconds).toBe(THIRTY_DAYS);
  });

  test.each([
    [0, '0'],
    [-1, '-1'],
    [THIRTY_DAYS + 1, '2592001'],
    [1.5, '1.5'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
  ])('maxInactiveInterval %p is rejected, saying what was expected and what came', (value, shown) => {
    expect(gatewayErrorOf(() => validateNewSession({ maxInactiveInterval: value }, limits))).toEqual(
      badInput(`maxInactiveInterval must be an integer from 1 to 2592000, got ${shown}`),
    );
  });

  test('the principal is checked before the attributes, and names before the size', () => {
    const huge = { a: 'x'.repeat(5000), '': 1 };
    expect(gatewayErrorOf(() => validateNewSession({ principal: '', attributes: huge, maxInactiveInterval: 0 }, limits)).message).toBe(
      'principal must not be empty',
    );
    expect(gatewayErrorOf(() => validateNewSession({ attributes: huge, maxInactiveInterval: 0 }, limits)).message).toBe(
      'an attribute name must not be empty',
    );
    expect(gatewayErrorOf(() => validateNewSession({ attributes: { a: 'x'.repeat(5000) }, maxInactiveInterval: 0 }, limits)).code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
  });

  test('every rejection is a GatewayError whose status follows its code', () => {
    let error: unknown;
    try {
      validateNewSession({ principal: '' }, limits);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).status).toBe(400);
    expect(() => validateNewSession({ attributes: { a: 'x'.repeat(2000) } }, limits)).toThrow(
      expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE', status: 413 }),
    );
  });
});

describe('validatePatch', () => {
  test('an empty patch sets nothing, unsets nothing and keeps everything else', () => {
    const patch = validatePatch({}, limits);
    expect(patch).toEqual({ set: [], unset: [] });
    expect('principal' in patch).toBe(false);
    expect('maxInactiveSeconds' in patch).toBe(false);
    expect('expectedVersion' in patch).toBe(false);
  });

  test('null set, unset, maxInactiveInterval and expectedVersion mean "not given"', () => {
    const patch = validatePatch({ set: null, unset: null, maxInactiveInterval: null, expectedVersion: null }, limits);
    expect(patch).toEqual({ set: [], unset: [] });
    expect(Object.keys(patch).sort()).toEqual(['set', 'unset']);
  });

  test('a full patch carries every part', () => {
    expect(
      validatePatch({ set: { cart: [1, 2], user: { id: 7 } }, unset: ['old'], principal: 'user-7', maxInactiveInterval: 120, expectedVersion: 3 }, limits),
    ).toEqual({
      set: [
        ['cart', '[1,2]'],
        ['user', '{"id":7}'],
      ],
      unset: ['old'],
      principal: 'user-7',
      maxInactiveSeconds: 120,
      expectedVersion: 3,
    });
  });

  test('principal omitted keeps it; principal null clears it; a string sets it', () => {
    expect('principal' in validatePatch({ set: { a: 1 } }, limits)).toBe(false);
    expect(validatePatch({ principal: null }, limits)).toEqual({ set: [], unset: [], principal: null });
    expect(validatePatch({ principal: 'p' }, limits)).toEqual({ set: [], unset: [], principal: 'p' });
  });

  test('a new principal obeys the same rules as at issue', () => {
    expect(gatewayErrorOf(() => validatePatch({ principal: '' }, limits))).toEqual(badInput('principal must not be empty'));
    expect(gatewayErrorOf(() => validatePatch({ principal: 'p'.repeat(257) }, limits))).toEqual(
      badInput('principal must be at most 256 bytes, got 257'),
    );
    expect(gatewayErrorOf(() => validatePatch({ principal: '\uDBFF' }, limits))).toEqual(badInput('principal must be well-formed Unicode'));
    expect(validatePatch({ principal: 'p'.repeat(256) }, limits).principal).toBe('p'.repeat(256));
  });

  test('unset names are de-duplicated, keeping first-seen order', () => {
    expect(validatePatch({ unset: ['b', 'a', 'b', 'a', 'c'] }, limits).unset).toEqual(['b', 'a', 'c']);
  });

  test('unset names obey the attribute name rules', () => {
    expect(gatewayErrorOf(() => validatePatch({ unset: ['ok', ''] }, limits))).toEqual(badInput('an attribute name must not be empty'));
    expect(gatewayErrorOf(() => validatePatch({ unset: ['n'.repeat(257)] }, limits))).toEqual(
      badInput('an attribute name must be at most 256 bytes, got 257'),
    );
    expect(gatewayErrorOf(() => validatePatch({ unset: ['\uD800x'] }, limits))).toEqual(badInput('an attribute name must be well-formed Unicode'));
    expect(validatePatch({ unset: ['n'.repeat(256)] }, limits).unset).toEqual(['n'.repeat(256)]);
  });

  test('set names and values obey the same rules as at issue', () => {
    expect(gatewayErrorOf(() => validatePatch({ set: { '': 1 } }, limits))).toEqual(badInput('an attribute name must not be empty'));
    expect(gatewayErrorOf(() => validatePatch({ set: { x: undefined } }, limits))).toEqual(badInput('attribute "x" is not a JSON value'));
    expect(gatewayErrorOf(() => validatePatch({ set: { ['\uDC00']: 1 } }, limits))).toEqual(badInput('an attribute name must be well-formed Unicode'));
  });

  test('naming one attribute in both set and unset is rejected, naming it', () => {
    expect(gatewayErrorOf(() => validatePatch({ set: { keep: 1, both: 2 }, unset: ['other', 'both'] }, limits))).toEqual(
      badInput('attribute "both" is both set and unset'),
    );
  });

  test('set and unset of different names that differ only in case are both allowed', () => {
    expect(validatePatch({ set: { Name: 1 }, unset: ['name'] }, limits)).toEqual({ set: [['Name', '1']], unset: ['name'] });
  });

  test('a set that alone exceeds maxAttributeBytes is PAYLOAD_TOO_LARGE before anything is read', () => {
    expect(validatePatch({ set: { a: 'x'.repeat(1021) } }, limits).set).toEqual([['a', `"${'x'.repeat(1021)}"`]]);
    expect(gatewayErrorOf(() => validatePatch({ set: { a: 'x'.repeat(1022) } }, limits))).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'attributes take 1025 bytes; a session holds at most 1024',
    });
  });

  test('maxInactiveInterval in a patch: 1 to 30 days accepted, anything else rejected (0 is not "keep")', () => {
    expect(validatePatch({ maxInactiveInterval: 1 }, limits).maxInactiveSeconds).toBe(1);
    expect(validatePatch({ maxInactiveInterval: THIRTY_DAYS }, limits).maxInactiveSeconds).toBe(THIRTY_DAYS);
    for (const [value, shown] of [
      [0, '0'],
      [-5, '-5'],
      [THIRTY_DAYS + 1, '2592001'],
      [2.5, '2.5'],
    ] as const) {
      expect(gatewayErrorOf(() => validatePatch({ maxInactiveInterval: value }, limits))).toEqual(
        badInput(`maxInactiveInterval must be an integer from 1 to 2592000, got ${shown}`),
      );
    }
  });

  test('a patch without maxInactiveInterval does not reset it to the default', () => {
    expect(validatePatch({ set: { a: 1 } }, limits).maxInactiveSeconds).toBeUndefined();
  });

  test('expectedVersion must be a positive integer', () => {
    expect(validatePatch({ expectedVersion: 1 }, limits).expectedVersion).toBe(1);
    expect(validatePatch({ expectedVersion: 2_147_483_647 }, limits).expectedVersion).toBe(2_147_483_647);
    for (const [value, shown] of [
      [0, '0'],
      [-1, '-1'],
      [1.5, '1.5'],
      [Number.NaN, 'NaN'],
    ] as const) {
      expect(gatewayErrorOf(() => validatePatch({ expectedVersion: value }, limits))).toEqual(
        badInput(`expectedVersion must be a positive integer, got ${shown}`),
      );
    }
  });
});

describe('applyPatch', () => {
  function state(overrides: Partial<SessionState> = {}): SessionState {
    return {
      principal: 'user-7',
      attributes: new Map([
        ['a', '1'],
        ['b', '"two"'],
      ]),
      createdAtMs: 1_700_000_000_000,
      maxInactiveSeconds: 1800,
      version: 4,
      absoluteExpiresAtMs: 0,
      lifetimeSeconds: 0,
      authenticatedAtMs: 0,
      device: NO_DEVICE,
      ...overrides,
    };
  }

  function patch(overrides: Partial<SessionPatch> = {}): SessionPatch {
    return { set: [], unset: [], ...overrides };
  }

  test('sets and unsets attributes, bumps the version by one, and keeps what the patch does not name', () => {
    const outcome = applyPatch(state(), patch({ set: [['c', 'true'], ['a', '10']], unset: ['b'] }), 1024);
    expect(outcome).toEqual({
      ok: true,
      state: {
        principal: 'user-7',
        attributes: new Map([
          ['a', '10'],
          ['c', 'true'],
        ]),
        createdAtMs: 1_700_000_000_000,
        maxInactiveSeconds: 1800,
        version: 5,
        absoluteExpiresAtMs: 0,
        lifetimeSeconds: 0,
        authenticatedAtMs: 0,
        device: NO_DEVICE,
      },
    });
  });

  test('an empty patch still counts as an update: the version goes up', () => {
    const outcome = applyPatch(state(), patch(), 1024);
    expect(outcome.ok && outcome.state.version).toBe(5);
    expect(outcome.ok && [...outcome.state.attributes]).toEqual([
      ['a', '1'],
      ['b', '"two"'],
    ]);
  });

  test('unsetting an attribute that is not there is not an error', () => {
    const outcome = applyPatch(state(), patch({ unset: ['missing'] }), 1024);
    expect(outcome.ok && [...outcome.state.attributes.keys()]).toEqual(['a', 'b']);
  });

  test('principal undefined or the same keeps it; clearing or replacing it is refused (only a rotation may)', () => {
    const keep = applyPatch(state(), patch(), 1024);
    const same = applyPatch(state(), patch({ principal: 'user-7' }), 1024);
    expect(keep.ok && keep.state.principal).toBe('user-7');
    expect(same.ok && same.state.principal).toBe('user-7');
    for (const principal of [null, 'user-8']) {
      const refused = applyPatch(state(), patch({ principal }), 1024);
      expect(refused).toEqual({ ok: false, code: 'PRINCIPAL_CHANGE', detail: 0 });
      if (!refused.ok) expect(patchError(refused, 1024)).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/rotateSession/) });
    }
  });

  test('maxInactiveSeconds changes only when the patch gives one', () => {
    const keep = applyPatch(state(), patch(), 1024);
    const change = applyPatch(state(), patch({ maxInactiveSeconds: 60 }), 1024);
    expect(keep.ok && keep.state.maxInactiveSeconds).toBe(1800);
    expect(change.ok && change.state.maxInactiveSeconds).toBe(60);
  });

  test('a matching expectedVersion applies; a different one is VERSION_CONFLICT carrying the current version', () => {
    const match = applyPatch(state(), patch({ expectedVersion: 4, set: [['x', '1']] }), 1024);
    expect(match.ok && match.state.version).toBe(5);
    expect(applyPatch(state(), patch({ expectedVersion: 3 }), 1024)).toEqual({ ok: false, code: 'VERSION_CONFLICT', detail: 4 });
    expect(applyPatch(state(), patch({ expectedVersion: 5 }), 1024)).toEqual({ ok: false, code: 'VERSION_CONFLICT', detail: 4 });
  });

  test('the patched session may hold exactly maxAttributeBytes; more is PAYLOAD_TOO_LARGE carrying the byte count', () => {
    // current: a=1 (2 bytes) + b="two" (6 bytes) = 8 bytes
    expect(applyPatch(state(), patch({ set: [['c', 'x'.repeat(10)]] }), 19).ok).toBe(true);
    expect(applyPatch(state(), patch({ set: [['c', 'x'.repeat(11)]] }), 19)).toEqual({ ok: false, code: 'PAYLOAD_TOO_LARGE', detail: 20 });
  });

  test('the size is of the result: unsetting in the same patch makes room for what is set', () => {
    expect(applyPatch(state(), patch({ set: [['c', 'x'.repeat(16)]] }), 19)).toEqual({ ok: false, code: 'PAYLOAD_TOO_LARGE', detail: 25 });
    expect(applyPatch(state(), patch({ set: [['c', 'x'.repeat(16)]], unset: ['b'] }), 19).ok).toBe(true);
  });

  test('a version conflict is reported before the size', () => {
    expect(applyPatch(state(), patch({ expectedVersion: 1, set: [['c', 'x'.repeat(5000)]] }), 19)).toEqual({
      ok: false,
      code: 'VERSION_CONFLICT',
      detail: 4,
    });
  });

  test('the current state is never changed, applied or refused', () => {
    const current = state();
    applyPatch(current, patch({ set: [['c', '1']], unset: ['a'], principal: null, maxInactiveSeconds: 5 }), 1024);
    applyPatch(current, patch({ set: [['c', 'x'.repeat(5000)]], unset: ['a'] }), 1024);
    expect(current).toEqual(state());
  });
});

describe('patchError', () => {
  test('VERSION_CONFLICT names the current version and says nothing was written', () => {
    const error = patchError({ ok: false, code: 'VERSION_CONFLICT', detail: 7 }, 1024);
    expect(error).toBeInstanceOf(GatewayError);
    expect({ code: error.code, message: error.message, status: error.status }).toEqual({
      code: 'VERSION_CONFLICT',
      message: 'the session is at version 7; nothing was written',
      status: 409,
    });
  });

  test('PAYLOAD_TOO_LARGE names the bytes it would take and the limit, and says nothing was written', () => {
    const error = patchError({ ok: false, code: 'PAYLOAD_TOO_LARGE', detail: 2048 }, 1024);
    expect({ code: error.code, message: error.message, status: error.status }).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'the patched session would hold 2048 attribute bytes; at most 1024 are allowed; nothing was written',
      status: 413,
    });
  });

  test('the error for a refused applyPatch is the one patchError gives', () => {
    const outcome = applyPatch(
      { principal: null, attributes: new Map(), createdAtMs: 0, maxInactiveSeconds: 60, version: 2, absoluteExpiresAtMs: 0, lifetimeSeconds: 0, authenticatedAtMs: 0, device: NO_DEVICE },
      { set: [], unset: [], expectedVersion: 1 },
      1024,
    );
    if (outcome.ok) throw new Error('expected a conflict');
    expect(patchError(outcome, 1024).message).toBe('the session is at version 2; nothing was written');
  });
});

describe('sessionNotFound', () => {
  test('is SESSION_NOT_FOUND (404) and says it may have expired or been revoked', () => {
    const error = sessionNotFound();
    expect(error).toBeInstanceOf(GatewayError);
    expect({ code: error.code, message: error.message, status: error.status }).toEqual({
      code: 'SESSION_NOT_FOUND',
      message: 'no such session (it may have expired or been revoked)',
      status: 404,
    });
  });
});

describe('touchDue', () => {
  const last = 1_700_000_000_000;

  test('a touch is due when the last one is exactly the interval old, not a millisecond sooner', () => {
    expect(touchDue(last, last + 60_000, 60_000)).toBe(true);
    expect(touchDue(last, last + 59_999, 60_000)).toBe(false);
    expect(touchDue(last, last + 60_001, 60_000)).toBe(true);
  });

  test('a read right after the last touch does not touch', () => {
    expect(touchDue(last, last, 60_000)).toBe(false);
  });

  test('with an interval of 0 every read touches', () => {
    expect(touchDue(last, last, 0)).toBe(true);
    expect(touchDue(last, last + 1, 0)).toBe(true);
  });

  test('a clock behind the last touch does not touch, so lastAccessedAt never moves backwards', () => {
    expect(touchDue(last, last - 1, 60_000)).toBe(false);
    expect(touchDue(last, last - 1, 0)).toBe(false);
  });
});

describe('deadlines', () => {
  test('a session expires at the earlier of its idle and its absolute deadline; no absolute (0) means idle only', () => {
    expect(sessionDeadlineMs(1000, 60, 0)).toBe(61_000);
    expect(sessionDeadlineMs(1000, 60, 30_000)).toBe(30_000);
    expect(sessionDeadlineMs(1000, 60, 90_000)).toBe(61_000);
    expect(absoluteDeadlineMs(1000, 0)).toBe(0);
    expect(absoluteDeadlineMs(1000, 10)).toBe(11_000);
  });

  test('a new session starts its lifetime and, with a principal, its authentication now', () => {
    const stored = newStoredSession(validateNewSession({ principal: 'p', maxLifetime: 100 }, { ...limits, maxLifetimeSeconds: 3600 }), 5000);
    expect(stored).toMatchObject({ createdAtMs: 5000, lastAccessedAtMs: 5000, version: 1, absoluteExpiresAtMs: 105_000, lifetimeSeconds: 100, authenticatedAtMs: 5000 });
    expect(newStoredSession(validateNewSession({}, limits), 5000)).toMatchObject({ absoluteExpiresAtMs: 0, authenticatedAtMs: 0 });
  });

  test('maxLifetime is 1 to SESSION_MAX_LIFETIME (or to 366 days when that is 0); absent, the configured one applies', () => {
    const configured = { ...limits, maxLifetimeSeconds: 3600 };
    expect(checkLifetime(undefined, configured)).toBe(3600);
    expect(checkLifetime(60, configured)).toBe(60);
    for (const bad of [0, 3601, 1.5, -1]) expect(gatewayErrorOf(() => checkLifetime(bad, configured))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(checkLifetime(366 * 24 * 3600, { ...limits, maxLifetimeSeconds: 0 })).toBe(366 * 24 * 3600);
  });
});

describe('device data', () => {
  test('addresses: whole, cut to their network (IPv4 /24, IPv6 /48), or not recorded; IPv4-mapped IPv6 is IPv4', () => {
    expect(clientAddress('203.0.113.77', 'full')).toBe('203.0.113.77');
    expect(clientAddress('203.0.113.77', 'network')).toBe('203.0.113.0');
    expect(clientAddress('::ffff:203.0.113.77', 'network')).toBe('203.0.113.0');
    expect(clientAddress('2001:db8:abcd:12::1', 'network')).toBe('2001:db8:abcd::');
    expect(clientAddress('2001:0db8:0000:0012::1', 'network')).toBe('2001:db8:0::');
    expect(clientAddress('::1', 'network')).toBe('0:0:0::');
    expect(clientAddress('203.0.113.77', 'none')).toBeNull();
  });

  test('from a request: cut to size, never refused; an address that is not an IP is not recorded', () => {
    expect(deviceOfRequest('a'.repeat(600), '198.51.100.9', 'network')).toEqual({ userAgent: 'a'.repeat(512), clientAddress: '198.51.100.0' });
    expect(deviceOfRequest('한'.repeat(200), undefined, 'full').userAgent).toBe('한'.repeat(170)); // 510 bytes: no character cut in half
    expect(deviceOfRequest(undefined, 'not-an-ip', 'full')).toEqual(NO_DEVICE);
  });

  test('from a module: checked and refused with a clear error, never cut', () => {
    expect(validateDevice({ userAgent: 'Java-http-client/17', clientAddress: '2001:db8::7' }, 'full')).toEqual({ userAgent: 'Java-http-client/17', clientAddress: '2001:db8::7' });
    expect(gatewayErrorOf(() => validateDevice({ userAgent: 'a'.repeat(513) }, 'full'))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(gatewayErrorOf(() => validateDevice({ clientAddress: '10.0.0.300' }, 'full'))).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining('device.clientAddress') });
    expect(validateDevice(null, 'full')).toEqual(NO_DEVICE);
  });
});
