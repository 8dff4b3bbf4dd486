import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { CaError } from '../../src/errors.js';
import { openMemoryStore, openSqliteStore, openStore, SQLITE_FILE } from '../../src/store/index.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite.js';
import { testdir } from '../helpers/testdir.js';
import { adminStoreRules } from './admin-rules.js';
import { at, certificate, changeFeedRules, HOUR, storeRules, t0 } from './rules.js';

function usedTokenRows(dir: string): { id: string; expires_at: number }[] {
  const db = new Database(join(dir, SQLITE_FILE), { readonly: true });
  try {
    return db.prepare('SELECT id, expires_at FROM used_tokens ORDER BY id').all() as { id: string; expires_at: number }[];
  } finally {
    db.close();
  }
}

storeRules('SQLite', (dir) => openSqliteStore(dir));
storeRules('memory', () => openMemoryStore());
changeFeedRules('SQLite', (dir) => openSqliteStore(dir), { shared: true });
changeFeedRules('memory', () => openMemoryStore(), { shared: false });
adminStoreRules('SQLite', (dir) => openSqliteStore(dir), { shared: true });
adminStoreRules('memory', () => openMemoryStore(), { shared: false });

describe('SQLite store on disk', () => {
  test('creates <dir>/ca.sqlite in WAL mode, the directory 0700', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const dir = d.path('db/nested');
    const store = openSqliteStore(dir);
    await store.close();
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const db = new Database(join(dir, SQLITE_FILE), { readonly: true });
    t.after(() => db.close());
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
  });

  test('used tokens and certificates survive closing and reopening', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const first = openSqliteStore(d.dir);
    assert.equal(await first.useToken('nonce-1', at(HOUR), t0), true);
    await first.recordCertificate(certificate('77'));
    await first.close();

    const second = openSqliteStore(d.dir);
    t.after(() => second.close());
    assert.equal(await second.useToken('nonce-1', at(HOUR), at(1000)), false, 'the replay is still caught');
    assert.equal((await second.getCertificate('77'))?.subject, 'CN=user-alice');
  });

  test('expired used-token rows are swept, at most once a minute', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const store = openSqliteStore(d.dir);
    t.after(() => store.close());
    await store.useToken('short', at(10_000), t0);
    await store.useToken('long', at(HOUR), t0);
    await store.useToken('other', at(HOUR), at(30_000));
    assert.deepEqual(usedTokenRows(d.dir).map((r) => r.id), ['long', 'other', 'short'], 'no sweep within the minute');
    await store.useToken('later', at(2 * HOUR), at(61_000));
    assert.deepEqual(usedTokenRows(d.dir).map((r) => r.id), ['later', 'long', 'other'], 'the expired row is gone');
    assert.equal(usedTokenRows(d.dir).find((r) => r.id === 'long')?.expires_at, at(HOUR).getTime());
  });

  test('two connections (as two server processes have) share the replay record', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const a = openSqliteStore(d.dir);
    const b = openSqliteStore(d.dir);
    t.after(async () => {
      await a.close();
      await b.close();
    });
    const ids = Array.from({ length: 50 }, (_, i) => `token-${i}`);
    const results = await Promise.all(ids.flatMap((id) => [a.useToken(id, at(HOUR), t0), b.useToken(id, at(HOUR), t0)]));
    for (let i = 0; i < ids.length; i++) assert.equal(Number(results[2 * i]) + Number(results[2 * i + 1]), 1, ids[i]);
  });

  test('separate processes racing on the same tokens: each token wins exactly once', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    await openSqliteStore(d.dir).close();
    const race = fileURLToPath(new URL('./race-worker.ts', import.meta.url));
    const runWorker = () =>
      new Promise<string[]>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', race, d.dir, '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(err))));
      });
    const [first, second, third] = await Promise.all([runWorker(), runWorker(), runWorker()]);
    const wins = [...first!, ...second!, ...third!];
    assert.equal(wins.length, 300, 'every token won once in total');
    assert.equal(new Set(wins).size, 300, 'no token won twice');
  });

  test('a file from the first schema is migrated, keeping its rows; one from a newer ca is refused', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const old = new Database(d.path('ca.sqlite'));
    old.exec(SQLITE_MIGRATIONS[0]!.sql);
    old.pragma('user_version = 1');
    old.prepare('INSERT INTO used_tokens (id, expires_at) VALUES (?, ?)').run('old-nonce', at(HOUR).getTime());
    old.close();
    const store = openSqliteStore(d.dir);
    assert.equal(await store.useToken('old-nonce', at(HOUR), t0), false, 'the old row still counts');
    await store.notify('revocations');
    await store.close();
    const newer = new Database(d.path('ca.sqlite'));
    newer.pragma(`user_version = ${SQLITE_MIGRATIONS.length + 1}`);
    newer.close();
    assert.throws(() => openSqliteStore(d.dir), /written by a newer version of ca/);
  });

  test('a file that is not a database is a clear error', async (t) => {
    const d = await testdir({ 'db/ca.sqlite': 'this is not sqlite, just text long enough to have a header...........................................' });
    t.after(d.cleanup);
    assert.throws(() => openSqliteStore(d.path('db')), (err: unknown) => {
      assert.ok(err instanceof CaError);
      assert.equal(err.code, 'ERR_FILE_IO');
      assert.match(err.message, /cannot open the database .*ca\.sqlite/);
      return true;
    });
  });

  test('writes after close are refused', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const store = openSqliteStore(d.dir);
    await store.close();
    await assert.rejects(store.useToken('x', at(HOUR), t0), /the store is closed/);
  });
});

describe('openStore', () => {
  test('SQLite in db.dataSource (relative to $CA_PATH) for step-ca\'s embedded types', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const store = await openStore({ db: { type: 'badgerv2', dataSource: 'data', badgerFileLoadingMode: '' } }, d.dir);
    await store.useToken('n', at(HOUR), t0);
    await store.close();
    assert.equal(usedTokenRows(d.path('data')).length, 1);
  });

  test('SQLite in $CA_PATH/db when dataSource is empty', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const store = await openStore({ db: { type: 'sqlite' } }, d.dir);
    await store.useToken('n', at(HOUR), t0);
    await store.close();
    assert.equal(usedTokenRows(d.path('db')).length, 1);
  });

  test('a shared database type we do not speak (mysql) is refused, not turned into a local file', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    for (const type of ['mysql', 42]) {
      await assert.rejects(openStore({ db: { type, dataSource: 'mysql://u:secret@db.internal/ca' } }, d.dir), (err: CaError) => {
        assert.equal(err.code, 'ERR_CONFIG_INVALID');
        assert.match(err.message, /db\.type .* is not supported/);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      });
    }
    assert.deepEqual(await readdir(d.dir), []);
  });

  test('in memory without a db, with the same replay rule', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    const store = await openStore({}, d.dir);
    assert.equal(await store.useToken('n', at(HOUR), t0), true);
    assert.equal(await store.useToken('n', at(HOUR), t0), false);
    await store.close();
  });
});
