/**
 * What a session is, and the rules that hold for it whatever stores it: input limits, how a
 * patch applies, when a read slides the expiry. Plain functions, no I/O. The Redis store
 * applies the same rules inside its Lua scripts; the store conformance suite keeps the two equal.
 */
import { isIP } from 'node:net';
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
  /** The earlier of the idle deadline and the absolute one. */
  readonly expiresAtMs: number;
  /** When the session's lifetime ends however it is used; null for none. */
  readonly absoluteExpiresAtMs: number | null;
  /** When the principal last authenticated (issue with a principal, or a rotation that says so); null if never. */
  readonly authenticatedAtMs: number | null;
  readonly maxInactiveSeconds: number;
  readonly device: Device;
  /** 1 when issued; +1 on every update. Touches do not count. */
  readonly version: number;
}

/** What a session records of the device it was signed in from: for "where am I signed in". */
export interface Device {
  readonly userAgent: string | null;
  /** The client's address, as configured: whole, or cut to its network (see `clientAddress`). */
  readonly clientAddress: string | null;
}

export const NO_DEVICE: Device = Object.freeze({ userAgent: null, clientAddress: null });

export interface NewSession {
  readonly principal: string | null;
  /** Name → JSON text. */
  readonly attributes: ReadonlyArray<readonly [string, string]>;
  readonly maxInactiveSeconds: number;
  /** Seconds the session may live however it is used (from when it is issued); 0 for no limit. */
  readonly lifetimeSeconds: number;
  readonly authenticated: boolean;
  readonly device: Device;
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
  /** The longest idle time a caller may ask for (maxInactiveInterval). */
  readonly mostInactiveSeconds: number;
  /** The longest lifetime a caller may ask for where SESSION_MAX_LIFETIME sets none. */
  readonly mostLifetimeSeconds: number;
  /** SESSION_MAX_LIFETIME: every session's lifetime, and the most a caller may ask for; 0 (or absent) for none. */
  readonly maxLifetimeSeconds?: number;
}

export const MAX_NAME_BYTES = 256;
export const MAX_PRINCIPAL_BYTES = 256;
/** A user agent longer than this is cut (from a request) or refused (passed in by a module). */
export const MAX_USER_AGENT_BYTES = 512;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkText(what: string, value: string, maxBytes: number): void {
  if (value.length === 0) throw new GatewayError('BAD_USER_INPUT', `${what} must not be empty`);
  if (LONE_SURROGATE.test(value)) throw new GatewayError('BAD_USER_INPUT', `${what} must be well-formed Unicode`);
  const bytes = Buffer.byteLength(value);
  if (bytes > maxBytes) {
    throw new GatewayError('BAD_USER_INPUT', `${what} must be at most ${maxBytes} bytes, got ${bytes}`);
  }
}

