/**
 * The CA client against a real HTTPS server that misbehaves: it hangs, answers something that is
 * not JSON, or a 201 without a certificate. Each is a CaError naming the CA, never a crash.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { CaClient } from '../../src/client/ca-client.js';
import { makeFetch } from '../../src/client/http.js';
import { CaError } from '../../src/errors.js';
import { run } from '../helpers/exec.js';
import { testdir } from '../helpers/testdir.js';

let work: Awaited<ReturnType<typeof testdir>>;
let server: Server;
let url: string;
let rootPem: string;

before(async () => {
  work = await testdir();
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', work.path('s.key'), '-out', work.path('s.crt'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  rootPem = await readFile(work.path('s.crt'), 'utf8');
  server = createServer({ cert: rootPem, key: await readFile(work.path('s.key'), 'utf8') }, (req, res) => {
    if (req.url?.startsWith('/hang')) return; // never answers
    if (req.url?.startsWith('/html')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>a login page</html>');
      return;
    }
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ certChain: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

after(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await work?.cleanup();
});

const client = (prefix: string, timeoutMs = 30_000) => new CaClient(`${url}/${prefix}`, makeFetch({ env: {}, ca: rootPem }), timeoutMs);
const sign = (c: CaClient) => c.sign({ csr: 'x', ott: 'y' });

function caError(code: string, message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof CaError, `a CaError, not ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  };
}

test('a CA that does not answer: a timeout naming the CA and the call, with a hint', async () => {
  await assert.rejects(sign(client('hang', 300)), caError('ERR_NETWORK', /^the CA at https:\/\/127\.0\.0\.1:\d+\/hang did not answer POST \/sign within 0\.3 s$/));
});

test('an answer that is not JSON, or a 201 without a certificate, is a clear error', async () => {
  await assert.rejects(sign(client('html')), caError('ERR_CA_RESPONSE', /sent a response that is not JSON/));
  await assert.rejects(sign(client('empty')), caError('ERR_CA_RESPONSE', /answered \/sign with no "crt" certificate/));
  await assert.rejects(client('empty').root('ab'), caError('ERR_CA_RESPONSE', /answered \/root with no "ca" certificate/));
});
