/**
 * The authority: built once from a loaded ca.json (at start and on every reload), it holds
 * everything a request needs, prepared: the roots, the signing CA's key and certificate, and every
 * provisioner with its IdP's discovery and keys. Requests then do no file reads, no discovery and
 * no configuration parsing.
 */
import { generateKeyPair as generateKeyPairCb, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { GLOBAL_TLS_CLAIMS, dnsNamesOf, effectiveTlsDurations, type CaConfigJson, type ProvisionerJson } from '../config/ca-config.js';
import { formatDuration, tryParseDuration } from '../config/duration.js';
import { resolveIn } from '../config/paths.js';
import { isOidc, type OidcProvisionerJson } from '../config/provisioner.js';
import { CaError, describe } from '../errors.js';
import { commonNameDer, goSanOrder, issueLeaf, prepareSigningCa, type SigningCa } from '../pki/certificate.js';
import type { SubjectAltName } from '../pki/csr.js';
import { readSingle } from '../pki/der.js';
import { fingerprint } from '../pki/fingerprint.js';
import { parseCertificate } from '../pki/inspect/model.js';
import { parseSubjectPublicKeyInfo } from '../pki/inspect/keys.js';
import { verifiesWith } from '../pki/inspect/verify.js';
import { openPrivateKey } from '../pki/keys.js';
import { parsePem, toPem } from '../pki/pem.js';
import { authorizeAdmin } from './admin.js';
import type { ProvisionerIndex } from './authorize.js';
import { CrlPublisher, crlSettings } from './crl.js';
import { isJwk } from '../config/jwk.js';
import { JwkProvisioner, caAudiences } from './jwk.js';
import { renewCertificate, revokeCertificate, type LifecycleContext } from './lifecycle.js';
import { OidcProvisioner, type OidcContext } from './oidc.js';
import type { Provisioner } from './provisioner.js';
import { signRequest, type SignContext } from './sign.js';
import type { Authority, AuthorityOptions, ListedProvisioner, SignOutcome, SignRequest } from './types.js';

export type { AdminIdentity, AdminRequest } from './admin.js';
export type {
  Authority,
  AuthorityOptions,
  CrlResponse,
  ListedProvisioner,
  PeerCertificate,
  RevokeOutcome,
  RevokeRequest,
  SignOutcome,
  SignRequest,
  SignResponse,
} from './types.js';

const DEFAULT_COMMON_NAME = 'Step Online CA';
const DEFAULT_BACKDATE_MS = 60_000;
const SERVER_CERT_LIFETIME_MS = 24 * 3_600_000;

const generateKeyPair = promisify(generateKeyPairCb);

/**
 * Build an authority from a configuration. Throws a CaError for what the configuration gets
 * wrong (a missing file, a wrong password, a key that is not the certificate's, bad claims); an
 * IdP that cannot be reached only leaves its provisioner Uninitialized.
 */
export async function buildAuthority(opts: AuthorityOptions): Promise<Authority> {
  const { config, caPath } = opts;
  const roots = await readRoots(config, caPath);
  const { ca, chain } = await readSigningCa(config, caPath, opts.password);
  warnIfNotChained(ca, roots, opts.log);
  const backdateMs = backdate(config);
  checkGlobalClaims(config);

  // Copies: the caller may go on to edit its config object; this authority keeps what it was built from.
  const listed = (config.authority?.provisioners ?? []).map((p) => ({ ...p }));
  checkUnique(listed, opts.configPath);
  const globalClaims = config.authority?.claims;
  const crl = crlSettings(config);
  const jwkContext = { now: opts.now, globalClaims, audiences: caAudiences(dnsNamesOf(config)), rootFingerprints: roots.map((r) => r.fingerprint) };
  const jwks = listed.filter(isJwk).map((p) => new JwkProvisioner(p, jwkContext));
  const ctx: OidcContext = { fetch: opts.fetch, now: opts.now, log: opts.log, globalClaims };
  const oidcs = await prepareAll(listed.filter(isOidc), ctx, opts.discoverInBackground === true);
  const index: ProvisionerIndex = {
    byClientId: new Map(oidcs.map((p) => [p.clientId, p])),
    jwkByName: new Map(jwks.map((p) => [p.name, p])),
    othersByName: new Map(listed.filter((p) => !isOidc(p) && !isJwk(p)).map((p) => [p.name, p.type])),
  };
  const byName = new Map<string, Provisioner>([...oidcs, ...jwks].map((p) => [p.name, p]));

  const startedAt = Math.floor((opts.startedAt ?? opts.now()).getTime() / 1000) * 1000;
  const signing: SignContext = {
    provisioners: index,
    notIssuedBefore: config.authority?.disableIssuedAtCheck === true ? undefined : startedAt,
    ca,
    chainPems: chain,
    store: opts.store,
    now: opts.now,
    backdateMs,
  };
  const lifecycle: LifecycleContext = { ...signing, byName, globalClaims, crl: new CrlPublisher(crl, ca, opts.store, opts.now) };
  const server = serverIdentity(config);
  const adminContext = { ca, dnsNames: dnsNamesOf(config), store: opts.store, now: opts.now };

  return {
    rootsPem: roots.map((r) => r.pem),
    rootFingerprints: roots.map((r) => r.fingerprint),
    intermediatePem: ca.certificatePem,
    provisioners: () => listed.map((json) => listing(json, byName.get(json.name))),
    sign: (req: SignRequest): Promise<SignOutcome> => signRequest(req, signing),
    renew: (peer) => renewCertificate(peer, undefined, lifecycle),
    rekey: (peer, csrPem) => renewCertificate(peer, csrPem, lifecycle),
    revoke: (req) => revokeCertificate(req, lifecycle),
    crl: () => lifecycle.crl.current(),
    encryptedKey: (kid) => jwks.find((p) => p.kid === kid)?.json.encryptedKey,
    issueServerCertificate: () => issueServerCertificate(server, ca, chain, opts.now()),
    authorizeAdmin: (req) => authorizeAdmin(req, adminContext),
    close: () => oidcs.forEach((p) => p.close()),
  };
}

/** Prepare every OIDC provisioner at once; if one is misconfigured, stop the others' retries and fail. */
async function prepareAll(provisioners: OidcProvisionerJson[], ctx: OidcContext, background: boolean): Promise<OidcProvisioner[]> {
  const settled = await Promise.allSettled(provisioners.map((p) => OidcProvisioner.prepare(p, ctx, { background })));
  const ready = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    // A failed reload keeps the old authority serving: the new one's timers must not live on.
    ready.forEach((p) => p.close());
    throw failed.reason;
  }
  return ready;
}

