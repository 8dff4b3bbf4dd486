import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leftOut } from '../../src/cli/commands/certificate.js';
import { classifyName } from '../../src/pki/request.js';

const asked = (...names: string[]) => ({ commonName: names[0] ?? '', sans: names.map(classifyName) });

test('leftOut: the requested names the CA did not put in the certificate, in the order asked', () => {
  const issued = ['alice@example.com', 'http://127.0.0.1:5556#user-alice'];
  assert.deepEqual(leftOut(asked('db.internal', 'alice@example.com', '10.0.0.7'), issued), ['db.internal', '10.0.0.7']);
});

test('leftOut: nothing when every name is there, whatever the case or the IPv6 spelling', () => {
  const issued = ['API.internal', '10.0.0.7', '2001:db8::1', '::1'];
  assert.deepEqual(leftOut(asked('api.INTERNAL', '10.0.0.7', '2001:0db8:0:0:0:0:0:1', '0:0::1'), issued), []);
});
