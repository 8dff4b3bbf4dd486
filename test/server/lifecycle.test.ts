// Starting and stopping `ca serve`: the password sources, a graceful SIGTERM with requests in
// flight, and a restart that keeps the issued certificates and the used tokens.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { runCli } from '../helpers/run-cli.js';
import { createCaHome, editConfig, json, makeCsr, mintToken, PASSWORD, PROVISIONER, signJson, startServe, type CaHome, type Response } from './helpers.js';
import { readCaConfig } from '../../src/config/ca-config.js';
import { openStore } from '../../src/store/index.js';

function connectable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('ca serve: start, stop, restart', () => {
  let idp: TestIdp;
  let home: CaHome;

  before(async () => {
    idp = await startIdp();
    home = await createCaHome(idp);
  });

  after(async () => {
    await idp.close();
    await home.cleanup();
  });

  test('an encrypted key and no password, without a terminal: a clear error naming --password-file', async () => {
    const res = await runCli(['serve'], { env: { ...home.env, CA_WORKERS: '1' } });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /ca: the intermediate key .*intermediate_ca_key is encrypted and no password was given\n {2}try: pass --password-file FILE/);

    await writeFile(`${home.dir}/wrong.txt`, 'not-the-password\n');
    const wrong = await runCli(['serve', '--password-file', `${home.dir}/wrong.txt`], { env: { ...home.env, CA_WORKERS: '2' } });
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /ca: cannot decrypt the intermediate key .*: wrong password/);
    assert.doesNotMatch(wrong.stderr, /Serving HTTPS/);

    const usage = await runCli(['serve', '--workers', 'many', '--password-file', home.passwordFile], { env: home.env });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /invalid value 'many' for flag '--workers'/);
  });

  test('SIGTERM: stops accepting, finishes the requests in flight, exits 0', async () => {
    const server = await startServe(home, { workers: 2 });
    // Requests whose headers and half their body have arrived: in flight for certain.
    const bodies = await Promise.all(Array.from({ length: 6 }, async () => signJson(await makeCsr(), await mintToken(idp))));
    const pending = bodies.map((body) => {
      const half = Math.floor(body.length / 2);
      const req = request({
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: '/sign',
        ca: home.rootPem,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      const response = new Promise<Response>((resolve, reject) => {
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        });
        req.on('error', reject);
      });
      req.write(body.slice(0, half));
      return { finish: () => req.end(body.slice(half)), response };
    });
    await new Promise((resolve) => setTimeout(resolve, 500));

    server.child.kill('SIGTERM');
    await server.waitForStderr(/shutting down \.\.\./);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(server.child.exitCode, null, 'still running: requests are in flight');
    assert.equal(await connectable(server.port), false, 'no new connections');

    pending.forEach((p) => p.finish());
    const responses = await Promise.all(pending.map((p) => p.response));
    assert.deepEqual(responses.map((r) => r.status), [201, 201, 201, 201, 201, 201], responses.map((r) => r.body).join('\n'));
    for (const r of responses) assert.equal(r.headers.connection, 'close');
    assert.deepEqual(await server.exited, { code: 0, signal: null }, server.stderr());
  });

  test('a restart keeps the issued certificates and refuses a token used before it', async () => {
    // The password from ca.json this time; and no issued-at check, so only replay protection can refuse the token.
    await editConfig(home, (config) => {
      config.password = PASSWORD;
      (config.authority as Record<string, unknown>).disableIssuedAtCheck = true;
    });
    const token = await mintToken(idp);
    const csr = await makeCsr();

    const first = await startServe(home, { workers: 1, args: [] });
    const signed = await first.request('POST', '/sign', { body: signJson(csr, token) });
    assert.equal(signed.status, 201, signed.body);
    const serial = String((await first.logLine(signed.headers['x-request-id'])).serial);
    assert.deepEqual(await first.stop('SIGINT'), { code: 0, signal: null }, first.stderr());

    const second = await startServe(home, { workers: 2, args: [] });
    try {
      const replay = await second.request('POST', '/sign', { body: signJson(csr, token) });
      assert.equal(replay.status, 401);
      assert.equal(json(replay).status, 401);
      assert.match(String((await second.logLine(replay.headers['x-request-id'])).error), /token already used/);
      const fresh = await second.request('POST', '/sign', { body: signJson(csr, await mintToken(idp)) });
      assert.equal(fresh.status, 201, fresh.body);
    } finally {
      assert.deepEqual(await second.stop('SIGTERM'), { code: 0, signal: null }, second.stderr());
    }

    const store = await openStore(await readCaConfig(home.configPath), home.caPath);
    try {
      const record = await store.getCertificate(serial);
      assert.ok(record, `certificate ${serial} recorded`);
      assert.equal(record.provisioner, PROVISIONER);
      assert.match(record.pem, /BEGIN CERTIFICATE/);
    } finally {
      await store.close();
    }
  });
  test('an IdP that does not answer does not hold up serving: /health and the other provisioners work at once', async (t) => {
    // A discovery endpoint that accepts connections and never answers (a firewalled IdP).
    const held: Socket[] = [];
    const blackhole = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      held.forEach((s) => s.destroy());
      blackhole.close();
    });
    const port = (blackhole.address() as AddressInfo).port;
    await home.cli(['provisioner', 'add', 'Stuck', '--client-id', 'stuck-client', '--configuration-endpoint', `http://127.0.0.1:${port}/.well-known/openid-configuration`, '--no-check']);
    t.after(() => home.cli(['provisioner', 'remove', 'Stuck']));
    const server = await startServe(home, { workers: 1 });
    t.after(() => server.stop());
    const health = await server.request('GET', '/health');
    assert.equal(health.status, 200);
    assert.ok(held.length >= 1 && held.every((s) => !s.destroyed), 'the discovery request is still waiting for the IdP');
    const signed = await server.request('POST', '/1.0/sign', { body: signJson(await makeCsr(), await mintToken(idp)), headers: { 'content-type': 'application/json' } });
    assert.equal(signed.status, 201, `${PROVISIONER} does not wait for the stuck IdP: ${signed.body}`);
  });

  test('without a db, one process serves, so that a token is still used only once', async () => {
    const saved = await readCaConfig(home.configPath);
    await editConfig(home, (config) => {
      delete config.db;
      (config.authority as Record<string, unknown>).disableIssuedAtCheck = true;
    });
    const serving = await startServe(home, { workers: 2 });
    try {
      assert.match(serving.stderr(), /ca\.json has no "db": serving from one process/);
      const token = await mintToken(idp);
      const first = await serving.request('POST', '/sign', { body: signJson(await makeCsr(), token), headers: { connection: 'close' } });
      assert.equal(first.status, 201, first.body);
      const again = await serving.request('POST', '/sign', { body: signJson(await makeCsr(), token), headers: { connection: 'close' } });
      assert.equal(again.status, 401, again.body);
    } finally {
      assert.deepEqual(await serving.stop('SIGTERM'), { code: 0, signal: null }, serving.stderr());
      await editConfig(home, (config) => Object.assign(config, saved));
    }
  });
});
