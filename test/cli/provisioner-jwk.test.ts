/**
 * JWK provisioners through the real `bin/ca` on a home made by the real `ca init`: add (a new key,
 * or key files made by openssl and by ca itself), list, update, remove, and every refusal leaving
 * ca.json as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { runCli } from '../helpers/run-cli.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';
import { assertRefusals, type Refusal } from './refusals.js';
import { decryptPbes2ByHand, thumbprintByHand } from '../helpers/jwk.js';
import { addRun, type AddOptions } from '../../src/cli/commands/provisioner/add.js';
import { testIO } from '../../src/cli/io.js';
import { scriptedPrompter } from '../../src/cli/prompter.js';

const GOOGLE = 'https://accounts.google.com/.well-known/openid-configuration';

async function home(t: { after: (fn: () => Promise<void>) => void }) {
  const d = await testdir({ 'pw.txt': 'ca password\n', 'ci.txt': 'ci password\n' });
  t.after(d.cleanup);
  const env = { CA_PATH: d.path('ca') };
  const ca = (...args: string[]) => runCli(args, { env });
  const init = await ca('init', '--name', 'JWK Test', '--dns', 'localhost', '--address', '127.0.0.1:0', '--password-file', d.path('pw.txt'));
  assert.equal(init.code, 0, init.stderr);
  const configPath = d.path('ca/config/ca.json');
  const read = () => readFile(configPath, 'utf8');
  const provisioners = async () => JSON.parse(await read()).authority.provisioners as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any -- ca.json as parsed
  return { d, ca, read, provisioners, configPath };
}

test('add --type JWK --create: a new key encrypted with --password-file, listed with its kid', async (t) => {
  const { d, ca, provisioners } = await home(t);
  const res = await ca('provisioner', 'add', 'ci', '--type', 'JWK', '--create', '--password-file', d.path('ci.txt'), '--x509-default-dur', '2h', '--disable-renewal');
  assert.equal(res.code, 0, res.stderr);
  const ci = (await provisioners())[1];
  assert.match(res.stderr, new RegExp(`^✔ Provisioner: ci \\(JWK\\) \\[kid: ${ci?.key.kid}\\]\n✔ CA Configuration: `));
  assert.deepEqual(Object.keys(ci ?? {}), ['type', 'name', 'key', 'encryptedKey', 'claims', 'options']);
  assert.deepEqual(ci?.claims, { defaultTLSCertDuration: '2h0m0s', enableSSHCA: true, disableRenewal: true, allowRenewalAfterExpiry: false, disableSmallstepExtensions: false });
  assert.deepEqual(ci?.options, { x509: {}, ssh: {} });
  assert.equal(ci?.key.kid, thumbprintByHand(ci?.key));
  assert.equal(decryptPbes2ByHand(ci?.encryptedKey, 'ci password').kid, ci?.key.kid);
  assert.throws(() => decryptPbes2ByHand(ci?.encryptedKey, 'ca password'));

  // --type may be left out: --create says JWK.
  const inferred = await ca('provisioner', 'add', 'deploy', '--create', '--password-file', d.path('ci.txt'));
  assert.equal(inferred.code, 0, inferred.stderr);
  assert.equal((await provisioners())[2]?.type, 'JWK');

  const list = await ca('provisioner', 'list');
  const [admin, , deploy] = await provisioners();
  assert.equal(list.stdout, `admin\tJWK\tkid: ${admin?.key.kid}\t\nci\tJWK\tkid: ${ci?.key.kid}\t\ndeploy\tJWK\tkid: ${deploy?.key.kid}\t\n`);
  assert.deepEqual(JSON.parse((await ca('provisioner', 'list', '--json')).stdout), await provisioners());
});

test('add --create asks for the password twice on a terminal, and refuses without one', async (t) => {
  const { ca, read, provisioners, configPath } = await home(t);
  const opts = (name: string): AddOptions => ({ name, type: 'JWK', changes: {}, jwk: { create: true }, oidcFlags: [], check: false, configPath });
  const prompter = scriptedPrompter(['typed secret', 'typed secret']);
  await addRun(opts('typed'), { io: testIO(), fetch, prompter });
  assert.deepEqual(prompter.asked, ['Please enter a password to encrypt the provisioner private key:', 'Please enter the password again:']);
  assert.equal(decryptPbes2ByHand((await provisioners())[1]?.encryptedKey, 'typed secret').kty, 'EC');

  const before = await read();
  await assert.rejects(addRun(opts('typo'), { io: testIO(), fetch, prompter: scriptedPrompter(['one', 'two']) }), /the passwords do not match/);
  const piped = await ca('provisioner', 'add', 'piped', '--type', 'JWK', '--create');
  assert.equal(piped.code, 2);
  assert.match(piped.stderr, /^ca: missing the '--password-file' flag/);
  assert.equal(await read(), before);
});

test('add --public-key and --private-key take keys made elsewhere (openssl PEM, JWK, a JWE from ca.json)', async (t) => {
  const { d, ca, provisioners } = await home(t);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', d.path('k.pem')]);
  await run('openssl', ['pkey', '-in', d.path('k.pem'), '-pubout', '-out', d.path('k.pub.pem')]);

  const publicOnly = await ca('provisioner', 'add', 'verify-only', '--type', 'JWK', '--public-key', d.path('k.pub.pem'));
  assert.equal(publicOnly.code, 0, publicOnly.stderr);
  const verifyOnly = (await provisioners())[1];
  assert.equal(verifyOnly?.encryptedKey, undefined, 'no private key given, none stored');
  assert.equal(verifyOnly?.key.kid, thumbprintByHand(verifyOnly?.key));
  assert.equal((await ca('provisioner', 'remove', 'verify-only')).code, 0);

  const both = await ca('provisioner', 'add', 'ops', '--type', 'JWK', '--public-key', d.path('k.pub.pem'), '--private-key', d.path('k.pem'), '--password-file', d.path('ci.txt'));
  assert.equal(both.code, 0, both.stderr);
  const ops = (await provisioners())[1];
  const d0 = (createPrivateKey(await readFile(d.path('k.pem'), 'utf8')).export({ format: 'jwk' }) as { d: string }).d;
  assert.equal(decryptPbes2ByHand(ops?.encryptedKey, 'ci password').d, d0, 'the PEM key, encrypted with the password');

  // The admin key as a JWE (ca.json's own encryptedKey): opened with its password, stored re-encrypted.
  const [admin] = await provisioners();
  await ca('provisioner', 'remove', 'admin');
  await writeFile(d.path('admin.jwe'), admin?.encryptedKey);
  await writeFile(d.path('admin.pub.json'), JSON.stringify(admin?.key));
  const again = await ca('provisioner', 'add', 'admin2', '--private-key', d.path('admin.jwe'), '--public-key', d.path('admin.pub.json'), '--password-file', d.path('pw.txt'));
  assert.equal(again.code, 0, again.stderr);
  const admin2 = (await provisioners()).find((p) => p.name === 'admin2');
  assert.deepEqual(admin2?.key, admin?.key);
  assert.notEqual(admin2?.encryptedKey, admin?.encryptedKey, 'a fresh JWE');
  assert.equal(decryptPbes2ByHand(admin2?.encryptedKey, 'ca password').d, decryptPbes2ByHand(admin?.encryptedKey, 'ca password').d);

  // A private JWK alone: its public half is stored.
  await writeFile(d.path('jwk.json'), JSON.stringify({ ...createPrivateKey(await readFile(d.path('k.pem'), 'utf8')).export({ format: 'jwk' }), kid: 'ops-2024' }));
  await ca('provisioner', 'remove', 'ops');
  const jwk = await ca('provisioner', 'add', 'ops', '--private-key', d.path('jwk.json'), '--password-file', d.path('ci.txt'));
  assert.equal(jwk.code, 0, jwk.stderr);
  const fromJwk = (await provisioners()).find((p) => p.name === 'ops');
  assert.equal(fromJwk?.key.kid, 'ops-2024', "a JWK's own kid is kept, as step does");
  assert.equal(fromJwk?.key.d, undefined);
});

test('JWK refusals name the problem and leave ca.json byte-identical', async (t) => {
  const { d, ca, read, provisioners } = await home(t);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', d.path('k.pem')]);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', d.path('other.pem')]);
  await run('openssl', ['pkey', '-in', d.path('other.pem'), '-pubout', '-out', d.path('other.pub.pem')]);
  const [admin] = await provisioners();
  await writeFile(d.path('admin.pub.json'), JSON.stringify(admin?.key));
  await writeFile(d.path('admin.jwe'), admin?.encryptedKey);
  await writeFile(d.path('broken.json'), '{"kty": "EC",');
  const pw = ['--password-file', d.path('ci.txt')];
  const cases: Refusal[] = [
    [['provisioner', 'add', 'admin', '--create', ...pw], /provisioner with name admin already exists/, 1],
    [['provisioner', 'add', 'copy', '--public-key', d.path('admin.pub.json')], new RegExp(`provisioner with kid ${admin?.key.kid} already exists: it is the key of provisioner admin`), 1],
    [['provisioner', 'add', 'x', '--create', '--public-key', d.path('other.pub.pem'), ...pw], /flag '--create' is incompatible with '--public-key'/, 2],
    [['provisioner', 'add', 'x', '--create', '--private-key', d.path('k.pem'), ...pw], /flag '--create' is incompatible with '--private-key'/, 2],
    [['provisioner', 'add', 'x', '--type', 'JWK', ...pw], /'--type JWK' requires the '--create', '--public-key' or '--private-key' flag/, 2],
    [['provisioner', 'add', 'x', '--type', 'JWK', '--create', '--domain', 'a.com', ...pw], /flag '--domain' is not for --type JWK/, 2],
    [['provisioner', 'add', 'x', '--type', 'OIDC', '--create', '--client-id', 'c', '--configuration-endpoint', GOOGLE], /flag '--create' is not for --type OIDC/, 2],
    [['provisioner', 'add', 'x', '--public-key', d.path('other.pub.pem'), '--private-key', d.path('k.pem'), ...pw], /is not the public half of the key in/, 2],
    [['provisioner', 'add', 'x', '--private-key', d.path('admin.jwe'), '--password-file', d.path('ci.txt')], /cannot decrypt .*admin\.jwe: wrong password/, 1],
    [['provisioner', 'add', 'x', '--private-key', d.path('other.pub.pem'), ...pw], /holds a public key or certificate, not a private key/, 1],
    [['provisioner', 'add', 'x', '--public-key', d.path('missing.pem')], /cannot read .*missing\.pem/, 1],
    [['provisioner', 'add', 'x', '--public-key', d.path('broken.json')], /broken\.json is not a JWK this tool can read/, 1],
    [['provisioner', 'add', 'x', '--create', '--x509-min-dur', '2h', '--x509-max-dur', '1h', ...pw], /--x509-max-dur 1h is shorter than --x509-min-dur 2h/, 2],
    [['provisioner', 'add', 'x', '--create', '--disable-renewal', 'maybe', ...pw], /argument 'maybe' is invalid\. expected true or false/, 2],
    [['provisioner', 'update', 'admin', '--client-id', 'x'], /flag '--client-id' is not for JWK provisioners: admin is one/, 2],
    [['provisioner', 'update', 'admin', '--x509-default-dur', 'soon'], /invalid value 'soon' for flag '--x509-default-dur'/, 2],
  ];
  await assertRefusals(cases, ca, read);
  assert.deepEqual((await readdir(d.path('ca/config'))).sort(), ['ca.json', 'defaults.json'], 'no lock or temporary file left behind');
});

test('update renames a JWK provisioner and sets its claims, as it does an OIDC one; remove removes it', async (t) => {
  const { ca, provisioners } = await home(t);
  assert.equal((await ca('provisioner', 'add', 'Google', '--client-id', 'cid', '--configuration-endpoint', GOOGLE, '--no-check')).code, 0);
  const [before] = await provisioners();

  const renamed = await ca('provisioner', 'update', 'admin', '--name', 'ops', '--x509-max-dur', '720h', '--allow-renewal-after-expiry', '--disable-renewal');
  assert.equal(renamed.code, 0, renamed.stderr);
  const [ops] = await provisioners();
  assert.deepEqual(ops, { ...before, name: 'ops', claims: { maxTLSCertDuration: '720h0m0s', disableRenewal: true, allowRenewalAfterExpiry: true } }, 'key and encryptedKey untouched');
  const reenabled = await ca('provisioner', 'update', 'ops', '--disable-renewal=false');
  assert.equal(reenabled.code, 0, reenabled.stderr);
  assert.equal((await provisioners())[0]?.claims.disableRenewal, false);

  const taken = await ca('provisioner', 'update', 'ops', '--name', 'Google');
  assert.equal(taken.code, 1);
  assert.match(taken.stderr, /provisioner with name Google already exists/);

  const oidc = await ca('provisioner', 'update', 'Google', '--allow-renewal-after-expiry', '--x509-default-dur', '8h');
  assert.equal(oidc.code, 0, oidc.stderr);
  assert.deepEqual((await provisioners())[1]?.claims, {
    defaultTLSCertDuration: '8h0m0s',
    enableSSHCA: true,
    disableRenewal: false,
    allowRenewalAfterExpiry: true,
    disableSmallstepExtensions: false,
  });

  const removed = await ca('provisioner', 'remove', 'ops');
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual((await provisioners()).map((p) => p.name), ['Google']);
});
