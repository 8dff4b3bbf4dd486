/**
 * Which of the CA's provisioners a command uses to get a token, as step's token flow decides:
 * the kinds this CLI can make tokens with (JWK: a key it decrypts; OIDC: a login), filtered by
 * `--provisioner` and `--kid`, labelled as step labels them. And, for a token given with
 * `--token`, which provisioner it was made for.
 */
import { CaError, UsageError } from '../errors.js';
import type { RemoteProvisioner } from './ca-client.js';

/** The provisioner fields a label needs: a stored ca.json entry or one from GET /provisioners. */
export interface LabelledProvisioner {
  type: string;
  name: string;
  clientID?: unknown;
  tenantID?: unknown;
  key?: unknown;
}

function kidOfKey(key: unknown): string {
  const kid = (key as { kid?: unknown } | undefined)?.kid;
  return typeof kid === 'string' ? kid : '';
}

/** step's label in its picker and in `✔ Provisioner:`: `admin (JWK) [kid: ...]`, `Google (OIDC) [client: ...]`. */
export function provisionerLabel(p: LabelledProvisioner): string {
  const type = p.type.toUpperCase();
  if (type === 'OIDC') return `${p.name} (OIDC) [client: ${typeof p.clientID === 'string' ? p.clientID : ''}]`;
  if (type === 'JWK') return `${p.name} (JWK) [kid: ${kidOfKey(p.key)}]`;
  if (type === 'AZURE') return `${p.name} (Azure) [tenant: ${typeof p.tenantID === 'string' ? p.tenantID : ''}]`;
  return `${p.name} (${p.type})`;
}

export function isJwkProvisioner(p: RemoteProvisioner): boolean {
  return p.type.toUpperCase() === 'JWK';
}

export function isOidcProvisioner(p: RemoteProvisioner): boolean {
  return p.type.toUpperCase() === 'OIDC';
}

/** The JWK provisioner's key id, or the OIDC provisioner's client ID: what `--kid` matches. */
export function credentialId(p: RemoteProvisioner): string {
  if (isJwkProvisioner(p)) return kidOfKey(p.key);
  return typeof p.clientID === 'string' ? p.clientID : '';
}

/**
 * The provisioners a token can come from, after `--provisioner` (by name) and `--kid` (JWK key
 * id or OIDC client ID). Throws step's errors: none configured, an unknown name, a type this CLI
 * cannot make tokens with.
 */
export function tokenProvisioners(all: RemoteProvisioner[], filter: { name?: string; kid?: string }): RemoteProvisioner[] {
  if (all.length === 0) throw new CaError('ERR_PROVISIONER_NOT_FOUND', 'cannot create a new token: the CA does not have any provisioner configured');
  const usable = all.filter((p) => isJwkProvisioner(p) || isOidcProvisioner(p));
  if (filter.name !== undefined) {
    const named = all.filter((p) => p.name === filter.name);
    if (named.length === 0) {
      throw new UsageError(`invalid value '${filter.name}' for flag '--provisioner'`, { hint: `the CA has: ${all.map((p) => p.name).join(', ')}` });
    }
    const other = named.find((p) => !usable.includes(p));
    if (other) {
      throw new UsageError(`provisioner ${other.name} is of type ${other.type}; ca gets tokens from JWK and OIDC provisioners`, {
        hint: 'for other provisioners get a token elsewhere and pass it with --token',
      });
    }
  }
  const kept = usable.filter((p) => (filter.name === undefined || p.name === filter.name) && (filter.kid === undefined || credentialId(p) === filter.kid));
  if (kept.length === 0) {
    if (filter.kid !== undefined) {
      throw new UsageError(`invalid value '${filter.kid}' for flag '--kid'`, {
        hint: `the key IDs and client IDs are: ${usable.map((p) => `${credentialId(p)} (${p.name})`).join(', ')}`,
      });
    }
    throw new CaError('ERR_PROVISIONER_NOT_FOUND', 'the CA has no JWK or OIDC provisioner to get a token from', {
      hint: "an admin adds one with 'ca provisioner add NAME --type JWK --create' or '--type OIDC ...'; or pass a token with --token",
    });
  }
  return kept;
}

