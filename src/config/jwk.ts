/**
 * JWK provisioners in ca.json, as step-ca stores them: a public key (`key`, with its `kid`), the
 * private key encrypted with a password (`encryptedKey`, a compact JWE), claims and options. Who
 * holds the password can make one-time tokens (`ca token`) that the CA accepts for the names in
 * them: services, scripts, CI jobs without an identity provider.
 */
import { CaError, UsageError } from '../errors.js';
import { effectiveTlsDurations, type ClaimLabel, type Claims, type ProvisionerJson } from './ca-config.js';
import { applyClaimChanges, checkUniqueName, newProvisionerClaims, ordered, type ClaimChanges } from './provisioner.js';

/** The public key of a JWK provisioner (a JWK: `kty`, `kid`, `use`, `alg` and the key's members). */
export interface ProvisionerKey {
  kty: string;
  kid?: string;
  [member: string]: unknown;
}

export interface JwkProvisionerJson extends ProvisionerJson {
  type: 'JWK';
  key: ProvisionerKey;
  /** The private JWK as a compact JWE; absent when only the public key was given. */
  encryptedKey?: string;
  claims?: Claims;
  options?: { [key: string]: unknown };
}

/** What `ca provisioner update` may change on a JWK provisioner. */
export interface JwkChanges extends ClaimChanges {
  name?: string;
}

/** step-ca's field order for a JWK provisioner (authority/provisioner/jwk.go). */
const JWK_FIELD_ORDER = ['type', 'name', 'key', 'encryptedKey', 'claims', 'options'];

export function isJwk(p: ProvisionerJson): p is JwkProvisionerJson {
  return typeof p.type === 'string' && p.type.toUpperCase() === 'JWK';
}

/** The key id of a JWK provisioner; '' when its key has none. */
export function kidOf(p: ProvisionerJson): string {
  const kid = (p.key as ProvisionerKey | undefined)?.kid;
  return typeof kid === 'string' ? kid : '';
}

function normalizeJwk(p: JwkProvisionerJson): JwkProvisionerJson {
  const copy: Record<string, unknown> = { ...p };
  for (const key of ['encryptedKey', 'claims', 'options']) if (copy[key] === undefined || copy[key] === '') delete copy[key];
  return ordered(copy as JwkProvisionerJson, JWK_FIELD_ORDER);
}

/**
 * A new JWK provisioner. `ca init` writes it bare, as `step ca init` does; `ca provisioner add`
 * (`fromAdd`) adds step's default claims and empty options, then the claims flags.
 */
export function newJwkProvisioner(
  name: string,
  key: ProvisionerKey,
  encryptedKey: string | undefined,
  opts: { fromAdd: boolean; changes?: ClaimChanges } = { fromAdd: false },
): JwkProvisionerJson {
  const base: JwkProvisionerJson = { type: 'JWK', name, key, encryptedKey };
  if (opts.fromAdd) {
    base.claims = newProvisionerClaims();
    base.options = { x509: {}, ssh: {} };
  }
  return applyJwkChanges(base, opts.changes ?? {});
}

/** Apply `ca provisioner update` flags to a stored JWK provisioner (a new object; unknown fields kept). */
export function applyJwkChanges(p: JwkProvisionerJson, c: JwkChanges): JwkProvisionerJson {
  const next: JwkProvisionerJson = { ...p, claims: applyClaimChanges(p.claims, c) };
  if (c.name !== undefined) next.name = c.name;
  return normalizeJwk(next);
}

/**
 * Check one JWK provisioner against the others: a name, a key with a kid, valid durations, and
 * a name and a kid no other provisioner has (a token names its provisioner by `iss` and its key
 * by `kid`, and the CA serves the encrypted key by kid).
 */
export function validateJwkProvisioner(p: JwkProvisionerJson, others: ProvisionerJson[], globalClaims: Claims | undefined, label?: ClaimLabel): void {
  if (!p.key || typeof p.key !== 'object' || typeof p.key.kty !== 'string') throw new UsageError('provisioner key cannot be empty');
  const kid = kidOf(p);
  if (!kid) throw new UsageError(`provisioner ${p.name}: the key has no "kid"`);
  if (p.encryptedKey !== undefined && (typeof p.encryptedKey !== 'string' || p.encryptedKey.split('.').length !== 5)) {
    throw new UsageError(`provisioner ${p.name}: "encryptedKey" is not a compact JWE`);
  }
  effectiveTlsDurations(p.claims, globalClaims, label);
  checkUniqueName(p, others);
  const sameKey = others.find((other) => isJwk(other) && kidOf(other) === kid);
  if (sameKey) {
    throw new CaError('ERR_PROVISIONER_EXISTS', `provisioner with kid ${kid} already exists: it is the key of provisioner ${sameKey.name}`, {
      hint: 'each JWK provisioner needs its own key: make a new one with --create',
    });
  }
}
