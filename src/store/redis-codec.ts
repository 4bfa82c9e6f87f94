/**
 * How one session is laid out in one Redis string. Lean on purpose: a session is a single
 * string value (no hash, whose per-field overhead would double memory for a 300-byte user
 * object), and every length is a byte count so the Lua scripts can patch attributes without
 * parsing JSON (Redis's cjson would round numbers and reorder nothing it should).
 *
 *     2|<lastAccessedAtMs: 13 digits>|<maxInactiveSeconds>|<createdAtMs>|<version>
 *      |<absoluteExpiresAtMs or 0>|<lifetimeSeconds or 0>|<authenticatedAtMs or 0>
 *      |<principalBytes>|<principal><userAgentBytes>|<userAgent><clientAddressBytes>|<clientAddress>
 *       followed, per attribute, by <nameBytes>|<name><jsonBytes>|<json>
 *
 * (one line in Redis; broken here to read). A text of 0 bytes means "none" (an empty principal
 * is rejected on the way in). lastAccessedAt sits at a fixed offset and width, so a touch
 * rewrites those 13 bytes in place (SETRANGE) together with PEXPIREAT = the earlier of
 * lastAccessedAt + maxInactive and the absolute deadline: the key's expiry is always derivable
 * from the value, and a read is one plain GET.
 *
 * A session rotated away with a grace period leaves a forward in its place for that long:
 *
 *     R|<the new session's digest>|<the new ID, sealed with the old one (session/ids.ts)>
 */
import { NO_DEVICE, type Device, type StoredSession } from '../session/model';
import type { Forward } from './store';

export const FORMAT_VERSION = 2;
const FORWARD = 0x52; // 'R'
/** Where lastAccessedAtMs starts in the value (it takes 13 digits until the year 2286). */
export const LAST_ACCESS_OFFSET = 2;
const BAR = 0x7c; // '|'

function lengthPrefixed(text: string): string {
  return `${Buffer.byteLength(text)}|${text}`;
}

/** The attribute section, as it follows the header. */
export function encodeAttributes(attributes: Iterable<readonly [string, string]>): string {
  let out = '';
  for (const [name, json] of attributes) out += lengthPrefixed(name) + lengthPrefixed(json);
  return out;
}

/** A whole session value, as `create` stores it. */
export function encodeSession(session: StoredSession): string {
  const head = [FORMAT_VERSION, String(session.lastAccessedAtMs).padStart(13, '0'), session.maxInactiveSeconds, session.createdAtMs, session.version,
    session.absoluteExpiresAtMs, session.lifetimeSeconds, session.authenticatedAtMs].join('|');
  return `${head}|${lengthPrefixed(session.principal ?? '')}${lengthPrefixed(session.device.userAgent ?? '')}${lengthPrefixed(session.device.clientAddress ?? '')}${encodeAttributes(session.attributes)}`;
}

/** What a rotation with grace leaves in the old session's place. */
export function encodeForward(forward: Forward): string {
  return `R|${forward.to}|${forward.sealedId}`;
}

/** A forward's parts, or null when the value is a session. */
export function decodeForward(value: Buffer): Forward | null {
  if (value[0] !== FORWARD) return null;
  const text = value.toString('latin1');
  const bar = text.indexOf('|', 2);
  if (bar < 0) throw new CorruptSessionError('a forward without its sealed ID');
  return { to: text.slice(2, bar), sealedId: text.slice(bar + 1) };
}

export class CorruptSessionError extends Error {
  constructor(reason: string) {
    super(`stored session is not in format ${FORMAT_VERSION}: ${reason}`);
    this.name = 'CorruptSessionError';
  }
}

/** Walks a stored value field by field; every read checks its bounds. */
class Cursor {
  pos = 0;
  /** End of the last field `field()` passed over. */
  end = 0;

  constructor(private readonly value: Buffer) {}

  get done(): boolean {
    return this.pos >= this.value.length;
  }

