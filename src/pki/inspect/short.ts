/**
 * `step certificate inspect --short` (smallstep/certinfo's certificateShort): one header line with
 * the kind of certificate, its key and serial, then who it names, who issued it, which provisioner
 * authorized it and when it is valid.
 */
import { findExtension } from './extensions.js';
import type { CertificateExtension } from './extensions.js';
import { abbreviate, rfc3339 } from './format.js';
import { keySizeLabel } from './keys.js';
import type { SubjectPublicKeyInfo } from './keys.js';
import type { CertificateModel, RequestModel } from './model.js';
import { commonName, namesOfType } from './names.js';
import { verifiesWith } from './verify.js';

const CERT_SIGN = 1 << 5;

export function certificateShortText(cert: CertificateModel): string {
  const provisioner = findExtension(cert.extensions, 'stepProvisioner')?.provisioner;
  return [
    `X.509v3 ${certificateType(cert)} Certificate (${keyLabel(cert.publicKey)}) [Serial: ${abbreviate(cert.serial.toString())}]`,
    ...subjectLines(commonName(cert.subject), cert.extensions),
    `  Issuer:      ${commonName(cert.issuer)}`,
    ...(provisioner ? [provisionerLine(provisioner)] : []),
    `  Valid from:  ${rfc3339(cert.notBefore)}`,
    `          to:  ${rfc3339(cert.notAfter)}`,
    '',
  ].join('\n');
}

export function requestShortText(request: RequestModel): string {
  return [
    `X.509v3 Certificate Signing Request (${keyLabel(request.publicKey)})`,
    ...subjectLines(commonName(request.subject), request.extensions),
    '',
  ].join('\n');
}

/** "TLS" for end-entity certificates; a CA is a "Root CA" when it verifies its own signature. */
export function certificateType(cert: CertificateModel): 'Root CA' | 'Intermediate CA' | 'TLS' {
  if (!findExtension(cert.extensions, 'basicConstraints')?.ca) return 'TLS';
  return isSelfSigned(cert) ? 'Root CA' : 'Intermediate CA';
}

// Go's CheckSignatureFrom(cert) on itself: the key must be allowed to sign certificates (when a
// key usage is given at all) and the signature must verify with the certificate's own key.
function isSelfSigned(cert: CertificateModel): boolean {
  const usage = findExtension(cert.extensions, 'keyUsage');
  if (usage && usage.bits !== 0 && (usage.bits & CERT_SIGN) === 0) return false;
  return verifiesWith(cert.tbs, cert.signatureAlgorithm, cert.signature, cert.publicKey.der);
}

// "ECDSA P-256", "RSA 2048", "Ed25519 256"; an algorithm Go does not know shows as its OID alone.
function keyLabel(info: SubjectPublicKeyInfo): string {
  const known = ['RSA', 'ECDSA', 'Ed25519'].includes(info.algorithmName);
  return known ? `${info.algorithmName} ${keySizeLabel(info.key)}` : info.algorithmName;
}

/** The common name, then the SANs (DNS, IP, email, URI) that differ from it, one per line. */
function subjectLines(cn: string, extensions: CertificateExtension[]): string[] {
  const names = [...(cn ? [cn] : []), ...subjectAltNames(extensions).filter((n) => n !== cn)];
  if (names.length === 0) return ['  Subject: '];
  return names.map((n, i) => `${i === 0 ? '  Subject:     ' : '               '}${n}`);
}

function subjectAltNames(extensions: CertificateExtension[]): string[] {
  const names = findExtension(extensions, 'subjectAltName')?.names ?? [];
  return [...namesOfType(names, 'dns'), ...namesOfType(names, 'ip'), ...namesOfType(names, 'email'), ...namesOfType(names, 'uri')];
}

function provisionerLine(p: { name: string; credentialId: string }): string {
  const id = abbreviate(p.credentialId);
  return id === '' ? `  Provisioner: ${p.name}` : `  Provisioner: ${p.name} [ID: ${id}]`;
}
