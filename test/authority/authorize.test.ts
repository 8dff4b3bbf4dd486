import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT, base64url, decodeProtectedHeader } from 'jose';
import { authorizeSign as authorizeToken, type AuthorizeContext, type ProvisionerIndex } from '../../src/authority/authorize.js';
import { decodeJws } from '../../src/authority/jws.js';
import { OidcProvisioner, checkRules, normalizeEmail, type RuleInput } from '../../src/authority/oidc.js';
import type { OidcProvisionerJson } from '../../src/config/provisioner.js';
import { CaError } from '../../src/errors.js';
import { DEFAULT_USERS, startIdp, type TestIdp } from '../fixtures/idp.js';
import { oidcProvisioner, testClock, type TestClock } from './helpers.js';

const nowS = () => Math.floor(Date.now() / 1000);
const jwksFetches = (idp: TestIdp) => idp.requests.filter((r) => r.path === '/jwks').length;

async function unauthorized(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CaError, String(err));
    assert.equal(err.code, 'ERR_UNAUTHORIZED');
    assert.equal(err.status, 401);
    assert.match(err.message, reason);
    return true;
  });
}

function refusedBy(input: RuleInput, settings: Parameters<typeof checkRules>[1], reason: RegExp): void {
  assert.throws(() => checkRules(input, settings), (err: unknown) => {
    assert.ok(err instanceof CaError);
    assert.equal(err.status, 401);
    assert.match(err.message, reason);
    return true;
  });
}

