/**
 * `ca token` with real parts: a home made by `ca init` (its JWK provisioner "admin") plus an OIDC
 * provisioner for the test IdP, the real `ca serve` listing them, the real `bin/ca` making the
 * tokens; each token is checked by decoding it and verifying it with the provisioner's public key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { browserEnv } from '../fixtures/browser/env.js';
import { createCaHome, JWK_PROVISIONER, PASSWORD, startServe, type CaHome, type Serving } from '../server/helpers.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';
import { tokenRun } from '../../src/cli/commands/token.js';
import { testIO } from '../../src/cli/io.js';
import { scriptedPrompter } from '../../src/cli/prompter.js';
import { resolveCaTarget } from '../../src/client/target.js';

describe('ca token', { timeout: 120_000 }, () => {
  let idp: TestIdp;
  let home: CaHome;
  let serving: Serving;
  let caUrl: string;
  let work: Awaited<ReturnType<typeof testdir>>;
  let adminKey: JWK;
  let rootFingerprint: string;

  before(async () => {
    idp = await startIdp();
    home = await createCaHome(idp, { jwk: true });
    serving = await startServe(home, { workers: 1 });
    caUrl = `https://127.0.0.1:${serving.port}`;
    work = await testdir({ 'pw.txt': `${PASSWORD}\n`, 'wrong.txt': 'not it\n' });
    const config = JSON.parse(await readFile(home.configPath, 'utf8'));
    adminKey = config.authority.provisioners.find((p: { name: string }) => p.name === JWK_PROVISIONER).key;
    const fp = (await run('openssl', ['x509', '-in', home.rootFile, '-noout', '-fingerprint', '-sha256'])).stdout;
    rootFingerprint = (fp.split('=')[1] ?? '').trim().replaceAll(':', '').toLowerCase();
  });

  after(async () => {
    await serving?.stop();
    await idp?.close();
    await home?.cleanup();
    await work?.cleanup();
  });

  const ca = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
    runCli(['token', ...args, '--ca-url', caUrl], { env: { ...home.env, ...env }, timeoutMs: 60_000 });
  const admin = ['--provisioner', JWK_PROVISIONER];

  /** The token verified with the provisioner's public key, as the CA verifies it. */
  async function verified(token: string, currentDate?: Date): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, await importJWK(adminKey, 'ES256'), { algorithms: ['ES256'], currentDate });
    return payload;
  }

  test('a sign token: step\'s header and claims, signed with the provisioner key, valid 5 minutes', async () => {
    const res = await ca(['localhost', ...admin, '--password-file', work.path('pw.txt')]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'the token and a newline on stdout');
    assert.equal(res.stderr, `✔ Provisioner: admin (JWK) [kid: ${adminKey.kid}]\n`);
    const token = res.stdout.trim();
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'ES256', kid: adminKey.kid, typ: 'JWT' });
    const claims = await verified(token);
    assert.deepEqual(Object.keys(claims).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'sans', 'sha', 'sub']);
    assert.equal(claims.iss, 'admin');
    assert.equal(claims.sub, 'localhost');
    assert.equal(claims.aud, `${caUrl}/1.0/sign`);
    assert.deepEqual(claims.sans, ['localhost']);
    assert.equal(claims.sha, rootFingerprint, 'sha = the SHA-256 of the root DER, as openssl computes it');
    assert.match(String(claims.jti), /^[0-9a-f]{64}$/);
    assert.equal(claims.nbf, claims.iat);
    assert.equal((claims.exp as number) - (claims.iat as number), 300);
    assert.ok(Math.abs((claims.iat as number) - Date.now() / 1000) < 60, 'issued now');

    const again = await ca(['localhost', ...admin, '--provisioner-password-file', work.path('pw.txt')]);
    assert.equal(again.code, 0, again.stderr);
    assert.notEqual((await verified(again.stdout.trim())).jti, claims.jti, 'every token has its own jti');
  });

  test('--san, --not-before/--not-after bound the token; --output-file writes it for its owner only', async () => {
    const res = await ca(['api.internal', ...admin, '--password-file', work.path('pw.txt'), '--san', 'api.internal', '--san', '10.0.0.7', '--not-before', '1m', '--not-after', '10m', '--output-file', work.path('api.token')]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, '');
    assert.equal((await stat(work.path('api.token'))).mode & 0o777, 0o600);
    const token = (await readFile(work.path('api.token'), 'utf8')).trim();
    await assert.rejects(verified(token), /"nbf" claim timestamp check failed/, 'not valid yet');
    const claims = await verified(token, new Date(Date.now() + 2 * 60_000));
    assert.deepEqual(claims.sans, ['api.internal', '10.0.0.7']);
    assert.equal((claims.nbf as number) - (claims.iat as number), 60);
    assert.equal((claims.exp as number) - (claims.iat as number), 600);

    const at = await ca(['db.internal', ...admin, '--password-file', work.path('pw.txt'), '--not-after', '2030-01-02T03:04:05Z']);
    assert.equal(at.code, 0, at.stderr);
    const [, payload] = at.stdout.trim().split('.');
    assert.equal(JSON.parse(Buffer.from(payload as string, 'base64url').toString()).exp, Date.parse('2030-01-02T03:04:05Z') / 1000);

    const backwards = await ca(['x', ...admin, '--password-file', work.path('pw.txt'), '--not-before', '10m', '--not-after', '5m']);
    assert.equal(backwards.code, 2);
    assert.match(backwards.stderr, /the token would expire .* before it is valid/);
    const garbage = await ca(['x', ...admin, '--password-file', work.path('pw.txt'), '--not-after', 'tomorrow']);
    assert.equal(garbage.code, 2);
    assert.match(garbage.stderr, /invalid value 'tomorrow' for flag '--not-after'/);
  });

  test('--revoke: sub = the serial, audience .../1.0/revoke, no sans', async () => {
    const res = await ca(['123456789012345678901234567890', '--revoke', ...admin, '--password-file', work.path('pw.txt')]);
    assert.equal(res.code, 0, res.stderr);
    const claims = await verified(res.stdout.trim());
    assert.equal(claims.sub, '123456789012345678901234567890');
    assert.equal(claims.aud, `${caUrl}/1.0/revoke`);
    assert.equal(claims.sans, undefined);
    assert.equal(claims.sha, rootFingerprint);

    const withSan = await ca(['1234', '--revoke', '--san', 'x', ...admin, '--password-file', work.path('pw.txt')]);
    assert.equal(withSan.code, 2);
    assert.match(withSan.stderr, /flag '--san' is incompatible with '--revoke'/);
  });

  test('without a terminal every missing flag is named at once; wrong passwords and names are clear errors', async () => {
    const bare = await ca(['localhost']);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^ca: the CA has 2 provisioners to choose from \(admin, TestIdP\): pass --provisioner NAME\n/);

    const noPassword = await ca(['localhost', ...admin], { CI: 'true' });
    assert.equal(noPassword.code, 2);
    assert.match(noPassword.stderr, /^ca: the key of provisioner admin needs its password: pass --password-file FILE\n/);

    const byKid = await ca(['localhost', '--kid', String(adminKey.kid), '--password-file', work.path('pw.txt')]);
    assert.equal(byKid.code, 0, byKid.stderr);
    assert.match(byKid.stderr, /✔ Provisioner: admin \(JWK\)/);

    const wrong = await ca(['localhost', ...admin, '--password-file', work.path('wrong.txt')]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /\nca: cannot decrypt the key of provisioner admin: wrong password\n {2}try: /);
    assert.equal(wrong.stdout, '');

    const unknown = await ca(['localhost', '--provisioner', 'nobody']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /invalid value 'nobody' for flag '--provisioner'\n {2}try: the CA has: admin, TestIdP/);
    const badKid = await ca(['localhost', '--kid', 'nope']);
    assert.equal(badKid.code, 2);
    assert.match(badKid.stderr, /invalid value 'nope' for flag '--kid'/);

    const oidcNoTerminal = await ca(['alice@example.com', '--provisioner', 'TestIdP']);
    assert.equal(oidcNoTerminal.code, 2);
    assert.match(oidcNoTerminal.stderr, /there is no terminal \(or CI=true\), so ca starts no login by itself: pass --console .*CA_OPEN_BROWSER=1/);
  });

  test('on a terminal: the picker offers the JWK provisioner with step\'s label, then asks for its password', async () => {
    const target = await resolveCaTarget({ caUrl, root: home.rootFile }, { caPath: home.caPath, env: {} });
    const list = await target.client.provisioners();
    const io = testIO({ stdin: true, stderr: true });
    const prompter = scriptedPrompter([list.find((p) => p.name === 'admin'), PASSWORD]);
    await tokenRun(
      { subject: 'localhost', sans: [], revoke: false, console: false, caUrl, root: home.rootFile },
      { io, env: {}, now: () => new Date(), fetch, prompter, caPath: home.caPath },
    );
    assert.deepEqual(prompter.asked, ['What provisioner key do you want to use?', 'Please enter the password to decrypt the provisioner key:']);
    assert.equal((await verified(io.out().trim())).sub, 'localhost');
    // A CA that lists provisioners without their encrypted key serves it by kid; ours does both.
    const stored = JSON.parse(await readFile(home.configPath, 'utf8')).authority.provisioners.find((p: { name: string }) => p.name === 'admin');
    assert.equal(await target.client.provisionerKey(String(adminKey.kid)), stored.encryptedKey);
  });

  test('a JWK provisioner with only a public key in ca.json makes no tokens, and says why', async () => {
    await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', work.path('v.pem')]);
    await run('openssl', ['pkey', '-in', work.path('v.pem'), '-pubout', '-out', work.path('v.pub.pem')]);
    await home.cli(['provisioner', 'add', 'verify-only', '--type', 'JWK', '--public-key', work.path('v.pub.pem')]);
    serving.child.kill('SIGHUP');
    const target = await resolveCaTarget({ caUrl, root: home.rootFile }, { caPath: home.caPath, env: {} });
    for (let i = 0; i < 100 && !(await target.client.provisioners()).some((p) => p.name === 'verify-only'); i++) await new Promise((r) => setTimeout(r, 100));
    const res = await ca(['localhost', '--provisioner', 'verify-only', '--password-file', work.path('pw.txt')]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /ca: provisioner verify-only has no encrypted key\n {2}try: its private key is not in ca\.json/);
  });

  test('with an OIDC provisioner it logs in (browser) and prints the ID token', async () => {
    const res = await ca(['alice@example.com', '--provisioner', 'TestIdP'], browserEnv({ user: 'alice', password: 'alice-password', resultFile: work.path('browser.json') }));
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /✔ Provisioner: TestIdP \(OIDC\) \[client: ca-cli\]\nYour default web browser has been opened/);
    const [, payload] = res.stdout.trim().split('.');
    const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, 'ca-cli');
    assert.equal(claims.email, 'alice@example.com');
  });
});
