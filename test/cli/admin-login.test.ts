/**
 * The admin login's decisions with real files and a real `ca serve`: remote or local, which kept
 * admin certificate to reuse, the names an admin certificate asks for, and, with no terminal,
 * every missing answer reported at once by its flag before any login starts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { adminRequestNames, chooseKept, keptFile, managementMode, type KeptAdmin } from '../../src/cli/admin-login.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { createCaHome, PASSWORD, startServe, type CaHome, type Serving } from '../server/helpers.js';
import { createAdminHome } from '../server/admin-helpers.js';
import { runCli } from '../helpers/run-cli.js';
import { testdir } from '../helpers/testdir.js';

const CA = { root: 'r.crt', crt: 'i.crt', key: 'i_key' };

test('remote or local: --ca-url alone, enableAdmin, or no ca.json with a known CA URL; otherwise ca.json as before', async (t) => {
  const d = await testdir({
    'local/config/ca.json': { ...CA, authority: { provisioners: [] } },
    'remote/config/ca.json': { ...CA, authority: { enableAdmin: true, provisioners: [] } },
    'client/config/defaults.json': { 'ca-url': 'https://ca.example.com', root: 'root_ca.crt' },
    'broken/config/ca.json': '{ not json',
  });
  t.after(d.cleanup);
  const mode = (caPath: string, flags: { caConfig?: string; caUrl?: string; cli?: boolean } = {}) =>
    managementMode({ caConfig: flags.caConfig, caUrl: flags.caUrl, caUrlOnCommandLine: flags.cli ?? false }, { caPath: d.path(caPath) });

  assert.deepEqual(await mode('local'), { kind: 'local', configPath: d.path('local/config/ca.json') });
  assert.deepEqual(await mode('remote'), { kind: 'remote' }, 'authority.enableAdmin: true');
  assert.deepEqual(await mode('local', { caUrl: 'https://ca', cli: true }), { kind: 'remote' }, '--ca-url without --ca-config');
  assert.deepEqual(await mode('local', { caUrl: 'https://ca', cli: false }), { kind: 'local', configPath: d.path('local/config/ca.json') }, 'CA_URL alone keeps a CA host local');
  assert.deepEqual(
    await mode('local', { caUrl: 'https://ca', cli: true, caConfig: d.path('local/config/ca.json') }),
    { kind: 'local', configPath: d.path('local/config/ca.json') },
    '--ca-config wins',
  );
  assert.deepEqual(await mode('client'), { kind: 'remote' }, 'no ca.json, a bootstrapped CA URL');
  assert.deepEqual(await mode('nothing'), { kind: 'local', configPath: d.path('nothing/config/ca.json') }, 'nothing known: the local error names ca.json');
  assert.deepEqual(await mode('client', { caConfig: d.path('missing.json') }), { kind: 'local', configPath: d.path('missing.json') }, 'a named --ca-config stays local');
  assert.deepEqual(await mode('broken'), { kind: 'local', configPath: d.path('broken/config/ca.json') }, 'a broken ca.json is reported, not skipped');
});

test('a kept admin certificate: this CA, the subject and provisioner asked for, more than a minute left, the longest-lived', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  const kept = (subject: string, provisioner: string, minutesLeft: number, caUrl = 'https://ca.example.com'): KeptAdmin => ({
    caUrl,
    subject,
    provisioner,
    notAfter: new Date(now.getTime() + minutesLeft * 60_000).toISOString(),
    certificate: `${subject}-${minutesLeft}`,
    key: 'k',
  });
  const all = [kept('alice@example.com', 'Okta', 30), kept('alice@example.com', 'Okta', 0.5), kept('bob@example.com', 'admin', 60), kept('carol@example.com', 'Okta', 90, 'https://other')];
  const want = { caUrl: 'https://ca.example.com' };
  assert.equal(chooseKept(all, want, now)?.subject, 'bob@example.com', 'the one that lasts longest');
  assert.equal(chooseKept(all, { ...want, subject: 'alice@example.com' }, now)?.certificate, 'alice@example.com-30', 'not the one about to expire');
  assert.equal(chooseKept(all, { ...want, provisioner: 'Okta' }, now)?.subject, 'alice@example.com');
  assert.equal(chooseKept(all, { ...want, subject: 'carol@example.com' }, now), undefined, 'another CA');
  assert.equal(chooseKept([kept('alice@example.com', 'Okta', 1)], want, now), undefined, 'a minute left is too little');
  assert.equal(keptFile('/ca', 'https://ca.example.com', 'alice@example.com'), keptFile('/ca', 'https://ca.example.com', 'alice@example.com'));
  assert.notEqual(keptFile('/ca', 'https://ca.example.com', 'alice@example.com'), keptFile('/ca', 'https://other', 'alice@example.com'));
  assert.match(keptFile('/ca', 'https://ca.example.com', '../../etc/passwd'), /^\/ca\/admin\/[0-9a-f]{32}\.json$/, 'no subject becomes a path');
});

test("an admin certificate asks for the subject: CN, and as a SAN (a JWK token's names; an email's)", () => {
  assert.deepEqual(adminRequestNames('step', 'jwk'), { commonName: 'step', sans: [{ type: 'dns', value: 'step' }] });
  assert.deepEqual(adminRequestNames('alice@example.com', 'jwk'), { commonName: 'alice@example.com', sans: [{ type: 'email', value: 'alice@example.com' }] });
  assert.deepEqual(adminRequestNames('alice@example.com', 'oidc'), { commonName: 'alice@example.com', sans: [{ type: 'email', value: 'alice@example.com' }] });
  assert.deepEqual(adminRequestNames('user-alice', 'oidc'), { commonName: 'user-alice', sans: [] });
});

let idp: TestIdp;
/** A CA with remote management (admin, JWK; TestIdP, OIDC, added through the admin API), and one without. */
let remote: CaHome;
let local: CaHome;
let remoteServe: Serving;
let localServe: Serving;
let work: Awaited<ReturnType<typeof testdir>>;

