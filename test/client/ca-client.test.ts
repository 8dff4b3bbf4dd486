/**
 * The CA client against a real HTTPS server that misbehaves: it hangs, answers something that is
 * not JSON, or a 201 without a certificate. Each is a CaError naming the CA, never a crash.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CaClient } from '../../src/client/ca-client.js';
import { makeFetch } from '../../src/client/http.js';
import { CaError } from '../../src/errors.js';
import { selfSigned, startHttpsServer } from '../helpers/https.js';
import { testdir } from '../helpers/testdir.js';

let work: Awaited<ReturnType<typeof testdir>>;
let server: Awaited<ReturnType<typeof startHttpsServer>>;
let url: string;
let rootPem: string;

before(async () => {
  work = await testdir();
  const tls = await selfSigned(work.dir, '127.0.0.1');
  rootPem = tls.pem;
  server = await startHttpsServer(tls, (req, res) => {
    if (req.url?.startsWith('/hang')) return; // never answers
    if (req.url?.startsWith('/html')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>a login page</html>');
      return;
    }
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ certChain: [] }));
  });
  url = server.url;
});

after(async () => {
  await server?.close();
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
