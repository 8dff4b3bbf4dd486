/**
 * login() against the real test IdP, its pages walked over HTTP (the real-browser runs are in
 * browser-login.test.ts and oauth-cli.test.ts): the listener's rules, the device flow, the paste
 * fallback's refusal without a terminal, and ID tokens that must be refused.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from 'jose';
import { CaError } from '../../src/errors.js';
import { testIO } from '../../src/cli/io.js';
import { authorize, login } from '../../src/oidc/index.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { freePort, httpLogin, listening, loginDeps, printedUrl, verifyIdToken, waitFor } from './helpers.js';

/** Send a request with any Host header (fetch will not), and return the status. */
function rawGet(url: string, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: host ? { host } : {} }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Write one raw request (any request line, which no HTTP client will send) and return the status line of the answer. */
function rawRequestLine(redirectUri: string, requestLine: string): Promise<string> {
  const { hostname, port } = new URL(redirectUri);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(`${requestLine}\r\nHost: ${hostname}:${port}\r\n\r\n`));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

/** Token endpoint requests that exchange an authorization code (not device polls). */
function isCodeExchange(input: Parameters<typeof fetch>[0], init: Parameters<typeof fetch>[1]): boolean {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  return url.endsWith('/token') && String(init?.body ?? '').includes('grant_type=authorization_code');
}

