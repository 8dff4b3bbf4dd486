/**
 * The long text form of `step certificate inspect` (smallstep/certinfo's CertificateText and
 * CertificateRequestText): OpenSSL's layout with Go's names for algorithms and fields, indented
 * in steps of four spaces.
 */
import { provisionerTypeName } from '../extension.js';
import type { ProvisionerExtension } from '../extension.js';
import type { CertificateExtension, DecodedExtension } from './extensions.js';
import { keyUsageNames } from './extensions.js';
import { colonHex, hexRows, pad, printableRunes, upperColonHex, validityTime } from './format.js';
import type { SubjectPublicKeyInfo } from './keys.js';
import type { AlgorithmIdentifier, CertificateModel, RequestModel } from './model.js';
import { namesOfType, nameText } from './names.js';
import type { DistinguishedName, GeneralName, StringNameType } from './names.js';
import { EXT_KEY_USAGES, OID } from './oids.js';

export function certificateText(cert: CertificateModel): string {
  return lines(
    'Certificate:',
    `${pad(4)}Data:`,
    versionLine(cert.version),
    `${pad(8)}Serial Number: ${serialText(cert.serial)}`,
    `${pad(8)}Signature Algorithm: ${cert.signatureAlgorithm.name}`,
    `${pad(8)}Issuer: ${nameText(cert.issuer)}`,
    `${pad(8)}Validity`,
    `${pad(12)}Not Before: ${validityTime(cert.notBefore)}`,
    `${pad(12)}Not After : ${validityTime(cert.notAfter)}`,
    ...subjectLines(cert.subject, cert.publicKey, 'certificate'),
    ...uniqueIdLines('Issuer', cert.issuerUniqueId),
    ...uniqueIdLines('Subject', cert.subjectUniqueId),
    ...certificateExtensionLines(cert),
    ...signatureLines(cert.signatureAlgorithm, cert.signature),
  );
}

export function requestText(request: RequestModel): string {
  return lines(
    'Certificate Request:',
    `${pad(4)}Data:`,
    versionLine(request.version),
    ...subjectLines(request.subject, request.publicKey, 'request'),
    ...requestExtensionLines(request),
    ...signatureLines(request.signatureAlgorithm, request.signature),
  );
}

function lines(...all: string[]): string {
  return `${all.join('\n')}\n`;
}

// certinfo prints the version number and, as OpenSSL does, the encoded value in hex.
function versionLine(version: number): string {
  return `${pad(8)}Version: ${version} (0x${Math.max(version - 1, 0).toString(16)})`;
}

/** "4 (0x4)": decimal, then hex as Go's `%#x` prints a big.Int (no leading zero, the sign before 0x). */
export function serialText(serial: bigint): string {
  const magnitude = serial < 0n ? -serial : serial;
  return `${serial} (${serial < 0n ? '-' : ''}0x${magnitude.toString(16)})`;
}

function subjectLines(subject: DistinguishedName, key: SubjectPublicKeyInfo, kind: 'certificate' | 'request'): string[] {
  const name = subject.attributes.length > 0 ? ` ${nameText(subject)}` : '';
  return [
    `${pad(8)}Subject:${name}`,
    `${pad(8)}Subject Public Key Info:`,
    `${pad(12)}Public Key Algorithm: ${key.algorithmName}`,
    ...publicKeyLines(key, kind),
  ];
}

function publicKeyLines(info: SubjectPublicKeyInfo, kind: 'certificate' | 'request'): string[] {
  const { key } = info;
  switch (key.kind) {
    case 'rsa':
      return [
        `${pad(16)}Public-Key: (${key.bits} bit)`,
        // OpenSSL adds a 00 byte when the top bit is set; certinfo does not, and neither do we.
        `${pad(16)}Modulus:`,
        ...hexRows(key.modulus, 15, 20),
        `${pad(16)}Exponent: ${key.exponent} (0x${key.exponent.toString(16)})`,
      ];
    case 'ecdsa':
      return [
        `${pad(16)}Public-Key: (${key.bits} bit)`,
        `${pad(16)}X:`,
        ...hexRows(key.x, 15, 20),
        `${pad(16)}Y:`,
        ...hexRows(key.y, 15, 20),
        `${pad(16)}Curve: ${key.curve}`,
      ];
    case 'ed25519':
      // certinfo prints len(key) here, i.e. "(32 bit)"; the key has 256 bits, so we say so.
      return [`${pad(16)}Public-Key: (${key.key.length * 8} bit)`, ...hexRows(key.key, 15, 20)];
    default:
      return [
        ...(kind === 'certificate' ? [`${pad(16)}Public-Key:`] : []),
        `${pad(16)}Raw Bytes:`,
        ...hexRows(info.raw, 15, 20),
      ];
  }
}

