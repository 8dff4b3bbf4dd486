/** SubjectPublicKeyInfo (RFC 5280 4.1.2.7) for the key types we issue: RSA, ECDSA P-256/384/521, Ed25519. */
import { DerError, TAG, children, decodeBitString, decodeInteger, decodeOid, expect, readSingle, sequence, unsignedBytes } from '../der.js';
import type { Tlv } from '../der.js';
import { CURVES, OID, publicKeyAlgorithmName } from './oids.js';

export type PublicKey =
  | { kind: 'rsa'; modulus: Uint8Array; exponent: bigint; bits: number }
  /** x and y without leading zero bytes, as Go's big.Int.Bytes() gives them. */
  | { kind: 'ecdsa'; curve: string; bits: number; x: Uint8Array; y: Uint8Array }
  | { kind: 'ed25519'; key: Uint8Array }
  /** Anything else: shown by algorithm OID and raw bytes. */
  | { kind: 'unknown' };

export interface SubjectPublicKeyInfo {
  der: Uint8Array;
  algorithmOid: string;
  /** "RSA", "ECDSA", "Ed25519", or the dotted OID. */
  algorithmName: string;
  /** The subjectPublicKey BIT STRING's bytes. */
  raw: Uint8Array;
  key: PublicKey;
}

export function parseSubjectPublicKeyInfo(tlv: Tlv | undefined): SubjectPublicKeyInfo {
  const spki = expect(tlv, TAG.SEQUENCE, 'subject public key info');
  const [algorithm, bits] = children(spki);
  const [oidTlv, params] = sequence(algorithm, 'public key algorithm');
  const algorithmOid = decodeOid(expect(oidTlv, TAG.OID, 'public key algorithm'));
  const raw = decodeBitString(expect(bits, TAG.BIT_STRING, 'subject public key')).bytes;
  return { der: spki.der, algorithmOid, algorithmName: publicKeyAlgorithmName(algorithmOid), raw, key: parseKey(algorithmOid, params, raw) };
}

function parseKey(algorithmOid: string, params: Tlv | undefined, raw: Uint8Array): PublicKey {
  switch (algorithmOid) {
    case OID.rsaEncryption:
      return parseRsaKey(raw);
    case OID.ecPublicKey:
      return parseEcKey(params, raw);
    case OID.ed25519:
      return raw.length === 32 ? { kind: 'ed25519', key: raw } : { kind: 'unknown' };
    default:
      return { kind: 'unknown' };
  }
}

function parseRsaKey(raw: Uint8Array): PublicKey {
  const [n, e] = sequence(readSingle(raw), 'RSA public key');
  const modulus = unsignedBytes(expect(n, TAG.INTEGER, 'RSA modulus'));
  const exponent = decodeInteger(expect(e, TAG.INTEGER, 'RSA exponent'));
  if (modulus[0] === 0) throw new DerError('RSA modulus is zero');
  return { kind: 'rsa', modulus, exponent, bits: bitLength(modulus) };
}

// Only the uncompressed point form (0x04 || X || Y) is allowed in certificates Go accepts.
function parseEcKey(params: Tlv | undefined, raw: Uint8Array): PublicKey {
  const curve = params?.tag === TAG.OID ? CURVES[decodeOid(params)] : undefined;
  const size = curve ? Math.ceil(curve.bits / 8) : 0;
  if (!curve || raw[0] !== 0x04 || raw.length !== 1 + 2 * size) return { kind: 'unknown' };
  return {
    kind: 'ecdsa',
    curve: curve.name,
    bits: curve.bits,
    x: stripLeadingZeros(raw.subarray(1, 1 + size)),
    y: stripLeadingZeros(raw.subarray(1 + size)),
  };
}

function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

/** Bits in a big-endian magnitude without leading zero bytes. */
function bitLength(bytes: Uint8Array): number {
  return (bytes.length - 1) * 8 + (bytes[0] ?? 0).toString(2).length;
}

/**
 * The key's size as certinfo's short form writes it after the algorithm: the curve name, the RSA
 * modulus size in whole bytes times eight (Go's rsa.PublicKey.Size()), or the Ed25519 key's bits.
 */
export function keySizeLabel(key: PublicKey): string {
  switch (key.kind) {
    case 'rsa':
      return String(Math.ceil(key.bits / 8) * 8);
    case 'ecdsa':
      return key.curve;
    case 'ed25519':
      return String(key.key.length * 8);
    default:
      return 'unknown';
  }
}
