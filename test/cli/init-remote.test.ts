import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { runCli } from '../helpers/run-cli.js';
import { testdir } from '../helpers/testdir.js';
import { openSqliteStore } from '../../src/store/sqlite.js';

const initArgs = (pw: string) => ['init', '--name', 'Acme', '--dns', 'ca.acme.test,127.0.0.1', '--address', '127.0.0.1:8443', '--password-file', pw];

test('ca init --remote-management: enableAdmin, no provisioners in ca.json, the JWK provisioner and the first super admin in the database', async (t) => {
  const d = await testdir({ 'pw.txt': 'correct horse\n' });
  t.after(d.cleanup);
  const base = d.path('ca');
  const res = await runCli([...initArgs(d.path('pw.txt')), '--remote-management', '--admin-subject', 'alice@acme.test', '--provisioner', 'ops'], { env: { CA_PATH: base } });
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /✔ Super admin: alice@acme.test \(provisioner ops, kept in the database\)/);
  assert.match(res.stderr, /Remote management is on/);
  const config = JSON.parse(await readFile(`${base}/config/ca.json`, 'utf8')) as { authority: Record<string, unknown>; db: unknown };
  assert.deepEqual(config.authority, { enableAdmin: true, provisioners: [] });
  assert.deepEqual(config.db, { type: 'sqlite', dataSource: `${base}/db` });

  const store = openSqliteStore(`${base}/db`);
  t.after(() => store.close());
  const [provisioner, ...more] = await store.listProvisioners();
  assert.equal(more.length, 0);
  assert.equal(provisioner?.name, 'ops');
  assert.equal(provisioner?.type, 'JWK');
  assert.equal(typeof provisioner?.config.encryptedKey, 'string');
  const admins = await store.listAdmins();
  assert.deepEqual(admins.map((a) => [a.subject, a.type, a.provisionerId]), [['alice@acme.test', 'SUPER_ADMIN', provisioner?.id]]);
  const audit = await store.listAudit();
  assert.deepEqual(audit.map((e) => [e.actor, e.action, e.target]), [['ca init', 'provisioner.add', 'ops']]);
});

test('ca init --remote-management: the super admin is "step" by default', async (t) => {
  const d = await testdir({ 'pw.txt': 'correct horse\n' });
  t.after(d.cleanup);
  const base = d.path('ca');
  const res = await runCli([...initArgs(d.path('pw.txt')), '--remote-management'], { env: { CA_PATH: base } });
  assert.equal(res.code, 0, res.stderr);
  const store = openSqliteStore(`${base}/db`);
  t.after(() => store.close());
  assert.deepEqual((await store.listAdmins()).map((a) => a.subject), ['step']);
});

test('--admin-subject without --remote-management is refused before anything is written', async (t) => {
  const d = await testdir({ 'pw.txt': 'correct horse\n' });
  t.after(d.cleanup);
  const base = d.path('ca');
  const res = await runCli([...initArgs(d.path('pw.txt')), '--admin-subject', 'alice@acme.test'], { env: { CA_PATH: base } });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /'--admin-subject' needs '--remote-management'/);
  assert.equal(existsSync(`${base}/config/ca.json`), false);
});
