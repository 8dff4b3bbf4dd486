/**
 * An identity provider's signing keys (its JWKS), cached the way step-ca caches them, plus one
 * thing step-ca does not do: when a token names a key we do not have, fetch the set again (at
 * most once per 30 s), so that an IdP rotating its keys causes no outage.
 *
 * - Fresh for the response's `Cache-Control: max-age` (12 h without one), less a random jitter
 *   (1 h for long lifetimes, a third of shorter ones) so that processes do not refresh in step.
 * - Past that, requests keep using the cached keys while one refresh runs in the background.
 * - A failed refresh keeps the old keys and is retried after the same 30 s. A set with no key
 *   that could verify a token (`{"keys": []}`, keys of unknown types, garbage) counts as failed:
 *   a broken or hostile answer never replaces keys that work.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { CaError, describe } from '../errors.js';
import { fetchJwks } from './discovery.js';

/** Lifetime of a key set whose response says nothing (step-ca's default). */
export const DEFAULT_KEY_SET_AGE_MS = 12 * 3_600_000;
/** A max-age below this is raised to it: an IdP sending max-age=0 must not cost a fetch per request. */
export const MIN_KEY_SET_AGE_MS = 60_000;
/** Least time between two fetches caused by unknown kids, and between retries of a failed refresh. */
export const REFETCH_INTERVAL_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;

export interface KeySetOptions {
  fetch: typeof fetch;
  now: () => Date;
  /** Where a failed background refresh is reported. */
  log?: (event: Record<string, unknown>) => void;
  /** In [0, 1), for the jitter; tests may fix it. */
  random?: () => number;
}

/** The JWS header fields that choose a key. */
export interface KeyHint {
  alg: string;
  kid?: string | undefined;
}

interface CachedKey {
  jwk: JWK;
  /** Loaded on first use, once: a KeyObject serves every algorithm of its type. Null: it cannot be used. */
  loaded?: KeyObject | null;
}

/** The key type (and curve) each allowed algorithm needs. */
const KEY_TYPE_FOR_ALG: Record<string, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  RS384: { kty: 'RSA' },
  RS512: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  PS384: { kty: 'RSA' },
  PS512: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
  ES384: { kty: 'EC', crv: 'P-384' },
  ES512: { kty: 'EC', crv: 'P-521' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
};

/** The algorithms we accept on ID tokens: asymmetric only, never `none` or HMAC. */
export const ALLOWED_TOKEN_ALGORITHMS = Object.keys(KEY_TYPE_FOR_ALG);

/** A public key we could verify a token with: a type we accept, its members present, meant for signatures. */
export function isUsableSigningKey(jwk: Record<string, unknown>): boolean {
  const str = (name: string): boolean => typeof jwk[name] === 'string' && jwk[name] !== '';
  const type = Object.values(KEY_TYPE_FOR_ALG).find((t) => t.kty === jwk.kty && (t.crv === undefined || t.crv === jwk.crv));
  if (!type) return false;
  const members = jwk.kty === 'RSA' ? ['n', 'e'] : jwk.kty === 'EC' ? ['x', 'y'] : ['x'];
  if (!members.every(str)) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') return false;
  if (jwk.alg !== undefined && typeof jwk.alg !== 'string') return false;
  return jwk.key_ops === undefined || (Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'));
}

/** `max-age` of a Cache-Control header, in ms, or undefined. */
export function maxAgeMs(cacheControl: string | null): number | undefined {
  const m = cacheControl ? /(?:^|[\s,])max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl) : null;
  return m ? Number(m[1]) * 1000 : undefined;
}

/** How long a fetched key set stays fresh: step-ca's rule, with the jitter drawn from `random`. */
export function keySetLifetimeMs(cacheControl: string | null, random: () => number): number {
  const age = Math.max(maxAgeMs(cacheControl) ?? DEFAULT_KEY_SET_AGE_MS, MIN_KEY_SET_AGE_MS);
  const jitter = age > 3_600_000 ? 3_600_000 : age / 3;
  return age - Math.floor(random() * jitter);
}

