/**
 * The whole journey with real parts: an OpenID Provider, `ca serve`, Debian's Chromium logging in
 * through the $BROWSER script, `ca certificate` as a user runs it, and an mTLS service that must
 * accept the result (checked with curl and Node's TLS client).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { startProxy } from '../fixtures/proxy.js';
import { browserEnv as scriptedBrowser, readBrowserResult } from '../fixtures/browser/env.js';
import { createCaHome, startServe, type CaHome, type Serving } from '../server/helpers.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { run } from '../helpers/exec.js';
import { selfSigned } from '../helpers/https.js';
import { testdir } from '../helpers/testdir.js';
import { startMtlsServer } from '../../examples/mtls-server/server.mjs';

const users = [
  { sub: 'user-alice', username: 'alice', email: 'alice@example.com', email_verified: true, groups: ['admins'], password: 'alice-password' },
  { sub: 'user-carol', username: 'carol', email: 'carol@example.com', email_verified: true, groups: ['engineering'], password: 'carol-password' },
];

let idp: TestIdp;
let home: CaHome;
let serving: Serving;
let caUrl: string;
let fingerprint: string;
let work: Awaited<ReturnType<typeof testdir>>;
let serverCert: { cert: string; key: string };

/** `ca` as a user on another machine: its own $CA_PATH, no terminal. */
function userCa(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { env: { CA_PATH: work.path('user'), ...env }, timeoutMs: 90_000 });
}

/** The env that makes `ca certificate` log in through real Chromium as `username`. */
function browserEnv(username: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const user = users.find((u) => u.username === username);
  return { ...scriptedBrowser({ user: username, password: user?.password ?? 'wrong', resultFile: work.path(`browser-${username}.json`) }), ...extra };
}

before(async () => {
  idp = await startIdp({ users });
  home = await createCaHome(idp, { dnsNames: ['localhost', '127.0.0.1', 'ca.test'] });
  await home.cli(['provisioner', 'update', 'TestIdP', '--admin', 'admins', '--no-check']);
  serving = await startServe(home, { workers: 1 });
  caUrl = `https://127.0.0.1:${serving.port}`;
  fingerprint = (await home.cli(['fingerprint', home.rootFile])).stdout.trim();
  work = await testdir();
});

after(async () => {
  await serving?.stop();
  await idp?.close();
  await home?.cleanup();
  await work?.cleanup();
});

