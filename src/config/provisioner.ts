import { isIP } from 'node:net';
import { CaError, UsageError, listFlags } from '../errors.js';
import { claimFieldLabel, effectiveTlsDurations, type ClaimLabel, type Claims, type ProvisionerJson, type TlsClaimKey } from './ca-config.js';
import { formatDuration, parseDuration } from './duration.js';

/** The provisioner types step knows; ca signs with OIDC ones and keeps the others as they are. */
export const STEP_PROVISIONER_TYPES = ['JWK', 'ACME', 'OIDC', 'SSHPOP', 'K8SSA', 'NEBULA', 'SCEP', 'AWS', 'GCP', 'AZURE', 'X5C'];

/** An OIDC provisioner as step-ca stores it in ca.json. */
export interface OidcProvisionerJson extends ProvisionerJson {
  type: 'OIDC';
  clientID: string;
  clientSecret: string;
  configurationEndpoint: string;
  tenantID?: string;
  admins?: string[];
  domains?: string[];
  groups?: string[];
  listenAddress?: string;
  claims?: Claims;
  options?: { [key: string]: unknown };
  scopes?: string[];
  authParams?: string[];
}

/** step-ca's field order for an OIDC provisioner; fields it does not know follow in their own order. */
const OIDC_FIELD_ORDER = [
  'type', 'name', 'clientID', 'clientSecret', 'configurationEndpoint', 'tenantID', 'admins', 'domains', 'groups',
  'listenAddress', 'claims', 'options', 'scopes', 'authParams',
];
export const CLAIMS_ORDER = [
  'minTLSCertDuration', 'maxTLSCertDuration', 'defaultTLSCertDuration',
  'minUserSSHCertDuration', 'maxUserSSHCertDuration', 'defaultUserSSHCertDuration',
  'minHostSSHCertDuration', 'maxHostSSHCertDuration', 'defaultHostSSHCertDuration',
  'enableSSHCA', 'disableRenewal', 'allowRenewalAfterExpiry', 'disableSmallstepExtensions',
];
const OMIT_WHEN_EMPTY = new Set(['tenantID', 'admins', 'domains', 'groups', 'listenAddress', 'claims', 'options', 'scopes', 'authParams']);

/** `obj` with the keys in `order` first (as step encodes them), then any others in their own order; undefined left out. */
export function ordered<T extends Record<string, unknown>>(obj: T, order: string[]): T {
  const out: Record<string, unknown> = {};
  for (const key of order) if (obj[key] !== undefined) out[key] = obj[key];
  for (const key of Object.keys(obj)) if (!(key in out) && obj[key] !== undefined) out[key] = obj[key];
  return out as T;
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
}

/** Put an OIDC provisioner in step-ca's shape: its field order, empty optional fields left out. */
export function normalizeOidc(p: OidcProvisionerJson): OidcProvisionerJson {
  const copy: Record<string, unknown> = { ...p };
  for (const key of OMIT_WHEN_EMPTY) if (isEmpty(copy[key])) delete copy[key];
  copy.clientSecret ??= '';
  if (copy.claims && typeof copy.claims === 'object') copy.claims = ordered(copy.claims as Claims, CLAIMS_ORDER);
  return ordered(copy as OidcProvisionerJson, OIDC_FIELD_ORDER);
}

/** The claims flags `ca provisioner add|update` share for every type, as step names them. */
export interface ClaimChanges {
  x509MinDur?: string;
  x509MaxDur?: string;
  x509DefaultDur?: string;
  disableRenewal?: boolean;
  allowRenewalAfterExpiry?: boolean;
}

/** What `ca provisioner add|update` was asked to change on an OIDC provisioner, flag by flag. */
export interface OidcChanges extends ClaimChanges {
  name?: string;
  clientId?: string;
  clientSecret?: string;
  configurationEndpoint?: string;
  tenantId?: string;
  listenAddress?: string;
  admins?: string[];
  removeAdmins?: string[];
  domains?: string[];
  removeDomains?: string[];
  groups?: string[];
  removeGroups?: string[];
  scopes?: string[];
  removeScopes?: string[];
  authParams?: string[];
  removeAuthParams?: string[];
}

