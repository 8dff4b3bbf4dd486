/**
 * The PostgreSQL store against a real, throwaway PostgreSQL (test/fixtures/postgres.ts): the
 * rules every store follows, what only a shared database has to get right (stores racing on one
 * token, replicas migrating at once, the change feed across connections), and its faults (the
 * database stopped and started, a wrong password, a port where nothing listens).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CaError } from '../../src/errors.js';
import { openStore, type Store } from '../../src/store/index.js';
import { postgresSettings } from '../../src/store/postgres-config.js';
import { join } from 'node:path';
import { copySqliteToPostgres } from '../../src/store/copy.js';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres.js';
import { openSqliteStore, SQLITE_FILE } from '../../src/store/sqlite.js';
import { testdir } from '../helpers/testdir.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-schema.js';
import { CA_DB_PASSWORD, startPostgres, type TestPostgres } from '../fixtures/postgres.js';
import { admin, adminStoreRules, provisioner } from './admin-rules.js';
import { at, certificate, changeFeedRules, HOUR, recordChanges, storeRules, t0, until } from './rules.js';

let pgt: TestPostgres;
/** One database per test directory: the rules open a dir twice to mean "the same database". */
const databases = new Map<string, string>();

before(async () => {
  pgt = await startPostgres();
});
after(async () => {
  await pgt?.close();
});

async function databaseFor(key: string): Promise<string> {
  let name = databases.get(key);
  if (!name) databases.set(key, (name = await pgt.createDatabase()));
  return name;
}

function open(database: string, options: PostgresStoreOptions = {}): Promise<Store> {
  return openPostgresStore({ dataSource: pgt.url(), database }, { env: {}, changePollMs: 200, ...options });
}

storeRules('PostgreSQL', async (dir) => open(await databaseFor(dir)));
changeFeedRules('PostgreSQL', async (dir) => open(await databaseFor(dir)), { shared: true });
adminStoreRules('PostgreSQL', async (dir) => open(await databaseFor(dir)), { shared: true });

