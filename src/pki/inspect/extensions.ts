/**
 * The certificate extensions inspect understands, decoded once into plain values the text and
 * JSON renderers share. An extension we cannot decode is kept as `unknown` and shown raw: inspect
 * is for looking at odd certificates, so it must not refuse them.
 */
import { decodeProvisionerExtension, PROVISIONER_EXTENSION_OID } from '../extension.js';
import type { ProvisionerExtension } from '../extension.js';
import {
  DerError,
  TAG,
  bitAt,
  children,
  decodeBitString,
  decodeBoolean,
  decodeInteger,
  decodeOid,
  decodeString,
  expect,
  readSingle,
  sequence,
} from '../der.js';
import type { Tlv } from '../der.js';
import { parseGeneralName, parseGeneralNames } from './names.js';
import type { GeneralName } from './names.js';
import { KEY_USAGE_NAMES, OID } from './oids.js';

export type DecodedExtension =
  /** `bits` as Go's x509.KeyUsage: bit i set for RFC 5280 key usage bit i. */
  | { kind: 'keyUsage'; bits: number }
  | { kind: 'basicConstraints'; ca: boolean; pathLen: number | undefined }
  | { kind: 'extKeyUsage'; oids: string[] }
  | { kind: 'subjectKeyId'; keyId: Uint8Array }
  | { kind: 'authorityKeyId'; keyId: Uint8Array | undefined }
  | { kind: 'subjectAltName'; names: GeneralName[] }
  | { kind: 'nameConstraints'; permitted: GeneralName[]; excluded: GeneralName[] }
  | { kind: 'crlDistributionPoints'; uris: string[] }
  | { kind: 'certificatePolicies'; policies: { oid: string; cps: string[] }[] }
  | { kind: 'authorityInfoAccess'; ocsp: string[]; caIssuers: string[] }
  | { kind: 'netscapeComment'; text: string }
  | { kind: 'stepProvisioner'; provisioner: ProvisionerExtension }
  | { kind: 'unknown' };

export interface CertificateExtension {
  oid: string;
  critical: boolean;
  /** The extnValue contents: the DER of the extension itself. */
  value: Uint8Array;
  decoded: DecodedExtension;
}

/** Extensions ::= SEQUENCE OF Extension, the list in a certificate or a CSR's extensionRequest. */
export function parseExtensions(tlv: Tlv): CertificateExtension[] {
  return sequence(tlv, 'extensions').map((ext) => {
    const fields = sequence(ext, 'extension');
    const oid = decodeOid(expect(fields[0], TAG.OID, 'extension id'));
    // critical BOOLEAN DEFAULT FALSE: DER leaves it out when false.
    const critical = fields.length === 3 ? decodeBoolean(expect(fields[1], TAG.BOOLEAN, 'critical')) : false;
    const value = expect(fields[fields.length - 1], TAG.OCTET_STRING, `extension ${oid} value`).content;
    return { oid, critical, value, decoded: decodeExtension(oid, value) };
  });
}

type Decoder = (value: Tlv) => DecodedExtension;

const DECODERS: Record<string, Decoder> = {
  [OID.keyUsage]: decodeKeyUsage,
  [OID.basicConstraints]: decodeBasicConstraints,
  [OID.extKeyUsage]: (v) => ({ kind: 'extKeyUsage', oids: children(v).map(decodeOid) }),
  [OID.subjectKeyId]: (v) => ({ kind: 'subjectKeyId', keyId: expect(v, TAG.OCTET_STRING, 'key identifier').content }),
  [OID.authorityKeyId]: decodeAuthorityKeyId,
  [OID.subjectAltName]: (v) => ({ kind: 'subjectAltName', names: parseGeneralNames(expect(v, TAG.SEQUENCE, 'names')) }),
  [OID.nameConstraints]: decodeNameConstraints,
  [OID.crlDistributionPoints]: decodeCrlDistributionPoints,
  [OID.certificatePolicies]: decodeCertificatePolicies,
  [OID.authorityInfoAccess]: decodeAuthorityInfoAccess,
  [OID.netscapeComment]: (v) => ({ kind: 'netscapeComment', text: decodeString(v) ?? '' }),
  [PROVISIONER_EXTENSION_OID]: decodeStepProvisioner,
};

function decodeExtension(oid: string, value: Uint8Array): DecodedExtension {
  const decoder = DECODERS[oid];
  if (!decoder) return { kind: 'unknown' };
  try {
    return decoder(readSingle(value));
  } catch (err) {
    if (err instanceof DerError) return { kind: 'unknown' };
    throw err;
  }
}

function decodeKeyUsage(value: Tlv): DecodedExtension {
  const bits = decodeBitString(value);
  let mask = 0;
  KEY_USAGE_NAMES.forEach((_, i) => {
    if (bitAt(bits, i)) mask |= 1 << i;
  });
  return { kind: 'keyUsage', bits: mask };
}