/** step's list edits: removals first (exact match), then appends; we also drop repeats. */
function editList(current: string[] | undefined, add: string[] = [], remove: string[] = []): string[] {
  const kept = (current ?? []).filter((v) => !remove.includes(v));
  for (const v of add) if (!kept.includes(v)) kept.push(v);
  return kept;
}

function normalizedDuration(text: string, flag: string): string {
  return formatDuration(parseDuration(text, `flag '${flag}'`));
}

/** The claims `step ca provisioner add` writes for a new provisioner of any type, before its flags apply. */
export function newProvisionerClaims(): Claims {
  return { enableSSHCA: true, disableRenewal: false, allowRenewalAfterExpiry: false, disableSmallstepExtensions: false };
}

/** A new OIDC provisioner from `ca provisioner add` flags, as `step ca provisioner add` writes it. */
export function newOidcProvisioner(name: string, c: OidcChanges): OidcProvisionerJson {
  const { clientId, configurationEndpoint } = c;
  if (!clientId || !configurationEndpoint) {
    const missing = [clientId ? undefined : '--client-id', configurationEndpoint ? undefined : '--configuration-endpoint'].filter((f) => f !== undefined);
    throw new UsageError(`'--type OIDC' requires the ${listFlags(missing)} flag${missing.length > 1 ? 's' : ''}`, {
      hint: 'e.g. --client-id ID --configuration-endpoint https://accounts.google.com/.well-known/openid-configuration',
    });
  }
  const base: OidcProvisionerJson = {
    type: 'OIDC',
    name,
    clientID: clientId,
    clientSecret: c.clientSecret ?? '',
    configurationEndpoint,
    claims: newProvisionerClaims(),
    options: { x509: {}, ssh: {} },
  };
  return applyOidcChanges(base, { ...c, name: undefined });
}

/**
 * Apply the claims flags to a provisioner's claims (a new object): durations normalised as Go
 * prints them, the renewal switches as given. Untouched when no claims flag was given.
 */
export function applyClaimChanges(claims: Claims | undefined, c: ClaimChanges): Claims | undefined {
  let next = claims ? { ...claims } : undefined;
  for (const [key, { change, flag }] of Object.entries(DURATION_FLAGS) as [TlsClaimKey, (typeof DURATION_FLAGS)[TlsClaimKey]][]) {
    const value = c[change];
    if (value === undefined) continue;
    next ??= {};
    next[key] = normalizedDuration(value, flag);
  }
  if (c.disableRenewal !== undefined) (next ??= {}).disableRenewal = c.disableRenewal;
  if (c.allowRenewalAfterExpiry !== undefined) (next ??= {}).allowRenewalAfterExpiry = c.allowRenewalAfterExpiry;
  return next ? ordered(next, CLAIMS_ORDER) : undefined;
}

/** Apply `ca provisioner update` flags to a stored OIDC provisioner (a new object; fields we do not know are kept). */
export function applyOidcChanges(p: OidcProvisionerJson, c: OidcChanges): OidcProvisionerJson {
  const next: OidcProvisionerJson = { ...p, claims: applyClaimChanges(p.claims, c) };
  if (c.name !== undefined) next.name = c.name;
  if (c.clientId !== undefined) next.clientID = c.clientId;
  if (c.clientSecret !== undefined) next.clientSecret = c.clientSecret;
  if (c.configurationEndpoint !== undefined) next.configurationEndpoint = c.configurationEndpoint;
  if (c.tenantId !== undefined) next.tenantID = c.tenantId;
  if (c.listenAddress !== undefined) next.listenAddress = c.listenAddress;
  next.admins = editList(p.admins, c.admins, c.removeAdmins);
  next.domains = editList(p.domains, c.domains, c.removeDomains);
  next.groups = editList(p.groups, c.groups, c.removeGroups);
  next.scopes = editList(p.scopes, c.scopes, c.removeScopes);
  next.authParams = editList(p.authParams, c.authParams, c.removeAuthParams);
  return normalizeOidc(next);
}