function assertCaError(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof CaError, `expected a CaError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

describe('login() browser flow over HTTP', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startIdp();
  });
  after(async () => {
    assert.deepEqual(idp.serverErrors, []);
    await idp.close();
  });

  const request = (over: Record<string, unknown> = {}) => ({
    configurationEndpoint: idp.issuer,
    clientId: 'ca-cli',
    clientSecret: 'ca-cli-secret',
    console: false,
    timeoutMs: 10_000,
    ...over,
  });

  test('stray requests get 400 and the login keeps waiting for the real callback', async () => {
    let landing: { status: number; body: string } | undefined;
    const deps = loginDeps({
      openBrowser: async (url) => {
        const redirectUri = new URL(url).searchParams.get('redirect_uri') ?? '';
        const port = new URL(redirectUri).port;
        assert.equal(await rawGet(`${redirectUri}/favicon.ico`), 400);
        assert.equal(await rawGet(`${redirectUri}/callback?code=x&state=y`), 400);
        assert.equal(await rawGet(`${redirectUri}/`), 400, 'no code, no state');
        assert.equal(await rawGet(`${redirectUri}/?code=only-a-code`), 400, 'no state');
        // A name rebound to 127.0.0.1 by some web page is not us, whatever it carries.
        assert.equal(await rawGet(`${redirectUri}/?code=x&state=y`, `attacker.example:${port}`), 400);
        const post = await fetch(`${redirectUri}/?code=x&state=y`, { method: 'POST' });
        assert.equal(post.status, 400);
        ({ landing } = await httpLogin(idp, url));
        return true;
      },
    });
    const { claims } = await login(request(), deps);
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(landing?.status, 200);
    assert.match(landing?.body ?? '', /logged in as <strong id="who">alice@example\.com<\/strong>/);
    const hints = deps.io.err().match(/Invalid request received: http:\/\/127\.0\.0\.1:\d+\/(\?code=only-a-code)?\nYou may have an app or browser plugin that needs to be turned off\n/g);
    assert.equal(hints?.length, 2, deps.io.err());
  });

  test('an error callback without any state is a stray: 400, and only the error with our state ends the login', async () => {
    let stray: { status: number; body: string } | undefined;
    let landing: { status: number; body: string } | undefined;
    const deps = loginDeps({
      openBrowser: async (url) => {
        const redirectUri = new URL(url).searchParams.get('redirect_uri') ?? '';
        // Any local process (or a web page, with a fixed port) could send this.
        const response = await fetch(`${redirectUri}/?error=access_denied&error_description=forged+by+someone+else`);
        stray = { status: response.status, body: await response.text() };
        assert.equal(await rawGet(`${redirectUri}/?error=server_error&state=`), 400, 'an empty state is no state');
        // The user presses Cancel at the IdP: its error comes back with our state.
        ({ landing } = await httpLogin(idp, url, { deny: true }));
        return true;
      },
    });
    await assert.rejects(login(request(), deps), assertCaError('ERR_LOGIN_DENIED', /^the login was denied \(access_denied: End-User aborted interaction\)$/));
    assert.equal(stray?.status, 400);
    assert.doesNotMatch(stray?.body ?? '', /forged/);
    assert.equal(landing?.status, 400);
    assert.match(landing?.body ?? '', /data-page="ca-login-failure"[\s\S]*End-User aborted interaction/);
    assert.match(deps.io.err(), /Invalid request received: http:\/\/127\.0\.0\.1:\d+\/\?error=access_denied&error_description=forged\+by\+someone\+else\n/);
  });

  test('a request line that is not a URL gets 400 and the login keeps waiting', async () => {
    const answers: string[] = [];
    const deps = loginDeps({
      openBrowser: async (url) => {
        const redirectUri = new URL(url).searchParams.get('redirect_uri') ?? '';
        for (const line of ['GET http://[ HTTP/1.1', 'GET //[ HTTP/1.1', 'GET /?code=x&state=y HTTP/1.1 trailing', 'GET http://127.0.0.1/?code=x&state=y HTTP/1.1']) {
          answers.push(`${line} => ${await rawRequestLine(redirectUri, line)}`);
        }
        await httpLogin(idp, url);
        return true;
      },
    });
    const { claims } = await login(request(), deps);
    assert.equal(claims.email, 'alice@example.com');
    for (const answer of answers) assert.match(answer, / => HTTP\/1\.1 400 /, answer);
  });

  test('a browser that hangs up while the code is exchanged does not stall the login', { timeout: 15_000 }, async () => {
    const deps = loginDeps({
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (isCodeExchange(input, init)) await new Promise((resolve) => setTimeout(resolve, 300));
        return response;
      },
      openBrowser: async (url) => {
        const { callback } = await httpLogin(idp, url, { deliver: false });
        // The tab is closed right after the redirect: the page can never be delivered.
        const socket = connect({ host: callback.hostname, port: Number(callback.port) }, () => {
          socket.write(`GET ${callback.pathname}${callback.search} HTTP/1.1\r\nHost: ${callback.host}\r\n\r\n`);
          setTimeout(() => socket.destroy(), 50);
        });
        socket.on('error', () => undefined);
        return true;
      },
    });
    const started = Date.now();
    const { claims } = await login(request({ timeoutMs: 5_000 }), deps);
    assert.equal(claims.email, 'alice@example.com');
    assert.ok(Date.now() - started < 4_000, 'settled with the exchange, not at the timeout');
  });

  test('a fixed port from listen: the redirect URI is exactly http://127.0.0.1:PORT, and an empty host means 127.0.0.1', async () => {
    for (const listen of ['127.0.0.1:PORT', ':PORT']) {
      const port = await freePort();
      let redirectUri = '';
      const deps = loginDeps({
        openBrowser: async (url) => {
          redirectUri = new URL(url).searchParams.get('redirect_uri') ?? '';
          await httpLogin(idp, url);
          return true;
        },
      });
      await login(request({ listen: listen.replace('PORT', String(port)) }), deps);
      assert.equal(redirectUri, `http://127.0.0.1:${port}`);
      assert.equal(await listening(redirectUri), false, 'the listener is closed afterwards');
    }
  });

  test('a busy fixed port fails at once, naming the address and what to do', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const deps = loginDeps({ openBrowser: async () => assert.fail('no browser for a login that cannot listen') });
      await assert.rejects(login(request({ listen: `127.0.0.1:${port}` }), deps), (err: unknown) => {
        assertCaError('ERR_LISTEN_FAILED', new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} for the login callback: the address is already in use`))(err);
        assert.match((err as CaError).hint ?? '', /--listen/);
        return true;
      });
    } finally {
      blocker.close();
    }
  });

  test('a listen address off this machine is refused before anything happens', async () => {
    const before = idp.requests.length;
    await assert.rejects(login(request({ listen: '0.0.0.0:10000' }), loginDeps()), (err: unknown) => {
      assert.ok(err instanceof CaError && err.code === 'ERR_USAGE');
      assert.match(err.message, /loopback address only/);
      return true;
    });
    assert.equal(idp.requests.length, before, 'no discovery either');
  });

  test('CA_OPEN_BROWSER=0 (or false, no, off): no browser, the URL is printed, and following it completes the login', async () => {
    for (const value of ['0', 'false', 'OFF', 'no']) {
      let opened = 0;
      const deps = loginDeps({ env: { CA_OPEN_BROWSER: value }, openBrowser: async () => ++opened > 0 });
      const done = login(request(), deps);
      const url = await waitFor(() => printedUrl(deps.io.err()), 'the printed URL');
      await httpLogin(idp, url);
      const { idToken } = await done;
      assert.equal(opened, 0, value);
      assert.equal(deps.io.err(), `Open a local web browser and visit:\n\n${url}\n\n`, value);
      assert.equal((await verifyIdToken(idp, idToken, 'ca-cli')).sub, 'user-alice');
    }
  });

  test('a browser that cannot be started: step\'s lines, then the URL', async () => {
    const deps = loginDeps({ openBrowser: async () => false });
    await assert.rejects(login(request({ timeoutMs: 200 }), deps), assertCaError('ERR_LOGIN_TIMEOUT', /^login timed out after 200ms waiting for the browser to return to http:\/\/127\.0\.0\.1:\d+$/));
    assert.match(deps.io.err(), /^Cannot open a web browser on your platform\.\n\nOpen a local web browser and visit:\n\nhttp:\/\/127\.0\.0\.1:\d+\/auth\?\S+\n\n$/);
  });

  test('on a terminal a spinner runs while waiting and is wiped when the wait ends', async () => {
    const deps = loginDeps({ io: testIO({ stderr: true }) });
    await assert.rejects(login(request({ timeoutMs: 400 }), deps), assertCaError('ERR_LOGIN_TIMEOUT'));
    const err = deps.io.err();
    assert.ok(err.includes('\r\x1b[K⠋ Waiting for the login to finish in the browser (Ctrl-C to cancel)'), JSON.stringify(err));
    assert.ok(err.endsWith('\r\x1b[K'), JSON.stringify(err.slice(-40)));
  });

  test('the authorization request: code + PKCE S256, state, nonce, step\'s default scope, keys sorted, auth params appended', async () => {
    let url: URL | undefined;
    const deps = loginDeps({
      openBrowser: async (opened) => {
        url = new URL(opened);
        await httpLogin(idp, opened);
        return true;
      },
    });
    await login(request({ authParams: ['prompt=login', 'ui_locales=en'] }), deps);
    const params = url?.searchParams;
    assert.ok(params);
    assert.deepEqual([...params.keys()], ['client_id', 'code_challenge', 'code_challenge_method', 'nonce', 'prompt', 'redirect_uri', 'response_type', 'scope', 'state', 'ui_locales']);
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.equal(params.get('response_type'), 'code');
    assert.equal(params.get('scope'), 'openid email');
    assert.equal(params.get('prompt'), 'login');
    assert.match(params.get('redirect_uri') ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok((params.get('state') ?? '').length >= 32 && (params.get('nonce') ?? '').length >= 32);
  });

  test('a public client (no secret) logs in with PKCE alone', async () => {
    const deps = loginDeps({ openBrowser: async (url) => (await httpLogin(idp, url, { user: 'bob', password: 'bob-password' }), true) });
    const { idToken, claims } = await login(request({ clientId: 'ca-public', clientSecret: '' }), deps);
    assert.equal(claims.email, 'bob@example.org');
    assert.equal((await verifyIdToken(idp, idToken, 'ca-public')).sub, 'user-bob');
  });

  test('authorize() without --oidc returns the access token too', async () => {
    const deps = loginDeps({ openBrowser: async (url) => (await httpLogin(idp, url), true) });
    const { tokens } = await authorize(request({ scopes: ['openid', 'email', 'profile'] }), deps, { requireIdToken: false });
    assert.ok(tokens.access_token);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.id_token);
  });

  describe('ID tokens that must not be returned', () => {
    /** The real token response, with its id_token swapped on the way (a compromised or broken path). */
    function swappingFetch(makeToken: (nonce: string) => Promise<string>): typeof fetch {
      return async (input, init) => {
        const response = await fetch(input, init);
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        if (!url.endsWith('/token') || !response.ok) return response;
        const body = (await response.json()) as Record<string, unknown>;
        const nonce = JSON.parse(Buffer.from(String(body.id_token).split('.')[1] ?? '', 'base64url').toString()).nonce as string;
        body.id_token = await makeToken(nonce);
        return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
      };
    }

    const cases: [string, (nonce: string) => Promise<string>, RegExp][] = [
      ['signed by a key the IdP never published', async (nonce) => {
        const { privateKey } = await generateKeyPair('RS256');
        return idp.signToken({ aud: 'ca-cli', nonce, email: 'mallory@example.com' }, { privateKey, alg: 'RS256', kid: idp.currentKid() });
      }, /not valid/],
      ['for another client', (nonce) => idp.signToken({ aud: 'someone-else', nonce }), /not valid.*aud/],
      // Signed with the IdP's own key: only the iss check stands between it and the CA.
      ['from another issuer', (nonce) => idp.signToken({ iss: 'https://idp.example.com', aud: 'ca-cli', nonce }), /not valid.*iss/],
      ['from another login (nonce)', () => idp.signToken({ aud: 'ca-cli', nonce: 'replayed' }), /nonce/],
      ['expired', (nonce) => idp.signToken({ aud: 'ca-cli', nonce, iat: 1_600_000_000, exp: 1_600_000_600 }), /not valid/],
    ];
    for (const [name, makeToken, pattern] of cases) {
      test(name, async () => {
        let landing: { status: number; body: string } | undefined;
        const deps = loginDeps({
          fetch: swappingFetch(makeToken),
          openBrowser: async (url) => {
            ({ landing } = await httpLogin(idp, url));
            return true;
          },
        });
        await assert.rejects(login(request(), deps), assertCaError('ERR_ID_TOKEN_INVALID', pattern));
        assert.equal(landing?.status, 400);
        assert.match(landing?.body ?? '', /data-page="ca-login-failure"/);
      });
    }
  });
});

describe('login() --console with the device flow', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startIdp();
  });
  after(async () => {
    assert.deepEqual(idp.serverErrors, []);
    await idp.close();
  });

  const request = () => ({ configurationEndpoint: idp.issuer, clientId: 'ca-cli', clientSecret: 'ca-cli-secret', console: true, timeoutMs: 20_000 });
  const userCodeOf = (stderr: string) => /^and (?:check that it shows|enter) the code (\S+)$/m.exec(stderr)?.[1];

  test('polls at the interval, backs off on slow_down, and returns the approved ID token', async () => {
    const sleeps: number[] = [];
    let polls = 0;
    let approved: Promise<void> | undefined;
    const deps = loginDeps({
      // The IdP never says slow_down (oidc-provider does not rate-limit polls): say it once, on the second poll.
      fetch: async (input, init) => {
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        const isPoll = url.endsWith('/token') && String(init?.body ?? '').includes('device_code');
        if (isPoll && ++polls === 2) {
          return new Response(JSON.stringify({ error: 'slow_down' }), { status: 400, headers: { 'content-type': 'application/json' } });
        }
        return fetch(input, init);
      },
      sleep: async (ms) => {
        sleeps.push(ms);
        if (sleeps.length === 3) {
          const userCode = userCodeOf(deps.io.err());
          assert.ok(userCode, deps.io.err());
          approved = idp.approveDevice({ userCode, username: 'alice', password: 'alice-password' });
          await approved;
        }
      },
    });
    const { idToken, claims } = await login(request(), deps);
    assert.deepEqual(sleeps, [5_000, 5_000, 10_000], 'default interval 5 s, then 5 s more after slow_down');
    assert.equal(polls, 3);
    assert.equal(claims.email, 'alice@example.com');
    assert.equal((await verifyIdToken(idp, idToken, 'ca-cli')).sub, 'user-alice');
    assert.match(deps.io.err(), /^To log in, visit this address on any device:\n\nhttp:\/\/127\.0\.0\.1:\d+\/device\?user_code=[A-Z]{4}-[A-Z]{4}\n\nand check that it shows the code [A-Z]{4}-[A-Z]{4}\n\n$/);
  });

  test('a denied device login fails with access_denied', async () => {
    let denied = false;
    const deps = loginDeps({
      sleep: async () => {
        const userCode = userCodeOf(deps.io.err());
        if (userCode && !denied) await idp.approveDevice({ userCode, username: 'alice', password: 'alice-password', deny: true });
        denied = true;
      },
    });
    await assert.rejects(login(request(), deps), assertCaError('ERR_LOGIN_DENIED', /access_denied/));
  });

  test('without a timeout it waits 5 minutes, or less when the code expires sooner; a given timeout wins', async () => {
    const cases: [number | undefined, number | undefined, string][] = [
      [undefined, undefined, '5m0s'],
      [undefined, 90, '1m30s'],
      [420_000, undefined, '7m0s'],
      [420_000, 240, '4m0s'],
    ];
    for (const [timeoutMs, expiresIn, said] of cases) {
      // A clock that the sleeps move: minutes of polling against the real IdP, in no time.
      let offset = 0;
      const deps = loginDeps({
        now: () => new Date(Date.now() + offset),
        sleep: async (ms) => {
          offset += ms;
        },
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
          if (expiresIn === undefined || !url.endsWith('/device/auth') || !response.ok) return response;
          const body = (await response.json()) as Record<string, unknown>;
          return Response.json({ ...body, expires_in: expiresIn });
        },
      });
      await assert.rejects(
        login({ ...request(), timeoutMs }, deps),
        assertCaError('ERR_LOGIN_TIMEOUT', new RegExp(`^login timed out after ${said} waiting for approval at http://127\\.0\\.0\\.1:\\d+/device$`)),
      );
    }
  });

  test('nobody approves: it gives up at the timeout', async () => {
    const deps = loginDeps();
    await assert.rejects(
      login({ ...request(), timeoutMs: 300 }, deps),
      assertCaError('ERR_LOGIN_TIMEOUT', /^login timed out after 300ms waiting for approval at http:\/\/127\.0\.0\.1:\d+\/device$/),
    );
  });
});

