/**
 * JOSE by hand, for checking what ca writes without trusting the code that wrote it: RFC 7638
 * thumbprints and RFC 7518 PBES2 decryption from Node's primitives, as any step-compatible
 * reader computes them.
 */
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, pbkdf2Sync } from 'node:crypto';
import type { Jwk } from '../../src/pki/jwk.js';

/** RFC 7638 by hand: SHA-256 of the required members in lexical order, no spaces. */
export function thumbprintByHand(jwk: Jwk | Record<string, unknown>): string {
  const members = jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : jwk.kty === 'RSA' ? ['e', 'kty', 'n'] : ['crv', 'kty', 'x'];
  const canonical = `{${members.map((m) => `"${m}":"${String(jwk[m])}"`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * RFC 7518 PBES2-HS256+A128KW / A256GCM decryption written out with Node's primitives (PBKDF2,
 * AES key unwrap, AES-GCM), independent of jose: what any step-compatible reader does.
 */
export function decryptPbes2ByHand(jwe: string, password: string): Record<string, unknown> {
  const [headerB64, wrappedB64, ivB64, ciphertextB64, tagB64] = jwe.split('.') as [string, string, string, string, string];
  const header = JSON.parse(Buffer.from(headerB64, 'base64url').toString()) as { alg: string; enc: string; p2s: string; p2c: number };
  assert.equal(header.alg, 'PBES2-HS256+A128KW');
  assert.equal(header.enc, 'A256GCM');
  const salt = Buffer.concat([Buffer.from(header.alg), Buffer.from([0]), Buffer.from(header.p2s, 'base64url')]);
  const kek = pbkdf2Sync(password, salt, header.p2c, 16, 'sha256');
  const unwrap = createDecipheriv('id-aes128-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  const cek = Buffer.concat([unwrap.update(Buffer.from(wrappedB64, 'base64url')), unwrap.final()]);
  const gcm = createDecipheriv('aes-256-gcm', cek, Buffer.from(ivB64, 'base64url'));
  gcm.setAAD(Buffer.from(headerB64, 'ascii'));
  gcm.setAuthTag(Buffer.from(tagB64, 'base64url'));
  return JSON.parse(Buffer.concat([gcm.update(Buffer.from(ciphertextB64, 'base64url')), gcm.final()]).toString()) as Record<string, unknown>;
}
