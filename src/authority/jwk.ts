/**
 * A JWK provisioner: tokens signed by a key whose public half is in ca.json (`key`) and whose
 * private half, encrypted with a password (`encryptedKey`), only the people who make tokens can
 * open. step-ca's default provisioner: `step ca init` creates one, `step ca token` signs with it.
 *
 * A token is checked as step-ca checks it (signature with the provisioner's key, `iss` = the
 * provisioner's name, `aud` = one of the CA's URLs for the operation, exp/nbf/iat with a minute of
 * leeway, a subject, `jti` used once), plus `sha` = one of our roots when present.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { Claims, TlsDurations } from '../config/ca-config.js';
import type { JwkProvisionerJson } from '../config/jwk.js';
import { CaError, describe } from '../errors.js';
import { provisionerExtensionDer } from '../pki/certificate.js';
import { audiencesOf, checkTokenTimes, defaultAlgorithm, algorithmFits, signatureVerifies, tokenIdOf, type DecodedJws } from './jws.js';
import {
  extensionsDisabled,
  provisionerDurations,
  renewalRules,
  unauthorized,
  type Provisioner,
  type RenewalRules,
  type RevokeGrant,
  type SignGrant,
  type TokenUse,
} from './provisioner.js';

/** go-jose's leeway, which step-ca uses for JWK tokens too. */
const LEEWAY_S = 60;
/** step's provisioner type number for JWK in the certificate extension. */
const JWK_EXTENSION_TYPE = 1;
/** The audience step's oldest clients used. */
const LEGACY_AUDIENCE = 'step-certificate-authority';

/** The URLs a token may name as its audience, per operation, compared without their port as step-ca does. */
export interface Audiences {
  sign: ReadonlySet<string>;
  revoke: ReadonlySet<string>;
}

/** `https://host/path` from any URL, its port removed; undefined for what is not a URL. */
export function withoutPort(url: string): string | undefined {
  try {
    const u = new URL(url);
    u.port = '';
    return u.href;
  } catch {
    return undefined;
  }
}

/** step-ca's audiences: `https://<dnsName>/1.0/<op>` and `https://<dnsName>/<op>` for every name. */
export function caAudiences(dnsNames: readonly string[]): Audiences {
  const hosts = dnsNames.map((name) => (isIP(name) === 6 ? `[${name}]` : name));
  const forOp = (op: string): Set<string> => {
    const set = new Set<string>([LEGACY_AUDIENCE]);
    for (const host of hosts) {
      for (const path of [`/1.0/${op}`, `/${op}`]) {
        const url = withoutPort(`https://${host}${path}`);
        if (url) set.add(url);
      }
    }
    return set;
  };
  return { sign: forOp('sign'), revoke: forOp('revoke') };
}

export interface JwkContext {
  now: () => Date;
  globalClaims: Claims | undefined;
  audiences: Audiences;
  /** Lowercase hex SHA-256 of each root: a token's `sha` must be one of them. */
  rootFingerprints: readonly string[];
}

export class JwkProvisioner implements Provisioner {
  readonly type = 'JWK';
  readonly name: string;
  readonly kid: string;
  readonly durations: TlsDurations;
  readonly renewal: RenewalRules;
  readonly extension: Uint8Array | undefined;
  readonly ready = true;
  readonly stateReason = undefined;
  /** The algorithm tokens must be signed with: the key's `alg`, else the usual one for its type. */
  readonly algorithm: string;
  private readonly key: KeyObject;

  constructor(
    readonly json: JwkProvisionerJson,
    private readonly ctx: JwkContext,
  ) {
    this.name = json.name;
    const bad = (detail: string, cause?: unknown) =>
      new CaError('ERR_CONFIG_INVALID', `JWK provisioner "${json.name}": ${detail}`, { cause, hint: 'fix its "key" in ca.json, or add it again with ca provisioner add' });
    if (!json.key || typeof json.key !== 'object') throw bad('"key" cannot be empty');
    try {
      this.key = createPublicKey({ key: json.key as never, format: 'jwk' });
    } catch (err) {
      throw bad(`"key" is not a public JWK (${describe(err)})`, err);
    }
    if (this.key.type !== 'public') throw bad('"key" must be a public key');
    const alg = typeof json.key.alg === 'string' ? json.key.alg : defaultAlgorithm(this.key);
    if (!alg || !algorithmFits(alg, this.key)) throw bad(`"key" cannot verify ${alg ?? 'any'} signatures we accept`);
    this.algorithm = alg;
    this.kid = typeof json.key.kid === 'string' ? json.key.kid : '';
    this.durations = provisionerDurations(json, ctx.globalClaims);
    this.renewal = renewalRules(json, ctx.globalClaims);
    this.extension = extensionsDisabled(json, ctx.globalClaims)
      ? undefined
      : provisionerExtensionDer({ type: JWK_EXTENSION_TYPE, name: json.name, credentialId: this.kid });
  }

