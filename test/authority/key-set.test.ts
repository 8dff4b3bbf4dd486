import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { MAX_DOCUMENT_BYTES, MAX_JWKS_KEYS } from '../../src/authority/discovery.js';
import { DEFAULT_KEY_SET_AGE_MS, KeySet, REFETCH_INTERVAL_MS, keySetLifetimeMs, maxAgeMs } from '../../src/authority/key-set.js';
import { startIdp, type TestIdp } from '../fixtures/idp.js';
import { testClock } from './helpers.js';

const jwksFetches = (idp: TestIdp) => idp.requests.filter((r) => r.path === '/jwks').length;

describe('key set lifetime', () => {
  test('max-age from Cache-Control, 12 h without it, never under a minute', () => {
    assert.equal(maxAgeMs('public, max-age=300'), 300_000);
    assert.equal(maxAgeMs('max-age="60", must-revalidate'), 60_000);
    assert.equal(maxAgeMs('s-maxage=100'), undefined);
    assert.equal(maxAgeMs(null), undefined);
    const none = () => 0;
    assert.equal(keySetLifetimeMs('public, max-age=300', none), 300_000);
    assert.equal(keySetLifetimeMs(null, none), DEFAULT_KEY_SET_AGE_MS);
    assert.equal(keySetLifetimeMs('no-store', none), DEFAULT_KEY_SET_AGE_MS);
    assert.equal(keySetLifetimeMs('max-age=0', none), 60_000);
  });

  test('jitter as step-ca: up to 1 h off long lifetimes, up to a third off short ones', () => {
    const most = () => 0.999999;
    assert.ok(keySetLifetimeMs(null, most) > DEFAULT_KEY_SET_AGE_MS - 3_600_000);
    assert.ok(keySetLifetimeMs(null, most) < DEFAULT_KEY_SET_AGE_MS - 3_599_000);
    assert.ok(keySetLifetimeMs('max-age=300', most) > 200_000 && keySetLifetimeMs('max-age=300', most) <= 200_001);
    assert.equal(keySetLifetimeMs('max-age=300', () => 0.5), 250_000);
  });
});

describe('KeySet against the test IdP', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startIdp();
  });
  after(() => idp.close());

  test('fetches once, serves from cache, refreshes in the background after max-age', async () => {
    const clock = testClock();
    const before = jwksFetches(idp);
    const keys = await KeySet.load(idp.jwksUrl, { fetch, now: clock.now, random: () => 0 });
    assert.equal(jwksFetches(idp), before + 1);
    const hint = { alg: 'RS256', kid: idp.currentKid('RS256') };
    assert.equal((await keys.keysFor(hint)).length, 1);
    assert.equal((await keys.keysFor({ alg: 'ES256', kid: idp.currentKid('ES256') })).length, 1);
    assert.equal((await keys.keysFor({ alg: 'EdDSA', kid: idp.currentKid('EdDSA') })).length, 1);
    assert.equal(jwksFetches(idp), before + 1, 'cached');

    clock.advance(299_000);
    await keys.keysFor(hint);
    assert.equal(jwksFetches(idp), before + 1, 'still fresh (max-age=300)');
    clock.advance(2_000);
    assert.equal((await keys.keysFor(hint)).length, 1, 'the cached keys answer at once');
    await keys.settled();
    assert.equal(jwksFetches(idp), before + 2, 'and one refresh ran');
  });

  test('a kid it does not know makes it fetch again (IdP key rotation), at most every 30 s', async () => {
    const clock = testClock();
    const keys = await KeySet.load(idp.jwksUrl, { fetch, now: clock.now });
    await idp.rotateKeys();
    const start = jwksFetches(idp);
    const rotated = { alg: 'RS256', kid: idp.currentKid('RS256') };
    assert.equal((await keys.keysFor(rotated)).length, 1, 'the new key is found after one refetch');
    assert.equal(jwksFetches(idp), start + 1);

    const bogus = { alg: 'RS256', kid: 'no-such-kid' };
    assert.deepEqual(await keys.keysFor(bogus), []);
    assert.deepEqual(await keys.keysFor(bogus), []);
    clock.advance(REFETCH_INTERVAL_MS - 1_000);
    assert.deepEqual(await keys.keysFor(bogus), []);
    assert.equal(jwksFetches(idp), start + 1, 'no refetch within 30 s of the last one');
    clock.advance(1_000);
    assert.deepEqual(await keys.keysFor(bogus), []);
    assert.equal(jwksFetches(idp), start + 2, 'one more after 30 s');
  });

  test('keys must fit the algorithm; a token without kid matches only keys without kid', async () => {
    const clock = testClock();
    const keys = await KeySet.load(idp.jwksUrl, { fetch, now: clock.now });
    assert.deepEqual(await keys.keysFor({ alg: 'ES256', kid: idp.currentKid('RS256') }), [], 'an RSA key for ES256');
    assert.deepEqual(await keys.keysFor({ alg: 'PS256', kid: idp.currentKid('RS256') }), [], 'the JWK says alg RS256');
    assert.deepEqual(await keys.keysFor({ alg: 'HS256', kid: idp.currentKid('RS256') }), []);
    assert.deepEqual(await keys.keysFor({ alg: 'RS256' }), []);
  });

  test('a failed refresh keeps the old keys and is retried only after 30 s', async (t) => {
    const clock = testClock();
    const log: Record<string, unknown>[] = [];
    const keys = await KeySet.load(idp.jwksUrl, { fetch, now: clock.now, log: (e) => log.push(e) });
    const hint = { alg: 'RS256', kid: idp.currentKid('RS256') };
    idp.setDown(true);
    t.after(() => idp.setDown(false));
    clock.advance(DEFAULT_KEY_SET_AGE_MS);
    const start = jwksFetches(idp);
    assert.equal((await keys.keysFor(hint)).length, 1);
    await keys.settled();
    assert.equal(jwksFetches(idp), start + 1);
    assert.equal(log.length, 1);
    assert.match(String(log[0]?.msg), /cannot refresh the keys of .*\/jwks; keeping the \d+ cached/);
    assert.equal((await keys.keysFor(hint)).length, 1, 'old keys still work');
    assert.equal(jwksFetches(idp), start + 1, 'no retry at once');
    idp.setDown(false);
    clock.advance(REFETCH_INTERVAL_MS);
    await keys.keysFor(hint);
    await keys.settled();
    assert.equal(jwksFetches(idp), start + 2, 'retried after 30 s');
  });
});

