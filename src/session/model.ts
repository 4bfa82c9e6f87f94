/**
 * What a session is, and the rules that hold for it whatever stores it: input limits, how a
 * patch applies, when a read slides the expiry. Plain functions, no I/O. The Redis store
 * applies the same rules inside its Lua scripts; the store conformance suite keeps the two equal.
 */
import { MAX_INACTIVE_SECONDS } from '../config';
import { GatewayError } from '../errors';

/** Attribute values are kept as JSON text, so they travel to clients without re-serialising. */
export type AttributeMap = ReadonlyMap<string, string>;

/** A session as the service answers it: what is stored, with its ID, digest and deadline. */
export interface SessionRecord {
  readonly id: string;
  /** `sessionDigest(id)`: the name the store keys it by and change events carry. */
  readonly digest: string;
  readonly principal: string | null;
  readonly attributes: AttributeMap;
  readonly createdAtMs: number;
  readonly lastAccessedAtMs: number;
  readonly expiresAtMs: number;
  readonly maxInactiveSeconds: number;
  /** 1 when issued; +1 on every update. Touches do not count. */
  readonly version: number;
}

export interface NewSession {
  readonly principal: string | null;
  /** Name → JSON text. */
  readonly attributes: ReadonlyArray<readonly [string, string]>;
  readonly maxInactiveSeconds: number;
}

export interface SessionPatch {
  readonly set: ReadonlyArray<readonly [string, string]>;
  readonly unset: readonly string[];
  /** `undefined` keeps the principal, `null` clears it. */
  readonly principal?: string | null;
  readonly maxInactiveSeconds?: number;
  readonly expectedVersion?: number;
}

export interface SessionLimits {
  readonly maxAttributeBytes: number;
  readonly defaultInactiveSeconds: number;
}

export const MAX_NAME_BYTES = 256;
export const MAX_PRINCIPAL_BYTES = 256;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkText(what: string, value: string, maxBytes: number): void {
  if (value.length === 0) throw new GatewayError('BAD_USER_INPUT', `${what} must not be empty`);
  if (LONE_SURROGATE.test(value)) throw new GatewayError('BAD_USER_INPUT', `${what} must be well-formed Unicode`);
  const bytes = Buffer.byteLength(value);
  if (bytes > maxBytes) {
    throw new GatewayError('BAD_USER_INPUT', `${what} must be at most ${maxBytes} bytes, got ${bytes}`);
  }
}

function checkInactive(value: number | null | undefined, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > MAX_INACTIVE_SECONDS) {
    throw new GatewayError('BAD_USER_INPUT', `maxInactiveInterval must be an integer from 1 to ${MAX_INACTIVE_SECONDS}, got ${value}`);
  }
  return value;
}

/** Bytes an attribute set counts against `maxAttributeBytes`: names plus JSON values, UTF-8. */
export function attributeBytes(attributes: Iterable<readonly [string, string]>): number {
  let total = 0;
  for (const [name, json] of attributes) total += Buffer.byteLength(name) + Buffer.byteLength(json);
  return total;
}

function toAttributeEntries(input: Record<string, unknown> | null | undefined): Array<[string, string]> {
  if (input === undefined || input === null) return [];
  return Object.entries(input).map(([name, value]) => {
    checkText('an attribute name', name, MAX_NAME_BYTES);
    // JSON.stringify escapes lone surrogates, so the stored text is always valid UTF-8. It would
    // write a number JSON cannot hold (Infinity, what `1e999` parses to; NaN) as null: refused.
    let finite = true;
    const json = JSON.stringify(value, (_key, inner: unknown) => {
      if (typeof inner === 'number' && !Number.isFinite(inner)) finite = false;
      return inner;
    });
    if (json === undefined || !finite) throw new GatewayError('BAD_USER_INPUT', `attribute "${name}" is not a JSON value`);
    return [name, json];
  });
}

function checkSize(attributes: Array<[string, string]>, limits: SessionLimits): void {
  const bytes = attributeBytes(attributes);
  if (bytes > limits.maxAttributeBytes) {
    throw new GatewayError('PAYLOAD_TOO_LARGE', `attributes take ${bytes} bytes; a session holds at most ${limits.maxAttributeBytes}`);
  }
}

export interface NewSessionInput {
  principal?: string | null;
  attributes?: Record<string, unknown> | null;
  maxInactiveInterval?: number | null;
}

export function validateNewSession(input: NewSessionInput | null | undefined, limits: SessionLimits): NewSession {
  const principal = input?.principal ?? null;
  if (principal !== null) checkText('principal', principal, MAX_PRINCIPAL_BYTES);
  const attributes = toAttributeEntries(input?.attributes);
  checkSize(attributes, limits);
  return { principal, attributes, maxInactiveSeconds: checkInactive(input?.maxInactiveInterval, limits.defaultInactiveSeconds) };
}

export interface SessionPatchInput {
  set?: Record<string, unknown> | null;
  unset?: readonly string[] | null;
  principal?: string | null;
  maxInactiveInterval?: number | null;
  expectedVersion?: number | null;
}

