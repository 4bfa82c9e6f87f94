/**
 * When the session tokens' signing keys come and go: pure rules over the stored key set, no I/O
 * (`signing-keys.ts` applies them to the store).
 *
 * - The key that signs at a moment is the newest whose `activatesAtMs` has come.
 * - A new key is published at least one token lifetime before it signs (`activatesAtMs` is at
 *   least `ttlMs` after it is written), so that a verifier whose cached key set is at most one
 *   token lifetime old (the JWKS's `max-age`) already has it when the first token it signs arrives.
 *   The next key is made once the signing key has signed for `rotationMs − ttlMs`, and takes over
 *   `rotationMs` after the signing key did (or a lifetime from now, whichever is later).
 * - A key is served until its last token has expired: it stops signing when its successor
 *   activates, so its last token expires `ttlMs` later; it is dropped `RETIRE_MARGIN_MS` after that.
 * - The algorithm configured changed: the next key, of the new algorithm, is made at once (and
 *   signs a lifetime later, as any new key).
 */

/** A signing key as the store keeps it (JSON, in the key set): the private half included. */
export interface KeyRecord {
  /** The key's JWK thumbprint (RFC 7638): the `kid` of its tokens and of its JWKS entry. */
  readonly kid: string;
  readonly alg: 'ES256' | 'EdDSA';
  /** When it starts signing (store clock, epoch ms); it is published from when it is written. */
  readonly activatesAtMs: number;
  /** The public JWK: what the JWKS serves. */
  readonly publicJwk: PublicJwk;
  /** The private JWK (with `d`): never leaves the store but to sign. */
  readonly privateJwk: Readonly<Record<string, string>>;
}

/** The members of a public EC or OKP JWK that the JWKS serves: never `d`. */
export interface PublicJwk {
  readonly kty: string;
  readonly crv: string;
  readonly x: string;
  readonly y?: string;
}

export interface KeyTimes {
  /** SESSION_TOKEN_TTL, in ms. */
  readonly ttlMs: number;
  /** SESSION_TOKEN_KEY_ROTATION, in ms (at least `ttlMs`, config.ts checks). */
  readonly rotationMs: number;
}

/** How long after its last token expired a key is still served: room for clocks between hosts. */
export const RETIRE_MARGIN_MS = 5000;

/** What the set should become at `nowMs`: the keys to keep, and whether a new key is due (when it activates). */
export interface KeyPlan {
  readonly keep: readonly KeyRecord[];
  readonly nextActivatesAtMs: number | null;
}

/** The keys ordered by when they start signing. */
export function byActivation(keys: readonly KeyRecord[]): KeyRecord[] {
  return [...keys].sort((a, b) => a.activatesAtMs - b.activatesAtMs);
}

/**
 * The key that signs at `nowMs`; null only for an empty set. When none has activated yet, the set
 * holds only the first key ever made, by a gateway whose clock runs a few ms ahead (every later
 * key is made while an older one signs): it signs, since no verifier knows of another.
 */
export function signingKeyAt(keys: readonly KeyRecord[], nowMs: number): KeyRecord | null {
  let signing: KeyRecord | null = null;
  let earliest: KeyRecord | null = null;
  for (const key of keys) {
    if (key.activatesAtMs <= nowMs && (signing === null || key.activatesAtMs > signing.activatesAtMs)) signing = key;
    if (earliest === null || key.activatesAtMs < earliest.activatesAtMs) earliest = key;
  }
  return signing ?? earliest;
}

export function planKeys(keys: readonly KeyRecord[], nowMs: number, alg: KeyRecord['alg'], times: KeyTimes): KeyPlan {
  const ordered = byActivation(keys);
  const signing = signingKeyAt(ordered, nowMs);
  if (signing === null) return { keep: [], nextActivatesAtMs: nowMs };
  const at = ordered.indexOf(signing);
  const keep = ordered.filter((key, i) => {
    if (i >= at) return true;
    const successor = ordered[i + 1] as KeyRecord;
    return successor.activatesAtMs + times.ttlMs + RETIRE_MARGIN_MS > nowMs;
  });
  const upcoming = ordered.slice(at + 1);
  if (upcoming.length > 0) return { keep, nextActivatesAtMs: null };
  const due = signing.alg !== alg || nowMs >= signing.activatesAtMs + times.rotationMs - times.ttlMs;
  if (!due) return { keep, nextActivatesAtMs: null };
  const earliest = nowMs + times.ttlMs;
  return { keep, nextActivatesAtMs: signing.alg !== alg ? earliest : Math.max(earliest, signing.activatesAtMs + times.rotationMs) };
}

/** Whether the plan changes the set (a key to add or to drop). */
export function planChanges(plan: KeyPlan, keys: readonly KeyRecord[]): boolean {
  return plan.nextActivatesAtMs !== null || plan.keep.length !== keys.length;
}