/**
 * A real HTTP server in front of the test IdP's key set whose answer the test changes: the IdP's
 * keys, or a broken or hostile answer. Chunked answers carry no Content-Length.
 */
async function jwksServer(idp: TestIdp): Promise<{ url: string; fetches: () => number; answer: (body?: string, opts?: { chunked?: boolean }) => void; close: () => Promise<void> }> {
  let body: string | undefined;
  let chunked = false;
  let fetches = 0;
  const server: Server = createServer((_req, res) => {
    fetches += 1;
    const text = body ?? JSON.stringify(idp.jwks());
    if (chunked) {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < text.length; i += 16_384) res.write(text.slice(i, i + 16_384));
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    fetches: () => fetches,
    answer: (next, opts = {}) => {
      body = next;
      chunked = opts.chunked ?? false;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('KeySet: a refetch that brings no usable keys keeps the cached ones', () => {
  let idp: TestIdp;
  let jwks: Awaited<ReturnType<typeof jwksServer>>;
  before(async () => {
    idp = await startIdp();
    jwks = await jwksServer(idp);
  });
  after(async () => {
    await jwks.close();
    await idp.close();
  });

  const oneKey = (): Record<string, unknown> => idp.jwks().keys[0] as Record<string, unknown>;
  const hostile: [string, () => string, { chunked?: boolean }?][] = [
    ['an empty key set', () => '{"keys": []}'],
    ['garbage', () => 'garbage <html>'],
    ['"keys" that is not an array', () => '{"keys": "none"}'],
    ['only keys we cannot verify with (symmetric, encryption, incomplete)', () => JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }, { ...oneKey(), use: 'enc' }, { kty: 'RSA', kid: 'x' }, 7, null] })],
    [`more than ${MAX_JWKS_KEYS} keys`, () => JSON.stringify({ keys: Array.from({ length: MAX_JWKS_KEYS + 1 }, (_, i) => ({ ...oneKey(), kid: `k${i}` })) })],
    [`more than ${MAX_DOCUMENT_BYTES} bytes`, () => JSON.stringify({ keys: [{ ...oneKey(), pad: 'a'.repeat(MAX_DOCUMENT_BYTES) }] })],
    [`more than ${MAX_DOCUMENT_BYTES} bytes, chunked (no Content-Length)`, () => JSON.stringify({ keys: [{ ...oneKey(), pad: 'a'.repeat(MAX_DOCUMENT_BYTES) }] }), { chunked: true }],
  ];

  for (const [what, body, opts] of hostile) {
    test(`a made-up kid makes it refetch and the IdP answers ${what}: the valid token's key still works`, async () => {
      const clock = testClock();
      jwks.answer();
      const log: Record<string, unknown>[] = [];
      const keys = await KeySet.load(jwks.url, { fetch, now: clock.now, log: (e) => log.push(e) });
      const valid = { alg: 'RS256', kid: idp.currentKid('RS256') };
      assert.equal((await keys.keysFor(valid)).length, 1);

      jwks.answer(body(), opts);
      const start = jwks.fetches();
      assert.deepEqual(await keys.keysFor({ alg: 'RS256', kid: 'made-up' }), []);
      assert.equal(jwks.fetches(), start + 1, 'the made-up kid caused one refetch');
      assert.equal((await keys.keysFor(valid)).length, 1, 'the cached keys were not replaced');
      assert.match(String(log[0]?.msg), /cannot refresh the keys of .*; keeping the \d+ cached/);

      // Background refreshes past max-age meet the same answer: still kept.
      clock.advance(DEFAULT_KEY_SET_AGE_MS);
      assert.equal((await keys.keysFor(valid)).length, 1);
      await keys.settled();
      assert.equal((await keys.keysFor(valid)).length, 1);
    });
  }

  test('a usable set does replace the cached keys (a rotation that drops the old keys)', async () => {
    const clock = testClock();
    jwks.answer();
    const keys = await KeySet.load(jwks.url, { fetch, now: clock.now });
    const old = { alg: 'RS256', kid: idp.currentKid('RS256') };
    await idp.rotateKeys({ keepOld: false });
    const rotated = { alg: 'RS256', kid: idp.currentKid('RS256') };
    assert.equal((await keys.keysFor(rotated)).length, 1);
    assert.deepEqual(await keys.keysFor(old), [], 'the old key is gone with the set that dropped it');
  });

  test('the first fetch of a set with no usable key fails with the reason', async () => {
    jwks.answer('{"keys": []}');
    await assert.rejects(KeySet.load(jwks.url, { fetch, now: () => new Date() }), /the key set at .*\/jwks has no usable signing key \(0 keys\)/);
    jwks.answer('x'.repeat(MAX_DOCUMENT_BYTES + 1), { chunked: true });
    await assert.rejects(KeySet.load(jwks.url, { fetch, now: () => new Date() }), new RegExp(`the response is larger than ${MAX_DOCUMENT_BYTES} bytes`));
    jwks.answer();
  });
});
