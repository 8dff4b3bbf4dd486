import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeCaUrl, resolveCaTarget } from '../../src/client/target.js';
import { normalizeFingerprint } from '../../src/cli/commands/bootstrap.js';
import { testdir } from '../helpers/testdir.js';

test('CA URLs get https and must be https, as step says', () => {
  assert.equal(normalizeCaUrl('ca.example.com:8443'), 'https://ca.example.com:8443');
  assert.equal(normalizeCaUrl('https://ca.example.com/'), 'https://ca.example.com');
  assert.throws(() => normalizeCaUrl('http://ca.example.com'), /must have https scheme/);
});

test('fingerprints in any of step\'s spellings', () => {
  const fp = 'ab'.repeat(32);
  assert.equal(normalizeFingerprint(fp.toUpperCase()), fp);
  assert.equal(normalizeFingerprint(fp.match(/../g)?.join(':') ?? ''), fp);
  assert.throws(() => normalizeFingerprint('abc'), /expected the root's SHA-256 fingerprint/);
});

test('flags win over defaults.json; missing pieces name the fix', async (t) => {
  const d = await testdir({ 'ca/config/defaults.json': { 'ca-url': 'https://saved:9000', root: '/nowhere/root.crt' }, 'r.crt': 'PEM' });
  t.after(d.cleanup);
  const ctx = { caPath: d.path('ca'), env: {} };
  await assert.rejects(resolveCaTarget({}, ctx), /the root certificate \/nowhere\/root.crt does not exist/);
  const target = await resolveCaTarget({ root: d.path('r.crt') }, ctx);
  assert.equal(target.caUrl, 'https://saved:9000');
  const flagged = await resolveCaTarget({ caUrl: 'other:1', root: d.path('r.crt') }, ctx);
  assert.equal(flagged.caUrl, 'https://other:1');
  await assert.rejects(resolveCaTarget({}, { caPath: d.path('empty'), env: {} }), /no CA is configured: missing the '--ca-url' flag/);
});
