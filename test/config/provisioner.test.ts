import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyOidcChanges,
  checkConfigurationEndpoint,
  checkListenAddress,
  discoveryUrl,
  newOidcProvisioner,
  validateOidcProvisioner,
} from '../../src/config/provisioner.js';
import { effectiveTlsDurations } from '../../src/config/ca-config.js';

const endpoint = 'https://accounts.google.com/.well-known/openid-configuration';

test('a new OIDC provisioner is written as step writes it, in its field order', () => {
  const p = newOidcProvisioner('Google', { clientId: 'cid', clientSecret: 'sec', configurationEndpoint: endpoint, admins: ['a@x.com'], domains: ['x.com'] });
  assert.deepEqual(Object.keys(p), ['type', 'name', 'clientID', 'clientSecret', 'configurationEndpoint', 'admins', 'domains', 'claims', 'options']);
  assert.deepEqual(p.claims, { enableSSHCA: true, disableRenewal: false, allowRenewalAfterExpiry: false, disableSmallstepExtensions: false });
  assert.deepEqual(p.options, { x509: {}, ssh: {} });
});

test('durations are stored normalised, first in the claims', () => {
  const p = newOidcProvisioner('G', { clientId: 'c', configurationEndpoint: endpoint, x509DefaultDur: '8h', x509MaxDur: '12h' });
  assert.deepEqual(Object.keys(p.claims ?? {}).slice(0, 2), ['maxTLSCertDuration', 'defaultTLSCertDuration']);
  assert.equal(p.claims?.defaultTLSCertDuration, '8h0m0s');
  assert.equal(p.clientSecret, '');
});

test('update removes first, then adds, without repeats; unknown fields survive', () => {
  const before = { ...newOidcProvisioner('G', { clientId: 'c', configurationEndpoint: endpoint, groups: ['a', 'b'] }), futureField: { x: 1 } };
  const after = applyOidcChanges(before, { groups: ['b', 'c'], removeGroups: ['a'], name: 'H' });
  assert.deepEqual(after.groups, ['b', 'c']);
  assert.equal(after.name, 'H');
  assert.deepEqual(after.futureField, { x: 1 });
  const emptied = applyOidcChanges(after, { removeGroups: ['b', 'c'] });
  assert.equal('groups' in emptied, false, 'an emptied list is left out, as step omits empty fields');
});

test('configuration endpoint: https, or http on loopback only', () => {
  checkConfigurationEndpoint(endpoint);
  checkConfigurationEndpoint('http://127.0.0.1:5556/dex');
  checkConfigurationEndpoint('http://localhost:8080');
  checkConfigurationEndpoint('http://[::1]:8080');
  assert.throws(() => checkConfigurationEndpoint('http://idp.example.com'), /must use https/);
  assert.throws(() => checkConfigurationEndpoint('ftp://x'), /must use https/);
  assert.throws(() => checkConfigurationEndpoint('not a url'), /not a URL/);
});

test('discovery URL gets the well-known suffix once', () => {
  assert.equal(discoveryUrl('https://idp.example.com/realms/x'), 'https://idp.example.com/realms/x/.well-known/openid-configuration');
  assert.equal(discoveryUrl(endpoint), endpoint);
});

test('listen addresses are host:port', () => {
  for (const ok of [':10000', '127.0.0.1:0', 'localhost:8080', '[::1]:9000']) checkListenAddress(ok);
  for (const bad of ['10000', 'host', '1.2.3.4:99999', ':']) assert.throws(() => checkListenAddress(bad), /expected host:port/, bad);
});

test('unique names and client IDs', () => {
  const a = newOidcProvisioner('A', { clientId: 'one', configurationEndpoint: endpoint });
  const sameName = newOidcProvisioner('A', { clientId: 'two', configurationEndpoint: endpoint });
  const sameClient = newOidcProvisioner('B', { clientId: 'one', configurationEndpoint: endpoint });
  assert.throws(() => validateOidcProvisioner(sameName, [a], undefined), /provisioner with name A already exists/);
  assert.throws(() => validateOidcProvisioner(sameClient, [a], undefined), /provisioner with token ID one already exists/);
  // JWK provisioners have no client ID to clash with
  validateOidcProvisioner(sameClient, [{ type: 'JWK', name: 'admin', key: {} }], undefined);
});

test('claims bounds with step messages, inheriting the authority claims', () => {
  assert.deepEqual(effectiveTlsDurations(undefined, undefined), { min: 300_000, max: 86_400_000, default: 86_400_000 });
  assert.throws(() => effectiveTlsDurations({ maxTLSCertDuration: '1m' }, undefined), /^CaError: claims\.maxTLSCertDuration 1m is shorter than the default minimum 5m$/);
  assert.throws(() => effectiveTlsDurations({ defaultTLSCertDuration: '48h' }, undefined), /^CaError: claims\.defaultTLSCertDuration 48h is longer than the default maximum 24h$/);
  assert.throws(() => effectiveTlsDurations({ defaultTLSCertDuration: '1m' }, undefined), /^CaError: claims\.defaultTLSCertDuration 1m is shorter than the default minimum 5m$/);
  assert.throws(() => effectiveTlsDurations({ maxTLSCertDuration: '90m' }, { minTLSCertDuration: '2h' }), /claims\.maxTLSCertDuration 1h30m is shorter than authority\.claims\.minTLSCertDuration 2h$/);
  assert.throws(() => effectiveTlsDurations({ minTLSCertDuration: '0s' }, undefined), /claims\.minTLSCertDuration must be longer than 0$/);
  assert.deepEqual(effectiveTlsDurations({ defaultTLSCertDuration: '48h' }, { maxTLSCertDuration: '72h' }).default, 172_800_000);
});
