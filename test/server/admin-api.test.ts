/**
 * The admin API (remote administration) against a real `ca serve` with SQLite and two workers:
 * every route, the admin token's refusals, a provisioner added through the API serving at once on
 * every worker, concurrent adds, and the rules that keep a super admin.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { toLinked } from '../../src/config/linkedca.js';
import { createCaPair } from '../../src/pki/ca.js';
import { commonNameDer, issueLeaf, prepareSigningCa } from '../../src/pki/certificate.js';
import { readSingle } from '../../src/pki/der.js';
import { parseSubjectPublicKeyInfo } from '../../src/pki/inspect/keys.js';
import { openPrivateKey } from '../../src/pki/keys.js';
import { parsePem, toPem } from '../../src/pki/pem.js';
import { SQLITE_FILE } from '../../src/store/index.js';
import { adminCall, adminCredentials, createAdminHome, csrAndKey, newJwkProvisioner, signWithJwk, type AdminCredentials } from './admin-helpers.js';
import { newOidcProvisioner } from '../../src/config/provisioner.js';
import { startIdp } from '../fixtures/idp.js';
import { CLIENT_ID, JWK_PROVISIONER, PASSWORD, PROVISIONER, editConfig, makeCsr, mintToken, signJson, startServe, type CaHome, type Serving } from './helpers.js';

describe('admin API on SQLite, two workers', () => {
  let home: CaHome;
  let server: Serving;
  let step: AdminCredentials;

  before(async () => {
    home = await createAdminHome();
    server = await startServe(home, { workers: 2 });
    step = await adminCredentials(server, home, 'step');
  });
  after(async () => {
    await server?.stop();
    await home?.cleanup();
  });

  test("ca.json's provisioners moved into the store on first start, with step as super admin", async () => {
    const list = await adminCall(server, step, { method: 'GET', path: '/admin/provisioners' });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual((list.body.provisioners as { name: string }[]).map((p) => p.name), [JWK_PROVISIONER]);
    assert.equal(list.body.nextCursor, '');
    const admins = await adminCall(server, step, { method: 'GET', path: '/admin/admins' });
    assert.equal(admins.status, 200);
    const [first] = admins.body.admins as Record<string, unknown>[];
    assert.equal(first?.subject, 'step');
    assert.equal(first?.type, 2);
    assert.deepEqual(Object.keys(first ?? {}), ['id', 'subject', 'provisioner_id', 'type', 'created_at']);
    assert.match(server.logLines().map((l) => String(l.msg ?? '')).join('\n'), /moved the 1 provisioner\(s\) of ca.json into the database/);
  });

  test('a provisioner added through the API serves /sign at once on every worker, no SIGHUP', async () => {
    const { json, secret } = await newJwkProvisioner('ci');
    const added = await adminCall(server, step, { method: 'POST', path: '/admin/provisioners', body: toLinked(json) });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.match(String(added.body.id), /^[0-9a-f-]{36}$/);
    assert.equal(added.body.name, 'ci');
    // Several at once, so both workers answer some.
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => signWithJwk(server, home, secret, `svc-${i}.example.com`)));
    assert.deepEqual(results.map((r) => r.res.status), [201, 201, 201, 201, 201, 201], results.map((r) => r.res.body).join('\n'));
    const pub = await server.request('GET', '/provisioners');
    assert.ok((JSON.parse(pub.body) as { provisioners: { name: string }[] }).provisioners.some((p) => p.name === 'ci'));
    const got = await adminCall(server, step, { method: 'GET', path: '/admin/provisioners/ci' });
    assert.equal(got.status, 200);
    assert.equal(got.body.id, added.body.id);
    assert.equal(got.body.type, 'JWK');
    const byId = await adminCall(server, step, { method: 'GET', path: `/admin/provisioners?id=${String(added.body.id)}` });
    assert.equal(byId.body.name, 'ci');
  });

  test('admin token refusals name the rule', async () => {
    const path = '/admin/provisioners';
    const bearer = await adminCall(server, step, { method: 'GET', path, tokenOptions: { prefix: 'Bearer ' } });
    assert.equal(bearer.status, 401);
    assert.match(String(bearer.body.message), /without a 'Bearer ' prefix/);
    assert.equal(bearer.body.type, 'unauthorized');

    const expired = await adminCall(server, step, { method: 'GET', path, tokenOptions: { now: new Date(Date.now() - 10 * 60_000) } });
    assert.equal(expired.status, 401);
    assert.match(String(expired.body.message), /admin token expired at/);

    const once = await adminCall(server, step, { method: 'GET', path });
    assert.equal(once.status, 200);
    const replay = await adminCall(server, step, { method: 'GET', path, token: once.token });
    assert.equal(replay.status, 401);
    assert.match(String(replay.body.message), /already used/);

    const wrongAud = await adminCall(server, step, { method: 'GET', path, tokenOptions: { audience: `https://127.0.0.1:${server.port}/admin/admins` } });
    assert.equal(wrongAud.status, 401);
    assert.match(String(wrongAud.body.message), /audience/);

    const bob = await adminCredentials(server, home, 'bob@example.com');
    const notAdmin = await adminCall(server, bob, { method: 'GET', path });
    assert.equal(notAdmin.status, 401);
    assert.match(String(notAdmin.body.message), /bob@example.com is not an admin of provisioner "admin"/);

    // A chain from another CA, its key signing the token.
    const other = await createCaPair('Elsewhere', new Date());
    const foreignKey = `-----BEGIN PRIVATE KEY-----\n${other.intermediate.keyPkcs8.toString('base64')}\n-----END PRIVATE KEY-----\n`;
    const foreign = { subject: 'step', keyPem: foreignKey, chainPem: toPem('CERTIFICATE', new Uint8Array(other.intermediate.cert.rawData)) };
    const foreignRes = await adminCall(server, foreign, { method: 'GET', path });
    assert.equal(foreignRes.status, 401);
    assert.match(String(foreignRes.body.message), /not issued by this CA/);
  });

  test('admins: add, get, update, remove; only a super admin manages admins', async () => {
    const added = await adminCall(server, step, { method: 'POST', path: '/admin/admins', body: { subject: 'carol@example.com', provisioner: JWK_PROVISIONER, type: 1 } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.type, 'ADMIN');
    const id = String(added.body.id);
    const got = await adminCall(server, step, { method: 'GET', path: `/admin/admins/${id}` });
    assert.deepEqual([got.body.subject, got.body.type], ['carol@example.com', 'ADMIN']);

    const carol = await adminCredentials(server, home, 'carol@example.com');
    const readOk = await adminCall(server, carol, { method: 'GET', path: '/admin/provisioners' });
    assert.equal(readOk.status, 200, 'an ADMIN manages provisioners');
    const refused = await adminCall(server, carol, { method: 'POST', path: '/admin/admins', body: { subject: 'dave@example.com', provisioner: JWK_PROVISIONER, type: 2 } });
    assert.equal(refused.status, 401);
    assert.match(String(refused.body.message), /only a super admin can add admins/);

    const dup = await adminCall(server, step, { method: 'POST', path: '/admin/admins', body: { subject: 'carol@example.com', provisioner: JWK_PROVISIONER, type: 1 } });
    assert.equal(dup.status, 400);
    const badType = await adminCall(server, step, { method: 'POST', path: '/admin/admins', body: { subject: 'x', provisioner: JWK_PROVISIONER, type: 7 } });
    assert.equal(badType.status, 400);
    const empty = await adminCall(server, step, { method: 'POST', path: '/admin/admins', body: { subject: '', provisioner: JWK_PROVISIONER, type: 1 } });
    assert.equal(empty.status, 400);

    const promoted = await adminCall(server, step, { method: 'PATCH', path: `/admin/admins/${id}`, body: { type: 2 } });
    assert.equal(promoted.status, 200);
    assert.equal(promoted.body.type, 'SUPER_ADMIN');
    const removed = await adminCall(server, step, { method: 'DELETE', path: `/admin/admins/${id}` });
    assert.deepEqual([removed.status, removed.body], [200, { status: 'ok' }]);
    const gone = await adminCall(server, step, { method: 'GET', path: `/admin/admins/${id}` });
    assert.equal(gone.status, 404);
  });

  test('the last super admin stays: neither removed, demoted, nor lost with its provisioner', async () => {
    const admins = (await adminCall(server, step, { method: 'GET', path: '/admin/admins' })).body.admins as { id: string; subject: string; type: number }[];
    const stepAdmin = admins.find((a) => a.subject === 'step' && a.type === 2);
    assert.ok(stepAdmin);
    const demote = await adminCall(server, step, { method: 'PATCH', path: `/admin/admins/${stepAdmin.id}`, body: { type: 1 } });
    assert.equal(demote.status, 400);
    assert.match(String(demote.body.message), /no super admin/);
    const remove = await adminCall(server, step, { method: 'DELETE', path: `/admin/admins/${stepAdmin.id}` });
    assert.equal(remove.status, 400);
    const removeProvisioner = await adminCall(server, step, { method: 'DELETE', path: `/admin/provisioners/${JWK_PROVISIONER}` });
    assert.equal(removeProvisioner.status, 400);
    assert.match(String(removeProvisioner.body.message), /no super admin/);
  });

  test('concurrent adds of one name from two admins: exactly one wins', async () => {
    await adminCall(server, step, { method: 'POST', path: '/admin/admins', body: { subject: 'erin@example.com', provisioner: JWK_PROVISIONER, type: 1 } });
    const erin = await adminCredentials(server, home, 'erin@example.com');
    const [a, b] = await Promise.all([newJwkProvisioner('race'), newJwkProvisioner('race')]);
    const results = await Promise.all([
      adminCall(server, step, { method: 'POST', path: '/admin/provisioners', body: toLinked(a.json) }),
      adminCall(server, erin, { method: 'POST', path: '/admin/provisioners', body: toLinked(b.json) }),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 400], JSON.stringify(results.map((r) => r.body)));
  });

  test('update and remove a provisioner; the change is audited', async () => {
    const { json, secret } = await newJwkProvisioner('temp');
    assert.equal((await adminCall(server, step, { method: 'POST', path: '/admin/provisioners', body: toLinked(json) })).status, 201);
    const current = (await adminCall(server, step, { method: 'GET', path: '/admin/provisioners/temp' })).body;
    const changed = { ...current, claims: { x509: { enabled: true, durations: { default: '2h0m0s', max: '4h0m0s' } } } };
    const put = await adminCall(server, step, { method: 'PUT', path: '/admin/provisioners/temp', body: changed });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const cert = await signWithJwk(server, home, secret, 'dur.example.com');
    assert.equal(cert.res.status, 201);
    const idChange = await adminCall(server, step, { method: 'PUT', path: '/admin/provisioners/temp', body: { ...changed, id: 'other' } });
    assert.equal(idChange.status, 400);
    const del = await adminCall(server, step, { method: 'DELETE', path: '/admin/provisioners/temp' });
    assert.equal(del.status, 200);
    const afterDelete = await signWithJwk(server, home, secret, 'gone.example.com');
    assert.equal(afterDelete.res.status, 401, 'a removed provisioner no longer signs');
    const missing = await adminCall(server, step, { method: 'GET', path: '/admin/provisioners/temp' });
    assert.equal(missing.status, 404);

    const db = new Database(join(home.caPath, 'db', SQLITE_FILE), { readonly: true });
    try {
      const rows = db.prepare('SELECT actor, action, target FROM audit_log ORDER BY id').all() as { actor: string; action: string; target: string }[];
      assert.ok(rows.some((r) => r.action === 'provisioner.update' && r.target === 'temp' && r.actor === 'step (provisioner admin)'), JSON.stringify(rows));
      assert.ok(rows.some((r) => r.action === 'provisioner.remove' && r.target === 'temp'));
    } finally {
      db.close();
    }
    const line = server.logLines().find((l) => (l.audit as { action?: string } | undefined)?.action === 'provisioner.remove');
    assert.ok(line, 'one JSON log line for the change');
  });

  test('unknown admin routes and methods', async () => {
    assert.equal((await adminCall(server, step, { method: 'GET', path: '/admin/nothing' })).status, 404);
    assert.equal((await adminCall(server, step, { method: 'PATCH', path: '/admin/provisioners' })).status, 405);
    const noToken = await server.request('GET', '/admin/provisioners');
    assert.equal(noToken.status, 401);
  });
});

describe('admin API without enableAdmin', () => {
  test('/admin/* is 404; turning enableAdmin on needs a restart, not a SIGHUP', async (t) => {
    const home = await createAdminHome({ enableByHand: false });
    t.after(() => home.cleanup());
    const server = await startServe(home, { workers: 1 });
    t.after(() => server.stop());
    const res = await server.request('GET', '/admin/provisioners');
    assert.equal(res.status, 404);
    await editConfig(home, (config) => ((config.authority as Record<string, unknown>).enableAdmin = true));
    server.child.kill('SIGHUP');
    await server.waitForStderr(/error reloading server: "authority.enableAdmin" changed to true/);
    assert.equal((await server.request('GET', '/admin/provisioners')).status, 404);
  });

  test('enableAdmin without a database: a clear start-up error', async (t) => {
    const home = await createAdminHome();
    t.after(() => home.cleanup());
    await editConfig(home, (config) => delete config.db);
    await assert.rejects(startServe(home, { workers: 1 }), /"authority.enableAdmin" needs a database/);
  });
});

describe('admin API after ca init --remote-management', () => {
  test('the first super admin logs in with the JWK provisioner kept in the database', async (t) => {
    const home = await createAdminHome({ initArgs: ['--remote-management', '--admin-subject', 'alice@example.com'], enableByHand: false });
    t.after(() => home.cleanup());
    const server = await startServe(home, { workers: 1 });
    t.after(() => server.stop());
    const pub = JSON.parse((await server.request('GET', '/provisioners')).body) as { provisioners: { name: string }[] };
    assert.deepEqual(pub.provisioners.map((p) => p.name), [JWK_PROVISIONER]);
    const alice = await adminCredentials(server, home, 'alice@example.com');
    const admins = await adminCall(server, alice, { method: 'GET', path: '/admin/admins' });
    assert.equal(admins.status, 200, JSON.stringify(admins.body));
    assert.deepEqual((admins.body.admins as { subject: string; type: number }[]).map((a) => [a.subject, a.type]), [['alice@example.com', 2]]);
    assert.doesNotMatch(server.stdout(), /moved the/);

    // A certificate of this CA without step's provisioner extension: 404, as step-ca.
    const intermediateKey = openPrivateKey(await readFile(join(home.caPath, 'secrets', 'intermediate_ca_key'), 'utf8'), PASSWORD, 'the intermediate key');
    const intermediateDer = parsePem(await readFile(home.intermediateFile, 'utf8'), 'intermediate')[0]!.der;
    const ca = prepareSigningCa(intermediateDer, intermediateKey, { cert: 'intermediate', key: 'intermediate key' });
    const { keyPem } = await csrAndKey('alice@example.com');
    const spki = new Uint8Array(createPublicKey(keyPem).export({ format: 'der', type: 'spki' }));
    const now = Date.now();
    const leaf = await issueLeaf(ca, {
      subject: commonNameDer('alice@example.com'),
      sans: [{ type: 'email', value: 'alice@example.com' }],
      spki,
      publicKeyBits: parseSubjectPublicKeyInfo(readSingle(spki)).raw,
      keyKind: 'ec',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      extraExtensions: [],
    });
    const noExtension = { subject: 'alice@example.com', keyPem, chainPem: leaf.pem + (await readFile(home.intermediateFile, 'utf8')) };
    const res = await adminCall(server, noExtension, { method: 'GET', path: '/admin/admins' });
    assert.equal(res.status, 404);
    assert.match(String(res.body.message), /no provisioner extension/);
  });
});

describe('an OIDC provisioner through the admin API', () => {
  test('added, it signs a login at once; a bad endpoint is a 400 naming it; removed by ?id=', async (t) => {
    const idp = await startIdp();
    t.after(() => idp.close());
    const home = await createAdminHome();
    t.after(() => home.cleanup());
    const server = await startServe(home, { workers: 2 });
    t.after(() => server.stop());
    const step = await adminCredentials(server, home, 'step');

    const bad = newOidcProvisioner('Broken', { clientId: 'x', configurationEndpoint: 'ftp://idp.example/.well-known/openid-configuration' });
    const refused = await adminCall(server, step, { method: 'POST', path: '/admin/provisioners', body: toLinked(bad) });
    assert.equal(refused.status, 400);
    assert.match(String(refused.body.message), /configuration/i);

    const oidc = newOidcProvisioner(PROVISIONER, { clientId: CLIENT_ID, clientSecret: 'ca-cli-secret', configurationEndpoint: idp.discoveryUrl });
    const added = await adminCall(server, step, { method: 'POST', path: '/admin/provisioners', body: toLinked(oidc) });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const results = await Promise.all(Array.from({ length: 4 }, async () => server.request('POST', '/1.0/sign', { body: signJson(await makeCsr(), await mintToken(idp)), headers: { 'content-type': 'application/json' } })));
    assert.deepEqual(results.map((r) => r.status), [201, 201, 201, 201], results.map((r) => r.body).join('\n'));

    const removed = await adminCall(server, step, { method: 'DELETE', path: `/admin/provisioners/?id=${String(added.body.id)}` });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const listed = (JSON.parse((await server.request('GET', '/provisioners')).body) as { provisioners: { name: string }[] }).provisioners.map((p) => p.name);
    assert.deepEqual(listed, [JWK_PROVISIONER]);
  });
});
