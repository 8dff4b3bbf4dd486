import { createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { CaError } from '../errors.js';

// Node's WebCrypto, not @peculiar/x509's registration of it: nothing here should load an X.509 library.
const subtle = webcrypto.subtle;

export type KeyType = 'EC' | 'RSA' | 'OKP';
export type Curve = 'P-256' | 'P-384' | 'P-521' | 'Ed25519';

export interface KeySpec {
  kty: KeyType;
  curve?: Curve;
  /** RSA modulus length in bits. */
  size?: number;
}

/** The WebCrypto algorithm for a key spec, for key generation and for signing with it. */
export function webCryptoAlgorithm(spec: KeySpec): EcKeyGenParams | RsaHashedKeyGenParams | Algorithm {
  switch (spec.kty) {
    case 'EC':
      return { name: 'ECDSA', namedCurve: spec.curve ?? 'P-256' };
    case 'RSA':
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: spec.size ?? 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
    case 'OKP':
      return { name: 'Ed25519' };
  }
}

/** The signature algorithm @peculiar/x509 should use with a key: SHA-256/384/512 by curve, as Go does. */
export function signingAlgorithm(key: CryptoKey): Algorithm | EcdsaParams {
  const alg = key.algorithm as Partial<EcKeyAlgorithm> & Algorithm;
  if (alg.name === 'ECDSA') {
    const hash = alg.namedCurve === 'P-384' ? 'SHA-384' : alg.namedCurve === 'P-521' ? 'SHA-512' : 'SHA-256';
    return { name: 'ECDSA', hash } as EcdsaParams;
  }
  return { name: alg.name };
}

export async function generateKeyPair(spec: KeySpec = { kty: 'EC', curve: 'P-256' }): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(webCryptoAlgorithm(spec) as EcKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function exportPkcs8(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await subtle.exportKey('pkcs8', key));
}

/** A PKCS#8 private key encrypted with a password (PBES2, AES-256-CBC), as a PEM string. */
export function encryptPrivateKey(pkcs8Der: Uint8Array, password: string): string {
  const key = createPrivateKey({ key: Buffer.from(pkcs8Der), format: 'der', type: 'pkcs8' });
  return key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: password }) as string;
}

/** An unencrypted private key PEM in the form step writes (`EC PRIVATE KEY` for EC keys, PKCS#8 otherwise). */
export function plainPrivateKeyPem(pkcs8Der: Uint8Array): string {
  const key = createPrivateKey({ key: Buffer.from(pkcs8Der), format: 'der', type: 'pkcs8' });
  if (key.asymmetricKeyType === 'ec') return key.export({ format: 'pem', type: 'sec1' }) as string;
  if (key.asymmetricKeyType === 'rsa') return key.export({ format: 'pem', type: 'pkcs1' }) as string;
  return key.export({ format: 'pem', type: 'pkcs8' }) as string;
}

/**
 * Open a private key PEM: encrypted PKCS#8, the legacy OpenSSL-encrypted PEM that `step ca init`
 * writes, or a plain key. `where` names the file in messages.
 */
export function openPrivateKey(pem: string, password: string | undefined, where: string): KeyObject {
  const encrypted = pem.includes('ENCRYPTED') || pem.includes('Proc-Type: 4,ENCRYPTED');
  if (encrypted && !password) {
    throw new CaError('ERR_PASSWORD', `${where} is encrypted and no password was given`, {
      exitCode: 1,
      hint: 'pass --password-file FILE',
    });
  }
  try {
    return createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: password } : { key: pem, format: 'pem' });
  } catch (err) {
    const reason = (err as { code?: string; message?: string }).message ?? '';
    if (encrypted && /bad decrypt|decrypt|passphrase|wrong/i.test(reason)) {
      throw new CaError('ERR_PASSWORD', `cannot decrypt ${where}: wrong password`, { hint: 'check the --password-file contents' });
    }
    throw new CaError('ERR_KEY_INVALID', `${where} is not a private key this tool can read (${reason})`, { cause: err });
  }
}

/** A Node KeyObject as a WebCrypto key for @peculiar/x509 to sign with. */
export async function toSigningCryptoKey(key: KeyObject): Promise<CryptoKey> {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  let alg: Algorithm | EcKeyImportParams | RsaHashedImportParams;
  if (type === 'ec') {
    const curve = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[details?.namedCurve ?? ''] ?? 'P-256';
    alg = { name: 'ECDSA', namedCurve: curve } as EcKeyImportParams;
  } else if (type === 'rsa') {
    alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as RsaHashedImportParams;
  } else if (type === 'ed25519') {
    alg = { name: 'Ed25519' };
  } else {
    throw new CaError('ERR_KEY_INVALID', `unsupported signing key type ${type ?? 'unknown'}`);
  }
  return subtle.importKey('pkcs8', der, alg, false, ['sign']);
}

export function publicKeyOf(key: KeyObject): KeyObject {
  return createPublicKey(key);
}

/** CSPRNG bytes drawn 4 KiB at a time: one randomBytes call per 256 serials instead of one each. */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** A random positive serial of 128 bits at most, as hex (the top bit clear so it stays positive in DER). */
export function randomSerialHex(): string {
  if (poolOffset + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const bytes = Buffer.from(pool.subarray(poolOffset, poolOffset + 16));
  // Used bytes are wiped so no later reader of the pool sees a serial's randomness twice.
  pool.fill(0, poolOffset, poolOffset + 16);
  poolOffset += 16;
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40; // positive and always 16 bytes long
  return bytes.toString('hex');
}
