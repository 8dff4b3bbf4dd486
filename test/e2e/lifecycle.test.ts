/**
 * Renew, rekey, revoke and the CRL end to end: a real `ca serve` (two workers) on 127.0.0.1, the
 * real `bin/ca` as users and services run it, curl and openssl as other clients, and a Node TLS
 * server enforcing the CRL. Certificates come from `ca certificate --token` with ID tokens the
 * test IdP signs.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { connect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { EventEmitter } from 'node:events';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { renewRun } from '../../src/cli/commands/renew.js';
import { testIO } from '../../src/cli/io.js';
import { scriptedPrompter } from '../../src/cli/prompter.js';
import { CaError } from '../../src/errors.js';
import { browserEnv, readBrowserResult } from '../fixtures/browser/env.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../fixtures/browser/login.js';
import { chromium } from 'playwright-core';
import { run } from '../helpers/exec.js';
import { CA_BIN, runCli, type CliResult } from '../helpers/run-cli.js';
import { selfSigned } from '../helpers/https.js';
import { testdir } from '../helpers/testdir.js';
import { createCaHome, hangUp, JWK_PROVISIONER, json, mintToken, startServe, type CaHome, type Serving } from '../server/helpers.js';

const PROVISIONER = 'TestIdP';

let idp: TestIdp;
let home: CaHome;
let serving: Serving;
let caUrl: string;
let work: Awaited<ReturnType<typeof testdir>>;

/** `ca` as a user or a service on another machine: its own $CA_PATH, the CA's URL and root, no terminal. */
function ca(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { env: { CA_PATH: work.path('user'), CA_URL: caUrl, CA_ROOT: home.rootFile, ...env }, timeoutMs: 90_000 });
}

function ok(res: CliResult): CliResult {
  assert.equal(res.code, 0, `exit ${res.code}\n${res.stderr}`);
  return res;
}

/** A certificate for `name` from the CA, as `ca certificate --token` saves it. */
async function issue(name: string, opts: { notAfter?: string } = {}): Promise<{ crt: string; key: string; serial: string }> {
  const token = await mintToken(idp, { sub: `user-${name}`, email: `${name}@example.com` });
  const crt = work.path(`${name}.crt`);
  const key = work.path(`${name}.key`);
  ok(await ca(['certificate', `${name}@example.com`, crt, key, '--token', token, '--force', ...(opts.notAfter ? ['--not-after', opts.notAfter] : [])]));
  return { crt, key, serial: await serialOf(crt) };
}

async function leafOf(file: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(file));
}

/** The leaf's serial in decimal, as ca and step print it. */
async function serialOf(file: string): Promise<string> {
  return BigInt(`0x${(await leafOf(file)).serialNumber}`).toString(10);
}

function spki(cert: X509Certificate): string {
  return cert.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
}

async function adminToken(): Promise<string> {
  return mintToken(idp, { sub: 'user-alice', email: 'alice@example.com' });
}

/** Edit the provisioner in ca.json, then SIGHUP the CA and wait until every worker has it. */
async function editProvisioner(edit: (p: Record<string, unknown>) => void): Promise<void> {
  const config = JSON.parse(await readFile(home.configPath, 'utf8'));
  const provisioner = config.authority.provisioners.find((p: { name: string }) => p.name === PROVISIONER);
  edit(provisioner);
  await writeFile(home.configPath, `${JSON.stringify(config, null, '\t')}\n`);
  await hangUp(serving);
}

function setClaim(name: string, value: unknown): Promise<void> {
  return editProvisioner((p) => {
    p.claims = { ...(p.claims as object), [name]: value };
  });
}

