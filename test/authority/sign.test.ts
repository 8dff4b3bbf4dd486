import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Authority } from '../../src/authority/types.js';
import { CaError, type ErrorCode } from '../../src/errors.js';
import { findExtension } from '../../src/pki/inspect/extensions.js';
import { parseCertificate } from '../../src/pki/inspect/model.js';
import { namesOfType } from '../../src/pki/inspect/names.js';
import { parsePem } from '../../src/pki/pem.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { DEFAULT_USERS, startIdp, type TestIdp } from '../fixtures/idp.js';
import { testdir } from '../helpers/testdir.js';
import { build, caConfig, certificateText, makeCsr, oidcProvisioner, verifyWithOpenssl, writeCaFiles, type CaFiles } from './helpers.js';

const HOUR = 3_600_000;

function certificateOf(pem: string) {
  return parseCertificate(parsePem(pem, 'crt')[0]!.der);
}

async function refused(promise: Promise<unknown>, status: number, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CaError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

describe('signing', () => {
  let idp: TestIdp;
  let dir: string;
  let files: CaFiles;
  let cleanup: () => Promise<void>;
  const authorities: Authority[] = [];
  const stores: Store[] = [];

  before(async () => {
    idp = await startIdp({
      users: [
        ...DEFAULT_USERS,
        { sub: 'user-carol', username: 'carol', password: 'carol-password', email: 'carol@example.com', email_verified: true, groups: ['ca-admins'] },
        { sub: 'user-root', username: 'root', password: 'root-password', email: 'Root@Example.com', email_verified: true, groups: [] },
        { sub: 'user-nomail', username: 'nomail', password: 'nomail-password', groups: ['engineering'] },
      ],
    });
    const d = await testdir();
    dir = d.dir;
    cleanup = d.cleanup;
    files = await writeCaFiles(dir);
  });
  after(async () => {
    for (const a of authorities) a.close();
    for (const s of stores) await s.close();
    assert.deepEqual(idp.serverErrors, []);
    await idp.close();
    await cleanup();
  });

  /** An authority with one OIDC provisioner for the test IdP; the start-time check off unless asked. */
  async function authority(provisioner: Record<string, unknown> = {}, opts: { store?: Store; authority?: Record<string, unknown> } = {}): Promise<Authority> {
    const config = caConfig(files, [oidcProvisioner(idp, { admins: ['Root@example.com', 'ca-admins'], ...provisioner })], { disableIssuedAtCheck: true, ...opts.authority });
    const a = await build(files, config, { store: opts.store });
    authorities.push(a);
    return a;
  }

  const login = async (username: string) => (await idp.login({ username, password: `${username}-password`, clientId: 'ca-cli' })).idToken;

  test('a user gets CN = sub, SANs = email and iss#sub, both TLS usages and the provisioner extension', async () => {
    const store = openSqliteStore(join(dir, 'db-user'));
    stores.push(store);
    const ca = await authority({}, { store });
    const before = Date.now();
    const out = await ca.sign({ csr: await makeCsr({ cn: 'alice@example.com', sans: [{ type: 'email', value: 'alice@example.com' }] }), ott: await login('alice'), notAfter: '', notBefore: '' });

    assert.match(await verifyWithOpenssl(dir, files, out.response.crt, 'sslclient'), /: OK\n$/);
    assert.match(await verifyWithOpenssl(dir, files, out.response.crt, 'sslserver'), /: OK\n$/);
    assert.equal(out.response.ca, (await readFile(files.crt, 'utf8')).trim() + '\n');
    assert.deepEqual(out.response.certChain, [out.response.crt, out.response.ca]);
    assert.equal(out.provisioner, 'TestIdP');
    assert.equal(out.subject, 'CN=user-alice');

    const cert = certificateOf(out.response.crt);
    assert.equal(cert.serial.toString(), out.serial);
    assert.deepEqual(cert.subject.attributes, [{ oid: '2.5.4.3', value: 'user-alice' }]);
    const names = findExtension(cert.extensions, 'subjectAltName')?.names ?? [];
    assert.deepEqual(namesOfType(names, 'email'), ['alice@example.com']);
    assert.deepEqual(namesOfType(names, 'uri'), [`${idp.issuer}#user-alice`]);
    assert.deepEqual(namesOfType(names, 'dns'), []);
    assert.deepEqual(findExtension(cert.extensions, 'extKeyUsage')?.oids, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.deepEqual(findExtension(cert.extensions, 'stepProvisioner')?.provisioner, { type: 2, name: 'TestIdP', credentialId: 'ca-cli' });
    assert.equal(findExtension(cert.extensions, 'basicConstraints'), undefined);

    // Validity: backdated one minute, 24 h from now.
    assert.ok(Math.abs(cert.notBefore.getTime() - (before - 60_000)) < 3_000, cert.notBefore.toISOString());
    assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 24 * HOUR + 60_000);

    const text = await certificateText(out.response.crt);
    assert.match(text, /Subject: CN ?= ?user-alice\n/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /1\.3\.6\.1\.4\.1\.37476\.9000\.64\.1:/);

    const recorded = await store.getCertificate(out.serial);
    assert.deepEqual(recorded, {
      serial: out.serial,
      subject: 'CN=user-alice',
      sans: ['alice@example.com', `${idp.issuer}#user-alice`],
      provisioner: 'TestIdP',
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      pem: out.response.crt,
    });
  });

  test('a CSR without names, or naming the user by sub, is fine for a user', async () => {
    const ca = await authority();
    const uri = `${idp.issuer}#user-alice`;
    for (const csr of [
      await makeCsr({}),
      await makeCsr({ cn: 'user-alice' }),
      await makeCsr({ cn: 'alice@EXAMPLE.com', sans: [{ type: 'url', value: uri }, { type: 'email', value: 'alice@example.com' }] }),
    ]) {
      const out = await ca.sign({ csr, ott: await login('alice') });
      assert.equal(out.subject, 'CN=user-alice');
    }
  });

  test('a user asking for another name is refused with 403, naming what they may ask for (stricter than step-ca)', async () => {
    const ca = await authority();
    const ott = await login('alice');
    const allowed = `may only ask for alice@example.com and ${idp.issuer}#user-alice \\(common name alice@example.com or user-alice\\)`;
    await refused(ca.sign({ csr: await makeCsr({ cn: 'bob@example.org' }), ott }), 403, 'ERR_FORBIDDEN',
      new RegExp(`^the certificate request asks for "bob@example.org", but a non-admin of provisioner "TestIdP" ${allowed}$`));
    await refused(ca.sign({ csr: await makeCsr({ cn: 'alice@example.com', sans: [{ type: 'dns', value: 'www.example.com' }, { type: 'ip', value: '10.0.0.1' }] }), ott }), 403, 'ERR_FORBIDDEN',
      /^the certificate request asks for "www.example.com", "10.0.0.1", but a non-admin/);
    await refused(ca.sign({ csr: await makeCsr({ sans: [{ type: 'url', value: `${idp.issuer}#user-bob` }] }), ott }), 403, 'ERR_FORBIDDEN', /asks for ".*#user-bob"/);

    // The refusals did not spend the token: the corrected request goes through with it.
    const out = await ca.sign({ csr: await makeCsr({ cn: 'alice@example.com' }), ott });
    assert.equal(out.subject, 'CN=user-alice');
  });

  test('admins (by email, domain part in any case) get the CSR subject and names', async () => {
    const ca = await authority();
    const csr = await makeCsr({
      cn: 'build-server',
      sans: [{ type: 'ip', value: '10.0.0.5' }, { type: 'dns', value: 'build.example.com' }, { type: 'email', value: 'ops@example.com' }, { type: 'url', value: 'spiffe://example/build' }],
    });
    const out = await ca.sign({ csr, ott: await login('root') });
    assert.equal(out.subject, 'CN=build-server');
    assert.match(await verifyWithOpenssl(dir, files, out.response.crt), /OK/);
    const cert = certificateOf(out.response.crt);
    assert.deepEqual(cert.subject.attributes, [{ oid: '2.5.4.3', value: 'build-server' }]);
    const names = findExtension(cert.extensions, 'subjectAltName')?.names ?? [];
    assert.deepEqual(names.map((n) => (n.type === 'dns' || n.type === 'ip' || n.type === 'email' || n.type === 'uri' ? `${n.type}:${n.value}` : n.type)), [
      'dns:build.example.com',
      'email:ops@example.com',
      'ip:10.0.0.5',
      'uri:spiffe://example/build',
    ]);
    assert.deepEqual(findExtension(cert.extensions, 'stepProvisioner')?.provisioner.name, 'TestIdP');
  });

  test('admins by group; an admin CSR with no names at all is a 400', async () => {
    const ca = await authority();
    const out = await ca.sign({ csr: await makeCsr({ sans: [{ type: 'dns', value: 'svc.example.com' }] }), ott: await login('carol') });
    const cert = certificateOf(out.response.crt);
    assert.deepEqual(cert.subject.attributes, []);
    assert.equal(cert.extensions.find((e) => e.oid === '2.5.29.17')?.critical, true, 'names are the identity of a subject-less certificate');
    assert.match(await verifyWithOpenssl(dir, files, out.response.crt), /OK/);
    await refused(ca.sign({ csr: await makeCsr({}), ott: await login('carol') }), 400, 'ERR_BAD_REQUEST', /has no subject and no subjectAltName/);
  });

  test('a token is used once: a replay is 401 "token already used"', async () => {
    const ca = await authority();
    const ott = await login('alice');
    await ca.sign({ csr: await makeCsr({}), ott });
    await refused(ca.sign({ csr: await makeCsr({}), ott }), 401, 'ERR_UNAUTHORIZED', /^token already used \(provisioner "TestIdP", subject "user-alice"\); get a new one$/);
  });

  test('a token without nonce is used once, however its signature is spelled', async () => {
    const ca = await authority();
    const ott = await idp.signToken({ email: 'alice@example.com', email_verified: true });
    await ca.sign({ csr: await makeCsr({}), ott });
    // The last base64url character of an RS256 signature carries 4 spare bits: these spellings verify as well.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(ott.slice(-1));
    for (let spare = 1; spare < 16; spare++) {
      const variant = ott.slice(0, -1) + alphabet[(last & ~15) | ((last & 15) ^ spare)];
      await refused(ca.sign({ csr: await makeCsr({}), ott: variant }), 401, 'ERR_UNAUTHORIZED', /^token already used/);
    }
  });

  test('the replay record survives a restart (SQLite reopened, authority rebuilt)', async () => {
    const dbDir = join(dir, 'db-restart');
    const ott = await login('alice');
    const first = openSqliteStore(dbDir);
    const before = await authority({}, { store: first });
    await before.sign({ csr: await makeCsr({}), ott });
    before.close();
    await first.close();

    const second = openSqliteStore(dbDir);
    stores.push(second);
    const after = await authority({}, { store: second });
    await refused(after.sign({ csr: await makeCsr({}), ott }), 401, 'ERR_UNAUTHORIZED', /token already used/);
  });

  test('rules through sign: email_verified false, domains, groups', async () => {
    await refused((await authority()).sign({ csr: await makeCsr({}), ott: await login('bob') }), 401, 'ERR_UNAUTHORIZED', /not verified/);
    const domains = await authority({ domains: ['example.com'] });
    await domains.sign({ csr: await makeCsr({}), ott: await login('alice') });
    await refused(domains.sign({ csr: await makeCsr({}), ott: await login('nomail') }), 401, 'ERR_UNAUTHORIZED', /the token has no email/);
    const groups = await authority({ groups: ['engineering'] });
    await groups.sign({ csr: await makeCsr({}), ott: await login('alice') });
    await refused(groups.sign({ csr: await makeCsr({}), ott: await login('carol') }), 401, 'ERR_UNAUTHORIZED', /invalid group/);
  });

  test('a user without email gets CN = sub and only the URI', async () => {
    const ca = await authority();
    const out = await ca.sign({ csr: await makeCsr({ cn: 'user-nomail' }), ott: await login('nomail') });
    const names = findExtension(certificateOf(out.response.crt).extensions, 'subjectAltName')?.names ?? [];
    assert.deepEqual(names.map((n) => n.type), ['uri']);
    await refused(ca.sign({ csr: await makeCsr({ cn: 'someone@example.com' }), ott: await login('nomail') }), 403, 'ERR_FORBIDDEN',
      new RegExp(`may only ask for ${idp.issuer}#user-nomail \\(common name user-nomail\\)$`));
  });

  test('after the IdP rotates its keys, signing goes on without an outage', async () => {
    const ca = await authority();
    await ca.sign({ csr: await makeCsr({}), ott: await login('alice') });
    await idp.rotateKeys({ keepOld: false });
    await ca.sign({ csr: await makeCsr({}), ott: await login('alice') });
  });

  test('validity: requested times and durations, step-ca\'s bounds and messages', async () => {
    const ca = await authority();
    const sign = async (notAfter: string, notBefore = '') => ca.sign({ csr: await makeCsr({}), ott: await login('alice'), notAfter, notBefore });

    const eightHours = certificateOf((await sign('8h')).response.crt);
    assert.equal(eightHours.notAfter.getTime() - eightHours.notBefore.getTime(), 8 * HOUR + 60_000, 'a duration counts from now; notBefore is backdated');
    const max = certificateOf((await sign('24h')).response.crt);
    assert.equal(max.notAfter.getTime() - max.notBefore.getTime(), 24 * HOUR + 60_000);

    const start = new Date(Math.floor(Date.now() / 1000) * 1000 + HOUR);
    const exact = certificateOf((await sign('2h', start.toISOString())).response.crt);
    assert.deepEqual(exact.notBefore, start, 'a requested notBefore is not backdated');
    assert.equal(exact.notAfter.getTime(), start.getTime() + 2 * HOUR, 'a duration counts from the requested notBefore');
    const rfc3339 = certificateOf((await sign(new Date(start.getTime() + 3 * HOUR).toISOString().replace('.000Z', '+00:00'), start.toISOString())).response.crt);
    assert.equal(rfc3339.notAfter.getTime(), start.getTime() + 3 * HOUR);

    await refused(sign('2m'), 403, 'ERR_FORBIDDEN', /^requested duration of 2m0s is less than the authorized minimum certificate duration of 5m0s$/);
    await refused(sign('25h'), 403, 'ERR_FORBIDDEN', /^requested duration of 25h0m0s is more than the authorized maximum certificate duration of 24h0m0s$/);
    const past = certificateOf((await sign('10m', '-5m')).response.crt);
    assert.ok(Math.abs(past.notBefore.getTime() - (Date.now() - 5 * 60_000)) < 3_000, 'a notBefore duration counts from now');
    assert.equal(past.notAfter.getTime() - past.notBefore.getTime(), 10 * 60_000);
    await refused(sign(new Date(Date.now() - HOUR).toISOString()), 400, 'ERR_BAD_REQUEST', /^notAfter cannot be in the past; notAfter=/);
    await refused(sign(new Date(Date.now() + HOUR).toISOString(), new Date(Date.now() + 2 * HOUR).toISOString()), 400, 'ERR_BAD_REQUEST', /^notAfter cannot be before notBefore/);
    await refused(sign('tomorrow'), 400, 'ERR_BAD_REQUEST', /^invalid value "tomorrow" for notAfter: expected an RFC 3339 time or a duration/);
    // Times that match the pattern but name no instant are a 400, and the token is not spent on them.
    const ott = await login('alice');
    for (const impossible of ['2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-12-01T10:00:60Z', '2026-12-01T10:00:00+99:99', '9999999999h']) {
      await refused(ca.sign({ csr: await makeCsr({}), ott, notAfter: impossible }), 400, 'ERR_BAD_REQUEST', /^invalid value .* for notAfter/);
    }
    await ca.sign({ csr: await makeCsr({}), ott, notAfter: '1h' });
  });

  test('validity bounds from the provisioner\'s claims, else the authority\'s', async () => {
    const own = await authority({ claims: { minTLSCertDuration: '1m', maxTLSCertDuration: '1h', defaultTLSCertDuration: '30m' } });
    const byDefault = certificateOf((await own.sign({ csr: await makeCsr({}), ott: await login('alice') })).response.crt);
    assert.equal(byDefault.notAfter.getTime() - byDefault.notBefore.getTime(), 31 * 60_000);
    await refused(own.sign({ csr: await makeCsr({}), ott: await login('alice'), notAfter: '2h' }), 403, 'ERR_FORBIDDEN', /^requested duration of 2h0m0s is more than the authorized maximum certificate duration of 1h0m0s$/);

    const global = await authority({}, { authority: { claims: { maxTLSCertDuration: '2h', defaultTLSCertDuration: '2h' }, backdate: '0s' } });
    const globalDefault = certificateOf((await global.sign({ csr: await makeCsr({}), ott: await login('alice') })).response.crt);
    assert.equal(globalDefault.notAfter.getTime() - globalDefault.notBefore.getTime(), 2 * HOUR, 'no backdate when backdate is 0s');
  });

  test('disableSmallstepExtensions leaves the provisioner extension out', async () => {
    const ca = await authority({ claims: { disableSmallstepExtensions: true } });
    const out = await ca.sign({ csr: await makeCsr({}), ott: await login('alice') });
    assert.equal(findExtension(certificateOf(out.response.crt).extensions, 'stepProvisioner'), undefined);
  });

  test('missing csr or ott, a bad CSR: 400 before the token is looked at', async () => {
    const ca = await authority();
    const ott = await login('alice');
    await refused(ca.sign({ csr: '', ott }), 400, 'ERR_BAD_REQUEST', /^missing csr$/);
    await refused(ca.sign({ csr: await makeCsr({}), ott: '' }), 400, 'ERR_BAD_REQUEST', /^missing ott$/);
    const csr = await makeCsr({});
    const broken = csr.replace(/(.)(\n-----END)/, (_, c: string, end: string) => `${c === 'A' ? 'B' : 'A'}${end}`);
    await refused(ca.sign({ csr: broken, ott }), 400, 'ERR_CSR_INVALID', /^invalid csr/);
    await ca.sign({ csr, ott });
  });

  test('the token must be issued after the authority started (step-ca\'s bootstrap check)', async () => {
    const early = await idp.signToken({ email: 'alice@example.com', email_verified: true, sub: 'user-alice', iat: Math.floor(Date.now() / 1000) - 5 });
    const ca = await authority({}, { authority: { disableIssuedAtCheck: false } });
    await refused(ca.sign({ csr: await makeCsr({}), ott: early }), 401, 'ERR_UNAUTHORIZED', /token issued before the bootstrap of certificate authority/);
    await ca.sign({ csr: await makeCsr({}), ott: await login('alice') });
  });

  test('many requests at once: every certificate is issued and recorded, serials unique', async () => {
    const store = openSqliteStore(join(dir, 'db-many'));
    stores.push(store);
    const ca = await authority({}, { store });
    const csr = await makeCsr({});
    const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => idp.signToken({ sub: 'user-alice', email: 'alice@example.com', nonce: `many-${i}` })));
    const outs = await Promise.all(tokens.map((ott) => ca.sign({ csr, ott })));
    assert.equal(new Set(outs.map((o) => o.serial)).size, 40);
    for (const o of outs) assert.equal((await store.getCertificate(o.serial))?.pem, o.response.crt);
  });
});
