// `ca db migrate`: the real bin/ca copying a real SQLite store into a real, throwaway PostgreSQL.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { openSqliteStore } from '../../src/store/index.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { IssuedCertificate } from '../../src/store/types.js';
import { CA_DB_PASSWORD, startPostgres, type TestPostgres } from '../fixtures/postgres.js';
import { runCli } from '../helpers/run-cli.js';
import { testdir } from '../helpers/testdir.js';

const HOUR = 3_600_000;
let pgt: TestPostgres;

before(async () => {
  pgt = await startPostgres();
});
after(async () => {
  await pgt?.close();
});

function certificate(serial: string, sans = ['alice@example.com']): IssuedCertificate {
  const now = Date.now();
  return { serial, subject: 'CN=alice', sans, provisioner: 'Google', notBefore: new Date(now - 60_000), notAfter: new Date(now + 24 * HOUR), pem: `-----BEGIN CERTIFICATE-----\n${serial}\n-----END CERTIFICATE-----\n` };
}

/** A CA home whose embedded store holds three certificates, two live used tokens and an expired one. */
async function embeddedCa() {
  const d = await testdir();
  const store = openSqliteStore(d.path('ca/db'));
  const now = new Date();
  for (const [i, serial] of ['1001', '1002', '1003'].entries()) {
    assert.equal(await store.issueCertificate({ id: `nonce-${i}`, expiresAt: new Date(now.getTime() + HOUR) }, certificate(serial, ['alice@example.com', `https://idp.example#${i}`]), now), true);
  }
  await store.useToken('nonce-expired', new Date(now.getTime() - HOUR), new Date(now.getTime() - 2 * HOUR));
  const revocation = { serial: '1003', reasonCode: 1, reason: 'key compromise', revokedAt: now, notAfter: new Date(now.getTime() + 24 * HOUR), provisioner: 'Google', revokedBy: 'test' };
  assert.equal((await store.revokeCertificate(revocation, { requireKnown: true, now })).result, 'revoked');
  for (let i = 0; i < 4; i++) await store.nextCrlNumber();
  await store.close();
  return { ...d, caPath: d.path('ca'), env: { CA_PATH: d.path('ca') } };
}

describe('ca db migrate', () => {
  test('copies certificates and live used tokens; a token used before is still refused; running again copies nothing twice', async (t) => {
    const ca = await embeddedCa();
    t.after(ca.cleanup);
    const database = await pgt.createDatabase();
    const args = ['db', 'migrate', '--from', 'sqlite', '--to', pgt.url({ password: null }), '--database', database];
    const first = await runCli(args, { env: { ...ca.env, PGPASSWORD: CA_DB_PASSWORD } });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`Copying ${ca.caPath}/db/ca\\.sqlite to the PostgreSQL database "${database}" at 127\\.0\\.0\\.1:${pgt.port} \\(user "ca"\\) \\.\\.\\.`));
    assert.match(first.stderr, /✔ Certificates: 3 copied\n/);
    assert.match(first.stderr, /✔ Used tokens: 3 copied, 1 expired\n/);
    assert.match(first.stderr, /✔ Revocations: 1 copied\n/);
    assert.match(first.stderr, /✔ CRL number: 4 \(the next CRL is 5\)\n/);
    assert.match(first.stderr, /Next: stop ca serve, run this again/);
    assert.doesNotMatch(first.stderr + first.stdout, new RegExp(CA_DB_PASSWORD));

    const store = await openPostgresStore({ dataSource: pgt.url(), database }, { env: {} });
    t.after(() => store.close());
    const copied = await store.getCertificate('1002');
    assert.deepEqual(copied?.sans, ['alice@example.com', 'https://idp.example#1']);
    assert.equal(copied?.pem, certificate('1002').pem);
    const now = new Date();
    assert.equal(await store.useToken('nonce-1', new Date(now.getTime() + HOUR), now), false, 'a token used on the old store is still used');
    assert.equal(await store.useToken('nonce-expired', new Date(now.getTime() + HOUR), now), true, 'an expired one was left behind');
    assert.equal((await store.getRevocation('1003'))?.reason, 'key compromise');
    assert.equal((await store.renewCertificate('1003', certificate('2003'))).ok, false, 'a revoked certificate is still not renewed');
    assert.equal(await store.nextCrlNumber(), 5n, 'CRL numbers go on from where they were');

    const again = await runCli(args, { env: { ...ca.env, PGPASSWORD: CA_DB_PASSWORD } });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /✔ Certificates: 0 copied, 3 already there\n/);
    assert.match(again.stderr, /✔ Revocations: 0 copied, 1 already there\n/);
    assert.match(again.stderr, /✔ CRL number: kept \(already 4 or higher\)\n/);
  });

  test("ca.json's own PostgreSQL db is the default target; --from takes a directory", async (t) => {
    const ca = await embeddedCa();
    t.after(ca.cleanup);
    const database = await pgt.createDatabase();
    await writeFile(ca.path('ca.json'), JSON.stringify({ db: { type: 'postgresql', dataSource: pgt.url(), database } }));
    const res = await runCli(['db', 'migrate', '--from', ca.path('ca/db'), '--ca-config', ca.path('ca.json')], { env: ca.env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /✔ Certificates: 3 copied/);
    assert.doesNotMatch(res.stderr, /Next:/, 'ca.json already points at PostgreSQL');
  });

  test('mistakes: clear errors, non-zero exits, never the password', async (t) => {
    const ca = await embeddedCa();
    t.after(ca.cleanup);
    const cases: { args: string[]; code: number; error: RegExp }[] = [
      { args: ['--to', 'mysql://x'], code: 2, error: /^ca: invalid value for flag '--to': expected a postgresql:\/\/ URL$/m },
      { args: [], code: 2, error: /^ca: missing the '--to' flag/m },
      { args: ['--from', ca.path('nowhere'), '--to', pgt.url(), '--database', 'ca_x'], code: 1, error: /^ca: cannot open the SQLite store .*nowhere/m },
      { args: ['--to', pgt.url({ password: 'wrong-pw-3f9a' }), '--database', 'ca_y'], code: 1, error: new RegExp(`^ca: cannot connect to the PostgreSQL database "ca_y" at 127\\.0\\.0\\.1:${pgt.port} \\(user "ca"\\): password authentication failed`, 'm') },
    ];
    for (const c of cases) {
      const res = await runCli(['db', 'migrate', ...c.args], { env: ca.env });
      assert.equal(res.code, c.code, `${c.args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, c.error);
      assert.match(res.stderr, /^ {2}try: /m);
      assert.doesNotMatch(res.stderr, /wrong-pw-3f9a|internal error/);
    }
  });
});