before(async () => {
  idp = await startIdp({ users: [] });
  work = await testdir({ 'pw.txt': `${PASSWORD}\n` });
  [remote, local] = await Promise.all([createAdminHome(), createCaHome(idp)]);
  [remoteServe, localServe] = await Promise.all([startServe(remote, { workers: 1 }), startServe(local, { workers: 1 })]);
  const added = await runCli(
    ['provisioner', 'add', 'TestIdP', '--client-id', 'ca-cli', '--configuration-endpoint', idp.discoveryUrl, '--no-check', ...at(remoteServe, remote), '--admin-subject', 'step', '--admin-provisioner', 'admin', '--admin-password-file', work.path('pw.txt')],
    { env: { CA_PATH: work.path('ops'), CI: 'true' } },
  );
  assert.equal(added.code, 0, added.stderr);
});

after(async () => {
  await Promise.all([remoteServe?.stop(), localServe?.stop()]);
  await idp?.close();
  await Promise.all([remote?.cleanup(), local?.cleanup(), work?.cleanup()]);
});

function at(serving: Serving, home: CaHome): string[] {
  return ['--ca-url', `https://127.0.0.1:${serving.port}`, '--root', home.rootFile];
}

test('no terminal, no admin credentials: every missing answer named by its flag, at once, before any login', async () => {
  const env = { CA_PATH: work.path('admin-laptop'), CI: 'true' };
  const add = ['provisioner', 'add', 'Okta', '--client-id', 'okta', '--configuration-endpoint', idp.discoveryUrl, '--no-check', ...at(remoteServe, remote)];
  const res = await runCli(add, { env });
  assert.equal(res.code, 2, res.stderr);
  assert.equal(res.stderr.split('\n')[0], 'No admin credentials found. You must login to execute admin commands.');
  assert.match(res.stderr, /^ca: missing 2 things, and there is no terminal to ask for them: --admin-subject \(the admin to log in as\); --admin-provisioner \(the CA has admin, TestIdP\)\n/m);

  // The JWK provisioner picked: its password is the one thing still missing; OIDC: a way to log in.
  const jwk = await runCli([...add, '--admin-subject', 'step', '--admin-provisioner', 'admin'], { env });
  assert.equal(jwk.code, 2);
  assert.match(jwk.stderr, /^ca: the key of provisioner admin needs its password: pass --admin-password-file FILE\n/m);
  const oidc = await runCli([...add, '--admin-subject', 'alice@example.com', '--admin-provisioner', 'TestIdP'], { env });
  assert.equal(oidc.code, 2);
  assert.match(oidc.stderr, /^ca: there is no terminal \(or CI=true\), so ca starts no login by itself: pass --console/m);
  const unknown = await runCli([...add, '--admin-provisioner', 'Nope'], { env });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^ca: invalid value 'Nope' for flag '--admin-provisioner'\n {2}try: the CA has: admin, TestIdP/m);
  const half = await runCli([...add, '--admin-cert', remote.rootFile], { env });
  assert.equal(half.code, 2);
  assert.match(half.stderr, /^ca: flag '--admin-cert' needs '--admin-key' too\n/);
  assert.equal(existsSync(work.path('admin-laptop/admin')), false, 'nothing kept');
});

test('a CA without remote management is named before any login; a duplicate name is refused from the public list first', async () => {
  const env = { CA_PATH: work.path('nowhere'), CI: 'true' };
  const none = await runCli(['provisioner', 'remove', 'TestIdP', ...at(localServe, local)], { env });
  assert.equal(none.code, 1, none.stderr);
  assert.match(none.stderr, /^ca: the CA at https:\/\/127\.0\.0\.1:\d+ has no admin API: remote management is not turned on there\n {2}try: turn it on \(authority\.enableAdmin/);
  assert.doesNotMatch(none.stderr, /No admin credentials/);

  const dup = await runCli(['provisioner', 'add', 'TestIdP', '--client-id', 'other', '--configuration-endpoint', idp.discoveryUrl, '--no-check', ...at(remoteServe, remote)], { env });
  assert.equal(dup.code, 1, dup.stderr);
  assert.match(dup.stderr, /^ca: provisioner with name TestIdP already exists\n/);
  assert.doesNotMatch(dup.stderr, /No admin credentials/);
});
