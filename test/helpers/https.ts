import { readFile } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { run } from './exec.js';

export interface SelfSigned {
  crtFile: string;
  keyFile: string;
  /** The certificate's PEM. */
  pem: string;
  keyPem: string;
}

/** A self-signed P-256 certificate made with openssl in `dir` (CN = `name`, and IP SAN 127.0.0.1 for servers). */
export async function selfSigned(dir: string, name: string): Promise<SelfSigned> {
  const crtFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', keyFile, '-out', crtFile, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  return { crtFile, keyFile, pem: await readFile(crtFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
}

/** An HTTPS server on 127.0.0.1 and a free port, for tests that need a server that is not our CA. */
export async function startHttpsServer(tls: SelfSigned, handler: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer({ cert: tls.pem, key: tls.keyPem }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