  /** A decimal number ended by `|`, read digit by digit (no string is made: this runs on every read). */
  number(): number {
    const value = this.value;
    const start = this.pos;
    let n = 0;
    let at = start;
    for (; at < value.length; at++) {
      const byte = value[at] as number;
      if (byte === BAR) break;
      if (byte < 0x30 || byte > 0x39) throw new CorruptSessionError(`bad number at byte ${start}`);
      n = n * 10 + (byte - 0x30);
    }
    if (at >= value.length) throw new CorruptSessionError(`no field at byte ${start}`);
    if (at === start || !Number.isSafeInteger(n)) throw new CorruptSessionError(`bad number at byte ${start}`);
    this.pos = at + 1;
    return n;
  }

  /** Passes over one length-prefixed field; answers where it starts (it ends at `this.end`). */
  field(): number {
    const length = this.number();
    const start = this.pos;
    this.end = start + length;
    if (this.end > this.value.length) throw new CorruptSessionError(`field past the end at byte ${start}`);
    this.pos = this.end;
    return start;
  }

  text(): string {
    const start = this.field();
    return this.value.toString('utf8', start, this.end);
  }

  /** Format, lastAccessedAt, maxInactive, createdAt, version, absoluteExpiresAt, lifetime, authenticatedAt. */
  header(): [lastAccessedAtMs: number, maxInactiveSeconds: number, createdAtMs: number, version: number, absoluteExpiresAtMs: number, lifetimeSeconds: number, authenticatedAtMs: number] {
    const format = this.number();
    if (format !== FORMAT_VERSION) throw new CorruptSessionError(`format ${format}`);
    return [this.number(), this.number(), this.number(), this.number(), this.number(), this.number(), this.number()];
  }
}

/** Reads a session value (not a forward: see `decodeForward`). */
export function decodeSession(value: Buffer): StoredSession {
  const cursor = new Cursor(value);
  const [lastAccessedAtMs, maxInactiveSeconds, createdAtMs, version, absoluteExpiresAtMs, lifetimeSeconds, authenticatedAtMs] = cursor.header();
  const principal = cursor.text();
  const userAgent = cursor.text();
  const clientAddress = cursor.text();
  const attributes = new Map<string, string>();
  while (!cursor.done) {
    const name = cursor.text();
    attributes.set(name, cursor.text());
  }
  const device: Device = userAgent === '' && clientAddress === '' ? NO_DEVICE : { userAgent: userAgent === '' ? null : userAgent, clientAddress: clientAddress === '' ? null : clientAddress };
  return {
    principal: principal === '' ? null : principal,
    attributes,
    createdAtMs,
    lastAccessedAtMs,
    maxInactiveSeconds,
    version,
    absoluteExpiresAtMs,
    lifetimeSeconds,
    authenticatedAtMs,
    device,
  };
}

/** One attribute's stored JSON bytes, found without decoding the rest of the session. */
export interface AttributeView {
  readonly lastAccessedAtMs: number;
  readonly maxInactiveSeconds: number;
  readonly absoluteExpiresAtMs: number;
  /** A view into the value (no copy); null when the session has no such attribute. */
  readonly json: Buffer | null;
}

export function readAttribute(value: Buffer, name: Buffer): AttributeView {
  const cursor = new Cursor(value);
  const [lastAccessedAtMs, maxInactiveSeconds, , , absoluteExpiresAtMs] = cursor.header();
  cursor.field(); // principal
  cursor.field(); // user agent
  cursor.field(); // client address
  while (!cursor.done) {
    const nameStart = cursor.field();
    const nameEnd = cursor.end;
    const jsonStart = cursor.field();
    if (nameEnd - nameStart === name.length && value.compare(name, 0, name.length, nameStart, nameEnd) === 0) {
      return { lastAccessedAtMs, maxInactiveSeconds, absoluteExpiresAtMs, json: value.subarray(jsonStart, cursor.end) };
    }
  }
  return { lastAccessedAtMs, maxInactiveSeconds, absoluteExpiresAtMs, json: null };
}
