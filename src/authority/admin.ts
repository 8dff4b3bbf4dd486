/**
 * Who is calling the admin API: step-ca's admin token checked as step-ca checks it. The token is
 * a JWT signed by the key of an admin certificate this CA issued (its chain in `x5c`), for one
 * request path (`aud`), used once (`jti`). The certificate's provisioner extension names the
 * provisioner, and one of the certificate's names must be an admin of it in the store.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { CaError } from '../errors.js';
import type { SigningCa } from '../pki/certificate.js';
import { DerError } from '../pki/der.js';
import { findExtension } from '../pki/inspect/extensions.js';
import { parseCertificate, type CertificateModel } from '../pki/inspect/model.js';
import { commonName, namesOfType } from '../pki/inspect/names.js';
import { verifiesWith } from '../pki/inspect/verify.js';
import type { Store, StoredAdmin, StoredProvisioner } from '../store/types.js';
import { audiencesOf, checkTokenTimes, decodeJws, signatureVerifies } from './jws.js';
import { unauthorized } from './provisioner.js';

/** The `iss` of the step CLI's admin tokens (client/admin-token.ts writes the same). */
const ADMIN_TOKEN_ISSUER = 'step-admin-client/1.0';
/** go-jose's leeway, as step-ca uses it for admin tokens (s). */
const LEEWAY_S = 60;
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const DIGITAL_SIGNATURE = 1;

export interface AdminContext {
  ca: SigningCa;
  /** The CA's dnsNames: an audience's host must be one of them (or the request's Host). */
  dnsNames: readonly string[];
  store: Pick<Store, 'useToken' | 'getRevocation' | 'listProvisioners' | 'listAdmins'>;
  now: () => Date;
}

export interface AdminRequest {
  /** The Authorization header as sent. */
  authorization: string | undefined;
  /** The request path (`/admin/...`, no query). */
  path: string;
  /** The Host header, without checking. */
  host: string | undefined;
}