export function validatePatch(input: SessionPatchInput, limits: SessionLimits): SessionPatch {
  const set = toAttributeEntries(input.set);
  checkSize(set, limits);
  const unset = [...new Set(input.unset ?? [])];
  for (const name of unset) {
    checkText('an attribute name', name, MAX_NAME_BYTES);
    if (set.some(([setName]) => setName === name)) {
      throw new GatewayError('BAD_USER_INPUT', `attribute "${name}" is both set and unset`);
    }
  }
  const patch: { -readonly [K in keyof SessionPatch]: SessionPatch[K] } = { set, unset };
  if ('principal' in input) {
    if (input.principal !== null && input.principal !== undefined) checkText('principal', input.principal, MAX_PRINCIPAL_BYTES);
    patch.principal = input.principal ?? null;
  }
  if (input.maxInactiveInterval !== undefined && input.maxInactiveInterval !== null) {
    patch.maxInactiveSeconds = checkInactive(input.maxInactiveInterval, limits.defaultInactiveSeconds);
  }
  if (input.expectedVersion !== undefined && input.expectedVersion !== null) {
    if (!Number.isInteger(input.expectedVersion) || input.expectedVersion < 1) {
      throw new GatewayError('BAD_USER_INPUT', `expectedVersion must be a positive integer, got ${input.expectedVersion}`);
    }
    patch.expectedVersion = input.expectedVersion;
  }
  return patch;
}

/**
 * The stored part of a session: what a store keeps and a patch changes. When it was last used
 * and when it expires are decided by the rules below (`idleDeadlineMs`) and handed to the store.
 */
export interface SessionState {
  principal: string | null;
  attributes: Map<string, string>;
  createdAtMs: number;
  maxInactiveSeconds: number;
  version: number;
}

export type PatchOutcome =
  | { readonly ok: true; readonly state: SessionState }
  | { readonly ok: false; readonly code: 'VERSION_CONFLICT' | 'PAYLOAD_TOO_LARGE'; readonly detail: number };

/**
 * Applies a patch to a copy of the state. The same rule is written in Lua in
 * `store/redis-scripts.ts`; keep them in step.
 */
export function applyPatch(current: SessionState, patch: SessionPatch, maxAttributeBytes: number): PatchOutcome {
  if (patch.expectedVersion !== undefined && patch.expectedVersion !== current.version) {
    return { ok: false, code: 'VERSION_CONFLICT', detail: current.version };
  }
  const attributes = new Map(current.attributes);
  for (const name of patch.unset) attributes.delete(name);
  for (const [name, json] of patch.set) attributes.set(name, json);
  const bytes = attributeBytes(attributes);
  if (bytes > maxAttributeBytes) return { ok: false, code: 'PAYLOAD_TOO_LARGE', detail: bytes };
  return {
    ok: true,
    state: {
      principal: patch.principal === undefined ? current.principal : patch.principal,
      attributes,
      createdAtMs: current.createdAtMs,
      maxInactiveSeconds: patch.maxInactiveSeconds ?? current.maxInactiveSeconds,
      version: current.version + 1,
    },
  };
}

export function patchError(outcome: Extract<PatchOutcome, { ok: false }>, maxAttributeBytes: number): GatewayError {
  return outcome.code === 'VERSION_CONFLICT'
    ? new GatewayError('VERSION_CONFLICT', `the session is at version ${outcome.detail}; nothing was written`)
    : new GatewayError('PAYLOAD_TOO_LARGE', `the patched session would hold ${outcome.detail} attribute bytes; at most ${maxAttributeBytes} are allowed; nothing was written`);
}

export function sessionNotFound(): GatewayError {
  return new GatewayError('SESSION_NOT_FOUND', 'no such session (it may have expired or been revoked)');
}

/**
 * When a session used at `usedAtMs` expires if it is not used again: the one place the expiry
 * rule is written. Every store is given the deadline this computes; none works it out itself.
 */
export function idleDeadlineMs(usedAtMs: number, maxInactiveSeconds: number): number {
  return usedAtMs + maxInactiveSeconds * 1000;
}

/** A session as a store holds it: its state and when its idle clock last restarted. */
export interface StoredSession extends Readonly<SessionState> {
  readonly lastAccessedAtMs: number;
}

/** The session as answered to callers: the stored state with its ID, digest and deadline. */
export function sessionRecord(id: string, digest: string, stored: StoredSession): SessionRecord {
  return {
    id,
    digest,
    principal: stored.principal,
    attributes: stored.attributes,
    createdAtMs: stored.createdAtMs,
    lastAccessedAtMs: stored.lastAccessedAtMs,
    expiresAtMs: idleDeadlineMs(stored.lastAccessedAtMs, stored.maxInactiveSeconds),
    maxInactiveSeconds: stored.maxInactiveSeconds,
    version: stored.version,
  };
}

/**
 * Whether a read at `nowMs` should write the sliding expiry. Writing at most once per interval
 * keeps reads to one command; idle expiry is then exact to within `touchIntervalMs`.
 */
export function touchDue(lastAccessedAtMs: number, nowMs: number, touchIntervalMs: number): boolean {
  return nowMs - lastAccessedAtMs >= touchIntervalMs;
}
