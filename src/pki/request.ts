import { UsageError } from '../errors.js';
import { generateKeyPairSync, sign, type KeyPairKeyObjectResult } from 'node:crypto';
import { commonNameDer, encodeExtension, encodeOid, subjectAltNameValue } from './certificate.js';
import type { SubjectAltName } from './csr.js';
import { TAG, encodeInteger, encodeSequence, encodeTlv } from './der.js';
import { toPem } from './pem.js';
import { plainPrivateKeyPem, type Curve, type KeySpec, type KeyType } from './keys.js';
import { sanByLook } from './names.js';

/** The identity in an OIDC ID token that a certificate request is built from. */
export interface TokenIdentity {
  sub: string;
  iss: string;
  email?: string;
}

export interface RequestNames {
  commonName: string;
  sans: { type: 'dns' | 'ip' | 'email' | 'url'; value: string }[];
}

/** A name's SAN type by its look, as step's split does (IP, URI, email, else DNS), in @peculiar/x509's vocabulary. */
export function classifyName(value: string): RequestNames['sans'][number] {
  const san = sanByLook(value);
  return { type: san.type === 'uri' ? 'url' : san.type, value: san.value };
}

/**
 * The names step puts in an OIDC certificate request: for your own email, CN = sub and SANs =
 * email + `iss#sub`; otherwise CN = the subject and SANs = --san values (or the subject).
 * Unlike step, a SUBJECT equal to the token's `sub` is treated as "myself" too: CI tokens
 * (GitHub Actions, GitLab) carry no email, and `sub` itself is no usable SAN.
 */
export function oidcRequestNames(subject: string, sans: string[], id: TokenIdentity): RequestNames {
  const isEmail = id.email !== undefined && subject.toLowerCase() === id.email.toLowerCase();
  if (sans.length === 0 && (isEmail || subject === id.sub)) {
    const names: RequestNames['sans'] = id.email ? [{ type: 'email', value: id.email }] : [];
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(id.iss)) names.push({ type: 'url', value: `${id.iss}#${id.sub}` });
    return { commonName: id.sub, sans: names };
  }
  return { commonName: subject, sans: (sans.length ? sans : [subject]).map(classifyName) };
}

/** The key flags as step takes them: --kty EC|RSA|OKP, --curve, --size; EC P-256 by default. */
export function keySpecFromFlags(kty = 'EC', curve?: string, size?: number): KeySpec {
  const type = kty.toUpperCase() as KeyType;
  if (type === 'EC') {
    const c = (curve ?? 'P-256').toUpperCase();
    if (!['P-256', 'P-384', 'P-521'].includes(c)) {
      throw new UsageError(`invalid value '${curve}' for flag '--curve': EC keys take P-256, P-384 or P-521`);
    }
    return { kty: 'EC', curve: c as Curve };
  }
  if (type === 'OKP') {
    if (curve && curve !== 'Ed25519') throw new UsageError(`invalid value '${curve}' for flag '--curve': OKP keys take Ed25519`);
    return { kty: 'OKP', curve: 'Ed25519' };
  }
  if (type === 'RSA') {
    const bits = size ?? 2048;
    if (!Number.isInteger(bits) || bits < 2048 || bits > 8192) {
      throw new UsageError(`invalid value '${size}' for flag '--size': RSA keys must be 2048 to 8192 bits`);
    }
    return { kty: 'RSA', size: bits };
  }
  throw new UsageError(`invalid value '${kty}' for flag '--kty'; options are EC, RSA, OKP`);
}

/** A fresh key pair of the spec, made by node:crypto. */
function newKeyPair(spec: KeySpec): KeyPairKeyObjectResult {
  if (spec.kty === 'EC') return generateKeyPairSync('ec', { namedCurve: spec.curve ?? 'P-256' });
  if (spec.kty === 'RSA') return generateKeyPairSync('rsa', { modulusLength: spec.size ?? 2048 });
  return generateKeyPairSync('ed25519');
}

const EXTENSION_REQUEST = encodeOid('1.2.840.113549.1.9.14');
const SUBJECT_ALT_NAME = '2.5.29.17';

/** How the request is signed, as Go signs with each key: the curve's hash for ECDSA, SHA-256 with RSA. */
function requestSignature(spec: KeySpec): { digest: string | null; algorithm: Uint8Array } {
  if (spec.kty === 'EC') {
    const [digest, oid] = spec.curve === 'P-384' ? ['sha384', '1.2.840.10045.4.3.3'] : spec.curve === 'P-521' ? ['sha512', '1.2.840.10045.4.3.4'] : ['sha256', '1.2.840.10045.4.3.2'];
    return { digest: digest as string, algorithm: encodeSequence([encodeOid(oid as string)]) };
  }
  if (spec.kty === 'RSA') return { digest: 'sha256', algorithm: encodeSequence([encodeOid('1.2.840.113549.1.1.11'), Uint8Array.of(TAG.NULL, 0)]) };
  return { digest: null, algorithm: encodeSequence([encodeOid('1.3.101.112')]) };
}

/**
 * A fresh key pair and a CSR signed with it (PKCS #10, encoded by hand like our certificates,
 * so the CLI does not load an X.509 library to make one). The key never leaves this machine.
 *
 *   CertificationRequestInfo ::= SEQUENCE { version 0, subject, subjectPKInfo, attributes [0] }
 */
export async function createKeyAndRequest(spec: KeySpec, names: RequestNames): Promise<{ csrPem: string; keyPem: string }> {
  const { publicKey, privateKey } = newKeyPair(spec);
  const sans: SubjectAltName[] = names.sans.map((n) => ({ type: n.type === 'url' ? 'uri' : n.type, value: n.value }));
  const attributes = sans.length
    ? [encodeSequence([EXTENSION_REQUEST, encodeTlv(TAG.SET, encodeSequence([encodeExtension(SUBJECT_ALT_NAME, false, subjectAltNameValue(sans))]))])]
    : [];
  const info = encodeSequence([
    encodeInteger(0),
    commonNameDer(names.commonName),
    new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    encodeTlv(0xa0, attributes.length ? attributes[0] as Uint8Array : new Uint8Array(0)),
  ]);
  const { digest, algorithm } = requestSignature(spec);
  const signature = sign(digest, info, privateKey);
  const csr = encodeSequence([info, algorithm, encodeTlv(TAG.BIT_STRING, Buffer.concat([Uint8Array.of(0), signature]))]);
  return { csrPem: toPem('CERTIFICATE REQUEST', csr), keyPem: plainPrivateKeyPem(new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }))) };
}