/** What a token given with --token is, by its claims (step's rule: `sha` or `sans` make it a JWK token). */
export interface GivenToken {
  kind: 'jwk' | 'oidc';
  claims: Record<string, unknown>;
}

/** The claims of a compact JWT, read without verifying it (and without loading a JOSE library for it). */
function jwtPayload(token: string): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TypeError('not a compact JWS');
  const claims: unknown = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'));
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new TypeError('the payload is not a JSON object');
  return claims as Record<string, unknown>;
}

/** Decode (without verifying: the CA does) a token given with --token; an empty or broken one is a usage error. */
export function readGivenToken(token: string): GivenToken {
  if (token.trim() === '') {
    throw new UsageError('the token is empty: check the variable that holds it', {
      hint: 'pass the token itself with --token (or CA_TOKEN); leave both unset to log in instead',
    });
  }
  let claims: Record<string, unknown>;
  try {
    claims = jwtPayload(token.trim());
  } catch {
    throw new UsageError('the token is not a JWT', { hint: 'pass the token itself (three base64url parts separated by dots)' });
  }
  const kind = claims.sha !== undefined || claims.sans !== undefined ? 'jwk' : 'oidc';
  return { kind, claims };
}

function audiences(claims: Record<string, unknown>): string[] {
  const { aud } = claims;
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

/** Does the token belong to the provisioner: JWK by `iss` = name, OIDC by its client ID in `aud` or `azp`. */
export function tokenIsFor(token: GivenToken, p: RemoteProvisioner): boolean {
  if (token.kind === 'jwk') return isJwkProvisioner(p) && token.claims.iss === p.name;
  if (!isOidcProvisioner(p) || typeof p.clientID !== 'string') return false;
  return token.claims.azp === p.clientID || audiences(token.claims).includes(p.clientID);
}

/** How a token names its provisioner, for messages: its `iss`, or its `aud` (and `azp`). */
export function tokenOwnerText(token: GivenToken): string {
  if (token.kind === 'jwk') return `the token's issuer (iss) is "${String(token.claims.iss ?? '')}"`;
  const aud = audiences(token.claims);
  const azp = typeof token.claims.azp === 'string' ? ` and azp "${token.claims.azp}"` : '';
  return `the token's audience (aud) is ${aud.map((a) => `"${a}"`).join(', ') || 'empty'}${azp}`;
}

/**
 * `--provisioner NAME` with `--token`: the token must be for that provisioner. A JWK token is
 * checked by its `iss` alone; an OIDC token against the provisioner's client ID, which needs the
 * CA's list (`list`). Fails naming both sides, also when no provisioner has that name.
 */
export function checkTokenProvisioner(token: GivenToken, name: string, list: RemoteProvisioner[] | undefined): void {
  const named = list?.find((p) => p.name === name);
  if (token.kind === 'jwk' ? token.claims.iss === name : named !== undefined && tokenIsFor(token, named)) return;
  const owner = list?.find((p) => tokenIsFor(token, p));
  let flagSide = '';
  if (named && isOidcProvisioner(named)) flagSide = `${name} has the client ID "${String(named.clientID)}"; `;
  else if (named) flagSide = `${name} is a ${named.type} provisioner; `;
  else if (list) flagSide = `the CA has no provisioner named ${name}; `;
  throw new UsageError(`--provisioner ${name} does not match the token: ${flagSide}${tokenOwnerText(token)}${owner ? ` (provisioner ${owner.name})` : ''}`, {
    hint: owner ? `pass --provisioner ${owner.name}, or leave --provisioner out` : 'leave --provisioner out, or get a token from that provisioner',
  });
}
