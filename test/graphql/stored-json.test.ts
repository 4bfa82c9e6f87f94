/**
 * Stored attribute JSON goes into fast-path responses as its stored text, and everywhere else
 * serialises to its parsed value: the two must give the same JSON.
 */
import { StoredJson, stringifyWithStoredJson } from '../../src/graphql/stored-json';

const attributes = new Map<string, string>([
  ['user', '{"id":7,"name":"김민수","big":12345678901234567890}'],
  ['with "quote"', '[1,2,{"a":null}]'],
  ['flag', 'true'],
]);

test('spliced text and parsed value serialise to the same JSON, in order, however many there are', () => {
  const data = {
    sessions: [
      { id: 'a', attributes: StoredJson.ofAttributes(attributes), one: new StoredJson('"text"') },
      null,
      { id: 'b', attributes: StoredJson.ofAttributes(new Map()), one: new StoredJson('{"x":[]}') },
    ],
  };
  const spliced = stringifyWithStoredJson({ data });
  expect(JSON.parse(spliced)).toEqual(JSON.parse(JSON.stringify({ data })));
  // The stored text itself is in the response: digits JSON.parse would round survive.
  expect(spliced).toContain('"big":12345678901234567890');
  expect(spliced).toBe(
    '{"data":{"sessions":[{"id":"a","attributes":{"user":{"id":7,"name":"김민수","big":12345678901234567890},"with \\"quote\\"":[1,2,{"a":null}],"flag":true},"one":"text"},null,' +
      '{"id":"b","attributes":{},"one":{"x":[]}}]}}',
  );
});

test('strings that look like placeholders, without the nonce, are left as they are', () => {
  const data = { principal: '\u00000', other: '\\u00000', attributes: new StoredJson('{"a":1}') };
  expect(JSON.parse(stringifyWithStoredJson(data))).toEqual({ principal: '\u00000', other: '\\u00000', attributes: { a: 1 } });
});

test('outside the fast path a StoredJson is its parsed value', () => {
  expect(JSON.stringify({ a: new StoredJson('{"b":[1,"2"]}') })).toBe('{"a":{"b":[1,"2"]}}');
  expect(stringifyWithStoredJson({ plain: [1, 'x'] })).toBe('{"plain":[1,"x"]}');
});