function checkInactive(value: number | null | undefined, fallback: number, most: number): number {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > most) {
    throw new GatewayError('BAD_USER_INPUT', `maxInactiveInterval must be an integer from 1 to ${most}, got ${value}`);
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

export interface DeviceInput {
  userAgent?: string | null;
  clientAddress?: string | null;
}

export interface NewSessionInput {
  principal?: string | null;
  attributes?: Record<string, unknown> | null;
  maxInactiveInterval?: number | null;
  /** Seconds; at most SESSION_MAX_LIFETIME. */
  maxLifetime?: number | null;
  device?: DeviceInput | null;
}

/** The lifetime a new session gets: the caller's (no more than the configured one), or the configured one. */
export function checkLifetime(value: number | null | undefined, limits: SessionLimits): number {
  const configured = limits.maxLifetimeSeconds ?? 0;
  if (value === undefined || value === null) return configured;
  const most = configured === 0 ? limits.mostLifetimeSeconds : configured;
  if (!Number.isInteger(value) || value < 1 || value > most) {
    throw new GatewayError('BAD_USER_INPUT', `maxLifetime must be an integer from 1 to ${most} (SESSION_MAX_LIFETIME), got ${value}`);
  }
  return value;
}

/**
 * Device data a module passes in: checked, never cut (a module that sends too much is told).
 * `mask` cuts the address as configured.
 */
export function validateDevice(input: DeviceInput | null | undefined, mask: AddressMask): Device {
  if (input === undefined || input === null) return NO_DEVICE;
  const userAgent = input.userAgent ?? null;
  if (userAgent !== null) checkText('device.userAgent', userAgent, MAX_USER_AGENT_BYTES);
  const address = input.clientAddress ?? null;
  if (address !== null && isIP(address) === 0) {
    throw new GatewayError('BAD_USER_INPUT', `device.clientAddress must be an IPv4 or IPv6 address, got ${JSON.stringify(address.slice(0, 64))}`);
  }
  return { userAgent, clientAddress: address === null ? null : clientAddress(address, mask) };
}

/** Device data taken from a request a frontend makes itself: cut to size, never refused. */
export function deviceOfRequest(userAgent: string | undefined, address: string | undefined, mask: AddressMask): Device {
  let agent: string | null = null;
  if (userAgent !== undefined && userAgent !== '' && !LONE_SURROGATE.test(userAgent)) {
    agent = Buffer.byteLength(userAgent) <= MAX_USER_AGENT_BYTES ? userAgent : Buffer.from(userAgent).subarray(0, MAX_USER_AGENT_BYTES).toString('utf8').replace(/\uFFFD$/, '');
  }
  const ip = address !== undefined && isIP(address) !== 0 ? clientAddress(address, mask) : null;
  return { userAgent: agent, clientAddress: ip };
}

/** How much of a client's address a session records (DEVICE_ADDRESS). */
export type AddressMask = 'full' | 'network' | 'none';

/**
 * The address as recorded: whole (`full`), cut to its network (`network`: IPv4 to /24, IPv6 to
 * /48, the rest zeros: enough to tell "another city or provider" without naming a household), or
 * not at all (`none`). An IPv4-mapped IPv6 address counts as IPv4.
 */
export function clientAddress(address: string, mask: AddressMask): string | null {
  if (mask === 'none') return null;
  const v4 = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (mask === 'full') return v4;
  if (isIP(v4) === 4) return v4.split('.').slice(0, 3).concat('0').join('.');
  const groups = expandV6(v4);
  return groups === null ? null : `${groups.slice(0, 3).join(':')}::`;
}

function expandV6(address: string): string[] | null {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  if (right.some((group) => group.includes('.'))) return null; // embedded IPv4 in a non-mapped form: not recorded
  const zeros = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(zeros).fill('0'), ...right].map((group) => group.replace(/^0+(?=.)/, '').toLowerCase());
  return groups.length === 8 ? groups : null;
}