function listing(json: ProvisionerJson, prepared: Provisioner | undefined): ListedProvisioner {
  if (prepared?.stateReason === undefined) return { ...json };
  return { ...json, state: 'Uninitialized', stateReason: prepared.stateReason ?? '' };
}

async function readConfigFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CaError('ERR_FILE_NOT_FOUND', `the ${what} ${path} does not exist`, { hint: 'check the paths in ca.json' });
    }
    throw new CaError('ERR_FILE_IO', `cannot read the ${what} ${path}: ${describe(err)}`, { cause: err });
  }
}

/** The DER of every certificate in a PEM file, first to last. */
async function readCertificates(path: string, what: string): Promise<Uint8Array[]> {
  const text = await readConfigFile(path, what);
  let blocks;
  try {
    blocks = parsePem(text, path).filter((b) => b.label === 'CERTIFICATE');
  } catch (err) {
    throw new CaError('ERR_CERT_INVALID', `the ${what} ${path} holds no PEM certificate`, { cause: err });
  }
  if (blocks.length === 0) throw new CaError('ERR_CERT_INVALID', `the ${what} ${path} holds no PEM certificate`);
  for (const block of blocks) {
    try {
      parseCertificate(block.der);
    } catch (err) {
      throw new CaError('ERR_CERT_INVALID', `the ${what} ${path} is not a valid certificate: ${describe(err)}`, { cause: err });
    }
  }
  return blocks.map((b) => b.der);
}

function configPaths(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
}

interface Root {
  der: Uint8Array;
  pem: string;
  fingerprint: string;
}

async function readRoots(config: CaConfigJson, caPath: string): Promise<Root[]> {
  const paths = configPaths(config.root);
  if (paths.length === 0) throw new CaError('ERR_CONFIG_INVALID', 'ca.json has no "root" certificate', { hint: "run 'ca init', or set \"root\" in ca.json" });
  const roots: Root[] = [];
  for (const path of paths) {
    for (const der of await readCertificates(resolveIn(caPath, path), 'root certificate')) {
      roots.push({ der, pem: toPem('CERTIFICATE', der), fingerprint: fingerprint(der) });
    }
  }
  return roots;
}

async function readSigningCa(config: CaConfigJson, caPath: string, password: string | undefined): Promise<{ ca: SigningCa; chain: string[] }> {
  if (!config.crt) throw new CaError('ERR_CONFIG_INVALID', 'ca.json has no "crt" (the intermediate certificate)');
  if (!config.key) throw new CaError('ERR_CONFIG_INVALID', 'ca.json has no "key" (the intermediate key)');
  if (/^[a-z][a-z0-9+.-]+:/i.test(config.key) && !/^[a-z]:[\\/]/i.test(config.key)) {
    throw new CaError('ERR_CONFIG_INVALID', `ca.json "key" is a KMS URI (${config.key}); this CA reads its key from a file`);
  }
  const certPath = resolveIn(caPath, config.crt);
  const keyPath = resolveIn(caPath, config.key);
  const certs = await readCertificates(certPath, 'intermediate certificate');
  const key: KeyObject = openPrivateKey(await readConfigFile(keyPath, 'intermediate key'), password, `the intermediate key ${keyPath}`);
  const ca = prepareSigningCa(certs[0]!, key, { cert: certPath, key: keyPath });
  return { ca, chain: certs.map((der) => toPem('CERTIFICATE', der)) };
}