/** The flags that set each X.509 duration claim. */
const DURATION_FLAGS: Record<TlsClaimKey, { change: 'x509MinDur' | 'x509MaxDur' | 'x509DefaultDur'; flag: string }> = {
  minTLSCertDuration: { change: 'x509MinDur', flag: '--x509-min-dur' },
  maxTLSCertDuration: { change: 'x509MaxDur', flag: '--x509-max-dur' },
  defaultTLSCertDuration: { change: 'x509DefaultDur', flag: '--x509-default-dur' },
};

/** Duration messages for `ca provisioner add|update`: a value set by a flag now is named by that flag. */
export function claimFlagLabel(changes: ClaimChanges): ClaimLabel {
  return (key, from) => {
    if (from !== 'provisioner') return claimFieldLabel(key, from);
    const { change, flag } = DURATION_FLAGS[key];
    return changes[change] !== undefined ? flag : `the provisioner's claims.${key}`;
  };
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** A host that is this machine (`http://` is allowed there for discovery: a local test IdP). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (LOOPBACK_NAMES.has(h) || h.endsWith('.localhost')) return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * An endpoint a discovery document lists, for the CA and the CLI alike: https, or http on a
 * loopback host (a local IdP). An http URL elsewhere usually means the IdP does not know its
 * public https address (behind a TLS-terminating proxy); keys and credentials must not travel
 * over it, so it is refused by name.
 */
export function checkDiscoveredEndpoint(field: string, value: string, documentUrl: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url && (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))) return;
  throw new CaError('ERR_DISCOVERY', `the identity provider's discovery document ${documentUrl} lists "${field}": "${value}", which is not an https URL (http is accepted on loopback hosts only)`, {
    status: 502,
    hint: "the identity provider's public URL is misconfigured (behind a TLS-terminating proxy it must still announce https): fix it there",
  });
}

/** The discovery URL: the endpoint, with `/.well-known/openid-configuration` added unless it is there. */
export function discoveryUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.includes('/.well-known/openid-configuration')) {
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  }
  return url.toString();
}

/** https only, except http for loopback hosts (a local test IdP): an ID token's keys must not come over plain http. */
export function checkConfigurationEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`invalid value '${endpoint}' for flag '--configuration-endpoint': not a URL`, {
      hint: 'use the https URL of the identity provider, e.g. https://accounts.google.com/.well-known/openid-configuration',
    });
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  throw new UsageError(`invalid value '${endpoint}' for flag '--configuration-endpoint': must use https`, {
    hint: 'http is accepted only for loopback hosts (127.0.0.1, ::1, localhost)',
  });
}

/**
 * `host:port` as Go's SplitHostPort takes it: host may be empty or a bracketed IPv6 address.
 * The hint says what the address is for: by default a login callback's.
 */
export function checkListenAddress(value: string, flag = '--listen-address', hint = "for example 127.0.0.1:10000 or :10000 (the port the browser returns to on the user's machine)"): void {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`invalid value '${value}' for flag '${flag}': expected host:port`, { hint });
}

/**
 * The hosts a login callback may listen on: this machine's loopback, where the browser returns
 * (an empty host, as in step's ":10000", means loopback; `localhost`; 127.x.x.x; `[::1]`).
 */
export function isLoopbackListenHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === '' || h === 'localhost' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * A login callback address: `host:port` on a loopback host. It is where the browser returns on
 * each user's machine, so any other host (the CA's, 10.0.0.1, 0.0.0.0) breaks every login.
 */
export function checkLoopbackListenAddress(value: string, flag = '--listen-address'): void {
  checkListenAddress(value, flag);
  const colon = value.lastIndexOf(':');
  const port = value.slice(colon + 1);
  if (!isLoopbackListenHost(value.slice(0, colon))) {
    throw new UsageError(`invalid value '${value}' for flag '${flag}': the login callback listens on a loopback address only (on each user's machine)`, {
      hint: `use 127.0.0.1:${port}, localhost:${port} or :${port} (the browser returns to this address on the machine it runs on, not to the CA)`,
    });
  }
}

