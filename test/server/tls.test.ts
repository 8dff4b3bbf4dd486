// ca.json's "address" and "tls" as Node options: Go names in, OpenSSL names out, TLS 1.2+ only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAddress, parseListenAddress, tlsSettingsFrom } from '../../src/server/tls.js';

const where = '/ca/config/ca.json';

test("step-ca's defaults: TLS 1.2 to 1.3, the two ECDSA suites, every TLS 1.3 suite, no renegotiation", () => {
  const tls = tlsSettingsFrom({}, where);
  assert.equal(tls.minVersion, 'TLSv1.2');
  assert.equal(tls.maxVersion, 'TLSv1.3');
  assert.equal(tls.ciphers, 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256');
  assert.ok(tls.secureOptions > 0);
});

test('versions and Go cipher names from ca.json', () => {
  const tls = tlsSettingsFrom({ tls: { minVersion: 1.3, maxVersion: 1.3, cipherSuites: ['TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256'] } }, where);
  assert.deepEqual([tls.minVersion, tls.maxVersion], ['TLSv1.3', 'TLSv1.3']);
  assert.match(tls.ciphers, /:ECDHE-RSA-AES256-GCM-SHA384$/);
});

test('refused with the field named: TLS 1.1, min above max, unknown suites, a bad address', () => {
  assert.throws(() => tlsSettingsFrom({ tls: { minVersion: 1.1 } }, where), /ca\.json: "tls\.minVersion" 1\.1 is not supported: ca serves TLS 1\.2 or later/);
  assert.throws(() => tlsSettingsFrom({ tls: { minVersion: 1.3, maxVersion: 1.2 } }, where), /"tls\.minVersion" cannot exceed "tls\.maxVersion"/);
  assert.throws(() => tlsSettingsFrom({ tls: { maxVersion: '2.0' } }, where), /"tls\.maxVersion" "2\.0" is not a TLS version/);
  assert.throws(() => tlsSettingsFrom({ tls: { cipherSuites: ['TLS_RSA_WITH_RC4_128_SHA'] } }, where), /unsupported cipher suite "TLS_RSA_WITH_RC4_128_SHA"/);
  assert.throws(() => parseListenAddress('8443', where), /"address" "8443" is not host:port/);
  assert.throws(() => parseListenAddress(undefined, where), /"address" "" is not host:port/);
});

test('listen addresses as step writes them', () => {
  assert.deepEqual(parseListenAddress(':443', where), { host: undefined, port: 443 });
  assert.deepEqual(parseListenAddress('127.0.0.1:0', where), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListenAddress('[::1]:8443', where), { host: '::1', port: 8443 });
  assert.equal(formatAddress(undefined, 443), ':443');
  assert.equal(formatAddress('::1', 8443), '[::1]:8443');
});

test('the server certificate is renewed with about a third of its life left, never in a busy loop', async () => {
  const { renewalDelay } = await import('../../src/server/instance.js');
  const now = new Date('2026-11-23T12:00:00Z');
  const day = 24 * 3_600_000;
  for (let i = 0; i < 50; i++) {
    const delay = renewalDelay(new Date(now.getTime() + day), now);
    assert.ok(delay <= (2 * day) / 3 && delay >= (2 * day) / 3 - day / 20, `delay ${delay}`);
  }
  assert.equal(renewalDelay(new Date(now.getTime() - 1000), now), 1_000, 'expired already: renew in a second, not at once in a loop');
  assert.equal(renewalDelay(new Date(now.getTime() + 10 * 365 * day), now), 2 ** 31 - 1, "capped at setTimeout's limit");
});
