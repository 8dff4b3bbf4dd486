/**
 * From a token to a caller: find the provisioner the token is for (as step-ca does), let it
 * verify the token and apply its rules, and name the key that makes it single use (the store
 * marks it used together with the certificate's record).
 */
import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { CaError } from '../errors.js';
import { unauthorized, type OidcIdentity, type OidcProvisioner } from './oidc.js';

/** The provisioners a token may be for, prepared once per authority. */
export interface ProvisionerIndex {
  /** OIDC provisioners by client ID. */
  byClientId: ReadonlyMap<string, OidcProvisioner>;
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

/** A caller whose token checked out, with the key that makes the token single-use. */
export interface AuthorizedToken extends OidcIdentity {
  /** The token's nonce, or the lowercase hex SHA-256 of the token when it has none (step-ca's key). */
  tokenId: string;
}

/** Verify a token and apply its provisioner's rules. Every failure is a 401 CaError with the precise reason. */
export async function authorizeToken(token: string, ctx: AuthorizeContext): Promise<AuthorizedToken> {
  const { header, claims } = decode(token);
  if (ctx.notIssuedBefore !== undefined && typeof claims.iat === 'number' && claims.iat * 1000 < ctx.notIssuedBefore) {
    throw unauthorized(`token issued before the bootstrap of certificate authority (iat ${claims.iat})`);
  }
  const provisioner = findProvisioner(claims, ctx.provisioners);
  const identity = await provisioner.authorize(token, { alg: header.alg ?? '', kid: header.kid });
  return { ...identity, tokenId: tokenId(token, identity.claims) };
}

/**
 * Mark the token used until it expires; a second use is a 401 `token already used`. Called once
 * everything else about the request has passed, so a request refused for another reason leaves
 * the token usable.
 */
export function tokenAlreadyUsed(token: AuthorizedToken): CaError {
  return unauthorized(`token already used (provisioner "${token.provisioner.name}", sub "${token.subject}")`);
}

function decode(token: string): { header: ProtectedHeaderParameters; claims: JWTPayload } {
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  } catch (err) {
    throw unauthorized(`the token is not a JWT: ${(err as Error).message}`, err);
  }
}

/** step-ca's lookup for OIDC tokens: `azp` as the client ID, then the first audience. */
export function findProvisioner(claims: JWTPayload, index: ProvisionerIndex): OidcProvisioner {
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  for (const candidate of [claims.azp, audiences[0]]) {
    const found = typeof candidate === 'string' ? index.byClientId.get(candidate) : undefined;
    if (found) return found;
  }
  const otherType = typeof claims.iss === 'string' ? index.othersByName.get(claims.iss) : undefined;
  const why = otherType ? `; the token is for the ${otherType} provisioner "${String(claims.iss)}", which this CA does not sign with` : '';
  throw unauthorized(`provisioner not found or invalid audience (azp ${JSON.stringify(claims.azp ?? null)}, aud ${JSON.stringify(claims.aud ?? null)})${why}`);
}

/**
 * The single-use key: the nonce, else a hash of the signed part only. The signature's base64url
 * has spare bits that verify either way, so hashing the whole token would let one token pass as
 * several.
 */
export function tokenId(token: string, claims: JWTPayload): string {
  const nonce = claims.nonce;
  if (typeof nonce === 'string' && nonce !== '') return nonce;
  return createHash('sha256').update(token.slice(0, token.lastIndexOf('.'))).digest('hex');
}
