import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { FlattenedEncrypt } from 'jose';
import { run } from '../helpers/exec.js';
import { decryptPbes2ByHand, thumbprintByHand } from '../helpers/jwk.js';
import { testdir } from '../helpers/testdir.js';
import { decryptJwk, encryptJwk, generateProvisionerKey, readPrivateKeyFile, readPublicKeyFile, type Jwk } from '../../src/pki/jwk.js';
import type { CaError } from '../../src/errors.js';

test('a new provisioner key is EC P-256 with step\'s members, kid = its RFC 7638 thumbprint', async () => {
  const { publicJwk, privateJwk } = await generateProvisionerKey();
  assert.deepEqual(Object.keys(publicJwk), ['use', 'kty', 'kid', 'crv', 'alg', 'x', 'y'], "go-jose's member order");
  assert.equal(publicJwk.use, 'sig');
  assert.equal(publicJwk.alg, 'ES256');
  assert.equal(publicJwk.crv, 'P-256');
  assert.equal(publicJwk.kid, thumbprintByHand(publicJwk));
  assert.equal(privateJwk.kid, publicJwk.kid);
  assert.equal(typeof privateJwk.d, 'string');
  assert.equal(publicJwk.d, undefined, 'no private member in the public key');
});

test('the encrypted key is a PBES2 JWE (p2c 100000) that opens with the password and only with it', async () => {
  const { privateJwk } = await generateProvisionerKey();
  const jwe = await encryptJwk(privateJwk, 'correct horse');
  const header = JSON.parse(Buffer.from(jwe.split('.')[0] as string, 'base64url').toString());
  assert.deepEqual({ ...header, p2s: typeof header.p2s }, { alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', cty: 'jwk+json', p2c: 100_000, p2s: 'string' });
  assert.equal(Buffer.from(header.p2s, 'base64url').length, 16, 'a 16-byte salt');
  assert.deepEqual(decryptPbes2ByHand(jwe, 'correct horse'), privateJwk, 'standard PBES2, readable without jose');
  assert.deepEqual(await decryptJwk(jwe, 'correct horse', 'the key'), privateJwk);
  await assert.rejects(decryptJwk(jwe, 'wrong horse', 'the key of provisioner admin'), (err: CaError) => {
    assert.equal(err.code, 'ERR_PASSWORD');
    assert.equal(err.message, 'cannot decrypt the key of provisioner admin: wrong password');
    return true;
  });
  assert.notEqual(await encryptJwk(privateJwk, 'correct horse'), jwe, 'a fresh salt and IV each time');
});

test('key files: PEM and JWK public keys, PEM (plain and encrypted), JWK and JWE private keys', async (t) => {
  const d = await testdir();
  t.after(d.cleanup);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', d.path('ec.pem')]);
  await run('openssl', ['pkey', '-in', d.path('ec.pem'), '-pubout', '-out', d.path('ec.pub.pem')]);
  await run('openssl', ['pkey', '-in', d.path('ec.pem'), '-aes256', '-passout', 'pass:pem-secret', '-out', d.path('ec.enc.pem')]);
  await run('openssl', ['genpkey', '-algorithm', 'ED25519', '-out', d.path('ed.pem')]);
  const text = (name: string) => readFile(d.path(name), 'utf8');
  const never = async (): Promise<string> => assert.fail('no password is needed');

  const fromPem = await readPublicKeyFile(await text('ec.pub.pem'), 'ec.pub.pem');
  assert.deepEqual([fromPem.kty, fromPem.crv, fromPem.alg, fromPem.use], ['EC', 'P-384', 'ES384', 'sig']);
  assert.equal(fromPem.kid, thumbprintByHand(fromPem));

  const plain = await readPrivateKeyFile(await text('ec.pem'), 'ec.pem', never);
  assert.equal(plain.kid, fromPem.kid, 'the private key file yields the same key id');
  const encrypted = await readPrivateKeyFile(await text('ec.enc.pem'), 'ec.enc.pem', async () => 'pem-secret');
  assert.equal(encrypted.d, plain.d);
  await assert.rejects(readPrivateKeyFile(await text('ec.enc.pem'), 'ec.enc.pem', async () => 'nope'), /cannot decrypt ec\.enc\.pem: wrong password/);

  const ed = await readPrivateKeyFile(await text('ed.pem'), 'ed.pem', never);
  assert.deepEqual([ed.kty, ed.crv, ed.alg], ['OKP', 'Ed25519', 'EdDSA']);

  // A JWK keeps its own kid (as step does); a public one is refused where a private one belongs.
  const jwk: Jwk = { ...(createPrivateKey(await text('ec.pem')).export({ format: 'jwk' }) as Jwk), kid: 'my-key' };
  assert.equal((await readPrivateKeyFile(JSON.stringify(jwk), 'k.json', never)).kid, 'my-key');
  assert.equal((await readPublicKeyFile(JSON.stringify(jwk), 'k.json')).d, undefined, 'a private JWK as --public-key gives its public half');
  const { d: _drop, ...publicOnly } = jwk;
  await assert.rejects(readPrivateKeyFile(JSON.stringify(publicOnly), 'pub.json', never), /pub\.json holds a public key, not a private key/);
  await assert.rejects(readPrivateKeyFile(await text('ec.pub.pem'), 'ec.pub.pem', never), /holds a public key or certificate/);
  await assert.rejects(readPublicKeyFile('{"kty":"oct","k":"c2VjcmV0"}', 'oct.json'), /a symmetric key cannot be used as a provisioner/);
  await assert.rejects(readPublicKeyFile('hello', 'junk.txt'), /junk\.txt is not a public key this tool can read/);

  // A JWE: compact (ca.json's encryptedKey) or flattened JSON (step crypto jwk create's file).
  const compact = await encryptJwk(plain, 'jwe-secret');
  assert.equal((await readPrivateKeyFile(compact, 'k.jwe', async () => 'jwe-secret')).d, plain.d);
  const flattened = await new FlattenedEncrypt(new TextEncoder().encode(JSON.stringify(plain)))
    .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', cty: 'jwk+json' })
    .setKeyManagementParameters({ p2c: 100_000 })
    .encrypt(new TextEncoder().encode('jwe-secret'));
  assert.equal((await readPrivateKeyFile(JSON.stringify(flattened), 'k.json', async () => 'jwe-secret')).d, plain.d);
  await assert.rejects(readPublicKeyFile(compact, 'k.jwe'), /holds an encrypted key: pass it with --private-key/);
});
