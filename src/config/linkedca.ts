/**
 * step's "linkedca" provisioner shape: what step-ca's admin API sends and takes (the protojson of
 * linkedca.Provisioner), and the conversion both ways with the ca.json shapes the rest of the code
 * works with. OIDC and JWK provisioners are mapped field by field; other types keep their ca.json
 * fields as opaque details under their type, so they pass through an update untouched.
 */
import { CaError } from '../errors.js';
import type { Claims, ProvisionerJson } from './ca-config.js';
import { formatDuration, tryParseDuration, tryParseRfc3339 } from './duration.js';
import { CLAIMS_ORDER, ordered } from './provisioner.js';

export interface LinkedDurations {
  default?: string;
  min?: string;
  max?: string;
}

export interface LinkedClaims {
  x509?: { enabled?: boolean; durations?: LinkedDurations };
  ssh?: { enabled?: boolean; userDurations?: LinkedDurations; hostDurations?: LinkedDurations };
  disableRenewal?: boolean;
  allowRenewalAfterExpiry?: boolean;
}

export interface LinkedProvisioner {
  id?: string;
  authorityId?: string;
  type: string;
  name: string;
  details: Record<string, unknown>;
  claims?: LinkedClaims;
  x509Template?: unknown;
  sshTemplate?: unknown;
  createdAt?: string;
  deletedAt?: string;
}

/** linkedca's details key for each provisioner type (the protobuf oneof's field names). */
const DETAILS_KEY: Record<string, string> = {
  JWK: 'JWK',
  OIDC: 'OIDC',
  GCP: 'GCP',
  AWS: 'AWS',
  AZURE: 'Azure',
  ACME: 'ACME',
  X5C: 'X5C',
  K8SSA: 'K8sSA',
  SSHPOP: 'SSHPOP',
  SCEP: 'SCEP',
  NEBULA: 'Nebula',
};

const detailsKeyOf = (type: string): string => DETAILS_KEY[type.toUpperCase()] ?? type;

/** OIDC: ca.json field ↔ linkedca field. */
const OIDC_FIELDS: [string, string][] = [
  ['clientID', 'clientId'],
  ['clientSecret', 'clientSecret'],
  ['configurationEndpoint', 'configurationEndpoint'],
  ['admins', 'admins'],
  ['domains', 'domains'],
  ['groups', 'groups'],
  ['listenAddress', 'listenAddress'],
  ['tenantID', 'tenantId'],
  ['scopes', 'scopes'],
  ['authParams', 'authParams'],
];

/** Claims: which linkedca durations hold which ca.json keys. */
const DURATION_KEYS: { path: ['x509', 'durations'] | ['ssh', 'userDurations'] | ['ssh', 'hostDurations']; keys: Record<keyof LinkedDurations, string> }[] = [
  { path: ['x509', 'durations'], keys: { default: 'defaultTLSCertDuration', min: 'minTLSCertDuration', max: 'maxTLSCertDuration' } },
  { path: ['ssh', 'userDurations'], keys: { default: 'defaultUserSSHCertDuration', min: 'minUserSSHCertDuration', max: 'maxUserSSHCertDuration' } },
  { path: ['ssh', 'hostDurations'], keys: { default: 'defaultHostSSHCertDuration', min: 'minHostSSHCertDuration', max: 'maxHostSSHCertDuration' } },
];

