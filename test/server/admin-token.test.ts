import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync, verify } from 'node:crypto';
import { makeAdminToken } from '../../src/client/admin-token.js';
import { createCaPair } from '../../src/pki/ca.js';
import { toPem } from '../../src/pki/pem.js';

function decode(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; input: string; signature: Buffer } {
  const [h, c, s] = token.split('.') as [string, string, string];
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), claims: JSON.parse(Buffer.from(c, 'base64url').toString()), input: `${h}.${c}`, signature: Buffer.from(s, 'base64url') };
}

test('an admin token: x5c chain, step claims, ES256 signature by the key', async () => {
  const now = new Date('2026-03-01T00:00:00Z');
  const { root, intermediate } = await createCaPair('Test', now);
  const chainPem = toPem('CERTIFICATE', new Uint8Array(intermediate.cert.rawData)) + toPem('CERTIFICATE', new Uint8Array(root.cert.rawData));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${intermediate.keyPkcs8.toString('base64')}\n-----END PRIVATE KEY-----\n`;
  const audience = 'https://ca.example:9000/admin/provisioners';
  const token = makeAdminToken({ chainPem, keyPem, subject: 'alice@example.com', audience, now });
  const { header, claims, input, signature } = decode(token);
  assert.equal(header.alg, 'ES256');
  assert.deepEqual(header.x5c, [Buffer.from(intermediate.cert.rawData).toString('base64'), Buffer.from(root.cert.rawData).toString('base64')]);
  const iat = now.getTime() / 1000;
  assert.deepEqual({ ...claims, jti: undefined }, { iss: 'step-admin-client/1.0', sub: 'alice@example.com', aud: audience, iat, nbf: iat, exp: iat + 300, jti: undefined });
  assert.match(String(claims.jti), /^[0-9a-f]{64}$/);
  const leaf = new X509Certificate(Buffer.from(String((header.x5c as string[])[0]), 'base64'));
  assert.ok(verify('sha256', Buffer.from(input), { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, signature));
  assert.notEqual(decode(makeAdminToken({ chainPem, keyPem, subject: 's', audience, now })).claims.jti, claims.jti, 'jti is random');
});

test('RSA and Ed25519 keys sign RS256 and EdDSA tokens', async () => {
  const now = new Date();
  const { intermediate } = await createCaPair('Test', now);
  const chainPem = toPem('CERTIFICATE', new Uint8Array(intermediate.cert.rawData));
  for (const [type, alg] of [['rsa', 'RS256'], ['ed25519', 'EdDSA']] as const) {
    const pair = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
    const keyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const token = makeAdminToken({ chainPem, keyPem, subject: 's', audience: 'https://ca/admin/admins', now, lifetimeSeconds: 60 });
    const { header, claims, input, signature } = decode(token);
    assert.equal(header.alg, alg);
    assert.equal(Number(claims.exp) - Number(claims.iat), 60);
    assert.ok(verify(type === 'rsa' ? 'sha256' : null, Buffer.from(input), pair.publicKey, signature));
  }
});