/**
 * With --no-check nothing fetches the endpoint, and step-ca adds /.well-known/openid-configuration
 * to a path without it: only the discovery document's own URL is certain to work.
 */
export function checkUncheckedEndpoint(endpoint: string): void {
  const url = new URL(endpoint);
  if (url.pathname.endsWith('/.well-known/openid-configuration') && url.search === '' && url.hash === '') return;
  throw new UsageError(`invalid value '${endpoint}' for flag '--configuration-endpoint': with --no-check it must be the discovery document's URL, ending in /.well-known/openid-configuration`, {
    hint: `pass ${discoveryUrl(`${url.origin}${url.pathname}`)} if that is the provider's, or drop --no-check to have it fetched and checked`,
  });
}

function checkAuthParams(params: string[] | undefined): void {
  for (const p of params ?? []) {
    if (!/^[^=\s]+=/.test(p)) {
      throw new UsageError(`invalid value '${p}' for flag '--auth-param': expected key=value`, { hint: 'for example --auth-param prompt=select_account' });
    }
  }
}

function checkNonEmpty(values: string[] | undefined, flag: string): void {
  for (const v of values ?? []) if (v.trim() === '') throw new UsageError(`invalid value '' for flag '${flag}': cannot be empty`);
}

/**
 * Check one OIDC provisioner against the rest of the list, with step's messages: the fields it
 * needs, the endpoint, the listen address, the durations, and unique name and client ID.
 */
export function validateOidcProvisioner(p: OidcProvisionerJson, others: ProvisionerJson[], globalClaims: Claims | undefined, label?: ClaimLabel): void {
  if (!p.name || p.name.trim() === '') throw new UsageError('provisioner name cannot be empty');
  if (!p.clientID) throw new UsageError(`'--type OIDC' requires the '--client-id' flag`);
  if (!p.configurationEndpoint) throw new UsageError(`'--type OIDC' requires the '--configuration-endpoint' flag`);
  checkConfigurationEndpoint(p.configurationEndpoint);
  if (p.listenAddress) checkLoopbackListenAddress(p.listenAddress);
  checkAuthParams(p.authParams);
  checkNonEmpty(p.admins, '--admin');
  checkNonEmpty(p.domains, '--domain');
  checkNonEmpty(p.groups, '--group');
  checkNonEmpty(p.scopes, '--scope');
  effectiveTlsDurations(p.claims, globalClaims, label);
  checkUniqueName(p, others);
  for (const other of others) {
    if (other.type.toUpperCase() === 'OIDC' && other.clientID === p.clientID) {
      throw new CaError('ERR_PROVISIONER_EXISTS', `provisioner with token ID ${p.clientID} already exists`, {
        hint: `provisioner "${other.name}" already uses this client ID`,
      });
    }
  }
}

/** step's rule for every type: a name is used once. */
export function checkUniqueName(p: ProvisionerJson, others: ProvisionerJson[]): void {
  if (!p.name || p.name.trim() === '') throw new UsageError('provisioner name cannot be empty');
  if (others.some((other) => other.name === p.name)) {
    throw new CaError('ERR_PROVISIONER_EXISTS', `provisioner with name ${p.name} already exists`, {
      hint: `choose another name, or change it with 'ca provisioner update ${p.name}'`,
    });
  }
}

/** Find a provisioner by name, or fail with a message that says how to see the names. */
export function findProvisioner(list: ProvisionerJson[], name: string, configPath: string): number {
  const index = list.findIndex((p) => p.name === name);
  if (index < 0) {
    throw new CaError('ERR_PROVISIONER_NOT_FOUND', `provisioner ${name} not found in ${configPath}`, {
      hint: "'ca provisioner list' shows the names",
    });
  }
  return index;
}

export function isOidc(p: ProvisionerJson): p is OidcProvisionerJson {
  return typeof p.type === 'string' && p.type.toUpperCase() === 'OIDC';
}