function decodeBasicConstraints(value: Tlv): DecodedExtension {
  const fields = sequence(value, 'basic constraints');
  const ca = fields[0]?.tag === TAG.BOOLEAN ? decodeBoolean(fields.shift()!) : false;
  const pathLen = fields[0] ? Number(decodeInteger(expect(fields[0], TAG.INTEGER, 'pathLenConstraint'))) : undefined;
  return { kind: 'basicConstraints', ca, pathLen };
}

// keyIdentifier [0] IMPLICIT OCTET STRING; the issuer name and serial ([1], [2]) are not shown.
function decodeAuthorityKeyId(value: Tlv): DecodedExtension {
  const keyId = sequence(value, 'authority key identifier').find((f) => f.tag === 0x80);
  return { kind: 'authorityKeyId', keyId: keyId?.content };
}

function decodeNameConstraints(value: Tlv): DecodedExtension {
  const fields = sequence(value, 'name constraints');
  const subtrees = (tag: number): GeneralName[] => {
    const list = fields.find((f) => f.tag === tag);
    return list ? children(list).map(subtreeBase) : [];
  };
  return { kind: 'nameConstraints', permitted: subtrees(0xa0), excluded: subtrees(0xa1) };
}

// GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0], maximum [1] }: only the base matters.
function subtreeBase(subtree: Tlv): GeneralName {
  const [base] = sequence(subtree, 'general subtree');
  if (!base) throw new DerError('empty general subtree');
  return parseGeneralName(base);
}

// DistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] GeneralNames | … }, … };
// like Go, only the URIs of full names are kept.
function decodeCrlDistributionPoints(value: Tlv): DecodedExtension {
  const uris = sequence(value, 'CRL distribution points').flatMap((point) => {
    const name = sequence(point, 'distribution point').find((f) => f.tag === 0xa0);
    const fullName = name ? children(name).find((f) => f.tag === 0xa0) : undefined;
    return fullName ? uriValues(parseGeneralNames(fullName)) : [];
  });
  return { kind: 'crlDistributionPoints', uris };
}

function decodeCertificatePolicies(value: Tlv): DecodedExtension {
  const policies = sequence(value, 'certificate policies').map((info) => {
    const [id, qualifiers] = sequence(info, 'policy information');
    const cps = qualifiers
      ? sequence(qualifiers, 'policy qualifiers').flatMap((q) => {
          const [qualifierId, qualifier] = sequence(q, 'policy qualifier');
          return decodeOid(expect(qualifierId, TAG.OID, 'qualifier id')) === OID.cpsQualifier && qualifier
            ? [decodeString(qualifier) ?? '']
            : [];
        })
      : [];
    return { oid: decodeOid(expect(id, TAG.OID, 'policy identifier')), cps };
  });
  return { kind: 'certificatePolicies', policies };
}

function decodeAuthorityInfoAccess(value: Tlv): DecodedExtension {
  const ocsp: string[] = [];
  const caIssuers: string[] = [];
  for (const description of sequence(value, 'authority information access')) {
    const [method, location] = sequence(description, 'access description');
    const oid = decodeOid(expect(method, TAG.OID, 'access method'));
    const uris = location ? uriValues([parseGeneralName(location)]) : [];
    if (oid === OID.ocsp) ocsp.push(...uris);
    if (oid === OID.caIssuers) caIssuers.push(...uris);
  }
  return { kind: 'authorityInfoAccess', ocsp, caIssuers };
}

function decodeStepProvisioner(value: Tlv): DecodedExtension {
  const provisioner = decodeProvisionerExtension(value.der);
  return provisioner ? { kind: 'stepProvisioner', provisioner } : { kind: 'unknown' };
}

function uriValues(names: GeneralName[]): string[] {
  return names.flatMap((n) => (n.type === 'uri' ? [n.value] : []));
}

/** The first extension of a kind, decoded; undefined when absent or not decodable. */
export function findExtension<K extends DecodedExtension['kind']>(
  extensions: CertificateExtension[],
  kind: K,
): Extract<DecodedExtension, { kind: K }> | undefined {
  return extensions.find((e) => e.decoded.kind === kind)?.decoded as Extract<DecodedExtension, { kind: K }> | undefined;
}

/** The subject alternative names as text (DNS, email, IP, URI), in the certificate's order. */
export function subjectAltNameValues(extensions: CertificateExtension[]): string[] {
  const names = findExtension(extensions, 'subjectAltName')?.names ?? [];
  return names.flatMap((n) => ('value' in n && typeof n.value === 'string' ? [n.value] : []));
}

/** The names of the key usage bits set in `bits`, in RFC order. */
export function keyUsageNames(bits: number): string[] {
  return KEY_USAGE_NAMES.filter((_, i) => bits & (1 << i));
}