  close(): void {
    // Nothing runs in the background.
  }

  /** A sign token: CN = sub, SANs = `sans` (default [sub]). */
  async authorizeSign(_token: string, jws: DecodedJws): Promise<SignGrant> {
    const { claims, use } = this.verify(jws, this.ctx.audiences.sign, 'sign');
    const subject = claims.sub as string;
    let sans = [subject];
    if (claims.sans !== undefined) {
      if (!Array.isArray(claims.sans) || claims.sans.some((s) => typeof s !== 'string' || s === '')) {
        throw unauthorized(`JWK provisioner "${this.name}": the token's "sans" claim must be a list of names`);
      }
      if (claims.sans.length > 0) sans = claims.sans as string[];
    }
    return { ...use, provisioner: this, kind: 'jwk', subject, sans };
  }

  /** A revoke token names the serial in `sub`; the request must be for that serial. */
  async authorizeRevoke(_token: string, jws: DecodedJws): Promise<RevokeGrant> {
    const { claims, use } = this.verify(jws, this.ctx.audiences.revoke, 'revoke');
    const serial = claims.sub as string;
    return { ...use, provisioner: this, serial, who: `${this.name} (JWK)` };
  }

  private verify(jws: DecodedJws, audiences: ReadonlySet<string>, op: string): { claims: Record<string, unknown>; use: TokenUse } {
    const where = `JWK provisioner "${this.name}"`;
    const { header, claims } = jws;
    if (header.alg !== this.algorithm) {
      throw unauthorized(`${where}: the token is signed with ${JSON.stringify(header.alg ?? null)}, but the provisioner's key signs with ${this.algorithm}`);
    }
    if (header.kid !== undefined && header.kid !== this.kid) {
      throw unauthorized(`${where}: the token's key id "${String(header.kid)}" is not the provisioner's ("${this.kid}")`);
    }
    if (!signatureVerifies(jws, this.algorithm, this.key)) throw unauthorized(`${where}: the token's signature does not verify with the provisioner's key`);
    checkTokenTimes(claims, this.ctx.now(), LEEWAY_S, ['exp']);
    if (claims.iss !== this.name) throw unauthorized(`${where}: invalid issuer ${JSON.stringify(claims.iss ?? null)}, expected "${this.name}"`);
    const aud = audiencesOf(claims);
    if (!aud.some((a) => audiences.has(withoutPort(a) ?? a))) {
      const wanted = [...audiences].filter((a) => a.startsWith('https://'));
      throw unauthorized(`${where}: invalid audience ${JSON.stringify(claims.aud ?? null)} for ${op}; expected one of ${wanted.join(', ')}`);
    }
    if (typeof claims.sub !== 'string' || claims.sub === '') throw unauthorized(`${where}: the token's subject ("sub") cannot be empty`);
    if (claims.sha !== undefined) {
      const sha = typeof claims.sha === 'string' ? claims.sha.toLowerCase().replace(/[-:]/g, '') : '';
      if (!this.ctx.rootFingerprints.includes(sha)) {
        throw unauthorized(`${where}: the token was made for another CA (its "sha" is not the fingerprint of this CA's root)`);
      }
    }
    if (claims.jti !== undefined && typeof claims.jti !== 'string') throw unauthorized(`${where}: the token's "jti" must be a string`);
    const exp = claims.exp as number;
    return { claims, use: { tokenId: tokenIdOf(jws, 'jti'), expiresAt: new Date((exp + LEEWAY_S) * 1000) } };
  }
}
