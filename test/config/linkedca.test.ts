import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromLinked, toLinked } from '../../src/config/linkedca.js';
import { newOidcProvisioner } from '../../src/config/provisioner.js';
import { newJwkProvisioner } from '../../src/config/jwk.js';
import { CaError } from '../../src/errors.js';

const endpoint = 'https://accounts.google.com/.well-known/openid-configuration';

test('an OIDC provisioner in linkedca shape: details under OIDC, Go durations, templates from options', () => {
  const p = newOidcProvisioner('Okta', { clientId: 'cid', clientSecret: 'sec', configurationEndpoint: endpoint, admins: ['a@x.com'], x509DefaultDur: '8h' });
  const created = new Date('2026-01-02T03:04:05Z');
  const l = toLinked(p, { id: 'id-1', authorityId: 'auth', createdAt: created });
  assert.deepEqual(Object.keys(l), ['id', 'authorityId', 'type', 'name', 'details', 'claims', 'x509Template', 'sshTemplate', 'createdAt']);
  assert.deepEqual(l.details, { OIDC: { clientId: 'cid', clientSecret: 'sec', configurationEndpoint: endpoint, admins: ['a@x.com'] } });
  assert.deepEqual(l.claims, { x509: { enabled: true, durations: { default: '8h0m0s' } }, ssh: { enabled: true }, disableRenewal: false, allowRenewalAfterExpiry: false });
  assert.equal(l.createdAt, '2026-01-02T03:04:05.000Z');
  const back = fromLinked(JSON.parse(JSON.stringify(l)));
  assert.deepEqual(back, {
    type: 'OIDC', name: 'Okta', clientID: 'cid', clientSecret: 'sec', configurationEndpoint: endpoint, admins: ['a@x.com'],
    claims: { defaultTLSCertDuration: '8h0m0s', enableSSHCA: true, disableRenewal: false, allowRenewalAfterExpiry: false },
    options: { x509: {}, ssh: {} },
  });
});

test('a JWK provisioner: public key and encrypted key as base64, both ways', () => {
  const key = { kty: 'EC', crv: 'P-256', x: 'xx', y: 'yy', kid: 'k1', use: 'sig', alg: 'ES256' };
  const jwe = 'a.b.c.d.e';
  const l = toLinked(newJwkProvisioner('admin', key, jwe));
  const details = l.details.JWK as { publicKey: string; encryptedPrivateKey: string };
  assert.deepEqual(JSON.parse(Buffer.from(details.publicKey, 'base64').toString()), key);
  assert.equal(Buffer.from(details.encryptedPrivateKey, 'base64').toString(), jwe);
  assert.deepEqual(fromLinked(l), { type: 'JWK', name: 'admin', key, encryptedKey: jwe });
});

test('other types keep their fields as opaque details', () => {
  const p = { type: 'ACME', name: 'acme', forceCN: true, challenges: ['http-01'] };
  const l = toLinked(p);
  assert.deepEqual(l.details, { ACME: { forceCN: true, challenges: ['http-01'] } });
  assert.deepEqual(fromLinked(l), p);
});

test('bad input is a 400 naming the field', () => {
  const cases: [unknown, RegExp][] = [
    [[], /"provisioner" must be a JSON object/],
    [{ type: 'OIDC', details: {} }, /"name"/],
    [{ type: 'OIDC', name: 'x', details: {} }, /"details.OIDC"/],
    [{ type: 'OIDC', name: 'x', details: { OIDC: { configurationEndpoint: endpoint } } }, /"details.OIDC.clientId" is required/],
    [{ type: 'OIDC', name: 'x', details: { OIDC: { clientId: 'c', configurationEndpoint: endpoint, admins: 'a' } } }, /"details.OIDC.admins" must be a list/],
    [{ type: 'JWK', name: 'x', details: { JWK: { publicKey: '!!' } } }, /"details.JWK.publicKey"/],
    [{ type: 'OIDC', name: 'x', details: { OIDC: { clientId: 'c', configurationEndpoint: endpoint } }, claims: { x509: { durations: { max: 'soon' } } } }, /"claims.x509.durations.max" is not a duration/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => fromLinked(input), (err: unknown) => err instanceof CaError && err.status === 400 && message.test(err.message));
  }
});
