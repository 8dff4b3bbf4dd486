#!/usr/bin/env node
// @ts-check
// A small HTTPS service that only talks to clients holding a certificate from your CA.
//
//   ca certificate localhost localhost.crt localhost.key --provisioner admin --provisioner-password-file pw.txt
//   node examples/mtls-server/server.mjs --root ~/.ca/certs/root_ca.crt --cert localhost.crt --key localhost.key --port 8443
//   curl --cert alice.crt --key alice.key --cacert ~/.ca/certs/root_ca.crt https://localhost:8443
//   Hello alice@example.com! Welcome to mTLS
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

/** The person a client certificate names: its email SAN, else its common name. */
export function identityOf(/** @type {import('node:tls').PeerCertificate} */ cert) {
  const email = /(?:^|, )email:([^,]+)/.exec(cert.subjectaltname ?? '')?.[1];
  return email ?? cert.subject?.CN ?? 'stranger';
}

/**
 * Start the service. `root` is the CA root that client certificates must chain to; `cert`/`key`
 * are the server's own TLS identity (a certificate from the same CA works well).
 * @param {{ root: string, cert: string, key: string, port?: number, host?: string }} opts PEM contents
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export function startMtlsServer(opts) {
  const server = createServer(
    { ca: opts.root, cert: opts.cert, key: opts.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (req, res) => {
      const socket = /** @type {import('node:tls').TLSSocket} */ (req.socket);
      const who = identityOf(socket.getPeerCertificate());
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`Hello ${who}! Welcome to mTLS\n`);
    },
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8443, opts.host ?? '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : opts.port;
      resolve({
        url: `https://${opts.host === '0.0.0.0' ? 'localhost' : (opts.host ?? '127.0.0.1')}:${port}`,
        close: () => new Promise((done) => { server.closeAllConnections(); server.close(() => done()); }),
      });
    });
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      root: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      port: { type: 'string', default: '8443' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.root || !values.cert || !values.key) {
    process.stderr.write('usage: server.mjs --root ROOT_CA.crt --cert SERVER.crt --key SERVER.key [--port 8443] [--host 127.0.0.1]\n');
    process.exit(values.help ? 0 : 2);
  }
  const { url } = await startMtlsServer({
    root: readFileSync(values.root, 'utf8'),
    cert: readFileSync(values.cert, 'utf8'),
    key: readFileSync(values.key, 'utf8'),
    port: Number(values.port),
    host: values.host,
  });
  process.stderr.write(`mTLS service listening on ${url}\nTry: curl --cert YOU.crt --key YOU.key --cacert ${values.root} ${url}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
