// Renew, rekey, revoke and the CRL, decided by the authority over a real SQLite store; openssl reads what we make.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Authority, PeerCertificate } from '../../src/authority/types.js';
import { normalizeSerial } from '../../src/authority/lifecycle.js';
import { CaError, type ErrorCode } from '../../src/errors.js';
import { findExtension } from '../../src/pki/inspect/extensions.js';
import { parseCertificate } from '../../src/pki/inspect/model.js';
import { parsePem, toPem } from '../../src/pki/pem.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';
import {
  build,
  caConfig,
  jwkProvisioner,
  jwkToken,
  makeCsr,
  oidcProvisioner,
  openssl,
  testClock,
  verifyWithOpenssl,
  writeCaFiles,
  type CaFiles,
  type TestClock,
  type TestJwk,
} from './helpers.js';

const HOUR = 3_600_000;
const derOf = (pem: string) => parsePem(pem, 'crt')[0]!.der;
const certificateOf = (pem: string) => parseCertificate(derOf(pem));
const peer = (pem: string): PeerCertificate => ({ der: derOf(pem) });

async function refused(promise: Promise<unknown>, status: number, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CaError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

describe('renew, rekey, revoke and the CRL', () => {
  let idp: TestIdp;
  let dir: string;
  let files: CaFiles;
  let cleanup: () => Promise<void>;
  let admin: TestJwk;
  let short: TestJwk;
  let frozen: TestJwk;
  let clock: TestClock;
  let store: Store;
  let ca: Authority;
  const others: Authority[] = [];

  before(async () => {
    idp = await startIdp({
      users: [
        { sub: 'user-alice', username: 'alice', password: 'alice-password', email: 'alice@example.com', email_verified: true, groups: [] },
        { sub: 'user-carol', username: 'carol', password: 'carol-password', email: 'carol@example.com', email_verified: true, groups: ['ca-admins'] },
      ],
    });
    const d = await testdir();
    dir = d.dir;
    cleanup = d.cleanup;
    files = await writeCaFiles(join(dir, 'ca'));
    admin = await jwkProvisioner('admin');
    clock = testClock();
    store = openSqliteStore(join(dir, 'db'));
    short = await jwkProvisioner('short', { claims: { minTLSCertDuration: '1m', defaultTLSCertDuration: '10m', allowRenewalAfterExpiry: true } });
    frozen = await jwkProvisioner('frozen', { claims: { disableRenewal: true } });
    ca = await build(files, { ...caConfig(files, [oidcProvisioner(idp, { admins: ['ca-admins'] }), admin.json, short.json, frozen.json]), crl: { enabled: true, generateOnRevoke: true } }, { clock, store });
  });
  after(async () => {
    ca.close();
    for (const a of others) a.close();
    await store.close();
    await idp.close();
    await cleanup();
  });

  const issue = async (p: TestJwk = admin, sub = 'svc.internal') => (await ca.sign({ csr: await makeCsr({}), ott: jwkToken(p, { sub }) })).response.crt;

  test('renew: same subject, names, key and extensions; a new serial; the same lifetime from now', async () => {
    const old = await issue();
    clock.advance(HOUR);
    try {
      const renewed = await ca.renew(peer(old));
      const [a, b] = [certificateOf(old), certificateOf(renewed.response.crt)];
      assert.notEqual(a.serial, b.serial);
      assert.equal(renewed.serial, b.serial.toString(10));
      assert.deepEqual(b.subject.der, a.subject.der);
      assert.deepEqual(b.publicKey.der, a.publicKey.der);
      assert.deepEqual(b.extensions.map((e) => e.oid), a.extensions.map((e) => e.oid));
      assert.deepEqual(findExtension(b.extensions, 'subjectAltName'), findExtension(a.extensions, 'subjectAltName'));
      assert.equal(b.notAfter.getTime() - b.notBefore.getTime(), a.notAfter.getTime() - a.notBefore.getTime());
      assert.ok(b.notBefore.getTime() - a.notBefore.getTime() >= HOUR - 2000, 'counted from now');
      assert.deepEqual(renewed.response.certChain, [renewed.response.crt, ...renewed.response.certChain.slice(1)]);
      assert.ok(await store.getCertificate(renewed.serial), 'the renewed certificate is recorded');
    } finally {
      clock.advance(-HOUR);
    }
  });

  test('rekey: the same names for the CSR\'s new key, a new subject key identifier', async () => {
    const old = await issue();
    const csr = await makeCsr({ key: { kty: 'EC', curve: 'P-384' } });
    assert.match(await verifyWithOpenssl(dir, files, (await ca.renew(peer(old))).response.crt), /OK/, 'a renewed certificate verifies');
    const rekeyed = await ca.rekey(peer(old), csr);
    const [a, b] = [certificateOf(old), certificateOf(rekeyed.response.crt)];
    assert.deepEqual(b.subject.der, a.subject.der);
    assert.notDeepEqual(b.publicKey.der, a.publicKey.der);
    assert.equal(b.publicKey.key.kind === 'ecdsa' && b.publicKey.key.curve, 'P-384');
    assert.notDeepEqual(findExtension(b.extensions, 'subjectKeyId'), findExtension(a.extensions, 'subjectKeyId'));
    assert.deepEqual(findExtension(b.extensions, 'subjectAltName'), findExtension(a.extensions, 'subjectAltName'));
    await refused(ca.rekey(peer(old), 'not a csr'), 400, 'ERR_CSR_INVALID', /csr/i);
  });

  test('a certificate from another CA, or garbage, is refused', async () => {
    const d = await testdir();
    try {
      const otherFiles = await writeCaFiles(d.dir);
      const other = await build(otherFiles, caConfig(otherFiles, [admin.json]));
      others.push(other);
      const foreign = (await other.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'x' }) })).response.crt;
      await refused(ca.renew(peer(foreign)), 401, 'ERR_UNAUTHORIZED', /^the client certificate \(issuer .*\) was not issued by this CA$/);
      await refused(ca.renew({ der: Uint8Array.of(1, 2, 3) }), 401, 'ERR_UNAUTHORIZED', /^the client certificate cannot be read/);
    } finally {
      await d.cleanup();
    }
  });

  test('expired: refused unless the provisioner allows renewal after expiry; disableRenewal is honoured', async () => {
    const normal = await issue(admin);
    const shortLived = await issue(short);
    clock.advance(25 * HOUR);
    try {
      await refused(ca.renew(peer(normal)), 401, 'ERR_UNAUTHORIZED', /^certificate \d+ expired at .*; provisioner "admin" does not allow renewal after expiry \(allowRenewalAfterExpiry\)$/);
      const renewed = certificateOf((await ca.renew(peer(shortLived))).response.crt);
      assert.ok(renewed.notAfter.getTime() > clock.now().getTime(), 'allowRenewalAfterExpiry: renewed');
    } finally {
      clock.advance(-25 * HOUR);
    }
    await refused(ca.renew(peer(await issue(frozen))), 401, 'ERR_UNAUTHORIZED', /^renew is disabled for provisioner "frozen" \(its disableRenewal claim\)$/);
    await refused(ca.rekey(peer(await issue(frozen)), await makeCsr({})), 401, 'ERR_UNAUTHORIZED', /^rekey is disabled for provisioner "frozen"/);
  });

  test('revoke with a JWK revoke token: bound to its serial, once; then renew and rekey say it was revoked', async () => {
    const crt = await issue();
    const serial = certificateOf(crt).serial.toString(10);
    const revokeToken = (sub: string) => jwkToken(admin, { sub, aud: 'https://ca.test/1.0/revoke' });

    await refused(ca.revoke({ serial, ott: jwkToken(admin, { sub: serial }), passive: true }), 401, 'ERR_UNAUTHORIZED', /invalid audience .* for revoke/);
    await refused(ca.revoke({ serial, ott: revokeToken('12345'), passive: true }), 403, 'ERR_FORBIDDEN', /^request serial number "\d+" and token subject "12345" do not match$/);
    await refused(ca.revoke({ serial: '12345', ott: revokeToken('12345'), passive: true }), 404, 'ERR_NOT_FOUND', /^certificate with serial number 12345 was not issued by this CA$/);
    await refused(ca.revoke({ serial, ott: revokeToken(serial), passive: false }), 501, 'ERR_BAD_REQUEST', /only passive revocation/);
    await refused(ca.revoke({ serial, ott: revokeToken(serial), reasonCode: 7 }), 400, 'ERR_BAD_REQUEST', /invalid reasonCode 7/);

    const token = revokeToken(serial);
    const out = await ca.revoke({ serial, ott: token, reasonCode: 1, reason: 'laptop lost', passive: true });
    assert.equal(out.serial, serial);
    assert.equal(out.provisioner, 'admin');
    await refused(ca.revoke({ serial, ott: revokeToken(serial), passive: true }), 400, 'ERR_BAD_REQUEST', new RegExp(`^certificate with serial number '${serial}' is already revoked`));
    const other = certificateOf(await issue()).serial.toString(10);
    await refused(ca.revoke({ serial: other, ott: token, passive: true }), 403, 'ERR_FORBIDDEN', /do not match/);

    await refused(ca.renew(peer(crt)), 401, 'ERR_UNAUTHORIZED', new RegExp(`^cannot renew: certificate ${serial} was revoked at \\d{4}-.* \\(reason: keyCompromise: laptop lost\\)$`));
    await refused(ca.rekey(peer(crt), await makeCsr({})), 401, 'ERR_UNAUTHORIZED', /^cannot rekey: certificate \d+ was revoked/);
    const hex = `0x${certificateOf(await issue()).serial.toString(16)}`;
    const decimal = BigInt(hex).toString(10);
    await ca.revoke({ serial: hex, ott: revokeToken(decimal), passive: true });
    assert.equal((await store.getRevocation(decimal))?.serial, decimal, 'a hex serial is normalized to decimal');
  });

  test('revoke with an OIDC token: admins only, any serial', async () => {
    const serial = certificateOf(await issue()).serial.toString(10);
    const login = async (username: string) => (await idp.login({ username, password: `${username}-password`, clientId: 'ca-cli' })).idToken;
    await refused(ca.revoke({ serial, ott: await login('alice'), passive: true }), 401, 'ERR_UNAUTHORIZED', /alice@example\.com is not an admin, and only admins may revoke with an OIDC token/);
    const out = await ca.revoke({ serial, ott: await login('carol'), passive: true });
    assert.match(out.by, /carol@example\.com/);
  });

  test('revoke over mutual TLS with the certificate itself; its serial must be the one named', async () => {
    const crt = await issue();
    const serial = certificateOf(crt).serial.toString(10);
    await refused(ca.revoke({ serial: '42', peer: peer(crt) }), 401, 'ERR_UNAUTHORIZED', /is not the one to revoke \(42\)/);
    await refused(ca.revoke({ serial }), 401, 'ERR_UNAUTHORIZED', /^missing ott or client certificate/);
    const out = await ca.revoke({ serial, peer: peer(crt), reasonCode: 4 });
    assert.equal(out.by, 'mTLS');
    assert.equal((await store.getRevocation(serial))?.reasonCode, 4);
  });

  test('a revocation that lands while a renewal is being signed wins', async () => {
    const crt = await issue();
    const serial = certificateOf(crt).serial.toString(10);
    const results = await Promise.allSettled([ca.renew(peer(crt)), ca.revoke({ serial, peer: peer(crt) }), ca.renew(peer(crt))]);
    assert.equal(results[1]!.status, 'fulfilled');
    for (const r of [results[0]!, results[2]!]) {
      if (r.status === 'rejected') assert.match(String((r.reason as Error).message), /was revoked/);
    }
    await refused(ca.renew(peer(crt)), 401, 'ERR_UNAUTHORIZED', /was revoked/);
  });

  test('the CRL lists every revoked serial with its reason; openssl reads it and refuses a revoked certificate', async () => {
    const good = await issue();
    const bad = await issue();
    const badSerial = certificateOf(bad).serial.toString(10);
    const before = await ca.crl();
    await ca.revoke({ serial: badSerial, peer: peer(bad), reasonCode: 1 });
    const crl = await ca.crl();
    assert.ok(crl.number > before.number, 'a revocation makes a new CRL with a higher number');
    assert.equal(crl.nextUpdate.getTime() - crl.thisUpdate.getTime(), 24 * HOUR);
    const crlFile = join(dir, 'ca.crl');
    await writeFile(crlFile, toPem('X509 CRL', crl.der));
    const text = await openssl(['crl', '-in', crlFile, '-noout', '-text']);
    assert.match(text, /Version 2/);
    assert.match(text, new RegExp(`Serial Number: ${certificateOf(bad).serial.toString(16).toUpperCase()}`));
    assert.match(text, /Key Compromise/);
    assert.match(text, /X509v3 CRL Number:\s*\n\s*\d+/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    const verified = await run('openssl', ['crl', '-in', crlFile, '-noout', '-verify', '-CAfile', files.crt]);
    assert.match(verified.stdout + verified.stderr, /verify OK/, 'signed by the intermediate');

    const check = async (pem: string) => {
      const leaf = join(dir, `leaf-${Math.random().toString(36).slice(2)}.pem`);
      await writeFile(leaf, pem);
      return openssl(['verify', '-crl_check', '-CAfile', files.root, '-untrusted', files.crt, '-CRLfile', crlFile, leaf]).then(
        (out) => out,
        (err: Error) => err.message,
      );
    };
    assert.match(await check(good), /OK/);
    assert.match(await check(bad), /certificate revoked/);

    assert.equal((await ca.crl()).number, crl.number, 'served from cache while nothing changed');
    clock.advance(17 * HOUR);
    try {
      assert.ok((await ca.crl()).number > crl.number, 'made again after the renew period');
    } finally {
      clock.advance(-17 * HOUR);
    }
  });

  test('without crl.enabled there is no CRL (404)', async () => {
    const plain = await build(files, caConfig(files, [admin.json]), { store });
    others.push(plain);
    await refused(plain.crl(), 404, 'ERR_NOT_FOUND', /^this CA does not publish a CRL$/);
    await assert.rejects(build(files, { ...caConfig(files, []), crl: { enabled: true, cacheDuration: '1h', renewPeriod: '2h' } }), /"crl.renewPeriod" \(2h0m0s\) cannot be longer than "crl.cacheDuration" \(1h0m0s\)/);
  });

  test('serials: decimal or 0x hex, anything else a 400', () => {
    assert.equal(normalizeSerial('00123'), '123');
    assert.equal(normalizeSerial('0xff'), '255');
    assert.throws(() => normalizeSerial('12ab'), (err: unknown) => err instanceof CaError && err.status === 400 && /'12ab' is not a valid serial number/.test(err.message));
    assert.throws(() => normalizeSerial(''), /missing serial number/);
  });
});