export class KeySet {
  private keys: CachedKey[] = [];
  private expiresAt = -Infinity;
  private refreshing: Promise<boolean> | undefined;
  private lastUnknownKidFetch = -Infinity;
  private readonly random: () => number;

  private constructor(
    readonly jwksUri: string,
    private readonly options: KeySetOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  /** Fetch the key set for the first time; throws (a CaError) when it cannot. */
  static async load(jwksUri: string, options: KeySetOptions): Promise<KeySet> {
    const set = new KeySet(jwksUri, options);
    await set.fetchNow();
    return set;
  }

  /**
   * The keys that may have signed a token with this header: same `kid` (a header without one
   * matches only keys without one), a key type that fits `alg`, meant for signatures. Fetches
   * the set again first when none fits and the last such fetch is 30 s old.
   */
  async keysFor(hint: KeyHint): Promise<KeyObject[]> {
    const now = this.options.now().getTime();
    if (now >= this.expiresAt && !this.refreshing) void this.refresh();
    let found = this.matching(hint);
    if (found.length === 0) {
      if (this.refreshing) {
        await this.refreshing;
      } else if (now - this.lastUnknownKidFetch >= REFETCH_INTERVAL_MS) {
        this.lastUnknownKidFetch = now;
        await this.refresh();
      }
      found = this.matching(hint);
    }
    return found.flatMap((key) => this.loaded(key) ?? []);
  }

  /** Resolves once no refresh is running (for tests and orderly shutdown). */
  async settled(): Promise<void> {
    await this.refreshing;
  }

  /** The kids currently cached, for messages. */
  kids(): string[] {
    return this.keys.map((k) => k.jwk.kid ?? '(none)');
  }

  private matching(hint: KeyHint): CachedKey[] {
    const type = KEY_TYPE_FOR_ALG[hint.alg];
    if (!type) return [];
    return this.keys.filter(({ jwk }) => {
      if (jwk.kid !== hint.kid) return false;
      if (jwk.kty !== type.kty || (type.crv !== undefined && jwk.crv !== type.crv)) return false;
      if (jwk.alg !== undefined && jwk.alg !== hint.alg) return false;
      if (jwk.use !== undefined && jwk.use !== 'sig') return false;
      return jwk.key_ops === undefined || jwk.key_ops.includes('verify');
    });
  }

  /**
   * The key as node:crypto verifies with it, loaded once. A key the IdP publishes that cannot be
   * loaded, or an RSA key under 2048 bits (as jose refuses them), matches nothing.
   */
  private loaded(key: CachedKey): KeyObject | null {
    if (key.loaded === undefined) {
      try {
        const object = createPublicKey({ key: key.jwk as never, format: 'jwk' });
        const bits = object.asymmetricKeyDetails?.modulusLength;
        key.loaded = object.asymmetricKeyType === 'rsa' && (bits === undefined || bits < 2048) ? null : object;
      } catch {
        key.loaded = null;
      }
    }
    return key.loaded;
  }

  /** One refresh at a time; resolves false (old keys kept) when it fails. */
  private refresh(): Promise<boolean> {
    this.refreshing ??= this.fetchNow()
      .then(() => true)
      .catch((err: unknown) => {
        this.expiresAt = this.options.now().getTime() + REFETCH_INTERVAL_MS;
        this.options.log?.({ level: 'warn', msg: `cannot refresh the keys of ${this.jwksUri}; keeping the ${this.keys.length} cached`, error: describe(err) });
        return false;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private async fetchNow(): Promise<void> {
    const { keys, headers } = await fetchJwks(this.jwksUri, { fetch: this.options.fetch, timeoutMs: FETCH_TIMEOUT_MS });
    const usable = keys.filter(isUsableSigningKey);
    if (usable.length === 0) {
      throw new CaError('ERR_DISCOVERY', `the key set at ${this.jwksUri} has no usable signing key (${keys.length} keys)`, { status: 502 });
    }
    this.keys = usable.map((jwk) => ({ jwk: jwk as JWK }));
    this.expiresAt = this.options.now().getTime() + keySetLifetimeMs(headers.get('cache-control'), this.random);
  }
}