/** A CA whose intermediate no root signed hands out chains nobody can verify: say so at start. */
function warnIfNotChained(ca: SigningCa, roots: Root[], log: AuthorityOptions['log']): void {
  const cert = ca.certificate;
  const chained = roots.some((root) => verifiesWith(cert.tbs, cert.signatureAlgorithm, cert.signature, parseCertificate(root.der).publicKey.der));
  if (!chained) log({ level: 'warn', msg: 'the intermediate certificate is not signed by any root in ca.json "root"; clients will not verify its certificates' });
}

function backdate(config: CaConfigJson): number {
  const value = config.authority?.backdate;
  if (value === undefined || value === '') return DEFAULT_BACKDATE_MS;
  const ms = typeof value === 'string' ? tryParseDuration(value) : undefined;
  if (ms === undefined || ms < 0) {
    throw new CaError('ERR_CONFIG_INVALID', `ca.json "authority.backdate" is not a duration: ${JSON.stringify(value)}`, { hint: 'use a Go duration such as 1m' });
  }
  return ms;
}

function checkGlobalClaims(config: CaConfigJson): void {
  try {
    effectiveTlsDurations(undefined, config.authority?.claims);
  } catch (err) {
    throw new CaError('ERR_CONFIG_INVALID', `ca.json "authority.claims": ${describe(err)}`, {
      cause: err,
      hint: `the defaults are ${formatDuration(GLOBAL_TLS_CLAIMS.min)} to ${formatDuration(GLOBAL_TLS_CLAIMS.max)}`,
    });
  }
}

/** Names, client IDs and JWK key ids must be unique, or a token's provisioner would be ambiguous. */
function checkUnique(provisioners: ProvisionerJson[], configPath: string): void {
  const names = new Set<string>();
  const clientIds = new Set<unknown>();
  const kids = new Set<unknown>();
  for (const p of provisioners) {
    if (names.has(p.name)) throw new CaError('ERR_CONFIG_INVALID', `${configPath}: two provisioners are named "${p.name}"`);
    names.add(p.name);
    if (isOidc(p)) {
      if (clientIds.has(p.clientID)) throw new CaError('ERR_CONFIG_INVALID', `${configPath}: two OIDC provisioners have the client ID "${p.clientID}"`);
      clientIds.add(p.clientID);
    } else if (isJwk(p) && p.key?.kid !== undefined) {
      if (kids.has(p.key.kid)) throw new CaError('ERR_CONFIG_INVALID', `${configPath}: two JWK provisioners have the key id "${String(p.key.kid)}"`);
      kids.add(p.key.kid);
    }
  }
}

interface ServerIdentity {
  subject: Uint8Array;
  sans: SubjectAltName[];
}

/** CN = ca.json `commonName` (default "Step Online CA"), SANs = `dnsNames` (default localhost and loopback). */
function serverIdentity(config: CaConfigJson): ServerIdentity {
  const dnsNames = dnsNamesOf(config);
  const commonName = typeof config.commonName === 'string' && config.commonName !== '' ? config.commonName : DEFAULT_COMMON_NAME;
  return { subject: commonNameDer(commonName), sans: goSanOrder(dnsNames.map(serverName)) };
}

/** A dnsNames entry as a SAN: an IP address (brackets removed from IPv6) or a DNS name. */
function serverName(name: string): SubjectAltName {
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  return isIP(bare) ? { type: 'ip', value: bare } : { type: 'dns', value: name };
}

/** The CA's own HTTPS certificate, as step-ca makes it in memory: a fresh P-256 key, 24 h, backdated 1 minute. */
async function issueServerCertificate(identity: ServerIdentity, ca: SigningCa, chain: string[], now: Date) {
  const { publicKey, privateKey } = await generateKeyPair('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const notBefore = new Date(now.getTime() - DEFAULT_BACKDATE_MS);
  const notAfter = new Date(Math.floor((now.getTime() + SERVER_CERT_LIFETIME_MS) / 1000) * 1000);
  const leaf = await issueLeaf(ca, {
    subject: identity.subject,
    sans: identity.sans,
    spki,
    publicKeyBits: parseSubjectPublicKeyInfo(readSingle(spki)).raw,
    keyKind: 'ec',
    notBefore,
    notAfter,
    extraExtensions: [],
  });
  return {
    certPem: leaf.pem,
    chainPem: [leaf.pem, ...chain].join(''),
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    notAfter,
  };
}
