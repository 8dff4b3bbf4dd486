/**
 * Signature checks inspect needs to describe a certificate, not to trust it: whether a CA
 * certificate signed itself (step's "Root CA" vs "Intermediate CA") and zcrypto's self_signed.
 */
import { constants, createPublicKey, verify } from 'node:crypto';
import type { AlgorithmIdentifier } from './model.js';

/** Whether `signature` over `data` verifies with the key in `spki`; false for anything unsupported. */
export function verifiesWith(data: Uint8Array, algorithm: AlgorithmIdentifier, signature: Uint8Array, spki: Uint8Array): boolean {
  const isEd25519 = algorithm.name === 'Ed25519';
  if (!algorithm.hash && !isEd25519) return false;
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    const options = algorithm.pss
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }
      : key;
    return verify(isEd25519 ? null : algorithm.hash, data, options, signature);
  } catch {
    // Node cannot load the key or does not know the algorithm: not verifiable, hence not self-signed.
    return false;
  }
}
