/**
 * `ca oauth` end to end: the built bin/ca (run `npm run build` first) against the real test IdP,
 * with a real headless Chromium as $BROWSER (test/fixtures/browser/ca-test-browser).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { browserLogin } from '../fixtures/browser/login.js';
import { browserEnv, readBrowserResult } from '../fixtures/browser/env.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { CA_BIN, runCli, type CliResult } from '../helpers/run-cli.js';
import { testdir } from '../helpers/testdir.js';
import { verifyIdToken, waitFor } from './helpers.js';

/** bin/ca in a child process whose stderr can be read while it runs. */
function startCli(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [CA_BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: '/nonexistent-home', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
  return { stderr: () => stderr, done };
}

describe('ca oauth', { timeout: 90_000 }, () => {
  let idp: TestIdp;
  let noDevice: TestIdp;
  let dir: Awaited<ReturnType<typeof testdir>>;
  before(async () => {
    [idp, noDevice, dir] = await Promise.all([startIdp(), startIdp({ deviceFlow: false }), testdir()]);
  });
  after(async () => {
    assert.deepEqual(idp.serverErrors, []);
    await Promise.all([idp.close(), noDevice.close(), dir.cleanup()]);
  });

  const provider = () => ['--provider', idp.issuer, '--client-id', 'ca-cli', '--client-secret', 'ca-cli-secret'];

  test('--oidc --bare: the browser logs in, stdout is the ID token and a newline', async () => {
    const resultFile = dir.path('alice.json');
    const run = await runCli(['oauth', '--oidc', '--bare', ...provider()], {
      env: browserEnv({ user: 'alice', password: 'alice-password', resultFile }),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = await verifyIdToken(idp, run.stdout.trim(), 'ca-cli');
    assert.equal(claims.email, 'alice@example.com');
    assert.match(run.stderr, /^Your default web browser has been opened to visit:\n\nhttp:\/\/127\.0\.0\.1:\d+\/auth\?client_id=ca-cli&\S+\n\n$/);

    const browser = await readBrowserResult(resultFile);
    assert.equal(browser.outcome, 'landed', JSON.stringify(browser));
    assert.match(browser.text, /You are logged in as alice@example\.com/);
    assert.equal(browser.openedUrl, /visit:\n\n(\S+)/.exec(run.stderr)?.[1]);
  });

  test('Cancel at the IdP: the page shows access_denied and the command fails with it', async () => {
    const resultFile = dir.path('deny.json');
    const run = await runCli(['oauth', '--oidc', '--bare', ...provider()], {
      env: browserEnv({ action: 'deny', resultFile }),
    });
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /\nca: the login was denied \(access_denied: End-User aborted interaction\)\n {2}try: /);
    const browser = await readBrowserResult(resultFile);
    assert.equal(browser.outcome, 'landed');
    assert.equal(browser.page, 'ca-login-failure');
    assert.match(browser.text, /access_denied: End-User aborted interaction/);
  });

  test('a wrong password: the browser stays on the login page and the command times out', async () => {
    const resultFile = dir.path('wrong.json');
    const run = await runCli(['oauth', '--oidc', '--bare', '--timeout', '4s', ...provider()], {
      env: browserEnv({ user: 'alice', password: 'alice-password', action: 'wrong-password', resultFile }),
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /\nca: login timed out after 4s waiting for the browser to return to http:\/\/127\.0\.0\.1:\d+\n {2}try: try again, or use --console/);
    const browser = await readBrowserResult(resultFile);
    assert.equal(browser.outcome, 'login-error', JSON.stringify(browser));
    assert.match(browser.text, /Invalid username or password/);
  });

  test('CA_OPEN_BROWSER=0 prints the URL instead, and gives up at --timeout', async () => {
    const run = await runCli(['oauth', '--oidc', '--bare', '--timeout', '1s', ...provider()], {
      env: { CA_OPEN_BROWSER: '0', BROWSER: '/bin/false' },
    });
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^Open a local web browser and visit:\n\nhttp:\/\/127\.0\.0\.1:\d+\/auth\?\S+\n\nca: login timed out after 1s waiting for the browser to return to http:\/\/127\.0\.0\.1:\d+\n/,
    );
  });

  test('--console: the device flow, approved in a real browser on the device pages', async () => {
    const cli = startCli(['oauth', '--oidc', '--bare', '--console', ...provider()], {});
    const uri = await waitFor(() => /^To log in, visit this address on any device:\n\n(\S+)\n/m.exec(cli.stderr())?.[1], 'the verification URI', 10_000);
    const browser = await browserLogin({ url: uri, user: 'alice', password: 'alice-password' });
    assert.equal(browser.outcome, 'device-success', JSON.stringify(browser));
    const run = await cli.done;
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await verifyIdToken(idp, run.stdout.trim(), 'ca-cli')).sub, 'user-alice');
  });

  test('CA_CONSOLE=true with no device endpoint and no terminal: a clear error, exit 2', async () => {
    const run = await runCli(['oauth', '--oidc', '--bare', '--provider', noDevice.issuer, '--client-id', 'ca-cli', '--client-secret', 'ca-cli-secret'], {
      env: { CA_CONSOLE: 'true' },
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /^ca: the identity provider has no device authorization endpoint, so --console needs the address/);
    assert.match(run.stderr, /try: run the command in a terminal, or log in elsewhere and pass the ID token with --token/);
  });

  test('a busy --listen port: the address and another --listen in the message', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const run = await runCli(['oauth', '--oidc', '--bare', '--listen', `127.0.0.1:${port}`, ...provider()], { env: { CA_OPEN_BROWSER: '0' } });
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`^ca: cannot listen on 127\\.0\\.0\\.1:${port} for the login callback: the address is already in use\\n {2}try: .*--listen`));
      const fromEnv = await runCli(['oauth', '--oidc', '--bare', ...provider()], { env: { CA_OPEN_BROWSER: '0', CA_LISTEN: `:${port}` } });
      assert.equal(fromEnv.code, 1);
      assert.match(fromEnv.stderr, new RegExp(`^ca: cannot listen on 127\\.0\\.0\\.1:${port} `), 'CA_LISTEN is --listen');
    } finally {
      blocker.close();
    }
  });

  test('usage errors exit 2 before any login', async () => {
    const cases: [string[], RegExp][] = [
      [['oauth', '--client-id', 'x'], /missing the '--provider' flag/],
      [['oauth', '--provider', idp.issuer], /flag '--client-id' required with '--provider'/],
      [['oauth', ...provider(), '--timeout', 'soon'], /invalid value 'soon' for flag '--timeout'/],
      [['oauth', ...provider(), '--listen', 'nope'], /invalid value 'nope' for flag '--listen'/],
      [['oauth', '--provider', 'http://idp.example.com', '--client-id', 'x'], /must use https/],
      [['oauth', ...provider(), '--auth-param', 'state=mine'], /state is set by ca itself/],
    ];
    for (const [args, pattern] of cases) {
      const run = await runCli(args, { env: { CA_OPEN_BROWSER: '0' } });
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
    }
  });

  test('--help shows the flags and examples', async () => {
    const run = await runCli(['oauth', '--help']);
    assert.equal(run.code, 0);
    for (const flag of ['--provider', '--client-id', '--client-secret', '--scope', '--auth-param', '--oidc', '--bare', '--console', '--listen', '--timeout']) {
      assert.ok(run.stdout.includes(flag), flag);
    }
    assert.match(run.stdout, /Examples:\n/);
  });
});
