/**
 * The certificate chain a TLS server presents, for `ca inspect https://host[:port]` (as `step
 * certificate inspect URL`): verified against given roots (or the system's), or not at all when
 * asked. Failures are CaErrors that say what to pass.
 */
import { isIP } from 'node:net';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { CaError, UsageError, describe } from '../errors.js';

export interface ServedChainOptions {
  /** PEM roots to verify against (--roots); the system's when undefined. */
  roots?: string;
  /** Do not verify (--insecure). */
  insecure: boolean;
  timeoutMs?: number;
}

/** host and port of an https:// URL (port 443 by default). */
export function tlsTarget(url: string): { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid URL '${url}'`, { hint: 'for example https://ca.example.com or https://127.0.0.1:8443' });
  }
  if (parsed.protocol !== 'https:') throw new UsageError(`'${url}' is not an https URL: only a TLS server has a certificate to inspect`, { hint: `try https://${parsed.host}` });
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port ? Number(parsed.port) : 443 };
}

/** The DER of every certificate in the server's chain, leaf first, up to the root it was verified with when that is known. */
export function fetchServedChain(url: string, opts: ServedChainOptions): Promise<Uint8Array[]> {
  const { host, port } = tlsTarget(url);
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      servername: isIP(host) ? undefined : host,
      ca: opts.roots,
      rejectUnauthorized: !opts.insecure,
      ALPNProtocols: ['http/1.1'],
    });
    socket.setTimeout(opts.timeoutMs ?? 15_000, () =>
      socket.destroy(new CaError('ERR_NETWORK', `${where} did not complete a TLS handshake within ${(opts.timeoutMs ?? 15_000) / 1000} s`)),
    );
    socket.once('secureConnect', () => {
      const chain: Uint8Array[] = [];
      let cert = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
      const seen = new Set<string>();
      while (cert?.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        chain.push(new Uint8Array(cert.raw));
        cert = cert.issuerCertificate;
      }
      socket.end();
      if (chain.length === 0) reject(new CaError('ERR_CERT_INVALID', `${where} sent no certificate`));
      else resolve(chain);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof CaError) return reject(err);
      if (typeof err.code === 'string' && /CERT|SELF_SIGNED|ISSUER|HOSTNAME|ALTNAME|VERIFY/.test(err.code)) {
        return reject(
          new CaError('ERR_CERT_INVALID', `the certificate of ${where} is not trusted: ${describe(err)}`, {
            cause: err,
            hint: opts.roots ? 'check that --roots holds the root that issued it' : "pass --roots FILE with the root that issued it (e.g. the CA's root_ca.crt), or --insecure to inspect it unverified",
          }),
        );
      }
      const why = err.code === 'ECONNREFUSED' ? 'the connection was refused' : err.code === 'ENOTFOUND' ? 'the host name does not resolve' : describe(err);
      reject(new CaError('ERR_NETWORK', `cannot connect to ${where}: ${why}`, { cause: err, hint: 'check the URL and that the server is running' }));
    });
  });
}
