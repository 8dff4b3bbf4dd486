/**
 * A certificate authority on disk for tests, built the way `ca init` builds one (createCaPair,
 * keys encrypted with a password), and the small tools the authority tests share: a clock that
 * can be moved, CSRs, and openssl to check what we issue.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CaConfigJson, ProvisionerJson } from '../../src/config/ca-config.js';
import { buildAuthority } from '../../src/authority/index.js';
import type { Authority } from '../../src/authority/types.js';
import { createCaPair } from '../../src/pki/ca.js';
import { x509 } from '../../src/pki/crypto.js';
import { encryptPrivateKey, generateKeyPair, type KeySpec } from '../../src/pki/keys.js';
import { openMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';
import type { TestIdp } from '../fixtures/idp.js';

const execFileAsync = promisify(execFile);

export const PASSWORD = 'test-password';

/** The real clock moved by `offsetMs`, so tokens from the real IdP stay valid while time is moved. */
export interface TestClock {
  now: () => Date;
  advance: (ms: number) => void;
}

export function testClock(): TestClock {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => (offset += ms) };
}

export interface CaFiles {
  dir: string;
  root: string;
  crt: string;
  key: string;
}

/** Root and intermediate as `ca init` writes them, under `dir`: certs/, secrets/ (PKCS#8, encrypted). */
export async function writeCaFiles(dir: string, password = PASSWORD): Promise<CaFiles> {
  const { root, intermediate } = await createCaPair('Test', new Date(Date.now() - 3_600_000));
  await mkdir(join(dir, 'certs'), { recursive: true });
  await mkdir(join(dir, 'secrets'), { recursive: true });
  const files = { dir, root: join(dir, 'certs/root_ca.crt'), crt: join(dir, 'certs/intermediate_ca.crt'), key: join(dir, 'secrets/intermediate_ca_key') };
  await writeFile(files.root, root.cert.toString('pem') + '\n');
  await writeFile(files.crt, intermediate.cert.toString('pem') + '\n');
  await writeFile(files.key, encryptPrivateKey(intermediate.keyPkcs8, password), { mode: 0o600 });
  return files;
}

/** An OIDC provisioner for the test IdP, as `ca provisioner add` writes it. */
export function oidcProvisioner(idp: TestIdp, overrides: Partial<ProvisionerJson> = {}): ProvisionerJson {
  return {
    type: 'OIDC',
    name: 'TestIdP',
    clientID: 'ca-cli',
    clientSecret: 'ca-cli-secret',
    configurationEndpoint: idp.discoveryUrl,
    claims: { enableSSHCA: true, disableRenewal: false, allowRenewalAfterExpiry: false, disableSmallstepExtensions: false },
    options: { x509: {}, ssh: {} },
    ...overrides,
  };
}

export function caConfig(files: CaFiles, provisioners: ProvisionerJson[], authority: Record<string, unknown> = {}): CaConfigJson {
  return {
    root: files.root,
    federatedRoots: null,
    crt: files.crt,
    key: files.key,
    address: '127.0.0.1:0',
    dnsNames: ['ca.test', '127.0.0.1'],
    authority: { provisioners, ...authority },
  };
}

export interface BuildOptions {
  clock?: TestClock;
  store?: Store;
  password?: string;
  fetch?: typeof fetch;
  log?: Record<string, unknown>[];
}

export async function build(files: CaFiles, config: CaConfigJson, opts: BuildOptions = {}): Promise<Authority> {
  const log = opts.log ?? [];
  return buildAuthority({
    config,
    configPath: join(files.dir, 'config/ca.json'),
    caPath: files.dir,
    password: opts.password ?? PASSWORD,
    fetch: opts.fetch ?? fetch,
    now: (opts.clock ?? testClock()).now,
    store: opts.store ?? openMemoryStore(),
    log: (event) => log.push(event),
  });
}

export interface CsrOptions {
  cn?: string;
  sans?: x509.JsonGeneralName[];
  key?: KeySpec;
}

/** A PEM CSR made with @peculiar/x509 (another implementation than the one that reads it). */
export async function makeCsr(opts: CsrOptions = {}): Promise<string> {
  const spec = opts.key ?? { kty: 'EC', curve: 'P-256' };
  const keys = await generateKeyPair(spec);
  const extensions = opts.sans && opts.sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(opts.sans)] : [];
  const hash = spec.curve === 'P-384' ? 'SHA-384' : spec.curve === 'P-521' ? 'SHA-512' : 'SHA-256';
  const signingAlgorithm = spec.kty === 'EC' ? { name: 'ECDSA', hash } : spec.kty === 'RSA' ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'Ed25519' };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: opts.cn === undefined ? '' : new x509.Name([{ CN: [opts.cn] }]),
    keys,
    signingAlgorithm,
    extensions,
  });
  return csr.toString('pem');
}

export async function openssl(args: string[], input?: string): Promise<string> {
  if (input === undefined) return (await execFileAsync('openssl', args, { encoding: 'utf8' })).stdout;
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(`${stderr}${err.message}`)) : resolve(stdout)));
    child.stdin?.end(input);
  });
}

/** `openssl verify -CAfile root -untrusted intermediate` on a leaf; returns openssl's output. */
export async function verifyWithOpenssl(dir: string, files: CaFiles, leafPem: string, purpose?: 'sslclient' | 'sslserver'): Promise<string> {
  const leaf = join(dir, `leaf-${Math.random().toString(36).slice(2)}.crt`);
  await writeFile(leaf, leafPem);
  return openssl(['verify', '-CAfile', files.root, '-untrusted', files.crt, ...(purpose ? ['-purpose', purpose] : []), leaf]);
}

/** openssl's text form of a certificate. */
export function certificateText(pem: string): Promise<string> {
  return openssl(['x509', '-noout', '-text'], pem);
}

export interface TestJwk {
  json: ProvisionerJson;
  privateKey: KeyObject;
  kid: string;
}

/** A JWK provisioner as `step ca init` makes one: an EC P-256 key, kid = its thumbprint (the private half kept here, not encrypted). */
export async function jwkProvisioner(name = 'admin', extra: Partial<ProvisionerJson> = {}): Promise<TestJwk> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const kid = await calculateJwkThumbprint(jwk as JWK);
  return { json: { type: 'JWK', name, key: { use: 'sig', kty: jwk.kty, kid, crv: jwk.crv, alg: 'ES256', x: jwk.x, y: jwk.y }, encryptedKey: 'not.used.in.these.tests', ...extra }, privateKey, kid };
}

/**
 * A compact JWS signed with node:crypto from the payload's exact text (so a test can write what
 * JSON.stringify cannot, such as 1e400), ES256 unless told.
 */
export function signRaw(payloadText: string, key: KeyObject, header: Record<string, unknown>): string {
  const enc = (text: string) => Buffer.from(text).toString('base64url');
  const input = `${enc(JSON.stringify(header))}.${enc(payloadText)}`;
  const signature = cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** A JWK token as `step ca token` makes one, with claims overridable (undefined removes one). */
export function jwkToken(p: TestJwk, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const all: Record<string, unknown> = {
    iss: p.json.name,
    aud: 'https://ca.test:8443/1.0/sign',
    iat: now,
    nbf: now,
    exp: now + 300,
    jti: randomBytes(32).toString('hex'),
    ...claims,
  };
  for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
  return signRaw(JSON.stringify(all), p.privateKey, { alg: 'ES256', kid: p.kid, typ: 'JWT', ...header });
}
