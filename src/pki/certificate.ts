/**
 * Leaf certificates, encoded by hand. The CA signs one per request, and everything that is the
 * same for every leaf (the issuer's name, key identifier, signature algorithm, the key usages,
 * a provisioner's extension) is encoded once when the CA is prepared; a request only adds its
 * serial, validity, subject, key and names, then signs. @peculiar/x509's generator does the same
 * job some fifty times more slowly.
 *
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
 *   TBSCertificate ::= SEQUENCE { [0] version v3, serialNumber, signature, issuer, validity,
 *                                 subject, subjectPublicKeyInfo, [3] extensions }
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { CaError } from '../errors.js';
import type { SanType, SubjectAltName } from './csr.js';
import { TAG, encodeDefaultString, encodeInteger, encodeOctetString, encodeSequence, encodeTlv } from './der.js';
import { PROVISIONER_EXTENSION_OID, encodeProvisionerExtension, type ProvisionerExtension } from './extension.js';
import { findExtension } from './inspect/extensions.js';
import { parseCertificate, type CertificateModel } from './inspect/model.js';
import { randomSerialHex } from './keys.js';
import { toPem } from './pem.js';

const oidCache = new Map<string, Uint8Array>();

/** A DER OBJECT IDENTIFIER from its dotted form (memoized: the same few OIDs go into every leaf). */
export function encodeOid(dotted: string): Uint8Array {
  let der = oidCache.get(dotted);
  if (!der) {
    der = encodeOidUncached(dotted);
    oidCache.set(dotted, der);
  }
  return der;
}

function encodeOidUncached(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [first = 0n, second = 0n, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) group.unshift(Number(n & 0x7fn) | 0x80);
    bytes.push(...group);
  }
  return encodeTlv(TAG.OID, Uint8Array.from(bytes));
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
export function encodeExtension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  const parts = [encodeOid(oid)];
  if (critical) parts.push(encodeTlv(TAG.BOOLEAN, Uint8Array.of(0xff)));
  parts.push(encodeOctetString(value));
  return encodeSequence(parts);
}

/** The step provisioner extension (non-critical), ready to put in a certificate. */
export function provisionerExtensionDer(ext: ProvisionerExtension): Uint8Array {
  return encodeExtension(PROVISIONER_EXTENSION_OID, false, encodeProvisionerExtension(ext));
}

const CN = encodeOid('2.5.4.3');

/** A Name holding only a common name, as Go writes `pkix.Name{CommonName: cn}`. */
export function commonNameDer(cn: string): Uint8Array {
  return encodeSequence([encodeTlv(TAG.SET, encodeSequence([CN, encodeDefaultString(cn)]))]);
}

const SAN_TAGS: Record<SanType, number> = { email: 0x81, dns: 0x82, uri: 0x86, ip: 0x87 };
const ascii = new TextEncoder();

