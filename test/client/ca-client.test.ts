/**
 * The CA client against a real HTTPS server that misbehaves: it hangs, answers something that is
 * not JSON, or a 201 without a certificate. Each is a CaError naming the CA, never a crash.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CaClient, refusalHint } from '../../src/client/ca-client.js';
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
    if (req.url?.startsWith('/refuse')) {
      // A refusal whose message spans lines, with the request id step-ca's clients show.
      res.writeHead(401, { 'content-type': 'application/json', 'x-request-id': 'req-42' });
      res.end(JSON.stringify({ status: 401, message: 'token already used\n(provisioner "admin", sub "localhost")' }));
      return;
    }
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

test("a refusal is one line, with a hint for the rule that failed", async () => {
  await assert.rejects(sign(client('refuse')), (err: unknown) => {
    assert.ok(err instanceof CaError);
    assert.equal(err.message, `the CA at ${url}/refuse answered 401: token already used (provisioner "admin", sub "localhost")`);
    assert.equal(err.hint, 'a token works once: make a new one (ca token ...) or log in again');
    return true;
  });
  const generic = 'The request lacked necessary authorization to be completed. Please see the certificate authority logs for more info.';
  assert.match(refusalHint(401, generic, 'abc') ?? '', /request id abc/, "step-ca's generic 401 points at the CA's log line");
  assert.match(refusalHint(401, 'token expired at 2026-01-01T00:00:00Z', null) ?? '', /get a new token/);
  assert.match(refusalHint(401, 'invalid token audience (aud)', null) ?? '', /--ca-url/);
  assert.match(refusalHint(401, 'The request lacked necessary authorization to be completed: provisioner not found or invalid audience (iss "https://idp", azp null, aud "ca-cli").', null) ?? '', /no provisioner of this CA takes this token .*ca provisioner list/);
  assert.match(refusalHint(403, 'The request was forbidden by the certificate authority: requested duration of 48h0m0s is more than the authorized maximum certificate duration of 24h1m0s.', null) ?? '', /--not-after/);
  assert.match(refusalHint(403, 'certificate request does not contain the valid DNS names - got [evil.com], want [localhost]', null) ?? '', /--san/);
});