/** ca.json fields that the linkedca shape carries outside `details`. */
const COMMON_FIELDS = new Set(['type', 'name', 'claims', 'options']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(field: string, problem: string): CaError {
  return new CaError('ERR_PROVISIONER_INVALID', `invalid provisioner: "${field}" ${problem}`, { status: 400, exitCode: 2 });
}

function goDuration(value: unknown, field: string): string {
  const ms = typeof value === 'string' ? tryParseDuration(value) : undefined;
  if (ms === undefined) throw bad(field, `is not a duration: ${JSON.stringify(value)}`);
  return formatDuration(ms);
}

function claimsToLinked(claims: Claims | undefined): LinkedClaims | undefined {
  if (!isObject(claims)) return undefined;
  const out: LinkedClaims = { x509: { enabled: true }, ssh: { enabled: claims.enableSSHCA === true } };
  for (const { path, keys } of DURATION_KEYS) {
    const durations: LinkedDurations = {};
    for (const [linked, key] of Object.entries(keys) as [keyof LinkedDurations, string][]) {
      const v = claims[key];
      if (v !== undefined && v !== null && v !== '') durations[linked] = goDuration(v, `claims.${key}`);
    }
    if (Object.keys(durations).length === 0) continue;
    const section = out[path[0]] as Record<string, unknown>;
    section[path[1]] = durations;
  }
  if (claims.disableRenewal !== undefined) out.disableRenewal = claims.disableRenewal === true;
  if (claims.allowRenewalAfterExpiry !== undefined) out.allowRenewalAfterExpiry = claims.allowRenewalAfterExpiry === true;
  return out;
}

function claimsFromLinked(value: unknown): Claims | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw bad('claims', 'must be an object');
  const claims: Claims = {};
  for (const { path, keys } of DURATION_KEYS) {
    const section = value[path[0]];
    if (section === undefined || section === null) continue;
    if (!isObject(section)) throw bad(`claims.${path[0]}`, 'must be an object');
    const durations = section[path[1]];
    if (durations === undefined || durations === null) continue;
    if (!isObject(durations)) throw bad(`claims.${path.join('.')}`, 'must be an object');
    for (const [linked, key] of Object.entries(keys) as [keyof LinkedDurations, string][]) {
      const v = durations[linked];
      if (v !== undefined && v !== null && v !== '') claims[key] = goDuration(v, `claims.${path.join('.')}.${linked}`);
    }
  }
  const ssh = value.ssh;
  if (isObject(ssh) && ssh.enabled !== undefined) {
    if (typeof ssh.enabled !== 'boolean') throw bad('claims.ssh.enabled', 'must be true or false');
    claims.enableSSHCA = ssh.enabled;
  }
  for (const key of ['disableRenewal', 'allowRenewalAfterExpiry'] as const) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'boolean') throw bad(`claims.${key}`, 'must be true or false');
    claims[key] = v;
  }
  return Object.keys(claims).length > 0 ? ordered(claims, CLAIMS_ORDER) : undefined;
}

const base64Json = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64');

function decodeBase64(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) throw bad(field, 'must be base64');
  return Buffer.from(value, 'base64').toString('utf8');
}

/** A ca.json provisioner in linkedca's shape; `meta` adds what the store keeps about it. */
export function toLinked(p: ProvisionerJson, meta: { id?: string; authorityId?: string; createdAt?: Date } = {}): LinkedProvisioner {
  const type = p.type.toUpperCase();
  let details: Record<string, unknown>;
  if (type === 'OIDC') {
    details = {};
    for (const [ours, theirs] of OIDC_FIELDS) if (p[ours] !== undefined) details[theirs] = p[ours];
  } else if (type === 'JWK') {
    details = { publicKey: base64Json(p.key) };
    if (typeof p.encryptedKey === 'string' && p.encryptedKey !== '') details.encryptedPrivateKey = Buffer.from(p.encryptedKey, 'utf8').toString('base64');
  } else {
    details = {};
    for (const [key, v] of Object.entries(p)) if (!COMMON_FIELDS.has(key)) details[key] = v;
  }
  const out: LinkedProvisioner = { type, name: p.name, details: { [detailsKeyOf(type)]: details } };
  if (meta.id !== undefined) out.id = meta.id;
  if (meta.authorityId !== undefined) out.authorityId = meta.authorityId;
  const claims = claimsToLinked(p.claims as Claims | undefined);
  if (claims) out.claims = claims;
  const options = p.options;
  if (isObject(options)) {
    if (options.x509 !== undefined) out.x509Template = options.x509;
    if (options.ssh !== undefined) out.sshTemplate = options.ssh;
  }
  if (meta.createdAt) out.createdAt = meta.createdAt.toISOString();
  // Keep the order linkedca's protojson uses.
  return ordered(out as unknown as Record<string, unknown>, ['id', 'authorityId', 'type', 'name', 'details', 'claims', 'x509Template', 'sshTemplate', 'createdAt', 'deletedAt']) as unknown as LinkedProvisioner;
}

