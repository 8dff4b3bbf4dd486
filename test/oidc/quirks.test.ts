// Identity providers that depart from the standard, each with a test IdP that behaves that way
// (test/fixtures/quirky-idp.ts): Google's device endpoint, Microsoft Entra's multi-tenant issuer,
// a discovery document with http:// endpoints; and `ca oauth` printing token_type as sent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { login } from '../../src/oidc/index.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { startQuirkyIdp, type QuirkyIdp, type QuirkyIdpOptions } from '../fixtures/quirky-idp.js';
import { runCli } from '../helpers/run-cli.js';
import { createCaHome, startServe } from '../server/helpers.js';
import { testdir } from '../helpers/testdir.js';
import { loginDeps } from './helpers.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

/** A browser for an IdP that approves at once: follow its redirect back to our listener. */
async function followRedirect(url: string): Promise<boolean> {
  void (async () => {
    const res = await fetch(url, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (location) await (await fetch(location)).text();
  })();
  return true;
}

const noWait = async (): Promise<void> => undefined;

describe('identity provider quirks', () => {
  let idp: TestIdp;
  const quirky: QuirkyIdp[] = [];
  const start = async (opts: QuirkyIdpOptions): Promise<QuirkyIdp> => {
    const q = await startQuirkyIdp(idp, opts);
    quirky.push(q);
    return q;
  };

  before(async () => {
    idp = await startIdp();
  });
  after(async () => {
    for (const q of quirky) await q.close();
    await idp.close();
  });

  test("Google's device endpoint answers verification_url: --console logs in, the address alone on its line", async () => {
    const google = await start({ quirk: 'google-device' });
    const deps = loginDeps({ sleep: noWait });
    const result = await login({ configurationEndpoint: google.discoveryUrl, clientId: 'ca-cli', console: true }, deps);
    assert.equal(result.claims.email, 'alice@example.com');
    const origin = new URL(google.discoveryUrl).origin;
    assert.equal(deps.io.err(), `To log in, visit this address on any device:\n\n${origin}/device\n\nand enter the code QRST-WXYZ\n\n`);
  });

  test('a provider with verification_uri_complete: that address, and the code to check', async () => {
    const entra = await start({ quirk: 'entra-multitenant', tenantId: TENANT });
    const deps = loginDeps({ sleep: noWait });
    await login({ configurationEndpoint: entra.discoveryUrl, clientId: 'ca-cli', console: true, tenantId: TENANT }, deps);
    assert.match(deps.io.err(), /^To log in, visit this address on any device:\n\nhttp:\/\/127\.0\.0\.1:\d+\/device\?user_code=QRST-WXYZ\n\nand check that it shows the code QRST-WXYZ\n\n$/);
  });

  test("Microsoft Entra's {tenantid} issuer: the browser and console logins match it with the tenant ID", async () => {
    const entra = await start({ quirk: 'entra-multitenant', tenantId: TENANT });
    const browser = await login({ configurationEndpoint: entra.discoveryUrl, clientId: 'ca-cli', tenantId: TENANT }, loginDeps({ openBrowser: followRedirect }));
    assert.equal(browser.claims.iss, entra.tokenIssuer);
    assert.equal(browser.claims.tid, TENANT);
    const device = await login({ configurationEndpoint: entra.discoveryUrl, clientId: 'ca-cli', tenantId: TENANT, console: true }, loginDeps({ sleep: noWait }));
    assert.equal(device.claims.tid, TENANT);

    await assert.rejects(login({ configurationEndpoint: entra.discoveryUrl, clientId: 'ca-cli' }, loginDeps({ openBrowser: followRedirect })), (err: Error & { hint?: string }) => {
      assert.match(err.message, /the provider's issuer http:\/\/127\.0\.0\.1:\d+\/\{tenantid\}\/v2\.0 names no tenant \(\{tenantid\}\), and no tenant ID was given/);
      assert.match(String(err.hint), /--tenant-id/);
      return true;
    });
    const other = await start({ quirk: 'entra-multitenant', tenantId: 'another-tenant' });
    await assert.rejects(
      login({ configurationEndpoint: other.discoveryUrl, clientId: 'ca-cli', tenantId: TENANT }, loginDeps({ openBrowser: followRedirect })),
      /the ID token from the identity provider is not valid: .*iss/,
    );
  });

  test('ca certificate logs in at an Entra provisioner with its tenantID and gets a certificate from the real CA', { timeout: 120_000 }, async (t) => {
    const entra = await start({ quirk: 'entra-multitenant', tenantId: TENANT });
    const home = await createCaHome(idp);
    t.after(home.cleanup);
    await home.cli(['provisioner', 'add', 'Entra', '--client-id', 'entra-app', '--configuration-endpoint', entra.discoveryUrl, '--tenant-id', TENANT]);
    const serving = await startServe(home, { workers: 1 });
    t.after(() => serving.stop());
    const d = await testdir();
    t.after(d.cleanup);
    const res = await runCli(
      ['certificate', 'alice@example.com', d.path('a.crt'), d.path('a.key'), '--provisioner', 'Entra', '--ca-url', `https://127.0.0.1:${serving.port}`, '--root', home.rootFile],
      // curl is the browser: it follows the IdP's redirect back to the login listener.
      { env: { CA_PATH: d.path('user'), CA_OPEN_BROWSER: '1', BROWSER: 'curl -s -L -o /dev/null %s' } },
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /✔ Certificate: /);
  });

  test('a discovery document with http:// endpoints off this machine: a clear error naming the field, for every flow and for provisioner add', async () => {
    const proxied = await start({ quirk: 'http-endpoints' });
    const message = /the identity provider's discovery document http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration lists "authorization_endpoint": "http:\/\/idp\.example\.com\/authorize", which is not an https URL \(http is accepted on loopback hosts only\)/;
    for (const console of [false, true]) {
      await assert.rejects(login({ configurationEndpoint: proxied.discoveryUrl, clientId: 'ca-cli', console }, loginDeps({ sleep: noWait })), message);
    }
    for (const extra of [[], ['--console']]) {
      const res = await runCli(['oauth', '--provider', proxied.discoveryUrl, '--client-id', 'ca-cli', ...extra]);
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, message);
      assert.match(res.stderr, /try: the identity provider's public URL is misconfigured/);
      assert.doesNotMatch(res.stderr, /internal error|this is a bug|refused the device authorization/);
    }
    const d = await testdir({ 'ca/config/ca.json': { root: 'r.crt', crt: 'i.crt', key: 'i_key', authority: { provisioners: [] } } });
    try {
      const add = await runCli(['provisioner', 'add', 'P', '--client-id', 'c', '--configuration-endpoint', proxied.discoveryUrl], { env: { CA_PATH: d.path('ca') } });
      assert.equal(add.code, 1, add.stderr);
      assert.match(add.stderr, /lists "authorization_endpoint": "http:\/\/idp\.example\.com\/authorize", which is not an https URL/);
    } finally {
      await d.cleanup();
    }
  });

  test('ca oauth prints token_type as the provider sent it (Bearer)', async () => {
    const google = await start({ quirk: 'google-device' });
    const res = await runCli(['oauth', '--provider', google.discoveryUrl, '--client-id', 'ca-cli', '--console']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).token_type, 'Bearer');
  });
});
