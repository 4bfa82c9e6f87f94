/** A number JSON cannot write is refused at the edge, never stored as null. */
import { MAX_INACTIVE_SECONDS, MAX_LIFETIME_SECONDS } from '../../src/config';
import { validateNewSession, validatePatch } from '../../src/session/model';
import { gatewayErrorOf } from './gateway-error';
const limits = { maxAttributeBytes: 1024, defaultInactiveSeconds: 1800, mostInactiveSeconds: MAX_INACTIVE_SECONDS, mostLifetimeSeconds: MAX_LIFETIME_SECONDS };
test.each([
  ['Infinity (what JSON.parse and the JSONObject scalar make of 1e999)', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['NaN', Number.NaN],
  ['Infinity inside a list', [1, Number.POSITIVE_INFINITY]],
])('a number JSON cannot write (%s) is rejected, not stored as null', (_what, value) => {
  expect(gatewayErrorOf(() => validateNewSession({ attributes: { big: value } }, limits))).toEqual({ code: 'BAD_USER_INPUT', message: 'attribute "big" is not a JSON value' });
  expect(gatewayErrorOf(() => validatePatch({ set: { big: value } }, limits))).toEqual({ code: 'BAD_USER_INPUT', message: 'attribute "big" is not a JSON value' });
});
