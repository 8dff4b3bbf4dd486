import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initRun } from '../../src/cli/commands/init.js';
import { testIO } from '../../src/cli/io.js';
import { scriptedPrompter } from '../../src/cli/prompter.js';
import { readCaConfig } from '../../src/config/ca-config.js';
import { CaError, type ErrorCode } from '../../src/errors.js';
import { fingerprint } from '../../src/pki/fingerprint.js';
import { findExtension } from '../../src/pki/inspect/extensions.js';
import { parseCertificate } from '../../src/pki/inspect/model.js';
import { namesOfType } from '../../src/pki/inspect/names.js';
import { parsePem } from '../../src/pki/pem.js';
import { openStore } from '../../src/store/index.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { testdir } from '../helpers/testdir.js';
import { PASSWORD, build, caConfig, makeCsr, oidcProvisioner, openssl, verifyWithOpenssl, writeCaFiles, type CaFiles } from './helpers.js';

async function buildFails(promise: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CaError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('buildAuthority', () => {
  let idp: TestIdp;
  let dir: string;
  let files: CaFiles;
  let cleanup: () => Promise<void>;

  before(async () => {
    idp = await startIdp();
    const d = await testdir();
    dir = d.dir;
    cleanup = d.cleanup;
    files = await writeCaFiles(join(dir, 'ca'));
  });
  after(async () => {
    await idp.close();
    await cleanup();
  });

  test('roots, intermediate and the provisioner listing', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { type: 'JWK', name: 'admin@example.com', key: { ...publicKey.export({ format: 'jwk' }), use: 'sig', alg: 'ES256', kid: 'k1' }, encryptedKey: 'x.y.z' };
    const ca = await build(files, caConfig(files, [oidcProvisioner(idp), jwk]));
    const rootPem = await readFile(files.root, 'utf8');
    assert.deepEqual(ca.rootsPem, [rootPem.trim() + '\n']);
    assert.deepEqual(ca.rootFingerprints, [fingerprint(parsePem(rootPem, 'root')[0]!.der)]);
    assert.equal(ca.intermediatePem, (await readFile(files.crt, 'utf8')).trim() + '\n');
    assert.deepEqual(ca.provisioners(), [oidcProvisioner(idp), jwk]);
    ca.close();
  });

  test('the intermediate key in the legacy OpenSSL PEM form `step ca init` writes', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const legacy = await writeCaFiles(d.dir);
    const plain = createPrivateKey({ key: await readFile(legacy.key, 'utf8'), format: 'pem', passphrase: PASSWORD }).export({ format: 'pem', type: 'sec1' }) as string;
    const converted = await openssl(['ec', '-aes256', '-passout', `pass:${PASSWORD}`], plain);
    assert.match(converted, /^-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,/);
    await writeFile(legacy.key, converted);
    const ca = await build(legacy, caConfig(legacy, [oidcProvisioner(idp)], { disableIssuedAtCheck: true }));
    t.after(() => ca.close());
    const out = await ca.sign({ csr: await makeCsr({}), ott: (await idp.login({ username: 'alice', password: 'alice-password', clientId: 'ca-cli' })).idToken });
    assert.match(await verifyWithOpenssl(d.dir, legacy, out.response.crt), /OK/);
    await buildFails(build(legacy, caConfig(legacy, []), { password: 'wrong' }), 'ERR_PASSWORD', /^cannot decrypt the intermediate key .*intermediate_ca_key: wrong password$/);
  });

  test('a wrong or missing password is a clear error', async () => {
    await buildFails(build(files, caConfig(files, []), { password: 'wrong' }), 'ERR_PASSWORD', /^cannot decrypt the intermediate key .*secrets\/intermediate_ca_key: wrong password$/);
    await buildFails(build(files, caConfig(files, []), { password: '' }), 'ERR_PASSWORD', /is encrypted and no password was given$/);
  });

  test('missing files, relative paths, a key that is not the certificate\'s', async (t) => {
    await buildFails(build(files, { ...caConfig(files, []), crt: join(dir, 'nope.crt') }), 'ERR_FILE_NOT_FOUND', /^the intermediate certificate .*nope\.crt does not exist$/);
    await buildFails(build(files, { ...caConfig(files, []), root: ['certs/missing.crt'] }), 'ERR_FILE_NOT_FOUND', new RegExp(`^the root certificate ${files.dir}/certs/missing.crt does not exist$`));
    await buildFails(build(files, { ...caConfig(files, []), root: '' }), 'ERR_CONFIG_INVALID', /no "root" certificate/);
    await buildFails(build(files, { ...caConfig(files, []), key: 'awskms:key-id=abc' }), 'ERR_CONFIG_INVALID', /is a KMS URI/);
    await buildFails(build(files, { ...caConfig(files, []), crt: files.root }), 'ERR_KEY_INVALID', /^the key .*intermediate_ca_key does not belong to the certificate .*root_ca.crt$/);

    const relative = await build(files, { ...caConfig(files, []), root: 'certs/root_ca.crt', crt: 'certs/intermediate_ca.crt', key: 'secrets/intermediate_ca_key' });
    t.after(() => relative.close());
    assert.equal(relative.rootsPem.length, 1);

    const d = await testdir({ 'garbage.crt': 'not a certificate' });
    t.after(d.cleanup);
    await buildFails(build(files, { ...caConfig(files, []), root: d.path('garbage.crt') }), 'ERR_CERT_INVALID', /garbage\.crt holds no PEM certificate/);
  });

  test('an intermediate that no configured root signed starts, with a warning', async (t) => {
    const other = await writeCaFiles(join(dir, 'other'));
    const log: Record<string, unknown>[] = [];
    const ca = await build(files, { ...caConfig(files, []), root: other.root }, { log });
    t.after(() => ca.close());
    assert.deepEqual(log.map((e) => e.level), ['warn']);
    assert.match(String(log[0]?.msg), /the intermediate certificate is not signed by any root in ca.json "root"/);
  });

  test('bad claims, a bad backdate and ambiguous provisioners are configuration errors', async () => {
    const p = oidcProvisioner(idp, { claims: { minTLSCertDuration: '2h', maxTLSCertDuration: '1h' } });
    await buildFails(build(files, caConfig(files, [p])), 'ERR_CONFIG_INVALID', /^provisioner "TestIdP": claims\.maxTLSCertDuration 1h is shorter than claims\.minTLSCertDuration 2h$/);
    await buildFails(build(files, caConfig(files, [], { claims: { defaultTLSCertDuration: 'soon' } })), 'ERR_CONFIG_INVALID', /^ca.json "authority.claims": /);
    await buildFails(build(files, caConfig(files, [], { backdate: 'a bit' })), 'ERR_CONFIG_INVALID', /"authority.backdate" is not a duration/);
    const twin = oidcProvisioner(idp, { name: 'Twin' });
    await buildFails(build(files, caConfig(files, [oidcProvisioner(idp), twin])), 'ERR_CONFIG_INVALID', /two OIDC provisioners have the client ID "ca-cli"/);
    await buildFails(build(files, caConfig(files, [oidcProvisioner(idp), oidcProvisioner(idp, { clientID: 'ca-public' })])), 'ERR_CONFIG_INVALID', /two provisioners are named "TestIdP"/);
  });

  test('a failed build leaves no provisioner retrying in the background', async (t) => {
    idp.setDown(true);
    t.after(() => idp.setDown(false));
    const down = oidcProvisioner(idp, { name: 'Down' });
    const bad = oidcProvisioner(idp, { name: 'Bad', clientID: 'ca-public', claims: { minTLSCertDuration: '0s' } });
    await buildFails(build(files, caConfig(files, [down, bad])), 'ERR_CONFIG_INVALID', /^provisioner "Bad": claims\.minTLSCertDuration must be longer than 0$/);
    const requests = idp.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(idp.requests.length, requests);
  });

  test('an IdP down at start: the provisioner is Uninitialized, listed so, refuses tokens, and recovers by itself', async (t) => {
    idp.setDown(true);
    t.after(() => idp.setDown(false));
    const log: Record<string, unknown>[] = [];
    const ca = await build(files, caConfig(files, [oidcProvisioner(idp)], { disableIssuedAtCheck: true }), { log });
    t.after(() => ca.close());
    const [listed] = ca.provisioners();
    assert.equal(listed?.state, 'Uninitialized');
    assert.match(listed?.stateReason ?? '', /^failed to connect to .*openid-configuration: HTTP 503/);
    assert.deepEqual(log.map((e) => [e.level, e.msg]), [['error', `failed to initialize OIDC provisioner "TestIdP": ${listed?.stateReason}`]]);

    idp.setDown(false);
    const ott = (await idp.login({ username: 'alice', password: 'alice-password', clientId: 'ca-cli' })).idToken;
    await assert.rejects(ca.sign({ csr: await makeCsr({}), ott }), (err: unknown) => {
      assert.ok(err instanceof CaError);
      assert.equal(err.status, 401);
      assert.match(err.message, /^provisioner "TestIdP" is disabled due to an initialization error: /);
      return true;
    });

    await until(() => ca.provisioners()[0]?.state === undefined, 5_000);
    assert.deepEqual(ca.provisioners(), [oidcProvisioner(idp)]);
    assert.match(String(log.at(-1)?.msg), /^OIDC provisioner "TestIdP" initialized after 1 retries$/);
    await ca.sign({ csr: await makeCsr({}), ott });
  });

  test('close() stops the background retries', async (t) => {
    idp.setDown(true);
    t.after(() => idp.setDown(false));
    const ca = await build(files, caConfig(files, [oidcProvisioner(idp)]));
    ca.close();
    const requests = idp.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(idp.requests.length, requests);
  });

  test('the HTTPS certificate: fresh P-256 key, CN commonName, SANs dnsNames, 24 h, signed by the intermediate', async (t) => {
    const ca = await build(files, { ...caConfig(files, []), dnsNames: ['ca.example.com', '10.1.2.3', '[::1]'], commonName: 'Acme CA' });
    t.after(() => ca.close());
    const before = Date.now();
    const server = await ca.issueServerCertificate();
    assert.match(await verifyWithOpenssl(dir, files, server.certPem, 'sslserver'), /OK/);
    const cert = parseCertificate(parsePem(server.certPem, 'crt')[0]!.der);
    assert.deepEqual(cert.subject.attributes, [{ oid: '2.5.4.3', value: 'Acme CA' }]);
    const names = findExtension(cert.extensions, 'subjectAltName')?.names ?? [];
    assert.deepEqual(namesOfType(names, 'dns'), ['ca.example.com']);
    assert.deepEqual(namesOfType(names, 'ip'), ['10.1.2.3', '::1']);
    assert.equal(findExtension(cert.extensions, 'stepProvisioner'), undefined);
    assert.ok(Math.abs(cert.notBefore.getTime() - (before - 60_000)) < 3_000);
    assert.ok(Math.abs(cert.notAfter.getTime() - (before + 24 * 3_600_000)) < 3_000);
    assert.deepEqual(server.notAfter, cert.notAfter);
    assert.equal(server.chainPem, server.certPem + ca.intermediatePem);
    const keySpki = createPublicKey(server.keyPem).export({ format: 'der', type: 'spki' });
    assert.deepEqual(new Uint8Array(keySpki), cert.publicKey.der);
    assert.equal(cert.publicKey.key.kind === 'ecdsa' && cert.publicKey.key.curve, 'P-256');

    const plain = await build(files, { ...caConfig(files, []), dnsNames: undefined });
    t.after(() => plain.close());
    const defaults = parseCertificate(parsePem((await plain.issueServerCertificate()).certPem, 'crt')[0]!.der);
    assert.deepEqual(defaults.subject.attributes, [{ oid: '2.5.4.3', value: 'Step Online CA' }]);
    const defaultNames = findExtension(defaults.extensions, 'subjectAltName')?.names ?? [];
    assert.deepEqual([...namesOfType(defaultNames, 'dns'), ...namesOfType(defaultNames, 'ip')], ['localhost', '127.0.0.1', '::1']);
  });

  test('a CA made by the real `ca init`, its ca.json and db, signs', async (t) => {
    const d = await testdir({ 'pw.txt': 'init-password\n' });
    t.after(d.cleanup);
    const caPath = d.path('home');
    const io = testIO();
    await initRun(
      { name: 'Acme', dns: ['ca.acme.test'], address: '127.0.0.1:9443', passwordFile: d.path('pw.txt'), force: false },
      { io, now: () => new Date(), prompter: scriptedPrompter([], false), caPath },
    );
    const configPath = join(caPath, 'config/ca.json');
    const config = await readCaConfig(configPath);
    config.authority = { ...config.authority, provisioners: [oidcProvisioner(idp)] };
    const store = await openStore(config, caPath);
    t.after(() => store.close());
    const home: CaFiles = { dir: caPath, root: String(config.root), crt: String(config.crt), key: String(config.key) };
    const ca = await build(home, config, { store, password: 'init-password' });
    t.after(() => ca.close());
    const out = await ca.sign({ csr: await makeCsr({}), ott: (await idp.login({ username: 'alice', password: 'alice-password', clientId: 'ca-cli' })).idToken });
    assert.match(await verifyWithOpenssl(d.dir, home, out.response.crt), /OK/);
    assert.equal((await store.getCertificate(out.serial))?.subject, 'CN=user-alice');
  });
});
