import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { runCli } from '../helpers/run-cli.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';
import { initRun } from '../../src/cli/commands/init.js';
import { testIO } from '../../src/cli/io.js';
import { scriptedPrompter } from '../../src/cli/prompter.js';
import { decryptPbes2ByHand, thumbprintByHand } from '../helpers/jwk.js';

const initArgs = (pw: string) => ['init', '--name', 'Acme', '--dns', 'ca.acme.test,127.0.0.1', '--address', '127.0.0.1:8443', '--password-file', pw];

test('ca init makes a root and intermediate that openssl accepts, with step files and modes', async (t) => {
  const d = await testdir({ 'pw.txt': 'correct horse\n', 'wrong.txt': 'nope\n' });
  t.after(d.cleanup);
  const base = d.path('ca');
  const res = await runCli(initArgs(d.path('pw.txt')), { env: { CA_PATH: base } });
  assert.equal(res.code, 0, res.stderr);
  for (const line of ['Root certificate', 'Root private key', 'Root fingerprint', 'Intermediate certificate', 'Intermediate private key', 'Database folder', 'Default configuration', 'Certificate Authority configuration']) {
    assert.match(res.stderr, new RegExp(`✔ ${line}: `));
  }
  assert.equal(res.stdout, '');

  const root = `${base}/certs/root_ca.crt`;
  const inter = `${base}/certs/intermediate_ca.crt`;
  const verify = await run('openssl', ['verify', '-CAfile', root, inter]);
  assert.match(verify.stdout, /intermediate_ca.crt: OK/);

  const rootText = (await run('openssl', ['x509', '-in', root, '-noout', '-text'])).stdout;
  assert.match(rootText, /Subject: O ?= ?Acme, CN ?= ?Acme Root CA/);
  assert.match(rootText, /CA:TRUE, pathlen:1/);
  assert.match(rootText, /Certificate Sign, CRL Sign/);
  assert.match(rootText, /ASN1 OID: prime256v1/);
  assert.match(rootText, /Signature Algorithm: ecdsa-with-SHA256/);
  const interText = (await run('openssl', ['x509', '-in', inter, '-noout', '-text'])).stdout;
  assert.match(interText, /CA:TRUE, pathlen:0/);
  assert.match(interText, /X509v3 Authority Key Identifier/);
  assert.match(interText, /Subject: O ?= ?Acme, CN ?= ?Acme Intermediate CA/);
  const dates = (await run('openssl', ['x509', '-in', inter, '-noout', '-startdate', '-enddate'])).stdout;
  const [start, end] = [...dates.matchAll(/=(.*)/g)].map((m) => Date.parse(m[1] as string));
  assert.equal(((end as number) - (start as number)) / 86_400_000, 3650);
  const serial = (await run('openssl', ['x509', '-in', inter, '-noout', '-serial'])).stdout.trim().replace('serial=', '');
  assert.equal(serial.length, 32, 'a 128-bit serial');

  for (const dir of ['certs', 'secrets', 'config', 'db']) assert.equal((await stat(`${base}/${dir}`)).mode & 0o777, 0o700, dir);
  for (const f of ['certs/root_ca.crt', 'secrets/root_ca_key', 'secrets/intermediate_ca_key', 'config/ca.json']) {
    assert.equal((await stat(`${base}/${f}`)).mode & 0o777, 0o600, f);
  }

  // The keys are encrypted: they open with the right password only.
  const key = `${base}/secrets/intermediate_ca_key`;
  assert.match(await readFile(key, 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
  await run('openssl', ['pkey', '-in', key, '-passin', `file:${d.path('pw.txt')}`, '-noout']);
  const wrong = await run('openssl', ['pkey', '-in', key, '-passin', `file:${d.path('wrong.txt')}`, '-noout'], { allowFail: true });
  assert.notEqual(wrong.code, 0);

  const caJson = JSON.parse(await readFile(`${base}/config/ca.json`, 'utf8'));
  assert.equal(caJson.root, root);
  assert.equal(caJson.federatedRoots, null);
  assert.deepEqual(caJson.crl, { enabled: true, generateOnRevoke: true }, 'the CA publishes its CRL');
  // The root's own CRL, empty, signed by the root for its whole life (services check every CA of a chain).
  const rootCrl = (await run('openssl', ['crl', '-in', `${base}/certs/root_ca.crl`, '-noout', '-text', '-CAfile', root, '-verify'])).stdout;
  assert.match(rootCrl, /Issuer: O ?= ?Acme, CN ?= ?Acme Root CA/);
  assert.match(rootCrl, /No Revoked Certificates/);
  assert.equal(caJson.address, '127.0.0.1:8443');
  assert.deepEqual(caJson.dnsNames, ['ca.acme.test', '127.0.0.1']);
  // The first provisioner, as step ca init makes it: a JWK key named admin, no claims.
  const [admin, ...others] = caJson.authority.provisioners;
  assert.deepEqual(others, []);
  assert.deepEqual(Object.keys(admin), ['type', 'name', 'key', 'encryptedKey']);
  assert.deepEqual([admin.type, admin.name], ['JWK', 'admin']);
  assert.deepEqual(Object.keys(admin.key), ['use', 'kty', 'kid', 'crv', 'alg', 'x', 'y']);
  assert.deepEqual([admin.key.use, admin.key.kty, admin.key.crv, admin.key.alg], ['sig', 'EC', 'P-256', 'ES256']);
  assert.equal(admin.key.kid, thumbprintByHand(admin.key), 'kid is the RFC 7638 thumbprint');
  const privateJwk = decryptPbes2ByHand(admin.encryptedKey, 'correct horse');
  assert.deepEqual({ ...privateJwk, d: undefined }, { ...admin.key, d: undefined }, 'the JWE holds the private half of key');
  assert.throws(() => decryptPbes2ByHand(admin.encryptedKey, 'nope'), 'and opens with the CA password only');
  assert.match(res.stderr, new RegExp(`✔ Provisioner: admin \\(JWK\\) \\[kid: ${admin.key.kid}\\]\n`));
  assert.match(res.stderr, /ca certificate localhost localhost\.crt localhost\.key --provisioner admin --provisioner-password-file FILE/);
  assert.match(await readFile(`${base}/config/ca.json`, 'utf8'), /^{\n\t"root"/, 'tab-indented as step writes it');

  const defaults = JSON.parse(await readFile(`${base}/config/defaults.json`, 'utf8'));
  const fp = (await run('openssl', ['x509', '-in', root, '-noout', '-fingerprint', '-sha256'])).stdout.trim().split('=')[1]?.replaceAll(':', '').toLowerCase();
  assert.deepEqual(defaults, { 'ca-url': 'https://ca.acme.test:8443', 'ca-config': `${base}/config/ca.json`, fingerprint: fp, root });
  assert.match(res.stderr, new RegExp(`Root fingerprint: ${fp}`));
});

test('ca init --provisioner names the first provisioner; --provisioner-password-file gives its key its own password', async (t) => {
  const d = await testdir({ 'pw.txt': 'ca password\n', 'ops.txt': 'ops password\n' });
  t.after(d.cleanup);
  const res = await runCli([...initArgs(d.path('pw.txt')), '--provisioner', 'ops@example.com', '--provisioner-password-file', d.path('ops.txt')], {
    env: { CA_PATH: d.path('ca') },
  });
  assert.equal(res.code, 0, res.stderr);
  const [ops] = JSON.parse(await readFile(d.path('ca/config/ca.json'), 'utf8')).authority.provisioners;
  assert.equal(ops.name, 'ops@example.com');
  assert.equal(decryptPbes2ByHand(ops.encryptedKey, 'ops password').kid, ops.key.kid);
  assert.throws(() => decryptPbes2ByHand(ops.encryptedKey, 'ca password'));
  await run('openssl', ['pkey', '-in', d.path('ca/secrets/intermediate_ca_key'), '-passin', 'pass:ca password', '-noout']);

  const empty = await runCli([...initArgs(d.path('pw.txt')), '--provisioner', ''], { env: { CA_PATH: d.path('other') } });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /invalid value '' for flag '--provisioner'/);
  assert.equal(existsSync(d.path('other')), false);
});

test('ca init refuses to replace a CA without --force, and replaces it with', async (t) => {
  const d = await testdir({ 'pw.txt': 'pw' });
  t.after(d.cleanup);
  const env = { CA_PATH: d.path('ca') };
  assert.equal((await runCli(initArgs(d.path('pw.txt')), { env })).code, 0);
  const before = await readFile(d.path('ca/certs/root_ca.crt'), 'utf8');
  const again = await runCli(initArgs(d.path('pw.txt')), { env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^ca: a certificate authority already exists in .*\n {2}try: pass --force/);
  assert.equal(await readFile(d.path('ca/certs/root_ca.crt'), 'utf8'), before);
  const forced = await runCli([...initArgs(d.path('pw.txt')), '--force'], { env });
  assert.equal(forced.code, 0, forced.stderr);
  assert.notEqual(await readFile(d.path('ca/certs/root_ca.crt'), 'utf8'), before);
});

test('ca init without a terminal names the missing flag and writes nothing', async (t) => {
  const d = await testdir({ 'pw.txt': 'pw' });
  t.after(d.cleanup);
  const env = { CA_PATH: d.path('ca') };
  const noName = await runCli(['init', '--dns', 'localhost', '--address', ':8443', '--password-file', d.path('pw.txt')], { env });
  assert.equal(noName.code, 2);
  assert.match(noName.stderr, /^ca: missing the '--name' flag/);
  assert.doesNotMatch(noName.stderr, /at .*\.js/, 'no stack trace');
  const nothing = await runCli(['init'], { env });
  assert.equal(nothing.code, 2);
  assert.equal(
    nothing.stderr,
    "ca: missing the '--name', '--dns', '--address' and '--password-file' flags\n  try: pass them, or run the command in a terminal to be asked for them\n",
    'every missing flag in one run',
  );
  const two = await runCli(['init', '--name', 'A', '--address', ':8443'], { env });
  assert.match(two.stderr, /^ca: missing the '--dns' and '--password-file' flags\n/);
  const noPassword = await runCli(['init', '--name', 'A', '--dns', 'localhost', '--address', ':8443'], { env });
  assert.equal(noPassword.code, 2);
  assert.match(noPassword.stderr, /missing the '--password-file' flag/);
  const badAddress = await runCli(['init', '--name', 'A', '--dns', 'localhost', '--address', '8443', '--password-file', d.path('pw.txt')], { env });
  assert.equal(badAddress.code, 2);
  assert.match(badAddress.stderr, /invalid value '8443' for flag '--address': expected host:port\n {2}try: for example :443 or 127\.0\.0\.1:8443 \(the address and port ca serve listens on; an empty host means every address\)/);
  assert.doesNotMatch(badAddress.stderr, /browser/);
  const emptyPw = await writeFile(d.path('empty.txt'), '\n').then(() =>
    runCli(['init', '--name', 'A', '--dns', 'localhost', '--address', ':8443', '--password-file', d.path('empty.txt')], { env }),
  );
  assert.equal(emptyPw.code, 1);
  assert.match(emptyPw.stderr, /the password file .* is empty/);
  assert.equal(existsSync(d.path('ca')), false);
});

test('ca init asks for what is missing on a terminal, and can generate the password', async (t) => {
  const d = await testdir();
  t.after(d.cleanup);
  const io = testIO();
  const prompter = scriptedPrompter(['Lab', 'localhost, 127.0.0.1', ':9443', '']);
  await initRun({ force: false }, { io, prompter, now: () => new Date(), caPath: d.path('ca') });
  assert.equal(prompter.asked.length, 4);
  assert.match(io.err(), /The password for your CA keys and the provisioner key is: (\S+)/);
  const password = /The password for your CA keys and the provisioner key is: (\S+)/.exec(io.err())?.[1] as string;
  await writeFile(d.path('pw'), password);
  await run('openssl', ['pkey', '-in', d.path('ca/secrets/root_ca_key'), '-passin', `file:${d.path('pw')}`, '-noout']);
  const [admin] = JSON.parse(await readFile(d.path('ca/config/ca.json'), 'utf8')).authority.provisioners;
  assert.equal(decryptPbes2ByHand(admin.encryptedKey, password).kid, admin.key.kid, 'the generated password opens the provisioner key too');
  const defaults = JSON.parse(await readFile(d.path('ca/config/defaults.json'), 'utf8'));
  assert.equal(defaults['ca-url'], 'https://localhost:9443');
  assert.deepEqual((await readdir(d.path('ca'))).sort(), ['certs', 'config', 'db', 'secrets']);
});
