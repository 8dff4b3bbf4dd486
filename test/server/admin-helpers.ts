/**
 * Remote administration in tests: a CA made by the real `ca init` with `authority.enableAdmin`,
 * admin certificates got the way an admin gets one (a JWK token for the subject → /1.0/sign), and
 * admin requests with step's x5c admin tokens.
 */
import { webcrypto } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeAdminToken } from '../../src/client/admin-token.js';
import type { ProvisionerJson } from '../../src/config/ca-config.js';
import { makeJwkToken, rootFingerprintOf, signAudience } from '../../src/client/token.js';
import { generateProvisionerKey, encryptJwk } from '../../src/pki/jwk.js';
import { x509 } from '../../src/pki/crypto.js';
import { SQLITE_FILE } from '../../src/store/index.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { testdir } from '../helpers/testdir.js';
import { JWK_PROVISIONER, PASSWORD, json, type CaHome, type Response, type Serving } from './helpers.js';

/** `ca init` (JWK provisioner `admin`, password PASSWORD, SQLite) with `enableAdmin` set by hand, or by `--remote-management`. */
export async function createAdminHome(opts: { initArgs?: string[]; enableByHand?: boolean } = {}): Promise<CaHome> {
  const d = await testdir({ 'pw.txt': `${PASSWORD}\n` });
  const caPath = d.path('ca');
  const env = { CA_PATH: caPath };
  const cli = async (args: string[], o: { allowFail?: boolean } = {}): Promise<CliResult> => {
    const res = await runCli(args, { env });
    if (res.code !== 0 && !o.allowFail) throw new Error(`ca ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    return res;
  };
  await cli(['init', '--name', 'Admin Test', '--dns', 'localhost', '--dns', '127.0.0.1', '--address', '127.0.0.1:0', '--password-file', d.path('pw.txt'), ...(opts.initArgs ?? [])]);
  const configPath = `${caPath}/config/ca.json`;
  if (opts.enableByHand ?? true) {
    const config = JSON.parse(await readFile(configPath, 'utf8')) as { authority: Record<string, unknown> };
    config.authority.enableAdmin = true;
    await writeFile(configPath, JSON.stringify(config, null, '\t'));
  }
  const rootFile = `${caPath}/certs/root_ca.crt`;
  return {
    dir: d.dir,
    caPath,
    configPath,
    passwordFile: d.path('pw.txt'),
    rootFile,
    intermediateFile: `${caPath}/certs/intermediate_ca.crt`,
    rootPem: await readFile(rootFile, 'utf8'),
    env,
    cli,
    cleanup: d.cleanup,
  };
}

/** A key and the chain the CA issued for it: what an admin holds after logging in. */
export interface AdminCredentials {
  subject: string;
  keyPem: string;
  chainPem: string;
}

export interface JwkProvisionerSecret {
  name: string;
  key: unknown;
  encryptedKey: string;
  password: string;
}

/** The JWK provisioner `ca init` wrote, in ca.json or (--remote-management) in the database; its key opens with PASSWORD. */
export async function initProvisioner(home: CaHome, name = JWK_PROVISIONER): Promise<JwkProvisionerSecret> {
  const config = JSON.parse(await readFile(home.configPath, 'utf8')) as { authority: { provisioners: { name: string; key: unknown; encryptedKey: string }[] } };
  let list = config.authority.provisioners;
  if (list.length === 0) {
    const db = new Database(join(home.caPath, 'db', SQLITE_FILE), { readonly: true });
    try {
      list = (db.prepare('SELECT config FROM provisioners').all() as { config: string }[]).map((r) => JSON.parse(r.config) as (typeof list)[number]);
    } finally {
      db.close();
    }
  }
  const found = list.find((p) => p.name === name);
  if (!found) throw new Error(`no provisioner ${name} in ca.json`);
  return { name, key: found.key, encryptedKey: found.encryptedKey, password: PASSWORD };
}

/** A new JWK provisioner's ca.json shape and its secret half. */
export async function newJwkProvisioner(name: string, password = 'new-provisioner-pw'): Promise<{ json: ProvisionerJson; secret: JwkProvisionerSecret }> {
  const { publicJwk, privateJwk } = await generateProvisionerKey();
  const encryptedKey = await encryptJwk(privateJwk, password);
  return { json: { type: 'JWK', name, key: publicJwk, encryptedKey }, secret: { name, key: publicJwk, encryptedKey, password } };
}

export async function csrAndKey(commonName: string, emails: string[] = []): Promise<{ csr: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const extensions = emails.length ? [new x509.SubjectAlternativeNameExtension(emails.map((value) => ({ type: 'email' as const, value })))] : [];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${commonName}`, keys, signingAlgorithm: alg, extensions });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { csr: csr.toString('pem'), keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n` };
}

/** POST /1.0/sign with a JWK token of `provisioner` for `subject`; the raw answer. */
export async function signWithJwk(server: Serving, home: CaHome, provisioner: JwkProvisionerSecret, subject: string, sans: string[] = [subject]): Promise<{ res: Response; keyPem: string }> {
  const { csr, keyPem } = await csrAndKey(subject, sans.filter((s) => s.includes('@')));
  const ott = await makeJwkToken({
    provisioner,
    password: provisioner.password,
    subject,
    sans,
    audience: signAudience(`https://127.0.0.1:${server.port}`),
    rootFingerprint: rootFingerprintOf(home.rootPem, home.rootFile),
    now: new Date(),
  });
  const res = await server.request('POST', '/1.0/sign', { body: JSON.stringify({ csr, ott }), headers: { 'content-type': 'application/json' } });
  return { res, keyPem };
}

/** An admin certificate for `subject` from a JWK provisioner. */
export async function adminCredentials(server: Serving, home: CaHome, subject: string, provisioner?: JwkProvisionerSecret): Promise<AdminCredentials> {
  const { res, keyPem } = await signWithJwk(server, home, provisioner ?? (await initProvisioner(home)), subject);
  if (res.status !== 201) throw new Error(`no admin certificate for ${subject}: ${res.status} ${res.body}`);
  const { certChain } = json(res) as { certChain: string[] };
  return { subject, keyPem, chainPem: certChain.join('') };
}

export interface AdminCall {
  method: string;
  path: string;
  body?: unknown;
  /** Replace the token (e.g. a replayed or a foreign one). */
  token?: string;
  /** Change how it is made. */
  tokenOptions?: { now?: Date; audience?: string; prefix?: string };
}

export function adminTokenFor(server: Serving, creds: AdminCredentials, path: string, o: AdminCall['tokenOptions'] = {}): string {
  const audience = o.audience ?? `https://127.0.0.1:${server.port}${path.split('?')[0]}`;
  return makeAdminToken({ chainPem: creds.chainPem, keyPem: creds.keyPem, subject: creds.subject, audience, now: o.now ?? new Date() });
}

/** One admin API request with a fresh admin token; the answer and its JSON (when it has some). */
export async function adminCall(server: Serving, creds: AdminCredentials, call: AdminCall): Promise<{ status: number; body: Record<string, unknown>; token: string }> {
  const token = call.token ?? adminTokenFor(server, creds, call.path, call.tokenOptions);
  const headers: Record<string, string> = { authorization: `${call.tokenOptions?.prefix ?? ''}${token}` };
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  const res = await server.request(call.method, call.path, { headers, body: call.body === undefined ? undefined : JSON.stringify(call.body) });
  return { status: res.status, body: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {}, token };
}
