/**
 * The admin API client against a real HTTPS server that answers as step-ca 0.19 does (its JSON
 * shapes, its error bodies): what goes out (a fresh admin token per request, no `Bearer `, the
 * audience the request's own URL), what comes back (both admin shapes), and refusals as one line
 * with a hint.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { AdminClient, adminRefusalHint, readAdmin } from '../../src/client/admin-client.js';
import { makeFetch } from '../../src/client/http.js';
import { CaError } from '../../src/errors.js';
import { selfSigned, startHttpsServer } from '../helpers/https.js';
import { testdir } from '../helpers/testdir.js';

interface Seen {
  method: string;
  url: string;
  authorization: string;
  body: string;
}

let work: Awaited<ReturnType<typeof testdir>>;
let server: Awaited<ReturnType<typeof startHttpsServer>>;
let rootPem: string;
let admin: { chainPem: string; keyPem: string };
const seen: Seen[] = [];

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => resolve(text));
  });
}

before(async () => {
  work = await testdir();
  const tls = await selfSigned(work.dir, '127.0.0.1');
  rootPem = tls.pem;
  const who = await selfSigned(work.dir, 'alice@example.com');
  admin = { chainPem: who.pem, keyPem: who.keyPem };
  server = await startHttpsServer(tls, (req, res) => {
    void body(req).then((text) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: String(req.headers.authorization ?? ''), body: text });
      const send = (status: number, value: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const url = new URL(req.url ?? '/', 'https://x');
      if (req.method === 'GET' && url.pathname === '/admin/admins') {
        // Two pages, in the list's shape: snake case and numeric types.
        if (url.searchParams.get('cursor') === '') {
          return send(200, { admins: [{ id: 'a1', authority_id: 'auth', subject: 'step', provisioner_id: 'p1', type: 2, created_at: { seconds: 1 } }], nextCursor: 'next' });
        }
        return send(200, { admins: [{ id: 'a2', authority_id: 'auth', subject: 'alice@example.com', provisioner_id: 'p2', type: 1 }], nextCursor: '' });
      }
      if (req.method === 'POST' && url.pathname === '/admin/admins') {
        const asked = JSON.parse(text) as { subject: string; type: number };
        if (asked.type === 2) return send(401, { type: 'unauthorized', detail: 'unauthorized', message: 'only a super admin can add admins' });
        return send(201, { id: 'a3', authorityId: 'auth', subject: asked.subject, provisionerId: 'p2', type: 'ADMIN', createdAt: '2026-01-01T00:00:00Z' });
      }
      if (req.method === 'GET' && url.pathname === '/admin/provisioners/My%20IdP') {
        return send(200, { id: 'p2', type: 'OIDC', name: 'My IdP', details: { OIDC: { clientId: 'c' } } });
      }
      if (url.pathname.startsWith('/admin/provisioners')) return send(404, { type: 'notFound', detail: 'not found', message: 'provisioner Nope not found' });
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found\n');
    });
  });
});

after(async () => {
  await server?.close();
  await work?.cleanup();
});

const client = (): AdminClient =>
  new AdminClient(server.url, { ...admin, subject: 'alice@example.com' }, makeFetch({ env: {}, ca: rootPem }), () => new Date('2026-03-01T12:00:00Z'));

function decode(part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

test('every request has its own admin token: raw JWS, x5c, audience = the request URL without its query', async () => {
  seen.length = 0;
  const admins = await client().admins();
  assert.deepEqual(admins, [
    { id: 'a1', subject: 'step', provisionerId: 'p1', type: 'SUPER_ADMIN' },
    { id: 'a2', subject: 'alice@example.com', provisionerId: 'p2', type: 'ADMIN' },
  ]);
  assert.deepEqual(
    seen.map((s) => s.url),
    ['/admin/admins?cursor=&limit=100', '/admin/admins?cursor=next&limit=100'],
  );
  const [first, second] = seen;
  assert.ok(first && second);
  assert.doesNotMatch(first.authorization, /^Bearer /i);
  const [header, payload] = first.authorization.split('.');
  const h = decode(header);
  const c = decode(payload);
  assert.equal(h.alg, 'ES256');
  assert.ok(Array.isArray(h.x5c) && h.x5c.length === 1, 'the chain in x5c');
  assert.equal(c.iss, 'step-admin-client/1.0');
  assert.equal(c.sub, 'alice@example.com');
  assert.equal(c.aud, `${server.url}/admin/admins`);
  assert.notEqual(decode(second.authorization.split('.')[1]).jti, c.jti, 'a token is used once: each request has its own');

  const p = await client().provisioner('My IdP');
  assert.equal(p.id, 'p2');
  assert.equal(decode(seen.at(-1)?.authorization.split('.')[1]).aud, `${server.url}/admin/provisioners/My%20IdP`);
});

test("adding an admin sends step's request shape; the single-admin answer (protojson) reads the same", async () => {
  seen.length = 0;
  const added = await client().addAdmin({ subject: 'bob@example.com', provisioner: 'My IdP', type: 'ADMIN' });
  assert.deepEqual(JSON.parse(seen[0]?.body ?? ''), { subject: 'bob@example.com', provisioner: 'My IdP', type: 1 });
  assert.deepEqual(added, { id: 'a3', subject: 'bob@example.com', provisionerId: 'p2', type: 'ADMIN' });
  assert.throws(() => readAdmin({ id: 'x', subject: 's', provisionerId: 'p', type: 7 }), /unknown admin type 7/);
});

test("a refusal is one line naming the request and the CA's reason, with a hint; a CA without the admin API says so", async () => {
  await assert.rejects(client().addAdmin({ subject: 'bob@example.com', provisioner: 'My IdP', type: 'SUPER_ADMIN' }), (err: unknown) => {
    assert.ok(err instanceof CaError);
    assert.equal(err.message, `the CA at ${server.url} answered 401 to POST /admin/admins: only a super admin can add admins`);
    assert.equal(err.status, 401);
    assert.match(err.hint ?? '', /ask a super admin/);
    return true;
  });
  await assert.rejects(client().removeProvisioner('Nope'), (err: unknown) => err instanceof CaError && /answered 404 to DELETE \/admin\/provisioners\/Nope: provisioner Nope not found/.test(err.message));
  await assert.rejects(client().removeAdmin('a1'), (err: unknown) => {
    assert.ok(err instanceof CaError);
    assert.match(err.message, /answered 404 to DELETE \/admin\/admins\/a1: 404 page not found/);
    assert.match(err.hint ?? '', /no admin API: turn on remote management/);
    return true;
  });
  assert.match(adminRefusalHint(401, 'alice@example.com is not an admin of provisioner Okta') ?? '', /log in as an admin/);
  assert.match(adminRefusalHint(401, 'admin token expired at 2026-01-01T00:00:00Z') ?? '', /clock/);
});