function uniqueIdLines(which: 'Issuer' | 'Subject', id: Uint8Array | undefined): string[] {
  return id && id.length > 0 ? [`${pad(8)}${which} Unique ID: ${colonHex(id)}`] : [];
}

function signatureLines(algorithm: AlgorithmIdentifier, signature: Uint8Array): string[] {
  return [`${pad(4)}Signature Algorithm: ${algorithm.name}`, ...hexRows(signature, 18, 9)];
}

function certificateExtensionLines(cert: CertificateModel): string[] {
  if (cert.version !== 3 || cert.extensions.length === 0) return [];
  return [`${pad(8)}X509v3 extensions:`, ...cert.extensions.flatMap(extensionLines)];
}

// certinfo decodes only these in a CSR; everything else is listed raw under "Attributes:".
const REQUEST_EXTENSIONS = new Set<string>([
  OID.subjectKeyId,
  OID.subjectAltName,
  OID.keyUsage,
  OID.basicConstraints,
  OID.nameConstraints,
  OID.extKeyUsage,
]);

function requestExtensionLines(request: RequestModel): string[] {
  if (request.version !== 0 || request.extensions.length === 0) return [];
  const known = request.extensions.filter((e) => REQUEST_EXTENSIONS.has(e.oid) && e.decoded.kind !== 'unknown');
  const others = request.extensions.filter((e) => !known.includes(e));
  return [
    `${pad(8)}Requested Extensions:`,
    ...known.flatMap(extensionLines),
    ...(others.length > 0 ? [`${pad(8)}Attributes:`, ...others.flatMap(rawExtensionLines)] : []),
  ];
}

const EXTENSION_TITLES: Record<Exclude<DecodedExtension['kind'], 'unknown'>, string> = {
  keyUsage: 'X509v3 Key Usage',
  basicConstraints: 'X509v3 Basic Constraints',
  extKeyUsage: 'X509v3 Extended Key Usage',
  subjectKeyId: 'X509v3 Subject Key Identifier',
  authorityKeyId: 'X509v3 Authority Key Identifier',
  subjectAltName: 'X509v3 Subject Alternative Name',
  nameConstraints: 'X509v3 Name Constraints',
  crlDistributionPoints: 'X509v3 CRL Distribution Points',
  certificatePolicies: 'X509v3 Certificate Policies',
  authorityInfoAccess: 'Authority Information Access',
  netscapeComment: 'Netscape Comment',
  stepProvisioner: 'X509v3 Step Provisioner',
};

function header(title: string, ext: CertificateExtension): string {
  return `${pad(12)}${title}:${ext.critical ? ' critical' : ''}`;
}

function extensionLines(ext: CertificateExtension): string[] {
  const { decoded } = ext;
  if (decoded.kind === 'unknown') return rawExtensionLines(ext);
  return [header(EXTENSION_TITLES[decoded.kind], ext), ...extensionBody(decoded).map((l) => `${pad(16)}${l}`)];
}

