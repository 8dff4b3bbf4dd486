/**
 * What every provisioner gives the authority, whatever its type: who may get which names (for a
 * sign token), who may revoke (for a revoke token), the lifetimes and renewal rules in force, and
 * the extension its certificates carry. OIDC (`oidc.ts`) and JWK (`jwk.ts`) provisioners
 * implement it; `authorize.ts` finds the one a token is for.
 */
import { effectiveTlsDurations, type Claims, type ProvisionerJson, type TlsDurations } from '../config/ca-config.js';
import { CaError, describe } from '../errors.js';
import type { DecodedJws } from './jws.js';

/** The single use of a token: the key the store marks used, until when it must be remembered. */
export interface TokenUse {
  tokenId: string;
  expiresAt: Date;
}

/** What a verified sign token allows. */
export type SignGrant = TokenUse & { provisioner: Provisioner } & (
    /** An OIDC user: exactly their own identity (CN = sub, SANs = email and iss#sub). */
    | { kind: 'oidc-user'; issuer: string; subject: string; email: string | undefined }
    /** An OIDC admin: the names the request asks for. */
    | { kind: 'oidc-admin'; subject: string; email: string | undefined }
    /** A JWK token: CN = sub, SANs = the token's `sans`. */
    | { kind: 'jwk'; subject: string; sans: string[] }
  );

/** What a verified revoke token allows. */
export type RevokeGrant = TokenUse & {
  provisioner: Provisioner;
  /** The serial the token names (JWK tokens bind one); undefined for an OIDC admin, who may revoke any. */
  serial: string | undefined;
  /** Who asked, for the record: the token's subject. */
  who: string;
};

/** The renewal claims in force: the provisioner's, else the authority's, else step's defaults (false). */
export interface RenewalRules {
  disabled: boolean;
  allowAfterExpiry: boolean;
}

export interface Provisioner {
  readonly type: 'OIDC' | 'JWK';
  readonly name: string;
  readonly json: ProvisionerJson;
  /** X.509 validity bounds in force. */
  readonly durations: TlsDurations;
  readonly renewal: RenewalRules;
  /** step's provisioner extension for its certificates; undefined with disableSmallstepExtensions. */
  readonly extension: Uint8Array | undefined;
  /** False while it cannot verify tokens (an IdP that did not answer); `stateReason` says why. */
  readonly ready: boolean;
  readonly stateReason: string | undefined;
  /** Verify a sign token (its compact form and its decoded parts) and say what it allows. */
  authorizeSign(token: string, jws: DecodedJws): Promise<SignGrant>;
  /** Verify a revoke token. */
  authorizeRevoke(token: string, jws: DecodedJws): Promise<RevokeGrant>;
  /** Stop background work (key refreshes, retries). */
  close(): void;
}

/** A 401 whose message is the precise reason; the client sees it too, so it never quotes the token. */
export function unauthorized(reason: string, cause?: unknown): CaError {
  return new CaError('ERR_UNAUTHORIZED', reason, { status: 401, cause });
}

/** The durations in force for a provisioner, as a configuration error naming it when its claims are wrong. */
export function provisionerDurations(json: ProvisionerJson, globalClaims: Claims | undefined): TlsDurations {
  try {
    return effectiveTlsDurations(json.claims as Claims | undefined, globalClaims);
  } catch (err) {
    throw new CaError('ERR_CONFIG_INVALID', `provisioner "${json.name}": ${describe(err)}`, { cause: err, hint: 'fix its claims in ca.json' });
  }
}

function claimFlag(json: ProvisionerJson, globalClaims: Claims | undefined, key: 'disableRenewal' | 'allowRenewalAfterExpiry' | 'disableSmallstepExtensions'): boolean {
  const own = (json.claims as Claims | undefined)?.[key];
  if (typeof own === 'boolean') return own;
  return globalClaims?.[key] === true;
}

export function renewalRules(json: ProvisionerJson, globalClaims: Claims | undefined): RenewalRules {
  return { disabled: claimFlag(json, globalClaims, 'disableRenewal'), allowAfterExpiry: claimFlag(json, globalClaims, 'allowRenewalAfterExpiry') };
}

export function extensionsDisabled(json: ProvisionerJson, globalClaims: Claims | undefined): boolean {
  return claimFlag(json, globalClaims, 'disableSmallstepExtensions');
}

/**
 * The renewal rules for certificates without a provisioner extension (or whose provisioner is
 * gone): the authority's claims alone, as step-ca's "noop" provisioner.
 */
export function defaultRenewalRules(globalClaims: Claims | undefined): RenewalRules {
  return { disabled: globalClaims?.disableRenewal === true, allowAfterExpiry: globalClaims?.allowRenewalAfterExpiry === true };
}