/** IPv4 or IPv6 text as the 4 or 16 bytes a certificate holds. */
export function ipAddressBytes(text: string): Uint8Array {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  if (!isIPv6(text)) throw new TypeError(`not an IP address: ${text}`);
  let groups = text;
  // An embedded IPv4 tail ("::ffff:10.0.0.1") becomes its two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(groups);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number);
    groups = groups.slice(0, v4.index) + `${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head = '', tail] = groups.split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - headParts.length - tailParts.length).fill('0');
  const out = new Uint8Array(16);
  [...headParts, ...zeros, ...tailParts].forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

/** GeneralNames in the order given; Go orders them DNS, email, IP, URI, and callers list them so. */
export function subjectAltNameValue(names: readonly SubjectAltName[]): Uint8Array {
  return encodeSequence(names.map((n) => encodeTlv(SAN_TAGS[n.type], n.type === 'ip' ? ipAddressBytes(n.value) : ascii.encode(n.value))));
}

/** Go's order of SANs in a certificate: DNS, email, IP, URI. */
export function goSanOrder(names: readonly SubjectAltName[]): SubjectAltName[] {
  const rank: Record<SanType, number> = { dns: 0, email: 1, ip: 2, uri: 3 };
  return [...names].sort((a, b) => rank[a.type] - rank[b.type]);
}

const VERSION_3 = encodeTlv(0xa0, encodeInteger(2));
const KEY_USAGE = '2.5.29.15';
// BIT STRING with digitalSignature (bit 0), or digitalSignature and keyEncipherment (bit 2).
const KEY_USAGE_SIGN = encodeExtension(KEY_USAGE, true, Uint8Array.of(TAG.BIT_STRING, 2, 7, 0x80));
const KEY_USAGE_SIGN_ENCIPHER = encodeExtension(KEY_USAGE, true, Uint8Array.of(TAG.BIT_STRING, 2, 5, 0xa0));
const EXT_KEY_USAGE_TLS = encodeExtension(
  '2.5.29.37',
  false,
  encodeSequence([encodeOid('1.3.6.1.5.5.7.3.1'), encodeOid('1.3.6.1.5.5.7.3.2')]),
);
const SUBJECT_KEY_ID = '2.5.29.14';
const AUTHORITY_KEY_ID = '2.5.29.35';
const SUBJECT_ALT_NAME = '2.5.29.17';

/** The CA that signs leaves, with everything the signing needs prepared once. */
export interface SigningCa {
  certificate: CertificateModel;
  certificatePem: string;
  key: KeyObject;
  /** The digest node:crypto signs with; null for Ed25519. */
  digest: 'sha256' | 'sha384' | 'sha512' | null;
  /** AlgorithmIdentifier DER, written twice into each certificate. */
  signatureAlgorithm: Uint8Array;
  /** The AuthorityKeyIdentifier extension every leaf carries: the CA's subject key identifier. */
  authorityKeyIdExtension: Uint8Array;
}

function algorithmId(oid: string, nullParams: boolean): Uint8Array {
  return encodeSequence(nullParams ? [encodeOid(oid), Uint8Array.of(TAG.NULL, 0)] : [encodeOid(oid)]);
}

/** How a CA key signs: ECDSA with the curve's hash as Go picks it, SHA-256 with RSA, or Ed25519. */
function signingScheme(key: KeyObject): Pick<SigningCa, 'digest' | 'signatureAlgorithm'> {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return { digest: 'sha256', signatureAlgorithm: algorithmId('1.2.840.10045.4.3.2', false) };
      if (curve === 'secp384r1') return { digest: 'sha384', signatureAlgorithm: algorithmId('1.2.840.10045.4.3.3', false) };
      if (curve === 'secp521r1') return { digest: 'sha512', signatureAlgorithm: algorithmId('1.2.840.10045.4.3.4', false) };
      throw new CaError('ERR_KEY_INVALID', `the CA key is on curve ${curve ?? 'unknown'}; use P-256, P-384 or P-521`);
    }
    case 'rsa':
      return { digest: 'sha256', signatureAlgorithm: algorithmId('1.2.840.113549.1.1.11', true) };
    case 'ed25519':
      return { digest: null, signatureAlgorithm: algorithmId('1.3.101.112', false) };
    default:
      throw new CaError('ERR_KEY_INVALID', `the CA key is of type ${key.asymmetricKeyType ?? 'unknown'}; use EC, RSA or Ed25519`);
  }
}

/** SHA-1 of the subjectPublicKey bits: RFC 5280's method 1, which Go uses. */
export function subjectKeyId(publicKeyBits: Uint8Array): Uint8Array {
  return createHash('sha1').update(publicKeyBits).digest();
}

/**
 * Prepare a CA certificate and its private key for signing. Throws when the key is not the
 * certificate's (the commonest mistake after a key rotation) or of a kind we cannot sign with.
 */
export function prepareSigningCa(certDer: Uint8Array, key: KeyObject, where: { cert: string; key: string }): SigningCa {
  const certificate = parseCertificate(certDer);
  const publicDer = new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
  if (!Buffer.from(publicDer).equals(Buffer.from(certificate.publicKey.der))) {
    throw new CaError('ERR_KEY_INVALID', `the key ${where.key} does not belong to the certificate ${where.cert}`, {
      hint: 'check the "crt" and "key" paths in ca.json',
    });
  }
  const keyId = findExtension(certificate.extensions, 'subjectKeyId')?.keyId ?? subjectKeyId(certificate.publicKey.raw);
  return {
    certificate,
    certificatePem: toPem('CERTIFICATE', certDer),
    key,
    ...signingScheme(key),
    authorityKeyIdExtension: encodeExtension(AUTHORITY_KEY_ID, false, encodeSequence([encodeTlv(0x80, keyId)])),
  };
}

/** What varies from one leaf to the next. */
export interface LeafSpec {
  /** The subject Name, DER-encoded (see commonNameDer), possibly an empty SEQUENCE. */
  subject: Uint8Array;
  /** Already in the order they should appear. */
  sans: readonly SubjectAltName[];
  /** The SubjectPublicKeyInfo DER and its key bits (hashed into the subject key identifier). */
  spki: Uint8Array;
  publicKeyBits: Uint8Array;
  /** RSA keys get keyEncipherment too, as Go's templates give them. */
  keyKind: 'ec' | 'rsa' | 'ed25519';
  notBefore: Date;
  notAfter: Date;
  /** Pre-encoded extensions appended after the standard ones (the provisioner extension). */
  extraExtensions: readonly Uint8Array[];
}

export interface IssuedLeaf {
  der: Uint8Array;
  pem: string;
  /** Decimal, as step prints and stores serials. */
  serial: string;
}

const EMPTY_NAME_LENGTH = 2;

/** Build, sign and encode a TLS leaf (serverAuth and clientAuth, no basic constraints). */
export async function issueLeaf(ca: SigningCa, spec: LeafSpec): Promise<IssuedLeaf> {
  const serialHex = randomSerialHex();
  const extensions = [
    spec.keyKind === 'rsa' ? KEY_USAGE_SIGN_ENCIPHER : KEY_USAGE_SIGN,
    EXT_KEY_USAGE_TLS,
    encodeExtension(SUBJECT_KEY_ID, false, encodeOctetString(subjectKeyId(spec.publicKeyBits))),
    ca.authorityKeyIdExtension,
  ];
  // RFC 5280 4.2.1.6: with an empty subject the names are the identity, and the extension is critical.
  if (spec.sans.length > 0) extensions.push(encodeExtension(SUBJECT_ALT_NAME, spec.subject.length <= EMPTY_NAME_LENGTH, subjectAltNameValue(spec.sans)));
  extensions.push(...spec.extraExtensions);
  const tbs = encodeSequence([
    VERSION_3,
    encodeTlv(TAG.INTEGER, Buffer.from(serialHex, 'hex')),
    ca.signatureAlgorithm,
    ca.certificate.subject.der,
    encodeSequence([encodeTime(spec.notBefore), encodeTime(spec.notAfter)]),
    spec.subject,
    spec.spki,
    encodeTlv(0xa3, encodeSequence(extensions)),
  ]);
  const der = signedByCa(ca, tbs);
  return { der, pem: toPem('CERTIFICATE', der), serial: BigInt(`0x${serialHex}`).toString(10) };
}

/**
 * A leaf made again from one this CA issued: the same subject, names and extensions, a new serial
 * and validity, as step-ca renews. The authority key identifier is always this CA's (the
 * intermediate may have been rotated); with a new key (rekey) the subject key identifier is
 * computed for it.
 */
export function reissueLeaf(
  ca: SigningCa,
  old: CertificateModel,
  spec: { notBefore: Date; notAfter: Date; newKey?: { spki: Uint8Array; publicKeyBits: Uint8Array } },
): IssuedLeaf {
  const serialHex = randomSerialHex();
  const extensions = old.extensions.map((ext) => {
    if (ext.oid === AUTHORITY_KEY_ID) return ca.authorityKeyIdExtension;
    if (ext.oid === SUBJECT_KEY_ID && spec.newKey) return encodeExtension(SUBJECT_KEY_ID, false, encodeOctetString(subjectKeyId(spec.newKey.publicKeyBits)));
    return encodeExtension(ext.oid, ext.critical, ext.value);
  });
  const tbs = encodeSequence([
    VERSION_3,
    encodeTlv(TAG.INTEGER, Buffer.from(serialHex, 'hex')),
    ca.signatureAlgorithm,
    ca.certificate.subject.der,
    encodeSequence([encodeTime(spec.notBefore), encodeTime(spec.notAfter)]),
    old.subject.der,
    spec.newKey?.spki ?? old.publicKey.der,
    encodeTlv(0xa3, encodeSequence(extensions)),
  ]);
  const der = signedByCa(ca, tbs);
  return { der, pem: toPem('CERTIFICATE', der), serial: BigInt(`0x${serialHex}`).toString(10) };
}

/**
 * `SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }`: how certificates and CRLs alike
 * carry the CA's signature over their to-be-signed part.
 */
export function signedByCa(ca: SigningCa, tbs: Uint8Array): Uint8Array {
  // Synchronous on purpose: one ECDSA signature is ~60 µs, and `ca serve` runs a worker per core,
  // so the thread-pool hop of the callback form would only add CPU (~40%) and latency.
  const signature = sign(ca.digest, tbs, ca.key);
  return encodeSequence([tbs, ca.signatureAlgorithm, encodeTlv(TAG.BIT_STRING, Buffer.concat([Uint8Array.of(0), signature]))]);
}

/** UTCTime through 2049, GeneralizedTime after, whole seconds (RFC 5280 4.1.2.5). */
export function encodeTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // 2026-01-02T03:04:05.678Z
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? encodeTlv(TAG.UTC_TIME, ascii.encode(digits.slice(2))) : encodeTlv(TAG.GENERALIZED_TIME, ascii.encode(digits));
}
