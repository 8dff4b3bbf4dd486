/**
 * login() with a real browser: headless Chromium (test/fixtures/browser/login.ts) walking the
 * real test IdP's pages and landing on our loopback listener. One Chromium at a time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { login, type LoginRequest } from '../../src/oidc/index.js';
import { browserLogin, type BrowserLoginResult } from '../fixtures/browser/login.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { freePort, listening, loginDeps, printedUrl, verifyIdToken } from './helpers.js';

describe('login() in a real browser', { timeout: 60_000 }, () => {
  let idp: TestIdp;
  let noDevice: TestIdp;
  before(async () => {
    [idp, noDevice] = await Promise.all([startIdp(), startIdp({ deviceFlow: false })]);
  });
  after(async () => {
    assert.deepEqual(idp.serverErrors, []);
    await Promise.all([idp.close(), noDevice.close()]);
  });

  const request = (over: Partial<LoginRequest> = {}): LoginRequest => ({
    configurationEndpoint: idp.issuer,
    clientId: 'ca-cli',
    clientSecret: 'ca-cli-secret',
    console: false,
    timeoutMs: 20_000,
    ...over,
  });

  test('alice logs in: a verified ID token, a landing page that names her, and the listener gone', async () => {
    let browser: Promise<BrowserLoginResult> | undefined;
    let openedUrl = '';
    const deps = loginDeps({
      openBrowser: async (url) => {
        openedUrl = url;
        browser = browserLogin({ url, user: 'alice', password: 'alice-password' });
        return true;
      },
    });
    const { idToken, claims } = await login(request(), deps);
    const redirectUri = new URL(openedUrl).searchParams.get('redirect_uri') ?? '';
    assert.match(redirectUri, /^http:\/\/127\.0\.0\.1:\d+$/, 'no trailing slash, no path');

    const payload = await verifyIdToken(idp, idToken, 'ca-cli');
    assert.equal(payload.sub, 'user-alice');
    assert.equal(payload.nonce, new URL(openedUrl).searchParams.get('nonce'));
    assert.equal(claims.email, 'alice@example.com');
    assert.deepEqual(claims.groups, ['admins', 'engineering']);

    const seen = await browser;
    assert.equal(seen?.outcome, 'landed', JSON.stringify(seen));
    assert.equal(seen.page, 'ca-login-success');
    assert.match(seen.text, /You are logged in as alice@example\.com\./);
    assert.match(seen.text, /you can close this tab/);
    assert.ok(seen.url.startsWith(`${redirectUri}/?code=`), seen.url);

    assert.equal(deps.io.err(), `Your default web browser has been opened to visit:\n\n${openedUrl}\n\n`);
    assert.equal(await listening(redirectUri), false, 'the listener closed with the login');
  });

  test('a forged callback with the wrong state gets 400 and changes nothing: the real browser then finishes the login', async () => {
    let browser: Promise<BrowserLoginResult> | undefined;
    const forged: { status: number; body: string }[] = [];
    const tokenRequests = () => idp.requests.filter((r) => r.method === 'POST' && r.path === '/token').length;
    const before = tokenRequests();
    const deps = loginDeps({
      openBrowser: async (url) => {
        const redirectUri = new URL(url).searchParams.get('redirect_uri') ?? '';
        // Another local program (or a web page) races the real browser with its own code, or
        // tries to cancel the login with an error.
        for (const query of ['code=attacker-code&state=guessed-state', 'error=access_denied&state=guessed-state']) {
          const response = await fetch(`${redirectUri}/?${query}`);
          forged.push({ status: response.status, body: await response.text() });
        }
        browser = browserLogin({ url, user: 'alice', password: 'alice-password' });
        return true;
      },
    });
    const { claims } = await login(request(), deps);
    assert.equal(claims.email, 'alice@example.com');
    assert.deepEqual(forged.map((f) => f.status), [400, 400]);
    for (const f of forged) assert.equal(f.body, 'Bad request: this is not the callback of the login in progress\n');
    assert.match(deps.io.err(), /Invalid request received \(not this login's state\): http:\/\/127\.0\.0\.1:\d+\/\n/);
    const seen = await browser;
    assert.equal(seen?.outcome, 'landed', JSON.stringify(seen));
    assert.equal(tokenRequests(), before + 1, "only the real code was exchanged, not the attacker's");
  });

  test('--listen localhost:PORT: the redirect URI says localhost, and the browser comes back to it', async () => {
    const port = await freePort();
    let browser: Promise<BrowserLoginResult> | undefined;
    let redirectUri = '';
    const deps = loginDeps({
      openBrowser: async (url) => {
        redirectUri = new URL(url).searchParams.get('redirect_uri') ?? '';
        browser = browserLogin({ url, user: 'bob', password: 'bob-password' });
        return true;
      },
    });
    const { claims } = await login(request({ listen: `localhost:${port}` }), deps);
    assert.equal(redirectUri, `http://localhost:${port}`);
    assert.equal(claims.email, 'bob@example.org');
    const seen = await browser;
    assert.equal(seen?.outcome, 'landed', JSON.stringify(seen));
    assert.match(seen.text, /logged in as bob@example\.org/);
  });

  test('--console without a device endpoint: the user pastes the address the browser was sent to', async () => {
    let seen: BrowserLoginResult | undefined;
    const asked: string[] = [];
    const deps = loginDeps({
      prompter: {
        interactive: true,
        // The user reads the URL off the terminal, logs in in a browser on another machine, and
        // copies the address bar, which points at a listener that machine cannot reach.
        input: async (message) => {
          asked.push(message);
          const url = printedUrl(deps.io.err()) ?? assert.fail(`no URL printed: ${deps.io.err()}`);
          seen = await browserLogin({ url, user: 'alice', password: 'alice-password', captureRedirect: true });
          return seen.url;
        },
      },
    });
    const { idToken } = await login(request({ configurationEndpoint: noDevice.issuer, console: true }), deps);
    assert.equal(seen?.outcome, 'captured', JSON.stringify(seen));
    assert.equal((await verifyIdToken(noDevice, idToken, 'ca-cli')).email, 'alice@example.com');
    assert.deepEqual(asked, ['Paste that address here:']);
    assert.match(deps.io.err(), /^Open a local web browser and visit:\n\nhttp:\/\/127\.0\.0\.1:\d+\/auth\?\S+\n\nAfter the login the browser goes to http:\/\/127\.0\.0\.1:\d+\/\?code=\.\.\./);
  });

  test('--console without a device endpoint, and a browser on this machine after all: the listener finishes the login and the question is withdrawn', async () => {
    let browser: Promise<BrowserLoginResult> | undefined;
    let question: AbortSignal | undefined;
    const deps = loginDeps({
      prompter: {
        interactive: true,
        input: (_message, opts) => {
          question = opts.signal;
          const url = printedUrl(deps.io.err()) ?? assert.fail('no URL printed');
          browser = browserLogin({ url, user: 'alice', password: 'alice-password' });
          // Nobody pastes: the question stays until it is withdrawn.
          return new Promise((_, reject) => opts.signal?.addEventListener('abort', () => reject(new Error('withdrawn'))));
        },
      },
    });
    const { claims } = await login(request({ configurationEndpoint: noDevice.issuer, console: true }), deps);
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(question?.aborted, true);
    const seen = await browser;
    assert.equal(seen?.outcome, 'landed', JSON.stringify(seen));
    assert.match(seen.text, /logged in as alice@example\.com/);
  });
});