export function validateNewSession(input: NewSessionInput | null | undefined, limits: SessionLimits, mask: AddressMask = 'network'): NewSession {
  const principal = input?.principal ?? null;
  if (principal !== null) checkText('principal', principal, MAX_PRINCIPAL_BYTES);
  const attributes = toAttributeEntries(input?.attributes);
  checkSize(attributes, limits);
  return {
    principal,
    attributes,
    maxInactiveSeconds: checkInactive(input?.maxInactiveInterval, limits.defaultInactiveSeconds, limits.mostInactiveSeconds),
    lifetimeSeconds: checkLifetime(input?.maxLifetime, limits),
    authenticated: principal !== null,
    device: validateDevice(input?.device, mask),
  };
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
    patch.maxInactiveSeconds = checkInactive(input.maxInactiveInterval, limits.defaultInactiveSeconds, limits.mostInactiveSeconds);
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
 * and when it expires are decided by the rules below (`sessionDeadlineMs`) and handed to the store.
 */
export interface SessionState {
  principal: string | null;
  attributes: Map<string, string>;
  createdAtMs: number;
  maxInactiveSeconds: number;
  version: number;
  /** 0 for none. */
  absoluteExpiresAtMs: number;
  /** 0 for none: what a rotation that re-authenticates starts a new lifetime with. */
  lifetimeSeconds: number;
  /** 0 for never. */
  authenticatedAtMs: number;
  device: Device;
}

export type PatchOutcome =
  | { readonly ok: true; readonly state: SessionState }
  | { readonly ok: false; readonly code: 'VERSION_CONFLICT' | 'PAYLOAD_TOO_LARGE' | 'PRINCIPAL_CHANGE'; readonly detail: number };

/**
 * Applies a patch to a copy of the state. The same rule is written in Lua in
 * `store/redis-scripts.ts`; keep them in step.
 */
export function applyPatch(current: SessionState, patch: SessionPatch, maxAttributeBytes: number): PatchOutcome {
  if (patch.expectedVersion !== undefined && patch.expectedVersion !== current.version) {
    return { ok: false, code: 'VERSION_CONFLICT', detail: current.version };
  }
  if (patch.principal !== undefined && patch.principal !== current.principal) return { ok: false, code: 'PRINCIPAL_CHANGE', detail: 0 };
  const attributes = new Map(current.attributes);
  for (const name of patch.unset) attributes.delete(name);
  for (const [name, json] of patch.set) attributes.set(name, json);
  const bytes = attributeBytes(attributes);
  if (bytes > maxAttributeBytes) return { ok: false, code: 'PAYLOAD_TOO_LARGE', detail: bytes };
  return {
    ok: true,
    state: {
      principal: current.principal,
      attributes,
      createdAtMs: current.createdAtMs,
      maxInactiveSeconds: patch.maxInactiveSeconds ?? current.maxInactiveSeconds,
      version: current.version + 1,
      absoluteExpiresAtMs: current.absoluteExpiresAtMs,
      lifetimeSeconds: current.lifetimeSeconds,
      authenticatedAtMs: current.authenticatedAtMs,
      device: current.device,
    },
  };
}

export function patchError(outcome: Extract<PatchOutcome, { ok: false }>, maxAttributeBytes: number): GatewayError {
  switch (outcome.code) {
    case 'VERSION_CONFLICT':
      return new GatewayError('VERSION_CONFLICT', `the session is at version ${outcome.detail}; nothing was written`);
    case 'PAYLOAD_TOO_LARGE':
      return new GatewayError('PAYLOAD_TOO_LARGE', `the patched session would hold ${outcome.detail} attribute bytes; at most ${maxAttributeBytes} are allowed; nothing was written`);
    case 'PRINCIPAL_CHANGE':
      return principalChangeRefused();
  }
}

/**
 * A session's principal is set when it is issued or rotated, never by an update: the same ID
 * going from anonymous to signed in is session fixation (an ID planted before sign-in would be
 * worth a signed-in session after it).
 */
export function principalChangeRefused(): GatewayError {
  return new GatewayError('BAD_USER_INPUT', "a session's principal changes only by rotateSession, which gives it a new ID (an update keeping the ID would allow session fixation); nothing was written");
}

export function sessionNotFound(): GatewayError {
  return new GatewayError('SESSION_NOT_FOUND', 'no such session (it may have expired or been revoked)');
}

/**
 * When a session used at `usedAtMs` expires if it is not used again: the one place the expiry
 * rule is written. The idle deadline, never past the absolute one (`absoluteExpiresAtMs`, 0 for
 * none). Every store is given the deadline this computes, and a store never sets one past the
 * session's absolute deadline (an update's deadline is computed before the store is read).
 */
export function sessionDeadlineMs(usedAtMs: number, maxInactiveSeconds: number, absoluteExpiresAtMs: number): number {
  return withinLifetimeMs(usedAtMs + maxInactiveSeconds * 1000, absoluteExpiresAtMs);
}

/** A deadline, never past the absolute one (0 for none): what a store applies to every write. */
export function withinLifetimeMs(deadlineMs: number, absoluteExpiresAtMs: number): number {
  return absoluteExpiresAtMs > 0 && absoluteExpiresAtMs < deadlineMs ? absoluteExpiresAtMs : deadlineMs;
}

/** When a lifetime of `lifetimeSeconds` that starts at `startMs` ends; 0 for none. */
export function absoluteDeadlineMs(startMs: number, lifetimeSeconds: number): number {
  return lifetimeSeconds > 0 ? startMs + lifetimeSeconds * 1000 : 0;
}

/** A session as a store holds it: its state and when its idle clock last restarted. */
export interface StoredSession extends Readonly<SessionState> {
  readonly lastAccessedAtMs: number;
}

/** A session as it is first stored, issued at `nowMs`: version 1, its lifetime starting now. */
export function newStoredSession(session: NewSession, nowMs: number): StoredSession {
  return {
    principal: session.principal,
    attributes: new Map(session.attributes),
    createdAtMs: nowMs,
    lastAccessedAtMs: nowMs,
    maxInactiveSeconds: session.maxInactiveSeconds,
    version: 1,
    absoluteExpiresAtMs: absoluteDeadlineMs(nowMs, session.lifetimeSeconds),
    lifetimeSeconds: session.lifetimeSeconds,
    authenticatedAtMs: session.authenticated ? nowMs : 0,
    device: session.device,
  };
}

/** The deadline a stored session has now: when it expires unless it is used again. */
export function storedDeadlineMs(session: StoredSession): number {
  return sessionDeadlineMs(session.lastAccessedAtMs, session.maxInactiveSeconds, session.absoluteExpiresAtMs);
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
    expiresAtMs: storedDeadlineMs(stored),
    absoluteExpiresAtMs: stored.absoluteExpiresAtMs === 0 ? null : stored.absoluteExpiresAtMs,
    authenticatedAtMs: stored.authenticatedAtMs === 0 ? null : stored.authenticatedAtMs,
    maxInactiveSeconds: stored.maxInactiveSeconds,
    device: stored.device,
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
