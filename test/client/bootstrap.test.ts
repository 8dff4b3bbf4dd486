/**
 * `ca bootstrap` against a CA that lies: a real HTTPS server (not our CA) answering /root/{sha256}
 * with a root the fingerprint does not cover, or the right root with another certificate slipped
 * in. Nothing may be trusted then; only the checked certificate is ever saved.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { runCli } from '../helpers/run-cli.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';

let work: Awaited<ReturnType<typeof testdir>>;
let server: Server;
let url: string;
let answer = '';
let root = '';
let other = '';
let fingerprint = '';

async function selfSigned(name: string): Promise<string> {
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', work.path(`${name}.key`), '-out', work.path(`${name}.crt`), '-days', '1', '-subj', `/CN=${name}`]);
  return readFile(work.path(`${name}.crt`), 'utf8');
}

before(async () => {
  work = await testdir();
  root = await selfSigned('root');
  other = await selfSigned('mallory');
  const tls = await selfSigned('server');
  fingerprint = (await runCli(['fingerprint', work.path('root.crt')])).stdout.trim();
  server = createServer({ cert: tls, key: await readFile(work.path('server.key'), 'utf8') }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ca: answer }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

after(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await work?.cleanup();
});

function bootstrap(home: string) {
  return runCli(['bootstrap', '--ca-url', url, '--fingerprint', fingerprint], { env: { CA_PATH: work.path(home) } });
}

test('a root that is not the one the fingerprint names is refused, and nothing is written', async () => {
  answer = other;
  const res = await bootstrap('a');
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, /^ca: the root from https:\/\/127\.0\.0\.1:\d+ does not match the fingerprint [0-9a-f]{64}\n {2}try: check the fingerprint/);
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
