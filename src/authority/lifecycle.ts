/**
 * The rest of a certificate's life, as step-ca decides it: renew and rekey (authenticated by the
 * certificate itself over mutual TLS) and revoke (by a token or by the certificate). Revocation is
 * passive: a revoked certificate can no longer renew or rekey, and the CRL lists it.
 */
import type { Claims } from '../config/ca-config.js';
import { CaError } from '../errors.js';
import { reissueLeaf, type SigningCa } from '../pki/certificate.js';
import { REASON_NAMES } from '../pki/crl.js';
import { parseSerial } from '../pki/revocation.js';
import { parseCsr } from '../pki/csr.js';
import { DerError } from '../pki/der.js';
import { findExtension, subjectAltNameValues } from '../pki/inspect/extensions.js';
import { parseCertificate, type CertificateModel } from '../pki/inspect/model.js';
import { commonName, nameText } from '../pki/inspect/names.js';
import { verifiesWith } from '../pki/inspect/verify.js';
import type { Revocation, Store } from '../store/types.js';
import { authorizeRevoke, type AuthorizeContext } from './authorize.js';
import type { CrlPublisher } from './crl.js';
import { defaultRenewalRules, unauthorized, type Provisioner, type RenewalRules, type RevokeGrant } from './provisioner.js';
import type { PeerCertificate, RevokeOutcome, RevokeRequest, SignOutcome } from './types.js';

export interface LifecycleContext extends AuthorizeContext {
  ca: SigningCa;
  chainPems: readonly string[];
  store: Store;
  now: () => Date;
  backdateMs: number;
  /** Every provisioner by name: a certificate names the one that issued it in its extension. */
  byName: ReadonlyMap<string, Provisioner>;
  globalClaims: Claims | undefined;
  crl: CrlPublisher;
}

