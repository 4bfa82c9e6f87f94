/**
 * Attribute values as the JSON text they were stored as. A session's attributes are kept in
 * Redis as JSON text; answering a query used to parse each one into objects and serialise the
 * objects straight back. Resolvers now return a `StoredJson` instead, and the query fast path
 * writes its text into the response untouched (`stringifyWithStoredJson`). Anywhere else (Apollo,
 * a test's JSON.stringify) a `StoredJson` serialises to its parsed value, so both paths answer
 * the same JSON (the gateway stores attributes as JSON.stringify wrote them, so in practice the
 * same bytes).
 *
 * How the fast path splices: while it serialises, each `StoredJson` serialises to a placeholder
 * string holding a per-process random nonce and its index, and the placeholders are then
 * replaced, in order, by the stored texts. No client can write a placeholder into a response: it
 * would have to know the nonce.
 */
import { randomBytes } from 'node:crypto';

const NONCE = randomBytes(12).toString('base64url');
/** A placeholder's value starts with a NUL and the nonce; JSON.stringify writes the NUL escaped. */
const MARK = `\u0000${NONCE}`;
const ESCAPED_MARK = JSON.stringify(MARK).slice(1, -1);

/** Set while `stringifyWithStoredJson` runs: the texts its placeholders stand for. */
let splicing: string[] | null = null;

export class StoredJson {
  constructor(readonly text: string) {}

  /** Of a map of attribute names to stored JSON: the JSON object text they make up. */
  static ofAttributes(attributes: ReadonlyMap<string, string>): StoredJson {
    let text = '{';
    for (const [name, json] of attributes) text += `${text.length > 1 ? ',' : ''}${JSON.stringify(name)}:${json}`;
    return new StoredJson(`${text}}`);
  }

  toJSON(): unknown {
    if (splicing === null) return JSON.parse(this.text);
    splicing.push(this.text);
    return `${MARK}${splicing.length - 1}`;
  }
}

/** JSON.stringify, with every `StoredJson` written as its stored text. */
export function stringifyWithStoredJson(value: unknown): string {
  const texts: string[] = [];
  splicing = texts;
  let out: string;
  try {
    out = JSON.stringify(value);
  } finally {
    splicing = null;
  }
  if (texts.length === 0) return out;
  let spliced = '';
  let from = 0;
  for (let i = 0; i < texts.length; i++) {
    const placeholder = `"${ESCAPED_MARK}${i}"`;
    const at = out.indexOf(placeholder, from);
    if (at < 0) throw new Error('stored JSON placeholder missing from the serialised response');
    spliced += out.slice(from, at) + (texts[i] as string);
    from = at + placeholder.length;
  }
  return spliced + out.slice(from);
}
