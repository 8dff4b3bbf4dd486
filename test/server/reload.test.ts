// SIGHUP on a running `ca serve` (two workers): a whole new configuration swapped in under load
// with no failed request; a bad file or a changed database keeps the running configuration.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { countReloads, createCaHome, hangUp, json, makeCsr, mintToken, send, signJson, startServe, type CaHome, type Serving } from './helpers.js';

/** Provisioner names as several fresh connections see them (so every worker answers). */
async function provisionerNames(server: Serving, home: CaHome): Promise<string[][]> {
  const seen: string[][] = [];
  for (let i = 0; i < 6; i++) {
    const agent = new Agent({ keepAlive: false, ca: home.rootPem });
    const res = await send({ host: '127.0.0.1', port: server.port, method: 'GET', path: '/provisioners', agent });
    seen.push((json(res).provisioners as { name: string }[]).map((p) => p.name));
  }
  return seen;
}

function handshake(port: number, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('ca serve: SIGHUP', () => {
  let idp: TestIdp;
  let home: CaHome;
  let server: Serving;

  before(async () => {
    idp = await startIdp();
    home = await createCaHome(idp);
    server = await startServe(home, { workers: 2, maxSockets: 16 });
  });

  after(async () => {
    const exit = await server.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
    await idp.close();
    await home.cleanup();
  });

  test('reloads under load: 300 signings at 16 in flight, three SIGHUPs and a new provisioner, nothing fails', async () => {
    const total = 300;
    const csrs = await Promise.all(Array.from({ length: 8 }, () => makeCsr()));
    const failures: string[] = [];
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < total; i = next++) {
        // A fresh token per request, as a client gets one just before asking.
        const res = await server.request('POST', '/sign', { body: signJson(csrs[i % csrs.length] as string, await mintToken(idp)), headers: { 'content-type': 'application/json' } });
        if (res.status !== 201) failures.push(`${res.status} ${res.body.trim()}`);
        done += 1;
      }
    };
    const reached = async (count: number): Promise<void> => {
      while (done < count) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    const operator = async (): Promise<void> => {
      await reached(40);
      await home.cli(['provisioner', 'add', 'Added', '--client-id', 'added-id', '--client-secret', 's', '--configuration-endpoint', idp.discoveryUrl, '--no-check']);
      await hangUp(server);
      await reached(140);
      await hangUp(server);
      await reached(220);
      await hangUp(server);
    };
    await Promise.all([...Array.from({ length: 16 }, worker), operator()]);

    assert.equal(done, total);
    assert.deepEqual(failures, []);
    assert.equal(countReloads(server), 3, server.stderr());
    assert.match(server.stderr(), /reloading \.\.\./);
    for (const names of await provisionerNames(server, home)) assert.deepEqual(names, ['TestIdP', 'Added']);
  });

  test('a ca.json that does not load keeps the running configuration, and says why', async () => {
    const good = await readFile(home.configPath, 'utf8');
    await writeFile(home.configPath, '{ "root": "oops", ');
    const before = server.stderr().length;
    server.child.kill('SIGHUP');
    await server.waitForStderr(/Continuing to run with the original configuration\.\n(?![\s\S]*reloading)/);
    const said = server.stderr().slice(before);
    assert.match(said, /reloading \.\.\.\nerror reloading server: .*ca\.json:1:19: not valid JSON: expected a property name in double quotes, found the end of the file/);

    // A file that parses but cannot be built (the intermediate is gone) is refused by the workers.
    await writeFile(home.configPath, good.replace(/"crt": "[^"]*"/, '"crt": "/nonexistent/intermediate.crt"'));
    const mark = server.stderr().length;
    server.child.kill('SIGHUP');
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const poll = (): void => {
        if (/Continuing to run with the original configuration/.test(server.stderr().slice(mark))) resolve();
        else if (Date.now() - started > 20_000) reject(new Error(server.stderr()));
        else setTimeout(poll, 20);
      };
      poll();
    });
    assert.match(server.stderr().slice(mark), /error reloading server: .*\/nonexistent\/intermediate\.crt/);

    const health = await server.request('GET', '/health');
    assert.equal(health.status, 200);
    const signed = await server.request('POST', '/sign', { body: signJson(await makeCsr(), await mintToken(idp)) });
    assert.equal(signed.status, 201, signed.body);
    await writeFile(home.configPath, good);
  });

  test('new TLS settings and a new server certificate apply to new connections', async () => {
    const good = await readFile(home.configPath, 'utf8');
    const before = await handshake(server.port, { ca: home.rootPem });
    const serialBefore = before.getPeerCertificate().serialNumber;
    assert.equal(before.getProtocol(), 'TLSv1.3');

    const config = JSON.parse(good) as { tls: { maxVersion: number } };
    config.tls.maxVersion = 1.2;
    await writeFile(home.configPath, JSON.stringify(config, null, '\t'));
    await hangUp(server);
    const after12 = await handshake(server.port, { ca: home.rootPem });
    assert.equal(after12.getProtocol(), 'TLSv1.2');
    assert.notEqual(after12.getPeerCertificate().serialNumber, serialBefore, 'a new certificate from the new authority');
    await assert.rejects(handshake(server.port, { ca: home.rootPem, minVersion: 'TLSv1.3' }));
    assert.equal(before.getProtocol(), 'TLSv1.3', 'an open connection keeps what it had');
    for (const s of [before, after12]) s.destroy();

    await writeFile(home.configPath, good);
    await hangUp(server);
    const restored = await handshake(server.port, { ca: home.rootPem });
    assert.equal(restored.getProtocol(), 'TLSv1.3');
    restored.destroy();
  });

  test("a changed db section is refused, as step-ca refuses it", async () => {
    const good = await readFile(home.configPath, 'utf8');
    const config = JSON.parse(good) as { db: { dataSource: string } };
    config.db.dataSource = `${config.db.dataSource}-elsewhere`;
    await writeFile(home.configPath, JSON.stringify(config, null, '\t'));
    const mark = server.stderr().length;
    server.child.kill('SIGHUP');
    await server.waitForStderr(/You can force a restart by sending a SIGTERM signal/);
    assert.match(server.stderr().slice(mark), /Reload failed because the database configuration has changed\.\nContinuing to run with the original configuration\./);
    assert.equal((await server.request('GET', '/health')).status, 200);
    await writeFile(home.configPath, good);
  });
});
