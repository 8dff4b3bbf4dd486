/**
 * Certificate signing requests as the CA receives them in POST /sign: read the PEM, refuse keys we
 * do not issue for, check the signature, and hand back the names the request asks for.
 *
 * The DER is read with the same hand-written reader `ca inspect` uses (pki/inspect/model.ts)
 * rather than @peculiar/x509: this runs on every request, and that reader is some thirty times
 * faster. An EC key is loaded from its bare point for the same reason: OpenSSL 3 decodes an EC
 * SubjectPublicKeyInfo about twice as slowly, and WebCrypto's raw import is the cheapest way in.
 */
import { constants, createPublicKey, KeyObject, verify, webcrypto, type VerifyKeyObjectInput, type VerifyPublicKeyInput } from 'node:crypto';
import { CaError, describe } from '../errors.js';
import { TAG, decodeOid, readSingle, sequence } from './der.js';
import { findExtension } from './inspect/extensions.js';
import { parseRequest, type AlgorithmIdentifier } from './inspect/model.js';
import type { SubjectPublicKeyInfo } from './inspect/keys.js';
import { commonName, nameText, type DistinguishedName } from './inspect/names.js';
import { OID } from './inspect/oids.js';
import { parsePem } from './pem.js';

export type SanType = 'dns' | 'ip' | 'email' | 'uri';

/** One subject alternative name; IP addresses in Go's text form ("10.0.0.1", "::1"). */
export interface SubjectAltName {
  type: SanType;
  value: string;
}

export type RequestKey =
  | { kind: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' }
  | { kind: 'rsa'; bits: number }
  | { kind: 'ed25519' };

export interface CertificateRequest {
  der: Uint8Array;
  subject: DistinguishedName;
  /** The subject as `CN=…,O=…`, in encoding order (certinfo's layout). */
  subjectText: string;
  /** Every CN value (a request may carry several); Go uses the last. */
  commonNames: string[];
  commonName: string;
  /** DNS, IP, email and URI names, in the order the request lists them. */
  sans: SubjectAltName[];
  /** The SubjectPublicKeyInfo DER, copied into the certificate as is. */
  spki: Uint8Array;
  /** The subjectPublicKey bits, which the subject key identifier hashes. */
  publicKeyBits: Uint8Array;
  key: RequestKey;
}

export const ALLOWED_KEYS = 'EC P-256, P-384 or P-521, RSA of 2048 bits or more, or Ed25519';
const MIN_RSA_BITS = 2048;
// Verifying a signature costs the square of the modulus size: a cap keeps one request cheap.
const MAX_RSA_BITS = 8192;

/** Signature algorithms we verify, with the key each needs; SHA-1 and MD5 are refused as Go refuses them. */
const ACCEPTED_SIGNATURES: Record<string, RequestKey['kind']> = {
  'ECDSA-SHA256': 'ec',
  'ECDSA-SHA384': 'ec',
  'ECDSA-SHA512': 'ec',
  'SHA256-RSA': 'rsa',
  'SHA384-RSA': 'rsa',
  'SHA512-RSA': 'rsa',
  'SHA256-RSAPSS': 'rsa',
  'SHA384-RSAPSS': 'rsa',
  'SHA512-RSAPSS': 'rsa',
  Ed25519: 'ed25519',
};

/** Names of the curves people try that we do not accept, for the error message. */
const OTHER_CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.1': 'P-192',
  '1.3.132.0.33': 'P-224',
  '1.3.132.0.10': 'secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'brainpoolP384r1',
  '1.3.36.3.3.2.8.1.1.13': 'brainpoolP512r1',
};

const OTHER_KEY_ALGORITHMS: Record<string, string> = {
  [OID.rsassaPss]: 'RSA-PSS',
  '1.2.840.10040.4.1': 'DSA',
  '1.3.101.113': 'Ed448',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
};

export function invalidCsr(detail: string, cause?: unknown): CaError {
  return new CaError('ERR_CSR_INVALID', `invalid csr: ${detail}`, { status: 400, cause });
}

/**
 * Read and check a PEM certificate request: one CERTIFICATE REQUEST block, a key we accept, a
 * signature that verifies, and names of kinds we can issue. Every failure is a 400 CaError
 * (`ERR_CSR_INVALID`) saying what is wrong.
 */
export async function parseCsr(pem: string): Promise<CertificateRequest> {
  const request = readRequest(pem);
  const key = acceptedKey(request.publicKey);
  const sans = requestedNames(request.extensions);
  // The signature last: it is the costly check, and the ones above refuse for free.
  const publicKey = await loadPublicKey(request.publicKey.der, request.publicKey.raw, key);
  checkSignature(request.info, request.signature, request.signatureAlgorithm, key, publicKey);
  return {
    der: request.der,
    subject: request.subject,
    subjectText: nameText(request.subject),
    commonNames: request.subject.attributes.filter((a) => a.oid === '2.5.4.3').map((a) => a.value ?? ''),
    commonName: commonName(request.subject),
    sans,
    spki: request.publicKey.der,
    publicKeyBits: request.publicKey.raw,
    key,
  };
}

