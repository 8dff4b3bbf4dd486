import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { classifyName, createKeyAndRequest, keySpecFromFlags, oidcRequestNames } from '../../src/pki/request.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';

const alice = { sub: '1154493', iss: 'https://accounts.google.com', email: 'Alice@Example.com' };

test('your own email: CN = sub, SANs = email + iss#sub, as step builds it', () => {
  assert.deepEqual(oidcRequestNames('alice@example.com', [], alice), {
    commonName: '1154493',
    sans: [
      { type: 'email', value: 'Alice@Example.com' },
      { type: 'url', value: 'https://accounts.google.com#1154493' },
    ],
  });
});

test('your own sub (CI tokens have no email): CN = sub, SAN = iss#sub only (stricter than step)', () => {
  const ci = { sub: 'repo:acme/api:ref:refs/heads/main', iss: 'https://token.actions.githubusercontent.com' };
  assert.deepEqual(oidcRequestNames(ci.sub, [], ci), {
    commonName: ci.sub,
    sans: [{ type: 'url', value: 'https://token.actions.githubusercontent.com#repo:acme/api:ref:refs/heads/main' }],
  });
  assert.deepEqual(oidcRequestNames('1154493', [], alice).sans.map((s) => s.type), ['email', 'url']);
});

test('another subject or --san: CN = subject, SANs by their look', () => {
  assert.deepEqual(oidcRequestNames('api.internal', [], alice), { commonName: 'api.internal', sans: [{ type: 'dns', value: 'api.internal' }] });
  assert.deepEqual(oidcRequestNames('svc', ['10.0.0.7', 'svc.internal', 'spiffe://x/y', 'ops@x.com', '[::1]'], alice).sans, [
    { type: 'ip', value: '10.0.0.7' },
    { type: 'dns', value: 'svc.internal' },
    { type: 'url', value: 'spiffe://x/y' },
    { type: 'email', value: 'ops@x.com' },
    { type: 'ip', value: '::1' },
  ]);
  assert.deepEqual(classifyName('localhost'), { type: 'dns', value: 'localhost' });
});

test('key flags as step takes them', () => {
  assert.deepEqual(keySpecFromFlags(), { kty: 'EC', curve: 'P-256' });
  assert.deepEqual(keySpecFromFlags('ec', 'p-384'), { kty: 'EC', curve: 'P-384' });
  assert.deepEqual(keySpecFromFlags('OKP'), { kty: 'OKP', curve: 'Ed25519' });
  assert.deepEqual(keySpecFromFlags('RSA', undefined, 3072), { kty: 'RSA', size: 3072 });
  assert.throws(() => keySpecFromFlags('RSA', undefined, 1024), /RSA keys must be 2048 to 8192 bits/);
  assert.throws(() => keySpecFromFlags('EC', 'P-192'), /EC keys take P-256, P-384 or P-521/);
  assert.throws(() => keySpecFromFlags('DSA'), /options are EC, RSA, OKP/);
});

test('key and CSR for every key type verify with openssl', async (t) => {
  const d = await testdir();
  t.after(d.cleanup);
  const names = oidcRequestNames('alice@example.com', [], alice);
  for (const [spec, keyLabel, keyText] of [
    [keySpecFromFlags(), 'EC PRIVATE KEY', /prime256v1/],
    [keySpecFromFlags('EC', 'P-521'), 'EC PRIVATE KEY', /secp521r1/],
    [keySpecFromFlags('OKP'), 'PRIVATE KEY', /ED25519/],
    [keySpecFromFlags('RSA'), 'RSA PRIVATE KEY', /Public-Key: \(2048 bit\)/],
  ] as const) {
    const { csrPem, keyPem } = await createKeyAndRequest(spec, names);
    assert.match(keyPem, new RegExp(`^-----BEGIN ${keyLabel}-----`));
    await writeFile(d.path('req.csr'), csrPem);
    const out = await run('openssl', ['req', '-in', d.path('req.csr'), '-noout', '-verify', '-text']);
    assert.match(out.stdout + out.stderr, /verify OK/i);
    assert.match(out.stdout, /Subject: CN ?= ?1154493/);
    assert.match(out.stdout, /email:Alice@Example.com, URI:https:\/\/accounts.google.com#1154493/);
    assert.match(out.stdout, keyText);
  }
});