describe('login() --console without a device endpoint', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startIdp({ deviceFlow: false });
  });
  after(async () => idp.close());

  test('without a terminal there is nobody to paste: a clear error, nothing printed', async () => {
    const deps = loginDeps();
    await assert.rejects(
      login({ configurationEndpoint: idp.issuer, clientId: 'ca-cli', clientSecret: 'ca-cli-secret', console: true }, deps),
      (err: unknown) => {
        assertCaError('ERR_NOT_INTERACTIVE', /no device authorization endpoint/)(err);
        assert.match((err as CaError).hint ?? '', /--token/);
        assert.equal((err as CaError).exitCode, 2);
        return true;
      },
    );
    assert.equal(deps.io.err(), '');
  });

  test('the browser and the pasted address bring the same code: it is exchanged once, and both see the login succeed', async () => {
    let exchanges = 0;
    let landing: Promise<{ status: number; body: string }> | undefined;
    const deps = loginDeps({
      // The first exchange answers slowly, so the paste arrives while it is under way.
      fetch: async (input, init) => {
        if (!isCodeExchange(input, init)) return fetch(input, init);
        const first = ++exchanges === 1;
        const response = await fetch(input, init);
        if (first) await new Promise((resolve) => setTimeout(resolve, 300));
        return response;
      },
      prompter: {
        interactive: true,
        input: async () => {
          const url = printedUrl(deps.io.err()) ?? assert.fail('no URL printed');
          const { callback } = await httpLogin(idp, url, { deliver: false });
          // The browser on this machine reaches the listener...
          landing = fetch(callback).then(async (r) => ({ status: r.status, body: await r.text() }));
          await waitFor(() => (exchanges > 0 ? true : undefined), 'the browser callback to exchange the code');
          // ...and the user pastes the same address all the same.
          return callback.href;
        },
      },
    });
    const { claims } = await login({ configurationEndpoint: idp.issuer, clientId: 'ca-cli', clientSecret: 'ca-cli-secret', console: true, timeoutMs: 10_000 }, deps);
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(exchanges, 1, 'one code, one exchange');
    const page = await landing;
    assert.equal(page?.status, 200);
    assert.match(page?.body ?? '', /logged in as <strong id="who">alice@example\.com<\/strong>/);
  });

  test('a pasted error without our state does not end the login with that error', async () => {
    const deps = loginDeps({
      prompter: { interactive: true, input: async () => 'http://127.0.0.1:1/?error=access_denied&error_description=not+from+this+login' },
    });
    await assert.rejects(
      login({ configurationEndpoint: idp.issuer, clientId: 'ca-cli', clientSecret: 'ca-cli-secret', console: true, timeoutMs: 10_000 }, deps),
      assertCaError('ERR_LOGIN_STATE_MISMATCH', /^failed to authenticate: missing or invalid state$/),
    );
  });

  test('the pasted address must carry our state', async () => {
    const deps = loginDeps({
      prompter: {
        interactive: true,
        input: async () => {
          const url = printedUrl(deps.io.err()) ?? assert.fail('no URL printed');
          const { callback } = await httpLogin(idp, url, { deliver: false });
          callback.searchParams.set('state', 'not-ours');
          return callback.href;
        },
      },
    });
    await assert.rejects(
      login({ configurationEndpoint: idp.issuer, clientId: 'ca-cli', clientSecret: 'ca-cli-secret', console: true, timeoutMs: 10_000 }, deps),
      assertCaError('ERR_LOGIN_STATE_MISMATCH', /missing or invalid state/),
    );
  });
});
