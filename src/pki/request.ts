import { UsageError } from '../errors.js';
import { x509 } from './crypto.js';
import { exportPkcs8, generateKeyPair, plainPrivateKeyPem, signingAlgorithm, type Curve, type KeySpec, type KeyType } from './keys.js';
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

/** A fresh key pair and a CSR signed with it. The key never leaves this machine. */
export async function createKeyAndRequest(spec: KeySpec, names: RequestNames): Promise<{ csrPem: string; keyPem: string }> {
  const keys = await generateKeyPair(spec);
  const extensions = names.sans.length ? [new x509.SubjectAlternativeNameExtension(names.sans, false)] : [];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [names.commonName] }],
    keys,
    signingAlgorithm: signingAlgorithm(keys.privateKey),
    extensions,
  });
  return { csrPem: csr.toString('pem'), keyPem: plainPrivateKeyPem(await exportPkcs8(keys.privateKey)) };
}
