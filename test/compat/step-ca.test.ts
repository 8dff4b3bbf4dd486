/**
 * Compatibility with the real step-ca (Smallstep's Go server, built from Debian's packaged
 * sources; test/fixtures/step-ca.ts): step-ca runs on the ca.json and keys our `ca init` and
 * `ca provisioner add` wrote, and our `ca` command line does its whole job against it: JWK and
 * OIDC certificates, token, renew, rekey, revoke (passive revocation included), and remote
 * provisioner and admin management through step-ca's admin API, logged in as step-ca's own first
 * super admin. And the other way round: `ca serve` runs a CA home that step's own `ca init` code
 * made, and serves our CLI from it; step's own API client (what `step ca certificate|renew|revoke`
 * use) gets, renews and revokes certificates from `ca serve`; and step's own admin client (what
 * `step ca admin` and remote `step ca provisioner` use) manages a `ca serve` with remote management.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { buildStepCa, startStepCa, STEP_CA_SOURCES, stepAdminClient, stepCaInit, stepClient, stepCaVersion, type StepCa } from '../fixtures/step-ca.js';
import { caHomeAt, createCaHome, JWK_PROVISIONER, PROVISIONER, startServe, type CaHome, type Serving } from '../server/helpers.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';
import { requireTool, skipWithout } from '../helpers/tools.js';

/** Our CLI's words for an ID token whose provisioner was removed: step-ca says only 401, ca serve says which rule. */
const GONE = /answered 401: .*\n.*try: (log in again, or make a new token; the CA's log has the reason|no provisioner of this CA takes this token)/;

const skip = skipWithout('go') || skipWithout(STEP_CA_SOURCES);

describe(`our CLI against the real step-ca ${stepCaVersion()}`, { skip, timeout: 900_000 }, () => {
  let idp: TestIdp;
  let home: CaHome;
  let binary: string;
  let work: Awaited<ReturnType<typeof testdir>>;

  // The build first and alone: a failed build must fail here, not leave an IdP holding the process open.
  before(
    async () => {
      requireTool('go');
      requireTool(STEP_CA_SOURCES);
      binary = await buildStepCa();
    },
    { timeout: 600_000 },
  );

  before(async () => {
    idp = await startIdp();
    home = await createCaHome(idp, { jwk: true });
    work = await testdir();
    await writeFile(work.path('pw.txt'), await readFile(home.passwordFile));
    await mkdir(work.path('steppath'));
  });

  after(async () => {
    await idp?.close();
    await home?.cleanup();
    await work?.cleanup();
  });

  /** The home's ca.json for step-ca: its own database (bbolt) in `dbDir`, any port, and `edit`. */
  async function stepCaConfig(name: string, edit: (c: Record<string, unknown>) => void = () => {}): Promise<string> {
    const config = JSON.parse(await readFile(home.configPath, 'utf8')) as Record<string, unknown>;
    config.db = { type: 'bbolt', dataSource: work.path(`${name}.db`) };
    config.address = '127.0.0.1:0';
    edit(config);
    const file = work.path(`${name}.json`);
    await writeFile(file, JSON.stringify(config, null, '\t'));
    return file;
  }

  /** Our `ca` on a user's machine (its own $CA_PATH under the test directory), no terminal; `extra` follows every command. */
  function machine(name: string, extra: string[] = []): (args: string[]) => Promise<CliResult> {
    return (args) => runCli([...args, ...extra], { env: { CA_PATH: work.path(name) }, cwd: work.dir, timeoutMs: 90_000 });
  }

  /** That machine bootstrapped to the CA on `port` whose root is `rootFile`. */
  async function bootstrapped(port: number, rootFile: string, name: string): Promise<(args: string[]) => Promise<CliResult>> {
    const ca = machine(name);
    const fingerprint = (await runCli(['fingerprint', rootFile])).stdout.trim();
    const boot = await ca(['bootstrap', '--ca-url', `https://localhost:${port}`, '--fingerprint', fingerprint]);
    assert.equal(boot.code, 0, boot.stderr);
    return ca;
  }

  /** A fresh ID token of alice's from the test IdP (each works once). */
  async function aliceToken(): Promise<string> {
    return (await idp.login({ username: 'alice', password: 'alice-password', clientId: 'ca-cli' })).idToken;
  }

  async function text(file: string): Promise<string> {
    return (await run('openssl', ['x509', '-in', work.path(file), '-noout', '-text'])).stdout;
  }

  async function serial(file: string): Promise<string> {
    const out = (await run('openssl', ['x509', '-in', work.path(file), '-noout', '-serial'])).stdout;
    return BigInt(`0x${out.trim().replace(/^serial=/, '')}`).toString();
  }

  describe('a CA that keeps its provisioners in ca.json', () => {
    let stepCa: StepCa;
    let ca: (args: string[]) => Promise<CliResult>;

    before(async () => {
      stepCa = await startStepCa(binary, await stepCaConfig('local'), home.passwordFile);
      ca = await bootstrapped(stepCa.port, home.rootFile, 'user');
    });
    after(async () => {
      await stepCa?.stop();
    });

    test('step-ca starts on the ca.json, keys and provisioners that ca init and ca provisioner add wrote', async () => {
      const health = await ca(['health']);
      assert.equal(health.code, 0, health.stderr);
      assert.match(health.stdout, /ok/);
      const list = await ca(['provisioner', 'list']);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, new RegExp(`^${JWK_PROVISIONER}\\s+JWK`, 'm'));
      assert.match(list.stdout, new RegExp(`^${PROVISIONER}\\s+OIDC`, 'm'));
    });

    test('ca certificate with the JWK provisioner (password), then ca renew, ca rekey', async () => {
      const res = await ca(['certificate', 'localhost', 'srv.crt', 'srv.key', '--provisioner', JWK_PROVISIONER, '--provisioner-password-file', 'pw.txt']);
      assert.equal(res.code, 0, res.stderr);
      assert.match(await text('srv.crt'), /DNS:localhost/);
      await run('openssl', ['verify', '-CAfile', home.rootFile, '-untrusted', home.intermediateFile, work.path('srv.crt')]);

      const before = await serial('srv.crt');
      const renew = await ca(['renew', 'srv.crt', 'srv.key', '--force']);
      assert.equal(renew.code, 0, renew.stderr);
      assert.notEqual(await serial('srv.crt'), before, 'a new serial');
      assert.match(await text('srv.crt'), /DNS:localhost/);

      const oldKey = await readFile(work.path('srv.key'), 'utf8');
      const rekey = await ca(['rekey', 'srv.crt', 'srv.key', '--force']);
      assert.equal(rekey.code, 0, rekey.stderr);
      assert.notEqual(await readFile(work.path('srv.key'), 'utf8'), oldKey, 'a new key');
      await run('openssl', ['verify', '-CAfile', home.rootFile, '-untrusted', home.intermediateFile, work.path('srv.crt')]);
    });

    test('ca token signs a JWK token step-ca accepts for ca certificate --token', async () => {
      const token = await ca(['token', 'api.internal', '--san', 'api.internal', '--san', '10.0.0.7', '--provisioner', JWK_PROVISIONER, '--password-file', 'pw.txt']);
      assert.equal(token.code, 0, token.stderr);
      const res = await ca(['certificate', 'api.internal', 'api.crt', 'api.key', '--token', token.stdout.trim()]);
      assert.equal(res.code, 0, res.stderr);
      const cert = await text('api.crt');
      assert.match(cert, /DNS:api\.internal/);
      assert.match(cert, /IP Address:10\.0\.0\.7/);
    });

    test('ca certificate --token with an ID token from the IdP: step-ca checks it against the OIDC provisioner ca provisioner add wrote', async () => {
      const res = await ca(['certificate', 'alice@example.com', 'alice.crt', 'alice.key', '--token', await aliceToken()]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(await text('alice.crt'), /email:alice@example\.com/);
    });

    test('ca revoke with --cert/--key (mutual TLS), then renew is refused; ca revoke SERIAL with a JWK token', async () => {
      const res = await ca(['certificate', 'laptop', 'laptop.crt', 'laptop.key', '--provisioner', JWK_PROVISIONER, '--provisioner-password-file', 'pw.txt']);
      assert.equal(res.code, 0, res.stderr);
      const revoke = await ca(['revoke', '--cert', 'laptop.crt', '--key', 'laptop.key', '--reason', 'laptop lost']);
      assert.equal(revoke.code, 0, revoke.stderr);
      assert.match(revoke.stdout + revoke.stderr, new RegExp(`${await serial('laptop.crt')} has been revoked`));
      const renew = await ca(['renew', 'laptop.crt', 'laptop.key', '--force']);
      assert.notEqual(renew.code, 0, 'a revoked certificate does not renew');
      assert.match(renew.stderr, /401/);
      assert.doesNotMatch(renew.stderr, /internal error|\n\s+at /);

      const desktop = await ca(['certificate', 'desktop', 'desktop.crt', 'desktop.key', '--provisioner', JWK_PROVISIONER, '--provisioner-password-file', 'pw.txt']);
      assert.equal(desktop.code, 0, desktop.stderr);
      const number = await serial('desktop.crt');
      const bySerial = await ca(['revoke', number, '--provisioner', JWK_PROVISIONER, '--password-file', 'pw.txt', '--reasonCode', '4']);
      assert.equal(bySerial.code, 0, bySerial.stderr);
      assert.match(bySerial.stdout + bySerial.stderr, new RegExp(`${number} has been revoked`));
    });

    test('ca crl against a step-ca without a CRL: a clear error, no stack trace', async () => {
      const res = await ca(['crl']);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /does not publish a CRL/);
      assert.doesNotMatch(res.stderr, /internal error|\n\s+at /);
    });
  });

  describe('remote provisioner management through step-ca\'s admin API', () => {
    let stepCa: StepCa;
    let ca: (args: string[]) => Promise<CliResult>;
    const asSuperAdmin = ['--admin-subject', 'step', '--admin-provisioner', 'Admin JWK', '--admin-password-file', 'pw.txt'];

    before(async () => {
      // enableAdmin: step-ca makes its first provisioner ("Admin JWK", the CA password) and super admin ("step").
      const config = await stepCaConfig('remote', (c) => ((c.authority as Record<string, unknown>).enableAdmin = true));
      stepCa = await startStepCa(binary, config, home.passwordFile);
      ca = await bootstrapped(stepCa.port, home.rootFile, 'admin');
    });
    after(async () => {
      await stepCa?.stop();
    });

    test('our admin login, then an OIDC provisioner added, made to serve a user at once, given an admin, and removed', async () => {
      const admins = await ca(['admin', 'list', ...asSuperAdmin]);
      assert.equal(admins.code, 0, admins.stderr);
      assert.match(admins.stdout, /^step\s+Admin JWK \(JWK\)\s+SUPER_ADMIN/m);

      const add = await ca(['provisioner', 'add', 'Okta', '--type', 'OIDC', '--client-id', 'ca-cli', '--client-secret', 'ca-cli-secret', '--configuration-endpoint', idp.discoveryUrl]);
      assert.equal(add.code, 0, add.stderr);
      assert.match(add.stdout + add.stderr, /added provisioner Okta/);

      // A user gets a certificate from it at once: step-ca was not restarted.
      const user = await ca(['certificate', 'alice@example.com', 'a.crt', 'a.key', '--token', await aliceToken()]);
      assert.equal(user.code, 0, user.stderr);

      // A non-admin naming a server: step-ca silently gives the ID token's names instead (ca serve
      // refuses with a 403), and our CLI says which names the CA left out.
      const asUser = await ca(['certificate', 'db.internal', 'db.crt', 'db.key', '--token', await aliceToken()]);
      assert.equal(asUser.code, 0, asUser.stderr);
      assert.doesNotMatch(await text('db.crt'), /DNS:db\.internal/);
      assert.match(asUser.stderr, /warning: the CA left out db\.internal; the certificate names alice@example\.com/);
      // Made an admin of the provisioner, alice gets the names she asks for.
      const update = await ca(['provisioner', 'update', 'Okta', '--admin', 'alice@example.com']);
      assert.equal(update.code, 0, update.stderr);
      const allowed = await ca(['certificate', 'db.internal', 'db.crt', 'db.key', '--force', '--token', await aliceToken()]);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.match(await text('db.crt'), /DNS:db\.internal/);
      assert.doesNotMatch(allowed.stderr, /warning/);

      const addAdmin = await ca(['admin', 'add', 'alice@example.com', 'Okta']);
      assert.equal(addAdmin.code, 0, addAdmin.stderr);
      const list = await ca(['admin', 'list']);
      assert.match(list.stdout, /^alice@example\.com\s+Okta \(OIDC\)\s+ADMIN/m);

      const remove = await ca(['provisioner', 'remove', 'Okta']);
      assert.equal(remove.code, 0, remove.stderr);
      const provisioners = await ca(['provisioner', 'list']);
      assert.equal(provisioners.code, 0, provisioners.stderr);
      assert.doesNotMatch(provisioners.stdout, /Okta/);
      const gone = await ca(['certificate', 'alice@example.com', 'a2.crt', 'a2.key', '--token', await aliceToken()]);
      assert.notEqual(gone.code, 0, 'the removed provisioner no longer serves');
      assert.match(gone.stderr, GONE);
    });
  });

  describe('a CA home made by step ca init, served by ca serve', () => {
    let serving: Serving;
    let ca: (args: string[]) => Promise<CliResult>;
    let stepHome: string;

    before(async () => {
      stepHome = work.path('step-home');
      await stepCaInit(binary, stepHome, { name: 'Stepped', dns: 'localhost', address: '127.0.0.1:0', passwordFile: work.path('pw.txt') });
      serving = await startServe(await caHomeAt(stepHome, work.path('pw.txt')), { workers: 1 });
      ca = await bootstrapped(serving.port, `${stepHome}/certs/root_ca.crt`, 'stepped-user');
    });
    after(async () => {
      await serving?.stop();
    });

    test('its JWK provisioner (key encrypted by step) gives a certificate that renews and revokes', async () => {
      const list = await ca(['provisioner', 'list']);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^admin\s+JWK/m);
      const res = await ca(['certificate', 'svc.internal', 'svc.crt', 'svc.key', '--provisioner', 'admin', '--provisioner-password-file', 'pw.txt']);
      assert.equal(res.code, 0, res.stderr);
      const cert = await text('svc.crt');
      assert.match(cert, /Issuer: O = Stepped, CN = Stepped Intermediate CA/);
      assert.match(cert, /DNS:svc\.internal/);
      await run('openssl', ['verify', '-CAfile', `${stepHome}/certs/root_ca.crt`, '-untrusted', `${stepHome}/certs/intermediate_ca.crt`, work.path('svc.crt')]);
      const renew = await ca(['renew', 'svc.crt', 'svc.key', '--force']);
      assert.equal(renew.code, 0, renew.stderr);
      const revoke = await ca(['revoke', '--cert', 'svc.crt', '--key', 'svc.key']);
      assert.equal(revoke.code, 0, revoke.stderr);
      const again = await ca(['renew', 'svc.crt', 'svc.key', '--force']);
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /revoked/);
    });
  });

  describe('step\'s admin client against ca serve with remote management', () => {
    let serving: Serving;
    let caUrl: string;
    let root: string;
    let ca: (args: string[]) => Promise<CliResult>;

    before(async () => {
      const caPath = work.path('remote-home');
      const init = await runCli(['init', '--name', 'Remote', '--dns', 'localhost', '--address', '127.0.0.1:0', '--password-file', work.path('pw.txt'), '--remote-management'], { env: { CA_PATH: caPath } });
      assert.equal(init.code, 0, init.stderr);
      root = `${caPath}/certs/root_ca.crt`;
      serving = await startServe(await caHomeAt(caPath, work.path('pw.txt')), { workers: 2 });
      caUrl = `https://localhost:${serving.port}`;
      ca = machine('remote-user', ['--ca-url', caUrl, '--root', root]);
      // The first super admin ("step"), as step's admin login gets it: a certificate from the JWK provisioner.
      const cert = await ca(['certificate', 'step', 'step-admin.crt', 'step-admin.key', '--provisioner', JWK_PROVISIONER, '--provisioner-password-file', 'pw.txt']);
      assert.equal(cert.code, 0, cert.stderr);
    });
    after(async () => {
      await serving?.stop();
    });

    test('lists, adds an OIDC provisioner that serves at once, makes admins, and removes, all through step\'s client', async () => {
      const as = { caUrl, root, cert: work.path('step-admin.crt'), key: work.path('step-admin.key'), stepPath: work.path('steppath') };
      const step = (op: string, ...args: string[]) => stepAdminClient(binary, as, op, ...args);
      const admins = await step('list-admins');
      assert.equal(admins.code, 0, admins.stderr);
      assert.match(String(admins.result), /^step SUPER_ADMIN /);

      const add = await step('add-oidc', 'Okta', 'ca-cli', 'ca-cli-secret', idp.discoveryUrl);
      assert.equal(add.code, 0, add.stderr);
      assert.deepEqual((await step('list-provisioners')).result, [`${JWK_PROVISIONER} JWK`, 'Okta OIDC']);
      const user = await ca(['certificate', 'alice@example.com', 'r-alice.crt', 'r-alice.key', '--token', await aliceToken()]);
      assert.equal(user.code, 0, user.stderr);

      const set = await step('set-oidc-admins', 'Okta', 'alice@example.com');
      assert.equal(set.code, 0, set.stderr);
      const anyName = await ca(['certificate', 'cache.internal', 'r-cache.crt', 'r-cache.key', '--token', await aliceToken()]);
      assert.equal(anyName.code, 0, anyName.stderr);
      assert.match(await text('r-cache.crt'), /DNS:cache\.internal/);

      const carol = await step('add-admin', 'carol@example.com', 'Okta', 'ADMIN');
      assert.equal(carol.code, 0, carol.stderr);
      const id = (carol.result as { id: string }).id;
      const promoted = await step('update-admin', id, 'SUPER_ADMIN');
      assert.equal((promoted.result as { type: string }).type, 'SUPER_ADMIN');
      assert.equal((await step('remove-admin', id)).code, 0);
      const after = await step('list-admins');
      assert.equal(after.code, 0, after.stderr);
      assert.doesNotMatch(String(after.result), /carol/);

      const remove = await step('remove-provisioner', 'Okta');
      assert.equal(remove.code, 0, remove.stderr);
      assert.deepEqual((await step('list-provisioners')).result, [`${JWK_PROVISIONER} JWK`]);
      const gone = await ca(['certificate', 'alice@example.com', 'r-gone.crt', 'r-gone.key', '--token', await aliceToken()]);
      assert.notEqual(gone.code, 0, 'the removed provisioner no longer serves');
      assert.match(gone.stderr, GONE);
    });

    test('step\'s client with a certificate that is not an admin\'s is refused with a reason', async () => {
      const cert = await ca(['certificate', 'mallory', 'mallory.crt', 'mallory.key', '--provisioner', JWK_PROVISIONER, '--provisioner-password-file', 'pw.txt']);
      assert.equal(cert.code, 0, cert.stderr);
      const res = await stepAdminClient(binary, { caUrl, root, cert: work.path('mallory.crt'), key: work.path('mallory.key'), stepPath: work.path('steppath') }, 'add-oidc', 'Evil', 'x', 'y', idp.discoveryUrl);
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /mallory.*not an admin|not an admin.*mallory/i);
    });
  });

  describe('step\'s API client against ca serve', () => {
    let serving: Serving;
    let as: { caUrl: string; root: string; stepPath: string };
    const step = (op: string, ...args: string[]) => stepClient(binary, as, op, ...args);
    const ours = (args: string[]) => home.cli([...args, '--ca-url', as.caUrl, '--root', home.rootFile]);

    before(async () => {
      serving = await startServe(home, { workers: 2 });
      as = { caUrl: `https://localhost:${serving.port}`, root: home.rootFile, stepPath: work.path('steppath') };
    });
    after(async () => {
      await serving?.stop();
    });

    test('health, roots and the provisioner list read as step reads them', async () => {
      assert.equal((await step('health')).result, 'ok');
      assert.equal((await step('roots')).result, 1);
      assert.deepEqual((await step('provisioners')).result, [`${JWK_PROVISIONER} JWK`, `${PROVISIONER} OIDC`]);
    });

    test('sign with a JWK token and with an ID token, renew over mutual TLS', async () => {
      const token = (await ours(['token', 'svc.internal', '--san', 'svc.internal', '--provisioner', JWK_PROVISIONER, '--password-file', work.path('pw.txt')])).stdout.trim();
      const signed = await step('sign', token, work.path('s-svc.crt'), work.path('s-svc.key'));
      assert.equal(signed.code, 0, signed.stderr);
      assert.deepEqual((signed.result as { dns: string[] }).dns, ['svc.internal']);
      assert.equal((signed.result as { chain: number }).chain, 2, 'leaf and intermediate in certChain');
      const renewed = await step('renew', work.path('s-svc.crt'), work.path('s-svc.key'));
      assert.equal(renewed.code, 0, renewed.stderr);
      assert.notEqual((renewed.result as { serial: string }).serial, (signed.result as { serial: string }).serial);

      const user = await step('sign', await aliceToken(), work.path('s-alice.crt'), work.path('s-alice.key'));
      assert.equal(user.code, 0, user.stderr);
      assert.deepEqual((user.result as { emails: string[] }).emails, ['alice@example.com']);
    });

    test('revoke by serial with a revoke token and by mutual TLS; then renewal is refused, saying why', async () => {
      const t1 = (await ours(['token', 'one', '--provisioner', JWK_PROVISIONER, '--password-file', work.path('pw.txt')])).stdout.trim();
      const one = await step('sign', t1, work.path('s-one.crt'), work.path('s-one.key'));
      assert.equal(one.code, 0, one.stderr);
      const serialOne = (one.result as { serial: string }).serial;
      const rt = (await ours(['token', serialOne, '--revoke', '--provisioner', JWK_PROVISIONER, '--password-file', work.path('pw.txt')])).stdout.trim();
      const revoked = await step('revoke', serialOne, rt, '1', 'key compromise');
      assert.equal(revoked.code, 0, revoked.stderr);
      const refused = await step('renew', work.path('s-one.crt'), work.path('s-one.key'));
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, new RegExp(`certificate ${serialOne} was revoked .*keyCompromise`));

      const t2 = (await ours(['token', 'two', '--provisioner', JWK_PROVISIONER, '--password-file', work.path('pw.txt')])).stdout.trim();
      const two = await step('sign', t2, work.path('s-two.crt'), work.path('s-two.key'));
      assert.equal(two.code, 0, two.stderr);
      const self = await step('revoke-mtls', work.path('s-two.crt'), work.path('s-two.key'));
      assert.equal(self.code, 0, self.stderr);
      const again = await step('renew', work.path('s-two.crt'), work.path('s-two.key'));
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /was revoked/);
    });
  });
});
