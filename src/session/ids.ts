/**
 * Session IDs: the one generator in the whole system, and the one format check.
 *
 * An ID is 256 bits from the operating system's CSPRNG, written as unpadded base64url
 * (43 characters). Whatever a client presents that is not of exactly this shape is treated as
 * "no session": it is never looked up, never used as a key fragment, never adopted.
 *
 * IDs are bearer secrets, so they are never stored in the clear: the store keys a session by
 * `digest(id)`, a SHA-256 of the ID, and logs never carry either.
 */
import { hash, randomBytes } from 'node:crypto';

export const ID_BYTES = 32;
export const ID_LENGTH = 43;

const WELL_FORMED = /^[A-Za-z0-9_-]{43}$/;

export function generateSessionId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

export function isWellFormedSessionId(value: unknown): value is string {
  // 43 base64url characters carry 258 bits; the last character of a canonical encoding of
  // 32 bytes has its two low bits clear, which keeps two spellings of one ID from existing.
  return typeof value === 'string' && WELL_FORMED.test(value) && 'AEIMQUYcgkosw048'.includes(value[42] as string);
}

/** The non-reversible name a session is stored under. */
export function sessionDigest(id: string): string {
  // One-shot crypto.hash: a third of createHash's cost, and this runs on every request.
  return hash('sha256', id, 'base64url');
}
