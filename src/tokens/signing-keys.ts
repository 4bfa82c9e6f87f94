/**
 * The session tokens' signing keys, shared by every gateway on one store: read from the store's
 * key set (`KeySetStore`), made and retired there by the rules of `key-schedule.ts`, and kept in
 * memory between reads. The first gateway to find a key due makes it and writes the set
 * (compare-and-set on its version); the others read theirs. So all sign with the same key and
 * serve the same set.
 *
 * Reads: the set is read again every `refreshMs` (a quarter of a token lifetime, at most 30 s),
 * in the background while the copy held is at most twice that old, else before answering. A new
 * key is written a lifetime before it signs, so every gateway has it in time. With the store
 * unreachable for longer than half a lifetime, signing fails (STORE_UNAVAILABLE) rather than
 * sign with a key the others may have retired.
 *
 * Private keys stay inside: `signingKey()` hands out a CryptoKey (not extractable), `published()`
 * builds the public JWKs member by member, and nothing here logs a key.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { GatewayError } from '../errors';
import type { KeySetStore } from '../store/store';
import { planChanges, planKeys, signingKeyAt, type KeyRecord, type KeyTimes, type PublicJwk } from './key-schedule';

export interface SigningKeysOptions extends KeyTimes {
  /** SESSION_TOKEN_ALG: what new keys are made with. */
  readonly alg: KeyRecord['alg'];
  /** The store's clock, in epoch ms (every gateway on the store agrees on it). */
  readonly now: () => number;
}

/** A public key as the JWKS serves it. */
export interface PublishedKey extends PublicJwk {
  readonly kid: string;
  readonly alg: string;
  readonly use: 'sig';
}

/** The key to sign with now. */
export interface Signer {
  readonly kid: string;
  readonly alg: KeyRecord['alg'];
  readonly key: CryptoKey;
}

interface Held {
  readonly version: number;
  readonly keys: readonly KeyRecord[];
  readonly readAtMs: number;
}

/** Writes a gateway attempts when others keep writing the set at the same moment. */
const WRITE_ATTEMPTS = 5;

export class SigningKeys {
  private held: Held | null = null;
  private reading: Promise<Held> | null = null;
  /** Imported keys by kid: importing costs more than a signature. */
  private readonly imported = new Map<string, Promise<{ private: CryptoKey; public: CryptoKey }>>();
  private readonly refreshMs: number;

  constructor(
    private readonly store: KeySetStore,
    private readonly options: SigningKeysOptions,
  ) {
    this.refreshMs = Math.max(50, Math.min(options.ttlMs / 4, 30_000));
  }

  /** The key that signs now. */
  async signingKey(): Promise<Signer> {
    const held = await this.current();
    const record = signingKeyAt(held.keys, this.options.now());
    if (record === null) throw new GatewayError('INTERNAL', 'the key set is empty after it was planned');
    return { kid: record.kid, alg: record.alg, key: (await this.keysOf(record)).private };
  }

  /**
   * Every key served: the one signing, the next, and those whose tokens may still be alive. With
   * the store unreachable, the set last read (public keys: serving them late harms nothing, and a
   * verifier that needs one keeps working).
   */
  async published(): Promise<PublishedKey[]> {
    try {
      return (await this.current()).keys.map(publicKeyOf);
    } catch (error) {
      if (this.held === null) throw error;
      return this.held.keys.map(publicKeyOf);
    }
  }

  /** The public key `kid` names among those served, or null. */
  async verificationKey(kid: string | undefined): Promise<{ alg: string; key: CryptoKey } | null> {
    if (kid === undefined) return null;
    const record = (await this.current()).keys.find((key) => key.kid === kid);
    return record === undefined ? null : { alg: record.alg, key: (await this.keysOf(record)).public };
  }