/** The body lines of a decoded extension, without their 16-space indent. */
function extensionBody(ext: Exclude<DecodedExtension, { kind: 'unknown' }>): string[] {
  switch (ext.kind) {
    case 'keyUsage': {
      const names = keyUsageNames(ext.bits);
      return [names.length > 0 ? names.join(', ') : 'None'];
    }
    case 'basicConstraints':
      return [`CA:${ext.ca ? 'TRUE' : 'FALSE'}${ext.pathLen === undefined || ext.pathLen < 0 ? '' : `, pathlen:${ext.pathLen}`}`];
    case 'extKeyUsage':
      return ext.oids.length > 0 ? [ext.oids.map((oid) => EXT_KEY_USAGES[oid]?.text ?? oid).join(', ')] : [];
    case 'subjectKeyId':
      return [upperColonHex(ext.keyId)];
    case 'authorityKeyId':
      return ext.keyId ? [upperColonHex(ext.keyId)] : [];
    case 'subjectAltName':
      return generalNameLines(ext.names);
    case 'nameConstraints':
      return [...subtreeLines('Permitted', ext.permitted), ...subtreeLines('Excluded', ext.excluded)];
    case 'crlDistributionPoints':
      return ext.uris.length > 0 ? ['Full Name:', `${pad(2)}${ext.uris.map((u) => `URI:${u}`).join(', ')}`] : [];
    case 'certificatePolicies':
      return ext.policies.map((p) => `Policy: ${p.oid}`);
    case 'authorityInfoAccess':
      return [
        ...(ext.ocsp.length > 0 ? [`OCSP - ${ext.ocsp.map((u) => `URI:${u}`).join(',')}`] : []),
        ...(ext.caIssuers.length > 0 ? [`CA Issuers - ${ext.caIssuers.map((u) => `URI:${u}`).join(',')}`] : []),
      ];
    case 'netscapeComment':
      return [ext.text];
    case 'stepProvisioner':
      return provisionerLines(ext.provisioner);
  }
}

// One line per kind, in certinfo's order (DNS, email, IP, URI), then the rarer kinds one per line.
function generalNameLines(names: GeneralName[]): string[] {
  const joined = (type: StringNameType, label: string) => {
    const values = namesOfType(names, type);
    return values.length > 0 ? [values.map((v) => `${label}:${v}`).join(', ')] : [];
  };
  const others = names.flatMap((n): string[] => {
    switch (n.type) {
      case 'dirName':
        return [`DirName: ${nameText(n.name)}`];
      case 'otherName':
        return [`OtherName: Type: ${n.oid}, Value: 0x${Buffer.from(n.value).toString('hex')}`];
      case 'registeredId':
        return [`Registered ID: ${n.oid}`];
      default:
        return [];
    }
  });
  return [...joined('dns', 'DNS'), ...joined('email', 'email'), ...joined('ip', 'IP Address'), ...joined('uri', 'URI'), ...others];
}

function subtreeLines(title: 'Permitted' | 'Excluded', names: GeneralName[]): string[] {
  const group = (type: StringNameType, label: string) => {
    const values = namesOfType(names, type);
    return values.length > 0 ? [`${pad(2)}${label}: ${values.join(', ')}`] : [];
  };
  const body = [...group('dns', 'DNS'), ...group('email', 'Email'), ...group('uri', 'URI'), ...group('ip', 'IP Range')];
  return body.length > 0 ? [`${title}:`, ...body] : [];
}

function provisionerLines(p: ProvisionerExtension): string[] {
  const out = [`Type: ${provisionerTypeName(p.type) ?? `${p.type} (unknown)`}`, `Name: ${p.name}`];
  if (p.credentialId !== '') out.push(`CredentialID: ${p.credentialId}`);
  const pairs = p.keyValuePairs ?? [];
  // Pairs are stored flat; a key without its value shows "-".
  for (let i = 0; i < pairs.length; i += 2) out.push(`${pairs[i]}: ${pairs[i + 1] ?? '-'}`);
  return out;
}

/**
 * An extension shown by OID: certinfo's printable-runes line, then the bytes in hex when the runes
 * had to hide something (certinfo adds the hex line only in CSRs; we add it for certificates too,
 * since a line of dots tells the reader nothing).
 */
function rawExtensionLines(ext: CertificateExtension): string[] {
  const { text, clean } = printableRunes(ext.value);
  return [header(ext.oid, ext), `${pad(16)}${text}`, ...(clean ? [] : [`${pad(16)}${colonHex(ext.value)}`])];
}
