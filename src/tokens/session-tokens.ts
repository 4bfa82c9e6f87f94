/**
 * Session tokens: what the session service calls to sign a token for a session it has read and
 * checked the rights to, to check one (introspection), and what the JWKS serves. The keys are
 * `signing-keys.ts`'s; the claims `claims.ts`'s; the checks `verifier.ts`'s.
 */
import { SignJWT } from 'jose';
import { GatewayError } from '../errors';
import type { SessionRecord } from '../session/model';
import type { KeySetStore } from '../store/store';
import { sessionTokenClaims, tokenAudience, type TokenRules } from './claims';
import { SigningKeys, type PublishedKey } from './signing-keys';
import { SessionTokenVerifier, type VerifiedSessionToken } from './verifier';

export type { PublishedKey } from './signing-keys';
export type { VerifiedSessionToken } from './verifier';

export interface SessionTokensOptions extends TokenRules {
  /** SESSION_TOKEN_KEY_ROTATION, in seconds. */
  readonly keyRotationSeconds: number;
  readonly algorithm: 'ES256' | 'EdDSA';
  /** The store's clock, epoch ms. */
  readonly now: () => number;
}

/** A token as handed out. */
export interface IssuedToken {
  readonly token: string;
  readonly expiresAtMs: number;
  readonly audience: string;
}

export class SessionTokens {
  private readonly keys: SigningKeys;
  private readonly verifier: SessionTokenVerifier;

  constructor(
    store: KeySetStore,
    private readonly options: SessionTokensOptions,
  ) {
    this.keys = new SigningKeys(store, { ttlMs: options.ttlSeconds * 1000, rotationMs: options.keyRotationSeconds * 1000, alg: options.algorithm, now: options.now });
    this.verifier = new SessionTokenVerifier(
      async (header: { kid?: string; alg?: string }) => {
        const found = await this.keys.verificationKey(header.kid);
        // jose refuses the token on any throw: an unknown kid, or a header whose alg is not the key's.
        if (found === null || found.alg !== header.alg) throw new GatewayError('BAD_USER_INPUT', 'no such key');
        return found.key;
      },
      { issuer: options.issuer, now: options.now },
    );
  }

  /** The `iss` of every token. */
  get issuer(): string {
    return this.options.issuer;
  }

  /** Seconds a token lives at most: also the JWKS's max-age (see key-schedule.ts). */
  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  /** The audience a token would be for (the one asked, if allowed); throws BAD_USER_INPUT. */
  audience(asked: string | null | undefined): string {
    return tokenAudience(asked, this.options);
  }

  /** A token for `session`, read just now with the rights checked, for `audience` (from `audience()`). */
  async sign(session: SessionRecord, audience: string): Promise<IssuedToken> {
    const signer = await this.keys.signingKey();
    const claims = sessionTokenClaims(session, audience, this.options.now(), this.options);
    const token = await new SignJWT(claims).setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'JWT' }).sign(signer.key);
    return { token, expiresAtMs: claims.exp * 1000, audience };
  }

  /** What a token says, if it is one of ours and unexpired; null otherwise. Says nothing of its session. */
  verify(token: string): Promise<VerifiedSessionToken | null> {
    return this.verifier.verify(token);
  }

  /** The public keys, for `GET /.well-known/jwks.json`. */
  async jwks(): Promise<{ keys: PublishedKey[] }> {
    return { keys: await this.keys.published() };
  }
}
