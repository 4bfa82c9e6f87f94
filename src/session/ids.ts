/**
 * Session IDs: the one generator in the whole system, and the one format check.
 *
 * An ID is 32 bytes written as unpadded base64url (43 characters). Its first 3 bytes (its first
 * 4 characters) are its **tag**; the other 29 bytes (232 bits) come from the operating system's
 * CSPRNG. Whatever a client presents that is not of exactly this shape is treated as "no
 * session": it is never looked up, never used as a key fragment, never adopted.
 *
 * The tag says where the session lives. A session with a principal carries its principal's tag
 * (`principalTag`: an HMAC of the principal under a key the store keeps, so a tag reveals nothing
 * of who it belongs to), so every session of one principal shares one Redis Cluster hash tag with
 * that principal's index, and "issue and index", "revoke all" and the session limit are each one
 * atomic script. An anonymous session's tag is random. The top bit of a tag says which it is (set
 * for a principal's), so the store knows from a digest alone whether a session has an index to
 * keep: an anonymous session's writes touch its own key only (a script on a key and an index
 * that does not exist is refused with TRYAGAIN while its slot migrates).
 *
 * IDs are bearer secrets, so they are never stored in the clear: the store keys a session by
 * `sessionDigest(id)` (its tag, then a SHA-256 of the ID), which is also the session's public
 * handle; logs never carry either.
 */
import { createCipheriv, createDecipheriv, createHmac, hash, randomBytes } from 'node:crypto';

export const ID_BYTES = 32;
export const ID_LENGTH = 43;
/** Bytes of an ID that are its tag, and the characters they take at its start. */
export const TAG_BYTES = 3;
export const TAG_LENGTH = 4;

const WELL_FORMED = /^[A-Za-z0-9_-]{43}$/;

/** The bit of a tag's first byte that marks a principal's tag. */
const PRINCIPAL_BIT = 0x80;

/** A new ID: random, with `tag` (3 bytes, a `principalTag`) in front when given, else a random anonymous tag. */
export function generateSessionId(tag?: Buffer): string {
  const bytes = randomBytes(ID_BYTES);
  if (tag !== undefined) tag.copy(bytes, 0, 0, TAG_BYTES);
  else bytes[0] = (bytes[0] as number) & ~PRINCIPAL_BIT;
  return bytes.toString('base64url');
}

export function isWellFormedSessionId(value: unknown): value is string {
  // 43 base64url characters carry 258 bits; the last character of a canonical encoding of
  // 32 bytes has its two low bits clear, which keeps two spellings of one ID from existing.
  return typeof value === 'string' && WELL_FORMED.test(value) && 'AEIMQUYcgkosw048'.includes(value[42] as string);
}

/**
 * The non-reversible name a session is stored under and known by (its handle): the ID's tag
 * (4 characters), then the SHA-256 of the whole ID (43).
 */
export function sessionDigest(id: string): string {
  // One-shot crypto.hash: a third of createHash's cost, and this runs on every request.
  return id.slice(0, TAG_LENGTH) + hash('sha256', id, 'base64url');
}

export const DIGEST_LENGTH = TAG_LENGTH + 43;
const DIGEST_SHAPE = /^[A-Za-z0-9_-]{47}$/;

/** Whether `value` has the shape of a digest (a handle a caller passes back). */
export function isWellFormedDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_SHAPE.test(value);
}

/** The tag of the session a digest names: where the store keeps it. */
export function digestTag(digest: string): string {
  return digest.slice(0, TAG_LENGTH);
}

/** The tag every session of `principal` carries, under the store's tag key. */
export function principalTag(tagKey: Buffer, principal: string): Buffer {
  const tag = createHmac('sha256', tagKey).update(principal).digest().subarray(0, TAG_BYTES);
  tag[0] = (tag[0] as number) | PRINCIPAL_BIT;
  return tag;
}

/** Base64url characters whose 6 bits start with the principal bit set. */
const PRINCIPAL_FIRST = new Set('ghijklmnopqrstuvwxyz0123456789-_');

/** Whether a digest (or an ID) carries a principal's tag: whether its session may be indexed. */
export function hasPrincipalTag(digestOrId: string): boolean {
  return PRINCIPAL_FIRST.has(digestOrId[0] as string);
}

/** The tag a `principalTag` gives, as it appears at the start of IDs and digests. */
export function tagText(tag: Buffer): string {
  return tag.subarray(0, TAG_BYTES).toString('base64url');
}

/**
 * A rotated session's new ID, sealed so that only a holder of the old ID can read it: AES-256-GCM
 * under a key derived from the old ID. During the rotation grace the store keeps this in the old
 * session's place, and the service answers a read of the old ID with the new one; the store (a
 * dump, MONITOR) holds nothing a client could present.
 */
export function sealForward(oldId: string, newId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', forwardKey(oldId), iv);
  const sealed = Buffer.concat([cipher.update(newId, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
}

/** The new ID `sealForward` sealed, or null when `oldId` does not open it. */
export function openForward(oldId: string, sealed: string): string | null {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length < 12 + 16 + 1) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', forwardKey(oldId), bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const id = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
    return isWellFormedSessionId(id) ? id : null;
  } catch {
    return null;
  }
}

function forwardKey(oldId: string): Buffer {
  return hash('sha256', `session-forward|${oldId}`, 'buffer') as unknown as Buffer;
}
