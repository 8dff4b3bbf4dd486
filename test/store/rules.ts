/**
 * What every Store must do, as tests each implementation runs (sqlite.test.ts, postgres.test.ts):
 * certificates, single-use tokens, issuing both at once, and the change feed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IssuedCertificate, Revocation, Store, StoreChange } from '../../src/store/types.js';
import { testdir } from '../helpers/testdir.js';

export const HOUR = 3_600_000;
export const t0 = new Date('2026-03-01T12:00:00Z');
export const at = (ms: number) => new Date(t0.getTime() + ms);

export function certificate(serial: string): IssuedCertificate {
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

/** The same rules hold for every store; `open(dir)` twice with one dir opens the same database. */
export function storeRules(name: string, open: (dir: string) => Store | Promise<Store>): void {
  describe(`${name} store`, () => {
    test('records certificates and reads them back', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = await open(d.dir);
      t.after(() => store.close());
      await store.recordCertificate(certificate('123456789012345678901234567890'));
      assert.deepEqual(await store.getCertificate('123456789012345678901234567890'), certificate('123456789012345678901234567890'));
      assert.equal(await store.getCertificate('42'), undefined);
      await assert.rejects(store.recordCertificate(certificate('123456789012345678901234567890')), 'a serial is recorded once');
    });

    test('a token is used once until it expires, then may be used again', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = await open(d.dir);
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
      const store = await open(d.dir);
      t.after(() => store.close());
      const results = await Promise.all(Array.from({ length: 20 }, () => store.useToken('same', at(HOUR), t0)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    test('issueCertificate: token and record together, or neither', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = await open(d.dir);
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
      const store = await open(d.dir);
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


/** Wait until `done()` holds, checking every 20 ms; fails after `timeoutMs` (a bound, not a speed check). */
export async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every change a watch reports, in order. */
export async function recordChanges(store: Store, topic: string): Promise<{ changes: StoreChange[]; stop: () => void }> {
  const changes: StoreChange[] = [];
  const stop = await store.watch(topic, (c) => changes.push(c));
  return { changes, stop };
}

/**
 * The change feed (`watch`/`notify`). `shared`: two stores opened on one dir share a database, so
 * each hears the other's changes (SQLite across processes, PostgreSQL across replicas).
 */
export function changeFeedRules(name: string, open: (dir: string) => Store | Promise<Store>, opts: { shared: boolean }): void {
  describe(`${name} store: change feed`, () => {
    test('watch hears notify, per topic, with a growing count; stopping ends it', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = await open(d.dir);
      t.after(() => store.close());
      const revocations = await recordChanges(store, 'revocations');
      const provisioners = await recordChanges(store, 'provisioners');
      await store.notify('revocations', 'serial 1001');
      await until(() => revocations.changes.length === 1, 'the first change');
      assert.deepEqual(revocations.changes[0], { topic: 'revocations', version: 1, detail: 'serial 1001' });
      await store.notify('revocations', 'serial 1002');
      await until(() => revocations.changes.length === 2, 'the second change');
      assert.equal(revocations.changes[1]?.version, 2);
      revocations.stop();
      await store.notify('revocations', 'serial 1003');
      await store.notify('provisioners', 'Google');
      await until(() => provisioners.changes.length === 1, 'the provisioners change');
      assert.equal(revocations.changes.length, 2, 'nothing after stop()');
      assert.deepEqual(provisioners.changes[0], { topic: 'provisioners', version: 1, detail: 'Google' });
    });

    test('a watcher hears only what changes after it began', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = await open(d.dir);
      t.after(() => store.close());
      await store.notify('revocations', 'before 1');
      await store.notify('revocations', 'before 2');
      const { changes } = await recordChanges(store, 'revocations');
      await store.notify('revocations', 'after');
      await until(() => changes.length > 0, 'the change');
      assert.deepEqual(changes, [{ topic: 'revocations', version: 3, detail: 'after' }]);
    });

    test("a recorded revocation announces itself on 'revocations'", async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = await open(d.dir);
      t.after(() => store.close());
      const { changes } = await recordChanges(store, 'revocations');
      const revocation: Revocation = { serial: '7001', reasonCode: 0, reason: '', revokedAt: t0, notAfter: at(HOUR), provisioner: 'Google', revokedBy: 'test' };
      assert.deepEqual(await store.revokeCertificate(revocation, { requireKnown: false, now: t0 }), { result: 'revoked' });
      await until(() => changes.length > 0, 'the revocation to be announced');
      assert.equal(changes[0]?.detail, '7001');
      assert.equal((await store.revokeCertificate(revocation, { requireKnown: false, now: t0 })).result, 'already-revoked');
      await store.notify('revocations', 'marker');
      await until(() => changes.some((c) => c.detail === 'marker'), 'the marker');
      assert.deepEqual(
        changes.map((c) => c.detail),
        ['7001', 'marker'],
        'a refused revocation announces nothing',
      );
    });

    test('topics are checked', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = await open(d.dir);
      t.after(() => store.close());
      await assert.rejects(store.watch('Bad Topic', () => undefined), TypeError);
      await assert.rejects(store.notify(''), TypeError);
    });

    if (opts.shared) {
      test('another store on the same database hears the change, and of a revocation', async (t) => {
        const d = await testdir();
        t.after(d.cleanup);
        const writer = await open(d.dir);
        const reader = await open(d.dir);
        t.after(async () => {
          await writer.close();
          await reader.close();
        });
        const { changes } = await recordChanges(reader, 'provisioners');
        await writer.notify('provisioners', 'Okta');
        await until(() => changes.length > 0, 'the other store to hear it');
        assert.deepEqual(changes, [{ topic: 'provisioners', version: 1, detail: 'Okta' }]);
        // A revocation made through one is heard by the other, and counted by both.
        const revocations = await recordChanges(reader, 'revocations');
        const revocation: Revocation = { serial: '8001', reasonCode: 0, reason: '', revokedAt: t0, notAfter: at(HOUR), provisioner: 'Google', revokedBy: 'test' };
        assert.equal((await writer.revokeCertificate(revocation, { requireKnown: false, now: t0 })).result, 'revoked');
        await until(() => revocations.changes.length > 0, 'the other store to hear of the revocation');
        assert.equal(revocations.changes[0]?.detail, '8001');
        assert.deepEqual((await reader.listRevocations(t0)).map((r) => r.serial), ['8001']);
      });
    }
  });
}