function stringList(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw bad(field, 'must be a list of strings');
  return v as string[];
}

/**
 * A linkedca provisioner (a request body: anything) as a ca.json provisioner. Throws a CaError
 * with status 400 naming the first bad field. `id`, `authorityId`, `createdAt` and `deletedAt`
 * are not part of the ca.json shape: the caller compares them when they matter.
 */
export function fromLinked(l: unknown): ProvisionerJson {
  if (!isObject(l)) throw bad('provisioner', 'must be a JSON object');
  if (typeof l.type !== 'string' || l.type === '') throw bad('type', 'must be a provisioner type such as "OIDC" or "JWK"');
  if (typeof l.name !== 'string' || l.name.trim() === '') throw bad('name', 'must be a non-empty string');
  for (const key of ['createdAt', 'deletedAt'] as const) {
    const v = l[key];
    if (v !== undefined && v !== null && (typeof v !== 'string' || tryParseRfc3339(v) === undefined)) throw bad(key, 'must be an RFC 3339 time');
  }
  const type = l.type.toUpperCase();
  const key = detailsKeyOf(type);
  if (!isObject(l.details)) throw bad('details', `must be an object such as {"${key}": {...}}`);
  const details = l.details[key] ?? l.details[type];
  if (!isObject(details)) throw bad(`details.${key}`, `must be an object (the ${type} provisioner's settings)`);
  const p: ProvisionerJson = { type, name: l.name };
  if (type === 'OIDC') {
    for (const [ours, theirs] of OIDC_FIELDS) {
      const v = details[theirs];
      if (v === undefined || v === null) continue;
      const field = `details.OIDC.${theirs}`;
      if (['admins', 'domains', 'groups', 'scopes', 'authParams'].includes(theirs)) {
        p[ours] = stringList(v, field);
      } else {
        if (typeof v !== 'string') throw bad(field, 'must be a string');
        p[ours] = v;
      }
    }
    if (typeof p.clientID !== 'string' || p.clientID === '') throw bad('details.OIDC.clientId', 'is required');
    if (typeof p.configurationEndpoint !== 'string' || p.configurationEndpoint === '') throw bad('details.OIDC.configurationEndpoint', 'is required');
    p.clientSecret ??= '';
  } else if (type === 'JWK') {
    let jwk: unknown;
    try {
      jwk = JSON.parse(decodeBase64(details.publicKey, 'details.JWK.publicKey'));
    } catch (err) {
      if (err instanceof CaError) throw err;
      throw bad('details.JWK.publicKey', 'must be base64 of a JWK (JSON)');
    }
    if (!isObject(jwk) || typeof jwk.kty !== 'string') throw bad('details.JWK.publicKey', 'must be base64 of a JWK with a "kty"');
    p.key = jwk;
    if (details.encryptedPrivateKey !== undefined && details.encryptedPrivateKey !== null && details.encryptedPrivateKey !== '') {
      const jwe = decodeBase64(details.encryptedPrivateKey, 'details.JWK.encryptedPrivateKey');
      if (jwe.split('.').length !== 5) throw bad('details.JWK.encryptedPrivateKey', 'must be base64 of a compact JWE');
      p.encryptedKey = jwe;
    }
  } else {
    for (const [k, v] of Object.entries(details)) if (!COMMON_FIELDS.has(k)) p[k] = v;
  }
  const claims = claimsFromLinked(l.claims);
  if (claims) p.claims = claims;
  const options: Record<string, unknown> = {};
  if (l.x509Template !== undefined && l.x509Template !== null) options.x509 = l.x509Template;
  if (l.sshTemplate !== undefined && l.sshTemplate !== null) options.ssh = l.sshTemplate;
  if (Object.keys(options).length > 0) p.options = options;
  return p;
}
