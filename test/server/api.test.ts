// The API of a running `ca serve` (bin/ca, built): step-ca's shapes and status codes, the
// limits, request ids, logs, and TLS, against the real IdP and real TLS clients.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { run } from '../helpers/exec.js';
import { createCaHome, json, makeCsr, mintToken, send, signJson, startServe, type CaHome, type Serving } from './helpers.js';
import { version } from '../../src/cli/main.js';
import { runCli } from '../helpers/run-cli.js';
import { page, pageLimit } from '../../src/server/api.js';

const JSON_HEADERS = { 'content-type': 'application/json' };
const GENERIC_404 = 'The requested resource could not be found. Please see the certificate authority logs for more info.';

/** An openssl CSR for a fresh P-256 key, as a user's tooling would make it. */
async function opensslCsr(dir: string, cn: string): Promise<string> {
  const keyFile = `${dir}/${cn}.key`;
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
  return (await run('openssl', ['req', '-new', '-key', keyFile, '-subj', `/CN=${cn}`])).stdout;
}

function tlsHandshake(port: number, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

test('paging: cursors point at the next provisioner, limits as step-ca reads them', () => {
  const list = Array.from({ length: 45 }, (_, i) => ({ type: 'OIDC', name: `p${i}` }));
  const first = page(list, '', 20);
  assert.deepEqual([first.provisioners.length, first.nextCursor], [20, '15']);
  const second = page(list, first.nextCursor, 20);
  assert.equal(second.provisioners[0]?.name, 'p20');
  const last = page(list, second.nextCursor, 20);
  assert.deepEqual([last.provisioners.length, last.nextCursor], [5, '']);
  assert.deepEqual(page(list, 'ffff', 20).provisioners, [], 'a cursor past the end');
  assert.deepEqual([pageLimit(null), pageLimit(''), pageLimit('0'), pageLimit('-1'), pageLimit('7'), pageLimit('101')], [20, 20, 20, 20, 7, 100]);
  assert.throws(() => pageLimit('1.5'), /limit '1\.5' is not an integer/);
});

describe('ca serve: the API', () => {
  let idp: TestIdp;
  let home: CaHome;
  let server: Serving;
  const tokensSeen: string[] = [];

  before(async () => {
    idp = await startIdp();
    home = await createCaHome(idp);
    // Two more provisioners, so /provisioners has pages to turn.
    for (const name of ['Second', 'Third']) {
      await home.cli(['provisioner', 'add', name, '--client-id', `${name}-id`, '--client-secret', 's', '--configuration-endpoint', idp.discoveryUrl, '--no-check']);
    }
    // As a step-ca home or a ca.json from before ca init turned the CRL on: no "crl" section.
    const config = JSON.parse(await readFile(home.configPath, 'utf8')) as Record<string, unknown>;
    delete config.crl;
    await writeFile(home.configPath, JSON.stringify(config, null, '\t'));
    server = await startServe(home, { workers: 2 });
  });

  after(async () => {
    const exit = await server.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
    await idp.close();
    await home.cleanup();
  });

  test("prints step-ca's start lines with the real port and the root fingerprint", async () => {
    const rootDer = new X509Certificate(home.rootPem).raw;
    const fp = createHash('sha256').update(rootDer).digest('hex');
    const lines = server.stderr().split('\n');
    assert.equal(lines[0], `Starting ca/${version()} (${process.platform}/${process.arch})`);
    assert.equal(lines[1], `Config file: ${home.configPath}`);
    assert.ok(lines.includes(`The primary server URL is https://localhost:${server.port}`), server.stderr());
    assert.ok(lines.includes(`Root certificates are available at https://localhost:${server.port}/roots.pem`));
    assert.ok(lines.includes(`X.509 Root Fingerprint: ${fp}`));
    assert.ok(lines.includes(`Serving HTTPS on 127.0.0.1:${server.port} ...`));
    assert.notEqual(server.port, 0);
  });

  test('GET /health and /version, at / and /1.0/', async () => {
    for (const prefix of ['', '/1.0']) {
      const health = await server.request('GET', `${prefix}/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(json(health), { status: 'ok' });
      assert.match(String(health.headers['content-type']), /^application\/json/);
      const ver = await server.request('GET', `${prefix}/version`);
      assert.equal(ver.status, 200);
      assert.deepEqual(json(ver), { version: version() });
    }
  });

  test('GET /roots (201), /roots.pem and /root/{sha256}', async () => {
    const roots = await server.request('GET', '/roots');
    assert.equal(roots.status, 201);
    const crts = json(roots).crts as string[];
    assert.equal(crts.length, 1);
    assert.equal(new X509Certificate(crts[0] as string).fingerprint256, new X509Certificate(home.rootPem).fingerprint256);

    const pem = await server.request('GET', '/1.0/roots.pem');
    assert.equal(pem.status, 200);
    assert.equal(pem.body.trim(), home.rootPem.trim());

    const fp = createHash('sha256').update(new X509Certificate(home.rootPem).raw).digest('hex');
    const dashed = fp.toUpperCase().match(/.{1,8}/g)?.join('-') ?? '';
    for (const form of [fp, dashed]) {
      const root = await server.request('GET', `/root/${form}`);
      assert.equal(root.status, 200, form);
      assert.equal((json(root).ca as string).trim(), home.rootPem.trim());
    }
    const missing = await server.request('GET', `/1.0/root/${'ab'.repeat(32)}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(json(missing), { status: 404, message: `root certificate with fingerprint "${'ab'.repeat(32)}" was not found` });
  });

  test('GET /provisioners pages with opaque cursors and checks the limit', async () => {
    const all = await server.request('GET', '/provisioners');
    assert.equal(all.status, 200);
    const body = json(all);
    assert.deepEqual((body.provisioners as { name: string }[]).map((p) => p.name), ['TestIdP', 'Second', 'Third']);
    assert.equal(body.nextCursor, '');
    const first = (body.provisioners as Record<string, unknown>[])[0] as Record<string, unknown>;
    assert.equal(first.type, 'OIDC');
    assert.equal(first.clientID, 'ca-cli');
    assert.equal(first.clientSecret, 'ca-cli-secret', 'step-ca publishes the OIDC client secret by design');

    const names: string[] = [];
    let cursor = '';
    for (let i = 0; i < 5; i++) {
      const page = json(await server.request('GET', `/1.0/provisioners?limit=1&cursor=${encodeURIComponent(cursor)}`));
      names.push(...(page.provisioners as { name: string }[]).map((p) => p.name));
      cursor = page.nextCursor as string;
      if (cursor === '') break;
      assert.match(cursor, /^[0-9a-f]+$/);
    }
    assert.deepEqual(names, ['TestIdP', 'Second', 'Third']);

    for (const limit of ['0', '-3', '500']) {
      const res = await server.request('GET', `/provisioners?limit=${limit}`);
      assert.equal(res.status, 200, limit);
      assert.equal((json(res).provisioners as unknown[]).length, 3, limit);
    }
    const bad = await server.request('GET', '/provisioners?limit=ten');
    assert.equal(bad.status, 400);
    assert.deepEqual(json(bad), { status: 400, message: "The request could not be completed: limit 'ten' is not an integer." });
  });

  test('unknown paths are 404, wrong methods 405, both with the error body', async () => {
    const unknown = await server.request('GET', '/nothing-here');
    assert.equal(unknown.status, 404);
    assert.deepEqual(json(unknown), { status: 404, message: GENERIC_404 });
    assert.equal((await server.request('GET', '/2.0/health')).status, 404);

    const post = await server.request('POST', '/health', { body: '{}', headers: JSON_HEADERS });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal(json(post).status, 405);
    const get = await server.request('GET', '/1.0/sign');
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
  });

  test('without "crl" in ca.json there is no CRL: 404 with the reason, and ca crl says how to turn it on', async () => {
    const res = await server.request('GET', '/1.0/crl');
    assert.equal(res.status, 404);
    assert.match(String(json(res).message), /^The requested resource could not be found: this CA does not publish a CRL/);
    const cli = await runCli(['crl', '--ca-url', `https://127.0.0.1:${server.port}`, '--root', home.rootFile], { env: { CA_PATH: `${home.dir}/nobody` } });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^ca: the CA at https:\/\/127\.0\.0\.1:\d+ does not publish a CRL\n {2}try: an admin turns it on with "crl": \{"enabled": true\} in ca\.json/);
  });

  test('a request Node cannot parse still gets the error shape and a request id', async () => {
    const socket = await tlsHandshake(server.port, { ca: home.rootPem, servername: 'localhost' });
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('end', () => resolve(text));
      socket.write('NOT A REQUEST\r\n\r\n');
    });
    assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(reply, /\r\nX-Request-Id: [0-9a-f-]{36}\r\n/);
    assert.match(reply, /\{"status":400,"message":"The request could not be completed: malformed HTTP request\."\}/);
  });

  test('X-Request-Id: a sane one is echoed, anything else replaced, errors included', async () => {
    const echoed = await server.request('GET', '/health', { headers: { 'X-Request-Id': 'trace-42.abc' } });
    assert.equal(echoed.headers['x-request-id'], 'trace-42.abc');
    const replaced = await server.request('GET', '/health', { headers: { 'X-Request-Id': 'has spaces <and> "quotes"' } });
    assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const made = await server.request('GET', '/nope');
    assert.match(String(made.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const other = await server.request('GET', '/nope');
    assert.notEqual(other.headers['x-request-id'], made.headers['x-request-id']);
  });

  test('POST /sign with a real login and an openssl CSR: 201, a chain openssl verifies, and single use', async () => {
    const { idToken } = await idp.login({ username: 'alice', password: 'alice-password', clientId: 'ca-cli' });
    tokensSeen.push(idToken);
    const csr = await opensslCsr(home.dir, 'alice@example.com');
    const res = await server.request('POST', '/1.0/sign', { body: JSON.stringify({ csr, ott: idToken, notBefore: '', notAfter: '' }), headers: JSON_HEADERS });
    assert.equal(res.status, 201, res.body);
    const body = json(res) as { crt: string; ca: string; certChain: string[] };
    assert.deepEqual(body.certChain, [body.crt, body.ca]);
    const intermediate = new X509Certificate(body.ca);
    assert.equal(intermediate.fingerprint256, new X509Certificate(await readFile(home.intermediateFile)).fingerprint256);

    await writeFile(`${home.dir}/leaf.crt`, body.crt);
    await writeFile(`${home.dir}/chain.crt`, body.ca);
    const verify = await run('openssl', ['verify', '-CAfile', home.rootFile, '-untrusted', `${home.dir}/chain.crt`, `${home.dir}/leaf.crt`]);
    assert.match(verify.stdout, /leaf\.crt: OK/);
    const leaf = new X509Certificate(body.crt);
    assert.match(leaf.subjectAltName ?? '', /email:alice@example\.com/);

    const again = await server.request('POST', '/sign', { body: JSON.stringify({ csr, ott: idToken }), headers: JSON_HEADERS });
    assert.equal(again.status, 401);
    assert.equal(json(again).status, 401);
    assert.match(String(json(again).message), /^The request lacked necessary authorization to be completed: token already used \(provisioner "TestIdP", subject "user-alice"\); get a new one\.$/, 'the body says which rule failed');
    assert.ok(!String(json(again).message).includes(idToken.split('.')[1]!), 'never the token itself');

    const line = await server.logLine(res.headers['x-request-id']);
    assert.equal(line.method, 'POST');
    assert.equal(line.path, '/1.0/sign');
    assert.equal(line.status, 201);
    assert.equal(line.provisioner, 'TestIdP');
    assert.equal(typeof line.subject, 'string');
    assert.equal(BigInt(String(line.serial)), BigInt(`0x${leaf.serialNumber}`));
    assert.equal(typeof line.ms, 'number');
    const refused = await server.logLine(again.headers['x-request-id']);
    assert.equal(refused.status, 401);
    assert.match(String(refused.error), /already used/);
  });

  test('POST /sign checks the body before the authority: missing csr, missing ott', async () => {
    const ott = await mintToken(idp);
    tokensSeen.push(ott);
    const noCsr = await server.request('POST', '/sign', { body: JSON.stringify({ ott }), headers: JSON_HEADERS });
    assert.deepEqual([noCsr.status, json(noCsr)], [400, { status: 400, message: 'The request could not be completed: missing csr.' }]);
    const noOtt = await server.request('POST', '/sign', { body: JSON.stringify({ csr: await makeCsr(), ott: '' }), headers: JSON_HEADERS });
    assert.deepEqual([noOtt.status, json(noOtt)], [400, { status: 400, message: 'The request could not be completed: missing ott.' }]);
    // The token was never spent: it still signs.
    const ok = await server.request('POST', '/sign', { body: signJson(await makeCsr(), ott) });
    assert.equal(ok.status, 201, ok.body);
  });

  test('abuse limits: 413 over 64 KiB (declared or streamed), 400 for bad JSON, 415 for another content type', async () => {
    const big = JSON.stringify({ csr: 'x'.repeat(70 * 1024), ott: 'y' });
    const declared = await server.request('POST', '/sign', { body: big, headers: JSON_HEADERS });
    assert.equal(declared.status, 413);
    assert.equal(json(declared).status, 413);
    assert.match(json(declared).message as string, /^The request could not be completed: the request body is larger than 65536 bytes\.$/);

    // Chunked, no Content-Length: counted as it arrives.
    const streamed = await send(
      { host: '127.0.0.1', port: server.port, method: 'POST', path: '/sign', ca: home.rootPem, headers: { ...JSON_HEADERS, 'transfer-encoding': 'chunked' } },
      Buffer.alloc(200 * 1024, 'a'),
    ).catch((err: NodeJS.ErrnoException) => ({ status: -1, body: String(err.code), headers: {} }));
    // The server answers 413 and closes; a client still writing may see the reset first.
    assert.ok(streamed.status === 413 || streamed.body === 'ECONNRESET' || streamed.body === 'EPIPE', `${streamed.status} ${streamed.body}`);

    const badJson = await server.request('POST', '/sign', { body: '{"csr": "x", ', headers: JSON_HEADERS });
    assert.deepEqual([badJson.status, json(badJson)], [400, { status: 400, message: 'The request could not be completed: error reading request body: the body is not valid JSON.' }]);
    const notObject = await server.request('POST', '/sign', { body: '[1,2]', headers: JSON_HEADERS });
    assert.equal(notObject.status, 400);

    const form = await server.request('POST', '/sign', { body: 'csr=x&ott=y', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual([form.status, json(form)], [415, { status: 415, message: 'The request could not be completed: the content type must be application/json.' }]);
    const charset = await server.request('POST', '/sign', { body: '{}', headers: { 'content-type': 'Application/JSON; charset=utf-8' } });
    assert.equal(charset.status, 400, 'application/json with parameters is accepted (then: missing csr)');

    // The server still answers on the same keep-alive agent after all that.
    assert.equal((await server.request('GET', '/health')).status, 200);
  });

  test('TLS: 1.2 and 1.3 only, a certificate for the dnsNames that chains to the root', async () => {
    for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
      const socket = await tlsHandshake(server.port, { ca: home.rootPem, servername: 'localhost', minVersion: v, maxVersion: v });
      assert.equal(socket.getProtocol(), v);
      assert.ok(socket.authorized, String(socket.authorizationError));
      const peer = socket.getPeerCertificate(true);
      assert.match(peer.subjectaltname ?? '', /DNS:localhost/);
      assert.match(peer.subjectaltname ?? '', /IP Address:127\.0\.0\.1/);
      socket.destroy();
    }
    // No SNI (an IP address): the same certificate, valid for the IP.
    const byIp = await tlsHandshake(server.port, { ca: home.rootPem });
    assert.ok(byIp.authorized);
    byIp.destroy();

    await assert.rejects(
      tlsHandshake(server.port, { ca: home.rootPem, servername: 'localhost', minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
      (err: NodeJS.ErrnoException) => /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/i.test(`${err.code} ${err.message}`),
    );
    const tls11 = await run('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], { allowFail: true, input: '' });
    assert.notEqual(tls11.code, 0, 'openssl -tls1_1 is refused');
    assert.match(tls11.stdout + tls11.stderr, /alert protocol version|no protocols available|unsupported protocol/i);

    // curl trusting only the root, by name: the chain and the name check out.
    const curl = await run('curl', ['-sS', '--cacert', home.rootFile, '--resolve', `localhost:${server.port}:127.0.0.1`, `https://localhost:${server.port}/health`, '--tlsv1.2']);
    assert.equal(curl.stdout.trim(), '{"status":"ok"}');
    const chain = await run('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-servername', 'localhost', '-CAfile', home.rootFile, '-verify_return_error'], { input: '' });
    assert.match(chain.stdout, /Verify return code: 0 \(ok\)/);
    assert.match(chain.stdout, /CN ?= ?Server Test Intermediate CA/);
  });

  test('the log: one JSON line per request, and never a token', async () => {
    const lines = server.logLines();
    assert.ok(lines.length > 20);
    for (const line of lines.filter((l) => l.method !== undefined)) {
      for (const key of ['time', 'level', 'requestId', 'method', 'path', 'status', 'ms']) assert.ok(key in line, `${key} in ${JSON.stringify(line)}`);
    }
    const everything = server.stdout() + server.stderr();
    assert.ok(tokensSeen.length >= 2);
    for (const token of tokensSeen) {
      assert.ok(!everything.includes(token), 'a token in the output');
      assert.ok(!everything.includes(token.split('.')[2] as string), 'a token signature in the output');
    }
    assert.ok(!everything.includes('PRIVATE KEY'));
    assert.ok(!everything.includes('ca-cli-secret'));
  });
});
