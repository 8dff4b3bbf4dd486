import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { CaError } from '../../src/errors.js';
import { openMemoryStore, openSqliteStore, openStore, SQLITE_FILE, type IssuedCertificate, type Store } from '../../src/store/index.js';
import type { Revocation } from '../../src/store/types.js';
import { testdir } from '../helpers/testdir.js';

const HOUR = 3_600_000;
const t0 = new Date('2026-03-01T12:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

function certificate(serial: string): IssuedCertificate {
  return {
    serial,
    subject: 'CN=user-alice',
    sans: ['alice@example.com', 'https://idp.example#user-alice'],
    provisioner: 'Google',
    notBefore: at(-60_000),
    notAfter: at(24 * HOUR),
    pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  };
}

function usedTokenRows(dir: string): { id: string; expires_at: number }[] {
  const db = new Database(join(dir, SQLITE_FILE), { readonly: true });
  try {
    return db.prepare('SELECT id, expires_at FROM used_tokens ORDER BY id').all() as { id: string; expires_at: number }[];
  } finally {
    db.close();
  }
}

/** The same rules hold for both stores. */
function storeRules(name: string, open: (dir: string) => Store) {
  describe(`${name} store`, () => {
    test('records certificates and reads them back', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = open(d.dir);
      t.after(() => store.close());
      await store.recordCertificate(certificate('123456789012345678901234567890'));
      assert.deepEqual(await store.getCertificate('123456789012345678901234567890'), certificate('123456789012345678901234567890'));
      assert.equal(await store.getCertificate('42'), undefined);
      await assert.rejects(store.recordCertificate(certificate('123456789012345678901234567890')), 'a serial is recorded once');
    });

    test('a token is used once until it expires, then may be used again', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = open(d.dir);
      t.after(() => store.close());
      assert.equal(await store.useToken('nonce-1', at(HOUR), t0), true);
      assert.equal(await store.useToken('nonce-1', at(HOUR), at(1000)), false, 'replay');
      assert.equal(await store.useToken('nonce-2', at(HOUR), at(1000)), true, 'another token');
      assert.equal(await store.useToken('nonce-1', at(2 * HOUR), at(HOUR - 1)), false, 'still live a moment before expiry');
      assert.equal(await store.useToken('nonce-1', at(2 * HOUR), at(HOUR)), true, 'expired rows do not block');
    });

    test('concurrent uses of one token: exactly one wins', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = open(d.dir);
      t.after(() => store.close());
      const results = await Promise.all(Array.from({ length: 20 }, () => store.useToken('same', at(HOUR), t0)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    test('issueCertificate: token and record together, or neither', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = open(d.dir);
      t.after(() => store.close());
      assert.equal(await store.issueCertificate({ id: 'nonce-a', expiresAt: at(HOUR) }, certificate('1001'), t0), true);
      assert.deepEqual(await store.getCertificate('1001'), certificate('1001'));
      assert.equal(await store.issueCertificate({ id: 'nonce-a', expiresAt: at(HOUR) }, certificate('1002'), at(1000)), false, 'replay');
      assert.equal(await store.getCertificate('1002'), undefined, 'a replay records nothing');
      // A record that cannot be written (the serial exists) leaves the token unused.
      await assert.rejects(store.issueCertificate({ id: 'nonce-b', expiresAt: at(HOUR) }, certificate('1001'), at(1000)));
      assert.equal(await store.useToken('nonce-b', at(HOUR), at(2000)), true);
      const racing = await Promise.all(Array.from({ length: 10 }, (_, i) => store.issueCertificate({ id: 'nonce-c', expiresAt: at(HOUR) }, certificate(`20${i}`), t0)));
      assert.equal(racing.filter(Boolean).length, 1, 'concurrent issues of one token: exactly one wins');
    });

    test('revocations: known serials once, with the token that paid for them; a revoked certificate cannot be renewed', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = open(d.dir);
      t.after(() => store.close());
      await store.recordCertificate(certificate('3001'));
      await store.recordCertificate(certificate('3002'));
      const revocation = (serial: string): Revocation => ({
        serial,
        reasonCode: 1,
        reason: 'lost',
        revokedAt: at(1000),
        notAfter: at(24 * HOUR),
        provisioner: 'Google',
        revokedBy: 'test',
      });
      const token = { id: 'revoke-1', expiresAt: at(HOUR) };
      assert.equal(await store.revocationsVersion(), 0);
      assert.deepEqual(await store.revokeCertificate(revocation('9999'), { token, requireKnown: true, now: t0 }), { result: 'unknown-serial' });
      assert.equal(await store.useToken('probe-unused', at(HOUR), t0), true);
      assert.deepEqual(await store.revokeCertificate(revocation('3001'), { token, requireKnown: true, now: t0 }), { result: 'revoked' }, 'the refused attempt left the token usable');
      assert.deepEqual(await store.revokeCertificate(revocation('3002'), { token, requireKnown: true, now: t0 }), { result: 'token-used' });
      assert.equal(await store.getRevocation('3002'), undefined, 'a used token revokes nothing');
      const again = await store.revokeCertificate(revocation('3001'), { requireKnown: true, now: t0 });
      assert.equal(again.result, 'already-revoked');
      assert.deepEqual(await store.getRevocation('3001'), revocation('3001'));
      assert.deepEqual(await store.revokeCertificate(revocation('4242'), { requireKnown: false, now: t0 }), { result: 'revoked' }, 'mTLS: the certificate proves itself');
      assert.ok((await store.revocationsVersion()) >= 2);

      assert.deepEqual((await store.listRevocations(t0)).map((r) => r.serial), ['3001', '4242']);
      assert.deepEqual(await store.listRevocations(at(25 * HOUR)), [], 'expired certificates leave the list');

      const renewed = await store.renewCertificate('3001', certificate('3003'));
      assert.equal(renewed.ok, false);
      assert.equal(await store.getCertificate('3003'), undefined);
      assert.deepEqual(await store.renewCertificate('3002', certificate('3004')), { ok: true });
      assert.deepEqual(await store.getCertificate('3004'), certificate('3004'));

      const racing = await Promise.all(Array.from({ length: 10 }, () => store.revokeCertificate(revocation('3002'), { requireKnown: true, now: t0 })));
      assert.equal(racing.filter((r) => r.result === 'revoked').length, 1, 'concurrent revocations of one serial: exactly one wins');

      const numbers = await Promise.all([store.nextCrlNumber(), store.nextCrlNumber(), store.nextCrlNumber()]);
      assert.deepEqual(new Set(numbers).size, 3, 'CRL numbers never repeat');
      assert.ok((await store.nextCrlNumber()) > numbers.reduce((a, b) => (a > b ? a : b)));
    });
  });
}

storeRules('SQLite', (dir) => openSqliteStore(dir));
storeRules('memory', () => openMemoryStore());

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
    assert.equal(db.pragma('user_version', { simple: true }), 2);
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

  test('a shared database type (postgresql, mysql) is refused, not turned into a local file', async (t) => {
    const d = await testdir();
    t.after(d.cleanup);
    for (const type of ['postgresql', 'mysql', 42]) {
      await assert.rejects(openStore({ db: { type, dataSource: 'postgresql://u:secret@db.internal/ca' } }, d.dir), (err: CaError) => {
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
