/**
 * The smaller parts of the login, each with real inputs: listen addresses, auth params, pasted
 * addresses, landing pages, the browser launcher (real processes via $BROWSER), and `ca oauth`'s
 * flags and output (the command run in-process against the real IdP).
 */
import assert from 'node:assert/strict';
import { chmod, readFile, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { CaError } from '../../src/errors.js';
import { create, oauthRun, type OauthOptions } from '../../src/cli/commands/oauth.js';
import { envFlag, parseTimeout } from '../../src/cli/env-flags.js';
import type { Ctx } from '../../src/cli/context.js';
import { testIO } from '../../src/cli/io.js';
import { scriptedPrompter } from '../../src/cli/prompter.js';
import { openBrowser } from '../../src/oidc/browser.js';
import { parsePastedCallback } from '../../src/oidc/login.js';
import { listenTarget } from '../../src/oidc/loopback.js';
import { failurePage, successPage } from '../../src/oidc/pages.js';
import { parseAuthParams, providerDiscoveryUrl } from '../../src/oidc/provider.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { testdir } from '../helpers/testdir.js';
import { httpLogin, verifyIdToken, waitFor } from './helpers.js';

describe('environment switches and time limits', () => {
  test('envFlag: 1/true/yes/on, 0/false/no/off in any case; anything else is no opinion', () => {
    for (const value of ['1', 'true', 'TRUE', 'Yes', 'on', ' on ']) assert.equal(envFlag(value), true, value);
    for (const value of ['0', 'false', 'False', 'NO', 'off']) assert.equal(envFlag(value), false, value);
    for (const value of [undefined, '', ' ', '2', 'y', 'n', 'enabled', 'true!']) assert.equal(envFlag(value), undefined, String(value));
  });

  test('parseTimeout: a positive duration, or a usage error naming the flag', () => {
    assert.equal(parseTimeout('90s', '--timeout'), 90_000);
    assert.equal(parseTimeout('2m', '--timeout'), 120_000);
    for (const value of ['soon', '0s', '-1m', '']) {
      assert.throws(() => parseTimeout(value, '--wait'), (err: unknown) => {
        assert.ok(err instanceof CaError && err.code === 'ERR_USAGE' && err.exitCode === 2, String(err));
        assert.equal(err.message, `invalid value '${value}' for flag '--wait': expected a duration such as 2m or 90s`);
        return true;
      });
    }
  });
});

describe('listen addresses', () => {
  test('default, empty host, localhost, IPv6 and other 127/8 addresses', () => {
    assert.deepEqual(listenTarget(undefined), { bindHost: '127.0.0.1', port: 0, redirectHost: '127.0.0.1' });
    assert.deepEqual(listenTarget(':10000'), { bindHost: '127.0.0.1', port: 10000, redirectHost: '127.0.0.1' });
    assert.deepEqual(listenTarget('localhost:0'), { bindHost: '127.0.0.1', port: 0, redirectHost: 'localhost' });
    assert.deepEqual(listenTarget('[::1]:8080'), { bindHost: '::1', port: 8080, redirectHost: '[::1]' });
    assert.deepEqual(listenTarget('127.0.0.2:5'), { bindHost: '127.0.0.2', port: 5, redirectHost: '127.0.0.2' });
  });

  test('anything that is not host:port, or not this machine, is a usage error naming the flag', () => {
    for (const [value, pattern] of [
      ['10000', /expected host:port/],
      ['localhost', /expected host:port/],
      ['127.0.0.1:70000', /expected host:port/],
      ['0.0.0.0:10000', /loopback address only/],
      ['ca.example.com:443', /loopback address only/],
    ] as const) {
      assert.throws(() => listenTarget(value), (err: unknown) => {
        assert.ok(err instanceof CaError && err.code === 'ERR_USAGE', String(err));
        assert.match(err.message, new RegExp(`invalid value '${value.replace(/[.[\]]/g, '\\$&')}' for flag '--listen'`));
        assert.match(err.message, pattern);
        return true;
      });
    }
  });
});

describe('provider URL and auth params', () => {
  test('the discovery path is added unless present; https only, except loopback http', () => {
    assert.equal(providerDiscoveryUrl('https://accounts.google.com').href, 'https://accounts.google.com/.well-known/openid-configuration');
    assert.equal(providerDiscoveryUrl('https://idp.example.com/realms/acme/').href, 'https://idp.example.com/realms/acme/.well-known/openid-configuration');
    assert.equal(
      providerDiscoveryUrl('https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration').href,
      'https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration',
    );
    assert.equal(providerDiscoveryUrl('http://127.0.0.1:5556').href, 'http://127.0.0.1:5556/.well-known/openid-configuration');
    assert.throws(() => providerDiscoveryUrl('http://idp.example.com'), /must use https/);
    assert.throws(() => providerDiscoveryUrl('idp.example.com'), /not a URL/);
  });

  test('k=v pairs; the value may hold "="; our own parameters cannot be replaced', () => {
    assert.deepEqual(parseAuthParams(['prompt=select_account', 'claims={"a":"b=c"}', 'empty=']), [
      ['prompt', 'select_account'],
      ['claims', '{"a":"b=c"}'],
      ['empty', ''],
    ]);
    assert.throws(() => parseAuthParams(['prompt']), /expected key=value/);
    assert.throws(() => parseAuthParams(['=x']), /expected key=value/);
    assert.throws(() => parseAuthParams(['redirect_uri=http://evil']), /redirect_uri is set by ca itself/);
    assert.throws(() => parseAuthParams(['scope=openid']), (err: unknown) => err instanceof CaError && err.hint === 'use --scope');
  });
});

describe('the pasted address', () => {
  test('the whole address, or just its query; code and state both needed unless it is an error', () => {
    const full = parsePastedCallback('  http://127.0.0.1:4242/?code=abc&state=xyz&iss=http%3A%2F%2Fidp \n');
    assert.equal(full?.get('code'), 'abc');
    assert.equal(full?.get('state'), 'xyz');
    assert.equal(parsePastedCallback('?code=abc&state=xyz')?.get('code'), 'abc');
    assert.equal(parsePastedCallback('code=abc&state=xyz')?.get('state'), 'xyz');
    assert.equal(parsePastedCallback('http://127.0.0.1:4242/?error=access_denied')?.get('error'), 'access_denied');
    assert.equal(parsePastedCallback('abc'), undefined);
    assert.equal(parsePastedCallback('http://127.0.0.1:4242/?code=abc'), undefined);
    assert.equal(parsePastedCallback(''), undefined);
  });
});

describe('landing pages', () => {
  test('say who logged in, escape what they show, and load nothing from elsewhere', () => {
    const ok = successPage('<img src=x onerror=alert(1)>@example.com');
    assert.match(ok, /&lt;img src=x onerror=alert\(1\)&gt;@example\.com/);
    assert.match(ok, /window\.close\(\)/);
    const failed = failurePage('access_denied: "nope" <b>');
    assert.match(failed, /access_denied: &quot;nope&quot; &lt;b&gt;/);
    for (const page of [ok, failed]) {
      assert.doesNotMatch(page, /https?:\/\//, 'no external resources');
      assert.doesNotMatch(page, /@import|<link|font-face/);
    }
  });
});

describe('openBrowser', () => {
  let dir: Awaited<ReturnType<typeof testdir>>;
  before(async () => {
    dir = await testdir({
      // A stand-in browser: records its arguments (written whole, then renamed into place).
      'fake-browser': '#!/bin/sh\nd="$(dirname "$0")"\nprintf "%s\\n" "$@" > "$d/opened.tmp" && mv "$d/opened.tmp" "$d/opened.txt"\n',
    });
    await chmod(dir.path('fake-browser'), 0o755);
  });
  after(async () => dir.cleanup());

  /** What the fake browser recorded; taken away, so that the next test waits for its own. */
  const opened = async (): Promise<string> => {
    const text = await waitFor(() => readFile(dir.path('opened.txt'), 'utf8').catch(() => undefined), 'the fake browser', 10_000);
    await rm(dir.path('opened.txt'));
    return text;
  };
  const URL_ = 'http://127.0.0.1:1/auth?a=1&b=2';

  test('$BROWSER gets the URL as its argument; the first entry that starts wins', async () => {
    assert.equal(await openBrowser(URL_, { PATH: process.env.PATH, BROWSER: `/nonexistent/browser:${dir.path('fake-browser')}` }), true);
    assert.equal(await opened(), `${URL_}\n`);
  });

  test('%s in $BROWSER is replaced by the URL', async () => {
    await rm(dir.path('opened.txt'), { force: true });
    assert.equal(await openBrowser(URL_, { PATH: process.env.PATH, BROWSER: `${dir.path('fake-browser')} --new-window %s --flag` }), true);
    assert.equal(await opened(), `--new-window\n${URL_}\n--flag\n`);
  });

  test('nothing to start: false; CA_OPEN_BROWSER=0 (or false, no, off): false without trying', async () => {
    assert.equal(await openBrowser(URL_, { PATH: process.env.PATH, BROWSER: '/nonexistent/browser' }), false);
    for (const value of ['0', 'false', 'No', 'OFF']) {
      assert.equal(await openBrowser(URL_, { PATH: process.env.PATH, BROWSER: dir.path('fake-browser'), CA_OPEN_BROWSER: value }), false, value);
    }
    if (process.platform === 'linux') assert.equal(await openBrowser(URL_, { PATH: process.env.PATH }), false, 'no display, no $BROWSER');
  });
});

describe('ca oauth', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startIdp();
  });
  after(async () => idp.close());

  function ctx(env: NodeJS.ProcessEnv = {}) {
    const io = testIO();
    const c: Ctx = { io, env, now: () => new Date(), fetch, prompter: scriptedPrompter([], false), caPath: '/nonexistent' };
    return { io, ctx: c };
  }

  async function parse(args: string[], env: NodeJS.ProcessEnv = {}): Promise<OauthOptions> {
    let seen: OauthOptions | undefined;
    const cmd = create(ctx(env).ctx, async (opts) => {
      seen = opts;
    });
    cmd.exitOverride();
    await cmd.parseAsync(args, { from: 'user' });
    assert.ok(seen);
    return seen;
  }

  test('flags map to options like step oauth', async () => {
    const opts = await parse([
      '--provider', 'https://idp.example.com', '--client-id', 'cli', '--client-secret', 's',
      '--scope', 'openid', '--scope', 'groups', '--auth-param', 'prompt=login', '--oidc', '--bare', '-c', '--listen', ':10000', '--timeout', '90s',
      '--tenant-id', 'contoso',
    ]);
    assert.deepEqual(opts, {
      provider: 'https://idp.example.com', clientId: 'cli', clientSecret: 's', tenantId: 'contoso', scopes: ['openid', 'groups'], authParams: ['prompt=login'],
      oidc: true, bare: true, console: true, listen: ':10000', timeoutMs: 90_000,
    });
  });

  test('defaults; --idp is an alias; CA_CONSOLE=true (1, yes, on) turns --console on, anything else does not', async () => {
    const opts = await parse(['--idp', 'https://idp.example.com', '--client-id', 'cli']);
    assert.equal(opts.provider, 'https://idp.example.com');
    // No --timeout: left to the login, which waits 2 minutes for a browser and 5 for the device flow.
    assert.deepEqual([opts.scopes, opts.authParams, opts.oidc, opts.bare, opts.console, opts.timeoutMs], [[], [], false, false, false, undefined]);
    assert.equal((await parse(['--provider', 'x', '--client-id', 'c', '--timeout', '2m'])).timeoutMs, 120_000, 'given, even if it is the usual value');
    for (const value of ['true', '1', 'YES', 'on']) {
      assert.equal((await parse(['--provider', 'x', '--client-id', 'c'], { CA_CONSOLE: value })).console, true, value);
    }
    for (const value of ['false', '0', 'off', 'banana', '']) {
      assert.equal((await parse(['--provider', 'x', '--client-id', 'c'], { CA_CONSOLE: value })).console, false, value);
    }
  });

  const base = (): OauthOptions => ({
    provider: idp.issuer, clientId: 'ca-cli', clientSecret: 'ca-cli-secret', scopes: [], authParams: [],
    oidc: false, bare: false, console: false, timeoutMs: 10_000,
  });

  test('without --bare: the token response as step prints it, indented JSON', async () => {
    const { io, ctx: c } = ctx();
    await oauthRun(base(), { ...c, openBrowser: async (url) => (await httpLogin(idp, url), true) });
    const printed = JSON.parse(io.out()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(printed), ['access_token', 'id_token', 'refresh_token', 'expires_in', 'token_type']);
    assert.equal(printed.expires_in, 3600);
    assert.equal((await verifyIdToken(idp, String(printed.id_token), 'ca-cli')).sub, 'user-alice');
    assert.match(io.out(), /^\{\n {2}"access_token": /);
  });

  test('--bare alone prints the access token; --oidc --bare the ID token', async () => {
    const first = ctx();
    await oauthRun({ ...base(), bare: true }, { ...first.ctx, openBrowser: async (url) => (await httpLogin(idp, url), true) });
    assert.match(first.io.out(), /^[\w-]+\n$/);
    assert.doesNotMatch(first.io.out(), /\./, 'an opaque access token, not a JWT');

    const second = ctx();
    await oauthRun({ ...base(), bare: true, oidc: true, scopes: ['email'] }, { ...second.ctx, openBrowser: async (url) => (await httpLogin(idp, url), true) });
    assert.equal((await verifyIdToken(idp, second.io.out().trim(), 'ca-cli')).email, 'alice@example.com');
  });
});
