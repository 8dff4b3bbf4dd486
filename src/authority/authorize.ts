/**
 * From a token to a grant: find the provisioner the token is for (as step-ca does), let it verify
 * the token and apply its rules. The grant names the key that makes the token single use; the
 * store marks it used together with what the token paid for.
 */
import { audiencesOf, decodeJws, type DecodedJws } from './jws.js';
import type { JwkProvisioner } from './jwk.js';
import type { OidcProvisioner } from './oidc.js';
import { unauthorized, type Provisioner, type RevokeGrant, type SignGrant } from './provisioner.js';

/** The provisioners a token may be for, prepared once per authority. */
export interface ProvisionerIndex {
  /** OIDC provisioners by client ID. */
  byClientId: ReadonlyMap<string, OidcProvisioner>;
  /** JWK provisioners by name (a JWK token's `iss`). */
  jwkByName: ReadonlyMap<string, JwkProvisioner>;
  /** Provisioners of other types by name, with their type, to say why their tokens are refused. */
  othersByName: ReadonlyMap<string, string>;
}

export interface AuthorizeContext {
  provisioners: ProvisionerIndex;
  /**
   * Tokens issued before this time (ms, whole seconds) are refused, as step-ca refuses tokens
   * from before its start; undefined with `authority.disableIssuedAtCheck`. Unlike step-ca a
   * reload keeps the time: the used-token record survives it, and a token minted a moment before
   * an admin's SIGHUP must still work.
   */
  notIssuedBefore: number | undefined;
}

/** Verify a sign token and apply its provisioner's rules. Every failure is a 401 CaError with the precise reason. */
export async function authorizeSign(token: string, ctx: AuthorizeContext): Promise<SignGrant> {
  const jws = decodeJws(token);
  const grant = await findProvisioner(jws, ctx.provisioners).authorizeSign(token, jws);
  checkIssuedAt(jws, ctx);
  return grant;
}

/** Verify a revoke token: a JWK token for /revoke, or an OIDC admin's ID token. */
export async function authorizeRevoke(token: string, ctx: AuthorizeContext): Promise<RevokeGrant> {
  const jws = decodeJws(token);
  const grant = await findProvisioner(jws, ctx.provisioners).authorizeRevoke(token, jws);
  checkIssuedAt(jws, ctx);
  return grant;
}

/**
 * step-ca's bootstrap check, after the token itself verified: an expired or forged token is
 * reported as such, not as "issued before the bootstrap".
 */
function checkIssuedAt(jws: DecodedJws, ctx: AuthorizeContext): void {
  const iat = jws.claims.iat;
  if (ctx.notIssuedBefore !== undefined && typeof iat === 'number' && iat * 1000 < ctx.notIssuedBefore) {
    throw unauthorized(
      `token issued before the bootstrap of certificate authority (iat ${new Date(iat * 1000).toISOString()}, the CA started at ${new Date(ctx.notIssuedBefore).toISOString()})`,
    );
  }
}

/**
 * step-ca's lookup: a token whose `iss` names a JWK provisioner is that provisioner's; otherwise
 * an OIDC token, found by `azp` as the client ID, then the first audience.
 */
export function findProvisioner(jws: DecodedJws, index: ProvisionerIndex): Provisioner {
  const { claims, header } = jws;
  if (typeof header.alg !== 'string') throw unauthorized('the token is not a JWT: its header has no "alg"');
  const iss = typeof claims.iss === 'string' ? claims.iss : undefined;
  const jwk = iss === undefined ? undefined : index.jwkByName.get(iss);
  if (jwk) return jwk;
  const audiences = audiencesOf(claims);
  for (const candidate of [claims.azp, audiences[0]]) {
    const found = typeof candidate === 'string' ? index.byClientId.get(candidate) : undefined;
    if (found) return found;
  }
  const otherType = iss === undefined ? undefined : index.othersByName.get(iss);
  const why = otherType ? `; the token is for the ${otherType} provisioner "${iss}", which this CA does not sign with` : '';
  throw unauthorized(`provisioner not found or invalid audience (iss ${JSON.stringify(claims.iss ?? null)}, azp ${JSON.stringify(claims.azp ?? null)}, aud ${JSON.stringify(claims.aud ?? null)})${why}`);
}
