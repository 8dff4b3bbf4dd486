/**
 * Certificates (RFC 5280 4.1) and certification requests (RFC 2986 4) read into plain values,
 * keeping the exact bytes that fingerprints and signatures cover.
 */
import { DerError, TAG, children, decodeBitString, decodeInteger, decodeOid, decodeTime, expect, readSingle, sequence } from '../der.js';
import type { Tlv } from '../der.js';
import { parseExtensions } from './extensions.js';
import type { CertificateExtension } from './extensions.js';
import { parseSubjectPublicKeyInfo } from './keys.js';
import type { SubjectPublicKeyInfo } from './keys.js';
import { parseName } from './names.js';
import type { DistinguishedName } from './names.js';
import { HASH_OIDS, OID, signatureAlgorithm } from './oids.js';
import type { SignatureAlgorithmInfo } from './oids.js';

export interface AlgorithmIdentifier extends SignatureAlgorithmInfo {
  oid: string;
}

export interface CertificateModel {
  kind: 'certificate';
  der: Uint8Array;
  /** The TBSCertificate encoding, which the signature covers. */
  tbs: Uint8Array;
  /** 1, 2 or 3 (the encoded value plus one). */
  version: number;
  serial: bigint;
  issuer: DistinguishedName;
  subject: DistinguishedName;
  notBefore: Date;
  notAfter: Date;
  publicKey: SubjectPublicKeyInfo;
  issuerUniqueId: Uint8Array | undefined;
  subjectUniqueId: Uint8Array | undefined;
  extensions: CertificateExtension[];
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Uint8Array;
}

export interface RequestModel {
  kind: 'request';
  der: Uint8Array;
  /** The CertificationRequestInfo encoding, which the signature covers. */
  info: Uint8Array;
  /** The encoded version, 0 for every PKCS #10 request (Go and certinfo show it as is). */
  version: number;
  subject: DistinguishedName;
  publicKey: SubjectPublicKeyInfo;
  /** The extensions of the extensionRequest attribute. */
  extensions: CertificateExtension[];
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Uint8Array;
}

export type Model = CertificateModel | RequestModel;

/** Throws DerError when `der` is not a certificate. */
export function parseCertificate(der: Uint8Array): CertificateModel {
  const [tbsTlv, algorithm, signature, ...extra] = sequence(readSingle(der), 'certificate');
  if (extra.length > 0) throw new DerError('certificate has extra fields');
  const fields = sequence(tbsTlv, 'tbsCertificate');
  const version = fields[0]?.tag === 0xa0 ? Number(decodeInteger(readSingle(fields.shift()!.content))) + 1 : 1;
  // The inner signature algorithm repeats the outer one; Go and certinfo show the outer one.
  const [serial, , issuer, validity, subject, spki, ...optional] = fields;
  const [notBefore, notAfter] = sequence(validity, 'validity');
  const extensions = optional.find((f) => f.tag === 0xa3);
  return {
    kind: 'certificate',
    der,
    tbs: tbsTlv!.der,
    version,
    serial: decodeInteger(expect(serial, TAG.INTEGER, 'serial number')),
    issuer: parseName(issuer, 'issuer'),
    subject: parseName(subject, 'subject'),
    notBefore: decodeTime(notBefore ?? missing('notBefore')),
    notAfter: decodeTime(notAfter ?? missing('notAfter')),
    publicKey: parseSubjectPublicKeyInfo(spki),
    issuerUniqueId: uniqueId(optional, 0x81),
    subjectUniqueId: uniqueId(optional, 0x82),
    extensions: extensions ? parseExtensions(readSingle(extensions.content)) : [],
    signatureAlgorithm: parseAlgorithm(algorithm),
    signature: decodeBitString(expect(signature, TAG.BIT_STRING, 'signature')).bytes,
  };
}

/** Throws DerError when `der` is not a certification request. */
export function parseRequest(der: Uint8Array): RequestModel {
  const [infoTlv, algorithm, signature, ...extra] = sequence(readSingle(der), 'certification request');
  if (extra.length > 0) throw new DerError('certification request has extra fields');
  const [version, subject, spki, attributes] = sequence(infoTlv, 'certificationRequestInfo');
  return {
    kind: 'request',
    der,
    info: infoTlv!.der,
    version: Number(decodeInteger(expect(version, TAG.INTEGER, 'version'))),
    subject: parseName(subject, 'subject'),
    publicKey: parseSubjectPublicKeyInfo(spki),
    extensions: requestedExtensions(expect(attributes, 0xa0, 'attributes')),
    signatureAlgorithm: parseAlgorithm(algorithm),
    signature: decodeBitString(expect(signature, TAG.BIT_STRING, 'signature')).bytes,
  };
}

// Attribute ::= SEQUENCE { type OID, values SET OF ANY }; extensionRequest holds one Extensions.
function requestedExtensions(attributes: Tlv): CertificateExtension[] {
  return children(attributes).flatMap((attribute) => {
    const [type, values] = sequence(attribute, 'attribute');
    if (decodeOid(expect(type, TAG.OID, 'attribute type')) !== OID.extensionRequest) return [];
    return children(expect(values, TAG.SET, 'attribute values')).flatMap(parseExtensions);
  });
}

export function parseAlgorithm(tlv: Tlv | undefined): AlgorithmIdentifier {
  const [oidTlv, params] = sequence(tlv, 'signature algorithm');
  const oid = decodeOid(expect(oidTlv, TAG.OID, 'signature algorithm'));
  return { oid, ...signatureAlgorithm(oid, oid === OID.rsassaPss ? pssHash(params) : undefined) };
}

// RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, … }
function pssHash(params: Tlv | undefined) {
  const hashField = params?.tag === TAG.SEQUENCE ? children(params).find((f) => f.tag === 0xa0) : undefined;
  if (!hashField) return 'sha1' as const;
  const [hashOid] = sequence(readSingle(hashField.content), 'PSS hash algorithm');
  return HASH_OIDS[decodeOid(expect(hashOid, TAG.OID, 'PSS hash algorithm'))];
}

function uniqueId(fields: Tlv[], tag: number): Uint8Array | undefined {
  const field = fields.find((f) => f.tag === tag);
  return field ? field.content.subarray(1) : undefined;
}

function missing(what: string): never {
  throw new DerError(`missing ${what}`);
}
