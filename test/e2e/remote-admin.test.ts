/**
 * Remote administration end to end with real parts: `ca init --remote-management`, the real
 * `ca serve` (SQLite), the real test IdP, headless Chromium for every admin's login, and `bin/ca`
 * as admins and users run it on their own machines (each its own $CA_PATH, bootstrapped, no
 * terminal). The seed's flow: no admin credentials → login → provisioner created → a user gets a
 * certificate from it with no reload; the admin certificate is kept and reused; `--admin=EMAIL`;
 * remove; refusals with clear messages.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { browserEnv as scriptedBrowser } from '../fixtures/browser/env.js';
import { PASSWORD, startServe, type CaHome, type Serving } from '../server/helpers.js';
import { createAdminHome } from '../server/admin-helpers.js';
import { CA_BIN, runCli, type CliResult } from '../helpers/run-cli.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';
import { requireTool, skipWithout } from '../helpers/tools.js';
import { adminRemoveRun } from '../../src/cli/commands/admin/remove.js';
import { addRemoteRun } from '../../src/cli/commands/provisioner/add.js';
import { testIO } from '../../src/cli/io.js';
import { scriptedPrompter } from '../../src/cli/prompter.js';
import type { RemoteProvisioner } from '../../src/client/ca-client.js';

const CHROMIUM = '/usr/bin/chromium';

const users = [
  { sub: 'user-alice', username: 'alice', email: 'alice@example.com', email_verified: true, groups: [], password: 'alice-password' },
  { sub: 'user-bob', username: 'bob', email: 'bob@example.com', email_verified: true, groups: [], password: 'bob-password' },
  { sub: 'user-carol', username: 'carol', email: 'carol@example.com', email_verified: true, groups: [], password: 'carol-password' },
  { sub: 'user-dave', username: 'dave', email: 'dave@example.com', email_verified: true, groups: [], password: 'dave-password' },
];

describe('remote administration with single sign-on', { timeout: 600_000, skip: skipWithout(CHROMIUM) }, () => {
  let idp: TestIdp;
  let work: Awaited<ReturnType<typeof testdir>>;
  let home: CaHome;
  let serving: Serving;
  let caUrl: string;

  /** `ca` on someone's own machine: its own bootstrapped $CA_PATH, no terminal. */
  function as(who: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return runCli(args, { env: { CA_PATH: work.path(who), ...env }, cwd: work.dir, timeoutMs: 120_000 });
  }

  /** `ca ... --console` as `who`: the device code it shows is approved at the IdP as `username` (no browser here). */
  function onConsole(who: string, args: string[], username: string): Promise<CliResult> {
    const password = users.find((u) => u.username === username)?.password ?? 'wrong';
    const child = spawn(process.execPath, [CA_BIN, ...args, '--console'], {
      env: { PATH: process.env.PATH, HOME: '/nonexistent-home', CA_PATH: work.path(who) },
      cwd: work.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let approved = false;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      const userCode = /^and (?:check that it shows|enter) the code (\S+)$/m.exec(stderr)?.[1];
      if (userCode && !approved) {
        approved = true;
        void idp.approveDevice({ userCode, username, password });
      }
    });
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 1, stdout, stderr });
      });
    });
  }

  /** What makes `ca` log in through real Chromium as `username`. */
  function browser(username: string): NodeJS.ProcessEnv {
    const user = users.find((u) => u.username === username);
    return scriptedBrowser({ user: username, password: user?.password ?? 'wrong', resultFile: work.path(`browser-${username}-${Date.now()}.json`) });
  }

  const oktaFlags = (): string[] => ['--client-id', 'ca-public', '--configuration-endpoint', idp.discoveryUrl];
  const asStep = ['--admin-subject', 'step', '--admin-provisioner', 'admin', '--admin-password-file', 'pw.txt'];

  before(async () => {
    requireTool(CHROMIUM);
    idp = await startIdp({ users });
    work = await testdir({ 'pw.txt': `${PASSWORD}\n` });
    home = await createAdminHome({ initArgs: ['--remote-management'], enableByHand: false });
    const config = JSON.parse(await readFile(home.configPath, 'utf8')) as { authority: { enableAdmin?: boolean; provisioners?: unknown[] } };
    assert.equal(config.authority.enableAdmin, true);
    assert.deepEqual(config.authority.provisioners, [], 'the provisioners are in the database');
    serving = await startServe(home, { workers: 2 });
    caUrl = `https://127.0.0.1:${serving.port}`;
    const fingerprint = (await runCli(['fingerprint', home.rootFile])).stdout.trim();
    for (const who of ['ops', 'alice', 'bob', 'carol', 'dave']) {
      const boot = await as(who, ['bootstrap', '--ca-url', caUrl, '--fingerprint', fingerprint]);
      assert.equal(boot.code, 0, boot.stderr);
    }
  });

  after(async () => {
    await serving?.stop();
    await idp?.close();
    await home?.cleanup();
    await work?.cleanup();
  });

  test('the first super admin (JWK, step) adds the OIDC provisioner admins log in with, and makes alice a super admin', async () => {
    const added = await as('ops', ['provisioner', 'add', 'authority-admin', '--client-id', 'ca-cli', '--client-secret', 'ca-cli-secret', '--configuration-endpoint', idp.discoveryUrl, ...asStep]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stderr, /^No admin credentials found\. You must login to execute admin commands\.\n✔ Provisioner: admin \(JWK\) \[kid: [\w-]+\]\n✔ Admin: step \(certificate kept until /);
    assert.match(added.stderr, /Success! The CA added provisioner authority-admin; it takes effect at once/);

    // The kept certificate: 0600 under $CA_PATH/admin, reused by the next command (no login).
    const kept = await readdir(work.path('ops/admin'));
    assert.equal(kept.length, 1);
    assert.equal((await stat(work.path(`ops/admin/${kept[0]}`))).mode & 0o777, 0o600);
    const promoted = await as('ops', ['admin', 'add', 'alice@example.com', 'authority-admin', '--super']);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.doesNotMatch(promoted.stderr, /No admin credentials/);
    assert.match(promoted.stdout, /^SUBJECT +PROVISIONER +TYPE\nalice@example\.com +authority-admin \(OIDC\) +SUPER_ADMIN\n$/);
  });

  test("the seed's flow: no admin credentials → browser login → provisioner created → a user gets a certificate from it, no reload", async () => {
    const reloadsBefore = serving.stderr().match(/reloaded the configuration/g)?.length ?? 0;
    const res = await as('alice', ['provisioner', 'add', 'Okta', ...oktaFlags(), '--admin-subject', 'alice@example.com', '--admin-provisioner', 'authority-admin'], browser('alice'));
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /^No admin credentials found\. You must login to execute admin commands\.\n✔ Provisioner: authority-admin \(OIDC\) \[client: ca-cli\]\nYour default web browser has been opened to visit:/);
    assert.match(res.stderr, /✔ Admin: alice@example\.com \(certificate kept until /);

    const listed = JSON.parse((await as('carol', ['provisioner', 'list', '--json'])).stdout) as { name: string }[];
    assert.deepEqual(listed.map((p) => p.name).sort(), ['Okta', 'admin', 'authority-admin']);
    const cert = await as('carol', ['certificate', 'carol@example.com', 'carol.crt', 'carol.key', '--provisioner', 'Okta'], browser('carol'));
    assert.equal(cert.code, 0, cert.stderr);
    const text = (await run('openssl', ['x509', '-in', work.path('carol.crt'), '-noout', '-text'])).stdout;
    assert.match(text, /email:carol@example\.com/);
    assert.equal(serving.stderr().match(/reloaded the configuration/g)?.length ?? 0, reloadsBefore, 'no reload');
  });

  test('the kept admin certificate is reused: no second login (no browser, no terminal)', async () => {
    const list = await as('alice', ['admin', 'list'], { CI: 'true' });
    assert.equal(list.code, 0, list.stderr);
    assert.doesNotMatch(list.stderr, /No admin credentials/);
    assert.match(list.stdout, /^SUBJECT +PROVISIONER +TYPE\n/);
    assert.match(list.stdout, /\nstep +admin \(JWK\) +SUPER_ADMIN\n/);
    assert.match(list.stdout, /\nalice@example\.com +authority-admin \(OIDC\) +SUPER_ADMIN\n/);
    const supers = await as('alice', ['admin', 'list', '--super', '--provisioner', 'admin'], { CI: 'true' });
    assert.equal(supers.code, 0, supers.stderr);
    assert.equal(supers.stdout, 'SUBJECT  PROVISIONER  TYPE\nstep     admin (JWK)  SUPER_ADMIN\n');

    // A certificate brought along: --admin-cert/--admin-key, on a machine with none kept.
    const [file] = await readdir(work.path('ops/admin'));
    const kept = JSON.parse(await readFile(work.path(`ops/admin/${file}`), 'utf8')) as { certificate: string; key: string };
    await writeFile(work.path('step.crt'), kept.certificate);
    await writeFile(work.path('step.key'), kept.key, { mode: 0o600 });
    const brought = await as('carol', ['admin', 'list', '--super', '--provisioner', 'admin', '--admin-cert', 'step.crt', '--admin-key', 'step.key'], { CI: 'true' });
    assert.equal(brought.code, 0, brought.stderr);
    assert.equal(brought.stdout, supers.stdout);
    assert.equal((await readdir(work.path('carol'))).includes('admin'), false, 'nothing kept for a certificate brought along');
  });

  test('provisioner update Okta --admin=bob: then bob gets a certificate with any SAN', async () => {
    const before = await as('bob', ['certificate', 'svc.internal', 'svc0.crt', 'svc0.key', '--san', 'svc.internal', '--provisioner', 'Okta'], browser('bob'));
    assert.equal(before.code, 1);
    assert.match(before.stderr, /answered 403/);

    const update = await as('alice', ['provisioner', 'update', 'Okta', '--admin=bob@example.com'], { CI: 'true' });
    assert.equal(update.code, 0, update.stderr);
    assert.match(update.stderr, /Success! The CA changed provisioner Okta/);
    const res = await as('bob', ['certificate', 'svc.internal', 'svc.crt', 'svc.key', '--san', 'svc.internal', '--san', '10.0.0.7', '--provisioner', 'Okta'], browser('bob'));
    assert.equal(res.code, 0, res.stderr);
    assert.match((await run('openssl', ['x509', '-in', work.path('svc.crt'), '-noout', '-text'])).stdout, /DNS:svc\.internal, IP Address:10\.0\.0\.7/);

    const same = await as('alice', ['provisioner', 'update', 'Okta', '--admin=bob@example.com'], { CI: 'true' });
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /Nothing to change: provisioner Okta already has these settings/);
  });

  test("refusals say why: a non-admin's login, an ADMIN adding a super admin", async () => {
    // dave logs in on the console (device flow): the login works, the CA refuses him as an admin.
    const dave = await onConsole('dave', ['provisioner', 'remove', 'Okta', '--admin-subject', 'dave@example.com', '--admin-provisioner', 'authority-admin'], 'dave');
    assert.equal(dave.code, 1);
    assert.match(dave.stderr, /^ca: the CA at https:\/\/127\.0\.0\.1:\d+ answered 401 to DELETE \/admin\/provisioners\/Okta: user-dave \(dave@example\.com\) is not an admin of provisioner "?authority-admin"?\n/m);
    assert.match(dave.stderr, /try: log in as an admin/);

    const makeAdmin = await as('alice', ['admin', 'add', 'bob@example.com', 'authority-admin'], { CI: 'true' });
    assert.equal(makeAdmin.code, 0, makeAdmin.stderr);
    assert.match(makeAdmin.stdout, /bob@example\.com +authority-admin \(OIDC\) +ADMIN\n/);
    const bob = await as('bob', ['admin', 'add', 'eve@example.com', 'authority-admin', '--super', '--admin-subject', 'bob@example.com', '--admin-provisioner', 'authority-admin'], browser('bob'));
    assert.equal(bob.code, 1);
    assert.match(bob.stderr, /answered 40[13] to POST \/admin\/admins: .*super admin/);
    assert.match(bob.stderr, /try: ask a super admin/);
    // An ADMIN may still manage provisioners, with the certificate kept from that login.
    const update = await as('bob', ['provisioner', 'update', 'Okta', '--x509-default-dur', '8h'], { CI: 'true' });
    assert.equal(update.code, 0, update.stderr);

    const demoted = await as('alice', ['admin', 'update', 'bob@example.com', '--super'], { CI: 'true' });
    assert.equal(demoted.code, 0, demoted.stderr);
    assert.match(demoted.stdout, /bob@example\.com +authority-admin \(OIDC\) +SUPER_ADMIN\n/);
    const gone = await as('alice', ['admin', 'remove', 'bob@example.com'], { CI: 'true' });
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stderr, /✔ Removed admin: bob@example\.com of authority-admin \(OIDC\) \(SUPER_ADMIN\)/);
    const unknown = await as('alice', ['admin', 'remove', 'nobody@example.com'], { CI: 'true' });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^ca: there is no admin nobody@example\.com\n {2}try: 'ca admin list' shows the admins/);
  });

  test('on a terminal the login asks for the subject and lets the admin pick the provisioner, as step does', async () => {
    const asked: string[] = [];
    const io = testIO();
    const prompter = {
      ...scriptedPrompter(['step', PASSWORD]),
      select: async <T>(message: string, choices: { name: string; value: T }[]) => {
        asked.push(message, ...choices.map((c) => c.name));
        return (choices.find((c) => (c.value as RemoteProvisioner).name === 'admin') as { value: T }).value;
      },
    };
    await addRemoteRun(
      {
        name: 'deploy',
        type: 'JWK',
        changes: {},
        jwk: { create: true, passwordFile: work.path('pw.txt') },
        oidcFlags: [],
        check: false,
        configPath: work.path('terminal/config/ca.json'),
        admin: { console: false, caUrl, root: home.rootFile },
      },
      { io, prompter, env: {}, now: () => new Date(), fetch, caPath: work.path('terminal') },
    );
    assert.match(io.err(), /^No admin credentials found\. You must login to execute admin commands\.\n/);
    assert.deepEqual(prompter.asked, ['Please enter admin name/subject (e.g., name@example.com)', 'Please enter the password to decrypt the provisioner key:']);
    assert.equal(asked[0], 'What provisioner key do you want to use?');
    assert.ok(asked.some((a) => /^authority-admin \(OIDC\) \[client: ca-cli\]$/.test(a)), asked.join('\n'));
    assert.match(io.err(), /✔ Provisioner: deploy \(JWK\) \[kid: /);

    // And the same kept certificate removes an admin in process too.
    await adminRemoveRun({ subject: 'alice@example.com', admin: { console: false, caUrl, root: home.rootFile } }, { io, prompter: scriptedPrompter([], false), env: {}, now: () => new Date(), fetch, caPath: work.path('terminal') });
    assert.match(io.err(), /Removed admin: alice@example\.com/);
  });

  test('remove: the provisioner stops serving at once', async () => {
    const removed = await as('ops', ['provisioner', 'remove', 'Okta']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stderr, /Success! The CA removed provisioner Okta/);
    const listed = JSON.parse((await as('carol', ['provisioner', 'list', '--json'])).stdout) as { name: string }[];
    assert.ok(!listed.some((p) => p.name === 'Okta'));
    const refused = await as('carol', ['certificate', 'carol@example.com', 'c2.crt', 'c2.key', '--provisioner', 'Okta'], browser('carol'));
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /invalid value 'Okta' for flag '--provisioner'/);
  });
});