describe('PostgreSQL store, shared by several processes', () => {
  test('three pools racing on the same tokens: each token is used exactly once', async (t) => {
    const database = await pgt.createDatabase();
    const stores = await Promise.all([open(database), open(database), open(database)]);
    t.after(() => Promise.all(stores.map((s) => s.close())));
    for (let round = 0; round < 20; round++) {
      const results = await Promise.all(
        stores.map((s, i) => s.issueCertificate({ id: `race-${round}`, expiresAt: at(HOUR) }, certificate(`${round}${i}000`), t0)),
      );
      assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(results)}`);
    }
    const [counts] = await pgt.query<{ certs: string; tokens: string }>(
      'SELECT (SELECT count(*) FROM certificates) AS certs, (SELECT count(*) FROM used_tokens) AS tokens',
      [],
      database,
    );
    assert.equal(Number(counts?.certs), 20, 'one certificate per token');
    assert.equal(Number(counts?.tokens), 20);
  });

  test('three pools revoking one certificate at once: one revocation, and the losers\' tokens stay unused', async (t) => {
    const database = await pgt.createDatabase();
    const stores = await Promise.all([open(database), open(database), open(database)]);
    t.after(() => Promise.all(stores.map((s) => s.close())));
    for (let round = 0; round < 10; round++) {
      const serial = `${round}777`;
      await stores[0]?.recordCertificate(certificate(serial));
      const revocation = { serial, reasonCode: 1, reason: 'key compromise', revokedAt: t0, notAfter: at(HOUR), provisioner: 'Google', revokedBy: 'test' };
      const results = await Promise.all(stores.map((s, i) => s.revokeCertificate(revocation, { token: { id: `revoke-${round}-${i}`, expiresAt: at(HOUR) }, requireKnown: true, now: t0 })));
      assert.deepEqual(results.map((r) => r.result).sort(), ['already-revoked', 'already-revoked', 'revoked'], `round ${round}`);
      const losers = results.flatMap((r, i) => (r.result === 'revoked' ? [] : [i]));
      for (const i of losers) assert.equal(await stores[0]?.useToken(`revoke-${round}-${i}`, at(HOUR), t0), true, 'a refused revocation leaves its token usable');
    }
    assert.equal(await stores[1]?.revocationsVersion(), 10, 'one count per revocation');
    const numbers = await Promise.all(stores.flatMap((s) => [s.nextCrlNumber(), s.nextCrlNumber()]));
    assert.equal(new Set(numbers.map(String)).size, 6, 'CRL numbers never repeat across replicas');
  });

  test('replicas starting at once on an empty database migrate it once', async (t) => {
    const database = await pgt.createDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => open(database)));
    t.after(() => Promise.all(stores.map((s) => s.close())));
    const rows = await pgt.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version', [], database);
    assert.deepEqual(
      rows.map((r) => r.version),
      POSTGRES_MIGRATIONS.map((m) => m.version),
    );
  });

  test('a database migrated by a newer ca is refused', async (t) => {
    const database = await pgt.createDatabase();
    await (await open(database)).close();
    await pgt.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [POSTGRES_MIGRATIONS.length + 1, 'from the future'], database);
    await assert.rejects(open(database), (err: CaError) => {
      assert.equal(err.code, 'ERR_DATABASE');
      assert.match(err.message, /cannot prepare the tables of the PostgreSQL database ".*" at 127\.0\.0\.1:\d+ \(user "ca"\): it was written by a newer version of ca/);
      return true;
    });
    t.diagnostic('refused as expected');
  });

  test('a missing database is created, as step-ca does', async (t) => {
    const database = `ca_created_${process.pid}`;
    const store = await open(database);
    t.after(() => store.close());
    assert.equal(await store.useToken('n', at(HOUR), t0), true);
    const rows = await pgt.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    assert.equal(rows.length, 1);
  });

  test('expired used-token rows are swept, at most once a minute', async (t) => {
    const database = await pgt.createDatabase();
    const store = await open(database);
    t.after(() => store.close());
    const ids = async (): Promise<string[]> => (await pgt.query<{ id: string }>('SELECT id FROM used_tokens ORDER BY id', [], database)).map((r) => r.id);
    await store.useToken('short', at(10_000), t0);
    await store.useToken('long', at(HOUR), t0);
    await store.useToken('other', at(HOUR), at(30_000));
    assert.deepEqual(await ids(), ['long', 'other', 'short'], 'no sweep within the minute');
    await store.useToken('later', at(2 * HOUR), at(61_000));
    assert.deepEqual(await ids(), ['later', 'long', 'other'], 'the expired row is gone');
  });

  test('the change feed has a safety net: a change whose NOTIFY never came is found by the poll', async (t) => {
    const database = await pgt.createDatabase();
    const store = await open(database);
    t.after(() => store.close());
    const { changes } = await recordChanges(store, 'revocations');
    // What a replica's notify leaves in the table, without the notification.
    await pgt.query("INSERT INTO store_changes (topic, version, detail, changed_at) VALUES ('revocations', 1, 'quiet', now())", [], database);
    await until(() => changes.length > 0, 'the poll to find the change');
    assert.deepEqual(changes, [{ topic: 'revocations', version: 1, detail: 'quiet' }]);
  });
});

/** Whether the store's database answers within about 5 s of pings (no restart of the store). */
async function answersAgain(store: Store): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (await store.ping().then(() => true, () => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe('copying an SQLite store into PostgreSQL (ca db migrate)', () => {
  test('provisioners, admins and the audit log come along, once', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const sqlite = openSqliteStore(d.dir);
    const p = provisioner('moved');
    await sqlite.addProvisioner(p, { at: t0, actor: 'ca init', action: 'provisioner.add', target: 'moved', detail: '' });
    await sqlite.addAdmin(admin('step', p), { at: t0, actor: 'ca init', action: 'admin.add', target: 'step', detail: '' });
    await sqlite.close();
    const target = (await open(await pgt.createDatabase())) as PostgresStore;
    t.after(() => target.close());
    const first = await copySqliteToPostgres(join(d.dir, SQLITE_FILE), target, t0);
    assert.deepEqual(first.filter((c) => ['provisioners', 'admins', 'audit log entries'].includes(c.what)).map((c) => [c.what, c.copied]), [['provisioners', 1], ['admins', 1], ['audit log entries', 2]]);
    assert.deepEqual(await target.listProvisioners(), [p]);
    assert.deepEqual((await target.listAdmins()).map((a) => [a.subject, a.provisionerId]), [['step', p.id]]);
    const again = await copySqliteToPostgres(join(d.dir, SQLITE_FILE), target, t0);
    assert.deepEqual(again.filter((c) => ['provisioners', 'admins', 'audit log entries'].includes(c.what)).map((c) => c.copied), [0, 0, 0]);
    assert.equal((await target.listAudit()).length, 2);
  });
});

describe('PostgreSQL store, faults', () => {
  test('the database stopped: calls fail fast with 503; started again: the pool and the watch come back by themselves', async (t) => {
    const database = await pgt.createDatabase();
    const events: Record<string, unknown>[] = [];
    const store = await open(database, { log: (e) => events.push(e) });
    const other = await open(database);
    t.after(async () => {
      await store.close();
      await other.close();
    });
    const { changes } = await recordChanges(store, 'provisioners');
    assert.equal(await store.issueCertificate({ id: 'before', expiresAt: at(HOUR) }, certificate('500'), t0), true);

    await pgt.stop();
    try {
      for (const call of [() => store.ping(), () => store.issueCertificate({ id: 'during', expiresAt: at(HOUR) }, certificate('501'), t0), () => store.getCertificate('500')]) {
        await assert.rejects(call(), (err: CaError) => {
          assert.equal(err.code, 'ERR_DATABASE');
          assert.equal(err.status, 503);
          assert.match(err.message, /the PostgreSQL database ".*" at 127\.0\.0\.1:\d+ \(user "ca"\) is unavailable/);
          assert.doesNotMatch(err.message, new RegExp(CA_DB_PASSWORD));
          return true;
        });
      }
    } finally {
      await pgt.start();
    }
    assert.ok(events.some((e) => /the database is unavailable/.test(String(e.msg))), 'the log says the database is gone');

    // No restart of the store: the pool opens new connections once the database is back.
    assert.ok(await answersAgain(store), 'the database answers again');
    assert.equal(await store.issueCertificate({ id: 'after', expiresAt: at(HOUR) }, certificate('502'), t0), true);
    assert.equal(await store.issueCertificate({ id: 'before', expiresAt: at(HOUR) }, certificate('503'), t0), false, 'a token used before the restart is still used');
    assert.ok(events.some((e) => /available again/.test(String(e.msg))));

    // The LISTEN connection was cut too; a change made now still reaches the watcher.
    await other.notify('provisioners', 'after the restart');
    await until(() => changes.some((c) => c.detail === 'after the restart'), 'the change after the restart');
  });

  test('the database frozen (there but never answering, as an unreachable host looks): calls give up within seconds with 503, then recover', async (t) => {
    const database = await pgt.createDatabase();
    const store = await open(database);
    t.after(() => store.close());
    assert.equal(await store.useToken('warm', at(HOUR), t0), true, 'a connection is in the pool');
    pgt.freeze(true);
    let outcomes: PromiseSettledResult<unknown>[];
    try {
      // One call gets the pooled connection (its query never answers), the others need new ones
      // (their connects never answer). A guard turns a hang into a failure rather than a stuck test.
      const calls = Promise.allSettled([
        store.issueCertificate({ id: 'frozen', expiresAt: at(HOUR) }, certificate('600'), t0),
        store.ping(),
        store.useToken('frozen-2', at(HOUR), t0),
      ]);
      let guard: NodeJS.Timeout | undefined;
      const hung = new Promise<never>((_, reject) => (guard = setTimeout(() => reject(new Error('a call hung for 20 s')), 20_000)));
      outcomes = await Promise.race([calls, hung]).finally(() => clearTimeout(guard));
    } finally {
      pgt.freeze(false);
    }
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      const err = (o as PromiseRejectedResult).reason as CaError;
      assert.equal(err.status, 503, err.message);
      assert.match(err.message, /is unavailable: .*(timeout|Timeout)/);
    }
    assert.ok(await answersAgain(store), 'the database answers again');
    assert.equal(await store.issueCertificate({ id: 'thawed', expiresAt: at(HOUR) }, certificate('601'), t0), true);
  });

  test('a wrong password: one line naming host, port and database, never the password', async () => {
    const wrong = 'not-the-password-7d1f';
    await assert.rejects(openPostgresStore({ dataSource: pgt.url({ password: wrong }), database: 'ca' }, { env: {} }), (err: CaError) => {
      assert.equal(err.code, 'ERR_DATABASE');
      assert.match(err.message, /^cannot connect to the PostgreSQL database "ca" at 127\.0\.0\.1:\d+ \(user "ca"\): password authentication failed for user "ca"$/);
      assert.doesNotMatch(`${err.message} ${err.hint}`, new RegExp(wrong));
      assert.match(err.hint ?? '', /password/);
      return true;
    });
  });

  test('nothing listening at the port: a clear error, at once', async () => {
    await assert.rejects(openPostgresStore({ dataSource: 'postgresql://ca:secret-pw@127.0.0.1:1/', database: 'ca' }, { env: {} }), (err: CaError) => {
      assert.equal(err.code, 'ERR_DATABASE');
      assert.match(err.message, /^cannot connect to the PostgreSQL database "ca" at 127\.0\.0\.1:1 \(user "ca"\): .*ECONNREFUSED/);
      assert.doesNotMatch(err.message, /secret-pw/);
      assert.match(err.hint ?? '', /accepts connections at 127\.0\.0\.1:1/);
      return true;
    });
  });

  test('the password may come from PGPASSWORD instead of the URL', async (t) => {
    const database = await pgt.createDatabase();
    const store = await openStore({ db: { type: 'PostgreSQL', dataSource: pgt.url({ password: null }), database } }, '/nonexistent', { env: { PGPASSWORD: CA_DB_PASSWORD } });
    t.after(() => store.close());
    await store.ping();
  });
});

describe('PostgreSQL settings from ca.json', () => {
  test("step-ca's shape: database wins over the URL's; libpq's variables fill the gaps", () => {
    const s = postgresSettings({ dataSource: 'postgresql://ca:p%40ss@db.internal:6543/fromurl?sslmode=disable', database: 'ca' }, {});
    assert.equal(s.target, 'PostgreSQL database "ca" at db.internal:6543 (user "ca")');
    assert.equal(s.client.password, 'p@ss');
    assert.equal(s.client.database, 'ca');
    assert.equal(s.client.ssl, false);
    const fromEnv = postgresSettings({ dataSource: 'postgresql://' }, { PGHOST: 'pg.internal', PGPORT: '5433', PGUSER: 'svc', PGDATABASE: 'certs', PGPASSWORD: 'envpw' });
    assert.equal(fromEnv.target, 'PostgreSQL database "certs" at pg.internal:5433 (user "svc")');
    assert.equal(fromEnv.client.password, 'envpw');
    const url = postgresSettings({ dataSource: 'postgresql://u@h/urldb' }, {});
    assert.equal(url.target, 'PostgreSQL database "urldb" at h:5432 (user "u")');
  });

  test("sslmode means what it means to libpq: require encrypts without checking the server", () => {
    const s = postgresSettings({ dataSource: 'postgresql://u:p@h:5432/?sslmode=require', database: 'ca' }, {});
    assert.deepEqual({ ...(s.client.ssl as object) }, { rejectUnauthorized: false });
  });

  test('mistakes are clear and never echo the URL or the password', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /dataSource is missing/],
      [{ dataSource: 'host=db user=ca password=hunter2' }, /is not a postgresql:\/\/ URL/],
      [{ dataSource: 'postgresql://u:hunter2@h:notaport/', database: 'ca' }, /is not a valid PostgreSQL URL/],
      [{ dataSource: 'postgresql://u:hunter2@h:5432/' }, /names no database/],
      [{ dataSource: 'postgresql://u:hunter2@h:5432/', database: 7 }, /database must be a string/],
    ];
    for (const [db, pattern] of cases) {
      assert.throws(() => postgresSettings(db, {}), (err: CaError) => {
        assert.equal(err.code, 'ERR_CONFIG_INVALID');
        assert.match(err.message, pattern);
        assert.doesNotMatch(`${err.message} ${err.hint}`, /hunter2/);
        return true;
      });
    }
  });
});
