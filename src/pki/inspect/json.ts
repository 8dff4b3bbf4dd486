/**
 * `step certificate inspect --format json`: step prints zcrypto's JSON for a certificate
 * (github.com/zmap/zcrypto x509/json.go). We write the same keys in the same order for what we
 * decode, with bytes in base64 and fingerprints in hex as zcrypto does. Left out: the curve domain
 * parameters of ECDSA keys and validation_level, which zcrypto derives from CA/B Forum policy OIDs.
 */
import { fingerprint } from '../fingerprint.js';
import { TAG, children, decodeOid, encodeSequence, encodeTlv, readSingle } from '../der.js';
import type { Tlv } from '../der.js';
import { findExtension } from './extensions.js';
import type { CertificateExtension, DecodedExtension } from './extensions.js';
import { rfc3339 } from './format.js';
import type { SubjectPublicKeyInfo } from './keys.js';
import type { AlgorithmIdentifier, CertificateModel, RequestModel } from './model.js';
import { commonName, nameDnString, namesOfType } from './names.js';
import type { DistinguishedName, GeneralName } from './names.js';
import { EXT_KEY_USAGE_JSON_ORDER, EXT_KEY_USAGES, KEY_USAGE_NAMES, NAME_ATTRIBUTES, NAME_JSON_ORDER, OID } from './oids.js';
import { verifiesWith } from './verify.js';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json | undefined };
type JsonObject = { [key: string]: Json | undefined };

export function certificateJson(cert: CertificateModel): JsonObject {
  const selfSigned = isSelfIssuedAndSigned(cert);
  const names = certificateNames(cert);
  return {
    version: cert.version,
    serial_number: cert.serial.toString(),
    signature_algorithm: algorithmJson(cert.signatureAlgorithm),
    issuer: nameJson(cert.issuer),
    issuer_dn: omitEmpty(nameDnString(cert.issuer)),
    validity: validityJson(cert.notBefore, cert.notAfter),
    subject: nameJson(cert.subject),
    subject_dn: omitEmpty(nameDnString(cert.subject)),
    subject_key_info: publicKeyJson(cert.publicKey),
    extensions: extensionsJson(cert.extensions),
    unknown_extensions: unknownExtensionsJson(cert.extensions),
    signature: {
      signature_algorithm: algorithmJson(cert.signatureAlgorithm),
      value: base64(cert.signature),
      // zcrypto only knows a signature is valid after chain building, except for a self-signed one.
      valid: selfSigned,
      self_signed: selfSigned,
    },
    fingerprint_md5: fingerprint(cert.der, { algorithm: 'md5' }),
    fingerprint_sha1: fingerprint(cert.der, { algorithm: 'sha1' }),
    fingerprint_sha256: fingerprint(cert.der),
    tbs_noct_fingerprint: fingerprint(tbsWithoutCt(cert.tbs)),
    spki_subject_fingerprint: fingerprint(Buffer.concat([cert.publicKey.der, cert.subject.der])),
    tbs_fingerprint: fingerprint(cert.tbs),
    names: names.length > 0 ? names : undefined,
    redacted: names.some((n) => n.startsWith('?')),
  };
}

/**
 * zcrypto has no JSON form of its own for requests (Go would print the raw struct fields), so a
 * request gets the certificate's keys that apply to it.
 */
export function requestJson(request: RequestModel): JsonObject {
  return {
    version: request.version,
    signature_algorithm: algorithmJson(request.signatureAlgorithm),
    subject: nameJson(request.subject),
    subject_dn: omitEmpty(nameDnString(request.subject)),
    subject_key_info: publicKeyJson(request.publicKey),
    extensions: extensionsJson(request.extensions),
    unknown_extensions: unknownExtensionsJson(request.extensions),
    signature: {
      signature_algorithm: algorithmJson(request.signatureAlgorithm),
      value: base64(request.signature),
      valid: verifiesWith(request.info, request.signatureAlgorithm, request.signature, request.publicKey.der),
    },
    fingerprint_sha256: fingerprint(request.der),
  };
}

/**
 * JSON as Go's encoder writes it with two-space indent: `undefined` members are dropped (Go's
 * omitempty), and <, >, & and the two line separators are escaped the way Go escapes them.
 */
