/**
 * The keys of JWK provisioners, as step keeps them: a public JWK in ca.json (`key`) and the
 * private JWK encrypted with a password as a compact JWE (`encryptedKey`, PBES2-HS256+A128KW /
 * A256GCM, 100000 PBKDF2 rounds). `kid` is the key's RFC 7638 thumbprint. Keys may also come from
 * files: a JWK, a PEM key, or a JWE (compact, or the JSON form `step crypto jwk create` writes).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey as NodeJwk, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, compactDecrypt, CompactEncrypt, errors as joseErrors, flattenedDecrypt, type FlattenedJWE } from 'jose';
import { CaError, describe } from '../errors.js';

/** A JWK as step writes it; private members (`d`, RSA's primes) only in a private one. */
export interface Jwk {
  use?: string;
  kty: string;
  kid?: string;
  crv?: string;
  alg?: string;
  [member: string]: unknown;
}

/** step's PBKDF2 rounds for a provisioner key (go.step.sm/crypto's default). */
export const PBES2_COUNT = 100_000;
const KEY_WRAP = 'PBES2-HS256+A128KW';
const CONTENT_ENCRYPTION = 'A256GCM';
/** Keys from elsewhere may use more rounds; a hostile file must not keep us busy for minutes. */
const MAX_PBES2_COUNT = 1_000_000;
const PBES2_ALGORITHMS = ['PBES2-HS256+A128KW', 'PBES2-HS384+A192KW', 'PBES2-HS512+A256KW'];

/** go-jose's member order, so ca.json reads as step writes it. */
const MEMBER_ORDER = ['use', 'kty', 'kid', 'crv', 'alg', 'n', 'e', 'x', 'y', 'd', 'p', 'q', 'dp', 'dq', 'qi'];
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

function ordered(jwk: Jwk): Jwk {
  const out: Record<string, unknown> = {};
  for (const key of MEMBER_ORDER) if (jwk[key] !== undefined) out[key] = jwk[key];
  for (const key of Object.keys(jwk)) if (!(key in out) && jwk[key] !== undefined) out[key] = jwk[key];
  return out as Jwk;
}

/** The signature algorithm of a key: ES256/384/512 by curve, RS256, EdDSA (step's defaults). */
export function signatureAlgorithm(jwk: Jwk): string {
  if (typeof jwk.alg === 'string' && jwk.alg !== '') return jwk.alg;
  if (jwk.kty === 'EC') {
    const alg = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv ?? ''];
    if (alg) return alg;
  }
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  throw new CaError('ERR_KEY_INVALID', `a ${jwk.kty}${jwk.crv ? ` ${jwk.crv}` : ''} key cannot sign tokens`, {
    hint: 'use an EC (P-256, P-384, P-521), RSA or Ed25519 key',
  });
}

/** RFC 7638: base64url SHA-256 of the key's required members. */
export function jwkThumbprint(jwk: Jwk): Promise<string> {
  return calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0], 'sha256');
}

export function isPrivateJwk(jwk: Jwk): boolean {
  return typeof jwk.d === 'string';
}

/** The public half of a JWK, private members dropped. */
export function publicJwkOf(jwk: Jwk): Jwk {
  const copy: Jwk = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete copy[member];
  return ordered(copy);
}

/** A key object as a provisioner JWK: `use: sig`, its algorithm, and `kid` = its thumbprint unless it has one. */
async function toProvisionerJwk(key: KeyObject, from: Partial<Jwk> = {}): Promise<Jwk> {
  const raw = key.export({ format: 'jwk' }) as NodeJwk as Jwk;
  const jwk: Jwk = { ...raw, use: from.use ?? 'sig' };
  jwk.alg = signatureAlgorithm({ ...jwk, alg: from.alg });
  jwk.kid = typeof from.kid === 'string' && from.kid !== '' ? from.kid : await jwkThumbprint(jwk);
  return ordered(jwk);
}

/** A new provisioner key: EC P-256, ES256, kid = thumbprint, as `step ca init` makes it. */
export async function generateProvisionerKey(): Promise<{ publicJwk: Jwk; privateJwk: Jwk }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateJwk = await toProvisionerJwk(privateKey);
  return { publicJwk: publicJwkOf(privateJwk), privateJwk };
}

/** The private JWK encrypted with `password`: a compact JWE in step's form. */
export async function encryptJwk(privateJwk: Jwk, password: string): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(ordered(privateJwk))))
    .setProtectedHeader({ alg: KEY_WRAP, enc: CONTENT_ENCRYPTION, cty: 'jwk+json' })
    .setKeyManagementParameters({ p2c: PBES2_COUNT })
    .encrypt(new TextEncoder().encode(password));
}

function wrongPassword(where: string, err?: unknown): CaError {
  return new CaError('ERR_PASSWORD', `cannot decrypt ${where}: wrong password`, {
    cause: err,
    hint: 'check the password (the file given with --password-file or --provisioner-password-file)',
  });
}

function parsePrivateJwkJson(text: string, where: string): Jwk {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch (err) {
    throw new CaError('ERR_KEY_INVALID', `${where} does not hold a JWK: ${describe(err)}`, { cause: err });
  }
  if (!jwk || typeof jwk !== 'object' || typeof (jwk as Jwk).kty !== 'string' || !isPrivateJwk(jwk as Jwk)) {
    throw new CaError('ERR_KEY_INVALID', `${where} does not hold a private JWK`);
  }
  return jwk as Jwk;
}

/**
 * Decrypt a provisioner key: a compact JWE (ca.json `encryptedKey`) or its flattened JSON form.
 * A wrong password is an ERR_PASSWORD naming `where`.
 */