function badRequest(detail: string): CaError {
  return new CaError('ERR_BAD_REQUEST', detail, { status: 400 });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A client certificate this CA issued (its name and signature), read; a 401 for anything else. */
function ourCertificate(peer: PeerCertificate, ca: SigningCa): CertificateModel {
  let cert: CertificateModel;
  try {
    cert = parseCertificate(peer.der);
  } catch (err) {
    if (err instanceof DerError) throw unauthorized(`the client certificate cannot be read: ${err.message}`, err);
    throw err;
  }
  const ours =
    sameBytes(cert.issuer.der, ca.certificate.subject.der) && verifiesWith(cert.tbs, cert.signatureAlgorithm, cert.signature, ca.certificate.publicKey.der);
  if (!ours) throw unauthorized(`the client certificate (issuer ${nameText(cert.issuer) || 'empty'}) was not issued by this CA`);
  return cert;
}

function describeRevocation(r: Revocation): string {
  const why = r.reason ? `${REASON_NAMES[r.reasonCode] ?? r.reasonCode}: ${r.reason}` : REASON_NAMES[r.reasonCode] ?? String(r.reasonCode);
  return `certificate ${r.serial} was revoked at ${r.revokedAt.toISOString()} (reason: ${why})`;
}

/** The provisioner that issued a certificate (from step's extension) and the renewal rules in force. */
function issuerOf(cert: CertificateModel, ctx: LifecycleContext): { name: string; rules: RenewalRules } {
  const ext = findExtension(cert.extensions, 'stepProvisioner')?.provisioner;
  // Without the extension (disableSmallstepExtensions) step-ca renews under the authority's claims.
  if (!ext) return { name: '', rules: defaultRenewalRules(ctx.globalClaims) };
  const provisioner = ctx.byName.get(ext.name);
  if (!provisioner) throw unauthorized(`the provisioner "${ext.name}" that issued this certificate no longer exists`);
  return { name: provisioner.name, rules: provisioner.renewal };
}

/**
 * POST /renew (no CSR) and POST /rekey (a CSR with the new key): the same subject, names and
 * extensions, a new serial, the same lifetime counted from now, as step-ca renews.
 */
export async function renewCertificate(peer: PeerCertificate, csrPem: string | undefined, ctx: LifecycleContext): Promise<SignOutcome> {
  const csr = csrPem === undefined ? undefined : await parseCsr(csrPem);
  const cert = ourCertificate(peer, ctx.ca);
  const serial = cert.serial.toString(10);
  const op = csr ? 'rekey' : 'renew';
  const { name, rules } = issuerOf(cert, ctx);
  if (rules.disabled) throw unauthorized(`${op} is disabled for provisioner "${name}" (its disableRenewal claim)`);
  const now = ctx.now();
  if (now < cert.notBefore) throw unauthorized(`certificate ${serial} is not valid before ${cert.notBefore.toISOString()}`);
  if (now > cert.notAfter && !rules.allowAfterExpiry) {
    throw unauthorized(`certificate ${serial} expired at ${cert.notAfter.toISOString()}; provisioner "${name || '(none)'}" does not allow renewal after expiry (allowRenewalAfterExpiry)`);
  }
  const revoked = await ctx.store.getRevocation(serial);
  if (revoked) throw unauthorized(`cannot ${op}: ${describeRevocation(revoked)}`);

  // The whole lifetime again, backdate included: notAfter - notBefore of the old one.
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  const notBefore = new Date(Math.floor((now.getTime() - ctx.backdateMs) / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + lifetime);
  const leaf = reissueLeaf(ctx.ca, cert, { notBefore, notAfter, newKey: csr && { spki: csr.spki, publicKeyBits: csr.publicKeyBits } });
  const subject = nameText(cert.subject);
  const sans = subjectAltNameValues(cert.extensions);
  const recorded = await ctx.store.renewCertificate(serial, { serial: leaf.serial, subject, sans, provisioner: name, notBefore, notAfter, pem: leaf.pem });
  // A revocation that landed while this one was being signed wins.
  if (!recorded.ok) throw unauthorized(`cannot ${op}: ${describeRevocation(recorded.revoked)}`);
  return {
    response: { crt: leaf.pem, ca: ctx.chainPems[0] ?? '', certChain: [leaf.pem, ...ctx.chainPems] },
    provisioner: name,
    subject: subject || commonName(cert.subject),
    serial: leaf.serial,
  };
}

/** A serial as step sends it (decimal), or `0x…` hex; back as decimal (a 400 otherwise). */
export function normalizeSerial(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw badRequest('missing serial number');
  return parseSerial(value);
}

function reasonCodeOf(value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0 || value > 10 || value === 7) {
    throw badRequest(`invalid reasonCode ${value}: expected an RFC 5280 reason code 0-10 (not 7)`);
  }
  return value;
}

/** POST /revoke, by a token (JWK revoke token or OIDC admin) or by the certificate itself over mutual TLS. */
export async function revokeCertificate(req: RevokeRequest, ctx: LifecycleContext): Promise<RevokeOutcome> {
  if (req.passive === false) {
    throw new CaError('ERR_BAD_REQUEST', 'revoke: only passive revocation is implemented (send "passive": true)', { status: 501 });
  }
  const serial = normalizeSerial(req.serial);
  const reasonCode = reasonCodeOf(req.reasonCode);
  const now = ctx.now();

  let grant: RevokeGrant | undefined;
  let revokedBy: string;
  let notAfter: Date | undefined;
  let provisioner = '';
  if (req.ott) {
    grant = await authorizeRevoke(req.ott, ctx);
    if (grant.serial !== undefined && grant.serial !== serial && normalizeSerialOrUndefined(grant.serial) !== serial) {
      throw new CaError('ERR_FORBIDDEN', `request serial number "${serial}" and token subject "${grant.serial}" do not match`, { status: 403 });
    }
    revokedBy = `token of provisioner "${grant.provisioner.name}" (${grant.who})`;
  } else if (req.peer) {
    const cert = ourCertificate(req.peer, ctx.ca);
    if (cert.serial.toString(10) !== serial) {
      throw unauthorized(`the client certificate's serial number ${cert.serial.toString(10)} is not the one to revoke (${serial})`);
    }
    notAfter = cert.notAfter;
    provisioner = findExtension(cert.extensions, 'stepProvisioner')?.provisioner.name ?? '';
    revokedBy = 'mTLS';
  } else {
    throw unauthorized('missing ott or client certificate: revoke with a revoke token, or over mutual TLS with the certificate itself');
  }

  // A token revokes only what this CA issued; the certificate itself proves that by its signature.
  const recorded = await ctx.store.getCertificate(serial);
  if (!recorded && grant) {
    throw new CaError('ERR_NOT_FOUND', `certificate with serial number ${serial} was not issued by this CA`, { status: 404 });
  }
  const result = await ctx.store.revokeCertificate(
    {
      serial,
      reasonCode,
      reason: typeof req.reason === 'string' ? req.reason.slice(0, 1024) : '',
      revokedAt: now,
      notAfter: recorded?.notAfter ?? notAfter ?? now,
      provisioner: recorded?.provisioner ?? provisioner,
      revokedBy,
    },
    { token: grant && { id: grant.tokenId, expiresAt: grant.expiresAt }, requireKnown: grant !== undefined, now },
  );
  switch (result.result) {
    case 'unknown-serial':
      throw new CaError('ERR_NOT_FOUND', `certificate with serial number ${serial} was not issued by this CA`, { status: 404 });
    case 'already-revoked':
      throw new CaError('ERR_BAD_REQUEST', `certificate with serial number '${serial}' is already revoked (at ${result.existing.revokedAt.toISOString()})`, { status: 400 });
    case 'token-used':
      throw unauthorized(`token already used (provisioner "${grant?.provisioner.name ?? ''}"); get a new one`);
    case 'revoked':
      break;
  }
  try {
    await ctx.crl.revoked();
  } catch {
    // The revocation is recorded; the next GET /crl makes the CRL that lists it.
  }
  return { serial, provisioner: recorded?.provisioner ?? provisioner, by: revokedBy };
}

function normalizeSerialOrUndefined(value: string): string | undefined {
  try {
    return normalizeSerial(value);
  } catch {
    return undefined;
  }
}
