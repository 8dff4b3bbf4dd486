// `ca inspect https://host[:port]`, as `step certificate inspect URL`: the chain a real TLS server
// presents (the real ca serve, and a self-signed HTTPS server), verified with --roots, the
// system's roots, or not at all with --insecure.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { runCli } from '../helpers/run-cli.js';
import { selfSigned, startHttpsServer } from '../helpers/https.js';
import { testdir } from '../helpers/testdir.js';
import { freePort } from '../oidc/helpers.js';
import { createCaHome, startServe, type CaHome, type Serving } from '../server/helpers.js';

describe('ca inspect https://...', () => {
  let idp: TestIdp;
  let home: CaHome;
  let serving: Serving;
  let work: Awaited<ReturnType<typeof testdir>>;

  before(async () => {
    idp = await startIdp();
    home = await createCaHome(idp);
    serving = await startServe(home, { workers: 1 });
    work = await testdir();
  });
  after(async () => {
    await serving?.stop();
    await idp?.close();
    await home?.cleanup();
    await work?.cleanup();
  });

  test("the CA's served chain, verified with --roots: the leaf, or with --bundle the chain", async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const url = `https://${host}:${serving.port}`;
      const leaf = await runCli(['inspect', url, '--roots', home.rootFile, '--short']);
      assert.equal(leaf.code, 0, leaf.stderr);
      assert.match(leaf.stdout, /^X\.509v3 TLS Certificate \(ECDSA P-256\) \[Serial: \S+\]\n {2}Subject: {5}Step Online CA\n {15}localhost\n/);
      assert.match(leaf.stdout, /Issuer: {6}Server Test Intermediate CA/);
      const chain = await runCli(['inspect', url, '--roots', home.rootFile, '--bundle', '--format', 'json']);
      assert.equal(chain.code, 0, chain.stderr);
      const certs = JSON.parse(chain.stdout) as { subject: { common_name: string[] } }[];
      assert.deepEqual(certs.map((c) => c.subject.common_name[0]), ['Step Online CA', 'Server Test Intermediate CA', 'Server Test Root CA'], 'leaf, intermediate, and the root it was verified with');
    }
  });

  test('not trusted without --roots: says what to pass; --insecure inspects it anyway', async () => {
    const url = `https://127.0.0.1:${serving.port}`;
    const untrusted = await runCli(['inspect', url]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, new RegExp(`^ca: the certificate of 127\\.0\\.0\\.1:${serving.port} is not trusted: .+\\n {2}try: pass --roots FILE with the root that issued it \\(e\\.g\\. the CA's root_ca\\.crt\\), or --insecure to inspect it unverified\\n$`));
    const insecure = await runCli(['inspect', url, '--insecure', '--format', 'pem']);
    assert.equal(insecure.code, 0, insecure.stderr);
    assert.match(insecure.stdout, /^-----BEGIN CERTIFICATE-----\n/);

    const wrongRoots = await runCli(['inspect', url, '--roots', (await selfSigned(work.dir, 'other-root')).crtFile]);
    assert.equal(wrongRoots.code, 1);
    assert.match(wrongRoots.stderr, /is not trusted: .+\n {2}try: check that --roots holds the root that issued it/);
  });

  test('a self-signed server, given itself as the root', async () => {
    const cert = await selfSigned(work.dir, 'lone-server');
    const server = await startHttpsServer(cert, (_req, res) => res.end('hi'));
    try {
      const res = await runCli(['inspect', server.url, '--roots', cert.crtFile, '--short']);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /Subject: {5}lone-server/);
    } finally {
      await server.close();
    }
  });

  test('what cannot work is said plainly', async () => {
    const port = await freePort();
    const cases: [string[], number, RegExp][] = [
      [['inspect', `https://127.0.0.1:${port}`], 1, new RegExp(`^ca: cannot connect to 127\\.0\\.0\\.1:${port}: the connection was refused\\n {2}try: check the URL`)],
      [['inspect', 'http://127.0.0.1:1'], 2, /'http:\/\/127\.0\.0\.1:1' is not an https URL: only a TLS server has a certificate to inspect/],
      [['inspect', home.rootFile, '--insecure'], 2, /flags '--roots' and '--insecure' apply to an https:\/\/ URL, not to a file/],
      [['inspect', `https://127.0.0.1:${serving.port}`, '--roots', work.path('missing.crt')], 1, /file \S+missing\.crt does not exist/],
    ];
    for (const [args, code, message] of cases) {
      const res = await runCli(args);
      assert.equal(res.code, code, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message, args.join(' '));
      assert.doesNotMatch(res.stderr, /does not exist.*https|internal error/);
    }
  });
});
