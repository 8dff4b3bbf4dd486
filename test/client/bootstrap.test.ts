/**
 * `ca bootstrap` against a CA that lies: a real HTTPS server (not our CA) answering /root/{sha256}
 * with a root the fingerprint does not cover, or the right root with another certificate slipped
 * in. Nothing may be trusted then; only the checked certificate is ever saved.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { runCli } from '../helpers/run-cli.js';
import { selfSigned, startHttpsServer } from '../helpers/https.js';
import { testdir } from '../helpers/testdir.js';

let work: Awaited<ReturnType<typeof testdir>>;
let server: Awaited<ReturnType<typeof startHttpsServer>>;
let url: string;
let answer = '';
let root = '';
let other = '';
let fingerprint = '';

before(async () => {
  work = await testdir();
  const rootCert = await selfSigned(work.dir, 'root');
  root = rootCert.pem;
  other = (await selfSigned(work.dir, 'mallory')).pem;
  fingerprint = (await runCli(['fingerprint', rootCert.crtFile])).stdout.trim();
  server = await startHttpsServer(await selfSigned(work.dir, 'server'), (req, res) => {
    if (answer === 'not a CA') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ca: answer }));
  });
  url = server.url;
});

after(async () => {
  await server?.close();
  await work?.cleanup();
});

function bootstrap(home: string) {
  return runCli(['bootstrap', '--ca-url', url, '--fingerprint', fingerprint], { env: { CA_PATH: work.path(home) } });
}

test('a root that is not the one the fingerprint names is refused, and nothing is written', async () => {
  answer = other;
  const res = await bootstrap('a');
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, /^ca: fingerprint mismatch: the root from https:\/\/127\.0\.0\.1:\d+ does not match the fingerprint [0-9a-f]{64}\n {2}try: check the fingerprint/);
  assert.equal(existsSync(work.path('a/certs/root_ca.crt')), false);
  assert.equal(existsSync(work.path('a/config/defaults.json')), false);
});

test('the right root with another certificate slipped in is refused too', async () => {
  for (const extra of [root + other, other + root, root + root]) {
    answer = extra;
    const res = await bootstrap('b');
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /does not match the fingerprint/);
    assert.equal(existsSync(work.path('b/certs/root_ca.crt')), false);
  }
});

test('the right root alone is saved, and a broken defaults.json is replaced, not read', async () => {
  answer = root;
  await mkdir(work.path('c/config'), { recursive: true });
  await writeFile(work.path('c/config/defaults.json'), '{ not json');
  const res = await bootstrap('c');
  assert.equal(res.code, 0, res.stderr);
  assert.equal(await readFile(work.path('c/certs/root_ca.crt'), 'utf8'), root);
  assert.deepEqual(JSON.parse(await readFile(work.path('c/config/defaults.json'), 'utf8')), {
    'ca-url': url,
    fingerprint,
    root: work.path('c/certs/root_ca.crt'),
  });
});

test('a server that is not a CA (404 everywhere) is named as such', async () => {
  answer = 'not a CA';
  const res = await bootstrap('d');
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, /^ca: https:\/\/127\.0\.0\.1:\d+ does not look like a CA: it has neither \/root\/[0-9a-f]{8}\.\.\. nor \/health\n {2}try: check --ca-url/);
  assert.doesNotMatch(res.stderr, /fingerprint mismatch/);
});

test('a wrong fingerprint at the real ca serve: fingerprint mismatch, not a 404', { timeout: 120_000 }, async (t) => {
  const { startIdp } = await import('../fixtures/idp.js');
  const { createCaHome, startServe } = await import('../server/helpers.js');
  const idp = await startIdp();
  t.after(() => idp.close());
  const home = await createCaHome(idp);
  t.after(home.cleanup);
  const serving = await startServe(home, { workers: 1 });
  t.after(() => serving.stop());
  const res = await runCli(['bootstrap', '--ca-url', `https://127.0.0.1:${serving.port}`, '--fingerprint', 'ab'.repeat(32)], { env: { CA_PATH: work.path('e') } });
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, new RegExp(`^ca: fingerprint mismatch: the CA at https://127\\.0\\.0\\.1:${serving.port} has no root certificate with the fingerprint ${'ab'.repeat(32)}\n  try: check the fingerprint with the CA admin`));
  // Not the status: the kernel's port may itself contain "404" (it did once: 40427).
  assert.doesNotMatch(res.stderr, /\b404\b/);
  assert.equal(existsSync(work.path('e/certs/root_ca.crt')), false);
});