test('bootstrap trusts the CA by fingerprint; then health, roots and the provisioner list need no flags', async () => {
  const wrong = await userCa(['bootstrap', '--ca-url', caUrl, '--fingerprint', 'ab'.repeat(32)]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /ca: /);
  assert.equal(existsSync(work.path('user/certs/root_ca.crt')), false);

  const ok = await userCa(['bootstrap', '--ca-url', caUrl, '--fingerprint', fingerprint]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /The root certificate has been saved in .*root_ca\.crt\.\nThe authority configuration has been saved in .*defaults\.json\./);
  assert.equal(await readFile(work.path('user/certs/root_ca.crt'), 'utf8'), home.rootPem);
  const defaults = JSON.parse(await readFile(work.path('user/config/defaults.json'), 'utf8'));
  assert.deepEqual(defaults, { 'ca-url': caUrl, fingerprint, root: work.path('user/certs/root_ca.crt') });

  assert.equal((await userCa(['health'])).stdout, 'ok\n');
  assert.equal((await userCa(['roots'])).stdout.trim(), home.rootPem.trim());
  assert.equal((await userCa(['root'])).stdout.trim(), home.rootPem.trim());
  const listed = await userCa(['provisioner', 'list', '--ca-url', caUrl, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(JSON.parse(listed.stdout)[0].name, 'TestIdP');
});

test('a user logs in in the browser and gets a certificate that an mTLS service accepts', async () => {
  const crt = work.path('carol.crt');
  const key = work.path('carol.key');
  const { rm } = await import('node:fs/promises');
  await rm(work.path('browser-carol.json'), { force: true });
  const res = await userCa(['certificate', 'carol@example.com', crt, key], browserEnv('carol'));
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /✔ Provisioner: TestIdP \(OIDC\) \[client: ca-cli\]/);
  assert.match(res.stderr, /Your default web browser has been opened to visit:\n\nhttp:\/\/127\.0\.0\.1:\d+\/auth\?/);
  assert.match(res.stderr, new RegExp(`✔ CA: ${caUrl}\n✔ Certificate: ${crt}\n✔ Private Key: ${key}\n`));
  const landing = await readBrowserResult(work.path('browser-carol.json'));
  assert.match(landing.text, /carol@example\.com/, 'the landing page says who logged in');

  const inspect = await runCli(['inspect', crt, '--short']);
  assert.match(inspect.stdout, /X\.509v3 TLS Certificate \(ECDSA P-256\)/);
  assert.match(inspect.stdout, /Subject: +user-carol\n +carol@example\.com\n +http:\/\/127\.0\.0\.1:\d+#user-carol/);
  assert.match(inspect.stdout, /Provisioner: TestIdP \[ID: ca-cli\]/);
  assert.equal((await run('openssl', ['verify', '-CAfile', home.rootFile, '-untrusted', crt, crt])).stdout.trim(), `${crt}: OK`);
  const { stat } = await import('node:fs/promises');
  assert.equal((await stat(crt)).mode & 0o777, 0o600);
  assert.equal((await stat(key)).mode & 0o777, 0o600);
  await assertMtls(crt, key, 'carol@example.com');
});

test('an admin asks for a service name with --san and gets exactly it', async () => {
  const crt = work.path('svc.crt');
  const key = work.path('svc.key');
  const res = await userCa(['certificate', 'svc.internal', crt, key, '--san', 'svc.internal', '--san', '127.0.0.1', '--kty', 'RSA', '--not-after', '1h', '--json'], browserEnv('alice'));
  assert.equal(res.code, 0, res.stderr);
  const manifest = JSON.parse(res.stdout);
  assert.equal(manifest.subject, 'svc.internal');
  assert.deepEqual(manifest.sans, ['svc.internal', '127.0.0.1']);
  assert.equal(manifest.certificate, crt);
  assert.equal(manifest.provisioner, 'TestIdP');
  const hours = (Date.parse(manifest.notAfter) - Date.parse(manifest.notBefore)) / 3_600_000;
  assert.ok(hours > 0.9 && hours < 1.1, `lifetime ${hours}h`);
  const text = (await run('openssl', ['x509', '-in', crt, '-noout', '-text'])).stdout;
  assert.match(text, /DNS:svc\.internal, IP Address:127\.0\.0\.1/);
  assert.match(text, /Public-Key: \(2048 bit\)/);
  serverCert = { cert: await readFile(crt, 'utf8'), key: await readFile(key, 'utf8') };
});

test('a non-admin asking for another name gets the CA\'s reason and no files', async () => {
  const res = await userCa(['certificate', 'someone-else@example.com', work.path('x.crt'), work.path('x.key')], browserEnv('carol'));
  assert.equal(res.code, 1);
  assert.match(res.stderr, /the CA at https:\/\/127\.0\.0\.1:\d+ answered 403: .*carol@example\.com/);
  assert.equal(existsSync(work.path('x.crt')), false);
  assert.equal(existsSync(work.path('x.key')), false);
});

test('CI: --token in a process with no terminal, no discovery and no prompt', async () => {
  const { idToken } = await idp.login({ username: 'carol', password: 'carol-password', clientId: 'ca-cli' });
  const before = idp.requests.length;
  const res = await userCa(['certificate', 'carol@example.com', work.path('ci.crt'), work.path('ci.key')], { CI: 'true', CA_TOKEN: idToken });
  assert.equal(res.code, 0, res.stderr);
  assert.doesNotMatch(res.stderr, /Provisioner:/);
  assert.equal(idp.requests.length, before, 'the IdP was not contacted');
  await assertMtls(work.path('ci.crt'), work.path('ci.key'), 'carol@example.com');

  // The same token again: the CA refuses a replay and the command says why.
  const replay = await userCa(['certificate', 'carol@example.com', work.path('ci2.crt'), work.path('ci2.key'), '--token', idToken], { CI: 'true' });
  assert.equal(replay.code, 1);
  assert.match(replay.stderr, /answered 401/);

  const noCa = await runCli(['certificate', 'carol@example.com', work.path('n.crt'), work.path('n.key'), '--token', idToken], { env: { CA_PATH: work.path('nobody'), CI: 'true' } });
  assert.equal(noCa.code, 2);
  assert.match(noCa.stderr, /missing the '--ca-url' flag/);
});

test('existing files are kept without --force; with it they are replaced', async () => {
  await writeFile(work.path('keep.crt'), 'mine');
  await writeFile(work.path('keep.key'), 'my key');
  const { idToken } = await idp.login({ username: 'carol', password: 'carol-password', clientId: 'ca-cli' });
  const kept = await userCa(['certificate', 'carol@example.com', work.path('keep.crt'), work.path('keep.key'), '--token', idToken]);
  assert.equal(kept.code, 2);
  assert.match(kept.stderr, /^ca: .*keep\.crt and .*keep\.key exist; pass --force to overwrite\n/);
  assert.equal(await readFile(work.path('keep.crt'), 'utf8'), 'mine');
  assert.equal(await readFile(work.path('keep.key'), 'utf8'), 'my key');

  // A key that cannot be written is found before the CA is asked: the token is not used up.
  const nowhere = await userCa(['certificate', 'carol@example.com', work.path('keep.crt'), work.path('no/such/dir/keep.key'), '--token', idToken, '--force']);
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.stderr, /^ca: cannot write .*keep\.key: the directory .*no\/such\/dir does not exist\n {2}try: create it first/);
  assert.equal(await readFile(work.path('keep.crt'), 'utf8'), 'mine');
  const forced = await userCa(['certificate', 'carol@example.com', work.path('keep.crt'), work.path('keep.key'), '--token', idToken, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(await readFile(work.path('keep.crt'), 'utf8'), /BEGIN CERTIFICATE/);
});

test('several OIDC provisioners: non-interactive runs must name one', async () => {
  await home.cli(['provisioner', 'add', 'Second', '--client-id', 'ca-public', '--configuration-endpoint', idp.discoveryUrl, '--no-check']);
  serving.child.kill('SIGHUP');
  await serving.waitForStderr(/reload/i);
  for (let i = 0; i < 50; i++) {
    const listed = JSON.parse((await userCa(['provisioner', 'list', '--ca-url', caUrl, '--json'])).stdout) as unknown[];
    if (listed.length === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const ask = await userCa(['certificate', 'carol@example.com', work.path('p.crt'), work.path('p.key')], { CI: 'true' });
  assert.equal(ask.code, 2);
  assert.match(ask.stderr, /^ca: the CA has 2 provisioners to choose from \(TestIdP, Second\): pass --provisioner NAME\n/);
  const unknown = await userCa(['certificate', 'carol@example.com', work.path('p.crt'), work.path('p.key'), '--provisioner', 'Nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /invalid value 'Nope' for flag '--provisioner'/);
  const picked = await userCa(['certificate', 'carol@example.com', work.path('p.crt'), work.path('p.key'), '--provisioner', 'TestIdP'], browserEnv('carol'));
  assert.equal(picked.code, 0, picked.stderr);
});

test('behind a proxy: CA requests go through HTTPS_PROXY, loopback ones never; a dead CA is named with a hint', async () => {
  const proxy = await startProxy({ hosts: { 'ca.test': '127.0.0.1' } });
  try {
    const { idToken } = await idp.login({ username: 'carol', password: 'carol-password', clientId: 'ca-cli' });
    const res = await userCa(['certificate', 'carol@example.com', work.path('px.crt'), work.path('px.key'), '--token', idToken, '--ca-url', `https://ca.test:${serving.port}`], { HTTPS_PROXY: proxy.url });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(proxy.seen.includes(`CONNECT ca.test:${serving.port}`), proxy.seen.join('\n'));

    // As Go (and so step) does: localhost and loopback addresses never go to the proxy.
    const seen = proxy.seen.length;
    const local = await userCa(['health', '--ca-url', `https://127.0.0.1:${serving.port}`], { HTTPS_PROXY: proxy.url });
    assert.equal(local.code, 0, local.stderr);
    assert.equal(proxy.seen.length, seen, proxy.seen.join('\n'));
  } finally {
    await proxy.close();
  }
  const port = await freePort();
  const dead = await userCa(['health', '--ca-url', `https://127.0.0.1:${port}`]);
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, new RegExp(`^ca: cannot reach 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
  assert.match(dead.stderr, /try: check the URL, that the server is running, and HTTPS_PROXY/);
});

test('on a terminal several provisioners give step\'s picker; the chosen one logs in', async () => {
  const { certificateRun } = await import('../../src/cli/commands/certificate.js');
  const { testIO } = await import('../../src/cli/io.js');
  const { scriptedPrompter } = await import('../../src/cli/prompter.js');
  const io = testIO();
  const resultFile = work.path('browser-picker.json');
  const prompter = {
    ...scriptedPrompter([]),
    select: async <T>(message: string, choices: { name: string; value: T }[]) => {
      asked.push(message, ...choices.map((c) => c.name));
      return (choices.find((c) => c.name.startsWith('TestIdP')) as { value: T }).value;
    },
  };
  const asked: string[] = [];
  await certificateRun(
    { subject: 'carol@example.com', crtFile: work.path('pick.crt'), keyFile: work.path('pick.key'), sans: [], console: false, force: true, json: false, timeoutMs: 60_000, caUrl, root: home.rootFile },
    { io, prompter, env: { ...scriptedBrowser({ user: 'carol', password: 'carol-password', resultFile }) }, now: () => new Date(), fetch, caPath: work.path('user') },
  );
  assert.deepEqual(asked, ['What provisioner key do you want to use?', 'TestIdP (OIDC) [client: ca-cli]', 'Second (OIDC) [client: ca-public]']);
  assert.match(io.err(), /✔ Provisioner: TestIdP \(OIDC\) \[client: ca-cli\]/);
  assert.match(await readFile(work.path('pick.crt'), 'utf8'), /BEGIN CERTIFICATE/);
  await readBrowserResult(resultFile);
});

test('the provisioner\'s listenAddress fixes the callback port; --console uses the device flow', async () => {
  const port = await freePort();
  await home.cli(['provisioner', 'update', 'TestIdP', '--listen-address', `127.0.0.1:${port}`, '--no-check']);
  serving.child.kill('SIGHUP');
  for (let i = 0; i < 50; i++) {
    const listed = JSON.parse((await userCa(['provisioner', 'list', '--ca-url', caUrl, '--json'])).stdout) as { listenAddress?: string }[];
    if (listed[0]?.listenAddress) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const fixed = await userCa(['certificate', 'carol@example.com', work.path('fixed.crt'), work.path('fixed.key'), '--provisioner', 'TestIdP'], browserEnv('carol'));
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.match(fixed.stderr, new RegExp(`redirect_uri=http%3A%2F%2F127\\.0\\.0\\.1%3A${port}&`));

  // --console: the device code is shown on stderr and approved elsewhere (here: over HTTP at the IdP).
  const { spawn } = await import('node:child_process');
  const { CA_BIN } = await import('../helpers/run-cli.js');
  const child = spawn(process.execPath, [CA_BIN, 'certificate', 'carol@example.com', work.path('dev.crt'), work.path('dev.key'), '--provisioner', 'TestIdP', '--console'], {
    env: { PATH: process.env.PATH, HOME: '/nonexistent-home', CA_PATH: work.path('user') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const code = await new Promise<number | null>((resolve) => {
    let approved = false;
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      const userCode = /^and (?:check that it shows|enter) the code (\S+)$/m.exec(stderr)?.[1];
      if (userCode && !approved) {
        approved = true;
        void idp.approveDevice({ userCode, username: 'carol', password: 'carol-password' });
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, stderr);
  assert.match(stderr, /✔ Certificate: /);
  await assertMtls(work.path('dev.crt'), work.path('dev.key'), 'carol@example.com');
});

/** A port nothing listens on: one the kernel just gave out and took back. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** curl and Node's TLS client get the greeting with the certificate; a certificate from another root is refused. */
async function assertMtls(crt: string, key: string, who: string): Promise<void> {
  const server = await startMtlsServer({ root: home.rootPem, ...(serverCert ?? (await ownServerCert())), port: 0 });
  try {
    const curl = await run('curl', ['-sS', '--cert', crt, '--key', key, '--cacert', home.rootFile, server.url]);
    assert.equal(curl.stdout, `Hello ${who}! Welcome to mTLS\n`);
    const stranger = await strangerCert();
    const refused = await run('curl', ['-sS', '--cert', stranger.crt, '--key', stranger.key, '--cacert', home.rootFile, server.url], { allowFail: true });
    assert.notEqual(refused.code, 0, 'a certificate from another root is refused');
  } finally {
    await server.close();
  }
}

/** A server certificate for the mTLS service, issued by the CA to the admin (before the admin test ran). */
async function ownServerCert(): Promise<{ cert: string; key: string }> {
  const { idToken } = await idp.login({ username: 'alice', password: 'alice-password', clientId: 'ca-cli' });
  const res = await userCa(['certificate', '127.0.0.1', work.path('srv.crt'), work.path('srv.key'), '--san', '127.0.0.1', '--token', idToken, '--force']);
  assert.equal(res.code, 0, res.stderr);
  serverCert = { cert: await readFile(work.path('srv.crt'), 'utf8'), key: await readFile(work.path('srv.key'), 'utf8') };
  return serverCert;
}

/** A client certificate from a root the service does not trust, made with openssl. */
async function strangerCert(): Promise<{ crt: string; key: string }> {
  if (!existsSync(work.path('mallory@example.com.crt'))) await selfSigned(work.dir, 'mallory@example.com');
  return { crt: work.path('mallory@example.com.crt'), key: work.path('mallory@example.com.key') };
}
