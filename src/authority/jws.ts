/**
 * Compact JWS tokens read and verified with node:crypto directly: one synchronous verify with a
 * KeyObject prepared once, no thread-pool hop, and every failure a precise reason. Used for JWK
 * provisioner tokens; the claim checks are shared with OIDC tokens.
 */
import { constants, createHash, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { unauthorized } from './provisioner.js';

export interface DecodedJws {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** `header.payload`, what the signature covers (also the replay key's input when there is no jti). */
  signingInput: string;
  signature: Buffer;
}

/** The largest token we read: a JWT with a few SANs is well under 4 KiB. */
const MAX_TOKEN_LENGTH = 64 * 1024;

function jsonPart(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw unauthorized(`the token is not a JWT: its ${what} is not base64url JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw unauthorized(`the token is not a JWT: its ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Split and decode a compact JWS without verifying it; a 401 naming what is wrong otherwise. */
export function decodeJws(token: string): DecodedJws {
  if (token.length > MAX_TOKEN_LENGTH) throw unauthorized(`the token is longer than ${MAX_TOKEN_LENGTH} characters`);
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) {
    throw unauthorized('the token is not a JWT: expected three base64url parts separated by dots');
  }
  const [header, payload, signature] = parts as [string, string, string];
  return { header: jsonPart(header, 'header'), claims: jsonPart(payload, 'payload'), signingInput: `${header}.${payload}`, signature: Buffer.from(signature, 'base64url') };
}

/** How node:crypto verifies each JWS algorithm we accept. */
const VERIFY_PARAMS: Readonly<Record<string, { hash: string | null; keyType: string; curve?: string; pss?: boolean; ecdsa?: boolean }>> = {
  ES256: { hash: 'sha256', keyType: 'ec', curve: 'prime256v1', ecdsa: true },
  ES384: { hash: 'sha384', keyType: 'ec', curve: 'secp384r1', ecdsa: true },
  ES512: { hash: 'sha512', keyType: 'ec', curve: 'secp521r1', ecdsa: true },
  RS256: { hash: 'sha256', keyType: 'rsa' },
  RS384: { hash: 'sha384', keyType: 'rsa' },
  RS512: { hash: 'sha512', keyType: 'rsa' },
  PS256: { hash: 'sha256', keyType: 'rsa', pss: true },
  PS384: { hash: 'sha384', keyType: 'rsa', pss: true },
  PS512: { hash: 'sha512', keyType: 'rsa', pss: true },
  EdDSA: { hash: null, keyType: 'ed25519' },
};

/** Whether `alg` can be verified with `key` (right key type and curve). */
export function algorithmFits(alg: string, key: KeyObject): boolean {
  const params = VERIFY_PARAMS[alg];
  if (!params || key.asymmetricKeyType !== params.keyType) return false;
  return params.curve === undefined || key.asymmetricKeyDetails?.namedCurve === params.curve;
}

/** The JWS algorithm a public key signs with by default (ES256 for P-256, ...); undefined if none fits. */
export function defaultAlgorithm(key: KeyObject): string | undefined {
  return Object.keys(VERIFY_PARAMS).find((alg) => algorithmFits(alg, key) && !VERIFY_PARAMS[alg]?.pss);
}

/** Verify the signature of a decoded JWS with `alg` (already checked to be the one expected) and `key`. */
export function signatureVerifies(jws: DecodedJws, alg: string, key: KeyObject): boolean {
  const params = VERIFY_PARAMS[alg];
  if (!params || !algorithmFits(alg, key)) return false;
  const input: KeyObject | VerifyKeyObjectInput = params.ecdsa
    ? { key, dsaEncoding: 'ieee-p1363' }
    : params.pss
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
      : key;
  try {
    return verify(params.hash, Buffer.from(jws.signingInput), input, jws.signature);
  } catch {
    return false;
  }
}

/** The latest time a token may name: 9999-12-31T23:59:59Z, the last second an X.509 time can hold. */
export const MAX_NUMERIC_DATE = 253_402_300_799;

/**
 * exp, nbf and iat, when present, must be sane NumericDates (RFC 7519 2): finite, not negative,
 * before the year 10000. Anything else is a 401 naming the claim, before any of them is used.
 */
export function checkNumericDates(claims: Record<string, unknown>): void {
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    const value = claims[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_NUMERIC_DATE) {
      throw unauthorized(`the token's "${name}" claim (${JSON.stringify(value) ?? String(value)}) is not a valid time`);
    }
  }
}

function isoOf(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/**
 * The time window of a token with go-jose's leeway, in the order that names the real problem:
 * expired, then not valid yet, then issued in the future.
 */
export function checkTokenTimes(claims: Record<string, unknown>, now: Date, leewayS: number, required: readonly ('exp' | 'iat')[] = ['exp']): void {
  checkNumericDates(claims);
  for (const name of required) if (claims[name] === undefined) throw unauthorized(`the token has no "${name}" claim`);
  const nowS = now.getTime() / 1000;
  const { exp, nbf, iat } = claims as { exp?: number; nbf?: number; iat?: number };
  if (exp !== undefined && exp < nowS - leewayS) throw unauthorized(`the token expired at ${isoOf(exp)}`);
  if (nbf !== undefined && nbf > nowS + leewayS) throw unauthorized(`the token is not valid before ${isoOf(nbf)}`);
  if (iat !== undefined && iat > nowS + leewayS) throw unauthorized(`the token was issued in the future (iat ${isoOf(iat)})`);
}

/** The token's audiences as a list (`aud` may be one string or several). */
export function audiencesOf(claims: Record<string, unknown>): string[] {
  const aud = claims.aud;
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

/**
 * The single-use key of a token: its `nonce` (OIDC, as step-ca) or `jti` (JWK), else the SHA-256
 * of the signed part only. The signature's base64url has spare bits that verify either way, so
 * hashing the whole token would let one token pass as several.
 */
export function tokenIdOf(jws: DecodedJws, claim: 'nonce' | 'jti'): string {
  const value = jws.claims[claim];
  if (typeof value === 'string' && value !== '') return value;
  return createHash('sha256').update(jws.signingInput).digest('hex');
}