  /** The set as held, read again when it is due (see the module's comment). */
  private current(): Promise<Held> {
    const held = this.held;
    const ageMs = held === null ? Number.POSITIVE_INFINITY : this.options.now() - held.readAtMs;
    if (held !== null && ageMs < this.refreshMs) return Promise.resolve(held);
    const reading = this.reload();
    if (held !== null && ageMs < 2 * this.refreshMs) {
      reading.catch(() => undefined); // the next call past the bound reports it
      return Promise.resolve(held);
    }
    return reading;
  }

  private reload(): Promise<Held> {
    if (this.reading === null) {
      this.reading = this.readAndPlan().then(
        (held) => {
          this.held = held;
          this.reading = null;
          return held;
        },
        (error: unknown) => {
          this.reading = null;
          throw error;
        },
      );
    }
    return this.reading;
  }

  /** Reads the set; when a key is due or one can go, writes the new set (or takes the one another gateway wrote). */
  private async readAndPlan(): Promise<Held> {
    let stored = await this.store.readKeySet();
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const version = stored?.version ?? 0;
      const keys = stored === null ? [] : parseKeys(stored.keys);
      const nowMs = this.options.now();
      const plan = planKeys(keys, nowMs, this.options.alg, this.options);
      if (!planChanges(plan, keys)) return { version, keys, readAtMs: nowMs };
      const next = plan.nextActivatesAtMs === null ? [...plan.keep] : [...plan.keep, await newKey(this.options.alg, plan.nextActivatesAtMs)];
      const written = await this.store.writeKeySet(version, JSON.stringify(next));
      if (written.version === version + 1 && written.keys.length > 0) {
        const mine = parseKeys(written.keys);
        if (mine.length === next.length && mine.every((key, i) => key.kid === next[i]?.kid)) return { version: written.version, keys: mine, readAtMs: nowMs };
      }
      stored = written; // another gateway wrote first: plan again on theirs
    }
    throw new GatewayError('STORE_UNAVAILABLE', 'the session token keys kept changing while this gateway read them', { outcome: 'NOT_APPLIED' });
  }

  private keysOf(record: KeyRecord): Promise<{ private: CryptoKey; public: CryptoKey }> {
    let keys = this.imported.get(record.kid);
    if (keys === undefined) {
      keys = Promise.all([importJWK(record.privateJwk as JWK, record.alg, { extractable: false }), importJWK(record.publicJwk as JWK, record.alg)]).then(([privateKey, publicKey]) => ({
        private: privateKey as CryptoKey,
        public: publicKey as CryptoKey,
      }));
      this.imported.set(record.kid, keys);
      // Imported keys of keys no longer served are forgotten.
      if (this.imported.size > 16) for (const kid of this.imported.keys()) if (!this.held?.keys.some((key) => key.kid === kid) && kid !== record.kid) this.imported.delete(kid);
    }
    return keys;
  }
}

/** A fresh key pair of `alg`, as the store keeps it. */
async function newKey(alg: KeyRecord['alg'], activatesAtMs: number): Promise<KeyRecord> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const privateJwk = await exportJWK(pair.privateKey);
  const publicJwk = publicMembers(await exportJWK(pair.publicKey));
  const kid = await calculateJwkThumbprint(publicJwk as JWK);
  return { kid, alg, activatesAtMs, publicJwk, privateJwk: privateJwk as Record<string, string> };
}

/** The public members of a JWK, named one by one: whatever else the JWK holds stays behind. */
function publicMembers(jwk: JWK): PublicJwk {
  const { kty, crv, x, y } = jwk;
  if (kty === undefined || crv === undefined || x === undefined) throw new GatewayError('INTERNAL', 'a signing key without its public members');
  return y === undefined ? { kty, crv, x } : { kty, crv, x, y };
}

function publicKeyOf(record: KeyRecord): PublishedKey {
  return { ...publicMembers(record.publicJwk as JWK), kid: record.kid, alg: record.alg, use: 'sig' };
}

function parseKeys(text: string): KeyRecord[] {
  try {
    const keys = JSON.parse(text) as KeyRecord[];
    if (Array.isArray(keys)) return keys;
  } catch {
    // falls through
  }
  throw new GatewayError('INTERNAL', 'the stored session token key set is not readable');
}
