/**
 * One-time tokens signed with a JWK provisioner's key, as `step ca token` makes them: the
 * provisioner's private key is decrypted here with its password, and the token is signed here;
 * neither the password nor the key leaves this machine. The CA checks the signature with the
 * provisioner's public key, the audience, the times, the root fingerprint, and uses `jti` once.
 */
import { randomBytes } from 'node:crypto';
import { CaError } from '../errors.js';
import { fingerprint } from '../pki/fingerprint.js';
import type { Jwk } from '../pki/jwk.js';
import { parsePem } from '../pki/pem.js';

/** step's default token lifetime. */
export const DEFAULT_TOKEN_VALIDITY_MS = 5 * 60_000;

/** The JWK provisioner as GET /provisioners lists it (or as ca.json stores it). */
export interface JwkTokenProvisioner {
  name: string;
  /** The public JWK; its `kid` goes in the token header. */
  key?: unknown;
  /** The private JWK as a JWE, decrypted with the password. */
  encryptedKey?: string;
}

export interface JwkTokenRequest {
  provisioner: JwkTokenProvisioner;
  /** The provisioner key's password. */
  password: string;
  /** `sub`: the certificate's subject, or for a revoke token the certificate's serial. */
  subject: string;
  /** `aud`: `signAudience(caUrl)` or `revokeAudience(caUrl)`. */
  audience: string;
  /**
   * `sans`: the names the certificate may have. Default `[subject]` for a sign token; a revoke
   * token (audience `.../revoke`) has none.
   */
  sans?: string[];
  /** `nbf`; default `now`. */
  notBefore?: Date;
  /** `exp`; default `notBefore` + 5 minutes. */
  notAfter?: Date;
  /** `sha`: the lowercase hex SHA-256 of the root certificate's DER (`rootFingerprintOf`). */
  rootFingerprint: string;
  /** `iat`, and the default `nbf`. */
  now: Date;
}

/** The audience of a sign token for the CA at `caUrl` (`https://host[:port]`). */
export function signAudience(caUrl: string): string {
  return `${caUrl.replace(/\/+$/, '')}/1.0/sign`;
}

/** The audience of a revoke token for the CA at `caUrl`. */
export function revokeAudience(caUrl: string): string {
  return `${caUrl.replace(/\/+$/, '')}/1.0/revoke`;
}

function isRevokeAudience(audience: string): boolean {
  return /\/revoke$/.test(audience);
}

/** The fingerprint step puts in `sha`: of the first certificate in the root file. */
export function rootFingerprintOf(rootPem: string, source: string): string {
  const first = parsePem(rootPem, source).find((b) => b.label === 'CERTIFICATE');
  if (!first) throw new CaError('ERR_CERT_INVALID', `${source} holds no certificate`);
  return fingerprint(first.der);
}

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);

/**
 * The private key of a JWK provisioner, decrypted with `password` and checked against its public
 * key (a stale `encryptedKey` would make tokens the CA cannot verify).
 */
export async function openProvisionerKey(provisioner: JwkTokenProvisioner, password: string): Promise<Jwk> {
  const where = `the key of provisioner ${provisioner.name}`;
  if (typeof provisioner.encryptedKey !== 'string' || provisioner.encryptedKey === '') {
    throw new CaError('ERR_KEY_INVALID', `provisioner ${provisioner.name} has no encrypted key`, {
      hint: "its private key is not in ca.json: add it with 'ca provisioner add NAME --type JWK --private-key FILE'",
    });
  }
  // Loaded here, not at the top: a run with a ready-made --token never needs a JOSE library.
  const { decryptJwk, jwkThumbprint, publicJwkOf } = await import('../pki/jwk.js');
  const privateJwk = await decryptJwk(provisioner.encryptedKey, password, where);
  const publicKey = provisioner.key as Jwk | undefined;
  if (publicKey && typeof publicKey.kty === 'string' && (await jwkThumbprint(publicJwkOf(privateJwk))) !== (await jwkThumbprint(publicKey))) {
    throw new CaError('ERR_KEY_INVALID', `the encrypted key of provisioner ${provisioner.name} does not match its public key`, {
      hint: 'the provisioner was edited by hand; replace it with ca provisioner remove and add',
    });
  }
  return privateJwk;
}

/**
 * Make a one-time token for a JWK provisioner. Header `{alg, kid, typ: "JWT"}`; claims `iss` =
 * the provisioner's name, `sub`, `aud`, `sans` (sign tokens), `sha`, `iat`, `nbf`, `exp`, and
 * `jti` = 64 random hex characters (what makes it single use).
 */
export async function makeJwkToken(req: JwkTokenRequest): Promise<string> {
  const revoke = isRevokeAudience(req.audience);
  if (revoke && req.sans?.length) throw new CaError('ERR_USAGE', 'a revoke token carries no names (sans)', { exitCode: 2 });
  const notBefore = req.notBefore ?? req.now;
  const notAfter = req.notAfter ?? new Date(notBefore.getTime() + DEFAULT_TOKEN_VALIDITY_MS);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new CaError('ERR_USAGE', `the token would expire (${notAfter.toISOString()}) before it is valid (${notBefore.toISOString()})`, {
      exitCode: 2,
      hint: '--not-after must be later than --not-before',
    });
  }
  const privateJwk = await openProvisionerKey(req.provisioner, req.password);
  const kid = (req.provisioner.key as Jwk | undefined)?.kid ?? privateJwk.kid;
  const claims: Record<string, unknown> = { sha: req.rootFingerprint };
  if (!revoke) claims.sans = req.sans?.length ? req.sans : [req.subject];
  const [{ SignJWT }, { privateKeyOf, signatureAlgorithm }] = await Promise.all([import('jose'), import('../pki/jwk.js')]);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: signatureAlgorithm(privateJwk), kid, typ: 'JWT' })
    .setIssuer(req.provisioner.name)
    .setSubject(req.subject)
    .setAudience(req.audience)
    .setIssuedAt(seconds(req.now))
    .setNotBefore(seconds(notBefore))
    .setExpirationTime(seconds(notAfter))
    .setJti(randomBytes(32).toString('hex'))
    .sign(privateKeyOf(privateJwk, `the key of provisioner ${req.provisioner.name}`));
}