export function goJson(value: Json | undefined): string {
  const text = JSON.stringify(value, null, 2).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${text}\n`;
}

function omitEmpty(text: string): string | undefined {
  return text === '' ? undefined : text;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function algorithmJson(algorithm: AlgorithmIdentifier): JsonObject {
  return { name: algorithm.name, oid: algorithm.oid };
}

/** zcrypto's name object: one array per known attribute; other attributes are left out. */
export function nameJson(name: DistinguishedName): JsonObject {
  const groups = new Map<string, string[]>();
  for (const { oid, value } of name.attributes) {
    const key = NAME_ATTRIBUTES[oid]?.json;
    if (key && value !== undefined) groups.set(key, [...(groups.get(key) ?? []), value]);
  }
  return Object.fromEntries(NAME_JSON_ORDER.filter((k) => groups.has(k)).map((k) => [k, groups.get(k)!]));
}

// zcrypto clamps the printed dates to 1970..9999 but computes the length from the real ones.
const MIN_TIME = Date.UTC(1970, 0, 1);
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59);

function validityJson(notBefore: Date, notAfter: Date): JsonObject {
  const clamp = (d: Date) => new Date(Math.min(Math.max(d.getTime(), MIN_TIME), MAX_TIME));
  return {
    start: rfc3339(clamp(notBefore)),
    end: rfc3339(clamp(notAfter)),
    length: Math.trunc((notAfter.getTime() - notBefore.getTime()) / 1000),
  };
}

function publicKeyJson(info: SubjectPublicKeyInfo): JsonObject {
  const { key } = info;
  return {
    key_algorithm: { name: info.algorithmName },
    rsa_public_key:
      key.kind === 'rsa' ? { exponent: Number(key.exponent), modulus: base64(key.modulus), length: key.bits } : undefined,
    // zcrypto also lists the curve's domain parameters (b, gx, gy, n, p); they say nothing about this key.
    ecdsa_public_key:
      key.kind === 'ecdsa' ? { curve: key.curve, length: key.bits, x: base64(key.x), y: base64(key.y) } : undefined,
    fingerprint_sha256: fingerprint(info.der),
  };
}

// The extensions zcrypto decodes into `extensions`; everything else goes to `unknown_extensions`.
const ZCRYPTO_KNOWN = new Set<string>([
  OID.keyUsage,
  OID.basicConstraints,
  OID.subjectAltName,
  OID.nameConstraints,
  OID.crlDistributionPoints,
  OID.authorityKeyId,
  OID.subjectKeyId,
  OID.extKeyUsage,
  OID.certificatePolicies,
  OID.authorityInfoAccess,
  OID.ctPoison,
  OID.ctSctList,
]);

function isZcryptoKnown(ext: CertificateExtension): boolean {
  return ZCRYPTO_KNOWN.has(ext.oid) && ext.decoded.kind !== 'unknown';
}

function extensionsJson(extensions: CertificateExtension[]): JsonObject {
  const out: JsonObject = {};
  for (const ext of extensions.filter(isZcryptoKnown)) {
    const entry = extensionEntry(ext);
    if (entry) out[entry[0]] = entry[1];
  }
  return Object.fromEntries(EXTENSION_JSON_ORDER.filter((k) => k in out).map((k) => [k, out[k]]));
}

const EXTENSION_JSON_ORDER = [
  'key_usage',
  'basic_constraints',
  'subject_alt_name',
  'name_constraints',
  'crl_distribution_points',
  'authority_key_id',
  'subject_key_id',
  'extended_key_usage',
  'certificate_policies',
  'authority_info_access',
];

function extensionEntry({ decoded, critical }: CertificateExtension): [string, Json] | undefined {
  switch (decoded.kind) {
    case 'keyUsage':
      return ['key_usage', keyUsageJson(decoded.bits)];
    case 'basicConstraints':
      return ['basic_constraints', { is_ca: decoded.ca, max_path_len: decoded.pathLen }];
    case 'subjectAltName':
      return ['subject_alt_name', generalNamesJson(decoded.names)];
    case 'nameConstraints':
      return ['name_constraints', nameConstraintsJson(decoded, critical)];
    case 'crlDistributionPoints':
      return ['crl_distribution_points', decoded.uris];
    case 'authorityKeyId':
      return decoded.keyId ? ['authority_key_id', hex(decoded.keyId)] : undefined;
    case 'subjectKeyId':
      return ['subject_key_id', hex(decoded.keyId)];
    case 'extKeyUsage':
      return ['extended_key_usage', extKeyUsageJson(decoded.oids)];
    case 'certificatePolicies':
      return ['certificate_policies', decoded.policies.map((p) => ({ id: p.oid, cps: p.cps.length > 0 ? p.cps : undefined }))];
    case 'authorityInfoAccess':
      return ['authority_info_access', { ocsp_urls: nonEmpty(decoded.ocsp), issuer_urls: nonEmpty(decoded.caIssuers) }];
    default:
      return undefined;
  }
}

const KEY_USAGE_JSON_KEYS = [
  'digital_signature',
  'content_commitment',
  'key_encipherment',
  'data_encipherment',
  'key_agreement',
  'certificate_sign',
  'crl_sign',
  'encipher_only',
  'decipher_only',
];

function keyUsageJson(bits: number): JsonObject {
  const flags = KEY_USAGE_NAMES.flatMap((_, i) => (bits & (1 << i) ? [[KEY_USAGE_JSON_KEYS[i]!, true] as const] : []));
  return { ...Object.fromEntries(flags), value: bits };
}

function extKeyUsageJson(oids: string[]): JsonObject {
  const known = new Set(oids.flatMap((oid) => EXT_KEY_USAGES[oid]?.json ?? []));
  const unknown = oids.filter((oid) => !EXT_KEY_USAGES[oid]?.json);
  return {
    ...Object.fromEntries(EXT_KEY_USAGE_JSON_ORDER.filter((k) => known.has(k)).map((k) => [k, true])),
    unknown: nonEmpty(unknown),
  };
}

function generalNamesJson(names: GeneralName[]): JsonObject {
  const directoryNames = names.flatMap((n) => (n.type === 'dirName' ? [nameJson(n.name)] : []));
  const otherNames = names.flatMap((n) => (n.type === 'otherName' ? [{ id: n.oid, value: base64(n.value) }] : []));
  const registeredIds = names.flatMap((n) => (n.type === 'registeredId' ? [n.oid] : []));
  return {
    directory_names: nonEmpty(directoryNames),
    dns_names: nonEmpty(namesOfType(names, 'dns')),
    email_addresses: nonEmpty(namesOfType(names, 'email')),
    ip_addresses: nonEmpty(namesOfType(names, 'ip')),
    other_names: nonEmpty(otherNames),
    registered_ids: nonEmpty(registeredIds),
    uniform_resource_identifiers: nonEmpty(namesOfType(names, 'uri')),
  };
}

function nameConstraintsJson(
  constraints: Extract<DecodedExtension, { kind: 'nameConstraints' }>,
  critical: boolean,
): JsonObject {
  const side = (names: GeneralName[], prefix: 'permitted' | 'excluded') => ({
    [`${prefix}_names`]: nonEmpty(namesOfType(names, 'dns')),
    [`${prefix}_email_addresses`]: nonEmpty(namesOfType(names, 'email')),
    [`${prefix}_ip_addresses`]: nonEmpty(namesOfType(names, 'ip').map((cidr) => ({ cidr }))),
  });
  return { critical, ...side(constraints.permitted, 'permitted'), ...side(constraints.excluded, 'excluded') };
}

function unknownExtensionsJson(extensions: CertificateExtension[]): Json[] | undefined {
  return nonEmpty(
    extensions.filter((e) => !isZcryptoKnown(e)).map((e) => ({ id: e.oid, critical: e.critical, value: base64(e.value) })),
  );
}

function nonEmpty<T extends Json>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

// zcrypto: self-signed means the subject and issuer encodings are equal and the signature verifies
// with the certificate's own key.
function isSelfIssuedAndSigned(cert: CertificateModel): boolean {
  return (
    Buffer.from(cert.subject.der).equals(cert.issuer.der) &&
    verifiesWith(cert.tbs, cert.signatureAlgorithm, cert.signature, cert.publicKey.der)
  );
}

/**
 * zcrypto's `names`: the common name and DNS names that look like host names, URIs and IPv4
 * addresses, deduplicated and sorted. zcrypto decides "looks like" with govalidator.IsURL; this
 * is a simpler test that agrees on host names, IP addresses and URLs.
 */
function certificateNames(cert: CertificateModel): string[] {
  const sans = findExtension(cert.extensions, 'subjectAltName')?.names ?? [];
  const cn = commonName(cert.subject);
  const candidates = [
    ...(looksLikeHostOrUrl(cn) ? [cn] : []),
    ...namesOfType(sans, 'dns').filter((n) => looksLikeHostOrUrl(n) || !n.includes('.')),
    ...namesOfType(sans, 'uri').filter(looksLikeHostOrUrl),
    ...namesOfType(sans, 'ip').filter((ip) => IPV4.test(ip)),
  ];
  return [...new Set(candidates)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const HOST_LABEL = '[\\p{L}\\p{N}](?:[\\p{L}\\p{N}_-]*[\\p{L}\\p{N}])?';
const HOST_OR_URL = new RegExp(
  `^(?:[a-z][a-z0-9+.-]*://)?(?:\\S+@)?(?:\\*\\.|\\?\\.)?${HOST_LABEL}(?:\\.${HOST_LABEL})*\\.?(?::\\d{1,5})?(?:[/?#]\\S*)?$`,
  'iu',
);

function looksLikeHostOrUrl(name: string): boolean {
  return name.length > 3 && !name.startsWith('.') && HOST_OR_URL.test(name);
}

// RFC 6962 fingerprint: the TBS with the CT poison and SCT list extensions taken out.
function tbsWithoutCt(tbs: Uint8Array): Uint8Array {
  const isCt = (ext: Tlv) => {
    const oid = decodeOid(children(ext)[0]!);
    return oid === OID.ctPoison || oid === OID.ctSctList;
  };
  const fields = children(readSingle(tbs));
  const wrapper = fields.find((f) => f.tag === 0xa3);
  if (!wrapper) return tbs;
  const extensions = children(readSingle(wrapper.content));
  if (!extensions.some(isCt)) return tbs;
  const kept = encodeTlv(0xa3, encodeSequence(extensions.filter((e) => !isCt(e)).map((e) => e.der)));
  return encodeTlv(TAG.SEQUENCE, Buffer.concat(fields.map((f) => (f === wrapper ? kept : f.der))));
}
