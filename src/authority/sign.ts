/**
 * POST /sign: a CSR and a token in, a certificate out. The order matters: everything that can
 * refuse the request (the CSR, the token, the names, the validity) runs before the token is
 * spent, so a refused request can be corrected and sent again with the same login.
 */
import { formatDuration, tryParseTimeOrDuration } from '../config/duration.js';
import { CaError } from '../errors.js';
import { commonNameDer, goSanOrder, ipAddressBytes, issueLeaf, type SigningCa } from '../pki/certificate.js';
import { parseCsr, type CertificateRequest, type SanType, type SubjectAltName } from '../pki/csr.js';
import { sanByLook } from '../pki/names.js';
import type { Store } from '../store/types.js';
import { authorizeSign, type AuthorizeContext } from './authorize.js';
import { normalizeEmail } from './oidc.js';
import { unauthorized, type SignGrant } from './provisioner.js';
import type { SignOutcome, SignRequest } from './types.js';

export interface SignContext extends AuthorizeContext {
  ca: SigningCa;
  /** PEMs after the leaf in certChain: the signing CA first. */
  chainPems: readonly string[];
  store: Store;
  now: () => Date;
  /** authority.backdate (default 1m), in ms. */
  backdateMs: number;
}

export async function signRequest(req: SignRequest, ctx: SignContext): Promise<SignOutcome> {
  if (typeof req.csr !== 'string' || req.csr === '') throw badRequest('missing csr');
  const csr = await parseCsr(req.csr);
  if (typeof req.ott !== 'string' || req.ott === '') throw badRequest('missing ott');
  const grant = await authorizeSign(req.ott, ctx);
  const names = namesFor(grant, csr);
  const now = ctx.now();
  const validity = certificateValidity(req, grant.provisioner.durations, ctx.backdateMs, now);

  // Signed before the token is marked used, so that using it and recording the certificate are one
  // durable write; a replayed token only costs a signature that is thrown away.
  const leaf = await issueLeaf(ctx.ca, {
    subject: names.subject,
    sans: names.sans,
    spki: csr.spki,
    publicKeyBits: csr.publicKeyBits,
    keyKind: csr.key.kind,
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    extraExtensions: grant.provisioner.extension ? [grant.provisioner.extension] : [],
  });
  const record = {
    serial: leaf.serial,
    subject: names.subjectText,
    sans: names.sans.map((n) => n.value),
    provisioner: grant.provisioner.name,
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    pem: leaf.pem,
  };
  if (!(await ctx.store.issueCertificate({ id: grant.tokenId, expiresAt: grant.expiresAt }, record, now))) {
    throw unauthorized(`token already used (provisioner "${grant.provisioner.name}", subject "${grant.subject}"); get a new one`);
  }
  return {
    response: { crt: leaf.pem, ca: ctx.chainPems[0] ?? '', certChain: [leaf.pem, ...ctx.chainPems] },
    provisioner: grant.provisioner.name,
    subject: names.subjectText,
    serial: leaf.serial,
  };
}

/** The certificate's subject and names for what the token allows and what the request asks. */
function namesFor(grant: SignGrant, csr: CertificateRequest): LeafNames {
  switch (grant.kind) {
    case 'oidc-admin':
      return adminNames(csr);
    case 'oidc-user':
      return userNames(grant, csr);
    case 'jwk':
      return tokenNames(grant, csr);
  }
}

function badRequest(detail: string): CaError {
  return new CaError('ERR_BAD_REQUEST', detail, { status: 400 });
}

function forbidden(detail: string): CaError {
  return new CaError('ERR_FORBIDDEN', detail, { status: 403 });
}

interface LeafNames {
  subject: Uint8Array;
  subjectText: string;
  sans: SubjectAltName[];
}

/** step's URI SAN for a user, `<iss>#<sub>`, with the fragment escaped as Go's url.URL writes it. */
export function userUri(issuer: string, subject: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(issuer)) return undefined;
  return `${issuer}#${subject.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]/gu, (c) => encodeURIComponent(c))}`;
}

/**
 * A non-admin gets CN = sub and SANs = email + iss#sub, as step-ca gives them. Stricter than
 * step-ca, which ignores the request's names: asking for any other name is refused, naming what
 * may be asked for, so nobody walks away believing they got a certificate for a name they did not.
 */
function userNames(token: Extract<SignGrant, { kind: 'oidc-user' }>, csr: CertificateRequest): LeafNames {
  const uri = userUri(token.issuer, token.subject);
  const sans: SubjectAltName[] = [];
  if (token.email !== undefined) sans.push({ type: 'email', value: token.email });
  if (uri !== undefined) sans.push({ type: 'uri', value: uri });

  const email = token.email === undefined ? undefined : normalizeEmail(token.email);
  const foreign = [
    ...csr.commonNames.filter((cn) => cn !== '' && cn !== token.subject && (email === undefined || normalizeEmail(cn) !== email)),
    ...csr.sans
      .filter((n) => !((n.type === 'email' && email !== undefined && normalizeEmail(n.value) === email) || (n.type === 'uri' && n.value === uri)))
      .map((n) => n.value),
  ];
  if (foreign.length > 0) {
    const asked = foreign.map((v) => JSON.stringify(v)).join(', ');
    const allowed = sans.map((n) => n.value).join(' and ');
    const cn = [token.email, token.subject].filter((v) => v !== undefined).join(' or ');
    throw forbidden(
      `the certificate request asks for ${asked}, but a non-admin of provisioner "${token.provisioner.name}" may only ask for ${allowed} (common name ${cn})`,
    );
  }
  checkEncodable(sans);
  return { subject: commonNameDer(token.subject), subjectText: `CN=${token.subject}`, sans };
}