export async function decryptJwk(jwe: string, password: string, where: string): Promise<Jwk> {
  const key = new TextEncoder().encode(password);
  const options = { keyManagementAlgorithms: PBES2_ALGORITHMS, maxPBES2Count: MAX_PBES2_COUNT };
  let plaintext: Uint8Array;
  try {
    const text = jwe.trim();
    plaintext = text.startsWith('{')
      ? (await flattenedDecrypt(JSON.parse(text) as FlattenedJWE, key, options)).plaintext
      : (await compactDecrypt(text, key, options)).plaintext;
  } catch (err) {
    if (err instanceof joseErrors.JWEDecryptionFailed) throw wrongPassword(where, err);
    throw new CaError('ERR_KEY_INVALID', `${where} is not an encrypted key this tool can read: ${describe(err)}`, { cause: err });
  }
  return parsePrivateJwkJson(new TextDecoder().decode(plaintext), where);
}

/** What a key file holds, by its look. */
type KeyFileKind = 'jwe' | 'jwk' | 'pem';

function kindOf(text: string): KeyFileKind | undefined {
  const t = text.trim();
  if (t.includes('-----BEGIN ')) return 'pem';
  if (t.startsWith('{')) return /"ciphertext"\s*:/.test(t) ? 'jwe' : 'jwk';
  if (/^[\w-]+\.[\w-]*\.[\w-]+\.[\w-]+\.[\w-]+$/.test(t)) return 'jwe';
  return undefined;
}

function unreadable(file: string, what: string, err?: unknown): CaError {
  return new CaError('ERR_KEY_INVALID', `${file} is not ${what} this tool can read${err ? ` (${describe(err)})` : ''}`, {
    cause: err,
    hint: 'pass a JWK (JSON), a PEM key, or a JWE as step writes them',
  });
}

function parseKeyJson(text: string, file: string): Jwk {
  try {
    return JSON.parse(text) as Jwk;
  } catch (err) {
    throw unreadable(file, 'a JWK', err);
  }
}

function keyFromJwk(jwk: unknown, file: string, which: 'public' | 'private'): KeyObject {
  if (!jwk || typeof jwk !== 'object' || typeof (jwk as Jwk).kty !== 'string') throw unreadable(file, `a ${which} key`);
  if ((jwk as Jwk).kty === 'oct') {
    throw new CaError('ERR_KEY_INVALID', `invalid JWK in ${file}: a symmetric key cannot be used as a provisioner`);
  }
  try {
    return which === 'private' ? createPrivateKey({ key: jwk as NodeJwk, format: 'jwk' }) : createPublicKey({ key: jwk as NodeJwk, format: 'jwk' });
  } catch (err) {
    throw unreadable(file, `a ${which} key`, err);
  }
}

/**
 * A public key file for `ca provisioner add --public-key`: a JWK (public or private: its public
 * half is taken) or a PEM public key, certificate or private key. Returns the provisioner's `key`.
 */
export async function readPublicKeyFile(text: string, file: string): Promise<Jwk> {
  const kind = kindOf(text);
  if (kind === 'jwk') {
    const jwk = parseKeyJson(text, file);
    const key = isPrivateJwk(jwk) ? createPublicKey(keyFromJwk(jwk, file, 'private')) : keyFromJwk(jwk, file, 'public');
    return toProvisionerJwk(key, jwk);
  }
  if (kind === 'pem') {
    let key: KeyObject;
    try {
      key = createPublicKey(text);
    } catch (err) {
      throw unreadable(file, 'a public key', err);
    }
    return toProvisionerJwk(key);
  }
  if (kind === 'jwe') {
    throw new CaError('ERR_KEY_INVALID', `${file} holds an encrypted key: pass it with --private-key, and the public key (if you have one) with --public-key`);
  }
  throw unreadable(file, 'a public key');
}

/**
 * A private key file for `ca provisioner add --private-key`: a JWK, a PEM key (maybe encrypted,
 * opened with `password`), or a JWE (decrypted with `password`). Returns the private JWK with
 * `use`, `alg` and `kid` filled in.
 */
export async function readPrivateKeyFile(text: string, file: string, password: () => Promise<string>): Promise<Jwk> {
  const kind = kindOf(text);
  if (kind === 'jwe') {
    const jwk = await decryptJwk(text, await password(), file);
    return toProvisionerJwk(keyFromJwk(jwk, file, 'private'), jwk);
  }
  if (kind === 'jwk') {
    const jwk = parseKeyJson(text, file);
    if (!isPrivateJwk(jwk)) throw new CaError('ERR_KEY_INVALID', `invalid jwk: ${file} holds a public key, not a private key`, { hint: 'pass it with --public-key' });
    return toProvisionerJwk(keyFromJwk(jwk, file, 'private'), jwk);
  }
  if (kind === 'pem') {
    if (/-----BEGIN (PUBLIC KEY|CERTIFICATE)-----/.test(text) && !/PRIVATE KEY-----/.test(text)) {
      throw new CaError('ERR_KEY_INVALID', `${file} holds a public key or certificate, not a private key`, { hint: 'pass it with --public-key' });
    }
    const encrypted = /ENCRYPTED/.test(text);
    let key: KeyObject;
    try {
      key = createPrivateKey(encrypted ? { key: text, format: 'pem', passphrase: await password() } : { key: text, format: 'pem' });
    } catch (err) {
      if (encrypted && /decrypt|passphrase|bad/i.test(describe(err))) throw wrongPassword(file, err);
      throw unreadable(file, 'a private key', err);
    }
    return toProvisionerJwk(key);
  }
  throw unreadable(file, 'a private key');
}

/** A private JWK as a key object to sign with. */
export function privateKeyOf(jwk: Jwk, where: string): KeyObject {
  return keyFromJwk(jwk, where, 'private');
}
