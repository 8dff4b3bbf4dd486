/**
 * Certificate fingerprints as `step certificate fingerprint` prints them: a digest of the DER
 * encoding, SHA-256 in lowercase hex unless asked otherwise. The hex SHA-256 form is what
 * `step ca bootstrap --fingerprint` (and ours) expects for the root certificate.
 */
import { createHash } from 'node:crypto';

export type FingerprintAlgorithm = 'sha256' | 'sha1' | 'md5';

/** step's `--format` values, minus `emoji`. */
export type FingerprintEncoding = 'hex' | 'base64' | 'base64-url' | 'base64-raw' | 'base64-url-raw';

export interface FingerprintOptions {
  /** Default sha256; step offers sha1 with `--sha1`, zcrypto's JSON also carries md5. */
  algorithm?: FingerprintAlgorithm;
  /** Default hex. */
  encoding?: FingerprintEncoding;
}

/** The fingerprint of `der`: by default the lowercase hex SHA-256 step prints. */
export function fingerprint(der: Uint8Array, options: FingerprintOptions = {}): string {
  const digest = createHash(options.algorithm ?? 'sha256').update(der).digest();
  return encodeDigest(digest, options.encoding ?? 'hex');
}

function encodeDigest(digest: Buffer, encoding: FingerprintEncoding): string {
  switch (encoding) {
    case 'hex':
      return digest.toString('hex');
    case 'base64':
      return digest.toString('base64');
    case 'base64-url':
      // Go's base64.URLEncoding keeps the padding; Node's base64url drops it.
      return digest.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    case 'base64-raw':
      return digest.toString('base64').replace(/=+$/, '');
    case 'base64-url-raw':
      return digest.toString('base64url');
    default:
      throw new TypeError(`unknown fingerprint encoding: ${String(encoding)}`);
  }
}
