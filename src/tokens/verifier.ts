/**
 * Checks a session token's signature and claims: one module for the gateway (introspection,
 * against the keys it holds) and the client library (locally, against the gateway's JWKS).
 *
 * A token passes only if it is a JWS signed with ES256 or EdDSA (so never `alg: none`, never an
 * HMAC made with a public key as its secret) by a key the key source knows under the token's
 * `kid`, with `iss` the issuer, `aud` the audience (when one is asked for), `exp` in the future,
 * and `sid`, `iat` present. It says nothing of whether the session is still alive: the caller
 * asks that (the gateway reads the session; the client listens for revocations).
 *
 * A signature check costs tens of microseconds, so a token that passed is remembered (by its
 * exact text, up to `maxRemembered`, oldest out first) and a second check of it costs a map
 * lookup and its `exp`: a module checks the same token on every request its caller makes.
 */
import { jwtVerify, type CryptoKey, type JWTVerifyGetKey, type JWTPayload } from 'jose';

/** The algorithms a session token may be signed with. */
export const SESSION_TOKEN_ALGORITHMS: readonly string[] = ['ES256', 'EdDSA'];

/** A token that passed, and what it says. */
export interface VerifiedSessionToken {
  /** The session's handle (its digest): what change events name it by. */
  readonly sid: string;
  /** The principal; null for an anonymous session. */
  readonly sub: string | null;
  readonly aud: string | readonly string[];
  readonly iss: string;
  /** Epoch seconds. */
  readonly iat: number;
  readonly exp: number;
  readonly kid: string;
  /** Every claim, the attributes the gateway put in (SESSION_TOKEN_CLAIMS) among them. */
  readonly claims: Readonly<JWTPayload>;
}

export interface VerifierOptions {
  readonly issuer: string;
  /** The audience this verifier accepts; undefined: any (the gateway's own introspection). */
  readonly audience?: string;
  /** Tokens remembered as passed; default 10,000. 0: every check is a signature check. */
  readonly maxRemembered?: number;
  /** Epoch ms; tests move it. */
  readonly now?: () => number;
}

/** Where the verifier finds a key: jose's own JWKS functions, or the gateway's key ring. */
export type KeySource = JWTVerifyGetKey | ((header: { kid?: string; alg?: string }) => Promise<CryptoKey>);

export class SessionTokenVerifier {
  private readonly remembered = new Map<string, VerifiedSessionToken>();
  private readonly maxRemembered: number;
  private readonly now: () => number;

  constructor(
    private readonly keys: KeySource,
    private readonly options: VerifierOptions,
  ) {
    this.maxRemembered = options.maxRemembered ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** What the token says if it passes, else null (whatever is wrong with it). */
  verify(token: string): Promise<VerifiedSessionToken | null> {
    const known = this.remembered.get(token);
    if (known !== undefined) {
      if (known.exp * 1000 > this.now()) return Promise.resolve(known);
      this.remembered.delete(token);
      return Promise.resolve(null);
    }
    return this.check(token);
  }

  private async check(token: string): Promise<VerifiedSessionToken | null> {
    let payload: JWTPayload;
    let kid: string | undefined;
    try {
      const verified = await jwtVerify(token, this.keys as JWTVerifyGetKey, {
        issuer: this.options.issuer,
        ...(this.options.audience === undefined ? {} : { audience: this.options.audience }),
        algorithms: [...SESSION_TOKEN_ALGORITHMS],
        requiredClaims: ['sid', 'iat', 'exp'],
        currentDate: new Date(this.now()),
      });
      payload = verified.payload;
      kid = verified.protectedHeader.kid;
    } catch {
      return null;
    }
    if (typeof payload.sid !== 'string' || kid === undefined || (payload.sub !== undefined && typeof payload.sub !== 'string')) return null;
    const passed: VerifiedSessionToken = Object.freeze({
      sid: payload.sid,
      sub: payload.sub ?? null,
      aud: payload.aud as string | string[],
      iss: payload.iss as string,
      iat: payload.iat as number,
      exp: payload.exp as number,
      kid,
      claims: Object.freeze(payload),
    });
    if (this.maxRemembered > 0) {
      if (this.remembered.size >= this.maxRemembered) this.remembered.delete(this.remembered.keys().next().value as string);
      this.remembered.set(token, passed);
    }
    return passed;
  }
}
