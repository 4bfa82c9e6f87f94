/**
 * How one session is laid out in one Redis string. Lean on purpose: a session is a single
 * string value (no hash, whose per-field overhead would double memory for a 300-byte user
 * object), and every length is a byte count so the Lua scripts can patch attributes without
 * parsing JSON (Redis's cjson would round numbers and reorder nothing it should).
 *
 *     1|<lastAccessedAtMs: 13 digits>|<maxInactiveSeconds>|<createdAtMs>|<version>|<principalBytes>|<principal>
 *       followed, per attribute, by <nameBytes>|<name><jsonBytes>|<json>
 *
 * A principal of 0 bytes means "none" (an empty principal is rejected on the way in).
 * lastAccessedAt sits at a fixed offset and width, so a touch rewrites those 13 bytes in place
 * (SETRANGE) together with PEXPIREAT = lastAccessedAt + maxInactive: the key's expiry is always
 * derivable from the value, and a read is one plain GET.
 */
import type { SessionState } from '../session/model';

export const FORMAT_VERSION = 1;
/** Where lastAccessedAtMs starts in the value (it takes 13 digits until the year 2286). */
export const LAST_ACCESS_OFFSET = 2;
const BAR = 0x7c; // '|'

function lengthPrefixed(text: string): string {
  return `${Buffer.byteLength(text)}|${text}`;
}

/** The attribute section, as the create script appends it after the header. */
export function encodeAttributes(attributes: Iterable<readonly [string, string]>): string {
  let out = '';
  for (const [name, json] of attributes) out += lengthPrefixed(name) + lengthPrefixed(json);
  return out;
}

/** A session as stored: its state and when its idle clock last restarted. */
export interface StoredSession extends SessionState {
  lastAccessedAtMs: number;
}

export class CorruptSessionError extends Error {
  constructor(reason: string) {
    super(`stored session is not in format ${FORMAT_VERSION}: ${reason}`);
    this.name = 'CorruptSessionError';
  }
}

/** Reads a value written by `encodeSession` or the Lua scripts. */
export function decodeSession(value: Buffer): StoredSession {
  let pos = 0;
  const number = (): number => {
    const bar = value.indexOf(BAR, pos);
    if (bar < 0) throw new CorruptSessionError(`no field at byte ${pos}`);
    const n = Number(value.toString('latin1', pos, bar));
    if (!Number.isSafeInteger(n) || bar === pos) throw new CorruptSessionError(`bad number at byte ${pos}`);
    pos = bar + 1;
    return n;
  };
  const text = (): string => {
    const length = number();
    const end = pos + length;
    if (end > value.length) throw new CorruptSessionError(`field past the end at byte ${pos}`);
    const out = value.toString('utf8', pos, end);
    pos = end;
    return out;
  };

  const format = number();
  if (format !== FORMAT_VERSION) throw new CorruptSessionError(`format ${format}`);
  const lastAccessedAtMs = number();
  const maxInactiveSeconds = number();
  const createdAtMs = number();
  const version = number();
  const principal = text();
  const attributes = new Map<string, string>();
  while (pos < value.length) {
    const name = text();
    attributes.set(name, text());
  }
  return { principal: principal === '' ? null : principal, attributes, createdAtMs, lastAccessedAtMs, maxInactiveSeconds, version };
}