describe('provisioner rules', () => {
  const user = (email: string | undefined, groups: string[] = [], emailVerified: unknown = true): RuleInput => ({ email, groups, emailVerified });

  test('normalizeEmail lowercases the domain only', () => {
    assert.equal(normalizeEmail('Alice.Smith@Example.COM'), 'Alice.Smith@example.com');
    assert.equal(normalizeEmail('no-at-sign'), 'no-at-sign');
  });

  test('email_verified false is refused (stricter than step-ca); absent or true is fine', () => {
    refusedBy(user('bob@example.org', [], false), { name: 'P' }, /^provisioner "P": the email "bob@example.org" is not verified \(email_verified is false\)$/);
    refusedBy(user('bob@example.org', [], 'false'), { name: 'P' }, /is not verified/);
    assert.equal(checkRules(user('bob@example.org', [], undefined), { name: 'P' }), false);
    assert.equal(checkRules(user('bob@example.org', [], true), { name: 'P' }), false);
  });

  test('domains: the email domain, case-insensitive; a token without email is refused (stricter than step-ca)', () => {
    const settings = { name: 'P', domains: ['Example.com', 'corp.example'] };
    assert.equal(checkRules(user('alice@EXAMPLE.com'), settings), false);
    assert.equal(checkRules(user('carol@corp.example'), settings), false);
    refusedBy(user('mallory@evil.example'), settings, /^provisioner "P": email "mallory@evil.example" is not allowed \(domains: Example.com, corp.example\)$/);
    refusedBy(user('mallory@sub.example.com'), settings, /is not allowed/);
    refusedBy(user('mallory@example.com.evil'), settings, /is not allowed/);
    refusedBy(user(undefined), settings, /^provisioner "P": the token has no email, and only domains Example.com, corp.example are allowed$/);
  });

  test('groups: at least one in common, compared exactly; admins too', () => {
    const settings = { name: 'P', groups: ['engineering', 'ops'], admins: ['root@example.com'] };
    assert.equal(checkRules(user('a@x.com', ['sales', 'ops']), settings), false);
    refusedBy(user('a@x.com', ['Engineering']), settings, /^provisioner "P": invalid group: the token's groups \[Engineering\] include none of engineering, ops$/);
    refusedBy(user('a@x.com', []), settings, /invalid group/);
    refusedBy(user('root@example.com', []), settings, /invalid group/);
  });

  test('admins by email (domain case-insensitive, local part exact) or by group', () => {
    const settings = { name: 'P', admins: ['Root@Example.com', 'ca-admins'], domains: ['example.com'] };
    assert.equal(checkRules(user('Root@example.COM'), settings), true);
    assert.equal(checkRules(user('root@example.com'), settings), false, 'the local part is case-sensitive');
    assert.equal(checkRules(user('dave@example.com', ['ca-admins']), settings), true);
    assert.equal(checkRules(user('dave@example.com', ['CA-admins']), settings), false);
    assert.equal(checkRules(user('Root@example.com'), { name: 'P', admins: ['Root@Example.com'], domains: ['other.example'] }), true, 'admins skip the domain check, as in step-ca');
  });
});

describe('authorizeToken against the test IdP', () => {
  let idp: TestIdp;
  let clock: TestClock;
  const provisioners: OidcProvisioner[] = [];

  before(async () => {
    idp = await startIdp({
      users: [
        ...DEFAULT_USERS,
        { sub: 'user-carol', username: 'carol', password: 'carol-password', email: 'Carol@Example.com', email_verified: true, groups: ['ca-admins'] },
      ],
    });
    clock = testClock();
  });
  after(async () => {
    for (const p of provisioners) p.close();
    assert.deepEqual(idp.serverErrors, []);
    await idp.close();
  });

  async function context(overrides: Partial<OidcProvisionerJson> = {}, notIssuedBefore?: number): Promise<AuthorizeContext> {
    const json = oidcProvisioner(idp, overrides) as OidcProvisionerJson;
    const provisioner = await OidcProvisioner.prepare(json, { fetch, now: clock.now, log: () => {}, globalClaims: undefined });
    provisioners.push(provisioner);
    const index: ProvisionerIndex = { byClientId: new Map([[provisioner.clientId, provisioner]]), jwkByName: new Map(), othersByName: new Map([['admin@example.com', 'X5C']]) };
    return { provisioners: index, notIssuedBefore };
  }

  test('a real login: who the caller is, keyed for single use by its nonce', async () => {
    const ctx = await context({ admins: ['ca-admins'] });
    const provisioner = ctx.provisioners.byClientId.get('ca-cli')!;
    const { idToken, nonce } = await idp.login({ username: 'alice', password: 'alice-password', clientId: 'ca-cli' });
    const alice = await provisioner.identify(idToken, decodeJws(idToken));
    assert.equal(alice.subject, 'user-alice');
    assert.equal(alice.email, 'alice@example.com');
    assert.equal(alice.issuer, idp.issuer);
    assert.deepEqual(alice.groups, ['admins', 'engineering']);
    assert.equal(alice.isAdmin, false);
    assert.equal(alice.tokenId, nonce);
    assert.equal(alice.expiresAt.getTime(), ((decodeJws(idToken).claims.exp as number) + 60) * 1000, 'remembered until exp plus the leeway');
    const grant = await authorizeToken(idToken, ctx);
    assert.equal(grant.kind, 'oidc-user');
    assert.equal(grant.tokenId, nonce);
    assert.equal(grant.provisioner.name, 'TestIdP');

    const carol = await authorizeToken((await idp.login({ username: 'carol', password: 'carol-password', clientId: 'ca-cli' })).idToken, ctx);
    assert.equal(carol.kind, 'oidc-admin', 'admin by group');

    const noNonce = await idp.signToken({ email: 'alice@example.com' });
    const signedPart = noNonce.slice(0, noNonce.lastIndexOf('.'));
    assert.equal((await authorizeToken(noNonce, ctx)).tokenId, createHash('sha256').update(signedPart).digest('hex'), 'without nonce: the hash of header.payload');
  });

  test('email_verified false is refused', async () => {
    const ctx = await context();
    const { idToken } = await idp.login({ username: 'bob', password: 'bob-password', clientId: 'ca-cli' });
    await unauthorized(authorizeToken(idToken, ctx), /the email "bob@example.org" is not verified/);
  });

  test('issuer, audience and azp', async () => {
    const ctx = await context();
    await unauthorized(authorizeToken(await idp.signToken({ iss: 'https://evil.example' }), ctx), new RegExp(`invalid issuer "https://evil.example", expected "${idp.issuer}"`));
    await unauthorized(authorizeToken(await idp.signToken({ iss: `${idp.issuer}/` }), ctx), /invalid issuer/);
    await unauthorized(authorizeToken(await idp.signToken({ aud: 'other-client' }), ctx), new RegExp(`^provisioner not found or invalid audience \\(iss "${idp.issuer}", azp null, aud "other-client"\\)$`));
    await unauthorized(authorizeToken(await idp.signToken({ aud: ['other-client'], azp: 'ca-cli' }), ctx), /invalid audience \["other-client"\], expected "ca-cli"/);
    await authorizeToken(await idp.signToken({ aud: ['other-client', 'ca-cli'], azp: 'ca-cli' }), ctx);
    await unauthorized(authorizeToken(await idp.signToken({ azp: 'someone-else' }), ctx), /invalid azp "someone-else", expected "ca-cli"/);
    await unauthorized(
      authorizeToken(await idp.signToken({ iss: 'admin@example.com', aud: 'https://ca.example/1.0/sign' }), ctx),
      /the token is for the X5C provisioner "admin@example.com", which this CA does not sign with/,
    );
  });

  test('exp, nbf and iat with one minute of leeway', async () => {
    const ctx = await context();
    const now = nowS();
    await unauthorized(authorizeToken(await idp.signToken({ iat: now - 3600, exp: now - 90 }), ctx), /the token expired at \d{4}-\d\d-\d\dT/);
    await authorizeToken(await idp.signToken({ iat: now - 3600, exp: now - 30 }), ctx);
    await unauthorized(authorizeToken(await idp.signToken({ nbf: now + 90 }), ctx), /the token is not valid before \d{4}-/);
    await authorizeToken(await idp.signToken({ nbf: now + 30 }), ctx);
    await unauthorized(authorizeToken(await idp.signToken({ iat: now + 90 }), ctx), /the token was issued in the future \(iat \d{4}-/);
    await authorizeToken(await idp.signToken({ iat: now + 30 }), ctx);
    await unauthorized(authorizeToken(await idp.signToken({ exp: undefined }), ctx), /missing required "exp" claim/);
    await unauthorized(authorizeToken(await idp.signToken({ iat: undefined }), ctx), /missing required "iat" claim/);
    await unauthorized(authorizeToken(await idp.signToken({ sub: '' }), ctx), /"sub" is empty/);
  });

  test('the injected clock is the one that counts', async () => {
    const ctx = await context();
    const token = await idp.signToken({});
    clock.advance(2 * 3600_000);
    try {
      await unauthorized(authorizeToken(token, ctx), /the token expired/);
    } finally {
      clock.advance(-2 * 3600_000);
    }
  });

  test('tokens issued before the authority started are refused, unless the check is off', async () => {
    const started = Date.now();
    const ctx = await context({}, Math.floor(started / 1000) * 1000);
    await unauthorized(authorizeToken(await idp.signToken({ iat: nowS() - 10 }), ctx), /^token issued before the bootstrap of certificate authority/);
    await authorizeToken(await idp.signToken({ iat: nowS() - 10 }), { ...ctx, notIssuedBefore: undefined });
  });

  test('alg none, HMAC with the public key as secret, and unknown algorithms are refused', async () => {
    const ctx = await context();
    const claims = { iss: idp.issuer, aud: 'ca-cli', sub: 'user-alice', iat: nowS(), exp: nowS() + 600 };
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims))}.`;
    await unauthorized(authorizeToken(none, ctx), /^token algorithm "none" is not allowed; accepted: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA$/);

    const rsaJwk = idp.jwks().keys.find((k) => k.kid === idp.currentKid('RS256'))!;
    const { createPublicKey } = await import('node:crypto');
    const publicPem = createPublicKey({ key: rsaJwk as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' });
    const hmac = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: rsaJwk.kid }).sign(new TextEncoder().encode(String(publicPem)));
    await unauthorized(authorizeToken(hmac, ctx), /token algorithm "HS256" is not allowed/);

    await unauthorized(authorizeToken('not.a.jwt', ctx), /^the token is not a JWT/);
    await unauthorized(authorizeToken('', ctx), /^the token is not a JWT/);
  });

  test('a changed payload or a key the IdP does not publish fails the signature check', async () => {
    const ctx = await context();
    const token = await idp.signToken({ email: 'alice@example.com' });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload!))) as Record<string, unknown>;
    const changed = `${header}.${base64url.encode(JSON.stringify({ ...claims, email: 'root@example.com' }))}.${signature}`;
    await unauthorized(authorizeToken(changed, ctx), /^cannot validate the oidc token: the signature does not verify$/);

    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = await idp.signToken({}, { privateKey, alg: 'RS256', kid: idp.currentKid('RS256') });
    await unauthorized(authorizeToken(forged, ctx), /the signature does not verify/);
  });

  test('every allowed IdP algorithm verifies (RS256, ES256, EdDSA)', async () => {
    const ctx = await context();
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
      const token = await idp.signToken({}, { alg });
      assert.equal(decodeProtectedHeader(token).alg, alg);
      await authorizeToken(token, ctx);
    }
  });

  test('after the IdP rotates its keys, tokens with the new kid pass (one refetch); a bogus kid fails without hammering the IdP', async () => {
    const ctx = await context();
    await authorizeToken(await idp.signToken({}), ctx);
    await idp.rotateKeys();
    const before = jwksFetches(idp);
    const { idToken } = await idp.login({ username: 'alice', password: 'alice-password', clientId: 'ca-cli' });
    assert.equal(decodeProtectedHeader(idToken).kid, idp.currentKid('RS256'));
    await authorizeToken(idToken, ctx);
    assert.equal(jwksFetches(idp), before + 1);

    for (let i = 0; i < 5; i++) {
      await unauthorized(authorizeToken(await idp.signToken({}, { kid: `bogus-${i}` }), ctx), /no RS256 key with kid "bogus-\d" in the key set of/);
    }
    assert.equal(jwksFetches(idp), before + 1, 'the refetch for the rotation counts: no other within 30 s');
    clock.advance(31_000);
    try {
      await unauthorized(authorizeToken(await idp.signToken({}, { kid: 'bogus-later' }), ctx), /no RS256 key/);
      assert.equal(jwksFetches(idp), before + 2);
    } finally {
      clock.advance(-31_000);
    }
  });

  test('a provisioner whose IdP is down refuses its tokens, with the reason in the message', async (t) => {
    idp.setDown(true);
    t.after(() => idp.setDown(false));
    const ctx = await context({ name: 'DownIdP' });
    const provisioner = ctx.provisioners.byClientId.get('ca-cli')!;
    assert.equal(provisioner.ready, false);
    assert.match(provisioner.stateReason ?? '', /failed to connect to .*openid-configuration: HTTP 503/);
    idp.setDown(false);
    await unauthorized(authorizeToken(await idp.signToken({}), ctx), /^provisioner "DownIdP" is disabled due to an initialization error: failed to connect/);
  });
});