/** A caller the token proved: the admin record, its provisioner and the name that matched. */
export interface AdminIdentity {
  admin: StoredAdmin;
  provisioner: StoredProvisioner;
  /** How the audit log names them: `subject (provisioner NAME)`. */
  actor: string;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A host without its port (and IPv6 brackets), lowercase. */
export function bareHost(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

function leafOf(header: Record<string, unknown>): { leaf: CertificateModel; key: KeyObject } {
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || typeof x5c[0] !== 'string') throw unauthorized('the admin token has no "x5c" certificate chain in its header');
  let leaf: CertificateModel;
  let key: KeyObject;
  try {
    leaf = parseCertificate(new Uint8Array(Buffer.from(x5c[0], 'base64')));
    key = createPublicKey({ key: Buffer.from(leaf.publicKey.der), format: 'der', type: 'spki' });
  } catch (err) {
    if (err instanceof DerError || err instanceof Error) throw unauthorized(`the admin token's x5c certificate cannot be read: ${err.message}`, err);
    throw err;
  }
  return { leaf, key };
}

/** The names an admin record may match: the certificate's CN, DNS names and email addresses. */
export function certificateNames(cert: CertificateModel): string[] {
  const san = findExtension(cert.extensions, 'subjectAltName')?.names ?? [];
  const cn = commonName(cert.subject);
  return [...new Set([...(cn ? [cn] : []), ...namesOfType(san, 'dns'), ...namesOfType(san, 'email')])];
}

/**
 * Check an admin request's token and find its admin. Every refusal names the rule: 401, except a
 * certificate without step's provisioner extension (404, as step-ca).
 */
export async function authorizeAdmin(req: AdminRequest, ctx: AdminContext): Promise<AdminIdentity> {
  const header = req.authorization?.trim();
  if (!header) throw unauthorized('missing admin token: send it in the Authorization header');
  if (/^bearer\s/i.test(header)) throw unauthorized("the admin token must be sent as the Authorization header itself, without a 'Bearer ' prefix");
  const jws = decodeJws(header);
  const { leaf, key } = leafOf(jws.header);
  const now = ctx.now();

  // The certificate: ours, current, not revoked, for client authentication.
  const ca = ctx.ca.certificate;
  if (!sameBytes(leaf.issuer.der, ca.subject.der) || !verifiesWith(leaf.tbs, leaf.signatureAlgorithm, leaf.signature, ca.publicKey.der)) {
    throw unauthorized('the admin certificate was not issued by this CA (its chain does not lead to our intermediate and root)');
  }
  const serial = leaf.serial.toString(10);
  if (now.getTime() > leaf.notAfter.getTime()) throw unauthorized(`the admin certificate ${serial} expired at ${leaf.notAfter.toISOString()}`);
  if (now.getTime() < leaf.notBefore.getTime()) throw unauthorized(`the admin certificate ${serial} is not valid before ${leaf.notBefore.toISOString()}`);
  const eku = findExtension(leaf.extensions, 'extKeyUsage')?.oids ?? [];
  if (!eku.includes(CLIENT_AUTH_OID)) throw unauthorized(`the admin certificate ${serial} is not for client authentication (no clientAuth extended key usage)`);
  const ku = findExtension(leaf.extensions, 'keyUsage')?.bits ?? 0;
  if (!(ku & DIGITAL_SIGNATURE)) throw unauthorized(`the admin certificate ${serial} has no digitalSignature key usage`);
  if (await ctx.store.getRevocation(serial)) throw unauthorized(`the admin certificate ${serial} is revoked`);

  // The token: signed by the certificate's key, step's issuer, for this path, current.
  const alg = jws.header.alg;
  if (typeof alg !== 'string' || !signatureVerifies(jws, alg, key)) throw unauthorized("the admin token's signature does not verify with the admin certificate's key");
  if (jws.claims.iss !== ADMIN_TOKEN_ISSUER) throw unauthorized(`the admin token's issuer ${JSON.stringify(jws.claims.iss ?? null)} is not "${ADMIN_TOKEN_ISSUER}"`);
  checkAudience(audiencesOf(jws.claims), req, ctx.dnsNames);
  try {
    checkTokenTimes(jws.claims, now, LEEWAY_S, ['exp']);
  } catch (err) {
    if (err instanceof CaError) throw unauthorized(err.message.replace(/^the token/, 'the admin token'), err);
    throw err;
  }
  const jti = jws.claims.jti;
  if (typeof jti !== 'string' || jti === '') throw unauthorized('the admin token has no "jti" (each admin token is used once)');

  // The admin: the certificate's provisioner, and one of its names an admin of it.
  const ext = findExtension(leaf.extensions, 'stepProvisioner')?.provisioner;
  if (!ext) throw new CaError('ERR_NOT_FOUND', `the admin certificate ${serial} has no provisioner extension: get it from one of this CA's provisioners`, { status: 404 });
  const provisioner = (await ctx.store.listProvisioners()).find((p) => p.name === ext.name);
  if (!provisioner) throw unauthorized(`the admin certificate's provisioner "${ext.name}" does not exist (any more)`);
  const names = certificateNames(leaf);
  const admins = (await ctx.store.listAdmins()).filter((a) => a.provisionerId === provisioner.id);
  const admin = admins.find((a) => a.type === 'SUPER_ADMIN' && names.includes(a.subject)) ?? admins.find((a) => names.includes(a.subject));
  if (!admin) {
    // Every name, not only the CN: an IdP's CN is often an opaque user ID, the email is what the admin knows.
    const [first, ...others] = [...new Set(names)];
    const who = first === undefined ? 'the admin certificate' : others.length > 0 ? `${first} (${others.join(', ')})` : first;
    throw unauthorized(`${who} is not an admin of provisioner "${provisioner.name}"`);
  }

  // Last, so that a refused token stays usable for nothing else anyway: single use.
  const exp = typeof jws.claims.exp === 'number' ? jws.claims.exp : now.getTime() / 1000;
  if (!(await ctx.store.useToken(`admin:${jti}`, new Date((exp + LEEWAY_S) * 1000), now))) throw unauthorized('the admin token was already used (each admin token is used once)');
  return { admin, provisioner, actor: `${admin.subject} (provisioner ${provisioner.name})` };
}

function decoded(path: string): string {
  try {
    return decodeURIComponent(path).replace(/\/+$/, '');
  } catch {
    return path;
  }
}

function checkAudience(audiences: string[], req: AdminRequest, dnsNames: readonly string[]): void {
  const hosts = new Set([...dnsNames.map(bareHost), ...(req.host ? [bareHost(req.host)] : [])]);
  const wanted = decoded(req.path);
  for (const aud of audiences) {
    let url: URL;
    try {
      url = new URL(aud);
    } catch {
      continue;
    }
    // step-ca compares without the port and the query.
    if (hosts.has(bareHost(url.hostname)) && decoded(url.pathname) === wanted) return;
  }
  throw unauthorized(`the admin token's audience ${JSON.stringify(audiences.length === 1 ? audiences[0] : audiences)} is not this request (https://<one of ${[...hosts].join(', ')}>${req.path})`);
}