function readRequest(pem: string): ReturnType<typeof parseRequest> {
  let der: Uint8Array;
  try {
    const blocks = parsePem(pem, 'csr');
    const requests = blocks.filter((b) => b.label === 'CERTIFICATE REQUEST');
    if (requests.length !== 1 || blocks.length !== 1) {
      throw invalidCsr(`expected one PEM "CERTIFICATE REQUEST" block, found ${blocks.map((b) => b.label).join(', ')}`);
    }
    der = requests[0]!.der;
  } catch (err) {
    if (err instanceof CaError && err.code === 'ERR_CSR_INVALID') throw err;
    throw invalidCsr('not a PEM "CERTIFICATE REQUEST"', err);
  }
  try {
    const request = parseRequest(der);
    if (request.version !== 0) throw invalidCsr(`version ${request.version} is not the PKCS #10 version 0`);
    return request;
  } catch (err) {
    if (err instanceof CaError) throw err;
    throw invalidCsr(`malformed request (${describe(err)})`, err);
  }
}

/** The key if it is one we issue for; otherwise a 400 that names it and what is allowed. */
export function acceptedKey(spki: SubjectPublicKeyInfo): RequestKey {
  const refuse = (what: string) =>
    new CaError('ERR_CSR_INVALID', `the certificate request's key is ${what}; this CA accepts ${ALLOWED_KEYS}`, { status: 400 });
  const { key } = spki;
  switch (spki.algorithmOid) {
    case OID.ecPublicKey: {
      if (key.kind === 'ecdsa' && (key.curve === 'P-256' || key.curve === 'P-384' || key.curve === 'P-521')) return { kind: 'ec', curve: key.curve };
      const curveOid = namedCurve(spki.der);
      if (curveOid === OID.p256 || curveOid === OID.p384 || curveOid === OID.p521) throw invalidCsr('the EC public key is not a point in uncompressed form');
      throw refuse(`EC ${(curveOid && OTHER_CURVES[curveOid]) ?? `on curve ${curveOid ?? '(none named)'}`}`);
    }
    case OID.rsaEncryption: {
      const bits = key.kind === 'rsa' ? key.bits : 0;
      if (bits < MIN_RSA_BITS) throw refuse(`RSA ${bits} bits`);
      if (bits > MAX_RSA_BITS) throw refuse(`RSA ${bits} bits, more than the ${MAX_RSA_BITS} this CA verifies`);
      return { kind: 'rsa', bits };
    }
    case OID.ed25519:
      if (key.kind !== 'ed25519') throw invalidCsr('the Ed25519 public key is not 32 bytes');
      return { kind: 'ed25519' };
    default:
      throw refuse(OTHER_KEY_ALGORITHMS[spki.algorithmOid] ?? `of algorithm ${spki.algorithmOid}`);
  }
}

/** The curve OID in an EC SubjectPublicKeyInfo, for naming curves we refuse. */
function namedCurve(spki: Uint8Array): string | undefined {
  try {
    const [algorithmId] = sequence(readSingle(spki), 'subject public key info');
    const [, params] = sequence(algorithmId, 'public key algorithm');
    return params?.tag === TAG.OID ? decodeOid(params) : undefined;
  } catch {
    return undefined;
  }
}

async function loadPublicKey(spki: Uint8Array, bits: Uint8Array, key: RequestKey): Promise<KeyObject> {
  try {
    if (key.kind === 'ec') {
      // Only an uncompressed point of the curve's length gets here (acceptedKey refuses the
      // compressed and hybrid forms the raw import would also take). The import refuses a point
      // off the curve, which on these prime-order curves is every invalid key; a KeyObject from a
      // JWK costs ~20% more per request (OpenSSL's full check multiplies the point by the order).
      const imported = await webcrypto.subtle.importKey('raw', bits, { name: 'ECDSA', namedCurve: key.curve }, false, ['verify']);
      return KeyObject.from(imported);
    }
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (err) {
    throw invalidCsr(`malformed public key (${describe(err)})`, err);
  }
}

function checkSignature(
  info: Uint8Array,
  signature: Uint8Array,
  algorithm: AlgorithmIdentifier,
  key: RequestKey,
  publicKey: KeyObject,
): void {
  const keyKind = ACCEPTED_SIGNATURES[algorithm.name];
  if (!keyKind) throw invalidCsr(`signed with ${algorithm.name}, which this CA does not accept (use SHA-256 or stronger, or Ed25519)`);
  if (keyKind !== key.kind) {
    throw invalidCsr(`the signature algorithm ${algorithm.name} does not match the request's ${key.kind.toUpperCase()} key`);
  }
  const verifyKey: KeyObject | VerifyKeyObjectInput | VerifyPublicKeyInput = algorithm.pss
    ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }
    : publicKey;
  // Synchronous on purpose (as the leaf's signature): a worker per core keeps every core busy, and
  // the thread-pool hop of the callback form costs ~40% more CPU per verification.
  let ok: boolean;
  try {
    ok = verify(algorithm.hash, info, verifyKey, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw invalidCsr('the signature does not verify with the request\'s public key');
}

function requestedNames(extensions: ReturnType<typeof parseRequest>['extensions']): SubjectAltName[] {
  const sanExtensions = extensions.filter((e) => e.oid === OID.subjectAltName);
  if (sanExtensions.length === 0) return [];
  if (sanExtensions.length > 1) throw invalidCsr('more than one subjectAltName extension');
  const decoded = findExtension(sanExtensions, 'subjectAltName');
  if (!decoded) throw invalidCsr('the subjectAltName extension is malformed');
  return decoded.names.map((name) => {
    if (name.type === 'dns' || name.type === 'email' || name.type === 'uri') return { type: name.type, value: name.value };
    if (name.type === 'ip' && !name.value.includes('/') && !name.value.startsWith('?')) return { type: 'ip', value: name.value };
    const kind = name.type === 'unsupported' ? `tag 0x${name.tag.toString(16)}` : name.type;
    throw invalidCsr(`the subjectAltName holds a name of kind ${kind}; this CA issues DNS, IP, email and URI names only`);
  });
}
