/**
 * step-ca's admin token: a JWT signed with an admin certificate's key, the chain in the `x5c`
 * header, one per request (its `jti` is single use) and for one path (`aud`). node:crypto only:
 * the admin commands should not load jose for this.
 */
import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { CaError } from '../errors.js';
import { parsePem } from '../pki/pem.js';

export const ADMIN_TOKEN_ISSUER = 'step-admin-client/1.0';
export const ADMIN_TOKEN_LIFETIME_SECONDS = 5 * 60;

export interface AdminTokenRequest {
  /** The admin certificate first, then the intermediate (PEM). */
  chainPem: string;
  keyPem: string;
  subject: string;
  /** https://host[:port]/admin/<path> */
  audience: string;
  now: Date;
  lifetimeSeconds?: number;
}

/** The JWS algorithm for a key and how node:crypto signs with it. */
export function jwsAlgorithmOf(key: KeyObject): { alg: string; hash: string | null; dsaEncoding?: 'ieee-p1363' } {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') return { alg: 'ES256', hash: 'sha256', dsaEncoding: 'ieee-p1363' };
    if (curve === 'secp384r1' || curve === 'P-384') return { alg: 'ES384', hash: 'sha384', dsaEncoding: 'ieee-p1363' };
    if (curve === 'secp521r1' || curve === 'P-521') return { alg: 'ES512', hash: 'sha512', dsaEncoding: 'ieee-p1363' };
    throw new CaError('ERR_KEY_INVALID', `the admin key's curve ${String(curve)} cannot sign an admin token`, { hint: 'use an EC P-256, P-384 or P-521, RSA or Ed25519 key' });
  }
  if (type === 'rsa') return { alg: 'RS256', hash: 'sha256' };
  if (type === 'ed25519') return { alg: 'EdDSA', hash: null };
  throw new CaError('ERR_KEY_INVALID', `an admin key of type ${String(type)} cannot sign an admin token`, { hint: 'use an EC P-256, P-384 or P-521, RSA or Ed25519 key' });
}

const b64url = (data: Uint8Array | string): string => Buffer.from(data).toString('base64url');

/** A compact JWS for one admin request. */
export function makeAdminToken(req: AdminTokenRequest): string {
  let key: KeyObject;
  try {
    key = createPrivateKey(req.keyPem);
  } catch (err) {
    throw new CaError('ERR_KEY_INVALID', 'the admin key is not a PEM private key', { cause: err, hint: 'pass the key that belongs to the admin certificate' });
  }
  const chain = parsePem(req.chainPem, 'the admin certificate').filter((b) => b.label === 'CERTIFICATE');
  if (chain.length === 0) throw new CaError('ERR_CERT_INVALID', 'the admin certificate holds no certificate', { hint: 'pass the certificate chain the CA issued (leaf first)' });
  const { alg, hash, dsaEncoding } = jwsAlgorithmOf(key);
  const header = { alg, typ: 'JWT', x5c: chain.map((b) => Buffer.from(b.der).toString('base64')) };
  const iat = Math.floor(req.now.getTime() / 1000);
  const claims = {
    iss: ADMIN_TOKEN_ISSUER,
    sub: req.subject,
    aud: req.audience,
    iat,
    nbf: iat,
    exp: iat + (req.lifetimeSeconds ?? ADMIN_TOKEN_LIFETIME_SECONDS),
    jti: randomBytes(32).toString('hex'),
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = sign(hash, Buffer.from(input), dsaEncoding ? { key, dsaEncoding } : key);
  return `${input}.${b64url(signature)}`;
}
