/**
 * The JWK provisioner `ca init` makes, end to end with real parts: the real `ca serve`, `bin/ca`
 * on a bootstrapped "server machine", tokens from `ca token`, openssl and curl, and the example
 * mTLS server started as its README says. Also the new-user behaviour of `ca certificate` (issue
 * 13) against the same CA and the test IdP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { browserEnv } from '../fixtures/browser/env.js';
import { createCaHome, JWK_PROVISIONER, PASSWORD, startServe, type CaHome, type Serving } from '../server/helpers.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';

const MTLS_SERVER = fileURLToPath(new URL('../../examples/mtls-server/server.mjs', import.meta.url));
const users = [{ sub: 'user-carol', username: 'carol', email: 'carol@example.com', email_verified: true, groups: [], password: 'carol-password' }];

describe('JWK provisioner end to end', { timeout: 240_000 }, () => {
  let idp: TestIdp;
  let home: CaHome;
  let serving: Serving;
  let caUrl: string;
  let work: Awaited<ReturnType<typeof testdir>>;

  before(async () => {
    idp = await startIdp({ users });
    home = await createCaHome(idp, { jwk: true });
    serving = await startServe(home, { workers: 1 });
    caUrl = `https://localhost:${serving.port}`;
    work = await testdir({ 'pw.txt': `${PASSWORD}\n` });
    const fingerprint = (await home.cli(['fingerprint', home.rootFile])).stdout.trim();
    const boot = await ca(['bootstrap', '--ca-url', caUrl, '--fingerprint', fingerprint]);
    assert.equal(boot.code, 0, boot.stderr);
  });

  after(async () => {
    await serving?.stop();
    await idp?.close();
    await home?.cleanup();
    await work?.cleanup();
  });

  /** `ca` on the server machine: bootstrapped, no terminal, working in the test directory. */
  function ca(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return runCli(args, { env: { CA_PATH: work.path('machine'), ...env }, cwd: work.dir, timeoutMs: 90_000 });
  }
  const withKey = ['--provisioner', JWK_PROVISIONER, '--provisioner-password-file', 'pw.txt'];

  async function openssl(file: string): Promise<string> {
    return (await run('openssl', ['x509', '-in', work.path(file), '-noout', '-text'])).stdout;
  }

  test('ca certificate localhost localhost.crt localhost.key --provisioner admin: a server certificate, the tutorial way', async () => {
    const res = await ca(['certificate', 'localhost', 'localhost.crt', 'localhost.key', ...withKey]);
    assert.equal(res.code, 0, res.stderr);
    const kid = JSON.parse(await readFile(home.configPath, 'utf8')).authority.provisioners[0].key.kid;
    assert.match(
      res.stderr,
      new RegExp(
        `^✔ Provisioner: admin \\(JWK\\) \\[kid: ${kid}\\]\n✔ CA: ${caUrl}\n✔ Certificate: localhost\\.crt\n✔ Private Key: localhost\\.key\n` +
          'The certificate expires at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\(in 24 hours\\); to keep it fresh, run:\n  ca renew --daemon localhost\\.crt localhost\\.key\n$',
      ),
    );
    const text = await openssl('localhost.crt');
    assert.match(text, /Subject: CN ?= ?localhost\n/);
    assert.match(text, /X509v3 Subject Alternative Name: \n\s+DNS:localhost\n/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    const verify = await run('openssl', ['verify', '-CAfile', home.rootFile, '-untrusted', work.path('localhost.crt'), work.path('localhost.crt')]);
    assert.match(verify.stdout, /localhost\.crt: OK/);
    const inspect = await ca(['inspect', 'localhost.crt', '--short']);
    assert.match(inspect.stdout, new RegExp(`Provisioner: admin \\[ID: ${kid.slice(0, 4)}`));
    const notAfter = /The certificate expires at (\S+) /.exec(res.stderr)?.[1];
    const end = (await run('openssl', ['x509', '-in', work.path('localhost.crt'), '-noout', '-enddate'])).stdout.trim().replace('notAfter=', '');
    assert.equal(Date.parse(notAfter ?? ''), Date.parse(end), 'the printed expiry is the certificate\'s');
  });

  test('--san names and the key type reach the certificate', async () => {
    const res = await ca(['certificate', 'api.internal', 'api.crt', 'api.key', ...withKey, '--san', 'api.internal', '--san', '127.0.0.1', '--san', 'ops@example.com', '--kty', 'OKP']);
    assert.equal(res.code, 0, res.stderr);
    const text = await openssl('api.crt');
    assert.match(text, /DNS:api\.internal, email:ops@example\.com, IP Address:127\.0\.0\.1/);
    assert.match(text, /Public Key Algorithm: ED25519/);
  });

  test('a token from ca token works once with --token; a reused token is refused and says so', async () => {
    const made = await ca(['token', 'svc.internal', '--provisioner', 'admin', '--password-file', 'pw.txt', '--output-file', 'svc.token']);
    assert.equal(made.code, 0, made.stderr);
    const token = (await readFile(work.path('svc.token'), 'utf8')).trim();
    // Another machine with no password: only the token.
    const elsewhere = { CA_PATH: work.path('machine'), CA_TOKEN: token };
    const ok = await ca(['certificate', 'svc.internal', 'svc.crt', 'svc.key'], elsewhere);
    assert.equal(ok.code, 0, ok.stderr);
    assert.doesNotMatch(ok.stderr, /Provisioner:/, 'no provisioner was picked: the token names it');
    assert.match(await openssl('svc.crt'), /DNS:svc\.internal/);

    const reused = await ca(['certificate', 'svc.internal', 'svc2.crt', 'svc2.key'], elsewhere);
    assert.equal(reused.code, 1);
    assert.match(reused.stderr, /^ca: the CA at \S+ answered 401: .*token already used.*\n {2}try: a token works once: make a new one \(ca token \.\.\.\) or log in again\n$/);
    assert.doesNotMatch(reused.stderr, /✔ CA:/, '✔ CA only once the CA said yes');
    assert.equal(existsSync(work.path('svc2.crt')), false);
  });

  test('names outside the token: the CLI refuses --san and another SUBJECT, the CA a CSR asking for more', async () => {
    const made = await ca(['token', 'web.internal', '--provisioner', 'admin', '--password-file', 'pw.txt']);
    const token = made.stdout.trim();
    const san = await ca(['certificate', 'web.internal', 'w.crt', 'w.key', '--token', token, '--san', 'evil.example']);
    assert.equal(san.code, 2);
    assert.match(san.stderr, /^ca: flag '--token' is incompatible with '--san'\n {2}try: the token already holds the names; make it with them instead: ca token web\.internal --san NAME\n$/);
    const other = await ca(['certificate', 'evil.example', 'w.crt', 'w.key', '--token', token]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /^ca: token subject 'web\.internal' and argument 'evil\.example' do not match\n/);

    // The CA itself, asked directly with a CSR for another name: 403 naming what the token allows.
    const csr = await csrFor('web.internal');
    const evilCsr = await csrFor('evil.example');
    const refused = await serving.request('POST', '/1.0/sign', { body: JSON.stringify({ csr: evilCsr, ott: token }), headers: { 'content-type': 'application/json' } });
    assert.equal(refused.status, 403, refused.body);
    assert.match(JSON.parse(refused.body).message, /evil\.example.*web\.internal/);
    const accepted = await serving.request('POST', '/1.0/sign', { body: JSON.stringify({ csr, ott: token }), headers: { 'content-type': 'application/json' } });
    assert.equal(accepted.status, 201, 'the refused request did not use the token up');
  });

  test('issue 13: empty tokens, no login without a terminal, every missing flag at once, --provisioner must match --token', async () => {
    for (const env of [{ CA_TOKEN: '' }, {}]) {
      const args = ['certificate', 'x.crt', 'x.key', ...('CA_TOKEN' in env ? [] : ['--token', ''])];
      const empty = await runCli(args, { env: { CA_PATH: work.path('nowhere'), ...env } });
      assert.equal(empty.code, 2);
      assert.equal(empty.stderr, 'ca: the token is empty: check the variable that holds it\n  try: pass the token itself with --token (or CA_TOKEN); leave both unset to log in instead\n');
    }

    const idpBefore = idp.requests.length;
    const noLogin = await ca(['certificate', 'carol@example.com', 'c.crt', 'c.key', '--provisioner', 'TestIdP'], { CI: 'true' });
    assert.equal(noLogin.code, 2);
    assert.match(noLogin.stderr, /^ca: there is no terminal \(or CI=true\), so ca starts no login by itself: pass --token with a token, pass --console to log in on another device, or set CA_OPEN_BROWSER=1 to open a browser anyway\n/);
    assert.equal(idp.requests.length, idpBefore, 'the IdP was not contacted');

    await writeFile(work.path('taken.crt'), 'mine');
    const all = await ca(['certificate', 'taken.crt', 'taken.key']);
    assert.equal(all.code, 2);
    assert.match(all.stderr, /^ca: missing 2 things, and there is no terminal to ask for them: --force \(taken\.crt exists\); --provisioner \(the CA has admin, TestIdP\)\n/);
    const jwkAll = await ca(['certificate', 'taken.crt', 'taken.key', '--provisioner', 'admin']);
    assert.match(jwkAll.stderr, /^ca: missing 3 things, .*: --force \(taken\.crt exists\); SUBJECT \(the name the certificate is for\); --provisioner-password-file \(the password of provisioner admin\)\n/);
    const subjectOnly = await ca(['certificate', 'j.crt', 'j.key', ...withKey]);
    assert.equal(subjectOnly.code, 2);
    assert.match(subjectOnly.stderr, /^ca: a JWK provisioner \(admin\) needs the SUBJECT argument, the name the certificate is for: ca certificate localhost localhost\.crt localhost\.key --provisioner admin\n/);
    assert.equal(await readFile(work.path('taken.crt'), 'utf8'), 'mine');

    const jwkToken = (await ca(['token', 'm.internal', '--provisioner', 'admin', '--password-file', 'pw.txt'])).stdout.trim();
    const jwkWrong = await ca(['certificate', 'm.internal', 'm.crt', 'm.key', '--token', jwkToken, '--provisioner', 'Nope']);
    assert.equal(jwkWrong.code, 2);
    assert.match(jwkWrong.stderr, /^ca: --provisioner Nope does not match the token: the token's issuer \(iss\) is "admin"\n/);
    const { idToken } = await idp.login({ username: 'carol', password: 'carol-password', clientId: 'ca-cli' });
    const oidcWrong = await ca(['certificate', 'carol@example.com', 'o.crt', 'o.key', '--token', idToken, '--provisioner', 'admin']);
    assert.equal(oidcWrong.code, 2);
    assert.match(oidcWrong.stderr, /^ca: --provisioner admin does not match the token: admin is a JWK provisioner; the token's audience \(aud\) is "ca-cli" .*\(provisioner TestIdP\)\n {2}try: pass --provisioner TestIdP/);
    const oidcMissing = await ca(['certificate', 'carol@example.com', 'o.crt', 'o.key', '--token', idToken, '--provisioner', 'Nope']);
    assert.match(oidcMissing.stderr, /^ca: --provisioner Nope does not match the token: the CA has no provisioner named Nope; the token's audience \(aud\) is "ca-cli"/);

    // Two arguments and an OIDC token: the subject is the token's email, and says so.
    const matched = await ca(['certificate', 'o.crt', 'o.key', '--token', idToken, '--provisioner', 'TestIdP']);
    assert.equal(matched.code, 0, matched.stderr);
    assert.match(matched.stderr, /^✔ Subject: carol@example\.com \(the email in the ID token\)\n✔ CA: /);
    assert.match(await openssl('o.crt'), /email:carol@example\.com/);
  });

  test('ca certificate developer.crt developer.key: the browser login names the subject', async () => {
    const res = await ca(['certificate', 'developer.crt', 'developer.key', '--provisioner', 'TestIdP'], browserEnv({ user: 'carol', password: 'carol-password', resultFile: work.path('browser.json') }));
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /✔ Provisioner: TestIdP \(OIDC\) \[client: ca-cli\]\n/);
    assert.match(res.stderr, /\n✔ Subject: carol@example\.com \(the email in the ID token\)\n✔ CA: /);
    const text = await openssl('developer.crt');
    assert.match(text, /Subject: CN ?= ?user-carol/);
    assert.match(text, /email:carol@example\.com/);
  });

  test('the example mTLS server with the JWK-issued certificate: curl and openssl s_client get through', async () => {
    if (!existsSync(work.path('localhost.crt'))) {
      assert.equal((await ca(['certificate', 'localhost', 'localhost.crt', 'localhost.key', ...withKey])).code, 0);
    }
    const client = await ca(['certificate', 'alice@example.com', 'alice.crt', 'alice.key', ...withKey]);
    assert.equal(client.code, 0, client.stderr);
    const server = await startExample(['--root', home.rootFile, '--cert', work.path('localhost.crt'), '--key', work.path('localhost.key'), '--port', '0']);
    try {
      const port = server.port;
      const curl = await run('curl', ['-sS', '--cert', work.path('alice.crt'), '--key', work.path('alice.key'), '--cacert', home.rootFile, `https://localhost:${port}`]);
      assert.equal(curl.stdout, 'Hello alice@example.com! Welcome to mTLS\n');
      const anonymous = await run('curl', ['-sS', '--cacert', home.rootFile, `https://localhost:${port}`], { allowFail: true });
      assert.notEqual(anonymous.code, 0, 'no client certificate, no greeting');
      const sClient = await run(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-verify_hostname', 'localhost', '-CAfile', home.rootFile, '-cert', work.path('alice.crt'), '-cert_chain', work.path('alice.crt'), '-key', work.path('alice.key'), '-verify_return_error', '-brief', '-ign_eof'],
        { input: 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' },
      );
      assert.match(sClient.stderr, /Verification: OK/);
      assert.match(sClient.stdout, /Hello alice@example\.com! Welcome to mTLS/);
    } finally {
      await server.stop();
    }
  });

  /** A CSR with CN and DNS name `name`, made by openssl. */
  async function csrFor(name: string): Promise<string> {
    const [key, out] = [work.path(`${name}.csr.key`), work.path(`${name}.csr`)];
    await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-out', out]);
    const csr = await readFile(out, 'utf8');
    await rm(key);
    return csr;
  }
});

/** `node examples/mtls-server/server.mjs ...` as its README runs it; resolves once it listens. */
function startExample(args: string[]): Promise<{ port: number; stop: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [MTLS_SERVER, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the example server did not start: ${stderr}`));
    }, 20_000);
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
      const port = /listening on https:\/\/\S+:(\d+)/.exec(stderr)?.[1];
      if (!port) return;
      clearTimeout(timer);
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      resolve({ port: Number(port), stop: () => (child.kill('SIGTERM'), exited) });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the example server exited ${code}: ${stderr}`));
    });
  });
}