/** A TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

before(async () => {
  idp = await startIdp();
  home = await createCaHome(idp, { jwk: true });
  // Alice is an admin (she may revoke any certificate); the CA publishes a CRL.
  await home.cli(['provisioner', 'update', PROVISIONER, '--admin', 'alice@example.com', '--x509-min-dur', '5s', '--no-check']);
  const config = JSON.parse(await readFile(home.configPath, 'utf8'));
  config.crl = { enabled: true, generateOnRevoke: true, cacheDuration: '24h' };
  await writeFile(home.configPath, `${JSON.stringify(config, null, '\t')}\n`);
  serving = await startServe(home, { workers: 2 });
  caUrl = `https://127.0.0.1:${serving.port}`;
  work = await testdir();
});

after(async () => {
  await serving?.stop();
  await idp?.close();
  await home?.cleanup();
  await work?.cleanup();
});

describe('the CA asks for client certificates without changing anything for clients without one', () => {
  test('curl, openssl and ca certificate need no certificate; the request names this CA', async () => {
    const health = await run('curl', ['-sS', '--cacert', home.rootFile, `${caUrl}/health`]);
    assert.equal(health.stdout, '{"status":"ok"}\n');
    const hello = await run('openssl', ['s_client', '-connect', `127.0.0.1:${serving.port}`, '-CAfile', home.rootFile], { input: '', allowFail: true });
    assert.match(hello.stdout, /Acceptable client certificate CA names\n(.*\n)*.*CN ?= ?Server Test Root CA/);
    assert.match(hello.stdout, /Verify return code: 0 \(ok\)/);
    await issue('plain', { notAfter: '1h' });
  });

  test('Chromium, asked for a certificate it does not have, loads the CA as before', async () => {
    const server = await chromium.launchServer({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, timeout: 20_000 });
    try {
      const browser = await chromium.connect(server.wsEndpoint(), { timeout: 20_000 });
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const res = await page.goto(`${caUrl}/health`, { timeout: 20_000 });
      assert.equal(res?.status(), 200);
      assert.equal(JSON.parse(await page.innerText('body')).status, 'ok');
      await browser.close();
    } finally {
      await server.close();
    }
  });

  test("without one: step-ca's 400s for renew and rekey, and revoke wants a token or a certificate", async () => {
    const headers = { 'content-type': 'application/json' };
    for (const path of ['/renew', '/1.0/renew', '/rekey', '/1.0/rekey']) {
      const res = await serving.request('POST', path, { headers, body: path.endsWith('rekey') ? '{"csr":"x"}' : '' });
      assert.equal(res.status, 400, path);
      assert.deepEqual(json(res), { status: 400, message: 'The request could not be completed: missing client certificate.' });
    }
    const revoke = await serving.request('POST', '/revoke', { headers, body: JSON.stringify({ serial: '1', passive: true }) });
    assert.equal(revoke.status, 401);
    assert.match(String(json(revoke).message), /^The request lacked necessary authorization to be completed: missing ott or client certificate: /);
    const active = await serving.request('POST', '/revoke', { headers, body: JSON.stringify({ serial: '1', ott: 'x' }) });
    assert.equal(active.status, 501, 'an absent "passive" is false, as Go reads it: active revocation is not implemented');
  });
});

describe('ca renew', () => {
  test('without --force and without a terminal it cannot ask: exit 2, the flag named, the file untouched', async () => {
    const { crt, key } = await issue('rita', { notAfter: '1h' });
    const before = await readFile(crt, 'utf8');
    const res = await ca(['renew', crt, key]);
    assert.equal(res.code, 2);
    assert.equal(res.stderr.split('\n')[0], `ca: ${crt} exists; pass --force to overwrite`);
    assert.equal(await readFile(crt, 'utf8'), before);
  });

  test('on a terminal it asks before replacing the file: yes renews, no keeps it', async () => {
    const { crt, key, serial } = await issue('tty', { notAfter: '1h' });
    const ctx = (answer: boolean) => ({
      io: testIO({ stdin: true, stderr: true }),
      env: {},
      now: () => new Date(),
      prompter: scriptedPrompter([answer]),
      caPath: work.path('user'),
      signals: new EventEmitter(),
    });
    const no = ctx(false);
    await assert.rejects(renewRun({ crtFile: crt, keyFile: key, force: false, daemon: false, caUrl, root: home.rootFile }, no), (e) => e instanceof CaError && e.code === 'ERR_FILE_EXISTS');
    assert.deepEqual(no.prompter.asked, [`Would you like to overwrite ${crt}?`]);
    assert.equal(await serialOf(crt), serial);
    const yes = ctx(true);
    await renewRun({ crtFile: crt, keyFile: key, force: false, daemon: false, caUrl, root: home.rootFile }, yes);
    assert.notEqual(await serialOf(crt), serial);
    assert.equal(yes.io.err(), `Your certificate has been saved in ${crt}.\n`);
  });

  test('renews over mutual TLS: a new serial, the same key, names and lifetime, the file replaced in place', async () => {
    const { crt, key, serial } = await issue('carol', { notAfter: '1h' });
    const old = await leafOf(crt);
    const keyBefore = await readFile(key, 'utf8');
    const res = ok(await ca(['renew', '--force', crt, key]));
    assert.equal(res.stderr, `Your certificate has been saved in ${crt}.\n`);
    const renewed = await leafOf(crt);
    assert.notEqual(await serialOf(crt), serial);
    assert.equal(spki(renewed), spki(old));
    assert.equal(renewed.subject, old.subject);
    assert.equal(renewed.subjectAltName, old.subjectAltName);
    const lifetime = (c: X509Certificate) => Date.parse(c.validTo) - Date.parse(c.validFrom);
    assert.ok(Math.abs(lifetime(renewed) - lifetime(old)) <= 2_000, `${lifetime(renewed)} vs ${lifetime(old)}`);
    assert.equal(await readFile(key, 'utf8'), keyBefore, 'the key is not touched');
    assert.equal((await stat(crt)).mode & 0o777, 0o600);
    assert.equal((await run('openssl', ['verify', '-CAfile', home.rootFile, '-untrusted', crt, crt])).stdout.trim(), `${crt}: OK`);
    const newSerial = await serialOf(crt);
    const line = serving.logLines().find((l) => l.path === '/renew' && l.status === 201 && l.serial === newSerial);
    assert.ok(line, 'the log line names the new serial');

    // --out leaves CRT as it is.
    const current = await readFile(crt, 'utf8');
    ok(await ca(['renew', crt, key, '--out', work.path('carol-2.crt')]));
    assert.equal(await readFile(crt, 'utf8'), current);
    assert.notEqual(await serialOf(work.path('carol-2.crt')), await serialOf(crt));

    // Not due yet: step's line, exit 0, nothing asked of the CA.
    const early = ok(await ca(['renew', '--force', '--expires-in', '30m', crt, key]));
    assert.match(early.stderr, /^certificate not renewed: expires in 5\dm\d+s\n$/);
    assert.equal(await readFile(crt, 'utf8'), current);
  });

  test('curl renews with the certificate too (POST /1.0/renew, empty body, 201 with the chain)', async () => {
    const { crt, key } = await issue('curly', { notAfter: '1h' });
    const res = await run('curl', ['-sS', '--cacert', home.rootFile, '--cert', crt, '--key', key, '-X', 'POST', '-w', '\n%{http_code}', `${caUrl}/1.0/renew`]);
    const cut = res.stdout.lastIndexOf('\n');
    const [body, code] = [res.stdout.slice(0, cut), res.stdout.slice(cut + 1)];
    assert.equal(code, '201', res.stdout);
    const answer = JSON.parse(body);
    assert.equal(answer.certChain.length, 2);
    assert.equal(spki(new X509Certificate(answer.crt)), spki(await leafOf(crt)));
  });

  test("a resumed TLS session still carries the client certificate, on either worker", async () => {
    const { crt, key } = await issue('resume', { notAfter: '1h' });
    const [cert, keyPem] = await Promise.all([readFile(crt, 'utf8'), readFile(key, 'utf8')]);
    const renewOver = (opts: { session?: Buffer; withCert: boolean }): Promise<{ status: number; reused: boolean; session?: Buffer }> =>
      new Promise((resolve, reject) => {
        let session: Buffer | undefined;
        const socket: TLSSocket = connect(
          { host: '127.0.0.1', port: serving.port, ca: home.rootPem, servername: 'localhost', session: opts.session, ...(opts.withCert ? { cert, key: keyPem } : {}) },
          () => socket.write(`POST /renew HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`),
        );
        socket.on('session', (s: Buffer) => (session = s));
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString()));
        socket.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]), reused: socket.isSessionReused(), session }));
        socket.on('error', reject);
      });
    const first = await renewOver({ withCert: true });
    assert.equal(first.status, 201);
    assert.ok(first.session, 'the server issued a session ticket');
    // Fresh connections go round-robin to the two workers; each resumes without sending the certificate.
    for (let i = 0; i < 4; i++) {
      const again = await renewOver({ session: first.session, withCert: false });
      assert.deepEqual([again.status, again.reused], [201, true]);
    }
  });

  test('two clients renewing the same certificate at once both succeed; the file is whole', async () => {
    const { crt, key, serial } = await issue('twice', { notAfter: '1h' });
    const [a, b] = await Promise.all([ca(['renew', '--force', crt, key]), ca(['renew', '--force', crt, key])]);
    ok(a);
    ok(b);
    const now = await serialOf(crt);
    assert.notEqual(now, serial);
    assert.equal((await run('openssl', ['verify', '-CAfile', home.rootFile, '-untrusted', crt, crt])).code, 0);
    const [x, y] = await Promise.all([ca(['renew', crt, key, '--out', work.path('twice-a.crt')]), ca(['renew', crt, key, '--out', work.path('twice-b.crt')])]);
    ok(x);
    ok(y);
    assert.notEqual(await serialOf(work.path('twice-a.crt')), await serialOf(work.path('twice-b.crt')));
  });

  test("an expired certificate is refused with the reason, unless the provisioner allows renewal after expiry", async () => {
    const { crt, key } = await issue('late', { notAfter: '6s' });
    const expiresAt = Date.parse((await leafOf(crt)).validTo);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 1_500));
    const refused = await ca(['renew', '--force', crt, key]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ca: cannot renew an expired certificate \(it expired at \S+\): the CA at \S+ answered 401: .*expired at \S+; provisioner "TestIdP" does not allow renewal after expiry/m);
    assert.match(refused.stderr, /try: get a new certificate with 'ca certificate'; an admin can allow renewing expired ones with the provisioner claim allowRenewalAfterExpiry/);
    await setClaim('allowRenewalAfterExpiry', true);
    try {
      ok(await ca(['renew', '--force', crt, key]));
      assert.ok(Date.parse((await leafOf(crt)).validTo) > Date.now(), 'the renewed certificate is valid again');
    } finally {
      await setClaim('allowRenewalAfterExpiry', false);
    }
  });

  test('disableRenewal: the CA says renewal is disabled and the CLI shows it', async () => {
    const { crt, key } = await issue('nodisable', { notAfter: '1h' });
    await setClaim('disableRenewal', true);
    try {
      const res = await ca(['renew', '--force', crt, key]);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /answered 401: .*renew is disabled for provisioner "TestIdP" \(its disableRenewal claim\)/);
      assert.match(res.stderr, /try: get a new certificate with 'ca certificate'/);
    } finally {
      await setClaim('disableRenewal', false);
    }
  });
});

describe('ca rekey', () => {
  test('a new key made here, the same names; certificate and key replaced together', async () => {
    const { crt, key, serial } = await issue('kim', { notAfter: '1h' });
    const old = await leafOf(crt);
    const res = ok(await ca(['rekey', '--force', crt, key]));
    assert.equal(res.stderr, `✔ Certificate: ${crt}\n✔ Private Key: ${key}\n`);
    const fresh = await leafOf(crt);
    assert.notEqual(spki(fresh), spki(old));
    assert.ok(fresh.checkPrivateKey(createPrivateKey(await readFile(key, 'utf8'))), 'the new certificate is for the new key');
    assert.equal(fresh.subjectAltName, old.subjectAltName);
    assert.equal(fresh.subject, old.subject);
    assert.notEqual(await serialOf(crt), serial);
    assert.equal((await stat(key)).mode & 0o777, 0o600);

    // --out-cert / --out-key, another key type; the originals stay.
    const before = await readFile(crt, 'utf8');
    ok(await ca(['rekey', crt, key, '--out-cert', work.path('kim-rsa.crt'), '--out-key', work.path('kim-rsa.key'), '--kty', 'RSA']));
    assert.equal(await readFile(crt, 'utf8'), before);
    assert.equal((await leafOf(work.path('kim-rsa.crt'))).publicKey.asymmetricKeyType, 'rsa');
    const kept = await ca(['rekey', crt, key]);
    assert.equal(kept.code, 2);
    assert.match(kept.stderr, new RegExp(`^ca: ${crt} and ${key} exist; pass --force to overwrite\n`));
  });
});

describe('ca revoke and the CRL', () => {
  let dave: { crt: string; key: string; serial: string };
  let erin: { crt: string; key: string; serial: string };
  let good: { crt: string; key: string; serial: string };

  test('with the certificate itself (mutual TLS): revoked, and it can no longer renew or rekey', async () => {
    dave = await issue('dave', { notAfter: '1h' });
    await copyFile(dave.crt, work.path('dave-old.crt'));
    const res = ok(await ca(['revoke', '--cert', dave.crt, '--key', dave.key, '--reasonCode', 'keyCompromise', '--reason', 'laptop lost']));
    assert.equal(res.stderr, `✔ CA: ${caUrl}\nCertificate with Serial Number ${dave.serial} has been revoked.\n`);
    const renew = await ca(['renew', '--force', dave.crt, dave.key]);
    assert.equal(renew.code, 1);
    assert.match(renew.stderr, new RegExp(`answered 401: .*cannot renew: certificate ${dave.serial} was revoked at \\S+ \\(reason: keyCompromise: laptop lost\\)`));
    assert.match(renew.stderr, /try: get a new certificate with 'ca certificate'/);
    const rekey = await ca(['rekey', '--force', dave.crt, dave.key]);
    assert.equal(rekey.code, 1);
    assert.match(rekey.stderr, /revoked/);
    assert.equal(await readFile(dave.crt, 'utf8'), await readFile(work.path('dave-old.crt'), 'utf8'), 'nothing was written');
    const twice = await ca(['revoke', '--cert', dave.crt, '--key', dave.key]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /already revoked/);
  });

  test("by serial, with an OIDC admin's login token; a user who is not an admin may not", async () => {
    erin = await issue('erin', { notAfter: '1h' });
    const notAdmin = await ca(['revoke', erin.serial, '--token', await mintToken(idp, { sub: 'user-carol', email: 'carol@example.com' })]);
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.stderr, /answered 401/);
    const hex = `0x${BigInt(erin.serial).toString(16)}`;
    const res = ok(await ca(['revoke', hex, '--token', await adminToken(), '--reasonCode', '4']));
    assert.match(res.stderr, new RegExp(`Certificate with Serial Number ${erin.serial} has been revoked\\.\\n$`));
    const again = await ca(['revoke', erin.serial, '--token', await adminToken()]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`already revoked`));
  });

  test('by serial, logging in as an admin in the browser (the login ca certificate uses)', async () => {
    const frank = await issue('frank', { notAfter: '1h' });
    const resultFile = work.path('browser-alice.json');
    const res = ok(await ca(['revoke', frank.serial, '--reasonCode', 'cessationOfOperation', '--provisioner', PROVISIONER], { ...browserEnv({ user: 'alice', password: 'alice-password', resultFile }), CA_OPEN_BROWSER: '1' }));
    assert.match(res.stderr, /✔ Provisioner: TestIdP \(OIDC\) \[client: ca-cli\]\n/);
    assert.match(res.stderr, /Your default web browser has been opened to visit:/);
    assert.match(res.stderr, new RegExp(`Certificate with Serial Number ${frank.serial} has been revoked\\.\\n$`));
    assert.equal((await readBrowserResult(resultFile)).outcome, 'landed');
    const renew = await ca(['renew', '--force', frank.crt, frank.key]);
    assert.match(renew.stderr, /reason: cessationOfOperation/);
  });

  test("by serial with a JWK provisioner's key: a revoke token made on the spot, or beforehand with ca token --revoke", async () => {
    const gus = await issue('gus', { notAfter: '1h' });
    const res = ok(await ca(['revoke', gus.serial, '--provisioner', JWK_PROVISIONER, '--password-file', home.passwordFile, '--reasonCode', 'superseded']));
    assert.match(res.stderr, new RegExp(`^✔ Provisioner: ${JWK_PROVISIONER} \\(JWK\\) \\[kid: [\\w-]+\\]\\n✔ CA: ${caUrl}\\nCertificate with Serial Number ${gus.serial} has been revoked\\.\\n$`));
    // No terminal and two provisioners: ca names what to pass instead of asking.
    const hal = await issue('hal', { notAfter: '1h' });
    const ask = await ca(['revoke', hal.serial]);
    assert.equal(ask.code, 2);
    assert.match(ask.stderr, /pass --provisioner NAME/);
    // A token made beforehand is bound to its serial: the CLI checks it before sending, the CA too.
    const halHex = `0x${BigInt(hal.serial).toString(16)}`;
    const token = ok(await ca(['token', '--revoke', halHex, '--provisioner', JWK_PROVISIONER, '--password-file', home.passwordFile])).stdout.trim();
    const wrong = await ca(['revoke', gus.serial, '--token', token]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, new RegExp(`token subject '${halHex}' and serial number '${gus.serial}' do not match`));
    ok(await ca(['revoke', hal.serial, '--token', token]));
    const reused = await ca(['revoke', hal.serial, '--token', token]);
    assert.equal(reused.code, 1);
  });

  test('an unknown serial, a certificate of another CA, a serial that is not the certificate: clear errors', async () => {
    const unknown = await ca(['revoke', '123456789', '--token', await adminToken()]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /answered 40\d: .*123456789/);
    const foreign = await selfSigned(work.dir, 'foreign');
    const other = await ca(['revoke', '--cert', foreign.crtFile, '--key', foreign.keyFile]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /answered 40\d/);
    good = await issue('goodie', { notAfter: '1h' });
    const mismatch = await ca(['revoke', '42', '--cert', good.crt, '--key', good.key]);
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, new RegExp(`serial number 42 is not the serial number of .*goodie\\.crt \\(${good.serial}\\)`));
    const bad = await ca(['revoke', 'abc', '--token', await adminToken()]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /'abc' is not a valid serial number/);
    const reason = await ca(['revoke', '1', '--reasonCode', '7', '--token', await adminToken()]);
    assert.equal(reason.code, 2);
  });

  test('a revoke while a renew is in flight: the revocation holds, and the old certificate renews no more', async () => {
    const { crt, key } = await issue('race', { notAfter: '1h' });
    const [renewed, revoked] = await Promise.all([
      ca(['renew', crt, key, '--out', work.path('race-new.crt')]),
      ca(['revoke', '--cert', crt, '--key', key]),
    ]);
    ok(revoked);
    if (renewed.code === 0) {
      // The renewal won the race: its certificate has a new serial, which was not revoked.
      assert.notEqual(await serialOf(work.path('race-new.crt')), await serialOf(crt));
    } else {
      assert.match(renewed.stderr, /revoked/);
      assert.equal(existsSync(work.path('race-new.crt')), false);
    }
    const after = await ca(['renew', '--force', crt, key]);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /revoked/);
  });

  test('GET /crl: DER by default, PEM with ?pem=true, at / and /1.0/; ca crl saves it and ca inspect lists the revoked serials', async () => {
    const der = await run('curl', ['-sS', '--cacert', home.rootFile, '-D', '-', '-o', work.path('crl.der'), `${caUrl}/1.0/crl`]);
    assert.match(der.stdout, /content-type: application\/pkix-crl/i);
    assert.match(der.stdout, /content-disposition: attachment; filename="crl\.crl"/i);
    assert.match(der.stdout, /expires: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/i);
    const pem = await run('curl', ['-sS', '--cacert', home.rootFile, `${caUrl}/crl?pem=true`]);
    assert.match(pem.stdout, /^-----BEGIN X509 CRL-----\n/);
    const fromDer = (await run('openssl', ['crl', '-inform', 'DER', '-in', work.path('crl.der'), '-noout', '-text'])).stdout;
    assert.match(fromDer, new RegExp(`Serial Number: ${BigInt(dave.serial).toString(16).toUpperCase().padStart(2, '0')}`, 'i'));

    const saved = ok(await ca(['crl', '--out', work.path('crl.pem')]));
    assert.match(saved.stderr, /^The certificate revocation list has been saved in .*crl\.pem \(\d+ revoked, next update \S+\)\.\n$/);
    const refused = await ca(['crl', '--out', work.path('crl.pem')]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /already exists/);
    ok(await ca(['crl', '--out', work.path('crl.pem'), '--force']));
    const text = ok(await ca(['inspect', work.path('crl.pem')])).stdout;
    assert.match(text, /Issuer: .*CN=Server Test Intermediate CA/);
    assert.match(text, new RegExp(`Serial Number: ${dave.serial} \\(0x[0-9A-F]+\\)\\n +Revocation Date: .*\\n +CRL Entry Extensions:\\n +X509v3 CRL Reason Code:\\n +Key Compromise`));
    assert.match(text, new RegExp(`Serial Number: ${erin.serial} [\\s\\S]*?Superseded`));
    assert.match(text, /X509v3 CRL Number:\n +\d+/);
    // Printed without --out: the same revocations (each worker signs its own CRL, so the bytes may differ).
    const printed = ok(await ca(['crl'])).stdout;
    assert.match(printed, /^-----BEGIN X509 CRL-----\n[\s\S]+-----END X509 CRL-----\n$/);
    const serials = (pemText: string) => [...pemText.matchAll(/Serial Number: (\d+)/g)].map((m) => m[1]).sort();
    const printedText = ok(await runCli(['inspect', '-'], { input: printed })).stdout;
    assert.deepEqual(serials(printedText), serials(text));
  });

  test('openssl verify -crl_check refuses the revoked certificate and accepts the others', async () => {
    const verify = (crt: string) =>
      run('openssl', ['verify', '-crl_check', '-CAfile', home.rootFile, '-untrusted', home.intermediateFile, '-CRLfile', work.path('crl.pem'), crt], { allowFail: true });
    const revoked = await verify(dave.crt);
    assert.notEqual(revoked.code, 0);
    assert.match(revoked.stdout + revoked.stderr, /certificate revoked/);
    assert.equal((await verify(good.crt)).code, 0);
  });

  test("a Node TLS server with the CRL (crl option) refuses the revoked certificate; it needs the root's CRL too", async () => {
    // Node, like nginx and HAProxy, checks a CRL for every CA of the chain: the root's (empty, made
    // offline with the root key) goes beside the CA's own, as the README shows admins.
    const rootCrl = work.path('root.crl.pem');
    await writeFile(work.path('index.txt'), '');
    await writeFile(
      work.path('root-crl.cnf'),
      `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${work.path('index.txt')}\ndefault_md = sha256\ndefault_crl_days = 30\n`,
    );
    await run('openssl', ['ca', '-gencrl', '-config', work.path('root-crl.cnf'), '-keyfile', `${home.caPath}/secrets/root_ca_key`, '-cert', home.rootFile, '-passin', `file:${home.passwordFile}`, '-out', rootCrl]);
    const server = await selfSigned(work.dir, '127.0.0.1');
    const crls = [await readFile(work.path('crl.pem'), 'utf8'), await readFile(rootCrl, 'utf8')];
    // The service lets the handshake finish and answers with OpenSSL's verdict (rejectUnauthorized
    // true would only drop the connection, with no reason for either side).
    const tlsServer = createTlsServer(
      { cert: server.pem, key: server.keyPem, ca: [home.rootPem, await readFile(home.intermediateFile, 'utf8')], crl: crls, requestCert: true, rejectUnauthorized: false },
      (socket) => socket.end(socket.authorized ? 'hello\n' : `refused: ${String(socket.authorizationError)}\n`),
    );
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    const port = (tlsServer.address() as { port: number }).port;
    const hello = async (who: { crt: string; key: string }): Promise<string> => {
      const [cert, key] = await Promise.all([readFile(who.crt, 'utf8'), readFile(who.key, 'utf8')]);
      return new Promise((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, cert, key, ca: server.pem }, () => undefined);
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', (err) => resolve(`error: ${err.message}`));
      });
    };
    try {
      assert.equal(await hello(good), 'hello\n');
      assert.equal(await hello(dave), 'refused: CERT_REVOKED\n');
      // Without the root's CRL, OpenSSL cannot check the intermediate and refuses everyone.
      tlsServer.setSecureContext({ cert: server.pem, key: server.keyPem, ca: [home.rootPem, await readFile(home.intermediateFile, 'utf8')], crl: crls.slice(0, 1) });
      assert.equal(await hello(good), 'refused: UNABLE_TO_GET_CRL\n');
    } finally {
      tlsServer.close();
    }
  });
});

describe('ca renew --daemon', () => {
  interface Daemon {
    child: ChildProcess;
    stderr(): string;
    waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
    exited: Promise<number | null>;
  }

  function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
    const child = spawn(process.execPath, [CA_BIN, 'renew', '--daemon', ...args], {
      env: { PATH: process.env.PATH, HOME: '/nonexistent-home', CA_PATH: work.path('user'), CA_URL: caUrl, CA_ROOT: home.rootFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', () => undefined);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return {
      child,
      stderr: () => stderr,
      exited,
      async waitFor(pattern, timeoutMs = 30_000) {
        const deadline = Date.now() + timeoutMs;
        while (!pattern.test(stderr)) {
          if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode}):\n${stderr}`);
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${stderr}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
    };
  }

  /** Run `fn` with a daemon that is killed afterwards whatever happened (the test ends it itself when it passes). */
  async function withDaemon(args: string[], fn: (daemon: Daemon) => Promise<void>, env: NodeJS.ProcessEnv = {}): Promise<void> {
    const daemon = startDaemon(args, env);
    try {
      await fn(daemon);
    } finally {
      daemon.child.kill('SIGKILL');
    }
  }

  const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern, 'g'))?.length ?? 0;

  test('a two-minute certificate kept fresh: renewed every few seconds with --exec each time, SIGHUP renews at once, SIGTERM ends it', async () => {
    // Short lifetimes for this provisioner, applied by a reload as an admin would.
    await home.cli(['provisioner', 'update', PROVISIONER, '--x509-default-dur', '2m', '--no-check']);
    await hangUp(serving);
    const { crt, key, serial } = await issue('svc');
    const life = Date.parse((await leafOf(crt)).validTo) - Date.now();
    assert.ok(life > 100_000 && life <= 120_000, `a two-minute certificate (${life} ms left)`);
    await writeFile(work.path('hook.mjs'), "import { appendFileSync } from 'node:fs';\nappendFileSync(process.argv[2], `${Date.now()}\\n`);\n");
    const hookLog = work.path('hook.log');
    await withDaemon(['--renew-period', '3s', '--exec', `${process.execPath} ${work.path('hook.mjs')} ${hookLog}`, crt, key], async (daemon) => {
      await daemon.waitFor(/first renewal in 3s \(at \S+Z\)/);
      // While it renews, the file is always a whole chain (written beside and renamed).
      let reads = 0;
      while (!existsSync(hookLog) || count(await readFile(hookLog, 'utf8'), /\n/) < 2) {
        const pem = await readFile(crt, 'utf8');
        assert.match(pem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
        reads += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.ok(reads < 1_000, daemon.stderr());
      }
      assert.notEqual(await serialOf(crt), serial);
      await daemon.waitFor(/(renewed .*svc\.crt \(serial \d+, valid until \S+Z\); next renewal in 3s[\s\S]*){2}/);

      // A SIGHUP during a renewal is answered "already under way"; the next one renews at once.
      for (let i = 0; i < 5 && !/SIGHUP: renewing now/.test(daemon.stderr()); i++) {
        daemon.child.kill('SIGHUP');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      await daemon.waitFor(/SIGHUP: renewing now\n\S+ renewed /);
      daemon.child.kill('SIGTERM');
      assert.equal(await daemon.exited, 0, daemon.stderr());
      assert.match(daemon.stderr(), /SIGTERM: stopping\n$/);
      assert.ok(count(await readFile(hookLog, 'utf8'), /\n/) >= 3, 'the hook ran after every renewal');
      assert.equal((await run('openssl', ['verify', '-CAfile', home.rootFile, '-untrusted', crt, crt])).code, 0);
    });
  });

  test("without --renew-period: step's schedule, at two thirds of the lifetime minus a jitter", async () => {
    const { crt, key } = await issue('sched');
    await withDaemon([crt, key], async (daemon) => {
      await daemon.waitFor(/first renewal in/);
      const [, minutes, seconds] = /first renewal in (?:(\d+)m)?(\d+)s/.exec(daemon.stderr()) ?? [];
      const wait = Number(minutes ?? 0) * 60 + Number(seconds);
      // Two minutes of life (plus the minute the CA backdates): renewal at notAfter - 60 s - up to 9 s.
      const left = (Date.parse((await leafOf(crt)).validTo) - Date.now()) / 1000;
      assert.ok(wait <= left - 60 + 1 && wait >= left - 60 - 9 - 1, `first renewal in ${wait}s with ${left}s left`);
      daemon.child.kill('SIGINT');
      assert.equal(await daemon.exited, 0);
    });
  });

  test('while the CA is unreachable it retries with a growing wait and logs each try', async () => {
    const { crt, key } = await issue('offline');
    const port = await closedPort();
    await withDaemon(['--renew-period', '1s', crt, key], async (daemon) => {
      await daemon.waitFor(/cannot renew \(attempt 2\)/, 20_000);
      const lines = daemon.stderr().split('\n').filter((l) => /cannot renew/.test(l));
      assert.match(lines[0] ?? '', new RegExp(`^\\S+Z cannot renew \\(attempt 1\\): cannot reach 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*; trying again in \\ds \\(at \\S+Z\\)$`));
      daemon.child.kill('SIGTERM');
      assert.equal(await daemon.exited, 0);
    }, { CA_URL: `https://127.0.0.1:${port}` });
  });

  test('a certificate revoked under it: the next renewal is refused and the daemon exits 1 with the reason', async () => {
    const { crt, key } = await issue('doomed');
    await withDaemon(['--renew-period', '30s', crt, key], async (daemon) => {
      await daemon.waitFor(/first renewal in/);
      ok(await ca(['revoke', '--cert', crt, '--key', key]));
      daemon.child.kill('SIGHUP');
      assert.equal(await daemon.exited, 1);
      assert.match(daemon.stderr(), /^ca: .*answered 401: .*revoked/m);
    });
  });
});
