// JWK provisioner tokens, checked as step-ca checks them (plus `sha`), signing names from the token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import type { Authority } from '../../src/authority/types.js';
import { caAudiences, withoutPort } from '../../src/authority/jwk.js';
import { CaError, type ErrorCode } from '../../src/errors.js';
import { findExtension } from '../../src/pki/inspect/extensions.js';
import { parseCertificate } from '../../src/pki/inspect/model.js';
import { commonName, namesOfType } from '../../src/pki/inspect/names.js';
import { parsePem } from '../../src/pki/pem.js';
import { fingerprint } from '../../src/pki/fingerprint.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { testdir } from '../helpers/testdir.js';
import { build, caConfig, jwkProvisioner, jwkToken, makeCsr, oidcProvisioner, signRaw, verifyWithOpenssl, writeCaFiles, type CaFiles, type TestJwk } from './helpers.js';

const certificateOf = (pem: string) => parseCertificate(parsePem(pem, 'crt')[0]!.der);

async function refused(promise: Promise<unknown>, status: number, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CaError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

test('audiences: every dnsName, /1.0/sign and /sign, compared without the port', () => {
  const aud = caAudiences(['ca.test', '10.0.0.1', '::1']);
  for (const url of ['https://ca.test/1.0/sign', 'https://ca.test/sign', 'https://10.0.0.1/1.0/sign', 'https://[::1]/sign', 'step-certificate-authority']) {
    assert.ok(aud.sign.has(url), url);
  }
  assert.ok(aud.revoke.has('https://ca.test/1.0/revoke'));
  assert.ok(!aud.sign.has('https://ca.test/1.0/revoke'));
  assert.equal(withoutPort('https://ca.test:8443/1.0/sign'), 'https://ca.test/1.0/sign');
});

describe('JWK provisioners', () => {
  let idp: TestIdp;
  let dir: string;
  let files: CaFiles;
  let cleanup: () => Promise<void>;
  let admin: TestJwk;
  let ca: Authority;
  let rootFingerprint: string;

  before(async () => {
    idp = await startIdp();
    const d = await testdir();
    dir = d.dir;
    cleanup = d.cleanup;
    files = await writeCaFiles(dir);
    admin = await jwkProvisioner('admin');
    ca = await build(files, caConfig(files, [oidcProvisioner(idp), admin.json]));
    rootFingerprint = ca.rootFingerprints[0]!;
  });
  after(async () => {
    ca.close();
    await idp.close();
    await cleanup();
  });

  test('a step-style token: CN = sub, SANs = sans, the JWK provisioner extension, and the chain verifies', async () => {
    const ott = jwkToken(admin, { sub: 'localhost', sans: ['localhost', '127.0.0.1', '::1'], sha: rootFingerprint });
    const out = await ca.sign({ csr: await makeCsr({ cn: 'localhost', sans: [{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }, { type: 'ip', value: '::1' }] }), ott });
    const cert = certificateOf(out.response.crt);
    assert.equal(commonName(cert.subject), 'localhost');
    const sans = findExtension(cert.extensions, 'subjectAltName')!.names;
    assert.deepEqual(namesOfType(sans, 'dns'), ['localhost']);
    assert.deepEqual(namesOfType(sans, 'ip'), ['127.0.0.1', '::1']);
    assert.deepEqual(findExtension(cert.extensions, 'stepProvisioner')!.provisioner, { type: 1, name: 'admin', credentialId: admin.kid });
    assert.equal(out.provisioner, 'admin');
    assert.match(await verifyWithOpenssl(dir, files, out.response.crt, 'sslserver'), /OK/);
  });

  test('without sans the subject is the only name; a CSR with no names at all is fine', async () => {
    const out = await ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'api.internal' }) });
    const cert = certificateOf(out.response.crt);
    assert.equal(commonName(cert.subject), 'api.internal');
    assert.deepEqual(namesOfType(findExtension(cert.extensions, 'subjectAltName')!.names, 'dns'), ['api.internal']);
  });

  test('the audience may name any dnsName, with or without the port, /1.0/sign or /sign', async () => {
    for (const aud of ['https://ca.test/sign', 'https://127.0.0.1:9999/1.0/sign', ['https://elsewhere.example/sign', 'https://ca.test/1.0/sign']]) {
      await ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'svc', aud }) });
    }
    await refused(ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'svc', aud: 'https://other.example/1.0/sign' }) }), 401, 'ERR_UNAUTHORIZED', /^JWK provisioner "admin": invalid audience "https:\/\/other\.example\/1\.0\/sign" for sign; expected one of https:\/\/ca\.test\/1\.0\/sign, /);
    await refused(ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'svc', aud: 'https://ca.test/1.0/revoke' }) }), 401, 'ERR_UNAUTHORIZED', /invalid audience .* for sign/);
  });

  test('signature, algorithm, key id, issuer, sha: each refusal names its rule', async () => {
    const stranger = await jwkProvisioner('admin');
    await refused(ca.sign({ csr: await makeCsr({}), ott: jwkToken(stranger, { sub: 'x' }, { kid: admin.kid }) }), 401, 'ERR_UNAUTHORIZED', /^JWK provisioner "admin": the token's signature does not verify with the provisioner's key$/);
    await refused(ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'x' }, { kid: 'another-kid' }) }), 401, 'ERR_UNAUTHORIZED', /the token's key id "another-kid" is not the provisioner's/);
    const hs256 = await new SignJWT({ iss: 'admin', sub: 'x', aud: 'https://ca.test/1.0/sign', exp: Math.floor(Date.now() / 1000) + 60 })
      .setProtectedHeader({ alg: 'HS256', kid: admin.kid })
      .sign(new TextEncoder().encode('a shared secret'));
    await refused(ca.sign({ csr: await makeCsr({}), ott: hs256 }), 401, 'ERR_UNAUTHORIZED', /the token is signed with "HS256", but the provisioner's key signs with ES256/);
    await refused(ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'x', sha: 'ab'.repeat(32) }) }), 401, 'ERR_UNAUTHORIZED', /the token was made for another CA/);
    await ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'x', sha: rootFingerprint.toUpperCase() }) });
    await refused(ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: '' }) }), 401, 'ERR_UNAUTHORIZED', /subject \("sub"\) cannot be empty/);
    await refused(ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'x', iss: 'nobody' }) }), 401, 'ERR_UNAUTHORIZED', /^provisioner not found or invalid audience \(iss "nobody"/);
  });

  test('time: expired, not yet valid, no exp; the real reason even for a token from before the CA started', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'x', iat: now - 7200, nbf: now - 7200, exp: now - 3600 }) }), 401, 'ERR_UNAUTHORIZED', /^the token expired at \d{4}-/);
    await refused(ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'x', nbf: now + 600 }) }), 401, 'ERR_UNAUTHORIZED', /^the token is not valid before /);
    await refused(ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'x', exp: undefined }) }), 401, 'ERR_UNAUTHORIZED', /^the token has no "exp" claim$/);
    await ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'x', nbf: now + 30 }) });
  });

  test('absurd numeric claims are a 401 naming the claim, and never reach the store', async () => {
    const now = Math.floor(Date.now() / 1000);
    const raw = (exp: string) =>
      signRaw(`{"iss":"admin","sub":"x","aud":"https://ca.test/1.0/sign","iat":${now},"exp":${exp},"jti":"${Math.random()}"}`, admin.privateKey, { alg: 'ES256', kid: admin.kid });
    for (const exp of ['1e400', '9223372036854775808', '-5', '"tomorrow"', '1e20']) {
      await refused(ca.sign({ csr: await makeCsr({}), ott: raw(exp) }), 401, 'ERR_UNAUTHORIZED', /^the token's "exp" claim \(.*\) is not a valid time$/);
    }
    // The same for an OIDC token, signed by the IdP's own key.
    await refused(ca.sign({ csr: await makeCsr({}), ott: await idp.signToken({ exp: 2 ** 63, email: 'alice@example.com', email_verified: true }) }), 401, 'ERR_UNAUTHORIZED', /"exp" claim \(9223372036854776000\) is not a valid time/);
  });

  test('a token is used once (its jti); another jti is another token', async () => {
    const ott = jwkToken(admin, { sub: 'once' });
    await ca.sign({ csr: await makeCsr({}), ott });
    await refused(ca.sign({ csr: await makeCsr({}), ott }), 401, 'ERR_UNAUTHORIZED', /^token already used \(provisioner "admin", subject "once"\)/);
    await ca.sign({ csr: await makeCsr({}), ott: jwkToken(admin, { sub: 'once' }) });
  });

  test('the CSR may not ask for more than the token: step-ca\'s validators, as a 403 naming what is allowed', async () => {
    const ott = () => jwkToken(admin, { sub: 'svc', sans: ['svc.internal', '10.0.0.7'] });
    await refused(ca.sign({ csr: await makeCsr({ cn: 'root' }), ott: ott() }), 403, 'ERR_FORBIDDEN', /^certificate request does not contain the valid common name - got root, want one of svc, svc\.internal, 10\.0\.0\.7$/);
    await refused(
      ca.sign({ csr: await makeCsr({ cn: 'svc', sans: [{ type: 'dns', value: 'svc.internal' }, { type: 'dns', value: 'evil.example' }] }), ott: ott() }),
      403,
      'ERR_FORBIDDEN',
      /valid DNS names - got \[svc\.internal, evil\.example\], want \[svc\.internal\]/,
    );
    const out = await ca.sign({ csr: await makeCsr({ cn: 'svc.internal', sans: [{ type: 'ip', value: '10.0.0.7' }] }), ott: ott() });
    const cert = certificateOf(out.response.crt);
    assert.equal(commonName(cert.subject), 'svc', 'the certificate names the token\'s subject');
    assert.deepEqual(namesOfType(findExtension(cert.extensions, 'subjectAltName')!.names, 'dns'), ['svc.internal']);
  });

  test('a kid shared by two JWK provisioners, or a key that is not a public JWK, stops the build', async () => {
    const twin = { ...admin.json, name: 'twin' };
    await assert.rejects(build(files, caConfig(files, [admin.json, twin])), /two JWK provisioners have the key id/);
    await assert.rejects(build(files, caConfig(files, [{ type: 'JWK', name: 'broken', key: { kty: 'EC' } }])), /JWK provisioner "broken": "key" is not a public JWK/);
  });

  test('the encrypted key is served by kid', () => {
    assert.equal(ca.encryptedKey(admin.kid), 'not.used.in.these.tests');
    assert.equal(ca.encryptedKey('unknown'), undefined);
    assert.equal(fingerprint(parsePem(ca.rootsPem[0]!, 'root')[0]!.der), rootFingerprint);
  });
});