/** An admin gets the request's subject and names, as step-ca's admin template gives them. */
function adminNames(csr: CertificateRequest): LeafNames {
  if (csr.subject.attributes.length === 0 && csr.sans.length === 0) {
    throw badRequest('the certificate request has no subject and no subjectAltName; an admin\'s certificate takes its names from the request');
  }
  const sans = goSanOrder(csr.sans);
  checkEncodable(sans);
  return { subject: csr.subject.der, subjectText: csr.subjectText, sans };
}

/** A SAN's value as compared: IP addresses by their bytes, so "::1" and "0:0::1" are one name. */
function sanKey(n: SubjectAltName): string {
  if (n.type !== 'ip') return n.value;
  try {
    return Buffer.from(ipAddressBytes(n.value)).toString('hex');
  } catch {
    return n.value;
  }
}

const SAN_WORDS: Record<SanType, string> = { dns: 'DNS names', ip: 'IP addresses', email: 'email addresses', uri: 'URIs' };

/**
 * A JWK token's names, as step-ca's validators check them: CN = the token's subject, SANs = its
 * `sans`; the request's common name must be empty or one of those, and for each kind of SAN the
 * request asks for, it must ask for exactly the token's.
 */
function tokenNames(grant: Extract<SignGrant, { kind: 'jwk' }>, csr: CertificateRequest): LeafNames {
  const sans = goSanOrder(grant.sans.map(sanByLook));
  const allowedCns = [grant.subject, ...grant.sans];
  const cn = csr.commonNames.find((c) => c !== '' && !allowedCns.includes(c));
  if (cn !== undefined) {
    throw forbidden(`certificate request does not contain the valid common name - got ${cn}, want one of ${allowedCns.join(', ')}`);
  }
  for (const type of ['dns', 'ip', 'email', 'uri'] as const) {
    const asked = new Set(csr.sans.filter((n) => n.type === type).map(sanKey));
    if (asked.size === 0) continue;
    const granted = new Set(sans.filter((n) => n.type === type).map(sanKey));
    if (asked.size !== granted.size || [...asked].some((v) => !granted.has(v))) {
      const got = csr.sans.filter((n) => n.type === type).map((n) => n.value);
      const want = sans.filter((n) => n.type === type).map((n) => n.value);
      throw forbidden(`certificate request does not contain the valid ${SAN_WORDS[type]} - got [${got.join(', ')}], want [${want.join(', ')}] (the token's names)`);
    }
  }
  checkEncodable(sans);
  return { subject: commonNameDer(grant.subject), subjectText: `CN=${grant.subject}`, sans };
}

// DNS names, emails and URIs are IA5Strings in a certificate: ASCII only.
function checkEncodable(sans: readonly SubjectAltName[]): void {
  const bad = sans.find((n) => !/^[\x20-\x7e]*$/.test(n.value));
  if (bad) throw badRequest(`the ${bad.type} name ${JSON.stringify(bad.value)} is not ASCII and cannot go into a certificate`);
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/** A request's notBefore/notAfter: an RFC 3339 time, or a Go duration from `base`; undefined when empty. */
function requestedTime(value: string | undefined, field: string, base: Date): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const time = tryParseTimeOrDuration(value, base);
  if (!time) throw badRequest(`invalid value ${JSON.stringify(value)} for ${field}: expected an RFC 3339 time or a duration such as 8h`);
  return time;
}

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/**
 * step-ca's validity: notBefore = the request's, or now − backdate; notAfter = the request's
 * (a duration counts from the requested notBefore, else from now), or that same start plus the
 * default duration. The bounds allow max + backdate, as step-ca's do, with its messages.
 */
export function certificateValidity(
  req: Pick<SignRequest, 'notBefore' | 'notAfter'>,
  bounds: { min: number; max: number; default: number },
  backdateMs: number,
  now: Date,
): Validity {
  const requestedStart = requestedTime(req.notBefore, 'notBefore', now);
  const start = requestedStart ?? now;
  const notBefore = wholeSeconds(requestedStart ?? new Date(now.getTime() - backdateMs));
  const notAfter = wholeSeconds(requestedTime(req.notAfter, 'notAfter', start) ?? new Date(start.getTime() + bounds.default));
  if (notAfter.getTime() < wholeSeconds(now).getTime()) throw badRequest(`notAfter cannot be in the past; notAfter=${notAfter.toISOString()}`);
  if (notAfter < notBefore) {
    throw badRequest(`notAfter cannot be before notBefore; notAfter=${notAfter.toISOString()}, notBefore=${notBefore.toISOString()}`);
  }
  // The bounds hold for the certificate's whole life, backdate included (step-ca's rule); the
  // message names the duration that was asked for, without the backdate nobody asked for.
  const duration = notAfter.getTime() - notBefore.getTime();
  const asked = notAfter.getTime() - wholeSeconds(requestedStart ?? now).getTime();
  if (duration < bounds.min) {
    throw forbidden(`requested duration of ${formatDuration(Math.max(asked, 0))} is less than the authorized minimum certificate duration of ${formatDuration(bounds.min)}`);
  }
  if (duration > bounds.max + backdateMs) {
    throw forbidden(`requested duration of ${formatDuration(asked)} is more than the authorized maximum certificate duration of ${formatDuration(bounds.max)}`);
  }
  return { notBefore, notAfter };
}
